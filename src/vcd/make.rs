//! `vcd make`: from any videos to finished disc images. Probes every input,
//! plans the discs, checks free space, then per disc transcodes its parts into a
//! work folder and authors one image, removing the work files afterwards.
//!
//! Blocking; progress and decisions are reported through [`MakeEvent`]s, and a
//! shared flag cancels (temporary files are removed).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::author::{self, AuthorOptions};
use super::error::VcdError;
use super::image::DiscSize;
use super::menu::{self, MenuOptions};
use super::mpeg::Standard;
use super::plan::{self, DiscPlan};
use super::probe::{self, Probe};
use super::transcode::{self, Transcode};

/// Options of `vcd make`.
#[derive(Debug, Clone)]
pub struct MakeOptions {
    pub out_dir: PathBuf,
    pub standard: Standard,
    pub disc: DiscSize,
    pub ffmpeg: PathBuf,
    pub ffprobe: PathBuf,
    /// Plan only; transcode nothing.
    pub dry_run: bool,
    /// Keep the transcoded MPEG files (in `out_dir/mpeg`).
    pub keep_mpeg: bool,
    /// Add a menu; its titles are per input video (default: file names).
    pub menu: Option<MenuOptions>,
    /// Reuse what an interrupted run of the same request left: finished disc
    /// images (bin and cue) and finished MPEG files (both are only renamed
    /// into place when complete).
    pub resume: bool,
    /// Seconds between chapter entry points on each track, if any.
    pub chapters_every: Option<f64>,
}

/// What `make` reports while it works.
#[derive(Debug, Clone)]
pub enum MakeEvent<'a> {
    Probed {
        path: &'a Path,
        probe: &'a Probe,
    },
    Planned {
        discs: &'a [DiscPlan],
    },
    Transcoding {
        disc: usize,
        track: usize,
        path: &'a Path,
        done: f64,
        total: f64,
    },
    /// ffmpeg finished a video but logged errors (a damaged input it worked
    /// around); the disc may show glitches there.
    Damaged {
        path: &'a Path,
        errors: usize,
        first: &'a str,
    },
    /// Transcoding of a disc is done; its image is being written.
    Authoring {
        disc: usize,
    },
    Authored {
        disc: usize,
        bin: &'a Path,
        free_seconds: u64,
    },
}

/// Bytes a disc of this plan is expected to need: its MPEG files and its image.
fn bytes_needed(d: &DiscPlan) -> u64 {
    let mpeg: u64 = d
        .parts
        .iter()
        .map(|p| plan::track_sectors(p.length) * 2324)
        .sum();
    mpeg + d.sectors * 2352
}

/// Makes one image per planned disc; returns their .bin paths.
pub fn make(
    inputs: &[PathBuf],
    opts: &MakeOptions,
    cancel: &Arc<AtomicBool>,
    on_event: &mut dyn FnMut(MakeEvent),
) -> Result<Vec<PathBuf>, VcdError> {
    if inputs.is_empty() {
        return Err(VcdError::NoInput);
    }
    transcode::check_ffmpeg(&opts.ffmpeg)?;
    let mut probes = Vec::new();
    for path in inputs {
        let p = probe::probe(&opts.ffprobe, path)?;
        on_event(MakeEvent::Probed { path, probe: &p });
        probes.push(p);
    }
    let durations: Vec<f64> = probes.iter().map(|p| p.duration).collect();
    let discs = plan::plan(&durations, opts.disc, opts.menu.is_some());
    on_event(MakeEvent::Planned { discs: &discs });
    if opts.dry_run {
        return Ok(Vec::new());
    }
    fs::create_dir_all(&opts.out_dir).map_err(|error| VcdError::Write {
        path: opts.out_dir.clone(),
        error,
    })?;
    let need: u64 = discs.iter().map(bytes_needed).sum();
    let free = fs4::available_space(&opts.out_dir).map_err(|error| VcdError::Read {
        path: opts.out_dir.clone(),
        error,
    })?;
    if need > free {
        return Err(VcdError::NoSpace {
            dir: opts.out_dir.clone(),
            need_mb: need.div_ceil(1 << 20),
            free_mb: free >> 20,
        });
    }
    let work = opts.out_dir.join("mpeg");
    fs::create_dir_all(&work).map_err(|error| VcdError::Write {
        path: work.clone(),
        error,
    })?;
    let mut bins = Vec::new();
    for (n, disc) in discs.iter().enumerate() {
        let mut mpegs = Vec::new();
        let result = make_disc(
            n, disc, inputs, &probes, opts, &work, cancel, on_event, &mut mpegs,
        );
        if result.is_err() || !opts.keep_mpeg {
            for m in &mpegs {
                let _ = fs::remove_file(m);
            }
            // Only removed when empty (kept MPEG files of earlier discs stay).
            let _ = fs::remove_dir(&work);
        }
        bins.push(result?);
    }
    Ok(bins)
}

