//! The disc image: where every sector goes (layout), what track 1 holds (ISO 9660
//! tree, INFO.VCD, ENTRIES.VCD), the subheaders of sequence tracks, the sector
//! stream writer and the cue sheet.
//!
//! Pure apart from [`SectorWriter`], which only needs a `Write`. Layout follows
//! vcdimager's defaults (fact sheet §2.1): track 1 of at least 300 sectors; per
//! sequence a 150-sector pregap, 30 front-margin sectors, the packs, 45 rear-margin
//! sectors; a 150-sector post-gap after the last track.

use std::io::{self, Write};

use super::iso9660::{self, ATTR_FORM1, ATTR_FORM2, DataSector, Dir, File, Volume};
use super::mpeg::{self, PackKind};
use super::sector::{self, FORM1_DATA, SECTOR_SIZE, Subheader, submode};
use super::vcdfiles::{self, Entry, Info};

/// Smallest ISO track (libvcd MIN_ISO_SIZE).
pub const MIN_ISO_SIZE: u32 = 300;
pub const PREGAP: u32 = 150;
pub const FRONT_MARGIN: u32 = 30;
pub const REAR_MARGIN: u32 = 45;
pub const POSTGAP: u32 = 150;
/// Sector overhead of one sequence track besides its packs.
pub const TRACK_OVERHEAD: u32 = PREGAP + FRONT_MARGIN + REAR_MARGIN;
/// Most sequence tracks on one disc (99 CD tracks in all).
pub const MAX_TRACKS: usize = 98;
/// LSN of INFO.VCD and ENTRIES.VCD.
pub const INFO_LSN: u32 = 150;
pub const ENTRIES_LSN: u32 = 151;
/// Directories and path tables must end before this LSN.
const DIRECTORY_LIMIT: u32 = 75;

/// System identifier every VCD carries.
pub const SYSTEM_ID: &str = "CD-RTOS CD-BRIDGE";

/// Disc capacities in sectors.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
pub enum DiscSize {
    /// 74-minute "650 MB" disc: 333,000 sectors.
    #[value(name = "74")]
    #[serde(rename = "74")]
    Min74,
    /// 80-minute "700 MB" disc: 360,000 sectors.
    #[value(name = "80")]
    #[serde(rename = "80")]
    Min80,
}

impl DiscSize {
    pub fn sectors(self) -> u32 {
        match self {
            DiscSize::Min74 => 333_000,
            DiscSize::Min80 => 360_000,
        }
    }

    pub fn minutes(self) -> u32 {
        match self {
            DiscSize::Min74 => 74,
            DiscSize::Min80 => 80,
        }
    }
}

/// One sequence track to be placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackSpec {
    pub packs: u32,
    pub pal: bool,
    /// Pack indices of extra entry points (chapters), ascending.
    pub chapters: Vec<u32>,
}

/// What the disc holds apart from the MPEG bytes themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscSpec {
    pub volume_id: String,
    pub album_id: String,
    pub preparer_id: String,
    pub application_id: String,
    /// PVD creation date "YYYYMMDDHHMMSScc".
    pub created: String,
    pub tracks: Vec<TrackSpec>,
    /// A still-picture menu with playback control, if any.
    pub menu: Option<MenuSpec>,
}

/// Where one sequence track lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackSpan {
    /// First pregap sector (cue INDEX 00).
    pub pregap: u32,
    /// First front-margin sector: track start (cue INDEX 01, default entry, AVSEQ extent).
    pub start: u32,
    /// First MPEG pack sector.
    pub first_pack: u32,
    pub packs: u32,
    /// One past the last rear-margin sector.
    pub end: u32,
}

/// Where everything lies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub iso_size: u32,
    pub tracks: Vec<TrackSpan>,
    /// Sectors in the whole image (the lead-out LSN).
    pub total: u32,
}

impl Layout {
    pub fn new(iso_size: u32, packs: impl IntoIterator<Item = u32>) -> Self {
        let mut lsn = iso_size;
        let mut tracks = Vec::new();
        for packs in packs {
            let start = lsn + PREGAP;
            let first_pack = start + FRONT_MARGIN;
            let end = first_pack + packs + REAR_MARGIN;
            tracks.push(TrackSpan {
                pregap: lsn,
                start,
                first_pack,
                packs,
                end,
            });
            lsn = end;
        }
        Layout {
            iso_size,
            tracks,
            total: lsn + POSTGAP,
        }
    }
}

