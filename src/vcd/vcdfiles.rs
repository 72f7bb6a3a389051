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

/// "No list": a disabled PSD offset.
const NONE: u16 = 0xFFFF;
/// Item number of the first segment play item (segment unit 1).
pub const FIRST_SEGMENT_ITEM: u16 = 1000;
/// Wait-time byte meaning "forever".
pub const WAIT_FOREVER: u8 = 255;

/// A list of the playback control descriptor. Links are LIDs (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum List {
    /// Shows `item` and maps number keys 1.. to `targets`.
    Selection {
        item: u16,
        targets: Vec<u16>,
        default: Option<u16>,
        wait: u8,
    },
    /// Plays `item`, then goes to `next` after `wait` seconds.
    Play {
        item: u16,
        prev: Option<u16>,
        next: Option<u16>,
        ret: Option<u16>,
        wait: u8,
    },
}

impl List {
    fn len(&self, extended: bool) -> usize {
        match self {
            List::Selection { targets, .. } => {
                20 + 2 * targets.len() + if extended { 16 + 4 * targets.len() } else { 0 }
            }
            List::Play { .. } => 16,
        }
    }
}

/// The menu of a disc with `tracks` sequences: LID 1 is a selection list
/// showing the still (segment item 1); number key k plays track k (LID k+1),
/// which returns to the menu when it ends or on RETURN.
pub fn menu_lists(tracks: usize) -> Vec<List> {
    let menu = 1u16;
    let mut lists = vec![List::Selection {
        item: FIRST_SEGMENT_ITEM,
        targets: (0..tracks as u16).map(|k| k + 2).collect(),
        default: (tracks > 0).then_some(2),
        wait: WAIT_FOREVER,
    }];
    for k in 0..tracks as u16 {
        lists.push(List::Play {
            item: k + 2,
            prev: (k > 0).then_some(k + 1),
            next: Some(menu),
            ret: Some(menu),
            wait: 0,
        });
    }
    lists
}

/// Encodes PSD.VCD (or EXT/PSD_X.VCD when `extended`); returns its bytes and the
/// offset (÷ 8) of each list, for the LOT.
pub fn psd(lists: &[List], extended: bool) -> (Vec<u8>, Vec<u16>) {
    // Place: 8-byte aligned, never across a 2048-byte boundary.
    let mut offsets = Vec::new();
    let mut pos = 0usize;
    for l in lists {
        let len = l.len(extended).next_multiple_of(8);
        if pos / FORM1_DATA != (pos + len - 1) / FORM1_DATA {
            pos = pos.next_multiple_of(FORM1_DATA);
        }
        offsets.push((pos / 8) as u16);
        pos += len;
    }
    let link = |lid: Option<u16>| lid.map_or(NONE, |l| offsets[l as usize - 1]);
    let mut b = vec![0u8; pos];
    for (i, l) in lists.iter().enumerate() {
        let o = offsets[i] as usize * 8;
        let lid = (i + 1) as u16;
        let mut v: Vec<u8> = Vec::new();
        match l {
            List::Selection {
                item,
                targets,
                default,
                wait,
            } => {
                v.extend([
                    if extended { 0x1A } else { 0x18 },
                    0,
                    targets.len() as u8,
                    1,
                ]);
                for x in [lid, NONE, NONE, NONE, link(*default), NONE] {
                    v.extend(x.to_be_bytes());
                }
                v.extend([*wait, 1]);
                v.extend(item.to_be_bytes());
                for &t in targets {
                    v.extend(link(Some(t)).to_be_bytes());
                }
                if extended {
                    v.resize(v.len() + 16 + 4 * targets.len(), 0);
                }
            }
            List::Play {
                item,
                prev,
                next,
                ret,
                wait,
            } => {
                v.extend([0x10, 1]);
                for x in [lid, link(*prev), link(*next), link(*ret), 0] {
                    v.extend(x.to_be_bytes());
                }
                v.extend([*wait, 0]);
                v.extend(item.to_be_bytes());
            }
        }
        b[o..o + v.len()].copy_from_slice(&v);
    }
    (b, offsets)
}

/// Encodes LOT.VCD (65,536 bytes) from the list offsets, LID 1 first.
pub fn lot(offsets: &[u16]) -> Vec<u8> {
    let mut b = vec![0xFF; LOT_SIZE];
    b[0..2].fill(0);
    for (i, o) in offsets.iter().enumerate() {
        b[2 + 2 * i..4 + 2 * i].copy_from_slice(&o.to_be_bytes());
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn menu_psd_links_number_keys_to_play_lists_that_return() {
        let (b, offsets) = psd(&menu_lists(2), false);
        // Selection 20+4 -> 24 bytes, then two 16-byte play lists.
        assert_eq!(offsets, [0, 3, 5]);
        assert_eq!(b.len(), 56);
        assert_eq!(&b[0..4], &[0x18, 0, 2, 1]);
        assert_eq!(&b[18..24], &[0x03, 0xE8, 0, 3, 0, 5]);
        // Play list LID 2: track 2, next and return to offset 0 (the menu).
        assert_eq!(
            &b[24..40],
            &[0x10, 1, 0, 2, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]
        );
        let l = lot(&offsets);
        assert_eq!(&l[..10], &[0, 0, 0, 0, 0, 3, 0, 5, 0xFF, 0xFF]);
        let (x, xo) = psd(&menu_lists(2), true);
        assert_eq!(x[0], 0x1A);
        assert_eq!(xo, [0, 6, 8]);
    }

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
