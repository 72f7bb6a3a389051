//! `vcd make`: from any videos to finished disc images. Probes every input,
//! plans the discs, checks free space, then per disc transcodes its parts into a
//! work folder and authors one image, removing the work files afterwards.
//!
//! Blocking; progress and decisions are reported through [`MakeEvent`]s, and a
//! shared flag cancels (temporary files are removed).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use super::author::{self, AuthorOptions};
use super::error::VcdError;
use super::image::DiscSize;
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
    cancel: &AtomicBool,
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
    let discs = plan::plan(&durations, opts.disc, false);
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
        }
        bins.push(result?);
    }
    if !opts.keep_mpeg {
        let _ = fs::remove_dir(&work);
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
    cancel: &AtomicBool,
    on_event: &mut dyn FnMut(MakeEvent),
    mpegs: &mut Vec<PathBuf>,
) -> Result<PathBuf, VcdError> {
    for (k, part) in disc.parts.iter().enumerate() {
        let input = &inputs[part.video];
        let output = work.join(format!("disc{:02}-track{:02}.mpg", n + 1, k + 1));
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
        transcode::run(&t, cancel, &mut |done| {
            on_event(MakeEvent::Transcoding {
                disc: n,
                track: k,
                path: input,
                done,
                total: part.length,
            })
        })?;
    }
    let bin = opts.out_dir.join(format!("disc{:02}.bin", n + 1));
    let mut a = AuthorOptions::new(bin);
    a.disc = opts.disc;
    a.volume_id = format!("VIDEOCD_{:02}", n + 1);
    let done = author::author(mpegs, &a)?;
    on_event(MakeEvent::Authored {
        disc: n,
        bin: &done.bin,
        free_seconds: done.free_sectors as u64 / 75,
    });
    Ok(done.bin)
}
