//! Transcoding any video ffmpeg reads into a VCD MPEG-1 stream, through
//! ffmpeg-sidecar and the system ffmpeg (never a downloaded one).
//!
//! The picture is fitted into a 4:3 frame with black bars (letterbox or
//! pillarbox), the frame rate converted, the sound resampled to 44.1 kHz stereo
//! MP2, and silence added when the input has none. Progress comes from
//! `-progress pipe:1` (`out_time_us`), read on a named thread; the ffmpeg log is
//! read on another. Cancelling sends `q` (ffmpeg's own quit), killing it if it
//! does not stop. Output goes to a hidden `.part` file renamed when complete.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use ffmpeg_sidecar::command::FfmpegCommand;
use ffmpeg_sidecar::event::{FfmpegEvent, LogLevel};

use super::error::VcdError;
use super::mpeg::Standard;
use super::probe::spawn_error;

/// One transcoding task.
#[derive(Debug, Clone)]
pub struct Transcode {
    pub ffmpeg: PathBuf,
    pub input: PathBuf,
    pub output: PathBuf,
    pub standard: Standard,
    /// Start and length in seconds (a part of a split video), if any.
    pub start: Option<f64>,
    pub length: Option<f64>,
    pub has_audio: bool,
}

/// The video filter: square pixels, fit into a 4:3 canvas with black bars,
/// then the VCD frame size with a 4:3 display aspect.
pub fn video_filter(standard: Standard) -> String {
    let (cw, ch, w, h) = match standard {
        Standard::Pal => (768, 576, 352, 288),
        Standard::Ntsc => (640, 480, 352, 240),
    };
    format!(
        "scale=trunc(iw*sar/2)*2:trunc(ih/2)*2,setsar=1,\
         scale={cw}:{ch}:force_original_aspect_ratio=decrease:force_divisible_by=2,\
         pad={cw}:{ch}:(ow-iw)/2:(oh-ih)/2:black,scale={w}:{h},setdar=4/3"
    )
}

/// The ffmpeg arguments (without the program) for `t`, writing to `output`.
pub fn ffmpeg_args(t: &Transcode, output: &Path) -> Vec<String> {
    let mut a: Vec<String> = ["-hide_banner", "-nostats", "-y"]
        .map(String::from)
        .to_vec();
    if let Some(s) = t.start {
        a.extend(["-ss".into(), format!("{s:.3}")]);
    }
    a.extend(["-i".into(), t.input.display().to_string()]);
    if !t.has_audio {
        a.extend(["-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo"].map(String::from));
    }
    if let Some(l) = t.length {
        a.extend(["-t".into(), format!("{l:.3}")]);
    }
    a.extend(["-map", "0:v:0"].map(String::from));
    if t.has_audio {
        a.extend(["-map", "0:a:0"].map(String::from));
    } else {
        a.extend(["-map", "1:a:0", "-shortest"].map(String::from));
    }
    a.extend(["-vf".into(), video_filter(t.standard)]);
    let target = match t.standard {
        Standard::Pal => "pal-vcd",
        Standard::Ntsc => "ntsc-vcd",
    };
    a.extend(["-target", target, "-progress", "pipe:1", "-f", "vcd"].map(String::from));
    a.push(output.display().to_string());
    a
}

/// Checks that `ffmpeg` runs at all.
pub fn check_ffmpeg(ffmpeg: &Path) -> Result<(), VcdError> {
    let out = std::process::Command::new(ffmpeg)
        .arg("-version")
        .output()
        .map_err(|e| spawn_error(ffmpeg, e))?;
    if !out.status.success() {
        return Err(VcdError::Tool {
            program: ffmpeg.to_owned(),
            message: format!("`{} -version` failed", ffmpeg.display()),
        });
    }
    Ok(())
}

/// Hidden partial-output path next to `output`.
pub fn part_path(output: &Path) -> PathBuf {
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    output.with_file_name(format!(".{name}.part"))
}

