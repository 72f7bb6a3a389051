//! VCD authoring, checked against real tools: vcdimager (byte for byte), vcd-info,
//! vcdxrip, cd-info, and our own sector checker; plus bad inputs and faults.

mod vcd_util;

use std::path::Path;

use proptest::prelude::*;
use vcd_util::*;
use xingzhan::vcd::mpeg;

/// Authors `inputs` with our binary into `stem.bin`, with the identity
/// (creation date, preparer) of the vcdimager image `theirs`.
fn author_like(sb: &Sandbox, stem: &str, theirs: &[u8], inputs: &[&Path]) -> Vec<u8> {
    let (date, preparer) = pvd_identity(theirs);
    let bin = format!("{stem}.bin");
    let fixed = [
        "vcd",
        "author",
        "-o",
        &bin,
        "--create-time",
        &date,
        "--preparer-id",
        &preparer,
    ];
    let args = with_paths(&fixed, inputs);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    sb.xingzhan_ok(&args);
    sb.read(&bin)
}

#[test]
fn peer_stream_gives_the_same_bytes_as_vcdimager() {
    let sb = Sandbox::new();
    let input = peer_dir().join("avseq00.m1p");
    sb.vcdimager("theirs", &[&input]);
    let theirs = sb.read("theirs.bin");
    let ours = author_like(&sb, "ours", &theirs, &[&input]);
    assert_eq!(ours.len(), 750 * SECTOR);
    assert_same_image(&ours, &theirs);
    // The cue sheets differ only in the .bin file name.
    let ours_cue = String::from_utf8(sb.read("ours.cue")).unwrap();
    let theirs_cue = String::from_utf8(sb.read("theirs.cue")).unwrap();
    assert_eq!(ours_cue.replace("ours.bin", "theirs.bin"), theirs_cue);
    assert!(ours_cue.ends_with("\r\n") && !ours_cue.replace("\r\n", "").contains('\n'));
}

#[test]
fn ffmpeg_streams_give_the_same_bytes_as_vcdimager_for_one_and_three_tracks() {
    let sb = Sandbox::new();
    let a = sb.pal_clip("a.mpg", "2", 440);
    let b = sb.pal_clip("b.mpg", "1.5", 880);
    // Video only: ffmpeg pads with all-zero packs, stored with the empty subheader.
    let c = sb.pal_clip_video_only("c.mpg", "1");

    sb.vcdimager("one", &[&a]);
    let theirs = sb.read("one.bin");
    let ours = author_like(&sb, "ours1", &theirs, &[&a]);
    assert_same_image(&ours, &theirs);

    sb.vcdimager("three", &[&a, &b, &c]);
    let theirs = sb.read("three.bin");
    let ours = author_like(&sb, "ours3", &theirs, &[&a, &b, &c]);
    assert_same_image(&ours, &theirs);
}

