//! Disc planning: which videos (or parts of videos) go on which disc, before
//! anything is transcoded. Pure code over durations.
//!
//! Videos keep their order (outreach series are watched in order) and fill discs
//! one after the other. A video is never split unless it alone is longer than
//! a disc; then it is cut into equal parts, each transcoded on its own so each
//! part starts with a new sequence header and GOP (a clean GOP boundary).

use super::image::{DiscSize, MAX_TRACKS, MIN_ISO_SIZE, POSTGAP, TRACK_OVERHEAD};
use super::sector::SECTORS_PER_SECOND;

/// Packs allowed on top of 75 per second for the mux preload and rounding.
pub const SLACK_PACKS: u64 = 150;
/// Sectors kept free for playback control (segment area, LOT/PSD and EXT copies).
pub const MENU_SECTORS: u64 = 400;

/// Sectors one sequence track of `secs` seconds is expected to need.
pub fn track_sectors(secs: f64) -> u64 {
    (secs.max(0.0) * SECTORS_PER_SECOND as f64).ceil() as u64 + SLACK_PACKS + TRACK_OVERHEAD as u64
}

/// Sectors of a disc not available to sequence tracks.
pub fn fixed_sectors(menu: bool) -> u64 {
    (MIN_ISO_SIZE + POSTGAP) as u64 + if menu { MENU_SECTORS } else { 0 }
}

/// A stretch of one input video that becomes one track.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    /// Index of the input video.
    pub video: usize,
    /// Start and length in seconds.
    pub start: f64,
    pub length: f64,
    /// 1-based part number and number of parts (1 of 1 when not split).
    pub number: u32,
    pub of: u32,
}

/// One disc of the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct DiscPlan {
    pub parts: Vec<Part>,
    /// Expected sectors used and the disc's capacity.
    pub sectors: u64,
    pub capacity: u64,
}

impl DiscPlan {
    /// Playing time still free on this disc, in seconds.
    pub fn free_seconds(&self) -> u64 {
        self.capacity.saturating_sub(self.sectors) / SECTORS_PER_SECOND as u64
    }
}

/// Plans discs for videos of the given durations (seconds).
pub fn plan(durations: &[f64], disc: DiscSize, menu: bool) -> Vec<DiscPlan> {
    let capacity = disc.sectors() as u64;
    let fixed = fixed_sectors(menu);
    let usable = capacity - fixed;
    // Longest part that fits on an empty disc.
    let max_part =
        (usable - SLACK_PACKS - TRACK_OVERHEAD as u64) as f64 / SECTORS_PER_SECOND as f64;
    let mut discs: Vec<DiscPlan> = Vec::new();
    let new_disc = || DiscPlan {
        parts: Vec::new(),
        sectors: fixed,
        capacity,
    };
    for (video, &d) in durations.iter().enumerate() {
        let of = if track_sectors(d) > usable {
            (d / max_part).ceil().max(2.0) as u32
        } else {
            1
        };
        let length = d / of as f64;
        for number in 1..=of {
            let need = track_sectors(length);
            let fits = discs
                .last()
                .is_some_and(|l| l.sectors + need <= capacity && l.parts.len() < MAX_TRACKS);
            if !fits {
                discs.push(new_disc());
            }
            let last = discs.last_mut().expect("a disc was just ensured");
            last.sectors += need;
            last.parts.push(Part {
                video,
                start: length * (number - 1) as f64,
                length,
                number,
                of,
            });
        }
    }
    discs
}

/// "h:mm:ss" or "m:ss".
pub fn clock(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn videos_keep_order_and_fill_discs() {
        let p = plan(
            &[30.0 * 60.0, 30.0 * 60.0, 30.0 * 60.0],
            DiscSize::Min74,
            false,
        );
        assert_eq!(p.len(), 2);
        assert_eq!(
            p[0].parts.iter().map(|x| x.video).collect::<Vec<_>>(),
            [0, 1]
        );
        assert_eq!(p[1].parts[0].video, 2);
        assert!(p.iter().all(|d| d.sectors <= d.capacity));
        assert!(p[1].free_seconds() > 40 * 60);
    }

    #[test]
    fn only_a_video_longer_than_a_disc_is_split() {
        let p = plan(
            &[10.0 * 60.0, 150.0 * 60.0, 5.0 * 60.0],
            DiscSize::Min80,
            false,
        );
        let parts: Vec<_> = p
            .iter()
            .flat_map(|d| d.parts.iter())
            .filter(|x| x.video == 1)
            .collect();
        assert_eq!(parts.len(), 2);
        assert!(
            parts
                .iter()
                .all(|x| x.of == 2 && (x.length - 75.0 * 60.0).abs() < 1e-6)
        );
        assert_eq!(parts[1].start, 75.0 * 60.0);
        assert!(p.iter().all(|d| d.sectors <= d.capacity), "{p:?}");
        assert!(
            p.iter()
                .flat_map(|d| &d.parts)
                .filter(|x| x.video != 1)
                .all(|x| x.of == 1)
        );
    }

    #[test]
    fn a_video_that_just_fits_is_not_split() {
        let secs = (333_000 - 450 - 225 - SLACK_PACKS) as f64 / 75.0;
        let p = plan(&[secs], DiscSize::Min74, false);
        assert_eq!((p.len(), p[0].parts[0].of), (1, 1));
    }
}
