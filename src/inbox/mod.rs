//! The drop folder: watching it, deciding when each file is complete, and handing
//! complete files to the catalog.
//!
//! Nothing received may be missed whatever the event stream does, so three
//! sources feed one loop: file-system events (notify), a full scan at start-up,
//! and a periodic reconcile scan; a watcher overflow or error triggers a full
//! rescan. Completion rules live in [`settle`]. A file is recorded only after it
//! settled, hashed, passed its integrity test (archives) and was found unchanged
//! afterwards. Symlinks are never followed. Paths are kept as raw bytes for I/O
//! (GBK names stay openable) and decoded only for display.
//!
//! Verified files are recorded in batches, one transaction each; a file that
//! is still waiting gets its "receiving" row once, after the settled ones.
//! This module is the engine ([`Inbox`]); [`run`] holds its threads: the loop
//! on a named thread (`inbox`) and media probing on another (`probe`), so a
//! slow ffprobe never delays reception.

pub mod run;
pub mod settle;

pub use run::{Msg, run_loop, run_prober, watch};

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::time::{Duration, SystemTime};

use globset::{GlobSet, GlobSetBuilder};
use serde::Serialize;

use crate::catalog::classify::ClassifyConfig;
use crate::catalog::{archive, hash};
use crate::clock::Stamper;
use crate::config::Config;
use crate::paths;
use crate::store::Store;
use crate::store::catalog::{Arrival, FileState, Recorded, file_state};
use settle::{Observation, Tracker};

/// What a scan or the daemon did, for `xingzhan scan` and the log.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub new: u64,
    pub repeated: u64,
    pub already: u64,
    pub receiving: u64,
    pub broken: u64,
    pub gone: u64,
    pub errors: u64,
}

/// Builds the temp-name matcher from the configured globs.
pub fn temp_matcher(globs: &[String]) -> Result<GlobSet, globset::Error> {
    let mut b = GlobSetBuilder::new();
    for g in globs {
        b.add(globset::Glob::new(g)?);
    }
    b.build()
}

fn observation(meta: &std::fs::Metadata) -> Observation {
    Observation {
        size: meta.len(),
        mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
    }
}

fn mtime_age(meta: &std::fs::Metadata) -> Duration {
    meta.modified()
        .ok()
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .unwrap_or(Duration::ZERO)
}

/// The drop-folder engine. Owned by one thread.
pub struct Inbox {
    root: PathBuf,
    temp: GlobSet,
    classify: ClassifyConfig,
    max_wait: Duration,
    store: Store,
    stamper: Arc<Stamper>,
    tracker: Tracker,
    probe_tx: Option<Sender<i64>>,
    /// Notes of files that failed verification, shown when they become broken.
    notes: HashMap<PathBuf, String>,
    /// Newly tracked files whose "receiving" row is not written yet (written in
    /// one batch after the settled files are done, so files that complete at
    /// once never get one).
    new_rows: Vec<PathBuf>,
    /// New folders to walk once more shortly: a file created in a new folder
    /// before the watcher covers it sends no event (an inotify race).
    recheck_dirs: Vec<(PathBuf, Duration)>,
    pub summary: Summary,
}

impl Inbox {
    pub fn new(config: &Config, store: Store, stamper: Arc<Stamper>) -> anyhow::Result<Inbox> {
        // One spelling of every path: events and scans must agree on the key.
        let root = config.paths.inbox();
        let root = std::fs::canonicalize(&root)
            .or_else(|_| std::path::absolute(&root))
            .unwrap_or(root);
        Ok(Inbox {
            root,
            temp: temp_matcher(&config.inbox.temp_globs)?,
            classify: config.classify.clone(),
            max_wait: Duration::from_secs(config.inbox.max_wait_secs),
            store,
            stamper,
            tracker: Tracker::new(
                Duration::from_secs(config.inbox.settle_secs),
                Duration::from_secs(config.inbox.max_wait_secs),
            ),
            probe_tx: None,
            notes: HashMap::new(),
            new_rows: Vec::new(),
            recheck_dirs: Vec::new(),
            summary: Summary::default(),
        })
    }

