//! The `xingzhan` binary: parses the command line and runs one mode.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "xingzhan",
    version,
    about = "星站: the daemon of a rural school's satellite receiving station"
)]
struct Cli {
    /// Configuration file (TOML). Without it, built-in defaults are used.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// The satellite receiver's drop folder.
    #[arg(long, global = true)]
    inbox: Option<PathBuf>,
    /// Data directory (database, library, work folders).
    #[arg(long, global = true)]
    data: Option<PathBuf>,
    /// Address for the web page and API, e.g. 127.0.0.1:8080.
    #[arg(long, global = true)]
    listen: Option<SocketAddr>,
    /// Seconds a file's size and mtime must stay unchanged before it counts as complete.
    #[arg(long, global = true)]
    settle_secs: Option<u64>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon: watch the drop folder, serve the web page and API.
    Serve,
    /// Village VCDs: author, make, burn.
    Vcd(xingzhan::vcd::VcdArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xingzhan: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve => Ok(()),
        Command::Vcd(args) => xingzhan::vcd::run(args),
    }
}
