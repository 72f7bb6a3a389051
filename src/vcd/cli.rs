//! The `xingzhan vcd ...` command line: argument types and one function per
//! subcommand that calls into the library and reports to the user.

use std::path::PathBuf;

use anyhow::Context;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::VcdConfig;
use super::author::{self, AuthorOptions};
use super::check;
use super::image::{self, DiscSize};
use super::make::{self, MakeEvent, MakeOptions};
use super::mpeg::Standard;
use super::plan;

/// `xingzhan vcd author`: a VCD 2.0 image from VCD-compliant MPEG-1 streams.
#[derive(Debug, clap::Args)]
pub struct AuthorArgs {
    /// The .bin image to write.
    #[arg(short = 'o', long = "output", value_name = "DISC.bin")]
    pub output: PathBuf,
    /// The cue sheet to write [default: the .bin path with extension .cue].
    #[arg(long, value_name = "DISC.cue")]
    pub cue: Option<PathBuf>,
    /// ISO 9660 volume label (A-Z, 0-9, _; up to 32).
    #[arg(long, default_value = "VIDEOCD")]
    pub volume_label: String,
    /// Album id in INFO.VCD (up to 16 characters).
    #[arg(long, default_value = "")]
    pub album: String,
    /// Add an entry point (chapter) every SECS seconds at the next I-frame.
    #[arg(long, value_name = "SECS")]
    pub chapters_every: Option<f64>,
    /// Creation time written to the volume descriptor, UTC [default: now].
    #[arg(long, value_name = "YYYY-MM-DD HH:MM:SS")]
    pub create_time: Option<String>,
    /// Disc size in minutes.
    #[arg(long, value_enum, default_value = "80")]
    pub disc: DiscSize,
    /// ISO preparer id [default: XINGZHAN <version>].
    #[arg(long)]
    pub preparer_id: Option<String>,
    /// ISO application id.
    #[arg(long, default_value = "")]
    pub application_id: String,
    /// MPEG-1 system streams (2324-byte packs), one track each, in order.
    #[arg(value_name = "MPEG", required = true)]
    pub inputs: Vec<PathBuf>,
}

/// `xingzhan vcd check`: verify every sector of a raw image.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// A raw 2352-byte-sector image (.bin).
    pub image: PathBuf,
}

/// Parses "YYYY-MM-DD HH:MM:SS".
pub fn parse_time(s: &str) -> anyhow::Result<chrono::NaiveDateTime> {
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .with_context(|| format!("--create-time {s:?} is not of the form \"YYYY-MM-DD HH:MM:SS\""))
}

pub fn author(a: AuthorArgs) -> anyhow::Result<()> {
    let mut opts = AuthorOptions::new(a.output);
    opts.cue = a.cue;
    opts.volume_id = a.volume_label;
    opts.album_id = a.album;
    opts.chapters_every = a.chapters_every;
    opts.disc = a.disc;
    opts.application_id = a.application_id;
    if let Some(p) = a.preparer_id {
        opts.preparer_id = p;
    }
    if let Some(t) = a.create_time {
        opts.created = parse_time(&t)?;
    }
    let done = author::author(&a.inputs, &opts)?;
    for (i, input) in done.inputs.iter().enumerate() {
        let info = &input.info;
        println!(
            "track {:2}: {} ({} packs, {}, {}{})",
            i + 2,
            input.path.display(),
            info.packs,
            image::duration(info.packs as u64),
            info.standard,
            if info.audio.is_none() {
                ", no audio"
            } else {
                ""
            }
        );
    }
    println!(
        "wrote {} and {}: {} sectors ({} bytes); {} of a {}-minute disc left",
        done.bin.display(),
        done.cue.display(),
        done.sectors,
        done.sectors as u64 * 2352,
        image::duration(done.free_sectors as u64),
        opts.disc.minutes()
    );
    Ok(())
}

pub fn check(a: CheckArgs) -> anyhow::Result<()> {
    let r = check::check_image(&a.image)?;
    for (lsn, fault) in &r.faults {
        println!("sector {lsn}: {fault}");
    }
    println!(
        "{}: {} sectors ({} Form 1, {} Form 2, {} Form 2 without EDC), {} faulty{}",
        a.image.display(),
        r.sectors,
        r.form1,
        r.form2,
        r.form2_no_edc,
        r.fault_count,
        if r.trailing_bytes > 0 {
            format!(", {} trailing bytes", r.trailing_bytes)
        } else {
            String::new()
        }
    );
    if !r.ok() {
        anyhow::bail!(
            "{} is damaged: {} bad sectors",
            a.image.display(),
            r.fault_count
        );
    }
    Ok(())
}

