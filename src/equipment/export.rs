//! Exports for the county supervisor: datasets `usage` (state intervals),
//! `lessons`, `receptions` and `equipment` as CSV (UTF-8 with BOM, opens in
//! Excel/WPS), JSON or xlsx (header row, typed columns, constant memory).
//! Every timestamp says its zone: RFC 3339 with the station's offset in CSV and
//! JSON; in xlsx a date-time cell in local time under a header naming the
//! offset. Rows come in id order in pages, so `after` (the last id seen) is a
//! stable cursor.

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use serde_json::{Map, Value};

use super::EquipmentConfig;
use crate::store::equipment::LessonFilter;
use crate::store::{Store, StoreError};

/// A dataset that can be exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dataset {
    Usage,
    Lessons,
    Receptions,
    Equipment,
    /// The disc register (光盘发放登记) of village outreach.
    Discs,
}

impl Dataset {
    pub fn parse(s: &str) -> Option<Dataset> {
        Some(match s {
            "usage" => Dataset::Usage,
            "lessons" => Dataset::Lessons,
            "receptions" => Dataset::Receptions,
            "equipment" => Dataset::Equipment,
            "discs" => Dataset::Discs,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            Dataset::Usage => "usage",
            Dataset::Lessons => "lessons",
            Dataset::Receptions => "receptions",
            Dataset::Equipment => "equipment",
            Dataset::Discs => "discs",
        }
    }
    /// Column names.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Dataset::Usage => &[
                "id",
                "device",
                "room",
                "kind",
                "state",
                "start",
                "end",
                "seconds",
                "open",
                "clock_trusted",
                "closed_by",
                "detail",
            ],
            Dataset::Lessons => &[
                "id",
                "room",
                "period",
                "start",
                "end",
                "teacher",
                "class",
                "subject",
                "items",
                "note",
                "clock_trusted",
            ],
            Dataset::Receptions => &[
                "id",
                "item_id",
                "title",
                "category",
                "received_at",
                "clock_trusted",
                "size",
                "path",
            ],
            Dataset::Discs => &[
                "id",
                "job_id",
                "disc_no",
                "titles",
                "category",
                "copies",
                "recipient",
                "purpose",
                "made_at",
                "clock_trusted",
                "note",
            ],
            Dataset::Equipment => &[
                "id",
                "device",
                "name",
                "room",
                "kind",
                "sense",
                "driver",
                "port_or_host",
                "state",
                "detail",
                "last_seen",
            ],
        }
    }
}

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
    Xlsx,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        Some(match s {
            "csv" => Format::Csv,
            "json" => Format::Json,
            "xlsx" => Format::Xlsx,
            _ => return None,
        })
    }
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

/// One value.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Int(i64),
    Num(f64),
    Bool(bool),
    Time(DateTime<FixedOffset>),
    Null,
}

impl Cell {
    fn time(t: Option<DateTime<Utc>>, off: FixedOffset) -> Cell {
        t.map(|t| Cell::Time(t.with_timezone(&off)))
            .unwrap_or(Cell::Null)
    }
    fn text(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Int(i) => i.to_string(),
            Cell::Num(n) => n.to_string(),
            Cell::Bool(b) => b.to_string(),
            Cell::Time(t) => t.to_rfc3339_opts(SecondsFormat::Secs, false),
            Cell::Null => String::new(),
        }
    }
    fn json(&self) -> Value {
        match self {
            Cell::Int(i) => Value::from(*i),
            Cell::Num(n) => Value::from(*n),
            Cell::Bool(b) => Value::from(*b),
            Cell::Null => Value::Null,
            other => Value::from(other.text()),
        }
    }
}

/// What to export.
#[derive(Debug, Clone)]
pub struct Query {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub after: i64,
    pub limit: Option<usize>,
}

