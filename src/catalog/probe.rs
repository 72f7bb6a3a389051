//! Media facts from ffprobe (duration, container, codecs, resolution, bitrate).
//!
//! ffprobe runs with a hard timeout and is killed after it; a file it cannot
//! read is cataloged anyway with the error noted; a missing ffprobe is reported
//! as such, never a crash. Results are stored per item, i.e. per content hash,
//! so unchanged content is never probed twice.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Why probing failed.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("ffprobe not found ({program}); install it with `apt-get install ffmpeg`")]
    Missing { program: String },
    #[error("ffprobe took longer than {0:?} and was stopped")]
    Timeout(Duration),
    #[error("ffprobe cannot read this file: {0}")]
    Unreadable(String),
    #[error("ffprobe failed to run: {0}")]
    Io(std::io::Error),
}

/// What a finished command left: (exit status ok, stdout, stderr).
pub type Finished = (bool, Vec<u8>, Vec<u8>);

/// Runs a command, killing it after `timeout` (then `None`).
pub fn run_with_timeout(mut cmd: Command, timeout: Duration) -> std::io::Result<Option<Finished>> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let t_out = std::thread::Builder::new()
        .name("probe-stdout".into())
        .spawn(move || {
            let mut v = Vec::new();
            let _ = out.read_to_end(&mut v);
            v
        })?;
    let t_err = std::thread::Builder::new()
        .name("probe-stderr".into())
        .spawn(move || {
            let mut v = Vec::new();
            let _ = err.read_to_end(&mut v);
            v
        })?;
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break Some(s);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let o = t_out.join().unwrap_or_default();
    let e = t_err.join().unwrap_or_default();
    Ok(status.map(|s| (s.success(), o, e)))
}

/// Runs `ffprobe -show_format -show_streams` as JSON on one file, with a hard
/// timeout: (exit ok, stdout, stderr).
pub fn ffprobe_json(
    program: impl AsRef<std::ffi::OsStr>,
    path: &Path,
    timeout: Duration,
) -> std::io::Result<Option<Finished>> {
    let mut cmd = Command::new(program);
    cmd.args([
        "-v",
        "error",
        "-print_format",
        "json",
        "-show_format",
        "-show_streams",
    ])
    .arg(path);
    run_with_timeout(cmd, timeout)
}

/// Probes one file.
pub fn probe(program: &str, path: &Path, timeout: Duration) -> Result<Value, ProbeError> {
    let r = match ffprobe_json(program, path, timeout) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ProbeError::Missing {
                program: program.into(),
            });
        }
        Err(e) => return Err(ProbeError::Io(e)),
    };
    let Some((ok, out, err)) = r else {
        return Err(ProbeError::Timeout(timeout));
    };
    if !ok {
        let msg = String::from_utf8_lossy(&err).trim().to_string();
        return Err(ProbeError::Unreadable(if msg.is_empty() {
            "no details".into()
        } else {
            // The last line, without ffprobe's echo of the (maybe GBK) path.
            let last = msg.lines().last().unwrap_or_default();
            last.rsplit(": ").next().unwrap_or(last).to_string()
        }));
    }
    let raw: Value = serde_json::from_slice(&out)
        .map_err(|e| ProbeError::Unreadable(format!("unexpected ffprobe output: {e}")))?;
    let facts = summarize(&raw);
    if facts.get("streams").and_then(Value::as_u64) == Some(0) {
        return Err(ProbeError::Unreadable("no audio or video streams".into()));
    }
    Ok(facts)
}

fn num(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

/// Reduces ffprobe's JSON to the facts the catalog keeps.
pub fn summarize(raw: &Value) -> Value {
    let format = raw.get("format");
    let streams = raw
        .get("streams")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let video = streams
        .iter()
        .find(|s| s.get("codec_type").and_then(Value::as_str) == Some("video"));
    let audio = streams
        .iter()
        .find(|s| s.get("codec_type").and_then(Value::as_str) == Some("audio"));
    json!({
        "duration_secs": num(format.and_then(|f| f.get("duration"))),
        "container": format.and_then(|f| f.get("format_name")).and_then(Value::as_str),
        "bit_rate": num(format.and_then(|f| f.get("bit_rate"))).map(|b| b as u64),
        "video_codec": video.and_then(|v| v.get("codec_name")).and_then(Value::as_str),
        "width": video.and_then(|v| v.get("width")).and_then(Value::as_u64),
        "height": video.and_then(|v| v.get("height")).and_then(Value::as_u64),
        "frame_rate": video.and_then(|v| v.get("avg_frame_rate")).and_then(Value::as_str),
        "audio_codec": audio.and_then(|v| v.get("codec_name")).and_then(Value::as_str),
        "sample_rate": num(audio.and_then(|a| a.get("sample_rate"))).map(|b| b as u64),
        "channels": audio.and_then(|a| a.get("channels")).and_then(Value::as_u64),
        "streams": streams.len(),
    })
}

/// ffprobe's version line, or why it is not usable.
pub fn version(program: &str) -> Result<String, ProbeError> {
    let mut cmd = Command::new(program);
    cmd.arg("-version");
    match run_with_timeout(cmd, Duration::from_secs(10)) {
        Ok(Some((true, out, _))) => Ok(String::from_utf8_lossy(&out)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()),
        Ok(Some((false, _, err))) => Err(ProbeError::Unreadable(
            String::from_utf8_lossy(&err).trim().to_string(),
        )),
        Ok(None) => Err(ProbeError::Timeout(Duration::from_secs(10))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(ProbeError::Missing {
            program: program.into(),
        }),
        Err(e) => Err(ProbeError::Io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_ffprobe_json() {
        let raw = json!({
            "streams": [
                {"codec_type": "video", "codec_name": "mpeg1video", "width": 352, "height": 288, "avg_frame_rate": "25/1"},
                {"codec_type": "audio", "codec_name": "mp2", "sample_rate": "44100", "channels": 2}
            ],
            "format": {"format_name": "mpeg", "duration": "10.040000", "bit_rate": "1394000"}
        });
        let s = summarize(&raw);
        assert_eq!(s["width"], 352);
        assert_eq!(s["audio_codec"], "mp2");
        assert_eq!(s["duration_secs"], 10.04);
        assert_eq!(s["sample_rate"], 44100);
    }

    #[test]
    fn missing_program_is_a_clear_error() {
        let e = probe(
            "/nonexistent/ffprobe",
            Path::new("/dev/null"),
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert!(e.to_string().contains("apt-get install ffmpeg"), "{e}");
    }

    #[test]
    fn hung_program_is_killed() {
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        let r = run_with_timeout(cmd, Duration::from_millis(200)).unwrap();
        assert!(r.is_none());
    }
}
