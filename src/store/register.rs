//! The registers kept beside the catalog: the reception register (节目接收登记)
//! as rows and counts, and the purge record of the disk guard. Receptions are
//! written with their item in [`super::catalog`]; this module reads them.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::catalog::{refresh_item_state, ts};
use super::{Result, Store};
use crate::store::catalog::file_state;

/// One row of the reception register.
#[derive(Debug, Clone, Serialize)]
pub struct Reception {
    pub id: i64,
    pub item_id: i64,
    pub received_at: String,
    pub clock_trusted: bool,
    pub path: String,
    pub size: u64,
    pub blake3: String,
    pub title: String,
    pub category: String,
    pub subject: Option<String>,
    pub grade: Option<String>,
    pub kind: String,
}

/// A file the disk guard may delete, with what the policy orders by.
#[derive(Debug, Clone, Serialize)]
pub struct PurgeCandidate {
    #[serde(skip)]
    pub path: Vec<u8>,
    #[serde(rename = "path")]
    pub path_display: String,
    pub size: u64,
    pub state: String,
    pub item_id: Option<i64>,
    pub kept: bool,
    pub uses: i64,
    pub last_received: Option<String>,
}

/// Counts for the health endpoint and the page.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub items: i64,
    pub items_present: i64,
    pub items_gone: i64,
    pub kept: i64,
    pub receptions: i64,
    pub files_receiving: i64,
    pub files_complete: i64,
    pub files_broken: i64,
    pub files_gone: i64,
    pub purges: i64,
    pub last_reception: Option<String>,
}

impl Store {
    /// The newest receptions, newest first.
    pub fn recent_receptions(&self, limit: u32) -> Result<Vec<Reception>> {
        self.reception_rows(
            "WHERE 1 ORDER BY r.id DESC LIMIT ?4",
            params![None::<String>, None::<String>, None::<i64>, limit],
        )
    }

