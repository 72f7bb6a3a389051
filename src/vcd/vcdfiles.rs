//! The VCD information files in /VCD: INFO.VCD, ENTRIES.VCD and, with playback
//! control, LOT.VCD and PSD.VCD (fact sheet §2.6, §2.7, §7).
//!
//! Pure encoders: each returns the file's bytes; all numbers big-endian.

use super::sector::{FORM1_DATA, msf_bcd};

/// Most entries ENTRIES.VCD can hold.
pub const MAX_ENTRIES: usize = 500;
/// LOT.VCD is always this long (32 sectors).
pub const LOT_SIZE: usize = 65_536;

/// The contents of INFO.VCD.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Info {
    pub album_id: String,
    pub volume_count: u16,
    pub volume_number: u16,
    /// One flag per sequence track: true when PAL.
    pub pal: Vec<bool>,
    pub extended_pbc: bool,
    pub psd_size: u32,
    /// LSN of the first segment play item, if any.
    pub first_segment: Option<u32>,
    pub offset_multiplier: u8,
    pub max_lid: u16,
    /// One content byte per 150-sector segment unit.
    pub segment_content: Vec<u8>,
}

/// Encodes INFO.VCD (one sector).
pub fn info_vcd(info: &Info) -> Vec<u8> {
    let mut b = vec![0u8; FORM1_DATA];
    b[0..8].copy_from_slice(b"VIDEO_CD");
    b[8] = 0x02;
    b[9] = 0x00;
    b[0x0A..0x1A].fill(b' ');
    let album = info.album_id.as_bytes();
    let n = album.len().min(16);
    b[0x0A..0x0A + n].copy_from_slice(&album[..n]);
    b[0x1A..0x1C].copy_from_slice(&info.volume_count.to_be_bytes());
    b[0x1C..0x1E].copy_from_slice(&info.volume_number.to_be_bytes());
    for (i, &pal) in info.pal.iter().enumerate().take(13 * 8) {
        if pal {
            b[0x1E + i / 8] |= 1 << (i % 8);
        }
    }
    if info.extended_pbc {
        b[0x2B] |= 0x80;
    }
    b[0x2C..0x30].copy_from_slice(&info.psd_size.to_be_bytes());
    if let Some(lsn) = info.first_segment {
        let [m, s, _] = msf_bcd(lsn);
        b[0x30..0x33].copy_from_slice(&[m, s, 0]);
    }
    b[0x33] = info.offset_multiplier;
    b[0x34..0x36].copy_from_slice(&info.max_lid.to_be_bytes());
    b[0x36..0x38].copy_from_slice(&(info.segment_content.len() as u16).to_be_bytes());
    let n = info.segment_content.len().min(1980);
    b[0x38..0x38 + n].copy_from_slice(&info.segment_content[..n]);
    b
}

/// An entry point: CD track number (first MPEG track = 2) and sector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub track: u8,
    pub lsn: u32,
}

/// Encodes ENTRIES.VCD (one sector). At most [`MAX_ENTRIES`] entries are used.
pub fn entries_vcd(entries: &[Entry]) -> Vec<u8> {
    let mut b = vec![0u8; FORM1_DATA];
    b[0..8].copy_from_slice(b"ENTRYVCD");
    b[8] = 0x02;
    let entries = &entries[..entries.len().min(MAX_ENTRIES)];
    b[0x0A..0x0C].copy_from_slice(&(entries.len() as u16).to_be_bytes());
    for (i, e) in entries.iter().enumerate() {
        let o = 0x0C + 4 * i;
        b[o] = super::sector::bcd(e.track);
        b[o + 1..o + 4].copy_from_slice(&msf_bcd(e.lsn));
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_encode_track_and_msf_in_bcd() {
        let b = entries_vcd(&[Entry { track: 2, lsn: 450 }]);
        assert_eq!(&b[..12], b"ENTRYVCD\x02\x00\x00\x01");
        assert_eq!(&b[12..16], &[0x02, 0x00, 0x08, 0x00]);
    }

    #[test]
    fn pal_flags_are_little_bit_first() {
        let b = info_vcd(&Info {
            pal: vec![false, true],
            volume_count: 1,
            volume_number: 1,
            ..Info::default()
        });
        assert_eq!(b[0x1E], 0x02);
        assert_eq!(&b[0x0A..0x1A], b"                ");
    }
}
