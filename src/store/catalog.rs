//! Catalog queries: items (one per distinct content) and the drop folder's
//! files; recording an arrival writes the reception register too (its reads
//! live in [`super::register`]).
//!
//! Invariants: an item is keyed by the BLAKE3 of its bytes; a reception is keyed
//! by (path, mtime, size, hash), so re-scanning after a crash never counts the
//! same arrival twice; ingesting a file is one transaction (item, reception and
//! inbox row together), so a kill -9 leaves either all of it or none.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use serde::Serialize;

use super::{Result, Store, StoreError};
use crate::catalog::classify::Classification;
use crate::catalog::search;

/// RFC 3339 in UTC, the form every timestamp is stored in.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A complete, verified file ready to be recorded.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub path: Vec<u8>,
    pub path_display: String,
    pub title: String,
    pub size: u64,
    pub mtime_ns: i64,
    pub blake3: String,
    pub class: Classification,
    pub at: DateTime<Utc>,
    pub clock_trusted: bool,
    pub uptime_ms: u64,
}

/// What recording an arrival did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// A new item (new content).
    New(i64),
    /// Known content received again: a further reception of the item.
    Repeat(i64),
    /// This very arrival was already in the register (e.g. re-scan after a crash).
    Already(i64),
}

impl Recorded {
    pub fn item_id(self) -> i64 {
        match self {
            Recorded::New(i) | Recorded::Repeat(i) | Recorded::Already(i) => i,
        }
    }
}

/// States of a file in the drop folder.
pub mod file_state {
    pub const RECEIVING: &str = "receiving";
    pub const COMPLETE: &str = "complete";
    pub const BROKEN: &str = "broken";
    pub const GONE: &str = "gone";
    pub const PURGED: &str = "purged";
}

/// A drop-folder file's state to record.
#[derive(Debug, Clone)]
pub struct FileState {
    pub path: Vec<u8>,
    pub path_display: String,
    pub size: u64,
    pub mtime_ns: i64,
    pub state: String,
    pub note: Option<String>,
}

/// One row of `inbox_files`.
#[derive(Debug, Clone, Serialize)]
pub struct InboxFile {
    #[serde(skip)]
    pub path: Vec<u8>,
    #[serde(rename = "path")]
    pub path_display: String,
    pub size: u64,
    #[serde(skip)]
    pub mtime_ns: i64,
    pub state: String,
    pub item_id: Option<i64>,
    pub first_seen: String,
    pub updated: String,
    pub note: Option<String>,
}

impl InboxFile {
    fn from_row(r: &Row) -> rusqlite::Result<InboxFile> {
        Ok(InboxFile {
            path: r.get("path")?,
            path_display: r.get("path_display")?,
            size: r.get::<_, i64>("size")? as u64,
            mtime_ns: r.get("mtime_ns")?,
            state: r.get("state")?,
            item_id: r.get("item_id")?,
            first_seen: r.get("first_seen")?,
            updated: r.get("updated")?,
            note: r.get("note")?,
        })
    }
}

/// An item as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub id: i64,
    pub title: String,
    pub path: String,
    #[serde(skip)]
    pub path_bytes: Vec<u8>,
    pub size: u64,
    pub blake3: String,
    pub category: String,
    pub subject: Option<String>,
    pub grade: Option<String>,
    pub edition: Option<String>,
    pub kind: String,
    pub state: String,
    pub first_received: String,
    pub last_received: String,
    pub receptions: i64,
    pub kept: bool,
    pub library_path: Option<String>,
    #[serde(skip)]
    pub library_bytes: Option<Vec<u8>>,
    pub corrected: bool,
    pub uses: i64,
    pub media: Option<serde_json::Value>,
    pub media_error: Option<String>,
}

const ITEM_COLS: &str = "i.id, i.title, i.path, i.path_display, i.size, i.blake3, i.category, i.subject, \
    i.grade, i.edition, i.kind, i.state, i.first_received, i.last_received, i.receptions, i.kept, \
    i.library_path, i.corrected, i.uses, i.media_json, i.media_error";

