//! MPEG-1 system streams as VCD needs them: a parser for one 2324-byte pack and a
//! stream scanner that checks a whole stream against VCD 2.0 and gathers what the
//! author needs (pack count, video standard, access points for chapters).
//!
//! Pure code over byte slices; it never panics on any input (a property test
//! feeds it arbitrary bytes). Pack classification follows vcdimager: a pack is
//! video when it holds a video PES (0xE0–0xE2) or a system header listing one,
//! else audio for 0xC0–0xC2, else empty.

use std::fmt;

/// Every VCD pack, and so every Form 2 sector payload, is this long.
pub const PACK_SIZE: usize = 2324;

const PACK_START: [u8; 4] = [0, 0, 1, 0xBA];
const SYSTEM_HEADER: u8 = 0xBB;
const PADDING: u8 = 0xBE;
const PRIVATE_2: u8 = 0xBF;
const PROGRAM_END: u8 = 0xB9;

/// Largest video bit rate accepted (bits/s); VCD streams use 1,150,000.
pub const MAX_VIDEO_BITRATE: u32 = 1_152_000;
/// Largest MPEG-1 audio bit rate accepted (kbit/s).
pub const MAX_AUDIO_KBPS: u32 = 384;
/// Mux rate of a VCD stream in units of 50 bytes/s (75 sectors × 2352 bytes).
pub const VCD_MUX_RATE: u32 = 3528;

/// How a pack is stored on the disc (its subheader).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackKind {
    /// Motion video (stream 0xE0), or a system header naming one.
    Video,
    /// A still picture (stream 0xE1 low resolution, 0xE2 high resolution).
    Still { high_res: bool },
    /// MPEG audio (0xC0–0xC2).
    Audio,
    /// All zero, padding only, or no elementary stream.
    Empty,
}

/// What one pack holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pack {
    pub kind: Option<PackKind>,
    pub mux_rate: Option<u32>,
    /// PTS (90 kHz) of the first video PES that carries one.
    pub video_pts: Option<u64>,
    /// Sequence header, GOP header and an I-picture start all in this pack.
    pub access_point: bool,
    /// The video sequence_end_code (00 00 01 B7) is in this pack.
    pub sequence_end: bool,
    /// Parsed video sequence header, if one starts in this pack.
    pub sequence: Option<SequenceHeader>,
    /// Parsed audio frame header, if one starts in this pack.
    pub audio: Option<AudioHeader>,
}

impl Pack {
    pub fn kind(&self) -> PackKind {
        self.kind.unwrap_or(PackKind::Empty)
    }
}

/// Why a pack does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackError {
    #[error("no MPEG pack header (00 00 01 BA) at the start of the pack")]
    NoPackHeader,
    #[error("MPEG-2 pack header: this is an MPEG-2 program stream (DVD/SVCD), VCD needs MPEG-1")]
    Mpeg2,
    #[error("the pack is shorter than its headers say (at byte {0} of the pack)")]
    Short(usize),
    #[error("unexpected bytes at byte {0} of the pack (no start code where a packet should begin)")]
    Garbage(usize),
    #[error("malformed PES header of stream 0x{stream:02X} at byte {offset} of the pack")]
    BadPes { stream: u8, offset: usize },
}

/// The fields of an MPEG-1 video sequence header VCD cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequenceHeader {
    pub width: u16,
    pub height: u16,
    pub aspect_code: u8,
    pub rate_code: u8,
    /// In units of 400 bit/s; 0x3FFFF means variable.
    pub bit_rate: u32,
}

impl SequenceHeader {
    fn parse(b: &[u8]) -> Option<Self> {
        if b.len() < 8 {
            return None;
        }
        Some(SequenceHeader {
            width: ((b[0] as u16) << 4) | ((b[1] as u16) >> 4),
            height: (((b[1] & 0x0F) as u16) << 8) | b[2] as u16,
            aspect_code: b[3] >> 4,
            rate_code: b[3] & 0x0F,
            bit_rate: ((b[4] as u32) << 10) | ((b[5] as u32) << 2) | ((b[6] as u32) >> 6),
        })
    }

