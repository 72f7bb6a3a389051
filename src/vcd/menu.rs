//! The disc menu: a still picture listing the titles in Chinese, numbered, drawn
//! with a real CJK font by ffmpeg's drawtext filter, encoded as a VCD low-
//! resolution still (one intra picture ending in a sequence_end_code, muxed in
//! 2324-byte packs, video stream renumbered 0xE0 -> 0xE1; fact sheet §7.5).
//!
//! The playback control that goes with it (selection list, play lists) is built
//! by `vcdfiles::menu_lists`; this module only makes the picture.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::error::VcdError;
use super::mpeg::{self, PACK_SIZE, PackError, Standard};

/// Font used unless configured: a fontconfig family (or a path to a font file).
pub const DEFAULT_FONT: &str = "Noto Sans CJK SC";
/// Heading of the menu: "press a number key to choose a programme".
pub const HEADING: &str = "请按数字键选择节目";

/// What to draw and with what.
#[derive(Debug, Clone)]
pub struct MenuOptions {
    pub ffmpeg: PathBuf,
    /// fontconfig family name, or a path to a .ttf/.otf/.ttc file.
    pub font: String,
    /// One title per track, in order.
    pub titles: Vec<String>,
}

/// One line of text on the menu.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub text: String,
    pub x: u32,
    pub y: u32,
    pub size: u32,
    pub color: &'static str,
}

/// Square-pixel canvas the text is drawn on before scaling to the VCD size.
pub fn canvas(standard: Standard) -> (u32, u32) {
    match standard {
        Standard::Pal => (768, 576),
        Standard::Ntsc => (640, 480),
    }
}

/// A menu title from a file name: its stem, decoded as UTF-8 or else GB18030
/// (receivers often write GBK names).
pub fn title_of(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    path.file_stem()
        .map(|s| crate::paths::display_bytes(s.as_bytes()))
        .unwrap_or_default()
}

/// Lays out the heading and the numbered titles (one or two columns).
pub fn layout(titles: &[String], standard: Standard) -> Vec<Line> {
    let (w, h) = canvas(standard);
    let heading_size = h / 12;
    let mut lines = vec![Line {
        text: HEADING.into(),
        x: 0,
        y: h / 14,
        size: heading_size,
        color: "yellow",
    }];
    let columns = if titles.len() > 10 { 2 } else { 1 };
    let rows = titles.len().div_ceil(columns).max(1) as u32;
    let top = h / 14 + heading_size * 2;
    let size = ((h - top - h / 14) / rows).clamp(12, h / 13) * 4 / 5;
    let column_width = (w - w / 10) / columns as u32;
    let max_chars = (column_width / size).saturating_sub(1).max(4) as usize;
    for (i, t) in titles.iter().enumerate() {
        let (col, row) = (i as u32 / rows, i as u32 % rows);
        let mut text = format!("{}. {}", i + 1, t.trim());
        if text.chars().count() > max_chars {
            text = text.chars().take(max_chars - 1).collect::<String>() + "…";
        }
        lines.push(Line {
            text,
            x: w / 20 + col * column_width,
            y: top + row * (size * 5 / 4),
            size,
            color: "white",
        });
    }
    lines
}

/// Quotes a value for an ffmpeg filtergraph option.
fn quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', "'\\''"))
}

/// The filter that draws `lines` (text read from files `line0.txt`, …) and
/// scales to the VCD still size.
pub fn filter(lines: &[Line], font: &str, standard: Standard) -> String {
    let font_opt = if font.contains('/') {
        "fontfile"
    } else {
        "font"
    };
    let mut parts: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let x = if i == 0 {
                "(w-text_w)/2".to_string()
            } else {
                l.x.to_string()
            };
            format!(
                "drawtext={font_opt}={}:textfile=line{i}.txt:fontcolor={}:fontsize={}:x={x}:y={}",
                quote(font),
                l.color,
                l.size,
                l.y
            )
        })
        .collect();
    let (w, h) = match standard {
        Standard::Pal => (352, 288),
        Standard::Ntsc => (352, 240),
    };
    parts.push(format!("scale={w}:{h},setdar=4/3"));
    parts.join(",")
}

/// Splits a muxed still into packs, drops all-zero filler packs and renumbers
/// the video stream to 0xE1 (low-resolution still).
pub fn still_packs(muxed: &[u8]) -> Result<Vec<Vec<u8>>, PackError> {
    let mut packs = Vec::new();
    for chunk in muxed.chunks(PACK_SIZE) {
        if chunk.len() != PACK_SIZE {
            return Err(PackError::Short(chunk.len()));
        }
        if chunk.iter().all(|&b| b == 0) {
            continue;
        }
        let mut p = chunk.to_vec();
        mpeg::retag_video(&mut p, 0xE0, 0xE1)?;
        packs.push(p);
    }
    Ok(packs)
}

