//! Equipment API (v1); the pages are in [`super::equipment_pages`] and share
//! this module's error type, date ranges and store helper.
//!
//! Dates in `from`/`to` are local dates (`YYYY-MM-DD`, `to` inclusive) at the
//! station's UTC offset, or RFC 3339 instants (`to` exclusive); the default is
//! the last 7 days. Every time in a response carries its offset. Errors are
//! JSON `{"error": "..."}` with a reason a person can act on.
//!
//! | route | what |
//! |---|---|
//! | `GET /api/v1/equipment` | devices, latest state, on-hours in from/to |
//! | `GET /api/v1/equipment/{id}/states` | state intervals in from/to |
//! | `POST /api/v1/lessons` | record a lesson (201; 200 duplicate; 409 overlap; 422 bad room/period/item) |
//! | `GET /api/v1/lessons` | by date+period or from/to; room, teacher, class, subject, item |
//! | `GET /api/v1/reports/utilization` | per device and room, overall, 完好率 |
//! | `GET /api/v1/reports/rates` | reception and application rates per category |
//! | `GET /api/v1/export/{usage,lessons,receptions,equipment,discs}` | from, to, after, limit, format=csv/json/xlsx |
//! | `PUT /api/v1/calendar`, `/plan`, `/timetable` | import CSV (422 names the line) |
//! | `GET /equipment`, `POST /equipment/lessons`, `GET /equipment/report` | pages |

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::AppState;
use crate::equipment::export::{self, Dataset, Format};
use crate::equipment::lessons::{self, LessonError, LessonRequest};
use crate::equipment::report;
use crate::equipment::timetable::to_utc;
use crate::equipment::{Sense, State as DevState};
use crate::store::equipment::LessonFilter;

/// Routes of the equipment API and pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/equipment", get(list_equipment))
        .route("/api/v1/equipment/{id}/states", get(device_states))
        .route("/api/v1/lessons", post(post_lesson).get(get_lessons))
        .route("/api/v1/reports/utilization", get(utilization_report))
        .route("/api/v1/reports/rates", get(rates_report))
        .route("/api/v1/export/{dataset}", get(export_dataset))
        .route("/api/v1/calendar", put(put_calendar))
        .route("/api/v1/plan", put(put_plan))
        .route("/api/v1/timetable", put(put_timetable))
        .route("/equipment", get(super::equipment_pages::today_page))
        .route(
            "/equipment/lessons",
            post(super::equipment_pages::form_lesson),
        )
        .route(
            "/equipment/report",
            get(super::equipment_pages::report_page),
        )
}

/// An API error: status and a message for the user.
#[derive(Debug)]
pub struct ApiError(pub(super) StatusCode, pub(super) String);

