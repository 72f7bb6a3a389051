//! Equipment tables: state intervals, lamp hours, the lesson log, and the
//! imported calendar and reception-plan documents.
//!
//! Timestamps are stored as RFC 3339 UTC with milliseconds and a `Z`
//! (`2026-09-01T00:00:00.000Z`), so text order is time order.

use std::collections::HashSet;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use super::{Result, Store, StoreError};
use crate::equipment::State;

/// A timestamp as stored.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses a stored timestamp (any RFC 3339 form).
pub fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

fn col_ts(r: &Row, i: usize) -> rusqlite::Result<DateTime<Utc>> {
    let s: String = r.get(i)?;
    parse_ts(&s).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            format!("not an RFC 3339 time: {s:?}").into(),
        )
    })
}

fn col_ts_opt(r: &Row, i: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    let s: Option<String> = r.get(i)?;
    Ok(s.as_deref().and_then(parse_ts))
}

/// One stored state interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntervalRow {
    pub id: i64,
    pub device_id: String,
    pub state: State,
    pub detail: String,
    pub start_at: DateTime<Utc>,
    /// `None` while open.
    pub end_at: Option<DateTime<Utc>>,
    pub last_seen: DateTime<Utc>,
    pub clock_trusted: bool,
    pub closed_by: Option<String>,
}

impl IntervalRow {
    /// The end for reports: the close time, or the last-seen time while open.
    pub fn effective_end(&self) -> DateTime<Utc> {
        self.end_at.unwrap_or(self.last_seen)
    }
}

const INTERVAL_COLS: &str =
    "id, device_id, state, detail, start_at, end_at, last_seen, clock_trusted, closed_by";

fn interval_row(r: &Row) -> rusqlite::Result<IntervalRow> {
    let state: String = r.get(2)?;
    Ok(IntervalRow {
        id: r.get(0)?,
        device_id: r.get(1)?,
        state: State::parse(&state).unwrap_or(State::Unknown),
        detail: r.get(3)?,
        start_at: col_ts(r, 4)?,
        end_at: col_ts_opt(r, 5)?,
        last_seen: col_ts(r, 6)?,
        clock_trusted: r.get(7)?,
        closed_by: r.get(8)?,
    })
}

/// One lamp-hours reading (one per device and UTC day).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LampRow {
    pub device_id: String,
    pub day: String,
    pub hours: u64,
    pub at: DateTime<Utc>,
    pub clock_trusted: bool,
}

/// (device, state, detail, last seen) of a device's newest interval.
pub type LatestState = (String, State, String, DateTime<Utc>);

/// A lesson to record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewLesson {
    pub room: String,
    pub period: Option<String>,
    pub start_at: DateTime<Utc>,
    pub end_at: DateTime<Utc>,
    pub teacher: String,
    pub class: String,
    pub subject: String,
    pub note: String,
    pub items: Vec<i64>,
}

/// A recorded lesson.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LessonRow {
    pub id: i64,
    #[serde(flatten)]
    pub lesson: NewLesson,
    pub created_at: DateTime<Utc>,
    pub clock_trusted: bool,
}

/// What happened to a lesson that was posted.
#[derive(Debug, Clone, PartialEq)]
pub enum LessonOutcome {
    Created(i64),
    /// The same lesson (room, times, teacher, class) was already recorded.
    Duplicate(i64),
    /// Another lesson in the same room overlaps it.
    Overlaps(Box<LessonRow>),
}

/// Filter for listing lessons.
#[derive(Debug, Clone, Default)]
pub struct LessonFilter {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub room: Option<String>,
    pub teacher: Option<String>,
    pub class: Option<String>,
    pub subject: Option<String>,
    pub item: Option<i64>,
    pub after: Option<i64>,
    pub limit: Option<usize>,
}

/// A catalog item as the rates need it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemFact {
    pub id: i64,
    pub title: String,
    pub category: String,
    pub first_received: Option<DateTime<Utc>>,
}

