//! The lesson log (资源应用): validating and recording lessons, and importing
//! the calendar and reception-plan documents.
//!
//! A lesson names a room and either a date and a period of that room's
//! timetable, or a start and an end. Unknown rooms, periods and catalog items
//! are rejected with a reason. A lesson overlapping another in the same room
//! is rejected naming the other one; posting the same lesson twice (a double
//! click) returns the existing one.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, Utc};
use serde::Deserialize;

use super::EquipmentConfig;
use super::rates::parse_plan;
use super::timetable::{Calendar, Timetable, to_utc};
use crate::clock::{Clock, Trust};
use crate::store::equipment::{LessonOutcome, NewLesson};
use crate::store::{Store, StoreError};

/// Name of the stored calendar document.
pub const DOC_CALENDAR: &str = "calendar";
/// Name of the stored reception plan document.
pub const DOC_PLAN: &str = "plan";
/// Name of the stored timetable document (replaces `equipment.periods`).
pub const DOC_TIMETABLE: &str = "timetable";

/// Errors of the lesson log; the message is shown to the user.
#[derive(Debug, thiserror::Error)]
pub enum LessonError {
    #[error("{0}")]
    Rejected(String),
    #[error("overlaps lesson {id} in room {room} ({start} - {end}, {teacher})")]
    Overlap {
        id: i64,
        room: String,
        start: String,
        end: String,
        teacher: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Validates a document and stores it (the latest import wins).
pub fn import_doc(
    store: &Store,
    config: &EquipmentConfig,
    name: &str,
    text: &str,
    source: &str,
) -> anyhow::Result<()> {
    match name {
        DOC_TIMETABLE => {
            Timetable::parse_csv(text, source, &config.rooms)?;
        }
        DOC_CALENDAR => {
            Calendar::parse_csv(text, source)?;
        }
        DOC_PLAN => {
            parse_plan(text, source)?;
        }
        _ => anyhow::bail!("unknown document {name:?}"),
    }
    store.put_doc(name, text, source, Utc::now())?;
    Ok(())
}

/// The stored calendar (empty when none was imported).
pub fn calendar(store: &Store) -> anyhow::Result<Calendar> {
    Ok(match store.get_doc(DOC_CALENDAR)? {
        Some(t) => Calendar::parse_csv(&t, "stored calendar")?,
        None => Calendar::default(),
    })
}

/// The timetable: the imported CSV if there is one, else `equipment.periods`.
pub fn timetable(store: &Store, config: &EquipmentConfig) -> anyhow::Result<Timetable> {
    Ok(match store.get_doc(DOC_TIMETABLE)? {
        Some(t) => Timetable::parse_csv(&t, "stored timetable", &config.rooms)?,
        None => Timetable::from_config(config)?,
    })
}

/// A lesson as posted.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LessonRequest {
    pub room: String,
    /// Local date, with `period`.
    #[serde(default)]
    pub date: Option<NaiveDate>,
    /// Period name (e.g. "第1节"), with `date`.
    #[serde(default)]
    pub period: Option<String>,
    /// Start and end: RFC 3339, or local "YYYY-MM-DDTHH:MM".
    #[serde(default)]
    pub start: Option<String>,
    #[serde(default)]
    pub end: Option<String>,
    #[serde(default)]
    pub teacher: String,
    #[serde(default)]
    pub class: String,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub note: String,
    /// Catalog item ids used: a list, or (from the page's form) a text of
    /// numbers separated by spaces or commas.
    #[serde(default, deserialize_with = "item_ids")]
    pub items: Vec<i64>,
}

/// Item ids as a list of numbers or as text such as "12 15" or "12，15".
fn item_ids<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<i64>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Vec<i64>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("catalog item ids (numbers)")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Vec<i64>, A::Error> {
            let mut v = Vec::new();
            while let Some(x) = a.next_element()? {
                v.push(x);
            }
            Ok(v)
        }
        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Vec<i64>, E> {
            s.split([' ', ',', '，', '、'])
                .filter(|x| !x.trim().is_empty())
                .map(|x| {
                    x.trim()
                        .parse()
                        .map_err(|_| E::custom(format!("item id {x:?} is not a number")))
                })
                .collect()
        }
    }
    d.deserialize_any(V)
}

