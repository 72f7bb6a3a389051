//! Assembles the utilization and rates reports from the store, the
//! configuration and the pure maths in `utilization` and `rates`.
//! Date ranges are local dates [from, to); times are converted at the
//! station's UTC offset. Every report says how many rows written while the
//! clock was not trusted it includes.

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, Utc};
use serde::Serialize;

use super::rates::{self, CategoryRates};
use super::timetable::{slots, to_utc};
use super::utilization::{self, Counts, Rule, Span, Timeline};
use super::{EquipmentConfig, Sense, State, lessons};
use crate::store::Store;

/// UTC bounds of local dates [from, to).
pub fn bounds(
    from: NaiveDate,
    to: NaiveDate,
    offset: FixedOffset,
) -> (DateTime<Utc>, DateTime<Utc>) {
    (
        to_utc(from, NaiveTime::MIN, offset),
        to_utc(to, NaiveTime::MIN, offset),
    )
}

/// One device's line of the utilization report.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceRow {
    pub id: String,
    pub name: String,
    pub room: String,
    pub kind: String,
    pub sense: Sense,
    #[serde(flatten)]
    pub counts: Counts,
    pub utilization: Option<f64>,
    pub coverage: Option<f64>,
    pub on_hours: f64,
    pub on_hours_outside: f64,
    pub lamp_hours: Option<u64>,
    pub lamp_hours_in_range: Option<u64>,
    pub meets_target: Option<bool>,
    pub untrusted_intervals: usize,
    pub latest_state: Option<State>,
}

/// One room's line.
#[derive(Debug, Clone, Serialize)]
pub struct RoomRow {
    pub id: String,
    pub name: String,
    #[serde(flatten)]
    pub counts: Counts,
    pub utilization: Option<f64>,
    pub coverage: Option<f64>,
    pub meets_target: Option<bool>,
}

/// Periods summed over several devices or rooms.
#[derive(Debug, Clone, Serialize)]
pub struct Overall {
    #[serde(flatten)]
    pub counts: Counts,
    pub utilization: Option<f64>,
    pub coverage: Option<f64>,
    pub meets_target: Option<bool>,
}

impl Overall {
    fn of<'a>(counts: impl Iterator<Item = &'a Counts>, target: f64) -> Overall {
        let mut c = Counts::default();
        for x in counts {
            c.timetabled += x.timetabled;
            c.in_use += x.in_use;
            c.unused += x.unused;
            c.no_data += x.no_data;
        }
        Overall {
            counts: c,
            utilization: c.utilization(),
            coverage: c.coverage(),
            meets_target: c.utilization().map(|u| u >= target),
        }
    }
}

/// The utilization report.
#[derive(Debug, Clone, Serialize)]
pub struct UtilizationReport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub utc_offset: String,
    pub in_use_share: f64,
    pub target: f64,
    pub devices: Vec<DeviceRow>,
    pub rooms: Vec<RoomRow>,
    /// All devices' periods together, and all rooms' periods together.
    pub overall_devices: Overall,
    pub overall_rooms: Overall,
    pub intact: usize,
    pub devices_total: usize,
    pub intact_rate: Option<f64>,
    pub intact_target: f64,
    /// State intervals and lessons in the range written while the clock was untrusted.
    pub untrusted_intervals: usize,
    pub untrusted_lessons: usize,
}