impl ApiError {
    pub(super) fn bad(msg: impl Into<String>) -> Self {
        ApiError(StatusCode::BAD_REQUEST, msg.into())
    }
    pub(super) fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!("equipment API: {e:#}");
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error; see the log".into(),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

pub(super) type ApiResult<T> = Result<T, ApiError>;

pub(super) fn offset(st: &AppState) -> ApiResult<FixedOffset> {
    st.config.station.offset().map_err(ApiError::internal)
}

/// The range of a request.
#[derive(Debug, Default, Deserialize)]
pub struct RangeQuery {
    pub from: Option<String>,
    pub to: Option<String>,
}

/// A resolved range: UTC instants and local dates [from, to).
pub(super) struct Range {
    pub(super) from: DateTime<Utc>,
    pub(super) to: DateTime<Utc>,
    pub(super) from_day: NaiveDate,
    pub(super) to_day: NaiveDate,
}

pub(super) fn parse_bound(
    s: &str,
    off: FixedOffset,
    end: bool,
) -> ApiResult<(DateTime<Utc>, NaiveDate)> {
    super::api::date_bound(s, off, end).ok_or_else(|| {
        ApiError::bad(format!(
            "{s:?} is not a date (2026-09-01) or an RFC 3339 time (2026-09-01T08:00:00+08:00)"
        ))
    })
}

/// Default range: the last 7 local days including today.
pub(super) fn range(
    from: Option<&str>,
    to: Option<&str>,
    st: &AppState,
    off: FixedOffset,
) -> ApiResult<Range> {
    let today = st.clock.now().with_timezone(&off).date_naive();
    let (from, from_day) = match from {
        Some(s) => parse_bound(s, off, false)?,
        None => parse_bound(&(today - Duration::days(6)).to_string(), off, false)?,
    };
    let (to, to_day) = match to {
        Some(s) => parse_bound(s, off, true)?,
        None => parse_bound(&today.to_string(), off, true)?,
    };
    if to <= from {
        return Err(ApiError::bad("to must be after from"));
    }
    if to_day - from_day > Duration::days(800) {
        return Err(ApiError::bad("a range longer than 800 days is too long"));
    }
    Ok(Range {
        from,
        to,
        from_day,
        to_day,
    })
}

pub(super) fn local(t: DateTime<Utc>, off: FixedOffset) -> String {
    t.with_timezone(&off)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

pub(super) async fn blocking<T: Send + 'static>(
    st: &AppState,
    f: impl FnOnce(&crate::store::Store) -> anyhow::Result<T> + Send + 'static,
) -> ApiResult<T> {
    let store = st.store.clone();
    match tokio::task::spawn_blocking(move || f(&store)).await {
        Ok(r) => r.map_err(ApiError::internal),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(ApiError::internal(e)),
    }
}

#[derive(Serialize)]
struct DeviceOut {
    id: String,
    name: String,
    room: String,
    kind: String,
    sense: Sense,
    driver: String,
    state: Option<DevState>,
    detail: Option<String>,
    last_seen: Option<String>,
    /// Within [from, to): hours on, intervals, intervals written with an untrusted clock.
    on_hours: f64,
    intervals: usize,
    untrusted_rows: usize,
}

#[derive(Default)]
struct Summary {
    on_ms: i64,
    intervals: usize,
    untrusted: usize,
}

async fn list_equipment(
    State(st): State<AppState>,
    Query(q): Query<RangeQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let off = offset(&st)?;
    let r = range(q.from.as_deref(), q.to.as_deref(), &st, off)?;
    let (from, to) = (r.from, r.to);
    let (latest, sums) = blocking(&st, move |s| {
        let mut sums: std::collections::HashMap<String, Summary> = Default::default();
        s.equip_for_each_span(from, to, |dev, state, a, b, trusted| {
            let e = sums.entry(dev.to_string()).or_default();
            e.intervals += 1;
            e.untrusted += usize::from(!trusted);
            if state == DevState::On {
                e.on_ms += (b.min(to) - a.max(from)).num_milliseconds().max(0);
            }
        })?;
        Ok((s.equip_latest_states()?, sums))
    })
    .await?;
    let devices: Vec<DeviceOut> = st
        .config
        .equipment
        .devices
        .iter()
        .map(|d| {
            let l = latest.iter().find(|x| x.0 == d.id);
            let sum = sums.get(&d.id);
            DeviceOut {
                id: d.id.clone(),
                name: d.display_name().into(),
                room: d.room.clone(),
                kind: d.kind.as_str().into(),
                sense: d.sense,
                driver: d.driver.clone(),
                state: l.map(|x| x.1),
                detail: l.map(|x| x.2.clone()),
                last_seen: l.map(|x| local(x.3, off)),
                on_hours: sum.map_or(0.0, |s| s.on_ms as f64 / 3_600_000.0),
                intervals: sum.map_or(0, |s| s.intervals),
                untrusted_rows: sum.map_or(0, |s| s.untrusted),
            }
        })
        .collect();
    Ok(Json(json!({
        "from": local(from, off), "to": local(to, off),
        "devices": devices, "rooms": st.config.equipment.rooms,
    })))
}

async fn device_states(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<RangeQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    if !st.config.equipment.devices.iter().any(|d| d.id == id) {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("unknown device {id:?}"),
        ));
    }
    let off = offset(&st)?;
    let r = range(q.from.as_deref(), q.to.as_deref(), &st, off)?;
    let (from, to, dev) = (r.from, r.to, id.clone());
    let rows = blocking(&st, move |s| Ok(s.equip_intervals(Some(&dev), from, to)?)).await?;
    let states: Vec<_> = rows
        .iter()
        .map(|i| {
            json!({
                "id": i.id, "state": i.state, "detail": i.detail,
                "start": local(i.start_at, off),
                "end": local(i.effective_end(), off),
                "open": i.end_at.is_none(),
                "clock_trusted": i.clock_trusted,
            })
        })
        .collect();
    let untrusted = rows.iter().filter(|i| !i.clock_trusted).count();
    Ok(Json(json!({
        "device": id, "from": local(from, off), "to": local(to, off),
        "states": states, "untrusted_rows": untrusted,
    })))
}