/// `xingzhan vcd make`: transcode any videos and author one image per disc.
#[derive(Debug, clap::Args)]
pub struct MakeArgs {
    /// Folder for the disc images (discNN.bin/.cue).
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub out_dir: PathBuf,
    /// Video standard of the discs.
    #[arg(long, value_enum, default_value = "pal")]
    pub standard: Standard,
    /// Disc size in minutes.
    #[arg(long, value_enum, default_value = "80")]
    pub disc: DiscSize,
    /// ffmpeg program [default: from [vcd] ffmpeg, i.e. `ffmpeg` on PATH].
    #[arg(long, value_name = "PATH")]
    pub ffmpeg: Option<PathBuf>,
    /// ffprobe program [default: from [vcd] ffprobe].
    #[arg(long, value_name = "PATH")]
    pub ffprobe: Option<PathBuf>,
    /// Print the disc plan and stop.
    #[arg(long)]
    pub dry_run: bool,
    /// Keep the transcoded MPEG files in DIR/mpeg.
    #[arg(long)]
    pub keep_mpeg: bool,
    /// Videos in any format ffmpeg reads, in playing order.
    #[arg(value_name = "VIDEO", required = true)]
    pub inputs: Vec<PathBuf>,
}

/// A flag set by Ctrl-C (SIGINT) or SIGTERM, watched on a named thread.
pub fn cancel_on_signal() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    let _ = std::thread::Builder::new().name("vcd-signal".into()).spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
            return;
        };
        rt.block_on(async {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
            }
        });
        eprintln!("\nstopping: removing partial files...");
        f.store(true, Ordering::Relaxed);
    });
    flag
}

fn print_plan(discs: &[plan::DiscPlan], inputs: &[PathBuf]) {
    println!("plan: {} disc(s)", discs.len());
    for (n, d) in discs.iter().enumerate() {
        println!("disc {:02}:", n + 1);
        for p in &d.parts {
            let name = inputs[p.video].display();
            if p.of > 1 {
                println!(
                    "  {name} part {}/{} from {} for {} (longer than one disc: split; each part starts at a new GOP)",
                    p.number,
                    p.of,
                    plan::clock(p.start),
                    plan::clock(p.length)
                );
            } else {
                println!("  {name} ({})", plan::clock(p.length));
            }
        }
        println!(
            "  about {} minutes left on this disc",
            d.free_seconds() / 60
        );
    }
}

pub fn make(a: MakeArgs) -> anyhow::Result<()> {
    let defaults = VcdConfig::default();
    let opts = MakeOptions {
        out_dir: a.out_dir,
        standard: a.standard,
        disc: a.disc,
        ffmpeg: a.ffmpeg.unwrap_or(defaults.ffmpeg),
        ffprobe: a.ffprobe.unwrap_or(defaults.ffprobe),
        dry_run: a.dry_run,
        keep_mpeg: a.keep_mpeg,
    };
    let cancel = cancel_on_signal();
    let mut last_pct = u64::MAX;
    let bins = make::make(&a.inputs, &opts, &cancel, &mut |e| match e {
        MakeEvent::Probed { .. } => {}
        MakeEvent::Planned { discs } => print_plan(discs, &a.inputs),
        MakeEvent::Transcoding {
            disc,
            track,
            path,
            done,
            total,
        } => {
            let pct = ((done / total.max(0.001)) * 100.0).clamp(0.0, 100.0) as u64;
            if pct != last_pct {
                last_pct = pct;
                eprint!(
                    "\rdisc {:02} track {:02}: transcoding {} {pct:3}%",
                    disc + 1,
                    track + 1,
                    path.display()
                );
                if pct == 100 {
                    eprintln!();
                }
            }
        }
        MakeEvent::Authored {
            disc,
            bin,
            free_seconds,
        } => {
            last_pct = u64::MAX;
            eprintln!();
            println!(
                "disc {:02}: wrote {} ({} minutes left)",
                disc + 1,
                bin.display(),
                free_seconds / 60
            );
        }
    })?;
    if !opts.dry_run {
        println!("{} disc image(s) ready", bins.len());
    }
    Ok(())
}