/// Checks that the font exists (a file, or a family fontconfig knows).
fn check_font(font: &str) -> Result<(), VcdError> {
    let missing = || VcdError::FontMissing { font: font.into() };
    if font.contains('/') {
        return if Path::new(font).is_file() {
            Ok(())
        } else {
            Err(missing())
        };
    }
    match Command::new("fc-list")
        .arg(format!(":family={font}"))
        .output()
    {
        Ok(out) if out.status.success() && out.stdout.is_empty() => Err(missing()),
        // fc-list missing or failing: let ffmpeg try.
        _ => Ok(()),
    }
}

fn run_ffmpeg(ffmpeg: &Path, dir: &Path, args: &[&str]) -> Result<(), VcdError> {
    let out = Command::new(ffmpeg)
        .args(["-hide_banner", "-v", "error", "-nostdin", "-y"])
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| VcdError::spawn(ffmpeg, "ffmpeg", e))?;
    if !out.status.success() {
        return Err(VcdError::Menu {
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(())
}

/// Draws and encodes the menu still in `work` (a scratch folder); returns its packs.
pub fn render(
    opts: &MenuOptions,
    standard: Standard,
    work: &Path,
) -> Result<Vec<Vec<u8>>, VcdError> {
    check_font(&opts.font)?;
    let write = |name: &str, bytes: &[u8]| {
        let path = work.join(name);
        std::fs::write(&path, bytes).map_err(|error| VcdError::Write { path, error })
    };
    let lines = layout(&opts.titles, standard);
    for (i, l) in lines.iter().enumerate() {
        write(&format!("line{i}.txt"), l.text.as_bytes())?;
    }
    let (w, h) = canvas(standard);
    let rate = match standard {
        Standard::Pal => "25",
        Standard::Ntsc => "30000/1001",
    };
    let source = format!("color=c=0x1a3a5a:s={w}x{h}:r={rate}");
    let vf = filter(&lines, &opts.font, standard);
    run_ffmpeg(
        &opts.ffmpeg,
        work,
        &[
            "-f",
            "lavfi",
            "-i",
            &source,
            "-frames:v",
            "1",
            "-vf",
            &vf,
            "-c:v",
            "mpeg1video",
            "-q:v",
            "2",
        ]
        .into_iter()
        .chain(["-f", "mpeg1video", "still.m1v"])
        .collect::<Vec<_>>(),
    )?;
    // End the picture with a sequence_end_code so the last pack gets EOR.
    let m1v = work.join("still.m1v");
    let mut es = std::fs::read(&m1v).map_err(|error| VcdError::Read { path: m1v, error })?;
    es.extend([0, 0, 1, 0xB7]);
    write("still_end.m1v", &es)?;
    run_ffmpeg(
        &opts.ffmpeg,
        work,
        &[
            "-f",
            "mpegvideo",
            "-framerate",
            rate,
            "-i",
            "still_end.m1v",
            "-c",
            "copy",
            "-f",
            "vcd",
        ]
        .into_iter()
        .chain(["-packetsize", "2324", "-muxrate", "1411200", "still.mpg"])
        .collect::<Vec<_>>(),
    )?;
    let muxed_path = work.join("still.mpg");
    let muxed = std::fs::read(&muxed_path).map_err(|error| VcdError::Read {
        path: muxed_path.clone(),
        error,
    })?;
    still_packs(&muxed).map_err(|e| VcdError::Menu {
        message: format!(
            "the muxed still {} is not usable: {e}",
            muxed_path.display()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_numbers_titles_and_keeps_them_on_the_canvas() {
        let titles: Vec<String> = (1..=12)
            .map(|i| format!("养殖技术第{i}讲：生猪防疫与饲料配比要点说明"))
            .collect();
        let lines = layout(&titles, Standard::Pal);
        assert_eq!(lines.len(), 13);
        assert!(lines[1].text.starts_with("1. 养殖"));
        assert!(lines[12].text.starts_with("12. "));
        for l in &lines[1..] {
            assert!(
                l.y + l.size <= 576 && l.x + l.size * l.text.chars().count() as u32 <= 768,
                "{l:?}"
            );
        }
    }

    #[test]
    fn titles_come_from_utf8_or_gbk_file_names() {
        use std::os::unix::ffi::OsStrExt;
        assert_eq!(title_of(Path::new("/v/种植技术.mp4")), "种植技术");
        // "种植" in GBK.
        let gbk = Path::new(std::ffi::OsStr::from_bytes(b"/v/\xd6\xd6\xd6\xb2.mp4"));
        assert_eq!(title_of(gbk), "种植");
    }

    #[test]
    fn quotes_survive_in_filter_values() {
        assert_eq!(quote("Noto Sans CJK SC"), "'Noto Sans CJK SC'");
        assert_eq!(quote("a'b"), "'a'\\''b'");
        let f = filter(
            &layout(&["x".into()], Standard::Ntsc),
            "/f/n.ttc",
            Standard::Ntsc,
        );
        assert!(f.contains("fontfile='/f/n.ttc'") && f.ends_with("scale=352:240,setdar=4/3"));
    }
}