impl Item {
    fn from_row(r: &Row) -> rusqlite::Result<Item> {
        let media: Option<String> = r.get("media_json")?;
        let library_bytes: Option<Vec<u8>> = r.get("library_path")?;
        Ok(Item {
            id: r.get("id")?,
            title: r.get("title")?,
            path_bytes: r.get("path")?,
            path: r.get("path_display")?,
            size: r.get::<_, i64>("size")? as u64,
            blake3: r.get("blake3")?,
            category: r.get("category")?,
            subject: r.get("subject")?,
            grade: r.get("grade")?,
            edition: r.get("edition")?,
            kind: r.get("kind")?,
            state: r.get("state")?,
            first_received: r.get("first_received")?,
            last_received: r.get("last_received")?,
            receptions: r.get("receptions")?,
            kept: r.get("kept")?,
            library_path: library_bytes.as_deref().map(crate::paths::display_bytes),
            library_bytes,
            corrected: r.get("corrected")?,
            uses: r.get("uses")?,
            media: media.and_then(|m| serde_json::from_str(&m).ok()),
            media_error: r.get("media_error")?,
        })
    }

    /// Where the item's bytes are on this PC: the drop folder while present,
    /// else the library copy when kept.
    pub fn file_on_pc(&self) -> Option<std::path::PathBuf> {
        let inbox = crate::paths::from_bytes(&self.path_bytes);
        if self.state == "present" && inbox.is_file() {
            return Some(inbox);
        }
        self.library_bytes
            .as_deref()
            .map(crate::paths::from_bytes)
            .filter(|p| p.is_file())
    }

    /// The text the search index holds for this item.
    pub fn search_text(&self) -> String {
        let mut s = format!("{} {}", self.title, self.path);
        for v in [&self.subject, &self.grade, &self.edition]
            .into_iter()
            .flatten()
        {
            s.push(' ');
            s.push_str(v);
        }
        s
    }
}

/// Filters for listing items; `after` is the keyset cursor (an item id). It is
/// also the shape of the API's query string (unknown parameters refused).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemQuery {
    pub q: Option<String>,
    pub category: Option<String>,
    pub subject: Option<String>,
    pub grade: Option<String>,
    pub state: Option<String>,
    pub kind: Option<String>,
    pub kept: Option<bool>,
    pub after: Option<i64>,
    #[serde(default = "default_limit")]
    pub limit: u32,
}

fn default_limit() -> u32 {
    50
}

/// One page of items, newest first; `next` is the cursor for the next page.
#[derive(Debug, Clone, Serialize)]
pub struct ItemPage {
    pub items: Vec<Item>,
    pub next: Option<i64>,
}

/// A technician's correction of an item's facts.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemPatch {
    pub title: Option<String>,
    pub category: Option<String>,
    pub subject: Option<String>,
    pub grade: Option<String>,
    pub edition: Option<String>,
}

/// The item a drop-folder file last held, if any.
fn file_item(tx: &Connection, path: &[u8]) -> rusqlite::Result<Option<i64>> {
    Ok(tx
        .query_row(
            "SELECT item_id FROM inbox_files WHERE path = ?1",
            [path],
            |r| r.get::<_, Option<i64>>(0),
        )
        .optional()?
        .flatten())
}

pub(super) fn refresh_item_state(tx: &Connection, item_id: i64) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE items SET state = CASE WHEN EXISTS (
            SELECT 1 FROM inbox_files f WHERE f.item_id = ?1 AND f.state = 'complete')
         THEN 'present' ELSE 'gone' END WHERE id = ?1",
        [item_id],
    )?;
    Ok(())
}

fn fts_replace(tx: &Connection, id: i64, text: &str) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM items_fts WHERE rowid = ?1", [id])?;
    tx.execute(
        "INSERT INTO items_fts (rowid, text) VALUES (?1, ?2)",
        params![id, search::index_text(text)],
    )?;
    tx.execute("DELETE FROM items_tri WHERE rowid = ?1", [id])?;
    tx.execute(
        "INSERT INTO items_tri (rowid, text) VALUES (?1, ?2)",
        params![id, text],
    )?;
    Ok(())
}