pub(super) fn lesson_json(
    l: &crate::store::equipment::LessonRow,
    off: FixedOffset,
) -> serde_json::Value {
    json!({
        "id": l.id, "room": l.lesson.room, "period": l.lesson.period,
        "start": local(l.lesson.start_at, off), "end": local(l.lesson.end_at, off),
        "teacher": l.lesson.teacher, "class": l.lesson.class, "subject": l.lesson.subject,
        "note": l.lesson.note, "items": l.lesson.items,
        "created_at": local(l.created_at, off), "clock_trusted": l.clock_trusted,
    })
}

pub(super) async fn record_lesson(
    st: &AppState,
    req: LessonRequest,
) -> Result<(i64, bool), LessonError> {
    let cfg = st.config.clone();
    let clock = st.clock.clone();
    let store = st.store.clone();
    let off = cfg
        .station
        .offset()
        .map_err(|e| LessonError::Rejected(e.to_string()))?;
    let floor = cfg
        .station
        .floor()
        .map_err(|e| LessonError::Rejected(e.to_string()))?;
    match tokio::task::spawn_blocking(move || {
        lessons::record(&store, &cfg.equipment, off, clock.as_ref(), floor, &req)
    })
    .await
    {
        Ok(r) => r,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(LessonError::Rejected(e.to_string())),
    }
}

async fn post_lesson(
    State(st): State<AppState>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    let req: LessonRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("bad lesson JSON: {e}"),
        )
    })?;
    match record_lesson(&st, req).await {
        Ok((id, true)) => Ok((
            StatusCode::CREATED,
            Json(json!({ "id": id, "created": true })),
        )),
        Ok((id, false)) => Ok((StatusCode::OK, Json(json!({ "id": id, "created": false })))),
        Err(LessonError::Rejected(m)) => Err(ApiError(StatusCode::UNPROCESSABLE_ENTITY, m)),
        Err(e @ LessonError::Overlap { .. }) => Err(ApiError(StatusCode::CONFLICT, e.to_string())),
        Err(LessonError::Store(e)) => Err(ApiError::internal(e)),
    }
}

/// Query of `GET /api/v1/lessons`.
#[derive(Debug, Default, Deserialize)]
pub struct LessonsQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub date: Option<NaiveDate>,
    pub period: Option<String>,
    pub room: Option<String>,
    pub teacher: Option<String>,
    pub class: Option<String>,
    pub subject: Option<String>,
    pub item: Option<i64>,
}

