//! Village VCDs: VCD 2.0 disc images authored in our own code (see issue 4).

use serde::{Deserialize, Serialize};

/// `[vcd]` section of the configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VcdConfig {}

/// Arguments of `xingzhan vcd ...`.
#[derive(Debug, clap::Args)]
pub struct VcdArgs {
    #[command(subcommand)]
    pub command: VcdCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum VcdCommand {}

/// Runs a `xingzhan vcd` subcommand.
pub fn run(args: VcdArgs) -> anyhow::Result<()> {
    match args.command {}
}