/// One page of rows (id, cells) after `after`, at most `n`.
pub fn page(
    store: &Store,
    config: &EquipmentConfig,
    off: FixedOffset,
    ds: Dataset,
    q: &Query,
    after: i64,
    n: usize,
) -> Result<Vec<(i64, Vec<Cell>)>, StoreError> {
    let devices: std::collections::HashMap<&str, &super::DeviceConfig> =
        config.devices.iter().map(|d| (d.id.as_str(), d)).collect();
    Ok(match ds {
        Dataset::Usage => store
            .equip_intervals_page(q.from, q.to, after, n)?
            .into_iter()
            .map(|r| {
                let end = r.effective_end();
                let dev = devices.get(r.device_id.as_str());
                let room = dev
                    .map(|d| Cell::Text(d.room.clone()))
                    .unwrap_or(Cell::Null);
                let kind = dev
                    .map(|d| Cell::Text(d.kind.as_str().into()))
                    .unwrap_or(Cell::Null);
                (
                    r.id,
                    vec![
                        Cell::Int(r.id),
                        Cell::Text(r.device_id),
                        room,
                        kind,
                        Cell::Text(r.state.as_str().into()),
                        Cell::time(Some(r.start_at), off),
                        Cell::time(Some(end), off),
                        Cell::Int((end - r.start_at).num_seconds().max(0)),
                        Cell::Bool(r.end_at.is_none()),
                        Cell::Bool(r.clock_trusted),
                        r.closed_by.map(Cell::Text).unwrap_or(Cell::Null),
                        Cell::Text(r.detail),
                    ],
                )
            })
            .collect(),
        Dataset::Lessons => store
            .lessons(&LessonFilter {
                from: Some(q.from),
                to: Some(q.to),
                after: Some(after),
                limit: Some(n),
                ..Default::default()
            })?
            .into_iter()
            .map(|row| {
                let l = row.lesson;
                (
                    row.id,
                    vec![
                        Cell::Int(row.id),
                        Cell::Text(l.room),
                        l.period.map(Cell::Text).unwrap_or(Cell::Null),
                        Cell::time(Some(l.start_at), off),
                        Cell::time(Some(l.end_at), off),
                        Cell::Text(l.teacher),
                        Cell::Text(l.class),
                        Cell::Text(l.subject),
                        Cell::Text(
                            l.items
                                .iter()
                                .map(|i| i.to_string())
                                .collect::<Vec<_>>()
                                .join(" "),
                        ),
                        Cell::Text(l.note),
                        Cell::Bool(row.clock_trusted),
                    ],
                )
            })
            .collect(),
        Dataset::Receptions => {
            let (from, to) = (
                crate::store::catalog::ts(q.from),
                crate::store::catalog::ts(q.to),
            );
            store
                .receptions(Some(&from), Some(&to), Some(after), n as u32)?
                .into_iter()
                .map(|r| {
                    let at = chrono::DateTime::parse_from_rfc3339(&r.received_at)
                        .ok()
                        .map(|t| t.to_utc());
                    (
                        r.id,
                        vec![
                            Cell::Int(r.id),
                            Cell::Int(r.item_id),
                            Cell::Text(r.title),
                            Cell::Text(r.category),
                            Cell::time(at, off),
                            Cell::Bool(r.clock_trusted),
                            Cell::Int(r.size as i64),
                            Cell::Text(r.path),
                        ],
                    )
                })
                .collect()
        }
        Dataset::Discs => {
            let (from, to) = (
                crate::store::catalog::ts(q.from),
                crate::store::catalog::ts(q.to),
            );
            store
                .disc_register(Some(&from), Some(&to), Some(after), n as u32)?
                .into_iter()
                .map(|d| {
                    let made = chrono::DateTime::parse_from_rfc3339(&d.made_at)
                        .ok()
                        .map(|t| t.to_utc());
                    (
                        d.id,
                        vec![
                            Cell::Int(d.id),
                            d.job_id.map(Cell::Int).unwrap_or(Cell::Null),
                            Cell::Int(d.disc_no as i64),
                            Cell::Text(d.titles),
                            Cell::Text(d.category),
                            Cell::Int(d.copies as i64),
                            Cell::Text(d.recipient),
                            Cell::Text(d.purpose),
                            Cell::time(made, off),
                            Cell::Bool(d.clock_trusted),
                            d.note.map(Cell::Text).unwrap_or(Cell::Null),
                        ],
                    )
                })
                .collect()
        }
        Dataset::Equipment => {
            let latest = store.equip_latest_states()?;
            config
                .devices
                .iter()
                .enumerate()
                .map(|(i, d)| (i as i64 + 1, d))
                .filter(|(id, _)| *id > after)
                .take(n)
                .map(|(id, d)| {
                    let l = latest.iter().find(|x| x.0 == d.id);
                    (
                        id,
                        vec![
                            Cell::Int(id),
                            Cell::Text(d.id.clone()),
                            Cell::Text(d.display_name().into()),
                            Cell::Text(d.room.clone()),
                            Cell::Text(d.kind.as_str().into()),
                            Cell::Text(format!("{:?}", d.sense).to_lowercase()),
                            Cell::Text(d.driver.clone()),
                            Cell::Text(if d.host.is_empty() {
                                d.port.clone()
                            } else {
                                format!("{}:{}", d.host, d.tcp_port)
                            }),
                            l.map(|x| Cell::Text(x.1.as_str().into()))
                                .unwrap_or(Cell::Null),
                            l.map(|x| Cell::Text(x.2.clone())).unwrap_or(Cell::Null),
                            Cell::time(l.map(|x| x.3), off),
                        ],
                    )
                })
                .collect()
        }
    })
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The CSV header line, starting with a UTF-8 BOM.
pub fn csv_header(ds: Dataset) -> String {
    let mut s = String::from('\u{feff}');
    s.push_str(&ds.columns().join(","));
    s.push_str("\r\n");
    s
}

/// Appends one CSV line.
pub fn csv_line(out: &mut String, cells: &[Cell]) {
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&csv_field(&c.text()));
    }
    out.push_str("\r\n");
}