/// Parses RFC 3339 or a local date-time at `offset`.
pub fn parse_time(s: &str, offset: FixedOffset) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for f in [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, f) {
            return Some(to_utc(n.date(), n.time(), offset));
        }
    }
    None
}

/// Turns a request into a lesson, checking room, period and times.
pub fn resolve(
    req: &LessonRequest,
    config: &EquipmentConfig,
    tt: &Timetable,
    offset: FixedOffset,
) -> Result<NewLesson, LessonError> {
    let rej = |s: String| LessonError::Rejected(s);
    if !config.rooms.iter().any(|r| r.id == req.room) {
        let known: Vec<&str> = config.rooms.iter().map(|r| r.id.as_str()).collect();
        return Err(rej(format!(
            "unknown room {:?}; known rooms: {}",
            req.room,
            known.join(", ")
        )));
    }
    let (start_at, end_at, period) = match (&req.date, &req.period, &req.start, &req.end) {
        (Some(date), Some(period), None, None) => {
            let wd = date.weekday().number_from_monday() as u8;
            let p = tt
                .periods_for(&req.room, wd)
                .into_iter()
                .find(|p| &p.name == period)
                .ok_or_else(|| {
                    rej(format!(
                        "room {} has no period {period:?} on {date} (weekday {wd})",
                        req.room
                    ))
                })?;
            (
                to_utc(*date, p.start, offset),
                to_utc(*date, p.end, offset),
                Some(period.clone()),
            )
        }
        (None, period, Some(s), Some(e)) => {
            let s2 = parse_time(s, offset)
                .ok_or_else(|| rej(format!("start {s:?} is not a time like 2026-09-07T08:00")))?;
            let e2 = parse_time(e, offset)
                .ok_or_else(|| rej(format!("end {e:?} is not a time like 2026-09-07T08:40")))?;
            (s2, e2, period.clone())
        }
        _ => {
            return Err(rej("give either date and period, or start and end".into()));
        }
    };
    if end_at <= start_at {
        return Err(rej("the lesson must end after it starts".into()));
    }
    if end_at - start_at > chrono::Duration::hours(12) {
        return Err(rej("a lesson longer than 12 hours is not a lesson".into()));
    }
    Ok(NewLesson {
        room: req.room.clone(),
        period,
        start_at,
        end_at,
        teacher: req.teacher.trim().to_string(),
        class: req.class.trim().to_string(),
        subject: req.subject.trim().to_string(),
        note: req.note.trim().to_string(),
        items: req.items.clone(),
    })
}

/// Whether the clock can be trusted now (floor, and not behind the newest row).
pub fn clock_trusted(store: &Store, clock: &dyn Clock, floor: DateTime<Utc>) -> bool {
    let mut trust = Trust::new(floor);
    if let Ok(Some(last)) = store.equip_latest_time() {
        trust.seed(last, clock.uptime());
    }
    trust.check(clock.now(), clock.uptime())
}

/// Validates and records a lesson. `Ok((id, created))`.
pub fn record(
    store: &Store,
    config: &EquipmentConfig,
    offset: FixedOffset,
    clock: &dyn Clock,
    floor: DateTime<Utc>,
    req: &LessonRequest,
) -> Result<(i64, bool), LessonError> {
    let tt = timetable(store, config).map_err(|e| LessonError::Rejected(format!("{e:#}")))?;
    let lesson = resolve(req, config, &tt, offset)?;
    let missing = store.missing_items(&lesson.items)?;
    if !missing.is_empty() {
        return Err(LessonError::Rejected(format!(
            "unknown catalog item(s): {}",
            missing
                .iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let trusted = clock_trusted(store, clock, floor);
    match store.insert_lesson(&lesson, clock.now(), trusted)? {
        LessonOutcome::Created(id) => Ok((id, true)),
        LessonOutcome::Duplicate(id) => Ok((id, false)),
        LessonOutcome::Overlaps(o) => Err(LessonError::Overlap {
            id: o.id,
            room: o.lesson.room,
            start: o.lesson.start_at.with_timezone(&offset).to_rfc3339(),
            end: o.lesson.end_at.with_timezone(&offset).to_rfc3339(),
            teacher: o.lesson.teacher,
        }),
    }
}