#[allow(clippy::too_many_arguments)]
fn make_disc(
    n: usize,
    disc: &DiscPlan,
    inputs: &[PathBuf],
    probes: &[Probe],
    opts: &MakeOptions,
    work: &Path,
    cancel: &Arc<AtomicBool>,
    on_event: &mut dyn FnMut(MakeEvent),
    mpegs: &mut Vec<PathBuf>,
) -> Result<PathBuf, VcdError> {
    let bin = opts.out_dir.join(format!("disc{:02}.bin", n + 1));
    if opts.resume && bin.is_file() && bin.with_extension("cue").is_file() {
        let sectors = fs::metadata(&bin).map_or(0, |m| m.len() / 2352);
        on_event(MakeEvent::Authored {
            disc: n,
            bin: &bin,
            free_seconds: (opts.disc.sectors() as u64).saturating_sub(sectors) / 75,
        });
        return Ok(bin);
    }
    for (k, part) in disc.parts.iter().enumerate() {
        let input = &inputs[part.video];
        let output = work.join(format!("disc{:02}-track{:02}.mpg", n + 1, k + 1));
        if opts.resume && output.is_file() {
            mpegs.push(output);
            continue;
        }
        let split = part.of > 1;
        let t = Transcode {
            ffmpeg: opts.ffmpeg.clone(),
            input: input.clone(),
            output: output.clone(),
            standard: opts.standard,
            start: split.then_some(part.start),
            length: split.then_some(part.length),
            has_audio: probes[part.video].has_audio,
        };
        mpegs.push(output);
        let errors = transcode::run(&t, cancel, &mut |done| {
            on_event(MakeEvent::Transcoding {
                disc: n,
                track: k,
                path: input,
                done,
                total: part.length,
            })
        })?;
        if let Some(first) = errors.first() {
            on_event(MakeEvent::Damaged {
                path: input,
                errors: errors.len(),
                first,
            });
        }
    }
    let mut a = AuthorOptions::new(bin);
    a.disc = opts.disc;
    a.cancel = Some(cancel.clone());
    a.chapters_every = opts.chapters_every;
    a.volume_id = format!("VIDEOCD_{:02}", n + 1);
    a.menu = opts.menu.as_ref().map(|m| MenuOptions {
        titles: disc
            .parts
            .iter()
            .map(|p| {
                let input = &inputs[p.video];
                let title = m
                    .titles
                    .get(p.video)
                    .cloned()
                    .unwrap_or_else(|| menu::title_of(input));
                if p.of > 1 {
                    format!("{title}（{}/{}）", p.number, p.of)
                } else {
                    title
                }
            })
            .collect(),
        ..m.clone()
    });
    on_event(MakeEvent::Authoring { disc: n });
    let done = author::author(mpegs, &a)?;
    on_event(MakeEvent::Authored {
        disc: n,
        bin: &done.bin,
        free_seconds: done.free_sectors as u64 / 75,
    });
    Ok(done.bin)
}