/// One JSON object.
pub fn json_row(ds: Dataset, cells: &[Cell]) -> Value {
    let mut m = Map::new();
    for (k, c) in ds.columns().iter().zip(cells) {
        m.insert(k.to_string(), c.json());
    }
    Value::Object(m)
}

/// Writes every row after `q.after` to an xlsx workbook in constant memory.
pub fn xlsx(
    store: &Store,
    config: &EquipmentConfig,
    off: FixedOffset,
    ds: Dataset,
    q: &Query,
) -> anyhow::Result<(Vec<u8>, i64)> {
    use rust_xlsxwriter::{ExcelDateTime, Format as XFormat, Workbook};
    let mut wb = Workbook::new();
    let bold = XFormat::new().set_bold();
    let dt = XFormat::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    let ws = wb.add_worksheet_with_constant_memory()?;
    ws.set_name(ds.name())?;
    let zone = format!("UTC{off}");
    for (c, name) in ds.columns().iter().enumerate() {
        let is_time = matches!(*name, "start" | "end" | "received_at" | "last_seen");
        let header = if is_time {
            format!("{name} ({zone})")
        } else {
            name.to_string()
        };
        ws.write_string_with_format(0, c as u16, header, &bold)?;
    }
    let mut row = 1u32;
    let mut after = q.after;
    let limit = q.limit.unwrap_or(usize::MAX);
    let mut written = 0usize;
    while written < limit {
        let rows = page(
            store,
            config,
            off,
            ds,
            q,
            after,
            10_000.min(limit - written),
        )?;
        let Some(last) = rows.last() else { break };
        after = last.0;
        for (_, cells) in rows {
            for (c, cell) in cells.iter().enumerate() {
                let c = c as u16;
                match cell {
                    Cell::Text(s) => {
                        ws.write_string(row, c, s)?;
                    }
                    Cell::Int(i) => {
                        ws.write_number(row, c, *i as f64)?;
                    }
                    Cell::Num(n) => {
                        ws.write_number(row, c, *n)?;
                    }
                    Cell::Bool(b) => {
                        ws.write_boolean(row, c, *b)?;
                    }
                    Cell::Time(t) => {
                        let local = t.naive_local().and_utc().timestamp();
                        ws.write_datetime_with_format(
                            row,
                            c,
                            ExcelDateTime::from_timestamp(local)?,
                            &dt,
                        )?;
                    }
                    Cell::Null => {}
                }
            }
            row += 1;
            written += 1;
            if row >= 1_048_576 {
                anyhow::bail!(
                    "more rows than one xlsx sheet holds (1,048,575); narrow from/to or use csv"
                );
            }
        }
    }
    Ok((wb.save_to_buffer()?, after))
}
