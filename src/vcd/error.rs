//! Errors of the VCD path. Each message names the file concerned and says what
//! to do next.

use std::path::PathBuf;

use super::mpeg::{Standard, StreamError};

#[derive(Debug, thiserror::Error)]
pub enum VcdError {
    #[error("cannot read {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "cannot write {path}: {error} (partial output removed; check free space and permissions)"
    )]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "{path} is empty (0 bytes); give an MPEG-1 file made by `xingzhan vcd make` or `ffmpeg -target pal-vcd`"
    )]
    Empty { path: PathBuf },
    #[error(
        "{path} is not an MPEG-1 system stream ({reason}); transcode it first with `xingzhan vcd make`"
    )]
    NotMpeg { path: PathBuf, reason: String },
    #[error(
        "{path} is an MPEG stream but not in the 2324-byte packs a VCD needs ({found}); remux it with `ffmpeg -i IN -c copy -f vcd -packetsize 2324 OUT.mpg` or transcode with `xingzhan vcd make`"
    )]
    PackSize { path: PathBuf, found: String },
    #[error(
        "{path} is truncated: {size} bytes is not a whole number of 2324-byte packs ({rest} bytes left over); copy or transcode the file again"
    )]
    Truncated { path: PathBuf, size: u64, rest: u64 },
    #[error(
        "{path} is not a VCD-compliant MPEG-1 stream: {error}; transcode it with `xingzhan vcd make`"
    )]
    NotVcd { path: PathBuf, error: StreamError },
    #[error(
        "{path} is {standard} but {first} is {first_standard}; one disc must be all PAL or all NTSC (transcode with `xingzhan vcd make --standard pal`)"
    )]
    MixedStandards {
        path: PathBuf,
        standard: Standard,
        first: PathBuf,
        first_standard: Standard,
    },
    #[error(
        "too much for a {minutes}-minute disc: the image needs {needed} sectors ({needed_time} of playing time) but the disc holds {capacity} ({capacity_time}); leave out a video{hint}"
    )]
    TooLong {
        minutes: u32,
        needed: u64,
        needed_time: String,
        capacity: u32,
        capacity_time: String,
        hint: &'static str,
    },
    #[error(
        "{count} videos are more than the {max} sequence tracks a VCD can hold; split them over several discs"
    )]
    TooManyTracks { count: usize, max: usize },
    #[error(
        "{count} entry points are more than the 500 a VCD can hold; use a larger --chapters-every"
    )]
    TooManyEntries { count: usize },
    #[error("{path} changed while the image was being written; run the command again")]
    Changed { path: PathBuf },
    #[error("no input files: give at least one MPEG file")]
    NoInput,
    #[error("invalid {what} {value:?}: {reason}")]
    Invalid {
        what: &'static str,
        value: String,
        reason: String,
    },
    #[error(
        "`{program}` is not installed or not on PATH; install it with `apt-get install {package}` (or give its full path)"
    )]
    ToolMissing {
        program: PathBuf,
        package: &'static str,
    },
    #[error("cannot run {program}: {message}")]
    Tool { program: PathBuf, message: String },
    #[error("{path} is not a video ffmpeg can read ({reason}); check the file or copy it again")]
    NotVideo { path: PathBuf, reason: String },
    #[error("{path} has sound but no pictures; a VCD needs a video (add a picture track first)")]
    NoPicture { path: PathBuf },
    #[error("ffmpeg failed on {path}: {message}; the file may be damaged (partial output removed)")]
    Transcode { path: PathBuf, message: String },
    #[error(
        "ffmpeg was killed ({how}) while transcoding {path}; partial output removed, run the command again"
    )]
    Killed { path: PathBuf, how: String },
    #[error("cancelled; partial output removed")]
    Cancelled,
    #[error(
        "not enough free space in {dir}: about {need_mb} MB needed, {free_mb} MB free; free some space or choose another -o folder"
    )]
    NoSpace {
        dir: PathBuf,
        need_mb: u64,
        free_mb: u64,
    },
}
