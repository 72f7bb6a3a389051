//! `cargo bench --bench vcd_make`: `xingzhan vcd make` on a generated 10-minute
//! video against the plain ffmpeg command with the same settings, in the same
//! run: wall time, peak RSS, overhead ratio. `vcd make` also authors the disc
//! image, so the ratio includes authoring.
//!
//! Set VCD_MAKE_BENCH_SECS to use a shorter or longer input (default 600).

#[path = "bench_util.rs"]
mod bench_util;

use std::process::Command;

use bench_util::*;
use xingzhan::vcd::mpeg::Standard;
use xingzhan::vcd::transcode::{Transcode, ffmpeg_args};

fn main() {
    require("ffmpeg", "ffmpeg");
    require("ffprobe", "ffmpeg");
    let secs = std::env::var("VCD_MAKE_BENCH_SECS").unwrap_or_else(|_| "600".into());
    let dir = scratch("vcd-make-bench");
    let input = dir.join("input.mp4");
    let gen_ = measure(
        lavfi_clip(
            "testsrc2=size=640x360:rate=30",
            "sine=frequency=440:sample_rate=48000",
            &secs,
        )
        .args(["-c:v", "mpeg4", "-q:v", "6", "-c:a", "aac", "-shortest"])
        .arg(&input),
    );
    println!(
        "input: {secs} s of 640x360 30 fps MPEG-4 + AAC (made in {:.1} s)",
        gen_.wall.as_secs_f64()
    );

    // The exact arguments `vcd make` gives ffmpeg, minus the progress pipe.
    let plain_out = dir.join("plain.mpg");
    let t = Transcode {
        ffmpeg: "ffmpeg".into(),
        input: input.clone(),
        output: plain_out.clone(),
        standard: Standard::Pal,
        start: None,
        length: None,
        has_audio: true,
    };
    let mut args = ffmpeg_args(&t, &plain_out);
    if let Some(i) = args.iter().position(|a| a == "-progress") {
        args.drain(i..i + 2);
    }
    let plain = measure(Command::new("ffmpeg").args(&args));
    let out_dir = dir.join("made");
    let _ = std::fs::remove_dir_all(&out_dir);
    let ours = measure(
        Command::new(env!("CARGO_BIN_EXE_xingzhan"))
            .args(["vcd", "make", "-o"])
            .arg(&out_dir)
            .arg(&input),
    );
    print_row("ffmpeg (same arguments, no progress pipe)", plain, None);
    print_row("xingzhan vcd make (transcode + author)", ours, Some(plain));
    println!(
        "overhead: x{:.3} wall ({:+.2} s); peak RSS of xingzhan or its ffmpeg child, whichever is larger: {:.1} MiB",
        ours.wall.as_secs_f64() / plain.wall.as_secs_f64(),
        ours.wall.as_secs_f64() - plain.wall.as_secs_f64(),
        ours.max_rss_kib as f64 / 1024.0
    );
    if std::env::var_os("VCD_BENCH_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