    /// New items are announced here for media probing.
    pub fn set_probe_channel(&mut self, tx: Sender<i64>) {
        self.probe_tx = Some(tx);
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Monotonic time for the settle rules, offset so that back-dating a first
    /// observation by a file's mtime age never needs a negative time.
    fn now(&self) -> Duration {
        const BASE: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
        BASE + self.stamper.clock().uptime()
    }

    fn is_temp(&self, name: &std::ffi::OsStr) -> bool {
        self.temp.is_match(Path::new(name))
    }

    /// Files still waiting to complete.
    pub fn pending(&self) -> usize {
        self.tracker.len()
    }

    /// Walks the whole drop folder, observes every file, and marks files the
    /// store knows but the folder no longer has as gone. Returns false when the
    /// drop folder itself is missing (nothing is marked gone then).
    pub fn full_scan(&mut self) -> bool {
        if !self.root.is_dir() {
            tracing::warn!(inbox = %self.root.display(),
                "drop folder is missing (USB disk unplugged?); waiting for it to come back");
            return false;
        }
        let known = match self.store.live_inbox_index() {
            Ok(k) => k,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the catalog for a scan; will retry");
                self.summary.errors += 1;
                return true;
            }
        };
        let (files, unreadable) = walk(&self.root, &self.temp);
        let mut unreadable_dirs = Vec::new();
        for (dir, e) in unreadable {
            tracing::warn!(dir = %paths::display(&dir), error = %e, "cannot read folder in the drop folder");
            self.summary.errors += 1;
            unreadable_dirs.push(paths::to_bytes(&dir));
        }
        let mut seen: HashSet<Vec<u8>> = HashSet::with_capacity(files.len());
        for p in files {
            let bytes = paths::to_bytes(&p);
            let k = known.get(&bytes);
            self.observe_file(&p, k.map(|(s, m, st)| (*s, *m, st.as_str())));
            seen.insert(bytes);
        }
        // Files under a folder that could not be read are not known to be gone.
        let gone: Vec<Vec<u8>> = known
            .into_keys()
            .filter(|path| !seen.contains(path))
            .filter(|path| !unreadable_dirs.iter().any(|d| paths::is_within(path, d)))
            .collect();
        self.vanished_many(&gone);
        self.tracker.retry_failed();
        true
    }

