//! ISO 9660 with CD-ROM XA extensions, as a VCD's track 1 carries it: primary
//! volume descriptor, terminator, directory extents with the 14-byte XA field,
//! and the two path tables.
//!
//! Pure code: [`encode`] turns a [`Volume`] description into Form 1 sector
//! payloads with their subheaders; where file contents go is the caller's
//! business (files only point at extents). Directories are laid out from LSN 18
//! in breadth-first order (root, then its subdirectories by name), then the L
//! and M path tables, as vcdimager does (fact sheet §2.2–2.4).

use super::sector::{FORM1_DATA, Subheader, submode};

/// LSN of the primary volume descriptor.
pub const PVD_LSN: u32 = 16;
/// LSN of the first directory extent.
pub const FIRST_DIR_LSN: u32 = 18;

/// XA attributes (big-endian in the record).
pub const ATTR_DIR: u16 = 0x8D55;
pub const ATTR_FORM1: u16 = 0x0D55;
pub const ATTR_FORM2: u16 = 0x1555;

/// Recording date of every directory record: 1978-07-14 00:00:00 (libvcd's fixed time).
const RECORD_DATE: [u8; 7] = [78, 7, 14, 0, 0, 0, 0];

/// A file: where its extent starts and how long it is (bytes as ISO counts them,
/// 2048 per sector even for Form 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Name with version, e.g. `INFO.VCD;1`.
    pub name: String,
    pub extent: u32,
    pub size: u32,
    pub attributes: u16,
    pub file_number: u8,
}

/// A directory and what it holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dir {
    pub name: String,
    pub dirs: Vec<Dir>,
    pub files: Vec<File>,
}

impl Dir {
    pub fn new(name: &str) -> Self {
        Dir {
            name: name.into(),
            ..Dir::default()
        }
    }
}

/// The identification fields and tree of a volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    pub system_id: String,
    pub volume_id: String,
    pub volume_set_id: String,
    pub publisher_id: String,
    pub preparer_id: String,
    pub application_id: String,
    /// "YYYYMMDDHHMMSScc" (UTC; GMT offset byte 0).
    pub created: String,
    /// Volume space size in sectors (track 1 only on a VCD).
    pub space_size: u32,
    pub root: Dir,
}

/// One encoded Form 1 sector of track 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSector {
    pub lsn: u32,
    pub sub: Subheader,
    pub data: Vec<u8>,
}

/// A directory in breadth-first order with its place on disc.
struct Placed<'a> {
    dir: &'a Dir,
    parent: usize,
    extent: u32,
    sectors: u32,
}

fn both16(v: u16) -> [u8; 4] {
    let (l, b) = (v.to_le_bytes(), v.to_be_bytes());
    [l[0], l[1], b[0], b[1]]
}

fn both32(v: u32) -> [u8; 8] {
    let (l, b) = (v.to_le_bytes(), v.to_be_bytes());
    [l[0], l[1], l[2], l[3], b[0], b[1], b[2], b[3]]
}

/// Copies `s` into `field`, padded with spaces (ISO "a-/d-characters" fields).
fn put_padded(field: &mut [u8], s: &str) {
    field.fill(b' ');
    let b = s.as_bytes();
    let n = b.len().min(field.len());
    field[..n].copy_from_slice(&b[..n]);
}

/// One directory record; `xa` adds the XA system-use field.
fn record(name: &[u8], extent: u32, size: u32, dir: bool, xa: Option<(u16, u8)>) -> Vec<u8> {
    let mut r = vec![0u8; 33];
    r[2..10].copy_from_slice(&both32(extent));
    r[10..18].copy_from_slice(&both32(size));
    r[18..25].copy_from_slice(&RECORD_DATE);
    r[25] = if dir { 0x02 } else { 0 };
    r[28..32].copy_from_slice(&both16(1));
    r[32] = name.len() as u8;
    r.extend_from_slice(name);
    if name.len().is_multiple_of(2) {
        r.push(0);
    }
    if let Some((attr, file_number)) = xa {
        r.extend_from_slice(&[0, 0, 0, 0]);
        r.extend_from_slice(&attr.to_be_bytes());
        r.extend_from_slice(b"XA");
        r.push(file_number);
        r.extend_from_slice(&[0; 5]);
    }
    r[0] = r.len() as u8;
    r
}