fn load_item(c: &Connection, id: i64) -> Result<Item> {
    c.query_row(
        &format!("SELECT {ITEM_COLS} FROM items i WHERE i.id = ?1"),
        [id],
        Item::from_row,
    )
    .optional()?
    .ok_or_else(|| StoreError::NotFound(format!("item {id}")))
}

impl Store {
    /// Records a complete, verified file: item, reception and inbox row in one
    /// transaction.
    pub fn record_arrival(&self, a: &Arrival) -> Result<Recorded> {
        self.write(|c| {
            let tx = c.transaction()?;
            let out = record_arrival_tx(&tx, a)?;
            tx.commit()?;
            Ok(out)
        })
    }

    /// Records many arrivals in one transaction (bulk import, benchmarks).
    pub fn record_arrivals(&self, all: &[Arrival]) -> Result<Vec<Recorded>> {
        self.write(|c| {
            let tx = c.transaction()?;
            let mut out = Vec::with_capacity(all.len());
            for a in all {
                out.push(record_arrival_tx(&tx, a)?);
            }
            tx.commit()?;
            Ok(out)
        })
    }

    /// Marks many files gone (or purged) in one transaction.
    pub fn mark_files(&self, paths: &[Vec<u8>], state: &str, now: DateTime<Utc>) -> Result<()> {
        let now = ts(now);
        self.write(|c| {
            let tx = c.transaction()?;
            for path in paths {
                let item = file_item(&tx, path)?;
                tx.execute(
                    "UPDATE inbox_files SET state = ?2, updated = ?3 WHERE path = ?1",
                    params![path, state, now],
                )?;
                if let Some(id) = item {
                    refresh_item_state(&tx, id)?;
                }
            }
            tx.commit()?;
            Ok(())
        })
    }

