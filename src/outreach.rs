//! Village outreach (党员远教 / 农技推广): VCD jobs made from catalog videos.
//!
//! A job is persisted in the store (queued -> transcoding -> authoring -> done,
//! or failed / cancelled) and run by one worker thread (`vcd-jobs`) at low CPU
//! and I/O priority, so reception and the web page stay responsive. The worker
//! calls [`crate::vcd::make::make`] (ffmpeg transcoding, planning, our own
//! author), records the plan and progress (throttled), and writes each job's
//! images under `<data>/work/vcd/job-N/`. A cancel flag reaches ffmpeg; a job
//! interrupted by a restart is queued again (see [`crate::store::outreach`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::clock::Stamper;
use crate::config::Config;
use crate::store::Store;
use crate::store::outreach::{Job, job_state};
use crate::vcd::image::DiscSize;
use crate::vcd::make::{MakeEvent, MakeOptions};
use crate::vcd::mpeg::Standard;
use crate::vcd::plan::DiscPlan;

/// Shared between the web layer and the worker: wake-ups and cancel flags.
#[derive(Default)]
pub struct JobControl {
    /// Set when the daemon stops: a job stopped then is resumed at next start,
    /// not cancelled.
    stopping: AtomicBool,
    wake: Mutex<Option<Sender<Wake>>>,
    running: Mutex<HashMap<i64, Arc<AtomicBool>>>,
}

/// Messages to the worker.
pub enum Wake {
    Work,
    Shutdown,
}

impl JobControl {
    /// Tells the worker there is work (no-op when no worker runs).
    pub fn wake(&self) {
        if let Some(tx) = self.wake.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            let _ = tx.send(Wake::Work);
        }
    }

    /// Asks a running job to stop; false if it is not running here.
    pub fn cancel_running(&self, id: i64) -> bool {
        match self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
        {
            Some(flag) => {
                flag.store(true, Ordering::SeqCst);
                true
            }
            None => false,
        }
    }

    fn register(&self, id: i64) -> Arc<AtomicBool> {
        let flag = Arc::new(AtomicBool::new(false));
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, flag.clone());
        flag
    }

    fn unregister(&self, id: i64) {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }

    /// Stops the worker after its current job step.
    pub fn shutdown(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        let running: Vec<Arc<AtomicBool>> = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        for f in running {
            f.store(true, Ordering::SeqCst);
        }
        if let Some(tx) = self.wake.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = tx.send(Wake::Shutdown);
        }
    }
}

/// The folder a job writes into.
pub fn job_dir(config: &Config, id: i64) -> PathBuf {
    config.paths.work().join("vcd").join(format!("job-{id}"))
}

/// Parses the API's words for a standard and a disc size.
pub fn parse_standard(s: &str) -> Option<Standard> {
    match s {
        "pal" => Some(Standard::Pal),
        "ntsc" => Some(Standard::Ntsc),
        _ => None,
    }
}

pub fn parse_disc(minutes: u32) -> Option<DiscSize> {
    match minutes {
        74 => Some(DiscSize::Min74),
        80 => Some(DiscSize::Min80),
        _ => None,
    }
}

/// Starts the worker thread. Unfinished jobs from before are recovered first.
pub fn spawn(
    store: Store,
    config: Arc<Config>,
    stamper: Arc<Stamper>,
    control: Arc<JobControl>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    match store.recover_jobs(stamper.stamp().at) {
        Ok((0, 0)) => {}
        Ok((requeued, failed)) => {
            tracing::warn!(
                requeued,
                failed,
                "VCD jobs interrupted by the last stop were recovered"
            )
        }
        Err(e) => tracing::error!(error = %e, "cannot recover VCD jobs"),
    }
    let (tx, rx) = std::sync::mpsc::channel();
    *control.wake.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx.clone());
    let _ = tx.send(Wake::Work);
    std::thread::Builder::new()
        .name("vcd-jobs".into())
        .spawn(move || {
            lower_priority();
            worker(store, config, stamper, control, rx)
        })
}

