//! Village VCDs: VCD 2.0 disc images authored in our own code (see issue 4).
//!
//! Modules by concern: `sector` (raw Mode 2 sectors, EDC, ECC), `mpeg` (pack
//! parser and stream checks), `iso9660` (file system with XA), `vcdfiles`
//! (INFO/ENTRIES/LOT/PSD), `image` (layout, track 1, cue), `author` (the I/O of
//! authoring), `check` (our sector checker), `probe` (ffprobe), `plan` (which
//! video goes on which disc), `transcode` (ffmpeg), `make` (videos to images),
//! `cli` (the command line).

pub mod author;
pub mod check;
pub mod cli;
pub mod error;
pub mod image;
pub mod iso9660;
pub mod make;
pub mod mpeg;
pub mod plan;
pub mod probe;
pub mod sector;
pub mod transcode;
pub mod vcdfiles;

pub use error::VcdError;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[vcd]` section of the configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VcdConfig {
    /// The ffmpeg program (a name on PATH or a full path); never downloaded.
    pub ffmpeg: PathBuf,
    /// The ffprobe program.
    pub ffprobe: PathBuf,
    /// The cdrdao program used to burn discs.
    pub cdrdao: PathBuf,
    /// Burn speed passed to cdrdao.
    pub burn_speed: u32,
}

impl Default for VcdConfig {
    fn default() -> Self {
        VcdConfig {
            ffmpeg: "ffmpeg".into(),
            ffprobe: "ffprobe".into(),
            cdrdao: "cdrdao".into(),
            burn_speed: 8,
        }
    }
}

/// Arguments of `xingzhan vcd ...`.
#[derive(Debug, clap::Args)]
pub struct VcdArgs {
    #[command(subcommand)]
    pub command: VcdCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum VcdCommand {
    /// Author a VCD 2.0 image (bin/cue) from VCD-compliant MPEG-1 streams.
    Author(Box<cli::AuthorArgs>),
    /// Transcode any videos with ffmpeg, plan discs and author one image each.
    Make(Box<cli::MakeArgs>),
    /// Check every sector of a raw image: sync, address, subheader, EDC, ECC.
    Check(cli::CheckArgs),
}

/// Runs a `xingzhan vcd` subcommand.
pub fn run(args: VcdArgs) -> anyhow::Result<()> {
    match args.command {
        VcdCommand::Author(a) => cli::author(*a),
        VcdCommand::Check(a) => cli::check(a),
        VcdCommand::Make(a) => cli::make(*a),
    }
}
