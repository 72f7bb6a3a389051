//! The bell schedule (periods per weekday, per room where rooms differ) and
//! the school calendar (terms, holidays, make-up workdays) imported from CSV.
//! Pure: turns a date range into the timetabled period instances ("slots") of
//! a room, in UTC, given the station's UTC offset.
//!
//! Calendar CSV: `kind,start,end,note` with kind `term`/`学期`,
//! `holiday`/`假期`, `workday`/`调休`; dates `YYYY-MM-DD`; a header line and a
//! UTF-8 BOM are allowed. A bad line is an error naming the source and line.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};

use super::EquipmentConfig;
use super::config::{PeriodConfig, RoomConfig};

/// Errors of the timetable or a CSV file; each names where.
#[derive(Debug, thiserror::Error)]
pub enum TimetableError {
    #[error("equipment.periods[{index}] ({name}): {message}")]
    Period {
        index: usize,
        name: String,
        message: String,
    },
    #[error("{source_name} line {line}: {message}")]
    Csv {
        source_name: String,
        line: usize,
        message: String,
    },
}

/// One period of the bell schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Period {
    pub name: String,
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub weekdays: Vec<u8>,
    pub rooms: Vec<String>,
}

/// The bell schedule.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Timetable {
    pub periods: Vec<Period>,
}

/// Checks one period against the known rooms.
fn period(p: &PeriodConfig, rooms: &[RoomConfig]) -> Result<Period, String> {
    let t = |s: &str| {
        NaiveTime::parse_from_str(s, "%H:%M")
            .map_err(|e| format!("time {s:?}: {e}; write it like \"08:00\""))
    };
    let (start, end) = (t(&p.start)?, t(&p.end)?);
    if end <= start {
        return Err(format!("ends ({}) before it starts ({})", p.end, p.start));
    }
    if let Some(w) = p.weekdays.iter().find(|w| !(1..=7).contains(*w)) {
        return Err(format!("weekday {w} is not 1 (Monday) .. 7 (Sunday)"));
    }
    if let Some(r) = p.rooms.iter().find(|r| !rooms.iter().any(|x| &x.id == *r)) {
        return Err(format!("room {r:?} is not one of equipment.rooms"));
    }
    Ok(Period {
        name: p.name.clone(),
        start,
        end,
        weekdays: p.weekdays.clone(),
        rooms: p.rooms.clone(),
    })
}

/// Parses weekdays written "1-5", "1 3 5" or "1;3;5".
fn weekdays(s: &str) -> Option<Vec<u8>> {
    if let Some((a, b)) = s.split_once('-') {
        let (a, b): (u8, u8) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
        return (a <= b).then(|| (a..=b).collect());
    }
    s.split([' ', ';', '/'])
        .filter(|x| !x.is_empty())
        .map(|x| x.parse().ok())
        .collect()
}

impl Timetable {
    /// Parses `equipment.periods`.
    pub fn from_config(c: &EquipmentConfig) -> Result<Timetable, TimetableError> {
        let periods = c
            .periods
            .iter()
            .enumerate()
            .map(|(index, p)| {
                period(p, &c.rooms).map_err(|message| TimetableError::Period {
                    index,
                    name: p.name.clone(),
                    message,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Timetable { periods })
    }

    /// Parses a timetable CSV: `name,start,end,weekdays[,rooms]` with weekdays
    /// like `1-5` or `1 3 5` and rooms separated by spaces (empty = all rooms).
    pub fn parse_csv(
        text: &str,
        source: &str,
        rooms: &[RoomConfig],
    ) -> Result<Timetable, TimetableError> {
        let mut periods = Vec::new();
        for (line, f) in data_rows(text, "name") {
            let err = |message: String| csv_error(source, line, message);
            if f.len() < 4 {
                return Err(err(format!(
                    "expected name,start,end,weekdays[,rooms], found {} field(s)",
                    f.len()
                )));
            }
            let wd = weekdays(&f[3])
                .ok_or_else(|| err(format!("weekdays {:?} is not like 1-5 or 1 3 5", f[3])))?;
            let p = PeriodConfig {
                name: f[0].clone(),
                start: f[1].clone(),
                end: f[2].clone(),
                weekdays: wd,
                rooms: f
                    .get(4)
                    .map(|r| r.split_whitespace().map(String::from).collect())
                    .unwrap_or_default(),
            };
            periods.push(period(&p, rooms).map_err(err)?);
        }
        if periods.is_empty() {
            return Err(TimetableError::Csv {
                source_name: source.into(),
                line: 1,
                message: "no periods".into(),
            });
        }
        Ok(Timetable { periods })
    }

    /// The periods of `room` on ISO weekday `wd`, by start time. Periods that
    /// name the room replace the general ones for that room and weekday.
    pub fn periods_for(&self, room: &str, wd: u8) -> Vec<&Period> {
        let on_day = |p: &&Period| p.weekdays.contains(&wd);
        let own: Vec<&Period> = self
            .periods
            .iter()
            .filter(on_day)
            .filter(|p| p.rooms.iter().any(|r| r == room))
            .collect();
        let mut v = if own.is_empty() {
            self.periods
                .iter()
                .filter(on_day)
                .filter(|p| p.rooms.is_empty())
                .collect()
        } else {
            own
        };
        v.sort_by_key(|p| p.start);
        v
    }
}

/// Kind of a calendar row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayKind {
    Term,
    Holiday,
    Workday,
}

/// The school calendar.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Calendar {
    pub rows: Vec<(DayKind, NaiveDate, NaiveDate, String)>,
}

/// Splits CSV text into (line number, fields), skipping blank lines and `#`
/// comments; handles a BOM and double-quoted fields.
pub fn csv_rows(text: &str) -> Vec<(usize, Vec<String>)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let mut fields = Vec::new();
        let mut cur = String::new();
        let mut quoted = false;
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '"' if quoted && chars.peek() == Some(&'"') => {
                    cur.push('"');
                    chars.next();
                }
                '"' => quoted = !quoted,
                ',' if !quoted => fields.push(std::mem::take(&mut cur).trim().to_string()),
                c => cur.push(c),
            }
        }
        fields.push(cur.trim().to_string());
        out.push((i + 1, fields));
    }
    out
}