/// Sectors a disc of these tracks needs (without playback control).
pub fn sectors_needed(packs: impl IntoIterator<Item = u32>) -> u64 {
    let mut n = (MIN_ISO_SIZE + POSTGAP) as u64;
    for p in packs {
        n += (p + TRACK_OVERHEAD) as u64;
    }
    n
}

/// "mm:ss" of a number of sectors of playing time.
pub fn duration(sectors: u64) -> String {
    let s = sectors / sector::SECTORS_PER_SECOND as u64;
    format!("{}:{:02}", s / 60, s % 60)
}

fn form1_file(name: &str, extent: u32, size: usize, file_number: u8) -> File {
    File {
        name: name.into(),
        extent,
        size: size as u32,
        attributes: ATTR_FORM1,
        file_number,
    }
}

/// The ISO tree of a VCD 2.0, with the PBC files when `pbc` is given.
fn tree(layout: &Layout, pbc: Option<&PbcLayout>) -> Dir {
    let mut vcd = Dir::new("VCD");
    vcd.files
        .push(form1_file("INFO.VCD;1", INFO_LSN, FORM1_DATA, 0));
    vcd.files
        .push(form1_file("ENTRIES.VCD;1", ENTRIES_LSN, FORM1_DATA, 0));
    let mut mpegav = Dir::new("MPEGAV");
    for (i, t) in layout.tracks.iter().enumerate() {
        mpegav.files.push(File {
            name: format!("AVSEQ{:02}.DAT;1", i + 1),
            extent: t.start,
            size: (t.end - t.start) * FORM1_DATA as u32,
            attributes: ATTR_FORM2,
            file_number: (i + 1) as u8,
        });
    }
    let mut ext = Dir::new("EXT");
    let mut root = Dir::new("");
    if let Some(p) = pbc {
        vcd.files
            .push(form1_file("LOT.VCD;1", LOT_LSN, vcdfiles::LOT_SIZE, 0));
        vcd.files
            .push(form1_file("PSD.VCD;1", PSD_LSN, p.psd.len(), 0));
        ext.files.push(form1_file(
            "LOT_X.VCD;1",
            p.lot_x_lsn,
            vcdfiles::LOT_SIZE,
            1,
        ));
        ext.files
            .push(form1_file("PSD_X.VCD;1", p.psd_x_lsn, p.psd_x.len(), 1));
        let mut segment = Dir::new("SEGMENT");
        segment.files.push(File {
            name: "ITEM0001.DAT;1".into(),
            extent: p.segment_lsn,
            size: p.still.len() as u32 * FORM1_DATA as u32,
            attributes: ATTR_FORM2,
            file_number: 1,
        });
        root.dirs.push(segment);
    }
    root.dirs.extend([ext, mpegav, vcd]);
    root
}

/// Entry points: each track's start, then its chapters, in disc order.
pub fn entries(spec: &DiscSpec, layout: &Layout) -> Vec<Entry> {
    let mut v = Vec::new();
    for (i, (t, span)) in spec.tracks.iter().zip(&layout.tracks).enumerate() {
        let track = (i + 2) as u8;
        v.push(Entry {
            track,
            lsn: span.start,
        });
        v.extend(t.chapters.iter().map(|&p| Entry {
            track,
            lsn: span.first_pack + p,
        }));
    }
    v
}

/// LSNs of LOT.VCD and PSD.VCD (with PBC).
pub const LOT_LSN: u32 = 152;
pub const PSD_LSN: u32 = LOT_LSN + (vcdfiles::LOT_SIZE / FORM1_DATA) as u32;
/// Sectors per segment unit.
pub const SEGMENT_UNIT: u32 = 150;

/// A menu: the still picture (segment item 1) as 2324-byte packs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuSpec {
    pub still: Vec<Vec<u8>>,
    pub pal: bool,
}

/// Where the PBC files and the segment item go in track 1.
struct PbcLayout {
    psd: Vec<u8>,
    lot: Vec<u8>,
    psd_x: Vec<u8>,
    lot_x: Vec<u8>,
    segment_lsn: u32,
    units: u32,
    lot_x_lsn: u32,
    psd_x_lsn: u32,
    end: u32,
    still: Vec<Vec<u8>>,
    pal: bool,
}

