//! What ffprobe says about an input video: duration, whether it has pictures and
//! sound, picture size and rate. Runs the system ffprobe (blocking).

use std::path::Path;

use super::error::VcdError;

/// The facts planning and transcoding need.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub duration: f64,
    pub has_video: bool,
    pub has_audio: bool,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
}

#[derive(serde::Deserialize)]
struct Output {
    #[serde(default)]
    streams: Vec<Stream>,
    format: Option<Format>,
}

#[derive(serde::Deserialize)]
struct Stream {
    codec_type: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    avg_frame_rate: Option<String>,
    duration: Option<String>,
    disposition: Option<Disposition>,
}

#[derive(serde::Deserialize)]
struct Disposition {
    #[serde(default)]
    attached_pic: u8,
}

#[derive(serde::Deserialize)]
struct Format {
    duration: Option<String>,
}

fn ratio(s: &str) -> Option<f64> {
    let (n, d) = s.split_once('/')?;
    let (n, d): (f64, f64) = (n.parse().ok()?, d.parse().ok()?);
    (d > 0.0 && n > 0.0).then_some(n / d)
}

/// Parses ffprobe's JSON for `path`.
pub fn parse(path: &Path, json: &[u8]) -> Result<Probe, VcdError> {
    let unreadable = |reason: String| VcdError::NotVideo {
        path: path.to_owned(),
        reason,
    };
    let out: Output =
        serde_json::from_slice(json).map_err(|e| unreadable(format!("ffprobe output: {e}")))?;
    let video = out.streams.iter().find(|s| {
        s.codec_type.as_deref() == Some("video")
            && s.disposition.as_ref().is_none_or(|d| d.attached_pic == 0)
    });
    let has_audio = out
        .streams
        .iter()
        .any(|s| s.codec_type.as_deref() == Some("audio"));
    let Some(v) = video else {
        return Err(if has_audio {
            VcdError::NoPicture {
                path: path.to_owned(),
            }
        } else {
            unreadable("it has no video stream".into())
        });
    };
    let duration = out
        .format
        .as_ref()
        .and_then(|f| f.duration.as_deref())
        .or(v.duration.as_deref())
        .and_then(|d| d.parse::<f64>().ok())
        .filter(|d| d.is_finite() && *d > 0.0)
        .ok_or_else(|| unreadable("ffprobe finds no duration".into()))?;
    Ok(Probe {
        duration,
        has_video: true,
        has_audio,
        width: v.width.unwrap_or(0),
        height: v.height.unwrap_or(0),
        fps: v.avg_frame_rate.as_deref().and_then(ratio).unwrap_or(0.0),
    })
}

/// Runs `ffprobe` on `path`.
pub fn probe(ffprobe: &Path, path: &Path) -> Result<Probe, VcdError> {
    let meta = std::fs::metadata(path).map_err(|error| VcdError::Read {
        path: path.to_owned(),
        error,
    })?;
    if meta.len() == 0 {
        return Err(VcdError::Empty {
            path: path.to_owned(),
        });
    }
    // A hostile or broken file must not hang a job: ffprobe gets a hard timeout.
    let timeout = std::time::Duration::from_secs(60);
    let finished = crate::catalog::probe::ffprobe_json(ffprobe, path, timeout)
        .map_err(|e| VcdError::spawn(ffprobe, "ffmpeg", e))?;
    let Some((ok, stdout, stderr)) = finished else {
        return Err(VcdError::NotVideo {
            path: path.to_owned(),
            reason: format!("ffprobe did not finish within {} s", timeout.as_secs()),
        });
    };
    if !ok {
        let msg = String::from_utf8_lossy(&stderr);
        let last = msg.lines().last().unwrap_or("unknown error").trim();
        return Err(VcdError::NotVideo {
            path: path.to_owned(),
            reason: format!("ffprobe cannot read it: {last}"),
        });
    }
    parse(path, &stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_only_is_refused_as_no_picture() {
        let j = br#"{"streams":[{"codec_type":"audio"}],"format":{"duration":"3.0"}}"#;
        assert!(matches!(
            parse(Path::new("a.mp3"), j),
            Err(VcdError::NoPicture { .. })
        ));
    }

    #[test]
    fn video_facts_are_read() {
        let j = br#"{"streams":[{"codec_type":"video","width":320,"height":180,"avg_frame_rate":"30000/1001"}],"format":{"duration":"2.5"}}"#;
        let p = parse(Path::new("v.mp4"), j).unwrap();
        assert_eq!((p.width, p.height, p.has_audio), (320, 180, false));
        assert!((p.fps - 29.97).abs() < 0.01 && p.duration == 2.5);
    }
}
