//! The `xingzhan vcd ...` command line: argument types and one function per
//! subcommand that calls into the library and reports to the user.

use std::path::PathBuf;

use anyhow::Context;

use super::author::{self, AuthorOptions};
use super::check;
use super::image::{self, DiscSize};

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