fn sectors_of(bytes: usize) -> u32 {
    bytes.div_ceil(FORM1_DATA).max(1) as u32
}

impl PbcLayout {
    fn new(tracks: usize, menu: &MenuSpec) -> Self {
        let lists = vcdfiles::menu_lists(tracks);
        let (psd, offsets) = vcdfiles::psd(&lists, false);
        let (psd_x, offsets_x) = vcdfiles::psd(&lists, true);
        let psd_end = PSD_LSN + sectors_of(psd.len());
        let segment_lsn = psd_end.next_multiple_of(sector::SECTORS_PER_SECOND);
        let units = (menu.still.len() as u32).div_ceil(SEGMENT_UNIT).max(1);
        let lot_x_lsn = segment_lsn + units * SEGMENT_UNIT;
        let psd_x_lsn = lot_x_lsn + sectors_of(vcdfiles::LOT_SIZE);
        let end = psd_x_lsn + sectors_of(psd_x.len());
        PbcLayout {
            lot: vcdfiles::lot(&offsets),
            lot_x: vcdfiles::lot(&offsets_x),
            psd,
            psd_x,
            segment_lsn,
            units,
            lot_x_lsn,
            psd_x_lsn,
            end,
            still: menu.still.clone(),
            pal: menu.pal,
        }
    }

    /// INFO.VCD content byte of each segment unit: still, no audio.
    fn content(&self) -> Vec<u8> {
        let first = if self.pal { 5 << 2 } else { 1 << 2 };
        (0..self.units)
            .map(|u| if u == 0 { first } else { first | 0x20 })
            .collect()
    }

    /// The sectors of the PBC files and of the segment area.
    fn sectors(&self) -> Vec<DataSector> {
        let mut v = Vec::new();
        file_sectors(&mut v, LOT_LSN, &self.lot, 0);
        file_sectors(&mut v, PSD_LSN, &self.psd, 0);
        file_sectors(&mut v, self.lot_x_lsn, &self.lot_x, 1);
        file_sectors(&mut v, self.psd_x_lsn, &self.psd_x, 1);
        let n = self.still.len();
        for (i, pack) in self.still.iter().enumerate() {
            let p = mpeg::parse_pack(pack, true).unwrap_or_default();
            let mut sub = pack_subheader(1, p.kind(), p.sequence_end);
            if i + 1 == n {
                sub = sub.with(submode::EOF);
            }
            v.push(DataSector {
                lsn: self.segment_lsn + i as u32,
                sub,
                data: pack.clone(),
            });
        }
        for i in n as u32..self.units * SEGMENT_UNIT {
            v.push(DataSector {
                lsn: self.segment_lsn + i,
                sub: Subheader::new(1, 0, submode::RT | submode::FORM2, 0),
                data: Vec::new(),
            });
        }
        v
    }
}

/// The Form 1 sectors of a file: data sectors, the last one with EOF.
fn file_sectors(out: &mut Vec<DataSector>, lsn: u32, bytes: &[u8], file_number: u8) {
    let chunks: Vec<&[u8]> = bytes.chunks(FORM1_DATA).collect();
    for (i, c) in chunks.iter().enumerate() {
        let last = i + 1 == chunks.len();
        let bits = if last {
            submode::EOF | submode::DATA
        } else {
            submode::DATA
        };
        out.push(DataSector {
            lsn: lsn + i as u32,
            sub: Subheader::new(file_number, 0, bits, 0),
            data: c.to_vec(),
        });
    }
}