const LESSON_COLS: &str =
    "id, room, period, start_at, end_at, teacher, class, subject, note, created_at, clock_trusted";

fn lesson_row(r: &Row) -> rusqlite::Result<LessonRow> {
    Ok(LessonRow {
        id: r.get(0)?,
        lesson: NewLesson {
            room: r.get(1)?,
            period: r.get(2)?,
            start_at: col_ts(r, 3)?,
            end_at: col_ts(r, 4)?,
            teacher: r.get(5)?,
            class: r.get(6)?,
            subject: r.get(7)?,
            note: r.get(8)?,
            items: Vec::new(),
        },
        created_at: col_ts(r, 9)?,
        clock_trusted: r.get(10)?,
    })
}

fn fill_items(c: &rusqlite::Connection, rows: &mut [LessonRow]) -> Result<()> {
    let mut stmt =
        c.prepare_cached("SELECT item_id FROM lesson_items WHERE lesson_id = ?1 ORDER BY item_id")?;
    for l in rows {
        l.lesson.items = stmt
            .query_map([l.id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
    }
    Ok(())
}

impl Store {
    /// Closes intervals left open by a run that ended without closing them
    /// (kill -9, power cut) at their last-seen time. Returns how many.
    pub fn equip_recover(&self) -> Result<usize> {
        self.write(|c| {
            Ok(c.execute(
                "UPDATE equipment_intervals SET end_at = last_seen, closed_by = 'restart'
                 WHERE end_at IS NULL",
                [],
            )?)
        })
    }

    /// The newest time written to the intervals (to seed clock trust).
    pub fn equip_latest_time(&self) -> Result<Option<DateTime<Utc>>> {
        self.read(|c| {
            let s: Option<String> = c.query_row(
                "SELECT max(max(last_seen, coalesce(end_at, ''))) FROM equipment_intervals
                 WHERE clock_trusted = 1",
                [],
                |r| r.get(0),
            )?;
            Ok(s.as_deref().and_then(parse_ts))
        })
    }

    /// The newest time recorded for one device.
    pub fn equip_device_latest_time(&self, device: &str) -> Result<Option<DateTime<Utc>>> {
        self.read(|c| {
            let s: Option<String> = c.query_row(
                "SELECT max(max(last_seen, coalesce(end_at, ''))) FROM equipment_intervals
                 WHERE device_id = ?1",
                [device],
                |r| r.get(0),
            )?;
            Ok(s.as_deref().and_then(parse_ts))
        })
    }

    /// Closes `prev` (if any) and opens a new interval, in one transaction.
    pub fn equip_change(
        &self,
        device: &str,
        prev: Option<i64>,
        state: State,
        detail: &str,
        at: DateTime<Utc>,
        trusted: bool,
    ) -> Result<i64> {
        let at = ts(at);
        self.write(|c| {
            let tx = c.transaction()?;
            if let Some(p) = prev {
                tx.execute(
                    "UPDATE equipment_intervals SET end_at = ?2, last_seen = ?2,
                     closed_by = 'change', clock_trusted = clock_trusted AND ?3
                     WHERE id = ?1 AND end_at IS NULL",
                    params![p, at, trusted],
                )?;
            }
            // Anything else still open for the device (should not happen) is closed too.
            tx.execute(
                "UPDATE equipment_intervals SET end_at = last_seen, closed_by = 'restart'
                 WHERE device_id = ?1 AND end_at IS NULL",
                [device],
            )?;
            tx.execute(
                "INSERT INTO equipment_intervals
                 (device_id, state, detail, start_at, last_seen, clock_trusted)
                 VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
                params![device, state.as_str(), detail, at, trusted],
            )?;
            let id = tx.last_insert_rowid();
            tx.commit()?;
            Ok(id)
        })
    }

    /// Refreshes the open interval's last-seen time and detail.
    pub fn equip_touch(&self, id: i64, at: DateTime<Utc>, detail: &str) -> Result<()> {
        self.write(|c| {
            c.execute(
                "UPDATE equipment_intervals SET last_seen = max(last_seen, ?2), detail = ?3
                 WHERE id = ?1 AND end_at IS NULL",
                params![id, ts(at), detail],
            )?;
            Ok(())
        })
    }

    /// Closes an open interval.
    pub fn equip_close(&self, id: i64, at: DateTime<Utc>, trusted: bool, by: &str) -> Result<()> {
        self.write(|c| {
            c.execute(
                "UPDATE equipment_intervals SET end_at = ?2, last_seen = ?2, closed_by = ?4,
                 clock_trusted = clock_trusted AND ?3
                 WHERE id = ?1 AND end_at IS NULL",
                params![id, ts(at), trusted, by],
            )?;
            Ok(())
        })
    }

    /// Records the day's lamp-hours reading (the latest of the day wins).
    pub fn equip_lamp(
        &self,
        device: &str,
        hours: u64,
        at: DateTime<Utc>,
        trusted: bool,
    ) -> Result<()> {
        self.write(|c| {
            c.execute(
                "INSERT INTO equipment_lamp (device_id, day, hours, at, clock_trusted)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (device_id, day) DO UPDATE SET hours = ?3, at = ?4, clock_trusted = ?5",
                params![device, at.format("%Y-%m-%d").to_string(), hours as i64, ts(at), trusted],
            )?;
            Ok(())
        })
    }

    /// Intervals overlapping [from, to), optionally of one device, by device then start.
    pub fn equip_intervals(
        &self,
        device: Option<&str>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<IntervalRow>> {
        self.read(|c| {
            let sql = format!(
                "SELECT {INTERVAL_COLS} FROM equipment_intervals
                 WHERE start_at < ?2 AND coalesce(end_at, last_seen) >= ?1
                   AND (?3 IS NULL OR device_id = ?3)
                 ORDER BY device_id, start_at, id"
            );
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt
                .query_map(params![ts(from), ts(to), device], interval_row)?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
    }

    /// A page of intervals overlapping [from, to) with id > `after`, by id.
    pub fn equip_intervals_page(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        after: i64,
        limit: usize,
    ) -> Result<Vec<IntervalRow>> {
        self.read(|c| {
            let sql = format!(
                "SELECT {INTERVAL_COLS} FROM equipment_intervals
                 WHERE id > ?3 AND start_at < ?2 AND coalesce(end_at, last_seen) >= ?1
                 ORDER BY id LIMIT ?4"
            );
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt
                .query_map(params![ts(from), ts(to), after, limit as i64], interval_row)?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
    }

    /// Lamp readings in [from, to).
    pub fn equip_lamp_rows(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<LampRow>> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT device_id, day, hours, at, clock_trusted FROM equipment_lamp
                 WHERE at >= ?1 AND at < ?2 ORDER BY device_id, day",
            )?;
            let rows = stmt
                .query_map(params![ts(from), ts(to)], |r| {
                    Ok(LampRow {
                        device_id: r.get(0)?,
                        day: r.get(1)?,
                        hours: r.get::<_, i64>(2)? as u64,
                        at: col_ts(r, 3)?,
                        clock_trusted: r.get(4)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
    }

    /// Catalog item ids among `ids` that do not exist.
    pub fn missing_items(&self, ids: &[i64]) -> Result<Vec<i64>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT 1 FROM items WHERE id = ?1")?;
            let mut missing = Vec::new();
            for &id in ids {
                if stmt.query_row([id], |_| Ok(())).optional()?.is_none() {
                    missing.push(id);
                }
            }
            Ok(missing)
        })
    }

    /// Records a lesson unless it duplicates or overlaps one in the same room.
    /// Item ids must exist (check with [`Store::missing_items`] first).
    pub fn insert_lesson(
        &self,
        l: &NewLesson,
        now: DateTime<Utc>,
        trusted: bool,
    ) -> Result<LessonOutcome> {
        if l.end_at <= l.start_at {
            return Err(StoreError::Invalid(
                "a lesson must end after it starts".into(),
            ));
        }
        self.write(|c| {
            let tx = c.transaction()?;
            let clash: Option<LessonRow> = tx
                .query_row(
                    &format!(
                        "SELECT {LESSON_COLS} FROM lessons
                         WHERE room = ?1 AND start_at < ?3 AND end_at > ?2
                         ORDER BY (start_at = ?2 AND end_at = ?3 AND teacher = ?4 AND class = ?5) DESC,
                                  start_at LIMIT 1"
                    ),
                    params![l.room, ts(l.start_at), ts(l.end_at), l.teacher, l.class],
                    lesson_row,
                )
                .optional()?;
            if let Some(mut other) = clash {
                fill_items(&tx, std::slice::from_mut(&mut other))?;
                let o = &other.lesson;
                let same = o.start_at == l.start_at
                    && o.end_at == l.end_at
                    && o.teacher == l.teacher
                    && o.class == l.class;
                return Ok(if same {
                    LessonOutcome::Duplicate(other.id)
                } else {
                    LessonOutcome::Overlaps(Box::new(other))
                });
            }
            tx.execute(
                "INSERT INTO lessons (room, period, start_at, end_at, teacher, class, subject, note,
                 created_at, clock_trusted) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    l.room,
                    l.period,
                    ts(l.start_at),
                    ts(l.end_at),
                    l.teacher,
                    l.class,
                    l.subject,
                    l.note,
                    ts(now),
                    trusted
                ],
            )?;
            let id = tx.last_insert_rowid();
            let items: HashSet<i64> = l.items.iter().copied().collect();
            for item in items {
                tx.execute(
                    "INSERT INTO lesson_items (lesson_id, item_id) VALUES (?1, ?2)",
                    params![id, item],
                )?;
                tx.execute("UPDATE items SET uses = uses + 1 WHERE id = ?1", [item])?;
            }
            tx.commit()?;
            Ok(LessonOutcome::Created(id))
        })
    }

    /// Lessons matching the filter, by start time (or by id with `after`).
    pub fn lessons(&self, f: &LessonFilter) -> Result<Vec<LessonRow>> {
        self.read(|c| {
            let sql = format!(
                "SELECT {LESSON_COLS} FROM lessons
                 WHERE (?1 IS NULL OR end_at > ?1) AND (?2 IS NULL OR start_at < ?2)
                   AND (?3 IS NULL OR room = ?3) AND (?4 IS NULL OR teacher = ?4)
                   AND (?5 IS NULL OR class = ?5) AND (?6 IS NULL OR subject = ?6)
                   AND (?7 IS NULL OR id IN (SELECT lesson_id FROM lesson_items WHERE item_id = ?7))
                   AND (?8 IS NULL OR id > ?8)
                 ORDER BY {} LIMIT ?9",
                if f.after.is_some() {
                    "id"
                } else {
                    "start_at, id"
                }
            );
            let mut stmt = c.prepare(&sql)?;
            let mut rows: Vec<LessonRow> = stmt
                .query_map(
                    params![
                        f.from.map(ts),
                        f.to.map(ts),
                        f.room,
                        f.teacher,
                        f.class,
                        f.subject,
                        f.item,
                        f.after,
                        f.limit.map(|n| n as i64).unwrap_or(-1)
                    ],
                    lesson_row,
                )?
                .collect::<rusqlite::Result<_>>()?;
            fill_items(c, &mut rows)?;
            Ok(rows)
        })
    }

    /// Stores an imported document (calendar, plan), replacing the previous one.
    pub fn put_doc(&self, name: &str, text: &str, source: &str, now: DateTime<Utc>) -> Result<()> {
        self.write(|c| {
            c.execute(
                "INSERT INTO equipment_documents (name, text, source, imported_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (name) DO UPDATE SET text = ?2, source = ?3, imported_at = ?4",
                params![name, text, source, ts(now)],
            )?;
            Ok(())
        })
    }

    /// An imported document's text.
    pub fn get_doc(&self, name: &str) -> Result<Option<String>> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT text FROM equipment_documents WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()?)
        })
    }

    /// Catalog items of the given categories.
    pub fn items_of_categories(&self, categories: &[&str]) -> Result<Vec<ItemFact>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, title, category, first_received FROM items WHERE category = ?1 ORDER BY id",
            )?;
            let mut out = Vec::new();
            for cat in categories {
                let rows = stmt.query_map([cat], |r| {
                    Ok(ItemFact {
                        id: r.get(0)?,
                        title: r.get(1)?,
                        category: r.get(2)?,
                        first_received: col_ts_opt(r, 3)?,
                    })
                })?;
                for row in rows {
                    out.push(row?);
                }
            }
            Ok(out)
        })
    }

    /// (item id, lesson start) of every item use in a lesson starting in [from, to).
    pub fn item_uses(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(i64, DateTime<Utc>)>> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT li.item_id, l.start_at FROM lesson_items li JOIN lessons l ON l.id = li.lesson_id
                 WHERE l.start_at >= ?1 AND l.start_at < ?2",
            )?;
            let rows = stmt
                .query_map(params![ts(from), ts(to)], |r| Ok((r.get(0)?, col_ts(r, 1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
    }

    /// The newest reception time (for the receiver's activity signal).
    pub fn latest_reception(&self) -> Result<Option<DateTime<Utc>>> {
        self.read(|c| {
            let s: Option<String> =
                c.query_row("SELECT max(received_at) FROM receptions", [], |r| r.get(0))?;
            Ok(s.as_deref().and_then(parse_ts))
        })
    }
}

impl Store {
    /// Calls `f(device, state, start, effective end, clock_trusted)` for every
    /// interval overlapping [from, to), without building rows (reports over a
    /// school year read millions).
    pub fn equip_for_each_span(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        mut f: impl FnMut(&str, State, DateTime<Utc>, DateTime<Utc>, bool),
    ) -> Result<()> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT device_id, state, start_at, coalesce(end_at, last_seen), clock_trusted
                 FROM equipment_intervals
                 WHERE start_at < ?2 AND coalesce(end_at, last_seen) >= ?1",
            )?;
            let mut rows = stmt.query(params![ts(from), ts(to)])?;
            while let Some(r) = rows.next()? {
                let device = r.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?;
                let state = State::parse(r.get_ref(1)?.as_str().map_err(rusqlite::Error::from)?)
                    .unwrap_or(State::Unknown);
                let start = col_ts(r, 2)?;
                let end = col_ts(r, 3)?;
                f(device, state, start, end, r.get(4)?);
            }
            Ok(())
        })
    }

    /// Lessons flagged as written with an untrusted clock, in [from, to).
    pub fn untrusted_lessons(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<usize> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT count(*) FROM lessons WHERE clock_trusted = 0 AND start_at < ?2 AND end_at > ?1",
                params![ts(from), ts(to)],
                |r| r.get::<_, i64>(0),
            )? as usize)
        })
    }

    /// The latest state of each device (its newest interval).
    pub fn equip_latest_states(&self) -> Result<Vec<LatestState>> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT e.device_id, e.state, e.detail, e.last_seen FROM equipment_intervals e
                 JOIN (SELECT max(id) AS id FROM equipment_intervals GROUP BY device_id) m
                   ON m.id = e.id",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    let s: String = r.get(1)?;
                    Ok((
                        r.get(0)?,
                        State::parse(&s).unwrap_or(State::Unknown),
                        r.get(2)?,
                        col_ts(r, 3)?,
                    ))
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
    }
}
