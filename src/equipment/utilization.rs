//! Utilization maths, pure.
//!
//! A timetabled period is **in use** when the device was on (or a lesson was
//! logged in the room) for at least `share` of it; **unused** only when the
//! device was known not to be on for more than `1 - share` of it (so it could
//! not have been in use); otherwise there is **no data**, reported as missing
//! coverage and never counted as unused. Devices without a sensor are judged by
//! the lesson log alone (the log is their register). Utilization is in-use
//! periods over covered periods; coverage is covered over timetabled.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::State;

/// A stretch of one state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub state: State,
}

/// How a period was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeriodUse {
    InUse,
    Unused,
    NoData,
}

/// A time range [start, end).
pub type Range = (DateTime<Utc>, DateTime<Utc>);

/// Parameters of the judgement.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub share: f64,
    pub count_warming: bool,
}

impl Rule {
    fn counts_as_on(&self, s: State) -> bool {
        s == State::On || (self.count_warming && s == State::Warming)
    }
}

fn overlap_ms(a0: DateTime<Utc>, a1: DateTime<Utc>, b0: DateTime<Utc>, b1: DateTime<Utc>) -> i64 {
    let s = a0.max(b0);
    let e = a1.min(b1);
    (e - s).num_milliseconds().max(0)
}

/// Merges time ranges (lessons may overlap; never count a minute twice).
pub fn merge(mut v: Vec<(DateTime<Utc>, DateTime<Utc>)>) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    v.retain(|(s, e)| e > s);
    v.sort();
    let mut out: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::with_capacity(v.len());
    for (s, e) in v {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// Spans sorted by start with a running maximum of ends, for range lookups.
pub struct Timeline {
    spans: Vec<Span>,
    max_end: Vec<DateTime<Utc>>,
}

impl Timeline {
    pub fn new(mut spans: Vec<Span>) -> Timeline {
        spans.retain(|s| s.end > s.start);
        spans.sort_by_key(|s| s.start);
        let mut max_end = Vec::with_capacity(spans.len());
        let mut m = DateTime::<Utc>::MIN_UTC;
        for s in &spans {
            m = m.max(s.end);
            max_end.push(m);
        }
        Timeline { spans, max_end }
    }

    /// Spans overlapping [a, b).
    pub fn overlapping(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> impl Iterator<Item = &Span> {
        let hi = self.spans.partition_point(|s| s.start < b);
        let lo = self.max_end[..hi].partition_point(|e| *e <= a);
        self.spans[lo..hi].iter().filter(move |s| s.end > a)
    }

    /// Milliseconds in [a, b) spent in a state matching `f`.
    pub fn ms(&self, a: DateTime<Utc>, b: DateTime<Utc>, f: impl Fn(State) -> bool) -> i64 {
        self.overlapping(a, b)
            .filter(|s| f(s.state))
            .map(|s| overlap_ms(s.start, s.end, a, b))
            .sum()
    }
}

fn lesson_ms(
    lessons: &[(DateTime<Utc>, DateTime<Utc>)],
    a: DateTime<Utc>,
    b: DateTime<Utc>,
) -> i64 {
    let lo = lessons.partition_point(|l| l.1 <= a);
    lessons[lo..]
        .iter()
        .take_while(|l| l.0 < b)
        .map(|l| overlap_ms(l.0, l.1, a, b))
        .sum()
}

/// Judges one period of one device. `timeline` is `None` for a device without
/// a sensor; `lessons` are the room's merged lessons.
pub fn judge(
    a: DateTime<Utc>,
    b: DateTime<Utc>,
    timeline: Option<&Timeline>,
    lessons: &[(DateTime<Utc>, DateTime<Utc>)],
    rule: Rule,
) -> PeriodUse {
    let len = (b - a).num_milliseconds() as f64;
    if len <= 0.0 {
        return PeriodUse::NoData;
    }
    if lesson_ms(lessons, a, b) as f64 >= rule.share * len {
        return PeriodUse::InUse;
    }
    let Some(t) = timeline else {
        return PeriodUse::Unused;
    };
    if t.ms(a, b, |s| rule.counts_as_on(s)) as f64 >= rule.share * len {
        return PeriodUse::InUse;
    }
    let known_off = t.ms(a, b, |s| s != State::Unknown && !rule.counts_as_on(s));
    if known_off as f64 > (1.0 - rule.share) * len {
        PeriodUse::Unused
    } else {
        PeriodUse::NoData
    }
}

/// Counts over a set of periods.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Counts {
    pub timetabled: usize,
    pub in_use: usize,
    pub unused: usize,
    pub no_data: usize,
}

impl Counts {
    pub fn add(&mut self, u: PeriodUse) {
        self.timetabled += 1;
        match u {
            PeriodUse::InUse => self.in_use += 1,
            PeriodUse::Unused => self.unused += 1,
            PeriodUse::NoData => self.no_data += 1,
        }
    }
    /// In-use over covered periods; `None` without any covered period.
    pub fn utilization(&self) -> Option<f64> {
        let covered = self.in_use + self.unused;
        (covered > 0).then(|| self.in_use as f64 / covered as f64)
    }
    /// Covered over timetabled; `None` without timetabled periods.
    pub fn coverage(&self) -> Option<f64> {
        (self.timetabled > 0).then(|| (self.in_use + self.unused) as f64 / self.timetabled as f64)
    }
}

/// One device over a range.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct DeviceUsage {
    pub counts: Counts,
    /// Hours on in the range.
    pub on_hours: f64,
    /// Hours on outside timetabled periods (left on over lunch or overnight).
    pub on_hours_outside: f64,
}