/// Low CPU and I/O priority for this thread and the ffmpeg it starts.
fn lower_priority() {
    // SAFETY: plain syscalls on the calling thread with constant arguments.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
        // ioprio_set(IOPRIO_WHO_PROCESS, 0 = this thread, best-effort class 2, level 7)
        libc::syscall(libc::SYS_ioprio_set, 1, 0, (2 << 13) | 7);
    }
}

fn worker(
    store: Store,
    config: Arc<Config>,
    stamper: Arc<Stamper>,
    control: Arc<JobControl>,
    rx: Receiver<Wake>,
) {
    loop {
        loop {
            let job = match store.next_queued_job() {
                Ok(Some(j)) => j,
                Ok(None) => break,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the VCD job queue");
                    break;
                }
            };
            let id = job.id;
            let cancel = control.register(id);
            run_job(&store, &config, &stamper, job, &cancel, &control.stopping);
            control.unregister(id);
            if matches!(rx.try_recv(), Ok(Wake::Shutdown)) {
                return;
            }
        }
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Wake::Shutdown) | Err(RecvTimeoutError::Disconnected) => return,
            Ok(Wake::Work) | Err(RecvTimeoutError::Timeout) => {}
        }
    }
}

/// Runs one job to its end state.
fn run_job(
    store: &Store,
    config: &Config,
    stamper: &Stamper,
    job: Job,
    cancel: &AtomicBool,
    stopping: &AtomicBool,
) {
    let id = job.id;
    let at = || stamper.stamp().at;
    let fail = |msg: String| {
        tracing::warn!(job = id, error = %msg, "VCD job failed");
        let _ = store.set_job_state(id, job_state::FAILED, Some(&msg), at());
    };
    let (Some(standard), Some(disc)) =
        (parse_standard(&job.standard), parse_disc(job.disc_minutes))
    else {
        return fail(format!(
            "unsupported standard {} or disc size {}",
            job.standard, job.disc_minutes
        ));
    };
    // The videos: from the drop folder, or the library when kept.
    let mut inputs = Vec::new();
    let mut titles = Vec::new();
    for item_id in &job.item_ids {
        let item = match store.item(*item_id) {
            Ok(i) => i,
            Err(e) => return fail(format!("item {item_id}: {e}")),
        };
        let Some(path) = item.file_on_pc() else {
            return fail(format!(
                "item {item_id} ({}): its file is no longer on this PC",
                item.title
            ));
        };
        inputs.push(path);
        titles.push(item.title);
    }
    let dir = job_dir(config, id);
    let _ = std::fs::remove_dir_all(&dir);
    if !store
        .set_job_state(id, job_state::TRANSCODING, Some("starting"), at())
        .unwrap_or(false)
    {
        return; // cancelled meanwhile
    }
    let opts = MakeOptions {
        out_dir: dir.clone(),
        standard,
        disc,
        ffmpeg: config.vcd.ffmpeg.clone(),
        ffprobe: config.vcd.ffprobe.clone(),
        dry_run: false,
        keep_mpeg: false,
    };
    let mut planned = serde_json::Value::Null;
    let mut total = 0.0f64;
    let mut done_before = 0.0f64;
    let mut last_track: Option<(usize, usize)> = None;
    let mut last_write = Instant::now() - Duration::from_secs(60);
    let mut made: Vec<serde_json::Value> = Vec::new();
    let mut on_event = |ev: MakeEvent| match ev {
        MakeEvent::Probed { .. } => {}
        MakeEvent::Planned { discs } => {
            total = discs
                .iter()
                .flat_map(|d| d.parts.iter())
                .map(|p| p.length)
                .sum::<f64>()
                .max(1.0);
            planned = plan_json(discs, &titles, &job.item_ids);
            let _ = store.set_job_progress(id, 0.0, Some(&planned), None, at());
        }
        MakeEvent::Transcoding {
            disc,
            track,
            done,
            total: len,
            ..
        } => {
            if last_track != Some((disc, track)) {
                if let Some((d, t)) = last_track {
                    done_before += planned[d]["tracks"][t]["length_secs"]
                        .as_f64()
                        .unwrap_or(0.0);
                }
                last_track = Some((disc, track));
                let _ = store.set_job_state(
                    id,
                    job_state::TRANSCODING,
                    Some(&format!(
                        "transcoding disc {} track {}",
                        disc + 1,
                        track + 1
                    )),
                    at(),
                );
            }
            if last_write.elapsed() >= Duration::from_secs(2) {
                last_write = Instant::now();
                let p = (done_before + done.min(len)) / total * 0.95;
                let _ = store.set_job_progress(id, p, None, None, at());
            }
            let tracks = planned[disc]["tracks"]
                .as_array()
                .map(|t| t.len())
                .unwrap_or(0);
            if track + 1 == tracks && done >= len {
                let _ = store.set_job_state(
                    id,
                    job_state::AUTHORING,
                    Some(&format!("authoring disc {}", disc + 1)),
                    at(),
                );
            }
        }
        MakeEvent::Authored {
            disc,
            bin,
            free_seconds,
        } => {
            let name = bin
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let stem = name.trim_end_matches(".bin").to_string();
            let size = std::fs::metadata(bin).map(|m| m.len()).unwrap_or(0);
            made.push(json!({
                "disc": disc + 1,
                "bin": name,
                "cue": format!("{stem}.cue"),
                "zip": format!("{stem}.zip"),
                "bytes": size,
                "free_seconds": free_seconds,
                "tracks": planned[disc]["tracks"].clone(),
            }));
            let _ = store.set_job_progress(id, 0.95, None, Some(&json!(made)), at());
        }
    };
    let result = crate::vcd::make::make(&inputs, &opts, cancel, &mut on_event);
    match result {
        Ok(_) => {
            let _ = store.set_job_progress(id, 1.0, None, Some(&json!(made)), at());
            let _ = store.set_job_state(id, job_state::DONE, Some("done"), at());
            tracing::info!(job = id, discs = made.len(), "VCD job done");
        }
        Err(crate::vcd::VcdError::Cancelled) if stopping.load(Ordering::SeqCst) => {
            // Left in its running state: the next start queues it again.
            tracing::info!(
                job = id,
                "VCD job interrupted by shutdown; it resumes at the next start"
            );
        }
        Err(crate::vcd::VcdError::Cancelled) => {
            let _ = std::fs::remove_dir_all(&dir);
            let _ = store.set_job_state(id, job_state::CANCELLED, Some("cancelled"), at());
            tracing::info!(job = id, "VCD job cancelled");
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            fail(e.to_string());
        }
    }
}