/// Lays out the disc and encodes the sectors of track 1 that are not filler.
/// Returns the layout and those sectors in LSN order.
pub fn plan(spec: &DiscSpec) -> (Layout, Vec<DataSector>) {
    let pbc = spec
        .menu
        .as_ref()
        .map(|m| PbcLayout::new(spec.tracks.len(), m));
    let iso_size = pbc
        .as_ref()
        .map_or(MIN_ISO_SIZE, |p| p.end.max(MIN_ISO_SIZE));
    let layout = Layout::new(iso_size, spec.tracks.iter().map(|t| t.packs));
    let root = tree(&layout, pbc.as_ref());
    debug_assert!(iso9660::metadata_end(&root) <= DIRECTORY_LIMIT);
    let volume = Volume {
        system_id: SYSTEM_ID.into(),
        volume_id: spec.volume_id.clone(),
        volume_set_id: String::new(),
        publisher_id: String::new(),
        preparer_id: spec.preparer_id.clone(),
        application_id: spec.application_id.clone(),
        created: spec.created.clone(),
        space_size: iso_size,
        root,
    };
    let mut sectors = iso9660::encode(&volume);
    let mut info = Info {
        album_id: spec.album_id.clone(),
        volume_count: 1,
        volume_number: 1,
        pal: spec.tracks.iter().map(|t| t.pal).collect(),
        ..Info::default()
    };
    if let Some(p) = &pbc {
        info.extended_pbc = true;
        info.psd_size = p.psd.len() as u32;
        info.first_segment = Some(p.segment_lsn);
        info.offset_multiplier = 8;
        info.max_lid = (spec.tracks.len() + 1) as u16;
        info.segment_content = p.content();
        sectors.extend(p.sectors());
    }
    let file_end = Subheader::data(submode::EOF | submode::DATA);
    sectors.push(DataSector {
        lsn: INFO_LSN,
        sub: file_end,
        data: vcdfiles::info_vcd(&info),
    });
    sectors.push(DataSector {
        lsn: ENTRIES_LSN,
        sub: file_end,
        data: vcdfiles::entries_vcd(&entries(spec, &layout)),
    });
    sectors.sort_by_key(|s| s.lsn);
    (layout, sectors)
}

/// Subheader of an MPEG pack in sequence track `track` (1-based sequence number).
pub fn pack_subheader(track: u8, kind: PackKind, last: bool) -> Subheader {
    let base = submode::RT | submode::FORM2;
    let sub = match kind {
        PackKind::Video => Subheader::new(track, 1, base | submode::VIDEO, 0x0F),
        PackKind::Still { high_res } => Subheader::new(
            track,
            if high_res { 3 } else { 2 },
            base | submode::VIDEO,
            if high_res { 0x3F } else { 0x1F },
        ),
        PackKind::Audio => Subheader::new(track, 1, base | submode::AUDIO, 0x7F),
        PackKind::Empty => Subheader::new(track, 0, base, 0),
    };
    if last { sub.with(submode::EOR) } else { sub }
}

/// Empty Form 2 sector of a pregap or post-gap.
pub const GAP: Subheader = Subheader::new(0, 0, submode::FORM2, 0);
/// Filler Form 1 sector of track 1.
pub const FILLER: Subheader = Subheader::data(submode::DATA);

/// Subheader of a margin sector of sequence `track`.
pub fn margin(track: u8, last: bool) -> Subheader {
    let s = Subheader::new(track, 0, submode::RT | submode::FORM2, 0);
    if last { s.with(submode::EOF) } else { s }
}

/// Encodes sectors one after the other into batches and writes them out.
pub struct SectorWriter<W: Write> {
    out: W,
    batch: Vec<u8>,
    used: usize,
    lsn: u32,
}

/// Sectors encoded before each write (about 1.2 MB).
const BATCH_SECTORS: usize = 512;

impl<W: Write> SectorWriter<W> {
    pub fn new(out: W) -> Self {
        SectorWriter {
            out,
            batch: vec![0; BATCH_SECTORS * SECTOR_SIZE],
            used: 0,
            lsn: 0,
        }
    }

    /// LSN of the next sector.
    pub fn lsn(&self) -> u32 {
        self.lsn
    }

    /// Encodes the next sector.
    pub fn put(&mut self, sub: Subheader, data: &[u8]) -> io::Result<()> {
        if self.used == BATCH_SECTORS {
            self.flush_batch()?;
        }
        let slot = &mut self.batch[self.used * SECTOR_SIZE..(self.used + 1) * SECTOR_SIZE];
        let slot: &mut [u8; SECTOR_SIZE] = slot.try_into().expect("slot is one sector");
        sector::encode(self.lsn, sub, data, slot);
        self.used += 1;
        self.lsn += 1;
        Ok(())
    }

    /// Encodes `n` sectors of zeros with the same subheader.
    pub fn fill(&mut self, n: u32, sub: Subheader) -> io::Result<()> {
        for _ in 0..n {
            self.put(sub, &[])?;
        }
        Ok(())
    }