fn sorted_dirs(d: &Dir) -> Vec<&Dir> {
    let mut v: Vec<&Dir> = d.dirs.iter().collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

/// The records of one directory other than "." and "..", sorted by name.
fn child_records(d: &Dir, placed: &[Placed], index: usize) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = Vec::new();
    for (i, p) in placed.iter().enumerate() {
        if p.parent == index && i != index {
            let size = p.sectors * FORM1_DATA as u32;
            v.push((
                p.dir.name.clone(),
                record(
                    p.dir.name.as_bytes(),
                    p.extent,
                    size,
                    true,
                    Some((ATTR_DIR, 0)),
                ),
            ));
        }
    }
    for f in &d.files {
        v.push((
            f.name.clone(),
            record(
                f.name.as_bytes(),
                f.extent,
                f.size,
                false,
                Some((f.attributes, f.file_number)),
            ),
        ));
    }
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Splits records into sectors without letting one straddle a boundary.
fn pack_records(records: impl IntoIterator<Item = Vec<u8>>) -> Vec<Vec<u8>> {
    let mut sectors = vec![Vec::new()];
    for r in records {
        if sectors
            .last()
            .is_some_and(|s| s.len() + r.len() > FORM1_DATA)
        {
            sectors.push(Vec::new());
        }
        sectors
            .last_mut()
            .expect("never empty")
            .extend_from_slice(&r);
    }
    sectors
}

fn dot_records(extent: u32, size: u32, parent: (u32, u32)) -> [Vec<u8>; 2] {
    [
        record(&[0], extent, size, true, Some((ATTR_DIR, 0))),
        record(&[1], parent.0, parent.1, true, Some((ATTR_DIR, 0))),
    ]
}

/// Places the directories: breadth-first, from LSN 18, each as many sectors as
/// its records need. Returns them and the first free LSN after the path tables.
fn place(root: &Dir) -> (Vec<Placed<'_>>, u32) {
    let mut placed = vec![Placed {
        dir: root,
        parent: 0,
        extent: 0,
        sectors: 0,
    }];
    let mut i = 0;
    while i < placed.len() {
        for child in sorted_dirs(placed[i].dir) {
            placed.push(Placed {
                dir: child,
                parent: i,
                extent: 0,
                sectors: 0,
            });
        }
        i += 1;
    }
    // Record sizes do not depend on extents, so count sectors with dummy ones.
    for i in 0..placed.len() {
        let records = dot_records(0, 0, (0, 0)).into_iter().chain(
            child_records(placed[i].dir, &placed, i)
                .into_iter()
                .map(|r| r.1),
        );
        placed[i].sectors = pack_records(records).len() as u32;
    }
    let mut lsn = FIRST_DIR_LSN;
    for p in &mut placed {
        p.extent = lsn;
        lsn += p.sectors;
    }
    (placed, lsn)
}

fn path_table(placed: &[Placed], big_endian: bool) -> Vec<u8> {
    let mut t = Vec::new();
    for (i, p) in placed.iter().enumerate() {
        let name: &[u8] = if i == 0 { &[0] } else { p.dir.name.as_bytes() };
        t.push(name.len() as u8);
        t.push(0);
        let parent = (p.parent + 1) as u16;
        if big_endian {
            t.extend_from_slice(&p.extent.to_be_bytes());
            t.extend_from_slice(&parent.to_be_bytes());
        } else {
            t.extend_from_slice(&p.extent.to_le_bytes());
            t.extend_from_slice(&parent.to_le_bytes());
        }
        t.extend_from_slice(name);
        if name.len() % 2 == 1 {
            t.push(0);
        }
    }
    t
}

/// First LSN after the directories and path tables of `root`.
pub fn metadata_end(root: &Dir) -> u32 {
    place(root).1 + 2
}

/// Encodes the volume descriptors, directories and path tables (LSN 16 up to
/// [`metadata_end`]).
pub fn encode(v: &Volume) -> Vec<DataSector> {
    let (placed, tables) = place(&v.root);
    let path_l = path_table(&placed, false);
    let path_m = path_table(&placed, true);
    let mut out = Vec::new();

    let root = &placed[0];
    let root_size = root.sectors * FORM1_DATA as u32;
    let mut pvd = vec![0u8; FORM1_DATA];
    pvd[0] = 1;
    pvd[1..6].copy_from_slice(b"CD001");
    pvd[6] = 1;
    put_padded(&mut pvd[8..40], &v.system_id);
    put_padded(&mut pvd[40..72], &v.volume_id);
    pvd[80..88].copy_from_slice(&both32(v.space_size));
    pvd[120..124].copy_from_slice(&both16(1));
    pvd[124..128].copy_from_slice(&both16(1));
    pvd[128..132].copy_from_slice(&both16(FORM1_DATA as u16));
    pvd[132..140].copy_from_slice(&both32(path_l.len() as u32));
    pvd[140..144].copy_from_slice(&tables.to_le_bytes());
    pvd[148..152].copy_from_slice(&(tables + 1).to_be_bytes());
    let root_record = record(&[0], root.extent, root_size, true, None);
    pvd[156..156 + root_record.len()].copy_from_slice(&root_record);
    put_padded(&mut pvd[190..318], &v.volume_set_id);
    put_padded(&mut pvd[318..446], &v.publisher_id);
    put_padded(&mut pvd[446..574], &v.preparer_id);
    put_padded(&mut pvd[574..702], &v.application_id);
    put_padded(&mut pvd[702..813], "");
    let mut date = [0u8; 17];
    put_padded(&mut date[..16], &v.created);
    pvd[813..830].copy_from_slice(&date);
    pvd[830..847].copy_from_slice(&date);
    pvd[847..863].copy_from_slice(b"0000000000000000");
    pvd[864..880].copy_from_slice(b"0000000000000000");
    pvd[881] = 1;
    pvd[1024..1032].copy_from_slice(b"CD-XA001");
    out.push(DataSector {
        lsn: PVD_LSN,
        sub: Subheader::data(submode::DATA | submode::EOR),
        data: pvd,
    });

    let mut term = vec![0u8; FORM1_DATA];
    term[0] = 0xFF;
    term[1..6].copy_from_slice(b"CD001");
    term[6] = 1;
    let last = Subheader::data(submode::EOF | submode::DATA | submode::EOR);
    out.push(DataSector {
        lsn: PVD_LSN + 1,
        sub: last,
        data: term,
    });

    for (i, p) in placed.iter().enumerate() {
        let parent = &placed[p.parent];
        let records = dot_records(
            p.extent,
            p.sectors * FORM1_DATA as u32,
            (parent.extent, parent.sectors * FORM1_DATA as u32),
        )
        .into_iter()
        .chain(child_records(p.dir, &placed, i).into_iter().map(|r| r.1));
        for (k, mut s) in pack_records(records).into_iter().enumerate() {
            s.resize(FORM1_DATA, 0);
            out.push(DataSector {
                lsn: p.extent + k as u32,
                sub: Subheader::data(submode::DATA),
                data: s,
            });
        }
    }
    if let Some(d) = out.last_mut() {
        d.sub = last;
    }
    for (k, mut t) in [path_l, path_m].into_iter().enumerate() {
        t.resize(FORM1_DATA, 0);
        out.push(DataSector {
            lsn: tables + k as u32,
            sub: last,
            data: t,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vcd_tree() -> Dir {
        let mut root = Dir::new("");
        root.dirs = vec![Dir::new("VCD"), Dir::new("EXT"), Dir::new("MPEGAV")];
        root
    }

    #[test]
    fn four_directories_give_48_byte_path_tables_at_22_and_23() {
        let root = vcd_tree();
        assert_eq!(metadata_end(&root), 24);
        let (placed, tables) = place(&root);
        assert_eq!(tables, 22);
        assert_eq!(path_table(&placed, false).len(), 48);
        let names: Vec<_> = placed
            .iter()
            .map(|p| (p.dir.name.as_str(), p.extent))
            .collect();
        assert_eq!(names, [("", 18), ("EXT", 19), ("MPEGAV", 20), ("VCD", 21)]);
    }

    #[test]
    fn file_record_is_58_bytes_with_xa() {
        let r = record(b"INFO.VCD;1", 150, 2048, false, Some((ATTR_FORM1, 0)));
        assert_eq!(r.len(), 58);
        assert_eq!(r[0], 58);
        assert_eq!(&r[48..50], &ATTR_FORM1.to_be_bytes());
        assert_eq!(&r[50..52], b"XA");
    }
}
