//! Village outreach records: VCD jobs (their state machine and progress) and the
//! disc register (党员远教 record: which disc, how many copies, which village, why).
//!
//! Job states: queued -> transcoding -> authoring -> done, or failed / cancelled
//! from any unfinished state. After a restart, jobs found transcoding or
//! authoring are queued again (or failed after too many interruptions), so a
//! job never hangs.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use super::catalog::ts;
use super::{Result, Store, StoreError};

/// Job states.
pub mod job_state {
    pub const QUEUED: &str = "queued";
    pub const TRANSCODING: &str = "transcoding";
    pub const AUTHORING: &str = "authoring";
    pub const DONE: &str = "done";
    pub const FAILED: &str = "failed";
    pub const CANCELLED: &str = "cancelled";
    /// States a job can still move out of.
    pub fn is_open(s: &str) -> bool {
        matches!(s, QUEUED | TRANSCODING | AUTHORING)
    }
}

/// How many restarts may interrupt a job before it fails.
pub const MAX_ATTEMPTS: i64 = 3;

/// A new job as asked for.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub title: String,
    pub item_ids: Vec<i64>,
    pub standard: String,
    pub disc_minutes: u32,
    pub menu: bool,
}

/// A job as stored.
#[derive(Debug, Clone, Serialize)]
pub struct Job {
    pub id: i64,
    pub title: String,
    pub item_ids: Vec<i64>,
    pub standard: String,
    pub disc_minutes: u32,
    pub menu: bool,
    pub state: String,
    pub progress: f64,
    pub message: Option<String>,
    pub plan: Option<serde_json::Value>,
    pub discs: Option<serde_json::Value>,
    pub attempts: i64,
    pub created_at: String,
    pub updated_at: String,
    pub clock_trusted: bool,
}

impl Job {
    fn from_row(r: &Row) -> rusqlite::Result<Job> {
        let ids: String = r.get("item_ids")?;
        let plan: Option<String> = r.get("plan_json")?;
        let discs: Option<String> = r.get("discs_json")?;
        Ok(Job {
            id: r.get("id")?,
            title: r.get("title")?,
            item_ids: serde_json::from_str(&ids).unwrap_or_default(),
            standard: r.get("standard")?,
            disc_minutes: r.get("disc_minutes")?,
            menu: r.get("menu")?,
            state: r.get("state")?,
            progress: r.get("progress")?,
            message: r.get("message")?,
            plan: plan.and_then(|p| serde_json::from_str(&p).ok()),
            discs: discs.and_then(|p| serde_json::from_str(&p).ok()),
            attempts: r.get("attempts")?,
            created_at: r.get("created_at")?,
            updated_at: r.get("updated_at")?,
            clock_trusted: r.get("clock_trusted")?,
        })
    }
}

/// One disc given out.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct DiscRecord {
    #[serde(default)]
    pub id: i64,
    pub job_id: Option<i64>,
    pub disc_no: u32,
    pub titles: String,
    pub category: String,
    pub copies: u32,
    pub recipient: String,
    pub purpose: String,
    #[serde(default)]
    pub made_at: String,
    #[serde(default)]
    pub clock_trusted: bool,
    pub note: Option<String>,
}

impl Store {
    /// Queues a job.
    pub fn create_job(&self, j: &NewJob, at: DateTime<Utc>, trusted: bool) -> Result<Job> {
        let id = self.write(|c| {
            c.execute(
                "INSERT INTO vcd_jobs (title, item_ids, standard, disc_minutes, menu, state, created_at, updated_at, clock_trusted)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?6, ?6, ?7)",
                params![
                    j.title,
                    serde_json::to_string(&j.item_ids).unwrap_or_default(),
                    j.standard,
                    j.disc_minutes,
                    j.menu,
                    ts(at),
                    trusted
                ],
            )?;
            Ok(c.last_insert_rowid())
        })?;
        self.job(id)
    }

