//! Disc-making jobs kept in SQLite (`vcd_jobs`), and a blocking runner.
//!
//! States: queued -> transcoding -> authoring -> done, or failed / cancelled.
//! A job is one `vcd make` request. The runner is meant for one named thread:
//! [`Jobs::run`] takes the oldest queued job, runs it, records the outcome, and
//! repeats until told to stop. After a restart [`Jobs::recover`] puts jobs that
//! were interrupted back in the queue; their next run reuses the disc images
//! and MPEG files the first run finished (`make` resume) and redoes the rest. Progress is written at most once a
//! second. Cancelling a queued job ends it at once; a running one stops at the
//! next progress tick (ffmpeg is asked to quit, partial files are removed).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::VcdConfig;
use super::error::VcdError;
use super::image::DiscSize;
use super::make::{self, MakeEvent, MakeOptions};
use super::menu::MenuOptions;
use super::mpeg::Standard;
use crate::store::{Store, StoreError};

/// Paths in JSON: a string when the name is UTF-8, else its raw bytes (GBK
/// names from receivers are not UTF-8 and must survive unchanged).
mod raw_paths {
    use std::os::unix::ffi::OsStrExt;
    use std::path::PathBuf;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Text(String),
        Bytes(Vec<u8>),
    }

    fn repr(p: &std::path::Path) -> Repr {
        match p.to_str() {
            Some(s) => Repr::Text(s.to_owned()),
            None => Repr::Bytes(p.as_os_str().as_bytes().to_vec()),
        }
    }

    fn path(r: Repr) -> PathBuf {
        match r {
            Repr::Text(s) => PathBuf::from(s),
            Repr::Bytes(b) => crate::paths::from_bytes(&b),
        }
    }

    pub fn serialize<S: Serializer>(p: &std::path::Path, s: S) -> Result<S::Ok, S::Error> {
        repr(p).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
        Repr::deserialize(d).map(path)
    }

    pub mod many {
        use super::*;

        pub fn serialize<S: Serializer>(v: &[PathBuf], s: S) -> Result<S::Ok, S::Error> {
            v.iter().map(|p| repr(p)).collect::<Vec<_>>().serialize(s)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<PathBuf>, D::Error> {
            Vec::<Repr>::deserialize(d).map(|v| v.into_iter().map(path).collect())
        }
    }
}

/// What a job should make.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRequest {
    #[serde(with = "raw_paths::many")]
    pub inputs: Vec<PathBuf>,
    #[serde(with = "raw_paths")]
    pub out_dir: PathBuf,
    pub standard: Standard,
    pub disc: DiscSize,
    #[serde(default)]
    pub menu: bool,
    /// Menu titles per input video (default: file names).
    #[serde(default)]
    pub titles: Vec<String>,
    /// Seconds between chapter entry points, if any.
    #[serde(default)]
    pub chapters_every: Option<f64>,
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Queued,
    Transcoding,
    Authoring,
    Done,
    Failed,
    Cancelled,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Transcoding => "transcoding",
            JobState::Authoring => "authoring",
            JobState::Done => "done",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            JobState::Queued,
            JobState::Transcoding,
            JobState::Authoring,
            JobState::Done,
            JobState::Failed,
            JobState::Cancelled,
        ]
        .into_iter()
        .find(|j| j.as_str() == s)
    }

    /// Done, failed or cancelled: nothing more will happen.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Done | JobState::Failed | JobState::Cancelled
        )
    }
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    pub id: i64,
    pub state: JobState,
    pub request: JobRequest,
    /// 0.0 ..= 1.0 over all transcoding.
    pub progress: f64,
    /// What is happening now, for people.
    pub message: String,
    #[serde(with = "raw_paths::many")]
    pub images: Vec<PathBuf>,
    pub error: Option<String>,
    pub attempts: i64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no VCD job {0}")]
    NotFound(i64),
    #[error("VCD job {id} is stored wrongly: {message}")]
    BadRow { id: i64, message: String },
}

type Result<T, E = JobError> = std::result::Result<T, E>;

/// What running a job gave: the images and warnings, or why not.
type MadeOrNot = std::result::Result<(Vec<PathBuf>, Vec<String>), VcdError>;

/// The job table and the runner.
pub struct Jobs {
    store: Store,
    config: VcdConfig,
    running: Mutex<HashMap<i64, Arc<AtomicBool>>>,
    shutting_down: AtomicBool,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339()
}

const COLUMNS: &str = "id, state, request_json, progress, message, images_json, error, attempts, created_at, updated_at";

