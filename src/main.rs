//! The `xingzhan` binary: parses the command line, builds the configuration from
//! its layers, and runs one mode. Each mode lives in the library.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use xingzhan::config::{self, Config, Overrides};

#[derive(Debug, Parser)]
#[command(
    name = "xingzhan",
    version,
    about = "星站 xingzhan: the daemon of a rural school's satellite receiving station"
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
    /// One reconcile pass of the drop folder into the catalog, then exit.
    /// Files modified less than the settle window ago count as still receiving.
    Scan {
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check the configuration, folders, disk, ffmpeg, database and clock.
    Doctor,
    /// Configuration helpers.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Free disk space by purging the drop folder (as the disk guard would).
    Purge {
        /// Only show what would be deleted.
        #[arg(long)]
        dry_run: bool,
    },
    /// Village VCDs: author, make, burn.
    Vcd(xingzhan::vcd::VcdArgs),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the commented default configuration (every key and its default).
    PrintDefault,
    /// Check a configuration and print it as used (after all layers).
    Check,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // The daemon logs every reception; one-shot commands only what went wrong.
    let default_level = match cli.command {
        Command::Serve => "info",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("XINGZHAN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .with_writer(std::io::stderr)
        .init();
    std::panic::set_hook(Box::new(|info| {
        tracing::error!(panic = %info, "panic");
    }));
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xingzhan: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn load(cli: &Cli) -> anyhow::Result<Config> {
    let overrides = Overrides {
        inbox: cli.inbox.clone(),
        data: cli.data.clone(),
        listen: cli.listen,
        settle_secs: cli.settle_secs,
    };
    Ok(Config::load(cli.config.as_deref(), &overrides)?)
}

/// Hides secrets (PJLink passwords) in a configuration about to be printed.
fn redact(v: &mut toml::Value) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t.iter_mut() {
                if k == "password" && v.as_str().is_some_and(|s| !s.is_empty()) {
                    *v = toml::Value::String("<redacted>".into());
                } else {
                    redact(v);
                }
            }
        }
        toml::Value::Array(a) => a.iter_mut().for_each(redact),
        _ => {}
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Serve => xingzhan::daemon::serve(&load(&cli)?),
        Command::Scan { json } => {
            let s = xingzhan::daemon::scan(&load(&cli)?)?;
            if *json {
                println!("{}", serde_json::to_string(&s)?);
            } else {
                println!(
                    "new {}, repeated {}, still receiving {}, broken {}, gone {}, errors {}",
                    s.new, s.repeated, s.receiving, s.broken, s.gone, s.errors
                );
            }
            Ok(())
        }
        Command::Doctor => {
            let note = match &cli.config {
                Some(p) => format!("{} parsed and checked", p.display()),
                None => "no config file; built-in defaults".into(),
            };
            let config = load(&cli)?;
            let findings = xingzhan::doctor::run(&config, &note);
            let mut bad = 0;
            for f in &findings {
                println!(
                    "{} {:<12} {}",
                    if f.ok { "ok  " } else { "FAIL" },
                    f.check,
                    f.detail
                );
                bad += usize::from(!f.ok);
            }
            if bad > 0 {
                anyhow::bail!("{bad} check(s) failed");
            }
            Ok(())
        }
        Command::Config { command } => match command {
            ConfigCommand::PrintDefault => {
                print!("{}", config::EXAMPLE);
                Ok(())
            }
            ConfigCommand::Check => {
                let c = load(&cli)?;
                let mut v = toml::Value::try_from(&c)?;
                redact(&mut v);
                print!("{}", toml::to_string_pretty(&v)?);
                Ok(())
            }
        },
        Command::Purge { dry_run } => {
            let config = load(&cli)?;
            let r = xingzhan::daemon::purge(&config, *dry_run)?;
            for c in &r.planned {
                println!(
                    "{} {} ({} bytes)",
                    if *dry_run { "would delete" } else { "deleted" },
                    c.path_display,
                    c.size
                );
            }
            println!(
                "free {} MiB; {} file(s) {}, {} MiB",
                r.free_bytes / (1 << 20),
                r.planned.len(),
                if *dry_run { "would go" } else { "purged" },
                r.planned.iter().map(|c| c.size).sum::<u64>() / (1 << 20)
            );
            Ok(())
        }
        Command::Vcd(_) => {
            let config = load(&cli)?;
            match cli.command {
                Command::Vcd(args) => xingzhan::vcd::run_with(args, &config.vcd),
                _ => unreachable!(),
            }
        }
    }
}
