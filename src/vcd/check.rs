//! Our own sector checker for raw Mode 2 images: sync pattern, BCD address that
//! matches the sector's position, mode byte, the subheader copy, the EDC of both
//! forms and the full P/Q ECC of Form 1. libcdio's tools check none of these.
//!
//! [`check_sector`] is pure; [`check_image`] streams a .bin through it.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use super::error::VcdError;
use super::sector::{
    self, FORM1_EDC, FORM2_EDC, HEADER, P_PARITY, Q_PARITY, SECTOR_SIZE, SUBHEADER, SYNC, msf_bcd,
};

/// What is wrong with a sector.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    #[error("bad sync pattern")]
    Sync,
    #[error("address {found:02X?} where {expected:02X?} belongs")]
    Address { expected: [u8; 3], found: [u8; 3] },
    #[error("mode byte {0:#04X}, expected 0x02")]
    Mode(u8),
    #[error("the two subheader copies differ")]
    SubheaderCopy,
    #[error("Form {form} EDC is {found:#010X}, computed {computed:#010X}")]
    Edc { form: u8, found: u32, computed: u32 },
    #[error("Form 1 P/Q parity does not match the data")]
    Ecc,
}

/// Checks one raw sector found at `lsn`.
pub fn check_sector(lsn: u32, s: &[u8; SECTOR_SIZE]) -> Result<(), Fault> {
    if s[..HEADER] != SYNC {
        return Err(Fault::Sync);
    }
    let expected = msf_bcd(lsn);
    let found = [s[12], s[13], s[14]];
    if found != expected {
        return Err(Fault::Address { expected, found });
    }
    if s[15] != 2 {
        return Err(Fault::Mode(s[15]));
    }
    if s[16..20] != s[20..24] {
        return Err(Fault::SubheaderCopy);
    }
    let form2 = s[18] & sector::submode::FORM2 != 0;
    let at = if form2 { FORM2_EDC } else { FORM1_EDC };
    let stored = u32::from_le_bytes(s[at..at + 4].try_into().expect("4 bytes"));
    let computed = sector::edc(&s[SUBHEADER..at]);
    // A Form 2 EDC of zero means "not computed" and is legal.
    if stored != computed && !(form2 && stored == 0) {
        return Err(Fault::Edc {
            form: if form2 { 2 } else { 1 },
            found: stored,
            computed,
        });
    }
    if !form2 {
        let (p, q) = sector::ecc(s);
        if s[P_PARITY..Q_PARITY] != p || s[Q_PARITY..] != q {
            return Err(Fault::Ecc);
        }
    }
    Ok(())
}

/// Result of checking a whole image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    pub sectors: u32,
    pub form1: u32,
    pub form2: u32,
    /// Form 2 sectors whose EDC is 0 ("not computed").
    pub form2_no_edc: u32,
    /// Bytes after the last whole sector.
    pub trailing_bytes: u64,
    /// The first faults found (at most 100), with their LSN.
    pub faults: Vec<(u32, Fault)>,
    pub fault_count: u64,
}

impl CheckReport {
    pub fn ok(&self) -> bool {
        self.fault_count == 0 && self.trailing_bytes == 0
    }
}

/// Checks every sector of a raw 2352-byte-per-sector image.
pub fn check_image(path: &Path) -> Result<CheckReport, VcdError> {
    let err = |error| VcdError::Read {
        path: path.to_owned(),
        error,
    };
    let file = File::open(path).map_err(err)?;
    let size = file.metadata().map_err(err)?.len();
    let mut r = BufReader::with_capacity(1 << 20, file);
    let mut report = CheckReport {
        trailing_bytes: size % SECTOR_SIZE as u64,
        ..CheckReport::default()
    };
    let mut s = [0u8; SECTOR_SIZE];
    for lsn in 0..(size / SECTOR_SIZE as u64) as u32 {
        r.read_exact(&mut s).map_err(err)?;
        report.sectors += 1;
        if s[18] & sector::submode::FORM2 != 0 {
            report.form2 += 1;
            if s[FORM2_EDC..] == [0; 4] {
                report.form2_no_edc += 1;
            }
        } else {
            report.form1 += 1;
        }
        if let Err(f) = check_sector(lsn, &s) {
            report.fault_count += 1;
            if report.faults.len() < 100 {
                report.faults.push((lsn, f));
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vcd::sector::{Subheader, encode};

    #[test]
    fn good_sectors_pass_and_any_flipped_byte_fails() {
        for sub in [Subheader::data(0x08), Subheader::new(1, 1, 0x62, 0x0F)] {
            let mut s = [0u8; SECTOR_SIZE];
            let data: Vec<u8> = (0..2048u32).map(|i| (i * 7) as u8).collect();
            encode(1234, sub, &data, &mut s);
            assert_eq!(check_sector(1234, &s), Ok(()));
            assert!(matches!(check_sector(1235, &s), Err(Fault::Address { .. })));
            for at in [0, 13, 15, 17, 21, 100, 2060, 2100, 2300, 2351] {
                let mut bad = s;
                bad[at] ^= 0x40;
                assert!(
                    check_sector(1234, &bad).is_err(),
                    "byte {at} flip not caught"
                );
            }
        }
    }
}