fn row_to_job(r: &rusqlite::Row) -> rusqlite::Result<(Job, String, String, String)> {
    let id: i64 = r.get(0)?;
    Ok((
        Job {
            id,
            state: JobState::Queued,
            request: JobRequest {
                inputs: Vec::new(),
                out_dir: PathBuf::new(),
                standard: Standard::Pal,
                disc: DiscSize::Min80,
                menu: false,
                titles: Vec::new(),
                chapters_every: None,
            },
            progress: r.get(3)?,
            message: r.get(4)?,
            images: Vec::new(),
            error: r.get(6)?,
            attempts: r.get(7)?,
            created_at: r.get(8)?,
            updated_at: r.get(9)?,
        },
        r.get(1)?,
        r.get(2)?,
        r.get(5)?,
    ))
}

fn finish_row((mut job, state, request, images): (Job, String, String, String)) -> Result<Job> {
    let bad = |message: String| JobError::BadRow {
        id: job.id,
        message,
    };
    job.state = JobState::parse(&state).ok_or_else(|| bad(format!("unknown state {state:?}")))?;
    job.request = serde_json::from_str(&request).map_err(|e| bad(format!("request: {e}")))?;
    let mut de = serde_json::Deserializer::from_str(&images);
    job.images = raw_paths::many::deserialize(&mut de).map_err(|e| bad(format!("images: {e}")))?;
    Ok(job)
}

impl Jobs {
    pub fn new(store: Store, config: VcdConfig) -> Self {
        Jobs {
            store,
            config,
            running: Mutex::new(HashMap::new()),
            shutting_down: AtomicBool::new(false),
        }
    }

    /// Queues a job; returns its id.
    pub fn submit(&self, request: &JobRequest) -> Result<i64> {
        let json = serde_json::to_string(request).expect("a request always serializes (raw paths)");
        Ok(self.store.write(|c| {
            let t = now();
            c.execute(
                "INSERT INTO vcd_jobs (state, request_json, created_at, updated_at) VALUES ('queued', ?1, ?2, ?2)",
                params![json, t],
            )?;
            Ok(c.last_insert_rowid())
        })?)
    }

    pub fn get(&self, id: i64) -> Result<Job> {
        let row = self.store.read(|c| {
            Ok(c.query_row(
                &format!("SELECT {COLUMNS} FROM vcd_jobs WHERE id = ?1"),
                [id],
                row_to_job,
            )
            .optional()?)
        })?;
        finish_row(row.ok_or(JobError::NotFound(id))?)
    }

    /// All jobs, newest first.
    pub fn list(&self) -> Result<Vec<Job>> {
        let rows = self.store.read(|c| {
            let mut st = c.prepare(&format!("SELECT {COLUMNS} FROM vcd_jobs ORDER BY id DESC"))?;
            let rows = st
                .query_map([], row_to_job)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })?;
        rows.into_iter().map(finish_row).collect()
    }

    /// Cancels a job: a queued one at once, a running one at its next tick.
    /// Returns the state after the call.
    pub fn cancel(&self, id: i64) -> Result<JobState> {
        let job = self.get(id)?;
        if job.state.is_final() {
            return Ok(job.state);
        }
        self.store.write(|c| {
            c.execute(
                "UPDATE vcd_jobs SET cancel_requested = 1, updated_at = ?2 WHERE id = ?1",
                params![id, now()],
            )?;
            c.execute(
                "UPDATE vcd_jobs SET state = 'cancelled', message = 'cancelled before it started' \
                 WHERE id = ?1 AND state = 'queued'",
                [id],
            )?;
            Ok(())
        })?;
        if let Some(flag) = self.lock_running().get(&id) {
            flag.store(true, Ordering::Relaxed);
        }
        Ok(self.get(id)?.state)
    }

    /// After a restart: interrupted jobs go back to the queue. Returns how many.
    pub fn recover(&self) -> Result<usize> {
        Ok(self.store.write(|c| {
            let n = c.execute(
                "UPDATE vcd_jobs SET state = 'queued', progress = 0, \
                 message = 'interrupted by a restart; queued again', updated_at = ?1 \
                 WHERE state IN ('transcoding', 'authoring') AND cancel_requested = 0",
                [now()],
            )?;
            c.execute(
                "UPDATE vcd_jobs SET state = 'cancelled', message = 'cancelled', updated_at = ?1 \
                 WHERE state IN ('transcoding', 'authoring') AND cancel_requested = 1",
                [now()],
            )?;
            Ok(n)
        })?)
    }