/// Judges every slot of a device, and sums on-hours in [from, to).
pub fn device_usage(
    slots: &[(DateTime<Utc>, DateTime<Utc>)],
    timeline: Option<&Timeline>,
    lessons: &[(DateTime<Utc>, DateTime<Utc>)],
    rule: Rule,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> DeviceUsage {
    let mut u = DeviceUsage::default();
    let mut in_slots = 0i64;
    for &(a, b) in slots {
        u.counts.add(judge(a, b, timeline, lessons, rule));
        if let Some(t) = timeline {
            in_slots += t.ms(a, b, |s| rule.counts_as_on(s));
        }
    }
    if let Some(t) = timeline {
        let total = t.ms(from, to, |s| rule.counts_as_on(s));
        u.on_hours = total as f64 / 3_600_000.0;
        u.on_hours_outside = (total - in_slots).max(0) as f64 / 3_600_000.0;
    }
    u
}

/// Judges a room's slots: in use if a lesson or any device was in use; unused
/// only if every device was proven unused (or, without devices, no lesson).
pub fn room_counts(
    slots: &[(DateTime<Utc>, DateTime<Utc>)],
    devices: &[Option<&Timeline>],
    lessons: &[(DateTime<Utc>, DateTime<Utc>)],
    rule: Rule,
) -> Counts {
    let mut c = Counts::default();
    for &(a, b) in slots {
        let uses: Vec<PeriodUse> = devices
            .iter()
            .map(|t| judge(a, b, *t, lessons, rule))
            .collect();
        let u = if uses.is_empty() {
            judge(a, b, None, lessons, rule)
        } else if uses.contains(&PeriodUse::InUse) {
            PeriodUse::InUse
        } else if uses.iter().all(|u| *u == PeriodUse::Unused) {
            PeriodUse::Unused
        } else {
            PeriodUse::NoData
        };
        c.add(u);
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 9, 7, h, m, 0).unwrap()
    }
    fn sp(a: (u32, u32), b: (u32, u32), s: State) -> Span {
        Span {
            start: t(a.0, a.1),
            end: t(b.0, b.1),
            state: s,
        }
    }
    const R: Rule = Rule {
        share: 0.5,
        count_warming: false,
    };

    #[test]
    fn hand_computed_periods() {
        // Period 8:00-8:40. On 8:10-8:30 = 20 of 40 min = exactly 50% -> in use.
        let tl = Timeline::new(vec![
            sp((7, 0), (8, 10), State::Standby),
            sp((8, 10), (8, 30), State::On),
            sp((8, 30), (9, 0), State::Standby),
        ]);
        assert_eq!(
            judge(t(8, 0), t(8, 40), Some(&tl), &[], R),
            PeriodUse::InUse
        );
        // On 19 of 40 min, standby 21 > 20 -> unused.
        let tl = Timeline::new(vec![
            sp((7, 0), (8, 21), State::Standby),
            sp((8, 21), (8, 40), State::On),
        ]);
        assert_eq!(
            judge(t(8, 0), t(8, 40), Some(&tl), &[], R),
            PeriodUse::Unused
        );
        // On 10 min, unknown 30 min: cannot tell -> no data.
        let tl = Timeline::new(vec![
            sp((8, 0), (8, 10), State::On),
            sp((8, 10), (8, 40), State::Unknown),
        ]);
        assert_eq!(
            judge(t(8, 0), t(8, 40), Some(&tl), &[], R),
            PeriodUse::NoData
        );
        // No readings at all -> no data, never unused.
        let empty = Timeline::new(vec![]);
        assert_eq!(
            judge(t(8, 0), t(8, 40), Some(&empty), &[], R),
            PeriodUse::NoData
        );
        // A logged lesson of 30 min makes it in use whatever the sensor says.
        let l = [(t(8, 5), t(8, 35))];
        assert_eq!(
            judge(t(8, 0), t(8, 40), Some(&empty), &l, R),
            PeriodUse::InUse
        );
        // Unsensed device: lesson log only.
        assert_eq!(judge(t(8, 0), t(8, 40), None, &[], R), PeriodUse::Unused);
        // Warming counts only when configured.
        let tl = Timeline::new(vec![sp((8, 0), (8, 40), State::Warming)]);
        assert_eq!(
            judge(t(8, 0), t(8, 40), Some(&tl), &[], R),
            PeriodUse::Unused
        );
        let rw = Rule {
            share: 0.5,
            count_warming: true,
        };
        assert_eq!(
            judge(t(8, 0), t(8, 40), Some(&tl), &[], rw),
            PeriodUse::InUse
        );
    }

    #[test]
    fn device_usage_counts_hours_and_outside() {
        // Two periods 8:00-8:40, 8:50-9:30. On 7:30-8:40 (70 min), standby after.
        let tl = Timeline::new(vec![
            sp((7, 30), (8, 40), State::On),
            sp((8, 40), (12, 0), State::Standby),
        ]);
        let slots = [(t(8, 0), t(8, 40)), (t(8, 50), t(9, 30))];
        let u = device_usage(&slots, Some(&tl), &[], R, t(0, 0), t(23, 0));
        assert_eq!(u.counts.timetabled, 2);
        assert_eq!(u.counts.in_use, 1);
        assert_eq!(u.counts.unused, 1);
        assert_eq!(u.counts.utilization(), Some(0.5));
        assert_eq!(u.counts.coverage(), Some(1.0));
        assert!((u.on_hours - 70.0 / 60.0).abs() < 1e-9);
        assert!((u.on_hours_outside - 30.0 / 60.0).abs() < 1e-9);
    }

    #[test]
    fn coverage_excludes_no_data() {
        let mut c = Counts::default();
        for u in [
            PeriodUse::InUse,
            PeriodUse::InUse,
            PeriodUse::Unused,
            PeriodUse::NoData,
        ] {
            c.add(u);
        }
        assert_eq!(c.utilization(), Some(2.0 / 3.0));
        assert_eq!(c.coverage(), Some(0.75));
        assert_eq!(Counts::default().utilization(), None);
    }

    #[test]
    fn overlapping_lessons_are_merged() {
        let m = merge(vec![
            (t(8, 0), t(8, 20)),
            (t(8, 10), t(8, 30)),
            (t(9, 0), t(9, 10)),
        ]);
        assert_eq!(m, vec![(t(8, 0), t(8, 30)), (t(9, 0), t(9, 10))]);
        // 8:00-8:20 and 8:10-8:30 merged = 30 min of 40 -> in use; not 40 min.
        assert_eq!(lesson_ms(&m, t(8, 0), t(8, 40)), 30 * 60_000);
    }

    #[test]
    fn room_in_use_if_any_device_unused_only_if_all() {
        let on = Timeline::new(vec![sp((8, 0), (8, 40), State::On)]);
        let off = Timeline::new(vec![sp((8, 0), (8, 40), State::Standby)]);
        let unk = Timeline::new(vec![sp((8, 0), (8, 40), State::Unknown)]);
        let s = [(t(8, 0), t(8, 40))];
        assert_eq!(room_counts(&s, &[Some(&on), Some(&off)], &[], R).in_use, 1);
        assert_eq!(
            room_counts(&s, &[Some(&off), Some(&unk)], &[], R).no_data,
            1
        );
        assert_eq!(room_counts(&s, &[Some(&off), None], &[], R).unused, 1);
        assert_eq!(room_counts(&s, &[], &[], R).unused, 1);
    }

    #[test]
    fn long_span_found_by_lookup() {
        // A span starting long before many short ones must still be found.
        let mut v = vec![sp((0, 0), (23, 0), State::On)];
        for h in 1..20 {
            v.push(sp((h, 0), (h, 1), State::Unknown));
        }
        let tl = Timeline::new(v);
        assert_eq!(tl.ms(t(21, 0), t(21, 30), |s| s == State::On), 30 * 60_000);
    }
}