async fn get_lessons(
    State(st): State<AppState>,
    Query(q): Query<LessonsQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let off = offset(&st)?;
    let (from, to) = if let Some(date) = q.date {
        if let Some(p) = &q.period {
            let room = q.room.clone().unwrap_or_default();
            let cfg = st.config.clone();
            let tt = blocking(&st, move |s| lessons::timetable(s, &cfg.equipment)).await?;
            let wd = chrono::Datelike::weekday(&date).number_from_monday() as u8;
            let per = tt
                .periods_for(&room, wd)
                .into_iter()
                .find(|x| &x.name == p)
                .ok_or_else(|| ApiError::bad(format!("no period {p:?} on {date}")))?;
            (to_utc(date, per.start, off), to_utc(date, per.end, off))
        } else {
            let r = range(Some(&date.to_string()), Some(&date.to_string()), &st, off)?;
            (r.from, r.to)
        }
    } else {
        let r = range(q.from.as_deref(), q.to.as_deref(), &st, off)?;
        (r.from, r.to)
    };
    let filter = LessonFilter {
        from: Some(from),
        to: Some(to),
        room: q.room,
        teacher: q.teacher,
        class: q.class,
        subject: q.subject,
        item: q.item,
        ..Default::default()
    };
    let rows = blocking(&st, move |s| Ok(s.lessons(&filter)?)).await?;
    let lessons: Vec<_> = rows.iter().map(|l| lesson_json(l, off)).collect();
    Ok(Json(
        json!({ "from": local(from, off), "to": local(to, off), "lessons": lessons }),
    ))
}

/// Runs a report builder over the request's range off the runtime.
async fn report_json<T: Serialize + Send + 'static>(
    st: &AppState,
    q: &RangeQuery,
    build: fn(
        &crate::store::Store,
        &crate::equipment::EquipmentConfig,
        FixedOffset,
        NaiveDate,
        NaiveDate,
    ) -> anyhow::Result<T>,
) -> ApiResult<Json<T>> {
    let off = offset(st)?;
    let r = range(q.from.as_deref(), q.to.as_deref(), st, off)?;
    let cfg = st.config.clone();
    let rep = blocking(st, move |s| {
        build(s, &cfg.equipment, off, r.from_day, r.to_day)
    })
    .await?;
    Ok(Json(rep))
}

async fn utilization_report(
    State(st): State<AppState>,
    Query(q): Query<RangeQuery>,
) -> ApiResult<Json<report::UtilizationReport>> {
    report_json(&st, &q, report::utilization).await
}

async fn rates_report(
    State(st): State<AppState>,
    Query(q): Query<RangeQuery>,
) -> ApiResult<Json<report::RatesReport>> {
    report_json(&st, &q, report::rates).await
}

/// Query of `GET /api/v1/export/{dataset}`.
#[derive(Debug, Default, Deserialize)]
pub struct ExportQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub after: Option<i64>,
    pub limit: Option<usize>,
    pub format: Option<String>,
}

const PAGE: usize = 5_000;