/// Builds the utilization report for local dates [from, to).
pub fn utilization(
    store: &Store,
    config: &EquipmentConfig,
    offset: FixedOffset,
    from: NaiveDate,
    to: NaiveDate,
) -> anyhow::Result<UtilizationReport> {
    let tt = lessons::timetable(store, config)?;
    let cal = lessons::calendar(store)?;
    let (f, t) = bounds(from, to, offset);
    let rule = Rule {
        share: config.in_use_share,
        count_warming: config.count_warming,
    };
    let mut spans: HashMap<String, Vec<Span>> = HashMap::new();
    let mut untrusted: HashMap<String, usize> = HashMap::new();
    store.equip_for_each_span(f, t, |dev, state, start, end, trusted| {
        if !trusted {
            *untrusted.entry(dev.to_string()).or_default() += 1;
        }
        let v = match spans.get_mut(dev) {
            Some(v) => v,
            None => spans.entry(dev.to_string()).or_default(),
        };
        v.push(Span { start, end, state });
    })?;
    let timelines: HashMap<String, Timeline> = spans
        .into_iter()
        .map(|(k, v)| (k, Timeline::new(v)))
        .collect();
    let lesson_rows = store.lessons(&crate::store::equipment::LessonFilter {
        from: Some(f),
        to: Some(t),
        ..Default::default()
    })?;
    let mut room_lessons: HashMap<&str, Vec<utilization::Range>> = HashMap::new();
    for l in &lesson_rows {
        room_lessons
            .entry(l.lesson.room.as_str())
            .or_default()
            .push((l.lesson.start_at, l.lesson.end_at));
    }
    let room_lessons: HashMap<&str, Vec<_>> = room_lessons
        .into_iter()
        .map(|(k, v)| (k, utilization::merge(v)))
        .collect();
    let mut lamp: HashMap<String, (u64, u64)> = HashMap::new();
    for r in store.equip_lamp_rows(f, t)? {
        let e = lamp.entry(r.device_id).or_insert((r.hours, r.hours));
        e.0 = e.0.min(r.hours);
        e.1 = e.1.max(r.hours);
    }
    let latest: HashMap<String, State> = store
        .equip_latest_states()?
        .into_iter()
        .map(|(d, s, _, _)| (d, s))
        .collect();
    let empty = Vec::new();
    let target = config.targets.utilization;
    let meets = |u: Option<f64>| u.map(|u| u >= target);
    let mut devices = Vec::new();
    let mut rooms = Vec::new();
    for room in &config.rooms {
        let room_slots: Vec<(DateTime<Utc>, DateTime<Utc>)> =
            slots(&tt, &cal, &room.id, from, to, offset)
                .into_iter()
                .map(|s| (s.start, s.end))
                .collect();
        let ls = room_lessons.get(room.id.as_str()).unwrap_or(&empty);
        let empty_tl = Timeline::new(Vec::new());
        let mut room_devs: Vec<Option<&Timeline>> = Vec::new();
        for d in config.devices.iter().filter(|d| d.room == room.id) {
            let tl = if d.sense == Sense::None {
                None
            } else {
                Some(timelines.get(&d.id).unwrap_or(&empty_tl))
            };
            room_devs.push(tl);
            let u = utilization::device_usage(&room_slots, tl, ls, rule, f, t);
            devices.push(DeviceRow {
                id: d.id.clone(),
                name: d.display_name().to_string(),
                room: room.id.clone(),
                kind: d.kind.as_str().into(),
                sense: d.sense,
                counts: u.counts,
                utilization: u.counts.utilization(),
                coverage: u.counts.coverage(),
                on_hours: u.on_hours,
                on_hours_outside: u.on_hours_outside,
                lamp_hours: lamp.get(&d.id).map(|x| x.1),
                lamp_hours_in_range: lamp.get(&d.id).map(|x| x.1 - x.0),
                meets_target: meets(u.counts.utilization()),
                untrusted_intervals: untrusted.get(&d.id).copied().unwrap_or(0),
                latest_state: latest.get(&d.id).copied(),
            });
        }
        let c = utilization::room_counts(&room_slots, &room_devs, ls, rule);
        rooms.push(RoomRow {
            id: room.id.clone(),
            name: room.name.clone(),
            counts: c,
            utilization: c.utilization(),
            coverage: c.coverage(),
            meets_target: meets(c.utilization()),
        });
    }
    let latest_list: Vec<Option<State>> = devices.iter().map(|d| d.latest_state).collect();
    let (intact, devices_total, intact_rate) = rates::intact(&latest_list);
    Ok(UtilizationReport {
        from,
        to,
        utc_offset: offset.to_string(),
        in_use_share: config.in_use_share,
        target,
        untrusted_intervals: untrusted.values().sum(),
        untrusted_lessons: store.untrusted_lessons(f, t)?,
        overall_devices: Overall::of(devices.iter().map(|d| &d.counts), target),
        overall_rooms: Overall::of(rooms.iter().map(|r| &r.counts), target),
        devices,
        rooms,
        intact,
        devices_total,
        intact_rate,
        intact_target: config.targets.intact,
    })
}

/// The rates report.
#[derive(Debug, Clone, Serialize)]
pub struct RatesReport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub plan_loaded: bool,
    pub categories: Vec<CategoryRates>,
    /// Receptions in the range written while the clock was untrusted.
    pub untrusted_receptions: usize,
    pub untrusted_lessons: usize,
}

/// Builds the rates report for local dates [from, to).
pub fn rates(
    store: &Store,
    config: &EquipmentConfig,
    offset: FixedOffset,
    from: NaiveDate,
    to: NaiveDate,
) -> anyhow::Result<RatesReport> {
    let (f, t) = bounds(from, to, offset);
    let plan = match store.get_doc(lessons::DOC_PLAN)? {
        Some(text) => Some(rates::parse_plan(&text, "stored plan")?),
        None => None,
    };
    let codes: Vec<&str> = rates::CATEGORIES.iter().map(|c| c.0).collect();
    let items = store.items_of_categories(&codes)?;
    let uses = store.item_uses(f, t)?;
    let categories = rates::CATEGORIES
        .iter()
        .map(|(code, label)| {
            let target = if *code == "course" {
                config.targets.course
            } else {
                config.targets.training
            };
            rates::category_rates(
                code,
                label,
                target,
                plan.as_deref(),
                &items,
                &uses,
                f,
                t,
                from,
                to,
            )
        })
        .collect();
    let untrusted_receptions =
        store.untrusted_receptions(&crate::store::catalog::ts(f), &crate::store::catalog::ts(t))?;
    Ok(RatesReport {
        from,
        to,
        plan_loaded: plan.is_some(),
        categories,
        untrusted_receptions,
        untrusted_lessons: store.untrusted_lessons(f, t)?,
    })
}