    /// One job.
    pub fn job(&self, id: i64) -> Result<Job> {
        self.read(|c| {
            c.query_row("SELECT * FROM vcd_jobs WHERE id = ?1", [id], Job::from_row)
                .optional()?
                .ok_or_else(|| StoreError::NotFound(format!("VCD job {id}")))
        })
    }

    /// Jobs, newest first.
    pub fn jobs(&self, limit: u32) -> Result<Vec<Job>> {
        self.read(|c| {
            let mut st = c.prepare("SELECT * FROM vcd_jobs ORDER BY id DESC LIMIT ?1")?;
            let v = st
                .query_map([limit], Job::from_row)?
                .collect::<rusqlite::Result<_>>()?;
            Ok(v)
        })
    }

    /// The oldest queued job, if any.
    pub fn next_queued_job(&self) -> Result<Option<Job>> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT * FROM vcd_jobs WHERE state = 'queued' ORDER BY id LIMIT 1",
                [],
                Job::from_row,
            )
            .optional()?)
        })
    }

    /// Moves a job to a state, only from an open state; returns whether it moved.
    pub fn set_job_state(
        &self,
        id: i64,
        state: &str,
        message: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        self.write(|c| {
            let n = c.execute(
                "UPDATE vcd_jobs SET state = ?2, message = COALESCE(?3, message), updated_at = ?4,
                    progress = CASE WHEN ?2 = 'done' THEN 1.0 ELSE progress END
                 WHERE id = ?1 AND state IN ('queued', 'transcoding', 'authoring')",
                params![id, state, message, ts(at)],
            )?;
            Ok(n == 1)
        })
    }

    /// Records progress (0..1) and optionally the plan or the discs made.
    pub fn set_job_progress(
        &self,
        id: i64,
        progress: f64,
        plan: Option<&serde_json::Value>,
        discs: Option<&serde_json::Value>,
        at: DateTime<Utc>,
    ) -> Result<()> {
        self.write(|c| {
            c.execute(
                "UPDATE vcd_jobs SET progress = ?2, plan_json = COALESCE(?3, plan_json),
                    discs_json = COALESCE(?4, discs_json), updated_at = ?5 WHERE id = ?1",
                params![
                    id,
                    progress.clamp(0.0, 1.0),
                    plan.map(|p| p.to_string()),
                    discs.map(|d| d.to_string()),
                    ts(at)
                ],
            )?;
            Ok(())
        })
    }

    /// After a restart: unfinished running jobs are queued again, or fail after
    /// [`MAX_ATTEMPTS`] interruptions. Returns (requeued, failed).
    pub fn recover_jobs(&self, at: DateTime<Utc>) -> Result<(usize, usize)> {
        self.write(|c| {
            let tx = c.transaction()?;
            let failed = tx.execute(
                "UPDATE vcd_jobs SET state = 'failed', updated_at = ?2,
                    message = 'interrupted by restarts ' || (attempts + 1) || ' times; start it again if needed'
                 WHERE state IN ('transcoding', 'authoring') AND attempts + 1 >= ?1",
                params![MAX_ATTEMPTS, ts(at)],
            )?;
            let requeued = tx.execute(
                "UPDATE vcd_jobs SET state = 'queued', attempts = attempts + 1, progress = 0, updated_at = ?1,
                    message = 'interrupted by a restart; started again from the beginning'
                 WHERE state IN ('transcoding', 'authoring')",
                params![ts(at)],
            )?;
            tx.commit()?;
            Ok((requeued, failed))
        })
    }

    /// Adds a row to the disc register.
    pub fn record_disc(
        &self,
        d: &DiscRecord,
        at: DateTime<Utc>,
        trusted: bool,
    ) -> Result<DiscRecord> {
        if d.copies == 0 || d.recipient.trim().is_empty() || d.purpose.trim().is_empty() {
            return Err(StoreError::Invalid(
                "copies must be at least 1, and recipient and purpose must be given".into(),
            ));
        }
        let id = self.write(|c| {
            c.execute(
                "INSERT INTO disc_register (job_id, disc_no, titles, category, copies, recipient, purpose, made_at, clock_trusted, note)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    d.job_id,
                    d.disc_no,
                    d.titles,
                    d.category,
                    d.copies,
                    d.recipient.trim(),
                    d.purpose.trim(),
                    ts(at),
                    trusted,
                    d.note
                ],
            )?;
            Ok(c.last_insert_rowid())
        })?;
        let mut out = d.clone();
        out.id = id;
        out.made_at = ts(at);
        out.clock_trusted = trusted;
        Ok(out)
    }

    /// The disc register in a time range, after a cursor.
    pub fn disc_register(
        &self,
        from: Option<&str>,
        to: Option<&str>,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<DiscRecord>> {
        self.read(|c| {
            let mut st = c.prepare(
                "SELECT id, job_id, disc_no, titles, category, copies, recipient, purpose, made_at, clock_trusted, note
                 FROM disc_register WHERE (?1 IS NULL OR made_at >= ?1) AND (?2 IS NULL OR made_at < ?2)
                   AND (?3 IS NULL OR id > ?3) ORDER BY id LIMIT ?4",
            )?;
            let v = st
                .query_map(params![from, to, after, limit], |r| {
                    Ok(DiscRecord {
                        id: r.get(0)?,
                        job_id: r.get(1)?,
                        disc_no: r.get(2)?,
                        titles: r.get(3)?,
                        category: r.get(4)?,
                        copies: r.get(5)?,
                        recipient: r.get(6)?,
                        purpose: r.get(7)?,
                        made_at: r.get(8)?,
                        clock_trusted: r.get(9)?,
                        note: r.get(10)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(v)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn job_lifecycle_and_recovery() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(&d.path().join("x.sqlite3")).unwrap();
        let t = Utc.with_ymd_and_hms(2026, 10, 1, 1, 0, 0).unwrap();
        let j = s
            .create_job(
                &NewJob {
                    title: "蛋鸡".into(),
                    item_ids: vec![1, 2],
                    standard: "pal".into(),
                    disc_minutes: 74,
                    menu: true,
                },
                t,
                true,
            )
            .unwrap();
        assert_eq!(j.state, job_state::QUEUED);
        assert_eq!(s.next_queued_job().unwrap().unwrap().id, j.id);
        assert!(
            s.set_job_state(j.id, job_state::TRANSCODING, None, t)
                .unwrap()
        );
        // a restart finds it running: queued again, attempt counted
        assert_eq!(s.recover_jobs(t).unwrap(), (1, 0));
        let j2 = s.job(j.id).unwrap();
        assert_eq!((j2.state.as_str(), j2.attempts), ("queued", 1));
        for _ in 0..2 {
            s.set_job_state(j.id, job_state::AUTHORING, None, t)
                .unwrap();
            s.recover_jobs(t).unwrap();
        }
        let j3 = s.job(j.id).unwrap();
        assert_eq!(j3.state, "failed", "{j3:?}");
        assert!(j3.message.unwrap().contains("interrupted"));
        // a finished job cannot move again
        assert!(
            !s.set_job_state(j.id, job_state::CANCELLED, None, t)
                .unwrap()
        );
    }

    #[test]
    fn register_validates() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(&d.path().join("x.sqlite3")).unwrap();
        let t = Utc.with_ymd_and_hms(2026, 10, 1, 1, 0, 0).unwrap();
        let mut r = DiscRecord {
            id: 0,
            job_id: None,
            disc_no: 1,
            titles: "蛋鸡饲养".into(),
            category: "breeding".into(),
            copies: 3,
            recipient: "王家庄村".into(),
            purpose: "农民技术培训".into(),
            made_at: String::new(),
            clock_trusted: false,
            note: None,
        };
        assert!(s.record_disc(&r, t, true).unwrap().id > 0);
        r.recipient = " ".into();
        assert!(s.record_disc(&r, t, true).is_err());
        assert_eq!(s.disc_register(None, None, None, 10).unwrap().len(), 1);
    }
}