async fn export_dataset(
    State(st): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    let ds = Dataset::parse(&name).ok_or_else(|| {
        ApiError(
            StatusCode::NOT_FOUND,
            format!("unknown dataset {name:?}; use usage, lessons, receptions, equipment or discs"),
        )
    })?;
    let fmt = Format::parse(q.format.as_deref().unwrap_or("csv"))
        .ok_or_else(|| ApiError::bad("format must be csv, json or xlsx"))?;
    let off = offset(&st)?;
    let r = range(q.from.as_deref(), q.to.as_deref(), &st, off)?;
    let query = export::Query {
        from: r.from,
        to: r.to,
        after: q.after.unwrap_or(0),
        limit: q.limit,
    };
    let filename = format!(
        "{}-{}-{}.{}",
        ds.name(),
        r.from_day,
        r.to_day - Duration::days(1),
        match fmt {
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Xlsx => "xlsx",
        }
    );
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
        .map_err(ApiError::internal)?;
    let cfg = st.config.clone();
    if fmt == Format::Xlsx {
        let (bytes, last) = blocking(&st, move |s| {
            export::xlsx(s, &cfg.equipment, off, ds, &query)
        })
        .await?;
        let mut resp = (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(fmt.content_type()),
            )],
            bytes,
        )
            .into_response();
        resp.headers_mut()
            .insert(header::CONTENT_DISPOSITION, disposition);
        resp.headers_mut()
            .insert("x-next-after", HeaderValue::from(last));
        return Ok(resp);
    }
    // CSV and JSON stream page by page from a blocking producer.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let store = st.store.clone();
    std::thread::Builder::new()
        .name("equip-export".into())
        .spawn(move || {
            let send = |s: String| tx.blocking_send(Ok(Bytes::from(s))).is_ok();
            let limit = query.limit.unwrap_or(usize::MAX);
            let mut after = query.after;
            let mut written = 0usize;
            let mut first = true;
            let head = match fmt {
                Format::Csv => export::csv_header(ds),
                _ => format!("{{\"dataset\":\"{}\",\"rows\":[", ds.name()),
            };
            if !send(head) {
                return;
            }
            while written < limit {
                let rows = match export::page(
                    &store,
                    &cfg.equipment,
                    off,
                    ds,
                    &query,
                    after,
                    PAGE.min(limit - written),
                ) {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::error!("export {}: {e}", ds.name());
                        let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
                        return;
                    }
                };
                let Some(last) = rows.last() else { break };
                after = last.0;
                written += rows.len();
                let mut chunk = String::with_capacity(rows.len() * 128);
                for (_, cells) in &rows {
                    match fmt {
                        Format::Csv => export::csv_line(&mut chunk, cells),
                        _ => {
                            if !first {
                                chunk.push(',');
                            }
                            first = false;
                            chunk.push_str(&export::json_row(ds, cells).to_string());
                        }
                    }
                }
                if !send(chunk) {
                    return;
                }
            }
            if fmt == Format::Json {
                send(format!(
                    "],\"next_after\":{after},\"utc_offset\":\"{off}\"}}"
                ));
            }
        })
        .map_err(ApiError::internal)?;
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let mut resp = Body::from_stream(stream).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(fmt.content_type()),
    );
    resp.headers_mut()
        .insert(header::CONTENT_DISPOSITION, disposition);
    Ok(resp)
}

async fn import(
    st: &AppState,
    name: &'static str,
    body: Bytes,
) -> ApiResult<Json<serde_json::Value>> {
    let text = String::from_utf8(body.to_vec()).map_err(|_| {
        ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the CSV must be UTF-8".into(),
        )
    })?;
    let store = st.store.clone();
    let cfg = st.config.clone();
    let res = tokio::task::spawn_blocking(move || {
        lessons::import_doc(
            &store,
            &cfg.equipment,
            name,
            &text,
            &format!("uploaded {name} CSV"),
        )
    })
    .await
    .map_err(ApiError::internal)?;
    res.map_err(|e| ApiError(StatusCode::UNPROCESSABLE_ENTITY, format!("{e:#}")))?;
    Ok(Json(json!({ "imported": name })))
}

async fn put_calendar(
    State(st): State<AppState>,
    body: Bytes,
) -> ApiResult<Json<serde_json::Value>> {
    import(&st, lessons::DOC_CALENDAR, body).await
}

async fn put_timetable(
    State(st): State<AppState>,
    body: Bytes,
) -> ApiResult<Json<serde_json::Value>> {
    import(&st, lessons::DOC_TIMETABLE, body).await
}

async fn put_plan(State(st): State<AppState>, body: Bytes) -> ApiResult<Json<serde_json::Value>> {
    import(&st, lessons::DOC_PLAN, body).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_local_dates_with_inclusive_end() {
        let off = FixedOffset::east_opt(8 * 3600).unwrap();
        let (f, d) = parse_bound("2026-09-07", off, false).unwrap();
        assert_eq!(f.to_rfc3339(), "2026-09-06T16:00:00+00:00");
        assert_eq!(d.to_string(), "2026-09-07");
        let (t, d) = parse_bound("2026-09-07", off, true).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-09-07T16:00:00+00:00");
        assert_eq!(d.to_string(), "2026-09-08");
        let (t, _) = parse_bound("2026-09-07T10:00:00+08:00", off, true).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-09-07T02:00:00+00:00");
        assert!(parse_bound("7/9/2026", off, false).is_err());
    }
}
