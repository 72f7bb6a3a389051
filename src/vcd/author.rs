//! The VCD 2.0 author: checks every input MPEG stream first (nothing is written
//! for a bad input), plans the disc, then streams the packs into a .bin through
//! a temporary file that is renamed only when complete, and writes the cue.
//!
//! Inputs are read pack by pack (never whole into memory), twice: once to check
//! and measure, once to write. A partial image is removed on any failure.

use std::fs::{self, File};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use super::error::VcdError;
use super::image::{self, DiscSize, DiscSpec, SectorWriter, TrackSpec};
use super::mpeg::{self, PACK_SIZE, StreamInfo, StreamScanner};
use super::vcdfiles::MAX_ENTRIES;

/// Preparer id we write unless told otherwise.
pub fn default_preparer() -> String {
    format!("XINGZHAN {}", env!("CARGO_PKG_VERSION"))
}

/// What the disc should say about itself, and where it goes.
#[derive(Debug, Clone)]
pub struct AuthorOptions {
    pub output: PathBuf,
    /// Cue sheet path; default: the output with extension `.cue`.
    pub cue: Option<PathBuf>,
    pub volume_id: String,
    pub album_id: String,
    pub preparer_id: String,
    pub application_id: String,
    /// PVD creation time, written as UTC.
    pub created: chrono::NaiveDateTime,
    /// Seconds between chapter entry points, if any.
    pub chapters_every: Option<f64>,
    pub disc: DiscSize,
}

impl AuthorOptions {
    pub fn new(output: PathBuf) -> Self {
        AuthorOptions {
            output,
            cue: None,
            volume_id: "VIDEOCD".into(),
            album_id: String::new(),
            preparer_id: default_preparer(),
            application_id: String::new(),
            created: chrono::Utc::now().naive_utc(),
            chapters_every: None,
            disc: DiscSize::Min80,
        }
    }

    pub fn cue_path(&self) -> PathBuf {
        self.cue
            .clone()
            .unwrap_or_else(|| self.output.with_extension("cue"))
    }
}

/// A checked input.
#[derive(Debug, Clone)]
pub struct Input {
    pub path: PathBuf,
    pub info: StreamInfo,
}

/// What was written.
#[derive(Debug, Clone)]
pub struct Authored {
    pub bin: PathBuf,
    pub cue: PathBuf,
    pub sectors: u32,
    pub inputs: Vec<Input>,
    /// Sectors still free on the chosen disc.
    pub free_sectors: u32,
}

fn read_err(path: &Path) -> impl FnOnce(std::io::Error) -> VcdError + '_ {
    move |error| VcdError::Read {
        path: path.to_owned(),
        error,
    }
}

/// Checks the file's size and first packs before the full scan, to give the
/// most useful reason for a bad file.
fn check_framing(path: &Path, size: u64, head: &[u8]) -> Result<(), VcdError> {
    let not_mpeg = |reason: String| VcdError::NotMpeg {
        path: path.to_owned(),
        reason,
    };
    if size == 0 {
        return Err(VcdError::Empty {
            path: path.to_owned(),
        });
    }
    if head.len() < 12 || head[..4] != [0, 0, 1, 0xBA] {
        let shown: Vec<String> = head.iter().take(4).map(|b| format!("{b:02X}")).collect();
        return Err(not_mpeg(format!(
            "it starts with bytes {} instead of an MPEG pack header 00 00 01 BA",
            shown.join(" ")
        )));
    }
    if head[4] & 0xC0 == 0x40 {
        return Err(not_mpeg(
            "it is an MPEG-2 program stream (DVD/SVCD); VCD needs MPEG-1".into(),
        ));
    }
    let second_ok = match head.get(PACK_SIZE..PACK_SIZE + 4) {
        None => true,
        Some(b) => {
            b == [0, 0, 1, 0xBA] || head[PACK_SIZE..].iter().take(PACK_SIZE).all(|&x| x == 0)
        }
    };
    if !second_ok {
        let found = head[4..]
            .windows(4)
            .position(|w| w == [0, 0, 1, 0xBA])
            .map_or(
                format!("no second pack header in its first {} bytes", head.len()),
                |p| format!("the second pack header is at byte {}", p + 4),
            );
        return Err(VcdError::PackSize {
            path: path.to_owned(),
            found,
        });
    }
    let rest = size % PACK_SIZE as u64;
    if rest != 0 {
        return Err(VcdError::Truncated {
            path: path.to_owned(),
            size,
            rest,
        });
    }
    Ok(())
}