#[test]
fn with_our_own_preparer_id_only_that_field_and_its_sector_parity_differ() {
    // vcdimager cannot be told a preparer id; ours defaults to "XINGZHAN <version>".
    let sb = Sandbox::new();
    let input = peer_dir().join("avseq00.m1p");
    sb.vcdimager("theirs", &[&input]);
    let theirs = sb.read("theirs.bin");
    let (date, _) = pvd_identity(&theirs);
    sb.xingzhan_ok(&[
        "vcd",
        "author",
        "-o",
        "ours.bin",
        "--create-time",
        &date,
        input.to_str().unwrap(),
    ]);
    let ours = sb.read("ours.bin");
    let diff = differences(&ours, &theirs);
    assert!(!diff.is_empty());
    // PVD at LSN 16: preparer id at user bytes 446..574 (raw 470..598), then the
    // sector's EDC (raw 2072..2076) and P/Q parity (raw 2076..2352).
    for &(sector, offset) in &diff {
        assert_eq!(sector, 16, "a byte outside the PVD differs");
        assert!(
            (470..598).contains(&offset) || offset >= 2072,
            "PVD byte {offset} differs"
        );
    }
    assert!(diff.iter().any(|&(_, o)| (470..598).contains(&o)));
    assert_eq!(
        pvd_identity(&ours).1,
        format!("XINGZHAN {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn vcd_info_dump_equals_vcdimagers_expected_dump_apart_from_the_preparer() {
    let sb = Sandbox::new();
    let input = peer_dir().join("avseq00.m1p");
    // libcdio's tools look for NAME.bin next to NAME.cue; the dump names the cue.
    sb.xingzhan_ok(&[
        "vcd",
        "author",
        "-o",
        "videocd.bin",
        input.to_str().unwrap(),
    ]);
    let dump = sb.ok(vcd_info(), &["-B", "-i", "videocd.cue"]);
    let expected = std::fs::read_to_string(peer_dir().join("vcd20_test0.right")).unwrap();
    let keep = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| !l.trim_start().starts_with("preparer id:"))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(keep(&dump), keep(&expected));
    assert!(dump.contains(&format!(
        "preparer id: `XINGZHAN {}'",
        env!("CARGO_PKG_VERSION")
    )));
}

#[test]
fn vcdxrip_gives_back_every_input_and_cd_info_sees_a_video_cd() {
    let sb = Sandbox::new();
    let peer = peer_dir().join("avseq00.m1p");
    let a = sb.pal_clip("a.mpg", "2", 440);
    let c = sb.pal_clip_video_only("c.mpg", "1");
    sb.xingzhan_ok(&[
        "vcd",
        "author",
        "-o",
        "disc.bin",
        "--volume-label",
        "ZHONGZHI_1",
        "--album",
        "YANGZHI",
        peer.to_str().unwrap(),
        "a.mpg",
        "c.mpg",
    ]);
    let rip = Sandbox {
        dir: tempfile::tempdir_in(sb.dir.path()).unwrap(),
    };
    let cue = sb.path("disc.cue");
    rip.ok(
        vcdxrip(),
        &["--cue-file", cue.to_str().unwrap(), "-o", "rip.xml"],
    );
    for (n, original) in [(1, peer.as_path()), (2, a.as_path()), (3, c.as_path())] {
        let ripped = rip.read(&format!("avseq{n:02}.mpg"));
        assert!(
            ripped == std::fs::read(original).unwrap(),
            "track {n} ripped differs from {}",
            original.display()
        );
    }
    let info = sb.ok(cd_info(), &["--no-device-info", "--cue-file", "disc.cue"]);
    assert!(
        info.contains("Video CD"),
        "cd-info does not see a Video CD:\n{info}"
    );
    assert!(info.contains("ZHONGZHI_1"), "volume label missing:\n{info}");
    let dump = sb.ok(vcd_info(), &["-B", "-i", "disc.cue"]);
    assert!(dump.contains("album id: `YANGZHI'"), "{dump}");
    assert!(dump.contains("entries: 3"), "{dump}");
}

#[test]
fn our_checker_passes_our_and_vcdimager_images_and_catches_a_corrupted_byte() {
    let sb = Sandbox::new();
    let a = sb.pal_clip("a.mpg", "1", 440);
    let c = sb.pal_clip_video_only("c.mpg", "1");
    sb.vcdimager("theirs", &[&a, &c]);
    sb.xingzhan_ok(&["vcd", "author", "-o", "ours.bin", "a.mpg", "c.mpg"]);
    for image in ["theirs.bin", "ours.bin"] {
        let out = sb.xingzhan_ok(&["vcd", "check", image]);
        let sectors = std::fs::metadata(sb.path(image)).unwrap().len() / SECTOR as u64;
        assert!(
            out.contains(&format!("{sectors} sectors (300 Form 1")),
            "{out}"
        );
        assert!(out.contains(", 0 faulty"), "{out}");
    }
    let good = sb.read("ours.bin");
    // A byte in a Form 2 MPEG sector, in Form 1 user data, in Form 1 Q parity,
    // and in an address.
    for (sector, offset, what) in [
        (500, 1000, "EDC"),
        (16, 100, "EDC"),
        (150, 2300, "parity"),
        (600, 14, "address"),
    ] {
        let mut bad = good.clone();
        bad[sector * SECTOR + offset] ^= 0x01;
        std::fs::write(sb.path("bad.bin"), &bad).unwrap();
        let err = sb.xingzhan_err(&["vcd", "check", "bad.bin"]);
        let out = String::from_utf8(sb.xingzhan(&["vcd", "check", "bad.bin"]).stdout).unwrap();
        assert!(out.contains(&format!("sector {sector}: ")), "{out}");
        assert!(out.contains(what), "{out}");
        assert!(err.contains("1 bad sectors"), "{err}");
    }
}

#[test]
fn chapters_are_entries_at_access_points_and_cue_indexes() {
    let sb = Sandbox::new();
    sb.pal_clip("a.mpg", "3", 440);
    sb.xingzhan_ok(&[
        "vcd",
        "author",
        "-o",
        "disc.bin",
        "--chapters-every",
        "1",
        "a.mpg",
    ]);
    let dump = sb.ok(vcd_info(), &["-B", "-i", "disc.cue"]);
    let image = sb.read("disc.bin");
    let lsns: Vec<usize> = dump
        .lines()
        .filter(|l| l.contains("ENTRY["))
        .map(|l| {
            l.split("LSN")
                .nth(1)
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(
        lsns.len() >= 3,
        "expected a track entry and chapters:\n{dump}"
    );
    assert_eq!(lsns[0], 450);
    for &lsn in &lsns[1..] {
        // Each chapter sector holds a sequence header, a GOP header and a picture start.
        let pack = &image[lsn * SECTOR + 24..lsn * SECTOR + 24 + 2324];
        let has = |code: u8| pack.windows(4).any(|w| w == [0, 0, 1, code]);
        assert!(
            has(0xB3) && has(0xB8) && has(0x00),
            "entry at LSN {lsn} is not an access point"
        );
    }
    let cue = String::from_utf8(sb.read("disc.cue")).unwrap();
    assert_eq!(cue.matches("INDEX 02").count(), 1, "{cue}");
    assert_eq!(
        cue.matches("    INDEX ").count(),
        3 + lsns.len() - 1,
        "{cue}"
    );
}

/// Runs the author on bad input and returns its error, checking nothing was written.
fn refused(sb: &Sandbox, inputs: &[&str], extra: &[&str]) -> String {
    let mut args = vec!["vcd", "author", "-o", "out.bin"];
    args.extend_from_slice(extra);
    args.extend_from_slice(inputs);
    let err = sb.xingzhan_err(&args);
    assert!(
        !sb.path("out.bin").exists() && !sb.path("out.cue").exists(),
        "an image was written"
    );
    let leftovers: Vec<_> = std::fs::read_dir(sb.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("out.bin"))
        .collect();
    assert!(leftovers.is_empty(), "partial files left: {leftovers:?}");
    err
}

#[test]
fn bad_inputs_are_refused_with_the_file_and_the_reason() {
    let sb = Sandbox::new();
    let good = sb.pal_clip("good.mpg", "1", 440);

    std::fs::write(sb.path("notes.txt"), "种植技术 planting notes\n").unwrap();
    let e = refused(&sb, &["good.mpg", "notes.txt"], &[]);
    assert!(
        e.contains("notes.txt is not an MPEG-1 system stream"),
        "{e}"
    );

    std::fs::write(sb.path("zero.mpg"), b"").unwrap();
    let e = refused(&sb, &["zero.mpg"], &[]);
    assert!(e.contains("zero.mpg is empty (0 bytes)"), "{e}");

    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(sb.path("cut.mpg"), &bytes[..bytes.len() - 1000]).unwrap();
    let e = refused(&sb, &["cut.mpg"], &[]);
    assert!(
        e.contains("cut.mpg is truncated") && e.contains("1324 bytes left over"),
        "{e}"
    );

    // Whole packs but the stream stops inside its data: garbage where a pack should start.
    let mut broken = bytes.clone();
    broken[2324 * 5..2324 * 5 + 4].copy_from_slice(b"RIFF");
    std::fs::write(sb.path("broken.mpg"), &broken).unwrap();
    let e = refused(&sb, &["broken.mpg"], &[]);
    assert!(
        e.contains("broken.mpg is not a VCD-compliant") && e.contains("pack 5"),
        "{e}"
    );

    sb.ffmpeg(
        "mpeg-ps.mpg",
        &["-f", "lavfi", "-i", "testsrc=size=352x288:rate=25"],
        &[
            "-t",
            "1",
            "-c:v",
            "mpeg1video",
            "-b:v",
            "1150k",
            "-f",
            "mpeg",
        ],
    );
    let e = refused(&sb, &["mpeg-ps.mpg"], &[]);
    assert!(
        e.contains("mpeg-ps.mpg is an MPEG stream but not in the 2324-byte packs"),
        "{e}"
    );
    assert!(e.contains("the second pack header is at byte"), "{e}");

    sb.ffmpeg(
        "small.mpg",
        &["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25"],
        &["-t", "1", "-target", "pal-vcd", "-s", "320x240"],
    );
    let e = refused(&sb, &["small.mpg"], &[]);
    assert!(
        e.contains("small.mpg") && e.contains("video is 320x240 at 25.000 fps"),
        "{e}"
    );

    sb.ffmpeg(
        "fast.mpg",
        &["-f", "lavfi", "-i", "testsrc=size=352x288:rate=25"],
        &[
            "-t",
            "1",
            "-target",
            "pal-vcd",
            "-b:v",
            "2000k",
            "-minrate:v",
            "2000k",
            "-maxrate:v",
            "2000k",
        ],
    );
    let e = refused(&sb, &["fast.mpg"], &[]);
    assert!(e.contains("fast.mpg") && e.contains("over the VCD"), "{e}");

    sb.ntsc_clip("ntsc.mpg", "1");
    let e = refused(&sb, &["good.mpg", "ntsc.mpg"], &[]);
    assert!(
        e.contains("ntsc.mpg is NTSC") && e.contains("good.mpg is PAL"),
        "{e}"
    );

    // 400,000 packs (sparse zero filler after real packs): more than 80 minutes.
    let long = sb.path("long.mpg");
    std::fs::copy(&good, &long).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&long)
        .unwrap()
        .set_len(400_000 * 2324)
        .unwrap();
    let e = refused(&sb, &["long.mpg"], &["--disc", "80"]);
    assert!(e.contains("too much for a 80-minute disc"), "{e}");
    let e = refused(&sb, &["long.mpg"], &["--disc", "74"]);
    assert!(
        e.contains("too much for a 74-minute disc") && e.contains("--disc 80"),
        "{e}"
    );
}

#[test]
fn a_full_disk_during_authoring_fails_cleanly_and_removes_the_partial_image() {
    let sb = Sandbox::new();
    sb.pal_clip("a.mpg", "2", 440);
    // A file size limit of 200 KiB (SIGXFSZ ignored, so writes fail with EFBIG).
    let script = "trap '' XFSZ; ulimit -f 400; exec \"$0\" \"$@\"";
    let out = sb.run(
        "sh",
        &[
            "-c",
            script,
            env!("CARGO_BIN_EXE_xingzhan"),
            "vcd",
            "author",
            "-o",
            "out.bin",
            "a.mpg",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("cannot write") && err.contains("out.bin"),
        "{err}"
    );
    let names: Vec<String> = std::fs::read_dir(sb.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["a.mpg"]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn pack_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..3000)) {
        let _ = mpeg::parse_pack(&bytes, true);
        let _ = mpeg::scan_stream(&bytes);
    }

    #[test]
    fn mutated_real_packs_never_panic(
        pack in 0usize..75,
        edits in proptest::collection::vec((0usize..2324, any::<u8>()), 1..16),
    ) {
        let stream = std::fs::read(peer_dir().join("avseq00.m1p")).unwrap();
        let mut p = stream[pack * 2324..(pack + 1) * 2324].to_vec();
        for (at, v) in edits {
            p[at] = v;
        }
        let _ = mpeg::parse_pack(&p, true);
        let mut s = stream.clone();
        s[pack * 2324..(pack + 1) * 2324].copy_from_slice(&p);
        let _ = mpeg::scan_stream(&s);
    }
}

// ---------------------------------------------------------------------------
// vcd make: transcoding, planning, faults.

use std::sync::atomic::{AtomicBool, Ordering};
use xingzhan::vcd::{VcdError, mpeg::Standard, transcode};

/// Odd inputs: 16:9 at 30 fps with 48 kHz mono sound, and portrait 12 fps
/// without sound.
fn odd_videos(sb: &Sandbox) {
    sb.ffmpeg(
        "wide.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x180:rate=30",
            "-f",
            "lavfi",
            "-i",
            "sine=sample_rate=48000",
        ],
        &["-t", "2", "-ac", "1"],
    );
    sb.ffmpeg(
        "tall.mkv",
        &["-f", "lavfi", "-i", "testsrc=size=200x500:rate=12"],
        &["-t", "2"],
    );
}

#[test]
fn make_transcodes_odd_videos_and_authors_one_checked_disc() {
    let sb = Sandbox::new();
    odd_videos(&sb);
    let out = sb.xingzhan_ok(&["vcd", "make", "-o", "out", "wide.mp4", "tall.mkv"]);
    assert!(
        out.contains("plan: 1 disc(s)") && out.contains("minutes left"),
        "{out}"
    );
    let mut names: Vec<String> = std::fs::read_dir(sb.path("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["disc01.bin", "disc01.cue"],
        "work files left behind"
    );
    sb.xingzhan_ok(&["vcd", "check", "out/disc01.bin"]);
    let rip = Sandbox::new();
    let cue = sb.path("out/disc01.cue");
    rip.ok(
        vcdxrip(),
        &["--cue-file", cue.to_str().unwrap(), "-o", "rip.xml"],
    );
    for track in ["avseq01.mpg", "avseq02.mpg"] {
        let probe = rip.ok(
            tool("ffprobe", "ffmpeg"),
            &[
                "-v",
                "error",
                "-show_entries",
                "stream=codec_name,width,height,avg_frame_rate,sample_rate,channels",
                "-of",
                "compact",
                track,
            ],
        );
        assert!(
            probe.contains("codec_name=mpeg1video|width=352|height=288|avg_frame_rate=25/1"),
            "{track}: {probe}"
        );
        // Silence was added to the video without sound.
        assert!(
            probe.contains("codec_name=mp2|sample_rate=44100|channels=2"),
            "{track}: {probe}"
        );
    }
}

#[test]
fn make_refuses_what_is_not_a_usable_video_and_writes_nothing() {
    let sb = Sandbox::new();
    odd_videos(&sb);
    std::fs::write(sb.path("notes.txt"), "养殖 notes\n").unwrap();
    std::fs::write(sb.path("zero.mp4"), b"").unwrap();
    let mp4 = sb.read("wide.mp4");
    std::fs::write(sb.path("cut.mp4"), &mp4[..mp4.len() / 2]).unwrap();
    sb.ffmpeg(
        "song.wav",
        &["-f", "lavfi", "-i", "sine=sample_rate=44100"],
        &["-t", "1"],
    );
    for (input, expected) in [
        ("notes.txt", "notes.txt is not a video ffmpeg can read"),
        ("zero.mp4", "zero.mp4 is empty (0 bytes)"),
        ("cut.mp4", "cut.mp4 is not a video ffmpeg can read"),
        ("song.wav", "song.wav has sound but no pictures"),
    ] {
        let err = sb.xingzhan_err(&["vcd", "make", "-o", "out", "wide.mp4", input]);
        assert!(err.contains(expected), "{input}: {err}");
        assert!(!sb.path("out").exists(), "{input}: output written");
    }
}

#[test]
fn make_plans_discs_in_order_and_splits_only_a_video_longer_than_a_disc() {
    let sb = Sandbox::new();
    // Tiny long videos (16x16, 1 fps) so they are quick to make.
    let long = |name: &str, secs: &str| {
        sb.ffmpeg(
            name,
            &["-f", "lavfi", "-i", "color=c=green:size=16x16:rate=1"],
            &["-t", secs, "-c:v", "mpeg4"],
        );
    };
    long("a.mp4", "3000");
    long("b.mp4", "1200");
    long("c.mp4", "3000");
    long("d.mp4", "6000");
    let out = sb.xingzhan_ok(&[
        "vcd",
        "make",
        "--dry-run",
        "--disc",
        "74",
        "-o",
        "out",
        "a.mp4",
        "b.mp4",
        "c.mp4",
        "d.mp4",
    ]);
    assert!(out.contains("plan: 4 disc(s)"), "{out}");
    let discs: Vec<&str> = out.split("disc 0").skip(1).collect();
    assert!(
        discs[0].contains("a.mp4 (50:00)") && discs[0].contains("b.mp4 (20:00)"),
        "{out}"
    );
    assert!(
        discs[1].contains("c.mp4 (50:00)") && !discs[1].contains("d.mp4"),
        "{out}"
    );
    assert!(
        discs[2].contains("d.mp4 part 1/2 from 0:00 for 50:00") && discs[2].contains("split"),
        "{out}"
    );
    assert!(
        discs[3].contains("d.mp4 part 2/2 from 50:00 for 50:00"),
        "{out}"
    );
    assert!(
        !out.contains("a.mp4 part") && !out.contains("c.mp4 part"),
        "{out}"
    );
    assert!(discs[0].contains("about 3 minutes left"), "{out}");
    assert!(!sb.path("out").exists());
}

#[test]
fn make_says_how_to_install_ffmpeg_when_it_is_missing() {
    let sb = Sandbox::new();
    odd_videos(&sb);
    let err = sb.xingzhan_err(&[
        "vcd",
        "make",
        "--ffmpeg",
        "/nonexistent/ffmpeg",
        "-o",
        "out",
        "wide.mp4",
    ]);
    assert!(
        err.contains("/nonexistent/ffmpeg` is not installed")
            && err.contains("apt-get install ffmpeg"),
        "{err}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xingzhan"))
        .args(["vcd", "make", "-o", "out", "wide.mp4"])
        .current_dir(sb.dir.path())
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && err.contains("`ffmpeg` is not installed")
            && err.contains("apt-get install ffmpeg"),
        "{err}"
    );
}