/// The rows of a CSV file without its header line (recognised by its first
/// column name `header`).
pub fn data_rows(text: &str, header: &str) -> Vec<(usize, Vec<String>)> {
    let mut rows = csv_rows(text);
    if rows
        .first()
        .is_some_and(|r| r.1[0].eq_ignore_ascii_case(header))
    {
        rows.remove(0);
    }
    rows
}

/// An error naming a CSV source and line.
pub fn csv_error(source: &str, line: usize, message: String) -> TimetableError {
    TimetableError::Csv {
        source_name: source.into(),
        line,
        message,
    }
}

/// Parses a `YYYY-MM-DD` date for a CSV line.
pub fn csv_date(
    s: &str,
    source: &str,
    line: usize,
    what: &str,
) -> Result<NaiveDate, TimetableError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| TimetableError::Csv {
        source_name: source.into(),
        line,
        message: format!("{what} {s:?} is not a date like 2026-09-01"),
    })
}

impl Calendar {
    /// Parses calendar CSV; `source` names it in errors.
    pub fn parse_csv(text: &str, source: &str) -> Result<Calendar, TimetableError> {
        let mut rows = Vec::new();
        for (line, f) in data_rows(text, "kind") {
            let err = |message: String| csv_error(source, line, message);
            if f.len() < 3 {
                return Err(err(format!(
                    "expected kind,start,end[,note], found {} field(s)",
                    f.len()
                )));
            }
            let kind = match f[0].to_ascii_lowercase().as_str() {
                "term" | "学期" => DayKind::Term,
                "holiday" | "假期" | "节假日" => DayKind::Holiday,
                "workday" | "调休" | "补课" => DayKind::Workday,
                other => {
                    return Err(err(format!(
                        "kind {other:?} is not term, holiday or workday"
                    )));
                }
            };
            let start = csv_date(&f[1], source, line, "start")?;
            let end = csv_date(&f[2], source, line, "end")?;
            if end < start {
                return Err(err(format!("end {end} is before start {start}")));
            }
            rows.push((kind, start, end, f.get(3).cloned().unwrap_or_default()));
        }
        Ok(Calendar { rows })
    }

    fn has(&self, kind: DayKind, d: NaiveDate) -> bool {
        self.rows
            .iter()
            .any(|(k, s, e, _)| *k == kind && *s <= d && d <= *e)
    }

    /// Whether `d` is a school day, and the weekday whose periods apply.
    /// Without terms every day may be one; holidays are not; make-up workdays
    /// are, following Monday's periods when they fall on a weekend.
    pub fn school_day(&self, d: NaiveDate) -> Option<u8> {
        let wd = d.weekday().number_from_monday() as u8;
        if self.has(DayKind::Workday, d) {
            return Some(if wd >= 6 { 1 } else { wd });
        }
        let in_term = !self.rows.iter().any(|r| r.0 == DayKind::Term) || self.has(DayKind::Term, d);
        (in_term && !self.has(DayKind::Holiday, d)).then_some(wd)
    }
}

/// One timetabled period instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    pub day: NaiveDate,
    pub period: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// Local date and time to UTC at a fixed offset.
pub fn to_utc(d: NaiveDate, t: NaiveTime, offset: FixedOffset) -> DateTime<Utc> {
    offset
        .from_local_datetime(&d.and_time(t))
        .single()
        .map(|x| x.with_timezone(&Utc))
        .unwrap_or_else(|| d.and_time(t).and_utc())
}

