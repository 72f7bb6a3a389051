//! CD-ROM XA Mode 2 sectors: assembly of raw 2352-byte sectors, the EDC and the
//! Reed–Solomon P/Q parity of Form 1.
//!
//! Pure code, no I/O. The assembly order (EDC, then P and Q with the header still
//! zero, then the address) is the one that reproduces vcdimager byte for byte
//! (fact sheet §1.6). Form 2 sectors always get their EDC filled in.

/// Bytes in a raw sector.
pub const SECTOR_SIZE: usize = 2352;
/// User bytes of a Mode 2 Form 1 sector.
pub const FORM1_DATA: usize = 2048;
/// User bytes of a Mode 2 Form 2 sector (= one VCD MPEG pack).
pub const FORM2_DATA: usize = 2324;
/// Sectors before LSN 0 (the 2-second lead-in pregap): absolute time = LSN + 150.
pub const LEAD_IN: u32 = 150;
/// Sectors per second of CD time.
pub const SECTORS_PER_SECOND: u32 = 75;

/// The 12-byte sync pattern that opens every sector.
pub const SYNC: [u8; 12] = [
    0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00,
];

/// Offsets inside a raw sector.
pub const HEADER: usize = 12;
pub const SUBHEADER: usize = 16;
pub const DATA: usize = 24;
pub const FORM1_EDC: usize = DATA + FORM1_DATA;
pub const FORM2_EDC: usize = DATA + FORM2_DATA;
pub const P_PARITY: usize = FORM1_EDC + 4;
pub const Q_PARITY: usize = P_PARITY + 172;

/// Submode bits of the XA subheader (byte 18).
pub mod submode {
    pub const EOF: u8 = 0x80;
    pub const RT: u8 = 0x40;
    pub const FORM2: u8 = 0x20;
    pub const TRIGGER: u8 = 0x10;
    pub const DATA: u8 = 0x08;
    pub const AUDIO: u8 = 0x04;
    pub const VIDEO: u8 = 0x02;
    pub const EOR: u8 = 0x01;
}

/// The XA subheader: file number, channel number, submode, coding information.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Subheader {
    pub file: u8,
    pub channel: u8,
    pub submode: u8,
    pub coding: u8,
}

impl Subheader {
    pub const fn new(file: u8, channel: u8, submode: u8, coding: u8) -> Self {
        Subheader {
            file,
            channel,
            submode,
            coding,
        }
    }

    /// Form 1 data sector (fn 0, cn 0).
    pub const fn data(submode: u8) -> Self {
        Subheader::new(0, 0, submode, 0)
    }

    pub const fn is_form2(self) -> bool {
        self.submode & submode::FORM2 != 0
    }

    pub const fn bytes(self) -> [u8; 4] {
        [self.file, self.channel, self.submode, self.coding]
    }

    pub const fn with(self, bits: u8) -> Self {
        Subheader {
            submode: self.submode | bits,
            ..self
        }
    }
}

static EDC: crc::Crc<u32, crc::Table<16>> =
    crc::Crc::<u32, crc::Table<16>>::new(&crc::CRC_32_CD_ROM_EDC);

/// CRC-32/CD-ROM-EDC of `bytes`.
pub fn edc(bytes: &[u8]) -> u32 {
    EDC.checksum(bytes)
}

/// Converts 0..=99 to packed BCD.
pub const fn bcd(v: u8) -> u8 {
    ((v / 10) << 4) | (v % 10)
}

/// Converts packed BCD back, or `None` when a nibble is not a decimal digit.
pub const fn from_bcd(b: u8) -> Option<u8> {
    let (hi, lo) = (b >> 4, b & 0x0F);
    if hi > 9 || lo > 9 {
        None
    } else {
        Some(hi * 10 + lo)
    }
}

/// Absolute minute/second/frame of a sector, counted from the start of the
/// program area (LSN 0 = 00:02:00).
pub const fn msf(lsn: u32) -> (u8, u8, u8) {
    let a = lsn + LEAD_IN;
    (
        (a / (60 * SECTORS_PER_SECOND)) as u8,
        ((a / SECTORS_PER_SECOND) % 60) as u8,
        (a % SECTORS_PER_SECOND) as u8,
    )
}

/// The MSF of [`msf`] in BCD, as stored in headers and VCD tables.
pub const fn msf_bcd(lsn: u32) -> [u8; 3] {
    let (m, s, f) = msf(lsn);
    [bcd(m), bcd(s), bcd(f)]
}

/// Encodes one raw sector into `out`. `data` holds at most the form's user bytes
/// (2048 or 2324, chosen by the submode's Form 2 bit); a shorter slice is padded
/// with zeros.
pub fn encode(lsn: u32, sub: Subheader, data: &[u8], out: &mut [u8; SECTOR_SIZE]) {
    let form2 = sub.is_form2();
    let user = if form2 { FORM2_DATA } else { FORM1_DATA };
    assert!(data.len() <= user, "sector payload larger than its form");
    out[..HEADER].copy_from_slice(&SYNC);
    out[HEADER..SUBHEADER].fill(0);
    out[SUBHEADER..SUBHEADER + 4].copy_from_slice(&sub.bytes());
    out[SUBHEADER + 4..DATA].copy_from_slice(&sub.bytes());
    out[DATA..DATA + data.len()].copy_from_slice(data);
    if form2 {
        out[DATA + data.len()..FORM2_EDC].fill(0);
        let e = edc(&out[SUBHEADER..FORM2_EDC]);
        out[FORM2_EDC..].copy_from_slice(&e.to_le_bytes());
    } else {
        out[DATA + data.len()..FORM1_EDC].fill(0);
        let e = edc(&out[SUBHEADER..FORM1_EDC]);
        out[FORM1_EDC..FORM1_EDC + 4].copy_from_slice(&e.to_le_bytes());
        let (p, q) = ecc(out);
        out[P_PARITY..Q_PARITY].copy_from_slice(&p);
        out[Q_PARITY..].copy_from_slice(&q);
    }
    let [m, s, f] = msf_bcd(lsn);
    out[HEADER..SUBHEADER].copy_from_slice(&[m, s, f, 2]);
}