    /// The stored row of a drop-folder file, if any.
    pub fn inbox_file(&self, path: &[u8]) -> Result<Option<InboxFile>> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT * FROM inbox_files WHERE path = ?1",
                [path],
                InboxFile::from_row,
            )
            .optional()?)
        })
    }

    /// Marks a file as still receiving or broken (with a note).
    pub fn set_file_state(
        &self,
        path: &[u8],
        path_display: &str,
        (size, mtime_ns): (u64, i64),
        state: &str,
        note: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.set_file_states(
            &[FileState {
                path: path.to_vec(),
                path_display: path_display.to_string(),
                size,
                mtime_ns,
                state: state.to_string(),
                note: note.map(str::to_string),
            }],
            now,
        )
    }

    /// Records many files' states (receiving, broken) in one transaction.
    pub fn set_file_states(&self, files: &[FileState], now: DateTime<Utc>) -> Result<()> {
        let now = ts(now);
        self.write(|c| {
            let tx = c.transaction()?;
            for f in files {
                let old_item = file_item(&tx, &f.path)?;
                tx.execute(
                    "INSERT INTO inbox_files (path, path_display, size, mtime_ns, state, item_id, first_seen, updated, note)
                     VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6, ?6, ?7)
                     ON CONFLICT(path) DO UPDATE SET path_display = ?2, size = ?3, mtime_ns = ?4,
                        state = ?5, updated = ?6, note = ?7,
                        item_id = CASE WHEN ?5 IN ('gone', 'purged') THEN item_id ELSE NULL END",
                    params![f.path, f.path_display, f.size as i64, f.mtime_ns, f.state, now, f.note],
                )?;
                if let Some(item) = old_item {
                    refresh_item_state(&tx, item)?;
                }
            }
            tx.commit()?;
            Ok(())
        })
    }

    /// Size, mtime and state of every drop-folder file believed present, by
    /// path: what a full scan compares the folder with.
    pub fn live_inbox_index(&self) -> Result<HashMap<Vec<u8>, (u64, i64, String)>> {
        self.read(|c| {
            let mut st = c.prepare(
                "SELECT path, size, mtime_ns, state FROM inbox_files
                 WHERE state IN ('receiving', 'complete', 'broken')",
            )?;
            let rows = st
                .query_map([], |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        (r.get::<_, i64>(1)? as u64, r.get(2)?, r.get(3)?),
                    ))
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
    }

    /// Paths of drop-folder files believed present at `prefix` or below it (a
    /// range on the primary key, not a scan of the table).
    pub fn live_paths_under(&self, prefix: &[u8]) -> Result<Vec<Vec<u8>>> {
        let mut lo = prefix.to_vec();
        lo.push(b'/');
        let mut hi = prefix.to_vec();
        hi.push(b'/' + 1);
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT path FROM inbox_files
                 WHERE state IN ('receiving', 'complete', 'broken')
                   AND (path = ?1 OR (path >= ?2 AND path < ?3))",
            )?;
            let v = st
                .query_map(params![prefix, lo, hi], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(v)
        })
    }

    /// Marks a file gone (vanished) or purged; its item stays, its receptions too.
    pub fn mark_file(&self, path: &[u8], state: &str, now: DateTime<Utc>) -> Result<()> {
        self.mark_files(&[path.to_vec()], state, now)
    }

    /// Files in a state (receiving, broken, ...), newest first.
    pub fn inbox_files(&self, state: Option<&str>, limit: u32) -> Result<Vec<InboxFile>> {
        self.read(|c| {
            let mut st = c.prepare(
                "SELECT * FROM inbox_files WHERE (?1 IS NULL OR state = ?1)
                 ORDER BY updated DESC LIMIT ?2",
            )?;
            let v = st
                .query_map(params![state, limit], InboxFile::from_row)?
                .collect::<rusqlite::Result<_>>()?;
            Ok(v)
        })
    }

    /// One item.
    pub fn item(&self, id: i64) -> Result<Item> {
        self.read(|c| load_item(c, id))
    }

    /// A page of items matching the query, newest first.
    pub fn items(&self, q: &ItemQuery) -> Result<ItemPage> {
        let limit = q.limit.clamp(1, 500);
        let plan = search::plan(q.q.as_deref().unwrap_or(""));
        if q.q.as_deref().is_some_and(|s| !s.trim().is_empty()) && plan.is_empty() {
            return Ok(ItemPage {
                items: vec![],
                next: None,
            });
        }
        let fts = !plan.is_empty();
        let mut sql = String::new();
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(uni) = &plan.unigram {
            sql.push_str(&format!(
                "SELECT {ITEM_COLS} FROM items_fts f JOIN items i ON i.id = f.rowid WHERE items_fts MATCH ?"
            ));
            args.push(uni.clone().into());
        } else if let Some(tri) = &plan.trigram {
            sql.push_str(&format!(
                "SELECT {ITEM_COLS} FROM items_tri f JOIN items i ON i.id = f.rowid WHERE items_tri MATCH ?"
            ));
            args.push(tri.clone().into());
        } else {
            sql.push_str(&format!("SELECT {ITEM_COLS} FROM items i WHERE 1"));
        }
        let mut filter = |col: &str, v: &Option<String>| {
            if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
                sql.push_str(&format!(" AND i.{col} = ?"));
                args.push(v.clone().into());
            }
        };
        filter("category", &q.category);
        filter("subject", &q.subject);
        filter("grade", &q.grade);
        filter("state", &q.state);
        filter("kind", &q.kind);
        if let Some(k) = q.kept {
            sql.push_str(" AND i.kept = ?");
            args.push((k as i64).into());
        }
        let idcol = if fts { "f.rowid" } else { "i.id" };
        if let Some(after) = q.after {
            sql.push_str(&format!(" AND {idcol} < ?"));
            args.push(after.into());
        }
        sql.push_str(&format!(" ORDER BY {idcol} DESC LIMIT ?"));
        args.push((limit as i64 + 1).into());
        self.read(|c| {
            let mut st = c.prepare_cached(&sql)?;
            let mut items: Vec<Item> = st
                .query_map(rusqlite::params_from_iter(args.iter()), Item::from_row)?
                .collect::<rusqlite::Result<_>>()?;
            let next = if items.len() > limit as usize {
                items.truncate(limit as usize);
                items.last().map(|i| i.id)
            } else {
                None
            };
            Ok(ItemPage { items, next })
        })
    }

    /// Applies a technician's correction; corrected items keep their values.
    pub fn patch_item(&self, id: i64, p: &ItemPatch) -> Result<Item> {
        if let Some(t) = &p.title
            && t.trim().is_empty()
        {
            return Err(StoreError::Invalid("title must not be empty".into()));
        }
        self.write(|c| {
            let tx = c.transaction()?;
            load_item(&tx, id)?;
            let opt = |v: &Option<String>| v.as_ref().map(|s| s.trim().to_string());
            let blank_null = |v: &Option<String>| {
                v.as_ref()
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
            };
            tx.execute(
                "UPDATE items SET
                    title = COALESCE(?2, title),
                    category = COALESCE(?3, category),
                    subject = CASE WHEN ?4 THEN ?5 ELSE subject END,
                    grade = CASE WHEN ?6 THEN ?7 ELSE grade END,
                    edition = CASE WHEN ?8 THEN ?9 ELSE edition END,
                    corrected = 1
                 WHERE id = ?1",
                params![
                    id,
                    opt(&p.title),
                    opt(&p.category),
                    p.subject.is_some(),
                    blank_null(&p.subject),
                    p.grade.is_some(),
                    blank_null(&p.grade),
                    p.edition.is_some(),
                    blank_null(&p.edition),
                ],
            )?;
            let item = load_item(&tx, id)?;
            fts_replace(&tx, id, &item.search_text())?;
            tx.commit()?;
            Ok(item)
        })
    }

    /// Records that an item is in the library.
    pub fn set_kept(&self, id: i64, library_path: &[u8], now: DateTime<Utc>) -> Result<()> {
        self.write(|c| {
            c.execute(
                "UPDATE items SET kept = 1, library_path = ?2, kept_at = ?3 WHERE id = ?1",
                params![id, library_path, ts(now)],
            )?;
            Ok(())
        })
    }

    /// Counts a use (a download for teaching, a lesson).
    pub fn add_use(&self, id: i64) -> Result<()> {
        self.write(|c| {
            c.execute("UPDATE items SET uses = uses + 1 WHERE id = ?1", [id])?;
            Ok(())
        })
    }

    /// Items whose media facts are not known yet.
    pub fn items_to_probe(&self, limit: u32) -> Result<Vec<(i64, Vec<u8>, String)>> {
        self.read(|c| {
            let mut st = c.prepare(
                "SELECT id, path, kind FROM items WHERE probed = 0 AND state = 'present' ORDER BY id LIMIT ?1",
            )?;
            let v = st
                .query_map([limit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(v)
        })
    }

    /// Stores media facts (or the probe's error) for an item.
    pub fn set_media(
        &self,
        id: i64,
        media: Option<&serde_json::Value>,
        error: Option<&str>,
    ) -> Result<()> {
        self.write(|c| {
            c.execute(
                "UPDATE items SET media_json = ?2, media_error = ?3, probed = 1 WHERE id = ?1",
                params![id, media.map(|m| m.to_string()), error],
            )?;
            Ok(())
        })
    }
}

fn record_arrival_tx(tx: &Transaction, a: &Arrival) -> Result<Recorded> {
    let at = ts(a.at);
    let existing_reception: Option<i64> = tx
        .query_row(
            "SELECT item_id FROM receptions WHERE path = ?1 AND mtime_ns = ?2 AND size = ?3 AND blake3 = ?4",
            params![a.path, a.mtime_ns, a.size as i64, a.blake3],
            |r| r.get(0),
        )
        .optional()?;
    let previous_item = file_item(tx, &a.path)?;
    let (item_id, outcome) = if let Some(id) = existing_reception {
        (id, Recorded::Already(id))
    } else {
        let existing_item: Option<i64> = tx
            .query_row("SELECT id FROM items WHERE blake3 = ?1", [&a.blake3], |r| {
                r.get(0)
            })
            .optional()?;
        let (id, outcome) = match existing_item {
            Some(id) => {
                tx.execute(
                    "UPDATE items SET last_received = ?2, receptions = receptions + 1,
                        path = ?3, path_display = ?4 WHERE id = ?1",
                    params![id, at, a.path, a.path_display],
                )?;
                (id, Recorded::Repeat(id))
            }
            None => {
                tx.execute(
                    "INSERT INTO items (blake3, size, title, path, path_display, category, subject, grade,
                        edition, kind, state, first_received, last_received, receptions)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'present', ?11, ?11, 1)",
                    params![
                        a.blake3,
                        a.size as i64,
                        a.title,
                        a.path,
                        a.path_display,
                        a.class.category,
                        a.class.subject,
                        a.class.grade,
                        a.class.edition,
                        a.class.kind,
                        at
                    ],
                )?;
                let id = tx.last_insert_rowid();
                (id, Recorded::New(id))
            }
        };
        tx.execute(
            "INSERT INTO receptions (item_id, received_at, clock_trusted, uptime_ms, path, path_display,
                size, mtime_ns, blake3) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                id,
                at,
                a.clock_trusted,
                a.uptime_ms as i64,
                a.path,
                a.path_display,
                a.size as i64,
                a.mtime_ns,
                a.blake3
            ],
        )?;
        (id, outcome)
    };
    tx.execute(
        "INSERT INTO inbox_files (path, path_display, size, mtime_ns, state, item_id, first_seen, updated, note)
         VALUES (?1, ?2, ?3, ?4, 'complete', ?5, ?6, ?6, NULL)
         ON CONFLICT(path) DO UPDATE SET path_display = ?2, size = ?3, mtime_ns = ?4,
            state = 'complete', item_id = ?5, updated = ?6, note = NULL",
        params![a.path, a.path_display, a.size as i64, a.mtime_ns, item_id, at],
    )?;
    refresh_item_state(tx, item_id)?;
    if let Some(prev) = previous_item
        && prev != item_id
    {
        refresh_item_state(tx, prev)?;
    }
    if matches!(outcome, Recorded::New(_)) {
        let item = load_item(tx, item_id)?;
        fts_replace(tx, item_id, &item.search_text())?;
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::classify::ClassifyConfig;
    use chrono::TimeZone;

    fn store() -> (tempfile::TempDir, Store) {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(&d.path().join("x.sqlite3")).unwrap();
        (d, s)
    }

    fn arrival(path: &str, hash: &str, mtime: i64) -> Arrival {
        Arrival {
            path: path.as_bytes().to_vec(),
            path_display: path.into(),
            title: path.rsplit('/').next().unwrap().into(),
            size: 10,
            mtime_ns: mtime,
            blake3: hash.into(),
            class: ClassifyConfig::default().classify(path),
            at: Utc.with_ymd_and_hms(2026, 9, 1, 2, 0, 0).unwrap(),
            clock_trusted: true,
            uptime_ms: 5,
        }
    }

    #[test]
    fn repeat_broadcast_is_one_item_two_receptions() {
        let (_d, s) = store();
        let a = s
            .record_arrival(&arrival("同步课堂/语文/a.mp4", "h1", 1))
            .unwrap();
        let b = s
            .record_arrival(&arrival("同步课堂/语文/a.mp4", "h1", 2))
            .unwrap();
        assert!(matches!(a, Recorded::New(_)));
        assert_eq!(b, Recorded::Repeat(a.item_id()));
        let again = s
            .record_arrival(&arrival("同步课堂/语文/a.mp4", "h1", 2))
            .unwrap();
        assert_eq!(again, Recorded::Already(a.item_id()));
        assert_eq!(s.item(a.item_id()).unwrap().receptions, 2);
        assert_eq!(s.counts().unwrap().receptions, 2);
    }

    #[test]
    fn same_name_new_content_is_new_item_old_gone() {
        let (_d, s) = store();
        let a = s.record_arrival(&arrival("x/a.mp4", "h1", 1)).unwrap();
        let b = s.record_arrival(&arrival("x/a.mp4", "h2", 2)).unwrap();
        assert_ne!(a.item_id(), b.item_id());
        assert_eq!(s.item(a.item_id()).unwrap().state, "gone");
        assert_eq!(s.item(b.item_id()).unwrap().state, "present");
    }

    #[test]
    fn search_finds_one_and_two_char_chinese_terms() {
        let (_d, s) = store();
        let a = s
            .record_arrival(&arrival("农业技术/养殖/蛋鸡饲养管理.mp4", "h1", 1))
            .unwrap();
        s.record_arrival(&arrival("同步课堂/三年级/语文/秋天的雨.rmvb", "h2", 1))
            .unwrap();
        let q = |t: &str| {
            s.items(&ItemQuery {
                q: Some(t.into()),
                limit: 50,
                ..Default::default()
            })
            .unwrap()
            .items
            .len()
        };
        assert_eq!(q("鸡"), 1);
        assert_eq!(q("语文"), 1);
        assert_eq!(q("秋天的雨"), 1);
        assert_eq!(q("天秋"), 0);
        assert_eq!(q("rmv"), 1);
        assert_eq!(q("mvb"), 1, "Latin infix");
        assert_eq!(q("天的雨"), 1, "Chinese infix of three");
        assert_eq!(q("同步 语文"), 1);
        let p = s
            .patch_item(
                a.item_id(),
                &ItemPatch {
                    title: Some("肉牛育肥".into()),
                    ..Default::default()
                },
            )
            .unwrap();
        assert!(p.corrected);
        assert_eq!(q("肉牛"), 1);
    }

    #[test]
    fn live_paths_under_a_folder_only() {
        let (_d, s) = store();
        for (p, h) in [
            ("/in/a/x.mp4", "h1"),
            ("/in/a/b/y.mp4", "h2"),
            ("/in/ab.mp4", "h3"),
            ("/in/a", "h4"),
        ] {
            s.record_arrival(&arrival(p, h, 1)).unwrap();
        }
        let mut v = s.live_paths_under(b"/in/a").unwrap();
        v.sort();
        assert_eq!(
            v,
            [
                b"/in/a".to_vec(),
                b"/in/a/b/y.mp4".to_vec(),
                b"/in/a/x.mp4".to_vec()
            ]
        );
        assert_eq!(s.live_inbox_index().unwrap().len(), 4);
    }

    #[test]
    fn only_trusted_rows_seed_clock_trust() {
        let (_d, s) = store();
        let mut future = arrival("a.mp4", "h1", 1);
        future.at = Utc.with_ymd_and_hms(2031, 1, 1, 0, 0, 0).unwrap();
        future.clock_trusted = false;
        s.record_arrival(&future).unwrap();
        assert_eq!(s.newest_timestamp().unwrap(), None);
        s.record_arrival(&arrival("b.mp4", "h2", 1)).unwrap();
        assert_eq!(
            s.newest_timestamp().unwrap().as_deref(),
            Some("2026-09-01T02:00:00.000Z")
        );
    }

    #[test]
    fn keyset_paging_walks_everything_once() {
        let (_d, s) = store();
        for i in 0..25 {
            s.record_arrival(&arrival(&format!("课程/f{i}.mp4"), &format!("h{i}"), 1))
                .unwrap();
        }
        let mut seen = vec![];
        let mut after = None;
        loop {
            let p = s
                .items(&ItemQuery {
                    after,
                    limit: 10,
                    ..Default::default()
                })
                .unwrap();
            seen.extend(p.items.iter().map(|i| i.id));
            match p.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        assert_eq!(seen.len(), 25);
        let mut sorted = seen.clone();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(seen, sorted);
    }
}