    /// Handles one path reported by an event.
    pub fn observe_path(&mut self, p: &Path) {
        match std::fs::symlink_metadata(p) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if p == self.root {
                    return;
                }
                // A vanished folder takes its files along.
                match self.store.live_paths_under(&paths::to_bytes(p)) {
                    Ok(gone) => self.vanished_many(&gone),
                    Err(e) => {
                        tracing::error!(error = %e, "cannot read the catalog; the next scan will tell");
                        self.summary.errors += 1;
                    }
                }
                self.tracker.forget(p);
            }
            Err(e) => {
                tracing::warn!(path = %paths::display(p), error = %e, "cannot stat file in the drop folder");
                self.summary.errors += 1;
            }
            Ok(meta) => {
                let name_temp = p.file_name().map(|n| self.is_temp(n)).unwrap_or(false);
                let in_temp_dir = p
                    .strip_prefix(&self.root)
                    .ok()
                    .and_then(|r| r.parent())
                    .is_some_and(|parent| parent.iter().any(|c| self.is_temp(c)));
                if meta.file_type().is_symlink() || name_temp || in_temp_dir {
                    return;
                }
                if meta.is_dir() {
                    // A new folder: files may have landed before its watch was set.
                    for f in walk(p, &self.temp).0 {
                        self.observe_path(&f);
                    }
                    const RECHECK: Duration = Duration::from_secs(2);
                    if !self.recheck_dirs.iter().any(|(d, _)| d == p) {
                        self.recheck_dirs
                            .push((p.to_path_buf(), self.now() + RECHECK));
                    }
                } else if meta.is_file() {
                    let row = self.store.inbox_file(&paths::to_bytes(p)).ok().flatten();
                    self.observe_file(
                        p,
                        row.as_ref().map(|r| (r.size, r.mtime_ns, r.state.as_str())),
                    );
                }
            }
        }
    }

    /// Observes a regular file, given what the store knows of it.
    fn observe_file(&mut self, p: &Path, known: Option<(u64, i64, &str)>) {
        let meta = match std::fs::symlink_metadata(p) {
            Ok(m) if m.is_file() => m,
            Ok(_) => return,
            Err(_) => {
                self.summary.errors += 1;
                return;
            }
        };
        let obs = observation(&meta);
        if let Some((size, mtime, state)) = known
            && size == obs.size
            && mtime == obs.mtime_ns
            && state == file_state::COMPLETE
        {
            self.tracker.forget(p);
            return;
        }
        let new = !self.tracker.contains(p);
        self.tracker.observe(p, obs, self.now(), mtime_age(&meta));
        if new && known.is_none_or(|(_, _, st)| st != file_state::RECEIVING) {
            self.new_rows.push(p.to_path_buf());
        }
    }

    fn set_state(&mut self, p: &Path, obs: Observation, state: &str, note: Option<&str>) {
        let stamp = self.stamper.stamp();
        if let Err(e) = self.store.set_file_state(
            &paths::to_bytes(p),
            &paths::display(p),
            (obs.size, obs.mtime_ns),
            state,
            note,
            stamp.at,
        ) {
            tracing::error!(path = %paths::display(p), error = %e, "cannot record file state");
            self.summary.errors += 1;
        }
    }

    /// Files left the drop folder: recorded in batches of a transaction each.
    fn vanished_many(&mut self, gone: &[Vec<u8>]) {
        for chunk in gone.chunks(1000) {
            for p in chunk {
                let p = paths::from_bytes(p);
                self.tracker.forget(&p);
                self.notes.remove(&p);
            }
            let stamp = self.stamper.stamp();
            match self.store.mark_files(chunk, file_state::GONE, stamp.at) {
                Ok(()) => {
                    let first = paths::display_bytes(&chunk[0]);
                    tracing::info!(
                        files = chunk.len(),
                        %first,
                        "files left the drop folder; items and receptions stay in the catalog"
                    );
                    self.summary.gone += chunk.len() as u64;
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot mark files gone");
                    self.summary.errors += 1;
                }
            }
        }
    }

    fn vanished(&mut self, p: &Path) {
        self.vanished_many(&[paths::to_bytes(p)]);
    }

    /// Verifies and records every settled file (in batches, one transaction
    /// each); writes "receiving" rows for new files still waiting; reports
    /// overdue ones as broken.
    pub fn process_due(&mut self) {
        const BATCH: usize = 256;
        let now = self.now();
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.recheck_dirs)
            .into_iter()
            .partition(|(_, t)| *t <= now);
        self.recheck_dirs = later;
        for (dir, _) in due {
            for f in walk(&dir, &self.temp).0 {
                self.observe_path(&f);
            }
        }
        let mut batch = Vec::new();
        for p in self.tracker.settled(now) {
            if let Some(arrival) = self.verify(&p) {
                batch.push(arrival);
                if batch.len() >= BATCH {
                    self.record(std::mem::take(&mut batch));
                }
            }
        }
        self.record(batch);
        let rows: Vec<FileState> = std::mem::take(&mut self.new_rows)
            .into_iter()
            .filter_map(|p| {
                let obs = self.tracker.observation(&p)?;
                Some(FileState {
                    path_display: paths::display(&p),
                    path: paths::to_bytes(&p),
                    size: obs.size,
                    mtime_ns: obs.mtime_ns,
                    state: file_state::RECEIVING.into(),
                    note: None,
                })
            })
            .collect();
        if !rows.is_empty()
            && let Err(e) = self.store.set_file_states(&rows, self.stamper.stamp().at)
        {
            tracing::error!(error = %e, "cannot record files still receiving");
            self.summary.errors += 1;
        }
        for p in self.tracker.take_overdue(self.now()) {
            let Some(obs) = self.tracker.observation(&p) else {
                continue;
            };
            let why = self
                .notes
                .get(&p)
                .cloned()
                .unwrap_or_else(|| "still changing".to_string());
            let note = format!(
                "not complete after {} min: {why}",
                self.max_wait.as_secs() / 60
            );
            tracing::warn!(path = %paths::display(&p), %note, "file is broken");
            self.set_state(&p, obs, file_state::BROKEN, Some(&note));
            self.summary.broken += 1;
        }
    }

    /// Records verified arrivals in one transaction.
    fn record(&mut self, batch: Vec<Arrival>) {
        if batch.is_empty() {
            return;
        }
        match self.store.record_arrivals(&batch) {
            Ok(results) => {
                for (a, rec) in batch.iter().zip(results) {
                    let p = paths::from_bytes(&a.path);
                    self.tracker.forget(&p);
                    self.notes.remove(&p);
                    match rec {
                        Recorded::New(id) => {
                            tracing::info!(path = %a.path_display, item = id, "received new item");
                            self.summary.new += 1;
                            if let Some(tx) = &self.probe_tx {
                                let _ = tx.send(id);
                            }
                        }
                        Recorded::Repeat(id) => {
                            tracing::info!(path = %a.path_display, item = id, "received again (repeat broadcast)");
                            self.summary.repeated += 1;
                        }
                        Recorded::Already(_) => self.summary.already += 1,
                    }
                }
            }
            Err(e) => {
                tracing::error!(files = batch.len(), error = %e, "cannot record receptions; will retry");
                self.summary.errors += 1;
            }
        }
    }

    fn fail(&mut self, p: &Path, obs: Observation, state: &str, note: String) {
        tracing::warn!(path = %paths::display(p), %note, "file not complete");
        self.tracker.failed(p);
        // A file already shown broken, and unchanged since, stays broken (no
        // flapping back to "receiving" after a restart).
        let was_broken = self
            .store
            .inbox_file(&paths::to_bytes(p))
            .ok()
            .flatten()
            .is_some_and(|r| {
                r.state == file_state::BROKEN && r.size == obs.size && r.mtime_ns == obs.mtime_ns
            });
        let state = if was_broken {
            file_state::BROKEN
        } else {
            state
        };
        self.new_rows.retain(|x| x != p); // its row is written here, with the note
        self.set_state(p, obs, state, Some(&note));
        self.notes.insert(p.to_path_buf(), note);
    }

    /// Checks one settled file; returns its arrival when it is complete.
    fn verify(&mut self, p: &Path) -> Option<Arrival> {
        let expected = self.tracker.observation(p)?;
        let meta = match std::fs::symlink_metadata(p) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.tracker.forget(p);
                self.vanished(p);
                return None;
            }
            Err(e) => {
                self.fail(
                    p,
                    expected,
                    file_state::RECEIVING,
                    format!("cannot stat: {e}"),
                );
                return None;
            }
        };
        let obs = observation(&meta);
        if obs != expected {
            self.tracker.observe(p, obs, self.now(), Duration::ZERO);
            return None;
        }
        if obs.size == 0 {
            self.fail(p, obs, file_state::RECEIVING, "empty file (0 bytes)".into());
            return None;
        }
        let (digest, n) = match hash::hash_file(p) {
            Ok(h) => h,
            Err(e) => {
                let hint = if e.kind() == std::io::ErrorKind::PermissionDenied {
                    "; give the xingzhan user read permission (it is retried at the next scan)"
                } else {
                    ""
                };
                self.fail(
                    p,
                    obs,
                    file_state::BROKEN,
                    format!("cannot read: {e}{hint}"),
                );
                self.summary.errors += 1;
                return None;
            }
        };
        let shown = paths::display(p);
        if archive::is_testable(&shown)
            && let Err(e) = archive::test_zip(p)
        {
            self.fail(
                p,
                obs,
                file_state::RECEIVING,
                format!("archive test failed: {e}"),
            );
            return None;
        }
        // The file must not have changed while it was read.
        match std::fs::symlink_metadata(p).map(|m| observation(&m)) {
            Ok(after) if after == obs && n == obs.size => {}
            Ok(after) => {
                self.tracker.observe(p, after, self.now(), Duration::ZERO);
                return None;
            }
            Err(_) => {
                self.tracker.forget(p);
                self.vanished(p);
                return None;
            }
        }
        let rel = p.strip_prefix(&self.root).unwrap_or(p);
        let rel_display = paths::display(rel);
        let title = p
            .file_stem()
            .map(|s| paths::display(Path::new(s)))
            .unwrap_or_else(|| shown.clone());
        let stamp = self.stamper.stamp();
        let arrival = Arrival {
            path: paths::to_bytes(p),
            path_display: shown.clone(),
            title,
            size: obs.size,
            mtime_ns: obs.mtime_ns,
            blake3: digest,
            class: self.classify.classify(&rel_display),
            at: stamp.at,
            clock_trusted: stamp.trusted,
            uptime_ms: stamp.uptime.as_millis() as u64,
        };
        Some(arrival)
    }

    /// Counts files still receiving (for the scan summary).
    pub fn finish_summary(&mut self) {
        self.summary.receiving = self.tracker.len() as u64;
    }

    /// When the loop must wake next for a settle or overdue deadline.
    pub fn next_deadline(&self) -> Option<Duration> {
        let recheck = self.recheck_dirs.iter().map(|(_, t)| *t).min();
        match (self.tracker.next_deadline(), recheck) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Walks a folder tree without following symlinks and skipping temp-named
/// files and folders: the regular files found, and the folders it could not read.
fn walk(dir: &Path, temp: &GlobSet) -> (Vec<PathBuf>, Vec<(PathBuf, std::io::Error)>) {
    let (mut files, mut unreadable) = (Vec::new(), Vec::new());
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) => {
                unreadable.push((dir, e));
                continue;
            }
        };
        for entry in rd.flatten() {
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_symlink() || temp.is_match(Path::new(&entry.file_name())) {
                continue;
            }
            if ft.is_dir() {
                stack.push(entry.path());
            } else if ft.is_file() {
                files.push(entry.path());
            }
        }
    }
    (files, unreadable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{SimClock, Trust};

    #[test]
    fn a_new_folder_is_walked_again_for_files_that_beat_the_watcher() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.paths.data = dir.path().join("data");
        config.paths.inbox = dir.path().join("in");
        std::fs::create_dir_all(config.paths.inbox.join("new")).unwrap();
        let store = Store::open(&config.paths.database()).unwrap();
        let clock = Arc::new(SimClock::new(chrono::Utc::now()));
        let stamper = Arc::new(Stamper::new(
            clock.clone(),
            Trust::new(config.station.floor().unwrap()),
        ));
        let mut inbox = Inbox::new(&config, store, stamper).unwrap();
        let new_dir = inbox.root().join("new");
        inbox.observe_path(&new_dir); // the folder's create event: empty so far
        // a file lands before the watcher covers the folder: no event for it
        std::fs::write(new_dir.join("课件.ppt"), b"slides").unwrap();
        inbox.process_due();
        assert_eq!(inbox.pending(), 0);
        assert!(inbox.next_deadline().is_some(), "a recheck is scheduled");
        clock.advance(Duration::from_secs(3));
        inbox.process_due();
        assert_eq!(inbox.pending(), 1, "the recheck found the file");
    }
}