/// Multiplication by α in GF(2^8) with the polynomial x^8+x^4+x^3+x^2+1.
const fn times_alpha(x: u8) -> u8 {
    let y = (x as u16) << 1;
    (if y & 0x100 != 0 { y ^ 0x11D } else { y }) as u8
}

const fn alpha_table() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = times_alpha(i as u8);
        i += 1;
    }
    t
}

/// x / (α + 1), tabulated by inverting x ↦ x·(α+1).
const fn div_alpha1_table() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut y = 0;
    while y < 256 {
        let x = (y as u8) ^ times_alpha(y as u8);
        t[x as usize] = y as u8;
        y += 1;
    }
    t
}

static ALPHA: [u8; 256] = alpha_table();
static DIV_ALPHA1: [u8; 256] = div_alpha1_table();

/// The two parity symbols of one P or Q vector, from its data symbols.
fn parity(symbols: impl Iterator<Item = u8>) -> (u8, u8) {
    let (mut s0, mut acc) = (0u8, 0u8);
    for d in symbols {
        s0 ^= d;
        acc = ALPHA[(acc ^ d) as usize];
    }
    let s1 = ALPHA[acc as usize];
    let q0 = DIV_ALPHA1[(s0 ^ s1) as usize];
    (q0, s0 ^ q0)
}

/// Number of symbols per plane covered by P (data of the P vectors).
const P_DATA_SYMBOLS: usize = 1032;
const PQ_SYMBOLS: usize = 1118;

/// Computes the P (172 bytes) and Q (104 bytes) parity of a Form 1 sector whose
/// bytes up to the P parity are final; the header bytes 12..16 are taken as zero
/// whatever they hold.
pub fn ecc(sector: &[u8; SECTOR_SIZE]) -> ([u8; 172], [u8; 104]) {
    // Work on the 2340 bytes from offset 12, header zeroed, P and Q filled in as
    // they are computed (Q covers P).
    let mut buf = [0u8; SECTOR_SIZE - HEADER];
    buf[4..P_PARITY - HEADER].copy_from_slice(&sector[SUBHEADER..P_PARITY]);
    let sym = |buf: &[u8], n: usize, plane: usize| buf[2 * n + plane];
    for plane in 0..2 {
        for c in 0..43 {
            let (a, b) = parity((0..24).map(|k| sym(&buf, c + 43 * k, plane)));
            buf[2 * (P_DATA_SYMBOLS + c) + plane] = a;
            buf[2 * (P_DATA_SYMBOLS + 43 + c) + plane] = b;
        }
    }
    for plane in 0..2 {
        for d in 0..26 {
            let (a, b) = parity((0..43).map(|k| sym(&buf, (43 * d + 44 * k) % PQ_SYMBOLS, plane)));
            buf[2 * (PQ_SYMBOLS + d) + plane] = a;
            buf[2 * (PQ_SYMBOLS + 26 + d) + plane] = b;
        }
    }
    let mut p = [0u8; 172];
    let mut q = [0u8; 104];
    p.copy_from_slice(&buf[P_PARITY - HEADER..Q_PARITY - HEADER]);
    q.copy_from_slice(&buf[Q_PARITY - HEADER..]);
    (p, q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edc_check_value() {
        assert_eq!(edc(b"123456789"), 0x6EC2_EDC4);
    }

    #[test]
    fn msf_of_known_sectors() {
        assert_eq!(msf_bcd(0), [0x00, 0x02, 0x00]);
        assert_eq!(msf_bcd(16), [0x00, 0x02, 0x16]);
        assert_eq!(msf_bcd(450), [0x00, 0x08, 0x00]);
        assert_eq!(from_bcd(0x59), Some(59));
        assert_eq!(from_bcd(0x5A), None);
    }

    #[test]
    fn parity_satisfies_both_checks() {
        // Σv = 0 and Σ v_i α^(N+1-i) = 0 for a P vector of 24 data symbols.
        let data: Vec<u8> = (0..24u8)
            .map(|i| i.wrapping_mul(37).wrapping_add(5))
            .collect();
        let (q0, q1) = parity(data.iter().copied());
        let mut v = data.clone();
        v.extend([q0, q1]);
        assert_eq!(v.iter().fold(0, |a, b| a ^ b), 0);
        let mut acc = 0u8;
        for &x in &v {
            acc = ALPHA[acc as usize] ^ x;
        }
        assert_eq!(acc, 0);
    }

    #[test]
    fn form2_sector_layout() {
        let mut s = [0u8; SECTOR_SIZE];
        let sub = Subheader::new(1, 1, 0x62, 0x0F);
        encode(450, sub, &[0xAB; FORM2_DATA], &mut s);
        assert_eq!(&s[..12], &SYNC);
        assert_eq!(&s[12..16], &[0x00, 0x08, 0x00, 0x02]);
        assert_eq!(&s[16..20], &s[20..24]);
        let e = edc(&s[16..FORM2_EDC]);
        assert_eq!(&s[FORM2_EDC..], &e.to_le_bytes());
    }
}