    fn flush_batch(&mut self) -> io::Result<()> {
        self.out.write_all(&self.batch[..self.used * SECTOR_SIZE])?;
        self.used = 0;
        Ok(())
    }

    /// Writes what is left and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.flush_batch()?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Writes track 1: the given sectors at their LSNs, filler elsewhere, up to
/// `iso_size`.
pub fn write_track1<W: Write>(
    w: &mut SectorWriter<W>,
    sectors: &[DataSector],
    iso_size: u32,
) -> io::Result<()> {
    let mut next = sectors.iter().peekable();
    while w.lsn() < iso_size {
        match next.peek() {
            Some(s) if s.lsn == w.lsn() => {
                w.put(s.sub, &s.data)?;
                next.next();
            }
            _ => w.put(FILLER, &[])?,
        }
    }
    Ok(())
}

/// "mm:ss:ff" of an LSN relative to the start of the .bin.
fn cue_time(lsn: u32) -> String {
    let spf = sector::SECTORS_PER_SECOND;
    format!(
        "{:02}:{:02}:{:02}",
        lsn / (60 * spf),
        (lsn / spf) % 60,
        lsn % spf
    )
}

/// The cue sheet (CRLF line ends) for a .bin called `bin_name`.
pub fn cue_sheet(bin_name: &str, spec: &DiscSpec, layout: &Layout) -> String {
    let mut s = format!(
        "FILE \"{bin_name}\" BINARY\r\n  TRACK 01 MODE2/2352\r\n    FLAGS DCP\r\n    INDEX 01 00:00:00\r\n"
    );
    for (i, (t, span)) in spec.tracks.iter().zip(&layout.tracks).enumerate() {
        s += &format!("  TRACK {:02} MODE2/2352\r\n    FLAGS DCP\r\n", i + 2);
        s += &format!(
            "    INDEX 00 {}\r\n    INDEX 01 {}\r\n",
            cue_time(span.pregap),
            cue_time(span.start)
        );
        for (k, &p) in t.chapters.iter().enumerate() {
            s += &format!(
                "    INDEX {:02} {}\r\n",
                k + 2,
                cue_time(span.first_pack + p)
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(packs: &[u32]) -> DiscSpec {
        DiscSpec {
            volume_id: "VIDEOCD".into(),
            album_id: String::new(),
            preparer_id: "TEST".into(),
            application_id: String::new(),
            created: "2026010203040500".into(),
            tracks: packs
                .iter()
                .map(|&packs| TrackSpec {
                    packs,
                    pal: true,
                    chapters: vec![],
                })
                .collect(),
            menu: None,
        }
    }

    #[test]
    fn layout_of_one_ten_second_track_matches_vcdimager() {
        // Fact sheet §2.1: 746 packs give 1421 sectors, track 2 at LSN 450.
        let l = Layout::new(MIN_ISO_SIZE, [746]);
        assert_eq!(l.total, 1421);
        assert_eq!(l.tracks[0].start, 450);
        assert_eq!(sectors_needed([746]), 1421);
    }

    #[test]
    fn cue_uses_file_relative_times_and_crlf() {
        let s = spec(&[75]);
        let (l, _) = plan(&s);
        let cue = cue_sheet("x.bin", &s, &l);
        assert!(cue.contains("INDEX 00 00:04:00\r\n    INDEX 01 00:06:00\r\n"));
        assert!(!cue.replace("\r\n", "").contains('\n'));
    }

    #[test]
    fn track1_has_pvd_dirs_tables_info_entries() {
        let (_, sectors) = plan(&spec(&[75, 75]));
        let lsns: Vec<u32> = sectors.iter().map(|s| s.lsn).collect();
        assert_eq!(lsns, [16, 17, 18, 19, 20, 21, 22, 23, 150, 151]);
        assert_eq!(&sectors[0].data[1024..1032], b"CD-XA001");
    }

    #[test]
    fn writer_writes_whole_sectors() {
        let mut w = SectorWriter::new(Vec::new());
        w.fill(3, GAP).unwrap();
        let v = w.finish().unwrap();
        assert_eq!(v.len(), 3 * SECTOR_SIZE);
        assert_eq!(
            &v[2 * SECTOR_SIZE + 12..2 * SECTOR_SIZE + 16],
            &[0, 2, 2, 2]
        );
    }
}
