//! Helpers for the VCD integration tests: a sandbox directory, the real
//! `xingzhan` binary, real ffmpeg/vcdimager/libcdio tools (a missing tool fails
//! the test and names the Debian package that provides it).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Raw sector size.
pub const SECTOR: usize = 2352;

/// vcdimager's own VCD 2.0 test inputs and expected dumps.
pub fn peer_dir() -> PathBuf {
    // shared/ lies beside the repository, here and in CI; VCD_PEER_TESTS overrides.
    let candidates: Vec<PathBuf> = match std::env::var_os("VCD_PEER_TESTS") {
        Some(d) => vec![PathBuf::from(d)],
        None => vec![
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../shared/peer-tests/vcdimager"
            )),
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/shared/peer-tests/vcdimager"
            )),
        ],
    };
    candidates
        .iter()
        .find(|d| d.join("avseq00.m1p").is_file())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "vcdimager peer test data not found in {candidates:?} (shared/peer-tests/vcdimager \
                 beside the repository; or set VCD_PEER_TESTS to the folder holding avseq00.m1p)"
            )
        })
}

/// Returns `name` if it is on PATH, else fails naming the Debian package.
pub fn tool(name: &'static str, package: &str) -> &'static str {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "`{name}` is not installed: these tests need it; install the Debian package `{package}` (apt-get install {package})"
    );
    name
}

pub fn ffmpeg() -> &'static str {
    tool("ffmpeg", "ffmpeg")
}
pub fn vcdimager() -> &'static str {
    tool("vcdimager", "vcdimager")
}
pub fn vcd_info() -> &'static str {
    tool("vcd-info", "vcdimager")
}
pub fn vcdxrip() -> &'static str {
    tool("vcdxrip", "vcdimager")
}
pub fn cd_info() -> &'static str {
    tool("cd-info", "libcdio-utils")
}