/// The plan as JSON: per disc, its free time and its tracks with titles.
pub fn plan_json(discs: &[DiscPlan], titles: &[String], item_ids: &[i64]) -> serde_json::Value {
    json!(
        discs
            .iter()
            .enumerate()
            .map(|(n, d)| json!({
                "disc": n + 1,
                "free_seconds": d.free_seconds(),
                "tracks": d.parts.iter().map(|p| json!({
                    "title": titles[p.video],
                    "item_id": item_ids[p.video],
                    "start_secs": p.start,
                    "length_secs": p.length,
                    "part": p.number,
                    "of": p.of,
                })).collect::<Vec<_>>(),
            }))
            .collect::<Vec<_>>()
    )
}

/// Makes (once) a zip holding a disc's .bin and .cue, for one download.
pub fn disc_zip(dir: &Path, stem: &str) -> std::io::Result<PathBuf> {
    use std::io::Write;
    let zip_path = dir.join(format!("{stem}.zip"));
    if zip_path.is_file() {
        return Ok(zip_path);
    }
    let tmp = dir.join(format!(".{stem}.zip.part"));
    let f = std::fs::File::create(&tmp)?;
    let mut z = zip::ZipWriter::new(std::io::BufWriter::new(f));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(true);
    for ext in ["cue", "bin"] {
        let name = format!("{stem}.{ext}");
        z.start_file(name.as_str(), opts)
            .map_err(std::io::Error::other)?;
        let mut src = std::fs::File::open(dir.join(&name))?;
        std::io::copy(&mut src, &mut z)?;
    }
    let mut inner = z.finish().map_err(std::io::Error::other)?;
    inner.flush()?;
    drop(inner);
    std::fs::rename(&tmp, &zip_path)?;
    Ok(zip_path)
}