    /// Frames per second of the picture-rate code, if valid.
    pub fn fps(&self) -> Option<f64> {
        Some(match self.rate_code {
            1 => 24000.0 / 1001.0,
            2 => 24.0,
            3 => 25.0,
            4 => 30000.0 / 1001.0,
            5 => 30.0,
            6 => 50.0,
            7 => 60000.0 / 1001.0,
            8 => 60.0,
            _ => return None,
        })
    }
}

/// An MPEG audio frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioHeader {
    pub mpeg1: bool,
    /// 1, 2 or 3.
    pub layer: u8,
    /// kbit/s; 0 = free format.
    pub kbps: u32,
    pub sample_rate: u32,
    /// 0 stereo, 1 joint stereo, 2 dual channel, 3 mono.
    pub mode: u8,
}

impl AudioHeader {
    fn parse(b: &[u8]) -> Option<Self> {
        if b.len() < 4 || b[0] != 0xFF || b[1] & 0xE0 != 0xE0 {
            return None;
        }
        let mpeg1 = b[1] & 0x08 != 0;
        let layer = match (b[1] >> 1) & 3 {
            3 => 1,
            2 => 2,
            1 => 3,
            _ => return None,
        };
        let index = (b[2] >> 4) as usize;
        let rate_index = (b[2] >> 2) & 3;
        if index == 15 || rate_index == 3 || b[1] & 0x10 == 0 {
            return None;
        }
        const L1: [u32; 15] = [
            0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448,
        ];
        const L2: [u32; 15] = [
            0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384,
        ];
        const L3: [u32; 15] = [
            0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
        ];
        let kbps = match layer {
            1 => L1[index],
            2 => L2[index],
            _ => L3[index],
        };
        let base = [44100, 48000, 32000][rate_index as usize];
        Some(AudioHeader {
            mpeg1,
            layer,
            kbps,
            sample_rate: if mpeg1 { base } else { base / 2 },
            mode: b[3] >> 6,
        })
    }
}

fn is_video(id: u8) -> bool {
    (0xE0..=0xE2).contains(&id)
}

fn is_audio(id: u8) -> bool {
    (0xC0..=0xC2).contains(&id)
}

fn video_kind(id: u8) -> PackKind {
    match id {
        0xE1 => PackKind::Still { high_res: false },
        0xE2 => PackKind::Still { high_res: true },
        _ => PackKind::Video,
    }
}

fn pts(b: &[u8]) -> u64 {
    (((b[0] >> 1) & 7) as u64) << 30
        | (b[1] as u64) << 22
        | ((b[2] >> 1) as u64) << 15
        | (b[3] as u64) << 7
        | (b[4] >> 1) as u64
}

/// Parses one pack. With `scan_es` the video payload is searched for start codes
/// (sequence/GOP/picture headers, sequence end) and the first audio frame
/// header is decoded; without it only the classification is made (fast path).
pub fn parse_pack(pack: &[u8], scan_es: bool) -> Result<Pack, PackError> {
    let mut out = Pack::default();
    let mut es = EsScan::default();
    let mut video_id = None;
    let mut audio = false;
    out.mux_rate = walk(pack, |pos, id, body| {
        let body = &pack[body];
        match id {
            SYSTEM_HEADER => {
                for s in system_header_streams(body) {
                    if is_video(s) && video_id.is_none() {
                        video_id = Some(s);
                    } else if is_audio(s) {
                        audio = true;
                    }
                }
            }
            PADDING | PRIVATE_2 => {}
            _ => {
                let (header, pes_pts) = pes_header(body).ok_or(PackError::BadPes {
                    stream: id,
                    offset: pos,
                })?;
                let payload = &body[header..];
                if is_video(id) {
                    video_id.get_or_insert(id);
                    if out.video_pts.is_none() {
                        out.video_pts = pes_pts;
                    }
                    if scan_es {
                        es.video(payload);
                    }
                } else if is_audio(id) {
                    audio = true;
                    if scan_es && out.audio.is_none() {
                        out.audio = find_audio_header(payload);
                    }
                }
            }
        }
        Ok(())
    })?;
    out.kind = match (video_id, audio) {
        (Some(v), _) => Some(video_kind(v)),
        (None, true) => Some(PackKind::Audio),
        (None, false) => None,
    };
    out.access_point = es.sequence && es.gop && es.i_picture;
    out.sequence_end = es.end;
    out.sequence = es.header;
    Ok(out)
}