/// A temporary directory where commands run.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        Sandbox {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs a command in the sandbox and returns its output.
    pub fn run(&self, program: &str, args: &[&str]) -> Output {
        Command::new(program)
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
    }

    /// Runs a command that must succeed; returns stdout.
    pub fn ok(&self, program: &str, args: &[&str]) -> String {
        let out = self.run(program, args);
        assert!(
            out.status.success(),
            "{program} {args:?} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `xingzhan ARGS`.
    pub fn xingzhan(&self, args: &[&str]) -> Output {
        self.run(env!("CARGO_BIN_EXE_xingzhan"), args)
    }

    /// Runs `xingzhan ARGS`, which must succeed; returns stdout.
    pub fn xingzhan_ok(&self, args: &[&str]) -> String {
        self.ok(env!("CARGO_BIN_EXE_xingzhan"), args)
    }

    /// Runs `xingzhan ARGS`, which must fail; returns stderr.
    pub fn xingzhan_err(&self, args: &[&str]) -> String {
        let out = self.xingzhan(args);
        assert!(
            !out.status.success(),
            "xingzhan {args:?} should have failed:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Encodes a test clip with ffmpeg; `args` go between the inputs and the output.
    pub fn ffmpeg(&self, name: &str, inputs: &[&str], args: &[&str]) -> PathBuf {
        let mut all = vec!["-hide_banner", "-v", "error", "-y"];
        all.extend_from_slice(inputs);
        all.extend_from_slice(args);
        all.push(name);
        self.ok(ffmpeg(), &all);
        self.path(name)
    }

    /// A PAL VCD clip (`-target pal-vcd`) of `secs` seconds with a tone.
    pub fn pal_clip(&self, name: &str, secs: &str, tone: u32) -> PathBuf {
        let sine = format!("sine=frequency={tone}:sample_rate=44100");
        self.pal_clip_with(name, secs, &sine, &[])
    }

    /// A `-target pal-vcd` clip with the given lavfi audio source and extra
    /// output options (which override the target's).
    pub fn pal_clip_with(&self, name: &str, secs: &str, audio: &str, extra: &[&str]) -> PathBuf {
        let mut args = vec!["-t", secs, "-target", "pal-vcd"];
        args.extend_from_slice(extra);
        self.ffmpeg(
            name,
            &[
                "-f",
                "lavfi",
                "-i",
                "testsrc=size=352x288:rate=25",
                "-f",
                "lavfi",
                "-i",
                audio,
            ],
            &args,
        )
    }

    /// A PAL VCD clip without audio.
    pub fn pal_clip_video_only(&self, name: &str, secs: &str) -> PathBuf {
        self.ffmpeg(
            name,
            &["-f", "lavfi", "-i", "testsrc2=size=352x288:rate=25"],
            &["-t", secs, "-target", "pal-vcd", "-an"],
        )
    }

    /// An NTSC VCD clip.
    pub fn ntsc_clip(&self, name: &str, secs: &str) -> PathBuf {
        self.ffmpeg(
            name,
            &[
                "-f",
                "lavfi",
                "-i",
                "testsrc=size=352x240:rate=30000/1001",
                "-f",
                "lavfi",
                "-i",
                "sine=sample_rate=44100",
            ],
            &["-t", secs, "-target", "ntsc-vcd"],
        )
    }

    /// Runs vcdimager on `inputs`, writing `stem.bin` and `stem.cue`. The
    /// creation time given with -T does not always come out as given (the hour
    /// was seen shifted by one in some runs, apparently a DST flag left unset),
    /// so comparisons read the date back from its PVD ([`pvd_identity`]).
    pub fn vcdimager(&self, stem: &str, inputs: &[&Path]) -> PathBuf {
        let bin = format!("{stem}.bin");
        let cue = format!("{stem}.cue");
        let fixed = [
            "-t",
            "vcd2",
            "-T",
            "2026-03-04 05:06:07",
            "-b",
            &bin,
            "-c",
            &cue,
        ];
        let args = with_paths(&fixed, inputs);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.ok(vcdimager(), &args);
        self.path(&bin)
    }

    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap_or_else(|e| panic!("cannot read {name}: {e}"))
    }
}

/// The user bytes of sector `lsn` of a raw image (Form 1 view).
pub fn user_data(image: &[u8], lsn: usize) -> &[u8] {
    &image[lsn * SECTOR + 24..lsn * SECTOR + 24 + 2048]
}

/// PVD creation date as "YYYY-MM-DD HH:MM:SS" and the preparer id of an image.
pub fn pvd_identity(image: &[u8]) -> (String, String) {
    let pvd = user_data(image, 16);
    let d = std::str::from_utf8(&pvd[813..827]).expect("ASCII date");
    let date = format!(
        "{}-{}-{} {}:{}:{}",
        &d[0..4],
        &d[4..6],
        &d[6..8],
        &d[8..10],
        &d[10..12],
        &d[12..14]
    );
    let preparer = String::from_utf8_lossy(&pvd[446..574])
        .trim_end()
        .to_string();
    (date, preparer)
}

/// Byte offsets where two images differ (all of them), as (sector, offset in sector).
pub fn differences(a: &[u8], b: &[u8]) -> Vec<(usize, usize)> {
    assert_eq!(a.len(), b.len(), "images differ in size");
    a.iter()
        .zip(b)
        .enumerate()
        .filter(|(_, (x, y))| x != y)
        .map(|(i, _)| (i / SECTOR, i % SECTOR))
        .collect()
}

/// Asserts two images are byte for byte the same, saying where they differ if not.
pub fn assert_same_image(ours: &[u8], theirs: &[u8]) {
    let d = differences(ours, theirs);
    assert!(
        d.is_empty(),
        "{} bytes differ; first at sector {} byte {}",
        d.len(),
        d[0].0,
        d[0].1
    );
}

/// `fixed` followed by `paths`, as owned strings for a command line.
pub fn with_paths(fixed: &[&str], paths: &[&Path]) -> Vec<String> {
    let mut v: Vec<String> = fixed.iter().map(|s| s.to_string()).collect();
    v.extend(paths.iter().map(|p| p.display().to_string()));
    v
}