/// The slots of `room` on school days in [from, to) (local dates).
pub fn slots(
    tt: &Timetable,
    cal: &Calendar,
    room: &str,
    from: NaiveDate,
    to: NaiveDate,
    offset: FixedOffset,
) -> Vec<Slot> {
    let mut out = Vec::new();
    let mut d = from;
    while d < to {
        if let Some(wd) = cal.school_day(d) {
            for p in tt.periods_for(room, wd) {
                out.push(Slot {
                    day: d,
                    period: p.name.clone(),
                    start: to_utc(d, p.start, offset),
                    end: to_utc(d, p.end, offset),
                });
            }
        }
        d = d.succ_opt().unwrap_or(to);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> EquipmentConfig {
        let mut c = EquipmentConfig {
            rooms: vec![
                RoomConfig {
                    id: "a".into(),
                    name: String::new(),
                },
                RoomConfig {
                    id: "lab".into(),
                    name: String::new(),
                },
            ],
            ..Default::default()
        };
        c.periods.push(PeriodConfig {
            name: "机房1".into(),
            start: "09:00".into(),
            end: "10:30".into(),
            weekdays: vec![3],
            rooms: vec!["lab".into()],
        });
        c
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn rooms_that_differ_get_their_own_periods() {
        let tt = Timetable::from_config(&cfg()).unwrap();
        assert_eq!(tt.periods_for("a", 3).len(), 7);
        assert_eq!(tt.periods_for("lab", 3).len(), 1);
        assert_eq!(tt.periods_for("lab", 2).len(), 7);
        assert_eq!(tt.periods_for("a", 6).len(), 0);
    }

    #[test]
    fn bad_periods_name_themselves() {
        let mut c = cfg();
        c.periods[1].end = "8:xx".into();
        let e = Timetable::from_config(&c).unwrap_err().to_string();
        assert!(
            e.contains("periods[1]") && e.contains("第2节") && e.contains("8:xx"),
            "{e}"
        );
        let mut c = cfg();
        c.periods[7].rooms = vec!["nowhere".into()];
        let e = Timetable::from_config(&c).unwrap_err().to_string();
        assert!(e.contains("nowhere"), "{e}");
    }

    #[test]
    fn calendar_days_and_slots_in_utc() {
        let cal = Calendar::parse_csv(
            "\u{feff}kind,start,end,note\nterm,2026-09-01,2027-01-20,秋季学期\nholiday,2026-10-01,2026-10-07,国庆节\n调休,2026-10-10,2026-10-10,\"补课, 周六\"\n",
            "cal.csv",
        )
        .unwrap();
        assert_eq!(cal.school_day(d("2026-08-31")), None, "before term");
        assert_eq!(cal.school_day(d("2026-09-01")), Some(2));
        assert_eq!(cal.school_day(d("2026-10-02")), None, "holiday");
        assert_eq!(cal.school_day(d("2026-10-10")), Some(1), "make-up Saturday");
        assert_eq!(cal.rows[2].3, "补课, 周六");
        let tt = Timetable::from_config(&cfg()).unwrap();
        let off = FixedOffset::east_opt(8 * 3600).unwrap();
        // Week of 2026-09-07 (Mon) .. 09-14: 5 school days x 7 periods.
        let s = slots(&tt, &cal, "a", d("2026-09-07"), d("2026-09-14"), off);
        assert_eq!(s.len(), 35);
        assert_eq!(s[0].start.to_rfc3339(), "2026-09-07T00:00:00+00:00");
        // Saturday and Sunday have no periods; the weekend is not counted.
        let s = slots(&tt, &cal, "a", d("2026-09-12"), d("2026-09-14"), off);
        assert!(s.is_empty());
    }

    #[test]
    fn timetable_csv_and_its_errors() {
        let rooms = cfg().rooms;
        let tt = Timetable::parse_csv(
            "name,start,end,weekdays,rooms\n早读,07:30,07:50,1-5,\n机房,09:00,10:30,1 3,lab\n",
            "tt.csv",
            &rooms,
        )
        .unwrap();
        assert_eq!(tt.periods_for("a", 1).len(), 1);
        assert_eq!(tt.periods_for("lab", 3)[0].name, "机房");
        for (text, want) in [
            (
                "早读,07:30,07:50,1-5\n第1节,08:00,7:40,1-5\n",
                "tt.csv line 2",
            ),
            ("早读,07:30,07:50,mon\n", "weekdays"),
            ("早读,07:30,07:50,1-5,attic\n", "attic"),
            ("早读,07:30\n", "line 1"),
            ("早读,07:30,07:50,1-9\n", "weekday 8"),
        ] {
            let e = Timetable::parse_csv(text, "tt.csv", &rooms)
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn malformed_calendar_names_the_line() {
        let e = Calendar::parse_csv(
            "kind,start,end\nterm,2026-09-01,2027-01-20\n\nholiday,2026-10-01\n",
            "cal.csv",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("cal.csv line 4"), "{e}");
        let e = Calendar::parse_csv("term,2026-09-01,2026-13-01\n", "cal.csv")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1") && e.contains("2026-13-01"), "{e}");
        let e = Calendar::parse_csv("vacation,2026-09-01,2026-09-02\n", "x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("vacation"), "{e}");
        let e = Calendar::parse_csv("term,2026-09-05,2026-09-01\n", "x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("before start"), "{e}");
    }
}
