//! Reception and application rates per category against the plan's targets,
//! and 完好率 (share of equipment in working order). Pure.
//!
//! Reception rate = plan rows (节目单) in the range whose resource was received
//! / plan rows in the range; without a plan only received counts are given.
//! Application rate = items of the category first received in the range that
//! were used in at least one logged lesson by the end of the range / items of
//! the category first received in the range.
//!
//! Plan CSV: `date,category,title` (category as a code such as `course` or
//! the label `课程资源`); header and BOM allowed; bad lines name the line.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::State;
use super::timetable::{TimetableError, csv_date, csv_error, data_rows};
use crate::store::equipment::ItemFact;

/// One announced resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanRow {
    pub date: NaiveDate,
    pub category: String,
    pub title: String,
}

/// Category codes and labels the plan may use.
pub const CATEGORIES: &[(&str, &str)] = &[("course", "课程资源"), ("training", "教师培训")];

/// Parses a reception plan.
pub fn parse_plan(text: &str, source: &str) -> Result<Vec<PlanRow>, TimetableError> {
    let mut out = Vec::new();
    for (line, f) in data_rows(text, "date") {
        let err = |message: String| csv_error(source, line, message);
        if f.len() < 3 || f[2].is_empty() {
            return Err(err("expected date,category,title".into()));
        }
        let date = csv_date(&f[0], source, line, "date")?;
        let category = CATEGORIES
            .iter()
            .find(|(code, label)| f[1] == *code || f[1] == *label)
            .map(|(code, _)| code.to_string())
            .ok_or_else(|| {
                err(format!(
                    "category {:?} is not course/课程资源 or training/教师培训",
                    f[1]
                ))
            })?;
        out.push(PlanRow {
            date,
            category,
            title: f[2].clone(),
        });
    }
    Ok(out)
}

/// Rates of one category.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryRates {
    pub category: String,
    pub label: String,
    pub target: f64,
    /// Plan rows in the range (`None` without a plan).
    pub planned: Option<usize>,
    pub planned_received: Option<usize>,
    pub reception_rate: Option<f64>,
    /// Items first received in the range.
    pub received: usize,
    /// Of those, used in a lesson by the end of the range.
    pub applied: usize,
    pub application_rate: Option<f64>,
    pub reception_meets_target: Option<bool>,
    pub application_meets_target: Option<bool>,
}

fn titles_match(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim().to_lowercase(), b.trim().to_lowercase());
    !a.is_empty() && !b.is_empty() && (a.contains(&b) || b.contains(&a))
}

/// Computes one category's rates.
#[allow(clippy::too_many_arguments)]
pub fn category_rates(
    category: &str,
    label: &str,
    target: f64,
    plan: Option<&[PlanRow]>,
    items: &[ItemFact],
    uses: &[(i64, DateTime<Utc>)],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    local_from: NaiveDate,
    local_to: NaiveDate,
) -> CategoryRates {
    let cat_items: Vec<&ItemFact> = items.iter().filter(|i| i.category == category).collect();
    let (planned, planned_received) = match plan {
        Some(plan) => {
            let rows: Vec<&PlanRow> = plan
                .iter()
                .filter(|p| p.category == category && p.date >= local_from && p.date < local_to)
                .collect();
            let got = rows
                .iter()
                .filter(|p| {
                    cat_items.iter().any(|i| {
                        titles_match(&i.title, &p.title) && i.first_received.is_some_and(|t| t < to)
                    })
                })
                .count();
            (Some(rows.len()), Some(got))
        }
        None => (None, None),
    };
    let mut first_use: HashMap<i64, DateTime<Utc>> = HashMap::new();
    for &(id, at) in uses {
        first_use
            .entry(id)
            .and_modify(|t| *t = (*t).min(at))
            .or_insert(at);
    }
    let received: Vec<&&ItemFact> = cat_items
        .iter()
        .filter(|i| i.first_received.is_some_and(|t| t >= from && t < to))
        .collect();
    let applied = received
        .iter()
        .filter(|i| first_use.get(&i.id).is_some_and(|t| *t < to))
        .count();
    let rate = |n: usize, d: usize| (d > 0).then(|| n as f64 / d as f64);
    let reception_rate = match (planned_received, planned) {
        (Some(n), Some(d)) => rate(n, d),
        _ => None,
    };
    let application_rate = rate(applied, received.len());
    CategoryRates {
        category: category.into(),
        label: label.into(),
        target,
        planned,
        planned_received,
        reception_rate,
        received: received.len(),
        applied,
        application_rate,
        reception_meets_target: reception_rate.map(|r| r >= target),
        application_meets_target: application_rate.map(|r| r >= target),
    }
}