/// Runs the transcode. `progress` gets the seconds of output done so far.
/// Returns `Cancelled` when `cancel` was set, leaving no output behind.
pub fn run(
    t: &Transcode,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(f64),
) -> Result<(), VcdError> {
    let part = part_path(&t.output);
    let result = run_to(t, &part, cancel, progress);
    match result {
        Ok(()) => std::fs::rename(&part, &t.output).map_err(|error| VcdError::Write {
            path: t.output.clone(),
            error,
        }),
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            Err(e)
        }
    }
}

fn run_to(
    t: &Transcode,
    part: &Path,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(f64),
) -> Result<(), VcdError> {
    let mut child = FfmpegCommand::new_with_path(&t.ffmpeg)
        .args(ffmpeg_args(t, part))
        .spawn()
        .map_err(|e| spawn_error(&t.ffmpeg, e))?;
    let stdout = child.take_stdout().expect("ffmpeg-sidecar pipes stdout");
    let (tx, rx) = mpsc::channel();
    let reader = thread::Builder::new()
        .name("ffmpeg-progress".into())
        .spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(us) = line
                    .strip_prefix("out_time_us=")
                    .and_then(|v| v.trim().parse::<i64>().ok())
                {
                    let _ = tx.send(us);
                }
            }
        })
        .map_err(|e| VcdError::Tool {
            program: t.ffmpeg.clone(),
            message: format!("cannot start progress thread: {e}"),
        })?;
    let events = child.iter().map_err(|e| VcdError::Tool {
        program: t.ffmpeg.clone(),
        message: e.to_string(),
    })?;
    let log = thread::Builder::new()
        .name("ffmpeg-log".into())
        .spawn(move || {
            let mut errors = Vec::new();
            for event in events {
                match event {
                    FfmpegEvent::Log(LogLevel::Error | LogLevel::Fatal, m)
                    | FfmpegEvent::Error(m) => errors.push(m),
                    _ => {}
                }
            }
            errors
        })
        .map_err(|e| VcdError::Tool {
            program: t.ffmpeg.clone(),
            message: format!("cannot start log thread: {e}"),
        })?;

    let mut quit_at: Option<Instant> = None;
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(us) if us >= 0 => progress(us as f64 / 1e6),
            Ok(_) | Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if cancel.load(Ordering::Relaxed) {
            match quit_at {
                None => {
                    // ffmpeg's own graceful stop; if stdin is gone, kill.
                    if child.quit().is_err() {
                        let _ = child.kill();
                    }
                    quit_at = Some(Instant::now());
                }
                Some(at) if at.elapsed() > Duration::from_secs(10) => {
                    let _ = child.kill();
                }
                Some(_) => {}
            }
        }
    }
    let status = child.wait().map_err(|e| VcdError::Tool {
        program: t.ffmpeg.clone(),
        message: e.to_string(),
    })?;
    let _ = reader.join();
    let errors = log.join().unwrap_or_default();
    if cancel.load(Ordering::Relaxed) {
        return Err(VcdError::Cancelled);
    }
    if status.success() {
        return Ok(());
    }
    use std::os::unix::process::ExitStatusExt;
    if let Some(signal) = status.signal() {
        return Err(VcdError::Killed {
            path: t.input.clone(),
            how: format!("signal {signal}"),
        });
    }
    let message = errors
        .last()
        .cloned()
        .unwrap_or_else(|| format!("ffmpeg exited with {status}"));
    Err(VcdError::Transcode {
        path: t.input.clone(),
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_is_added_when_there_is_no_audio() {
        let t = Transcode {
            ffmpeg: "ffmpeg".into(),
            input: "in.mkv".into(),
            output: "out.mpg".into(),
            standard: Standard::Pal,
            start: Some(60.0),
            length: Some(30.0),
            has_audio: false,
        };
        let a = ffmpeg_args(&t, Path::new(".out.mpg.part")).join(" ");
        assert!(
            a.contains("-ss 60.000 -i in.mkv -f lavfi -i anullsrc=r=44100:cl=stereo -t 30.000")
        );
        assert!(a.contains("-map 1:a:0 -shortest"));
        assert!(a.contains("-target pal-vcd -progress pipe:1"));
        assert!(a.ends_with(".out.mpg.part"));
    }
}
