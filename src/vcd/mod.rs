//! Village VCDs: VCD 2.0 disc images authored in our own code (see issue 4).
//!
//! Modules by concern:
//! - pure encoding: `sector` (raw Mode 2 sectors, EDC, P/Q ECC), `mpeg` (pack
//!   parser and VCD stream checks), `iso9660` (file system with XA),
//!   `vcdfiles` (INFO/ENTRIES/LOT/PSD), `image` (layout, track 1, cue sheet),
//!   `plan` (which video goes on which disc);
//! - I/O: `author` (MPEG streams to bin/cue), `check` (our sector checker),
//!   `probe` (ffprobe), `transcode` (ffmpeg via ffmpeg-sidecar), `menu` (the
//!   menu still), `make` (any videos to disc images), `burn` (cdrdao);
//!   persistent disc-making jobs live in `crate::outreach`;
//! - `cli` (the `xingzhan vcd` command line) and `error` (`VcdError`).

pub mod author;
pub mod burn;
pub mod check;
pub mod cli;
pub mod error;
pub mod image;
pub mod iso9660;
pub mod make;
pub mod menu;
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
    /// Font of the disc menu: a fontconfig family or a font file path.
    pub menu_font: String,
}

impl Default for VcdConfig {
    fn default() -> Self {
        VcdConfig {
            ffmpeg: "ffmpeg".into(),
            ffprobe: "ffprobe".into(),
            cdrdao: "cdrdao".into(),
            burn_speed: 8,
            menu_font: menu::DEFAULT_FONT.into(),
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
    /// Burn a bin/cue image with cdrdao.
    Burn(cli::BurnArgs),
    /// Check every sector of a raw image: sync, address, subheader, EDC, ECC.
    Check(cli::CheckArgs),
}

/// Runs a `xingzhan vcd` subcommand with the built-in `[vcd]` defaults.
pub fn run(args: VcdArgs) -> anyhow::Result<()> {
    run_with(args, &VcdConfig::default())
}

/// Runs a `xingzhan vcd` subcommand with the `[vcd]` section of the loaded
/// configuration (command-line flags still win).
pub fn run_with(args: VcdArgs, config: &VcdConfig) -> anyhow::Result<()> {
    match args.command {
        VcdCommand::Author(a) => cli::author(*a, config),
        VcdCommand::Check(a) => cli::check(a),
        VcdCommand::Make(a) => cli::make(*a, config),
        VcdCommand::Burn(a) => cli::burn(a, config),
    }
}
