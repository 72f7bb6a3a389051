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
    #[command(flatten)]
    pub menu: MenuArgs,
    /// ffmpeg program, used to draw the menu [default: `ffmpeg` on PATH].
    #[arg(long, value_name = "PATH")]
    pub ffmpeg: Option<PathBuf>,
    /// MPEG-1 system streams (2324-byte packs), one track each, in order.
    #[arg(value_name = "MPEG", required = true)]
    pub inputs: Vec<PathBuf>,
}

/// Menu options shared by `author` and `make`.
#[derive(Debug, clap::Args)]
pub struct MenuArgs {
    /// Add a menu (playback control): a still picture listing the titles,
    /// number keys play each video and return to the menu.
    #[arg(long)]
    pub menu: bool,
    /// Menu title of the next video, in order (repeat; default: file names).
    #[arg(long = "title", value_name = "TITLE")]
    pub titles: Vec<String>,
    /// Menu font: fontconfig family or font file [default: Noto Sans CJK SC].
    #[arg(long, value_name = "FONT")]
    pub menu_font: Option<String>,
}

impl MenuArgs {
    fn options(
        &self,
        ffmpeg: &std::path::Path,
        config: &VcdConfig,
    ) -> Option<super::menu::MenuOptions> {
        self.menu.then(|| super::menu::MenuOptions {
            ffmpeg: ffmpeg.to_owned(),
            font: self
                .menu_font
                .clone()
                .unwrap_or_else(|| config.menu_font.clone()),
            titles: self.titles.clone(),
        })
    }
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

pub fn author(a: AuthorArgs, config: &VcdConfig) -> anyhow::Result<()> {
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
    let ffmpeg = a.ffmpeg.unwrap_or_else(|| config.ffmpeg.clone());
    opts.menu = a.menu.options(&ffmpeg, config);
    let done = author::author(&a.inputs, &opts)?;
    for (i, input) in done.inputs.iter().enumerate() {
        let info = &input.info;
        println!(
            "track {:2}: {} ({} packs, {}, {}{})",
            i + 2,
            shown(&input.path),
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
    for w in &done.warnings {
        eprintln!("warning: {w}");
    }
    println!(
        "wrote {} and {}: {} sectors ({} bytes); {} of a {}-minute disc left",
        shown(&done.bin),
        shown(&done.cue),
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
        shown(&a.image),
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
            shown(&a.image),
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
    /// Reuse finished disc images and MPEG files an interrupted run left in DIR.
    #[arg(long)]
    pub resume: bool,
    /// Add an entry point (chapter) every SECS seconds at the next I-frame.
    #[arg(long, value_name = "SECS")]
    pub chapters_every: Option<f64>,
    #[command(flatten)]
    pub menu: MenuArgs,
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
            let name = shown(&inputs[p.video]);
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

pub fn make(a: MakeArgs, config: &VcdConfig) -> anyhow::Result<()> {
    let ffmpeg = a.ffmpeg.unwrap_or_else(|| config.ffmpeg.clone());
    let opts = MakeOptions {
        menu: a.menu.options(&ffmpeg, config),
        out_dir: a.out_dir,
        standard: a.standard,
        disc: a.disc,
        ffmpeg,
        ffprobe: a.ffprobe.unwrap_or_else(|| config.ffprobe.clone()),
        dry_run: a.dry_run,
        keep_mpeg: a.keep_mpeg,
        resume: a.resume,
        chapters_every: a.chapters_every,
    };
    let cancel = cancel_on_signal();
    let mut last_pct = u64::MAX;
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
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
            // On a terminal, one line updated in place; in a log, every 25 %.
            let step = if tty { pct } else { pct / 25 * 25 };
            if step != last_pct {
                last_pct = step;
                let line = format!(
                    "disc {:02} track {:02}: transcoding {} {pct:3}%",
                    disc + 1,
                    track + 1,
                    shown(path)
                );
                if tty {
                    eprint!("\r{line}");
                } else {
                    eprintln!("{line}");
                }
            }
        }
        MakeEvent::Damaged {
            path,
            errors,
            first,
        } => {
            if tty {
                eprintln!();
            }
            eprintln!(
                "warning: ffmpeg reported {errors} error(s) while reading {} (first: {first}); the disc may show glitches there",
                shown(path)
            );
        }
        MakeEvent::Authoring { disc } => {
            last_pct = u64::MAX;
            if tty {
                eprintln!();
            }
            eprintln!("disc {:02}: writing the image", disc + 1);
        }
        MakeEvent::Authored {
            disc,
            bin,
            free_seconds,
        } => {
            println!(
                "disc {:02}: wrote {} ({} minutes left)",
                disc + 1,
                shown(bin),
                free_seconds / 60
            );
        }
    })?;
    if !opts.dry_run {
        println!("{} disc image(s) ready", bins.len());
    }
    Ok(())
}

/// `xingzhan vcd burn`: write an image to a CD-R with cdrdao.
#[derive(Debug, clap::Args)]
pub struct BurnArgs {
    /// The cue sheet; the .bin of the same name must be next to it.
    pub cue: PathBuf,
    /// Writer device [default: the first /dev/srN].
    #[arg(long, value_name = "DEV")]
    pub device: Option<PathBuf>,
    /// Burn speed [default: from [vcd] burn_speed, 8].
    #[arg(long, value_name = "N")]
    pub speed: Option<u32>,
    /// cdrdao program [default: `cdrdao` on PATH].
    #[arg(long, value_name = "PATH")]
    pub cdrdao: Option<PathBuf>,
}

pub fn burn(a: BurnArgs, config: &VcdConfig) -> anyhow::Result<()> {
    let device = super::burn::burn(&super::burn::BurnOptions {
        cue: a.cue.clone(),
        device: a.device,
        speed: a.speed.unwrap_or(config.burn_speed),
        cdrdao: a.cdrdao.unwrap_or_else(|| config.cdrdao.clone()),
        dev_dir: "/dev".into(),
    })?;
    println!("burned {} on {}", shown(&a.cue), shown(&device));
    Ok(())
}

/// A path for people: UTF-8, or decoded from GBK (receivers write GBK names).
fn shown(p: &std::path::Path) -> String {
    crate::paths::display(p)
}