    fn lock_running(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Arc<AtomicBool>>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the oldest queued job, marking it transcoding.
    fn claim(&self) -> Result<Option<i64>> {
        Ok(self.store.write(|c| {
            let tx = c.transaction()?;
            let id: Option<i64> = tx
                .query_row(
                    "SELECT id FROM vcd_jobs WHERE state = 'queued' ORDER BY id LIMIT 1",
                    [],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(id) = id {
                tx.execute(
                    "UPDATE vcd_jobs SET state = 'transcoding', attempts = attempts + 1, progress = 0, \
                     message = 'starting', error = NULL, updated_at = ?2 WHERE id = ?1",
                    params![id, now()],
                )?;
            }
            tx.commit()?;
            Ok(id)
        })?)
    }

    fn update(&self, id: i64, state: JobState, progress: f64, message: &str) -> Result<()> {
        self.store.write(|c| {
            c.execute(
                "UPDATE vcd_jobs SET state = ?2, progress = ?3, message = ?4, updated_at = ?5 WHERE id = ?1",
                params![id, state.as_str(), progress, message, now()],
            )?;
            Ok(())
        })?;
        Ok(())
    }

    fn finish(&self, id: i64, outcome: MadeOrNot) -> Result<()> {
        let (state, images, error, message) = match outcome {
            Ok((images, warnings)) => {
                let mut m = format!("{} disc image(s) ready", images.len());
                if !warnings.is_empty() {
                    m += &format!("; may show glitches: {}", warnings.join("; "));
                }
                (JobState::Done, images, None, m)
            }
            Err(VcdError::Cancelled) => (JobState::Cancelled, Vec::new(), None, "cancelled".into()),
            Err(e) => (
                JobState::Failed,
                Vec::new(),
                Some(e.to_string()),
                "failed".into(),
            ),
        };
        let mut json = Vec::new();
        raw_paths::many::serialize(&images, &mut serde_json::Serializer::new(&mut json))
            .expect("paths always serialize in this form");
        let images = String::from_utf8(json).expect("serde_json writes UTF-8");
        self.store.write(|c| {
            c.execute(
                "UPDATE vcd_jobs SET state = ?2, images_json = ?3, error = ?4, message = ?5, \
                 progress = CASE WHEN ?2 = 'done' THEN 1.0 ELSE progress END, updated_at = ?6 WHERE id = ?1",
                params![id, state.as_str(), images, error, message, now()],
            )?;
            Ok(())
        })?;
        Ok(())
    }

    /// Runs the oldest queued job to its end (blocking). Returns it, or `None`
    /// when the queue is empty.
    pub fn run_next(&self) -> Result<Option<Job>> {
        let Some(id) = self.claim()? else {
            return Ok(None);
        };
        let job = self.get(id)?;
        let cancel = Arc::new(AtomicBool::new(false));
        self.lock_running().insert(id, cancel.clone());
        let outcome = self.execute(&job, &cancel);
        self.lock_running().remove(&id);
        let outcome = match outcome {
            Err(JobError::Store(e)) => return Err(JobError::Store(e)),
            Err(e) => Err(VcdError::Tool {
                program: "xingzhan".into(),
                message: e.to_string(),
            }),
            Ok(o) => o,
        };
        if matches!(outcome, Err(VcdError::Cancelled))
            && self.shutting_down.load(Ordering::Relaxed)
            && !self.cancel_requested(id)
        {
            // Stopped by a shutdown, not by a person: resume after the restart.
            self.update(
                id,
                JobState::Queued,
                0.0,
                "stopped by a shutdown; queued again",
            )?;
            return Ok(Some(self.get(id)?));
        }
        self.finish(id, outcome)?;
        tracing::info!(
            job = id,
            state = self.get(id)?.state.as_str(),
            "vcd job finished"
        );
        Ok(Some(self.get(id)?))
    }

    fn execute(&self, job: &Job, cancel: &Arc<AtomicBool>) -> Result<MadeOrNot> {
        let r = &job.request;
        let opts = MakeOptions {
            out_dir: r.out_dir.clone(),
            standard: r.standard,
            disc: r.disc,
            ffmpeg: self.config.ffmpeg.clone(),
            ffprobe: self.config.ffprobe.clone(),
            dry_run: false,
            keep_mpeg: false,
            // A job run again after a restart reuses what the first run finished.
            resume: job.attempts > 1,
            chapters_every: r.chapters_every,
            menu: r.menu.then(|| MenuOptions {
                ffmpeg: self.config.ffmpeg.clone(),
                font: self.config.menu_font.clone(),
                titles: r.titles.clone(),
            }),
        };
        // Seconds of video before each (disc, track), for overall progress.
        let mut before: HashMap<(usize, usize), f64> = HashMap::new();
        let mut total = 0.0f64;
        let mut last_write = Instant::now() - Duration::from_secs(10);
        let mut store_error = None;
        let mut warnings: Vec<String> = Vec::new();
        let mut on_event = |e: MakeEvent| {
            let update = match e {
                MakeEvent::Planned { discs } => {
                    for (d, disc) in discs.iter().enumerate() {
                        for (t, p) in disc.parts.iter().enumerate() {
                            before.insert((d, t), total);
                            total += p.length;
                        }
                    }
                    Some((
                        JobState::Transcoding,
                        0.0,
                        format!("planned {} disc(s)", discs.len()),
                        true,
                    ))
                }
                MakeEvent::Transcoding {
                    disc,
                    track,
                    path,
                    done,
                    ..
                } => {
                    let p = (before.get(&(disc, track)).copied().unwrap_or(0.0) + done)
                        / total.max(1e-9);
                    let m = format!(
                        "disc {} track {}: transcoding {}",
                        disc + 1,
                        track + 1,
                        path.display()
                    );
                    Some((JobState::Transcoding, p.min(1.0), m, false))
                }
                MakeEvent::Authoring { disc } => Some((
                    JobState::Authoring,
                    1.0,
                    format!("disc {}: writing the image", disc + 1),
                    true,
                )),
                MakeEvent::Authored { disc, .. } => Some((
                    JobState::Authoring,
                    1.0,
                    format!("disc {} written", disc + 1),
                    true,
                )),
                MakeEvent::Probed { .. } => None,
                MakeEvent::Damaged { path, errors, .. } => {
                    warnings.push(format!("{} error(s) reading {}", errors, path.display()));
                    None
                }
            };
            if let Some((state, progress, message, always)) = update
                && (always || last_write.elapsed() >= Duration::from_secs(1))
            {
                last_write = Instant::now();
                if let Err(e) = self.update(job.id, state, progress, &message) {
                    store_error.get_or_insert(e);
                }
                // A cancel may come from another process sharing the database.
                if self.cancel_requested(job.id) {
                    cancel.store(true, Ordering::Relaxed);
                }
            }
        };
        let outcome = make::make(&r.inputs, &opts, cancel, &mut on_event);
        if let Some(e) = store_error {
            return Err(e);
        }
        // Damaged inputs ffmpeg worked around are noted in the final message.
        Ok(outcome.map(|images| (images, warnings)))
    }

    fn cancel_requested(&self, id: i64) -> bool {
        self.store
            .read(|c| {
                Ok(c.query_row(
                    "SELECT cancel_requested FROM vcd_jobs WHERE id = ?1",
                    [id],
                    |r| r.get::<_, i64>(0),
                )?)
            })
            .is_ok_and(|v| v != 0)
    }

    /// Runs jobs until `stop` is set, polling the queue every `idle` when empty.
    /// Meant for a named thread (`vcd-jobs`); logs store errors and goes on.
    pub fn run(&self, stop: &AtomicBool, idle: Duration) {
        while !stop.load(Ordering::Relaxed) {
            match self.run_next() {
                Ok(Some(_)) => {}
                Ok(None) => std::thread::sleep(idle),
                Err(e) => {
                    tracing::error!(error = %e, "vcd job runner");
                    std::thread::sleep(idle);
                }
            }
        }
    }

    /// Orderly shutdown: stops running jobs (ffmpeg quits, partial files are
    /// removed) and leaves them queued, so they run again after the restart.
    pub fn shutdown(&self) {
        self.shutting_down.store(true, Ordering::Relaxed);
        for flag in self.lock_running().values() {
            flag.store(true, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn requests_keep_non_utf8_paths_exactly() {
        let gbk = PathBuf::from(std::ffi::OsStr::from_bytes(b"/in/\xd6\xd6\xd6\xb2.mp4"));
        let r = JobRequest {
            inputs: vec![gbk.clone(), "/in/养殖.mp4".into()],
            out_dir: "/out".into(),
            standard: Standard::Pal,
            disc: DiscSize::Min74,
            menu: true,
            titles: vec![],
            chapters_every: None,
        };
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains("\"/in/养殖.mp4\""), "{json}");
        let back: JobRequest = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        assert_eq!(
            back.inputs[0].as_os_str().as_bytes(),
            gbk.as_os_str().as_bytes()
        );
    }
}