/// Stream ids listed in a system header body (6 fixed bytes, then 3 per stream).
fn system_header_streams(body: &[u8]) -> impl Iterator<Item = u8> + '_ {
    body.get(6..)
        .unwrap_or_default()
        .chunks_exact(3)
        .map(|c| c[0])
        .take_while(|&s| s & 0x80 != 0)
}

/// Walks the packets of a pack: checks the MPEG-1 pack header, then calls `f`
/// with each packet's offset, stream id and body range. Returns the mux rate,
/// or `None` for an all-zero filler pack.
fn walk(
    pack: &[u8],
    mut f: impl FnMut(usize, u8, std::ops::Range<usize>) -> Result<(), PackError>,
) -> Result<Option<u32>, PackError> {
    if pack.iter().all(|&b| b == 0) {
        return Ok(None);
    }
    if pack.len() < 12 || pack[..4] != PACK_START {
        return Err(PackError::NoPackHeader);
    }
    if pack[4] & 0xC0 == 0x40 {
        return Err(PackError::Mpeg2);
    }
    if pack[4] & 0xF0 != 0x20 {
        return Err(PackError::Garbage(4));
    }
    let mux = ((pack[9] as u32 & 0x7F) << 15) | ((pack[10] as u32) << 7) | (pack[11] as u32 >> 1);
    let mut pos = 12;
    while pos < pack.len() {
        let rest = &pack[pos..];
        if rest.iter().all(|&b| b == 0) {
            break;
        }
        if rest.len() < 4 || rest[..3] != [0, 0, 1] {
            return Err(PackError::Garbage(pos));
        }
        let id = rest[3];
        if id == PROGRAM_END {
            pos += 4;
            continue;
        }
        if id < SYSTEM_HEADER {
            return Err(PackError::Garbage(pos));
        }
        if rest.len() < 6 {
            return Err(PackError::Short(pos));
        }
        let len = u16::from_be_bytes([rest[4], rest[5]]) as usize;
        if rest.len() < 6 + len {
            return Err(PackError::Short(pos));
        }
        f(pos, id, pos + 6..pos + 6 + len)?;
        pos += 6 + len;
    }
    Ok(Some(mux))
}

/// Renumbers video stream `from` to `to` in PES headers and system headers
/// (ffmpeg cannot write stream 0xE1, which VCD stills need).
pub fn retag_video(pack: &mut [u8], from: u8, to: u8) -> Result<(), PackError> {
    let mut at = Vec::new();
    walk(pack, |pos, id, body| {
        if id == from {
            at.push(pos + 3);
        } else if id == SYSTEM_HEADER {
            let start = body.start + 6;
            for (k, s) in system_header_streams(&pack[body]).enumerate() {
                if s == from {
                    at.push(start + 3 * k);
                }
            }
        }
        Ok(())
    })?;
    for i in at {
        pack[i] = to;
    }
    Ok(())
}

/// Length of an MPEG-1 PES header (stuffing, STD buffer, PTS/DTS) and its PTS.
fn pes_header(body: &[u8]) -> Option<(usize, Option<u64>)> {
    let mut i = 0;
    while i < body.len() && body[i] == 0xFF && i < 16 {
        i += 1;
    }
    let b = *body.get(i)?;
    if b & 0xC0 == 0x40 {
        i += 2;
    }
    let b = *body.get(i)?;
    match b & 0xF0 {
        0x20 => Some((i + 5, Some(pts(body.get(i..i + 5)?)))),
        0x30 => {
            body.get(i..i + 10)?;
            Some((i + 10, Some(pts(&body[i..i + 5]))))
        }
        _ if b == 0x0F => Some((i + 1, None)),
        _ => None,
    }
}