/// A 60-second input that takes ffmpeg a few CPU seconds to transcode.
fn minute_of_video(sb: &Sandbox) -> std::path::PathBuf {
    sb.ffmpeg(
        "minute.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=352x288:rate=25",
            "-f",
            "lavfi",
            "-i",
            "sine",
        ],
        &["-t", "60", "-c:v", "mpeg4", "-q:v", "5", "-shortest"],
    )
}

fn job(sb: &Sandbox, ffmpeg: &str, input: std::path::PathBuf) -> transcode::Transcode {
    transcode::Transcode {
        ffmpeg: ffmpeg.into(),
        input,
        output: sb.path("out.mpg"),
        standard: Standard::Pal,
        start: None,
        length: None,
        has_audio: true,
    }
}

fn only_files(sb: &Sandbox) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(sb.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn cancelling_a_transcode_stops_ffmpeg_and_removes_the_partial_file() {
    let sb = Sandbox::new();
    let input = minute_of_video(&sb);
    let cancel = AtomicBool::new(false);
    let mut seen = 0.0;
    let r = transcode::run(&job(&sb, ffmpeg(), input), &cancel, &mut |done| {
        seen = done;
        cancel.store(true, Ordering::Relaxed);
    });
    assert!(matches!(r, Err(VcdError::Cancelled)), "{r:?}");
    assert!(seen < 60.0);
    assert_eq!(only_files(&sb), ["minute.mp4"]);
}

#[test]
fn ffmpeg_killed_mid_job_is_reported_and_the_partial_file_removed() {
    let sb = Sandbox::new();
    let input = minute_of_video(&sb);
    ffmpeg();
    // ffmpeg limited to one CPU second: the kernel kills it part way.
    let wrapper = sb.path("ffmpeg-limited");
    std::fs::write(&wrapper, "#!/bin/sh\nulimit -t 1\nexec ffmpeg \"$@\"\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cancel = AtomicBool::new(false);
    let mut progressed = false;
    let r = transcode::run(
        &job(&sb, wrapper.to_str().unwrap(), input),
        &cancel,
        &mut |_| progressed = true,
    );
    match r {
        Err(VcdError::Killed { ref path, ref how }) => {
            assert!(
                path.ends_with("minute.mp4") && how.starts_with("signal"),
                "{r:?}"
            )
        }
        other => panic!("expected Killed, got {other:?}"),
    }
    assert!(progressed, "ffmpeg was killed before it made progress");
    assert_eq!(only_files(&sb), ["ffmpeg-limited", "minute.mp4"]);
}
