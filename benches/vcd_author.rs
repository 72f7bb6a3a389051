//! `cargo bench --bench vcd_author`: authoring a full 74-minute VCD (333,000
//! sectors) with our author, with vcdimager on the same input, and a plain copy
//! of as many bytes as the image (the I/O floor). Wall time and peak RSS of
//! each, measured as child processes in the same run.
//!
//! The input is built by repeating the packs of a 10-second `ffmpeg -target
//! pal-vcd` clip until one track fills the disc (332,325 packs, 772 MB), so
//! every pack is a valid VCD pack. Files go to target/vcd-bench (or
//! $VCD_BENCH_DIR) and are removed at the end.

#[path = "bench_util.rs"]
mod bench_util;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::Command;

use bench_util::*;

/// Packs of one track that fill a 74-minute disc: 333,000 - 300 - 150 - 225.
const PACKS: usize = 332_325;
const PACK: usize = 2324;
const RUNS: usize = 2;

fn main() {
    require("ffmpeg", "ffmpeg");
    require("vcdimager", "vcdimager");
    require("dd", "coreutils");
    let dir = scratch("vcd-bench");
    let clip = dir.join("clip.mpg");
    let status = lavfi_clip(
        "testsrc=size=352x288:rate=25",
        "sine=frequency=440:sample_rate=44100",
        "10",
    )
    .args(["-target", "pal-vcd"])
    .arg(&clip)
    .status()
    .expect("ffmpeg");
    assert!(status.success(), "ffmpeg failed");
    let packs = std::fs::read(&clip).expect("clip");
    assert_eq!(packs.len() % PACK, 0);
    let input = dir.join("long.mpg");
    {
        let mut w = BufWriter::with_capacity(1 << 20, File::create(&input).expect("input"));
        for i in 0..PACKS {
            let p = i % (packs.len() / PACK);
            w.write_all(&packs[p * PACK..(p + 1) * PACK])
                .expect("write input");
        }
        w.flush().expect("flush");
    }
    let ours_bin = dir.join("ours.bin");
    let theirs_bin = dir.join("theirs.bin");
    let copy = dir.join("copy.bin");
    // Warm the page cache so all three read the input from memory.
    measure(
        Command::new("dd")
            .arg(format!("if={}", input.display()))
            .args(["of=/dev/null", "bs=1M"]),
    );

    println!(
        "input: {} packs, {} bytes; {RUNS} runs each, fastest shown",
        PACKS,
        PACKS * PACK
    );
    let ours = best_of(RUNS, || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_xingzhan"));
        c.args(["vcd", "author", "--disc", "74", "-o"])
            .arg(&ours_bin)
            .arg(&input);
        c
    });
    let theirs = best_of(RUNS, || {
        let mut c = Command::new("vcdimager");
        c.args(["-t", "vcd2", "-q", "-b"])
            .arg(&theirs_bin)
            .arg("-c")
            .arg(dir.join("theirs.cue"))
            .arg(&input);
        c
    });
    // Our author fsyncs the image before renaming it into place; vcdimager does
    // not. Add a sync of its image to compare like with like.
    let theirs_sync = measure(Command::new("sync").arg(&theirs_bin));
    let image_bytes = std::fs::metadata(&ours_bin).expect("our image").len();
    assert_eq!(
        image_bytes,
        std::fs::metadata(&theirs_bin).expect("their image").len()
    );
    assert_eq!(image_bytes, 333_000 * 2352);
    let floor = best_of(RUNS, || {
        let mut c = Command::new("dd");
        c.arg(format!("if={}", theirs_bin.display()))
            .arg(format!("of={}", copy.display()))
            .args(["bs=1M", "conv=fsync"]);
        c
    });
    let theirs_synced = Run {
        wall: theirs.wall + theirs_sync.wall,
        max_rss_kib: theirs.max_rss_kib,
    };
    println!("image: 333,000 sectors, {image_bytes} bytes");
    print_row("copy (dd bs=1M conv=fsync), the I/O floor", floor, None);
    print_row("vcdimager -t vcd2", theirs, Some(floor));
    print_row(
        "vcdimager -t vcd2, then sync of its image",
        theirs_synced,
        Some(floor),
    );
    print_row("xingzhan vcd author (fsyncs its image)", ours, Some(floor));
    println!(
        "ours / vcdimager+sync: x{:.2} wall, x{:.2} peak RSS",
        ours.wall.as_secs_f64() / theirs_synced.wall.as_secs_f64(),
        ours.max_rss_kib as f64 / theirs.max_rss_kib as f64
    );
    if std::env::var_os("VCD_BENCH_KEEP").is_none() {
        for f in [&input, &ours_bin, &theirs_bin, &copy, &clip] {
            let _ = std::fs::remove_file(f);
        }
    }
}