    fn reception_rows(&self, tail: &str, args: impl rusqlite::Params) -> Result<Vec<Reception>> {
        let sql = format!(
            "SELECT r.id, r.item_id, r.received_at, r.clock_trusted, r.path_display, r.size, r.blake3,
                    i.title, i.category, i.subject, i.grade, i.kind
             FROM receptions r JOIN items i ON i.id = r.item_id {tail}"
        );
        self.read(|c| {
            let mut st = c.prepare_cached(&sql)?;
            let v = st
                .query_map(args, |r| {
                    Ok(Reception {
                        id: r.get(0)?,
                        item_id: r.get(1)?,
                        received_at: r.get(2)?,
                        clock_trusted: r.get(3)?,
                        path: r.get(4)?,
                        size: r.get::<_, i64>(5)? as u64,
                        blake3: r.get(6)?,
                        title: r.get(7)?,
                        category: r.get(8)?,
                        subject: r.get(9)?,
                        grade: r.get(10)?,
                        kind: r.get(11)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(v)
        })
    }

    /// The reception register between two instants (UTC RFC 3339), after a cursor.
    pub fn receptions(
        &self,
        from: Option<&str>,
        to: Option<&str>,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Reception>> {
        self.reception_rows(
            "WHERE (?1 IS NULL OR r.received_at >= ?1) AND (?2 IS NULL OR r.received_at < ?2)
               AND (?3 IS NULL OR r.id > ?3) ORDER BY r.id LIMIT ?4",
            params![from, to, after, limit],
        )
    }

    /// Receptions written under an untrusted clock in [from, to) (UTC, stored form).
    pub fn untrusted_receptions(&self, from: &str, to: &str) -> Result<usize> {
        self.read(|c| {
            let n: i64 = c.query_row(
                "SELECT COUNT(*) FROM receptions
                 WHERE NOT clock_trusted AND received_at >= ?1 AND received_at < ?2",
                params![from, to],
                |r| r.get(0),
            )?;
            Ok(n as usize)
        })
    }

    /// Counts by state, for health and the page.
    pub fn counts(&self) -> Result<Counts> {
        self.read(|c| {
            let mut n = Counts::default();
            c.query_row(
                "SELECT COUNT(*), COALESCE(SUM(state = 'present'), 0), COALESCE(SUM(state = 'gone'), 0),
                        COALESCE(SUM(kept), 0) FROM items",
                [],
                |r| {
                    n.items = r.get(0)?;
                    n.items_present = r.get(1)?;
                    n.items_gone = r.get(2)?;
                    n.kept = r.get(3)?;
                    Ok(())
                },
            )?;
            let mut st = c.prepare("SELECT state, COUNT(*) FROM inbox_files GROUP BY state")?;
            let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
            for row in rows {
                let (s, k) = row?;
                match s.as_str() {
                    file_state::RECEIVING => n.files_receiving = k,
                    file_state::COMPLETE => n.files_complete = k,
                    file_state::BROKEN => n.files_broken = k,
                    file_state::GONE => n.files_gone = k,
                    _ => {}
                }
            }
            n.receptions = c.query_row("SELECT COUNT(*) FROM receptions", [], |r| r.get(0))?;
            n.purges = c.query_row("SELECT COUNT(*) FROM purges", [], |r| r.get(0))?;
            n.last_reception = c
                .query_row(
                    "SELECT received_at FROM receptions ORDER BY id DESC LIMIT 1",
                    [],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(n)
        })
    }

    /// Files the disk guard may delete, in the order it deletes them: broken
    /// files, then files already in the library, then never-used, then oldest.
    pub fn purge_candidates(&self) -> Result<Vec<PurgeCandidate>> {
        self.read(|c| {
            let mut st = c.prepare(
                "SELECT f.path, f.path_display, f.size, f.state, f.item_id,
                        COALESCE(i.kept, 0), COALESCE(i.uses, 0), i.last_received
                 FROM inbox_files f LEFT JOIN items i ON i.id = f.item_id
                 WHERE f.state IN ('complete', 'broken')
                 ORDER BY (f.state = 'broken') DESC, COALESCE(i.kept, 0) DESC,
                          (COALESCE(i.uses, 0) = 0) DESC, COALESCE(i.last_received, f.updated) ASC",
            )?;
            let v = st
                .query_map([], |r| {
                    Ok(PurgeCandidate {
                        path: r.get(0)?,
                        path_display: r.get(1)?,
                        size: r.get::<_, i64>(2)? as u64,
                        state: r.get(3)?,
                        item_id: r.get(4)?,
                        kept: r.get(5)?,
                        uses: r.get(6)?,
                        last_received: r.get(7)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(v)
        })
    }

    /// Records one purge and marks the file purged, in one transaction.
    pub fn record_purge(
        &self,
        cand: &PurgeCandidate,
        reason: &str,
        free_before: u64,
        at: DateTime<Utc>,
        clock_trusted: bool,
    ) -> Result<()> {
        self.write(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "INSERT INTO purges (at, clock_trusted, path, path_display, size, item_id, reason, free_before)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    ts(at),
                    clock_trusted,
                    cand.path,
                    cand.path_display,
                    cand.size as i64,
                    cand.item_id,
                    reason,
                    free_before as i64
                ],
            )?;
            tx.execute(
                "UPDATE inbox_files SET state = 'purged', updated = ?2 WHERE path = ?1",
                params![cand.path, ts(at)],
            )?;
            if let Some(id) = cand.item_id {
                refresh_item_state(&tx, id)?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    /// The newest timestamp written under a trusted clock, to seed clock trust
    /// after a restart (untrusted rows must not become the reference).
    pub fn newest_timestamp(&self) -> Result<Option<String>> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT MAX(received_at) FROM receptions WHERE clock_trusted",
                [],
                |r| r.get(0),
            )?)
        })
    }
}