fn find_audio_header(payload: &[u8]) -> Option<AudioHeader> {
    (0..payload.len().saturating_sub(3)).find_map(|i| AudioHeader::parse(&payload[i..]))
}

/// Start codes seen in the video payloads of one pack.
#[derive(Default)]
struct EsScan {
    sequence: bool,
    gop: bool,
    i_picture: bool,
    end: bool,
    header: Option<SequenceHeader>,
}

impl EsScan {
    fn video(&mut self, p: &[u8]) {
        let mut i = 0;
        while i + 3 < p.len() {
            if p[i + 2] > 1 {
                i += 3;
                continue;
            }
            if p[i] != 0 || p[i + 1] != 0 || p[i + 2] != 1 {
                i += 1;
                continue;
            }
            match p[i + 3] {
                0xB3 => {
                    self.sequence = true;
                    if self.header.is_none() {
                        self.header = SequenceHeader::parse(&p[i + 4..]);
                    }
                }
                0xB8 => self.gop = true,
                0xB7 => self.end = true,
                0x00 if p.get(i + 5).is_some_and(|b| (b >> 3) & 7 == 1) => self.i_picture = true,
                _ => {}
            }
            i += 4;
        }
    }
}

/// Video standard of a VCD stream.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Standard {
    Pal,
    Ntsc,
}

impl fmt::Display for Standard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Standard::Pal => "PAL (352x288 at 25 fps)",
            Standard::Ntsc => "NTSC (352x240 at 29.97 fps)",
        })
    }
}

/// An access point: a pack where playback can start (for chapter entries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessPoint {
    pub pack: u32,
    pub pts: u64,
}

/// Why a stream is not usable for a VCD sequence track.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StreamError {
    #[error("pack {index} (byte offset {offset}): {error}")]
    Pack {
        index: u32,
        offset: u64,
        error: PackError,
    },
    #[error("no MPEG-1 video sequence header found")]
    NoVideo,
    #[error(
        "video is {width}x{height} at {fps} fps; a VCD needs PAL 352x288 at 25 fps or NTSC 352x240 at 29.97 fps"
    )]
    Resolution {
        width: u16,
        height: u16,
        fps: String,
    },
    #[error("video bit rate is variable; a VCD needs a constant 1,150,000 bit/s")]
    VariableBitrate,
    #[error("video bit rate {0} bit/s is over the VCD limit of 1,150,000 bit/s")]
    VideoBitrate(u32),
    #[error("mux rate {0} bytes/s is over the VCD rate of 176,400 bytes/s (75 packs per second)")]
    MuxRate(u32),
    #[error("audio is {0}; a VCD needs MPEG-1 Layer II audio at 44.1 kHz, at most 384 kbit/s")]
    Audio(String),
}

/// Folds the packs of one stream, in order, into a [`StreamInfo`].
#[derive(Debug, Default)]
pub struct StreamScanner {
    packs: u32,
    sequence: Option<SequenceHeader>,
    audio: Option<AudioHeader>,
    has_audio: bool,
    max_mux: u32,
    first_pts: Option<u64>,
    access_points: Vec<AccessPoint>,
    /// Stop scanning elementary streams once the headers are known (faster;
    /// no access points are gathered then).
    headers_only: bool,
}

/// What the author needs to know about a checked stream.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamInfo {
    pub packs: u32,
    pub standard: Standard,
    pub sequence: SequenceHeader,
    pub audio: Option<AudioHeader>,
    pub first_pts: Option<u64>,
    pub access_points: Vec<AccessPoint>,
}

impl StreamScanner {
    /// A scanner that gathers access points (for chapters) when `access_points`,
    /// else only what validation needs.
    pub fn new(access_points: bool) -> Self {
        StreamScanner {
            headers_only: !access_points,
            ..StreamScanner::default()
        }
    }

