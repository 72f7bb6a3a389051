//! When is a file complete? Pure rules, no disk and no clock: the caller passes
//! observations and the monotonic time.
//!
//! A file is *settled* when its size and mtime have stayed the same for the
//! settle window. Every observed change restarts the window, so a slow writer
//! with pauses shorter than the window, or a file pre-allocated at full size and
//! then filled (size fixed, mtime moving), is never settled early. At the first
//! observation the window is back-dated by the file's mtime age (as read from the
//! same wall clock that wrote it), so files that arrived while the daemon was
//! down are not held for another window. A file whose verification failed
//! (e.g. a truncated archive) waits until it changes or a retry is asked for.
//! After `max_wait` without completing, a file is reported overdue once (shown
//! as broken); it is still tracked and may complete later.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What a stat says about a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation {
    pub size: u64,
    pub mtime_ns: i64,
}

#[derive(Debug, Clone)]
struct Pending {
    obs: Observation,
    /// Monotonic time since which `obs` has been unchanged.
    stable_since: Duration,
    first_seen: Duration,
    /// Verification failed for exactly this observation.
    failed: Option<Observation>,
    overdue_reported: bool,
}

/// Tracks files that are not complete yet.
#[derive(Debug)]
pub struct Tracker {
    settle: Duration,
    max_wait: Duration,
    files: HashMap<PathBuf, Pending>,
}

impl Tracker {
    pub fn new(settle: Duration, max_wait: Duration) -> Self {
        Tracker {
            settle,
            max_wait,
            files: HashMap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    pub fn contains(&self, p: &Path) -> bool {
        self.files.contains_key(p)
    }

    /// Records an observation at monotonic time `now`. `mtime_age` is how old
    /// the mtime is by the wall clock (zero if unknown or in the future).
    /// Returns true when the file is new to the tracker or changed.
    pub fn observe(
        &mut self,
        path: &Path,
        obs: Observation,
        now: Duration,
        mtime_age: Duration,
    ) -> bool {
        match self.files.get_mut(path) {
            Some(p) if p.obs == obs => false,
            Some(p) => {
                p.obs = obs;
                p.stable_since = now;
                p.failed = None;
                true
            }
            None => {
                let stable_since = now.saturating_sub(mtime_age.min(self.settle));
                self.files.insert(
                    path.to_path_buf(),
                    Pending {
                        obs,
                        stable_since,
                        first_seen: now,
                        failed: None,
                        overdue_reported: false,
                    },
                );
                true
            }
        }
    }

    /// Forgets a file (completed, vanished or ignored).
    pub fn forget(&mut self, path: &Path) {
        self.files.remove(path);
    }

    /// Notes that verification of the current observation failed.
    pub fn failed(&mut self, path: &Path) {
        if let Some(p) = self.files.get_mut(path) {
            p.failed = Some(p.obs);
        }
    }

    /// Lets files whose verification failed be tried again (e.g. after a
    /// permission fix, at the periodic reconcile).
    pub fn retry_failed(&mut self) {
        for p in self.files.values_mut() {
            p.failed = None;
        }
    }

    /// The last observation of a tracked file.
    pub fn observation(&self, path: &Path) -> Option<Observation> {
        self.files.get(path).map(|p| p.obs)
    }

    /// Files settled at `now` and not known to fail verification, oldest first.
    pub fn settled(&self, now: Duration) -> Vec<PathBuf> {
        let mut v: Vec<(&PathBuf, Duration)> = self
            .files
            .iter()
            .filter(|(_, p)| p.failed != Some(p.obs) && now >= p.stable_since + self.settle)
            .map(|(k, p)| (k, p.stable_since))
            .collect();
        v.sort_by_key(|(_, s)| *s);
        v.into_iter().map(|(k, _)| k.clone()).collect()
    }

    /// Files waiting longer than `max_wait`, each reported once.
    pub fn take_overdue(&mut self, now: Duration) -> Vec<PathBuf> {
        let mut v = Vec::new();
        for (k, p) in self.files.iter_mut() {
            if !p.overdue_reported && now >= p.first_seen + self.max_wait {
                p.overdue_reported = true;
                v.push(k.clone());
            }
        }
        v
    }

    /// When the next file settles or becomes overdue, if any.
    pub fn next_deadline(&self) -> Option<Duration> {
        self.files
            .values()
            .flat_map(|p| {
                let settle = (p.failed != Some(p.obs)).then_some(p.stable_since + self.settle);
                let overdue = (!p.overdue_reported).then_some(p.first_seen + self.max_wait);
                settle.into_iter().chain(overdue)
            })
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(30);

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn obs(size: u64, mtime: i64) -> Observation {
        Observation {
            size,
            mtime_ns: mtime,
        }
    }

    #[test]
    fn settles_after_window_without_change() {
        let mut t = Tracker::new(S, secs(3600));
        let p = Path::new("a");
        t.observe(p, obs(10, 1), secs(0), Duration::ZERO);
        assert!(t.settled(secs(29)).is_empty());
        assert_eq!(t.settled(secs(30)), vec![p.to_path_buf()]);
        assert_eq!(t.next_deadline(), Some(secs(30)));
    }

    #[test]
    fn slow_writer_with_short_pauses_never_settles_early() {
        let mut t = Tracker::new(S, secs(3600));
        let p = Path::new("slow");
        for i in 0..20u64 {
            // grows every 20 s, pauses shorter than the window
            t.observe(p, obs(i * 100, i as i64), secs(i * 20), Duration::ZERO);
            assert!(t.settled(secs(i * 20 + 29)).is_empty(), "step {i}");
        }
        assert_eq!(t.settled(secs(19 * 20 + 30)).len(), 1);
    }

    #[test]
    fn preallocated_file_filled_in_place_waits_for_mtime() {
        let mut t = Tracker::new(S, secs(3600));
        let p = Path::new("prealloc");
        // full size from the start; only mtime moves while it is filled
        for i in 0..10u64 {
            t.observe(p, obs(1 << 30, i as i64 * 7), secs(i * 25), Duration::ZERO);
            assert!(t.settled(secs(i * 25 + 25)).is_empty());
        }
    }

    #[test]
    fn old_file_found_at_startup_settles_at_once() {
        let mut t = Tracker::new(S, secs(3600));
        t.observe(Path::new("old"), obs(5, 1), secs(100), secs(3600));
        assert_eq!(t.settled(secs(100)).len(), 1);
        // a fresh one waits
        t.observe(Path::new("new"), obs(5, 1), secs(100), secs(2));
        assert_eq!(t.settled(secs(100)).len(), 1);
        assert_eq!(t.settled(secs(128)).len(), 2);
    }

    #[test]
    fn failed_verification_waits_for_change_or_retry_and_overdue_once() {
        let mut t = Tracker::new(S, secs(100));
        let p = Path::new("x.zip");
        t.observe(p, obs(5, 1), secs(0), Duration::ZERO);
        t.failed(p);
        assert!(t.settled(secs(50)).is_empty());
        t.retry_failed();
        assert_eq!(t.settled(secs(50)).len(), 1);
        t.failed(p);
        assert_eq!(t.take_overdue(secs(100)), vec![p.to_path_buf()]);
        assert!(t.take_overdue(secs(200)).is_empty());
        // it grows: no longer failed, settles again later
        t.observe(p, obs(9, 2), secs(210), Duration::ZERO);
        assert_eq!(t.settled(secs(240)).len(), 1);
    }
}