/// 完好率: devices whose latest state is not `error`, over all devices.
pub fn intact(latest: &[Option<State>]) -> (usize, usize, Option<f64>) {
    let total = latest.len();
    let ok = latest.iter().filter(|s| **s != Some(State::Error)).count();
    (ok, total, (total > 0).then(|| ok as f64 / total as f64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 9, d, 2, 0, 0).unwrap()
    }
    fn nd(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 9, d).unwrap()
    }
    fn item(id: i64, title: &str, cat: &str, day: Option<u32>) -> ItemFact {
        ItemFact {
            id,
            title: title.into(),
            category: cat.into(),
            first_received: day.map(t),
        }
    }

    #[test]
    fn hand_computed_rates() {
        let plan = parse_plan(
            "date,category,title\n2026-09-02,course,四年级数学 第1课\n2026-09-03,课程资源,四年级数学 第2课\n2026-09-03,training,班主任培训\n2026-09-20,course,outside range\n",
            "plan.csv",
        )
        .unwrap();
        let items = vec![
            item(1, "四年级数学 第1课.mp4", "course", Some(2)),
            item(2, "语文 朗读", "course", Some(4)),
            item(3, "班主任培训", "training", Some(3)),
            item(4, "old course", "course", Some(1)),
        ];
        // Item 1 used on day 5; item 2 never; item 4 received before the range.
        let uses = vec![(1, t(5)), (1, t(6)), (4, t(5))];
        let r = category_rates(
            "course",
            "课程资源",
            0.5,
            Some(&plan),
            &items,
            &uses,
            t(2) - chrono::Duration::hours(3),
            t(10),
            nd(2),
            nd(10),
        );
        assert_eq!(r.planned, Some(2));
        assert_eq!(r.planned_received, Some(1));
        assert_eq!(r.reception_rate, Some(0.5));
        assert_eq!(r.received, 2);
        assert_eq!(r.applied, 1);
        assert_eq!(r.application_rate, Some(0.5));
        assert_eq!(r.application_meets_target, Some(true));
        let r = category_rates(
            "training",
            "教师培训",
            0.6,
            Some(&plan),
            &items,
            &uses,
            t(1),
            t(10),
            nd(1),
            nd(10),
        );
        assert_eq!(r.reception_rate, Some(1.0));
        assert_eq!(r.application_rate, Some(0.0));
        assert_eq!(r.application_meets_target, Some(false));
        let r = category_rates(
            "course",
            "课程资源",
            0.5,
            None,
            &items,
            &[],
            t(1),
            t(10),
            nd(1),
            nd(10),
        );
        assert_eq!(r.reception_rate, None);
        assert_eq!(r.received, 3);
    }

    #[test]
    fn malformed_plan_names_the_line() {
        let e = parse_plan(
            "date,category,title\n2026-09-02,course,a\n2026-9-x,course,b\n",
            "plan.csv",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("plan.csv line 3"), "{e}");
        let e = parse_plan("2026-09-02,sports,a\n", "p")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1") && e.contains("sports"), "{e}");
    }

    #[test]
    fn intact_share() {
        let v = [
            Some(State::On),
            Some(State::Error),
            None,
            Some(State::Unknown),
        ];
        assert_eq!(intact(&v), (3, 4, Some(0.75)));
    }
}