/// Reads `path` pack by pack, calling `f` on each.
fn for_each_pack(
    path: &Path,
    mut f: impl FnMut(&[u8]) -> Result<(), VcdError>,
) -> Result<u64, VcdError> {
    let file = File::open(path).map_err(read_err(path))?;
    let size = file.metadata().map_err(read_err(path))?.len();
    let mut r = BufReader::with_capacity(1 << 20, file);
    let mut pack = [0u8; PACK_SIZE];
    for _ in 0..size / PACK_SIZE as u64 {
        r.read_exact(&mut pack).map_err(read_err(path))?;
        f(&pack)?;
    }
    Ok(size)
}

/// Checks an input's size and first packs; returns its number of packs.
pub fn frame_input(path: &Path) -> Result<u32, VcdError> {
    let mut file = File::open(path).map_err(read_err(path))?;
    let size = file.metadata().map_err(read_err(path))?.len();
    let mut head = Vec::new();
    file.by_ref()
        .take(64 * 1024)
        .read_to_end(&mut head)
        .map_err(read_err(path))?;
    check_framing(path, size, &head)?;
    Ok((size / PACK_SIZE as u64).min(u32::MAX as u64) as u32)
}

/// Checks one input completely against VCD 2.0; gathers access points (for
/// chapters) when `access_points`.
pub fn check_input(path: &Path, access_points: bool) -> Result<Input, VcdError> {
    frame_input(path)?;
    let not_vcd = |error| VcdError::NotVcd {
        path: path.to_owned(),
        error,
    };
    let mut scanner = StreamScanner::new(access_points);
    for_each_pack(path, |pack| scanner.push(pack).map(|_| ()).map_err(not_vcd))?;
    let info = scanner.finish().map_err(not_vcd)?;
    Ok(Input {
        path: path.to_owned(),
        info,
    })
}

/// Refuses a disc whose tracks of `packs` packs do not fit on `disc`; returns
/// the sectors left.
pub fn check_capacity(
    packs: impl IntoIterator<Item = u32>,
    disc: DiscSize,
) -> Result<u32, VcdError> {
    let needed = image::sectors_needed(packs);
    let capacity = disc.sectors();
    if needed > capacity as u64 {
        return Err(VcdError::TooLong {
            minutes: disc.minutes(),
            needed,
            needed_time: image::duration(needed),
            capacity,
            capacity_time: image::duration(capacity as u64),
            hint: if disc == DiscSize::Min74 {
                " or use --disc 80"
            } else {
                ""
            },
        });
    }
    Ok(capacity - needed as u32)
}

/// Pack indices of chapter entries every `secs` seconds of video.
pub fn chapters(info: &StreamInfo, secs: f64) -> Vec<u32> {
    let (Some(base), true) = (info.first_pts, secs > 0.0) else {
        return Vec::new();
    };
    let step = (secs * 90_000.0) as u64;
    let mut out = Vec::new();
    let mut next = base + step;
    for ap in &info.access_points {
        if ap.pts >= next {
            out.push(ap.pack);
            while next <= ap.pts {
                next += step.max(1);
            }
        }
    }
    out
}

fn check_label(what: &'static str, value: &str, max: usize) -> Result<String, VcdError> {
    let v = value.to_ascii_uppercase();
    let invalid = |reason: &str| VcdError::Invalid {
        what,
        value: value.into(),
        reason: reason.into(),
    };
    if v.len() > max {
        return Err(invalid(&format!("at most {max} characters")));
    }
    if !v
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b' ')
    {
        return Err(invalid("use only letters A-Z, digits, '_' and spaces"));
    }
    Ok(v)
}