    /// Parses and records the next pack.
    pub fn push(&mut self, pack: &[u8]) -> Result<Pack, StreamError> {
        let index = self.packs;
        let scan_es = !self.headers_only || self.sequence.is_none() || self.audio.is_none();
        let p = parse_pack(pack, scan_es).map_err(|error| StreamError::Pack {
            index,
            offset: index as u64 * PACK_SIZE as u64,
            error,
        })?;
        self.packs += 1;
        if let Some(m) = p.mux_rate {
            self.max_mux = self.max_mux.max(m);
        }
        if self.sequence.is_none() {
            self.sequence = p.sequence;
        }
        if p.kind() == PackKind::Audio {
            self.has_audio = true;
        }
        if self.audio.is_none() {
            self.audio = p.audio;
        }
        if let Some(pts) = p.video_pts {
            self.first_pts.get_or_insert(pts);
            if p.access_point {
                self.access_points.push(AccessPoint { pack: index, pts });
            }
        }
        Ok(p)
    }

    /// Checks what was seen against VCD 2.0.
    pub fn finish(self) -> Result<StreamInfo, StreamError> {
        let seq = self.sequence.ok_or(StreamError::NoVideo)?;
        let fps = seq.fps();
        let standard = match (seq.width, seq.height, seq.rate_code) {
            (352, 288, 3) => Standard::Pal,
            (352, 240, 4) | (352, 240, 1) => Standard::Ntsc,
            _ => {
                return Err(StreamError::Resolution {
                    width: seq.width,
                    height: seq.height,
                    fps: fps.map_or("an invalid rate".into(), |f| format!("{f:.3}")),
                });
            }
        };
        if seq.bit_rate == 0x3FFFF {
            return Err(StreamError::VariableBitrate);
        }
        if seq.bit_rate * 400 > MAX_VIDEO_BITRATE {
            return Err(StreamError::VideoBitrate(seq.bit_rate * 400));
        }
        if self.max_mux > VCD_MUX_RATE {
            return Err(StreamError::MuxRate(self.max_mux * 50));
        }
        if let Some(a) = self.audio {
            if !a.mpeg1
                || a.layer != 2
                || a.sample_rate != 44100
                || a.kbps == 0
                || a.kbps > MAX_AUDIO_KBPS
            {
                return Err(StreamError::Audio(format!(
                    "MPEG-{} Layer {} at {} Hz, {} kbit/s",
                    if a.mpeg1 { 1 } else { 2 },
                    a.layer,
                    a.sample_rate,
                    if a.kbps == 0 {
                        "free format".to_string()
                    } else {
                        a.kbps.to_string()
                    }
                )));
            }
        } else if self.has_audio {
            return Err(StreamError::Audio(
                "an audio stream without a readable MPEG audio frame header".into(),
            ));
        }
        Ok(StreamInfo {
            packs: self.packs,
            standard,
            sequence: seq,
            audio: self.audio,
            first_pts: self.first_pts,
            access_points: self.access_points,
        })
    }
}

/// Checks a whole in-memory stream (used by tests and the property test).
pub fn scan_stream(bytes: &[u8]) -> Result<StreamInfo, StreamError> {
    let mut s = StreamScanner::default();
    for pack in bytes.chunks(PACK_SIZE) {
        s.push(pack)?;
    }
    s.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_pack_is_empty() {
        let p = parse_pack(&[0u8; PACK_SIZE], true).unwrap();
        assert_eq!(p.kind(), PackKind::Empty);
    }

    #[test]
    fn garbage_is_refused() {
        assert_eq!(
            parse_pack(b"hello world", true),
            Err(PackError::NoPackHeader)
        );
        let mut p = vec![0u8; PACK_SIZE];
        p[..4].copy_from_slice(&PACK_START);
        p[4] = 0x44;
        assert_eq!(parse_pack(&p, false), Err(PackError::Mpeg2));
    }

    #[test]
    fn audio_header_decodes() {
        let h = AudioHeader::parse(&[0xFF, 0xFD, 0xB0, 0x04]).unwrap();
        assert_eq!(
            (h.mpeg1, h.layer, h.kbps, h.sample_rate),
            (true, 2, 224, 44100)
        );
    }
}
