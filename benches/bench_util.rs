//! Shared by the VCD benchmarks: run a child process and measure its wall time
//! and peak resident set size (from wait4's rusage: the largest of that child
//! and any of its own children it waited for, e.g. ffmpeg under `vcd make`).

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Wall time and peak RSS of one child run.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub wall: Duration,
    pub max_rss_kib: i64,
}

/// Runs `cmd` to completion (stdout/stderr discarded unless it fails) and
/// measures it. Panics if it fails.
pub fn measure(cmd: &mut Command) -> Run {
    let shown = format!("{cmd:?}");
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
    let stderr = child.stderr.take();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting for our own child pid with valid out-pointers.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    // Already reaped by wait4; this only tells std the child is gone (ECHILD).
    let _ = child.wait();
    assert_eq!(r, pid, "wait4 failed for {shown}");
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    if !ok {
        let mut msg = String::new();
        if let Some(mut e) = stderr {
            use std::io::Read;
            let _ = e.read_to_string(&mut msg);
        }
        panic!("{shown} failed (status {status}): {msg}");
    }
    Run {
        wall,
        max_rss_kib: usage.ru_maxrss,
    }
}

/// Runs `cmd` `n` times and keeps the fastest run (and the largest peak RSS).
pub fn best_of(n: usize, mut make: impl FnMut() -> Command) -> Run {
    let runs: Vec<Run> = (0..n).map(|_| measure(&mut make())).collect();
    Run {
        wall: runs.iter().map(|r| r.wall).min().expect("n > 0"),
        max_rss_kib: runs.iter().map(|r| r.max_rss_kib).max().expect("n > 0"),
    }
}

/// A scratch folder for the benchmark's large files.
pub fn scratch(name: &str) -> PathBuf {
    let base = std::env::var_os("VCD_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = base.join(name);
    std::fs::create_dir_all(&dir).expect("bench dir");
    dir
}

/// Fails with the Debian package name when a tool is missing.
pub fn require(tool: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "`{tool}` is needed by this benchmark: apt-get install {package}"
    );
}

pub fn print_row(what: &str, r: Run, reference: Option<Run>) {
    let ratio = reference.map_or(String::new(), |b| {
        format!("  x{:.2}", r.wall.as_secs_f64() / b.wall.as_secs_f64())
    });
    println!(
        "{what:<44} {:>8.3} s  peak RSS {:>8.1} MiB{ratio}",
        r.wall.as_secs_f64(),
        r.max_rss_kib as f64 / 1024.0
    );
}

/// An ffmpeg command reading a lavfi test picture and a sine tone for `secs`
/// seconds; the caller adds output options and the output.
pub fn lavfi_clip(video: &str, tone: &str, secs: &str) -> Command {
    let mut c = Command::new("ffmpeg");
    c.args([
        "-hide_banner",
        "-v",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        video,
    ])
    .args(["-f", "lavfi", "-i", tone, "-t", secs]);
    c
}