/// Checks all inputs and plans the disc, writing nothing.
pub fn prepare(
    inputs: &[PathBuf],
    opts: &AuthorOptions,
) -> Result<(DiscSpec, Vec<Input>), VcdError> {
    if inputs.is_empty() {
        return Err(VcdError::NoInput);
    }
    if inputs.len() > image::MAX_TRACKS {
        return Err(VcdError::TooManyTracks {
            count: inputs.len(),
            max: image::MAX_TRACKS,
        });
    }
    // Cheap checks of every file first (framing, disc capacity), then full scans.
    let packs = inputs
        .iter()
        .map(|p| frame_input(p))
        .collect::<Result<Vec<_>, _>>()?;
    check_capacity(packs, opts.disc)?;
    let checked = inputs
        .iter()
        .map(|p| check_input(p, opts.chapters_every.is_some()))
        .collect::<Result<Vec<_>, _>>()?;
    let first = &checked[0];
    if let Some(other) = checked
        .iter()
        .find(|i| i.info.standard != first.info.standard)
    {
        return Err(VcdError::MixedStandards {
            path: other.path.clone(),
            standard: other.info.standard,
            first: first.path.clone(),
            first_standard: first.info.standard,
        });
    }
    let tracks: Vec<TrackSpec> = checked
        .iter()
        .map(|i| TrackSpec {
            packs: i.info.packs,
            pal: i.info.standard == mpeg::Standard::Pal,
            chapters: opts
                .chapters_every
                .map_or_else(Vec::new, |s| chapters(&i.info, s)),
        })
        .collect();
    let entries: usize = tracks.iter().map(|t| 1 + t.chapters.len()).sum();
    if entries > MAX_ENTRIES {
        return Err(VcdError::TooManyEntries { count: entries });
    }
    let spec = DiscSpec {
        volume_id: check_label("volume label", &opts.volume_id, 32)?,
        album_id: check_label("album id", &opts.album_id, 16)?,
        preparer_id: opts.preparer_id.clone(),
        application_id: opts.application_id.clone(),
        created: opts.created.format("%Y%m%d%H%M%S00").to_string(),
        tracks,
        menu: None,
    };
    Ok((spec, checked))
}

/// Writes the image of checked inputs to `out`.
fn write_image(out: &File, spec: &DiscSpec, inputs: &[Input], bin: &Path) -> Result<u32, VcdError> {
    let write_err = |error| VcdError::Write {
        path: bin.to_owned(),
        error,
    };
    let (layout, track1) = image::plan(spec);
    let mut w = SectorWriter::new(out);
    image::write_track1(&mut w, &track1, layout.iso_size).map_err(write_err)?;
    for (i, (input, span)) in inputs.iter().zip(&layout.tracks).enumerate() {
        let k = (i + 1) as u8;
        w.fill(image::PREGAP, image::GAP).map_err(write_err)?;
        w.fill(image::FRONT_MARGIN, image::margin(k, false))
            .map_err(write_err)?;
        let mut n = 0u32;
        let size = for_each_pack(&input.path, |pack| {
            let kind = mpeg::parse_pack(pack, false).map_or(mpeg::PackKind::Empty, |p| p.kind());
            n += 1;
            let sub = image::pack_subheader(k, kind, n == span.packs);
            w.put(sub, pack).map_err(write_err)
        })?;
        if n != span.packs || size != span.packs as u64 * PACK_SIZE as u64 {
            return Err(VcdError::Changed {
                path: input.path.clone(),
            });
        }
        w.fill(image::REAR_MARGIN - 1, image::margin(k, false))
            .map_err(write_err)?;
        w.fill(1, image::margin(k, true)).map_err(write_err)?;
    }
    w.fill(image::POSTGAP, image::GAP).map_err(write_err)?;
    let total = w.lsn();
    let file = w.finish().map_err(write_err)?;
    file.sync_all().map_err(write_err)?;
    debug_assert_eq!(total, layout.total);
    Ok(total)
}

/// A file that is removed on drop unless kept.
struct Partial(Option<PathBuf>);

impl Drop for Partial {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_file(p);
        }
    }
}

/// Authors a VCD 2.0 image (bin + cue) of `inputs`, one sequence track each.
pub fn author(inputs: &[PathBuf], opts: &AuthorOptions) -> Result<Authored, VcdError> {
    let (spec, checked) = prepare(inputs, opts)?;
    let bin = opts.output.clone();
    let cue = opts.cue_path();
    let name = bin
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| VcdError::Invalid {
            what: "output path",
            value: bin.display().to_string(),
            reason: "it must name a file".into(),
        })?;
    let part = bin.with_file_name(format!(".{name}.part"));
    let write_err = |path: &Path| {
        let path = path.to_owned();
        move |error| VcdError::Write { path, error }
    };
    let file = File::create(&part).map_err(write_err(&part))?;
    let mut guard = Partial(Some(part.clone()));
    let sectors = write_image(&file, &spec, &checked, &bin)?;
    drop(file);
    let (layout, _) = image::plan(&spec);
    let sheet = image::cue_sheet(&name, &spec, &layout);
    fs::rename(&part, &bin).map_err(write_err(&bin))?;
    guard.0 = Some(bin.clone());
    fs::write(&cue, sheet).map_err(write_err(&cue))?;
    guard.0 = None;
    Ok(Authored {
        bin,
        cue,
        sectors,
        inputs: checked,
        free_sectors: opts.disc.sectors().saturating_sub(sectors),
    })
}
