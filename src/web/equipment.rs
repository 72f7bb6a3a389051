//! Equipment API (v1) and the technician's equipment pages (zh-CN).
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
//! | `GET /api/v1/export/{usage,lessons,receptions,equipment}` | from, to, after, limit, format=csv/json/xlsx |
//! | `PUT /api/v1/calendar`, `/plan`, `/timetable` | import CSV (422 names the line) |
//! | `GET /equipment`, `POST /equipment/lessons`, `GET /equipment/report` | pages |

use std::fmt::Write as _;

use axum::body::{Body, Bytes};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::AppState;
use super::pages::esc;
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
        .route("/equipment", get(today_page))
        .route("/equipment/lessons", post(form_lesson))
        .route("/equipment/report", get(report_page))
}

/// An API error: status and a message for the user.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl ApiError {
    fn bad(msg: impl Into<String>) -> Self {
        ApiError(StatusCode::BAD_REQUEST, msg.into())
    }
    fn internal(e: impl std::fmt::Display) -> Self {
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

type ApiResult<T> = Result<T, ApiError>;

fn offset(st: &AppState) -> ApiResult<FixedOffset> {
    st.config.station.offset().map_err(ApiError::internal)
}

/// The range of a request.
#[derive(Debug, Default, Deserialize)]
pub struct RangeQuery {
    pub from: Option<String>,
    pub to: Option<String>,
}

/// A resolved range: UTC instants and local dates [from, to).
struct Range {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    from_day: NaiveDate,
    to_day: NaiveDate,
}

fn parse_bound(s: &str, off: FixedOffset, end: bool) -> ApiResult<(DateTime<Utc>, NaiveDate)> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let d = if end { d + Duration::days(1) } else { d };
        return Ok((to_utc(d, chrono::NaiveTime::MIN, off), d));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        let t = t.with_timezone(&Utc);
        let day = t.with_timezone(&off).date_naive();
        let day = if end && t.with_timezone(&off).time() != chrono::NaiveTime::MIN {
            day + Duration::days(1)
        } else {
            day
        };
        return Ok((t, day));
    }
    Err(ApiError::bad(format!(
        "{s:?} is not a date (2026-09-01) or an RFC 3339 time (2026-09-01T08:00:00+08:00)"
    )))
}

/// Default range: the last 7 local days including today.
fn range(
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

fn local(t: DateTime<Utc>, off: FixedOffset) -> String {
    t.with_timezone(&off)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

async fn blocking<T: Send + 'static>(
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

fn lesson_json(l: &crate::store::equipment::LessonRow, off: FixedOffset) -> serde_json::Value {
    json!({
        "id": l.id, "room": l.lesson.room, "period": l.lesson.period,
        "start": local(l.lesson.start_at, off), "end": local(l.lesson.end_at, off),
        "teacher": l.lesson.teacher, "class": l.lesson.class, "subject": l.lesson.subject,
        "note": l.lesson.note, "items": l.lesson.items,
        "created_at": local(l.created_at, off), "clock_trusted": l.clock_trusted,
    })
}

async fn record_lesson(st: &AppState, req: LessonRequest) -> Result<(i64, bool), LessonError> {
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

// ---------------------------------------------------------------- pages

fn page(title: &str, body: &str) -> Html<String> {
    const STYLE: &str = "<style>.on{color:#070;font-weight:bold}.bad{color:#b00}\
.msg{background:#ffd;padding:.3em}input[type=text]{width:6em}table{margin:.5em 0}</style>";
    let links = "<p><a href=\"/equipment\">今日课表</a> · <a href=\"/equipment/report\">利用率与应用率</a></p>";
    super::pages::layout(title, &format!("{links}{body}"), STYLE)
}

fn pct(x: Option<f64>) -> String {
    x.map(|v| format!("{:.1}%", v * 100.0))
        .unwrap_or_else(|| "—".into())
}

/// Query of the today page.
#[derive(Debug, Default, Deserialize)]
pub struct TodayQuery {
    pub date: Option<NaiveDate>,
    pub msg: Option<String>,
}

async fn today_page(
    State(st): State<AppState>,
    Query(q): Query<TodayQuery>,
) -> ApiResult<Html<String>> {
    let off = offset(&st)?;
    let day = q
        .date
        .unwrap_or_else(|| st.clock.now().with_timezone(&off).date_naive());
    let (from, to) = (
        to_utc(day, chrono::NaiveTime::MIN, off),
        to_utc(day + Duration::days(1), chrono::NaiveTime::MIN, off),
    );
    let cfg = st.config.clone();
    let (latest, day_lessons, cal, tt) = blocking(&st, move |s| {
        Ok((
            s.equip_latest_states()?,
            s.lessons(&LessonFilter {
                from: Some(from),
                to: Some(to),
                ..Default::default()
            })?,
            lessons::calendar(s)?,
            lessons::timetable(s, &cfg.equipment)?,
        ))
    })
    .await?;
    let eq = &st.config.equipment;
    let wd = cal.school_day(day);
    // A school day by the calendar that has periods in the bell schedule.
    let lessons_today = wd.is_some_and(|w| tt.periods.iter().any(|p| p.weekdays.contains(&w)));
    let mut b = String::new();
    if let Some(m) = &q.msg {
        let _ = write!(b, "<p class=\"msg\">{}</p>", esc(m));
    }
    let _ = write!(
        b,
        "<p>日期：{day}（{}）</p>",
        if lessons_today {
            "上课日"
        } else {
            "非上课日"
        }
    );
    if eq.rooms.is_empty() {
        b.push_str("<p>尚未配置教室。请在配置文件的 [equipment] 中添加 rooms 和 devices。</p>");
    }
    for room in &eq.rooms {
        let _ = write!(b, "<h2>{}（{}）</h2>", esc(&room.name), esc(&room.id));
        b.push_str("<table><tr><th>设备</th><th>类型</th><th>状态</th><th>说明</th></tr>");
        for d in eq.devices.iter().filter(|d| d.room == room.id) {
            let l = latest.iter().find(|x| x.0 == d.id);
            let (state, detail) = match (d.sense, l) {
                (Sense::None, _) => ("无传感器（按课程登记）".to_string(), String::new()),
                (_, Some(l)) => (l.1.label().to_string(), l.2.clone()),
                (_, None) => ("尚无记录".to_string(), String::new()),
            };
            let class = if l.is_some_and(|l| l.1 == DevState::On) {
                "on"
            } else {
                ""
            };
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td class=\"{class}\">{}</td><td>{}</td></tr>",
                esc(d.display_name()),
                d.kind.label(),
                esc(&state),
                esc(&detail)
            );
        }
        b.push_str("</table>");
        let periods = wd.map(|w| tt.periods_for(&room.id, w)).unwrap_or_default();
        if periods.is_empty() {
            b.push_str("<p>今日无课。</p>");
            continue;
        }
        b.push_str("<table><tr><th>节次</th><th>时间</th><th>已登记</th><th>登记资源应用（一次点击）</th></tr>");
        for p in periods {
            let (ps, pe) = (to_utc(day, p.start, off), to_utc(day, p.end, off));
            let logged: Vec<String> = day_lessons
                .iter()
                .filter(|l| {
                    l.lesson.room == room.id && l.lesson.start_at < pe && l.lesson.end_at > ps
                })
                .map(|l| {
                    format!(
                        "{} {} {}",
                        esc(&l.lesson.teacher),
                        esc(&l.lesson.class),
                        esc(&l.lesson.subject)
                    )
                })
                .collect();
            let _ = write!(
                b,
                "<tr><td>{name}</td><td>{s}–{e}</td><td>{logged}</td><td><form method=\"post\" action=\"/equipment/lessons\">\
<input type=\"hidden\" name=\"room\" value=\"{room}\"><input type=\"hidden\" name=\"date\" value=\"{day}\">\
<input type=\"hidden\" name=\"period\" value=\"{name}\">\
教师<input type=\"text\" name=\"teacher\"> 班级<input type=\"text\" name=\"class\"> 学科<input type=\"text\" name=\"subject\"> \
资源编号<input type=\"text\" name=\"items\" placeholder=\"如 12 15\"> <button type=\"submit\">登记</button></form></td></tr>",
                name = esc(&p.name),
                s = p.start.format("%H:%M"),
                e = p.end.format("%H:%M"),
                logged = if logged.is_empty() {
                    "—".into()
                } else {
                    logged.join("<br>")
                },
                room = esc(&room.id),
            );
        }
        b.push_str("</table>");
    }
    Ok(page("设备使用与课程登记", &b))
}

/// The quick lesson form posts a [`LessonRequest`] (room, date, period,
/// teacher, class, subject, items as text) and is sent back to the page with
/// a message.
async fn form_lesson(
    State(st): State<AppState>,
    form: Result<Form<LessonRequest>, axum::extract::rejection::FormRejection>,
) -> Response {
    let (req, msg) = match form {
        Err(e) => {
            let m = e.body_text();
            let msg = if m.contains("item id") {
                "未登记：资源编号应为数字，如 12 15".to_string()
            } else {
                format!("未登记：表单不完整（{m}）")
            };
            (None, msg)
        }
        Ok(Form(req)) => {
            let what = format!(
                "{} {}",
                req.date.map(|d| d.to_string()).unwrap_or_default(),
                req.period.clone().unwrap_or_default()
            );
            let msg = match record_lesson(&st, req.clone()).await {
                Ok((id, true)) => format!("已登记：{what}（编号 {id}）"),
                Ok((id, false)) => format!("该节课已登记过（编号 {id}）"),
                Err(LessonError::Overlap { id, teacher, .. }) => {
                    format!("未登记：与已登记的课程（编号 {id}，{teacher}）时间重叠")
                }
                Err(LessonError::Rejected(m)) => format!("未登记：{m}"),
                Err(LessonError::Store(e)) => {
                    tracing::error!("lesson form: {e}");
                    "未登记：内部错误，请查看日志".into()
                }
            };
            (Some(req), msg)
        }
    };
    let date = req
        .and_then(|r| r.date)
        .map(|d| format!("date={d}&"))
        .unwrap_or_default();
    Redirect::to(&format!("/equipment?{date}msg={}", percent(&msg))).into_response()
}

/// Percent-encodes a query value.
fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A bar chart of utilization against the target line (inline SVG).
pub fn chart(bars: &[(String, Option<f64>)], target: f64) -> String {
    let (w, row, left) = (640.0, 22.0, 170.0);
    let h = row * bars.len().max(1) as f64 + 30.0;
    let x = |v: f64| left + v.clamp(0.0, 1.0) * (w - left - 60.0);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"利用率\">"
    );
    for (i, (label, v)) in bars.iter().enumerate() {
        let y = 10.0 + i as f64 * row;
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"end\">{}</text>",
            left - 5.0,
            y + 13.0,
            esc(label)
        );
        match v {
            Some(v) => {
                let color = if *v >= target { "#3a3" } else { "#d73" };
                let _ = write!(
                    s,
                    "<rect x=\"{left}\" y=\"{y}\" width=\"{:.1}\" height=\"16\" fill=\"{color}\"/>\
<text x=\"{:.1}\" y=\"{}\" font-size=\"11\">{:.1}%</text>",
                    x(*v) - left,
                    x(*v) + 3.0,
                    y + 12.0,
                    v * 100.0
                );
            }
            None => {
                let _ = write!(
                    s,
                    "<text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"#777\">无数据</text>",
                    left + 3.0,
                    y + 12.0
                );
            }
        }
    }
    let tx = x(target);
    let _ = write!(
        s,
        "<line x1=\"{tx:.1}\" y1=\"5\" x2=\"{tx:.1}\" y2=\"{:.1}\" stroke=\"#c00\" stroke-dasharray=\"4 3\"/>\
<text x=\"{tx:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#c00\" text-anchor=\"middle\">目标 {:.0}%</text></svg>",
        h - 15.0,
        h - 3.0,
        target * 100.0
    );
    s
}

async fn report_page(
    State(st): State<AppState>,
    Query(q): Query<RangeQuery>,
) -> ApiResult<Html<String>> {
    let off = offset(&st)?;
    let r = range(q.from.as_deref(), q.to.as_deref(), &st, off)?;
    let cfg = st.config.clone();
    let (u, rt) = blocking(&st, move |s| {
        Ok((
            report::utilization(s, &cfg.equipment, off, r.from_day, r.to_day)?,
            report::rates(s, &cfg.equipment, off, r.from_day, r.to_day)?,
        ))
    })
    .await?;
    let mut b = String::new();
    let _ = write!(
        b,
        "<form>从 <input type=\"date\" name=\"from\" value=\"{}\"> 到 <input type=\"date\" name=\"to\" value=\"{}\"> <button>查看</button></form>",
        u.from,
        u.to - Duration::days(1)
    );
    let _ = write!(
        b,
        "<p>“使用中”：一节课内开机或登记课程不少于 {:.0}%。无数据的节次计入覆盖率，不算作未使用。</p>",
        u.in_use_share * 100.0
    );
    if u.untrusted_intervals + u.untrusted_lessons > 0 {
        let _ = write!(
            b,
            "<p class=\"bad\">注意：本期包含 {} 条状态记录和 {} 条课程记录是在系统时钟不可信时写入的。</p>",
            u.untrusted_intervals, u.untrusted_lessons
        );
    }
    b.push_str("<h2>设备及功能教室利用率</h2>");
    let _ = write!(
        b,
        "<p>全部设备：<b class=\"{}\">{}</b>（覆盖率 {}）；全部功能教室：<b class=\"{}\">{}</b>（覆盖率 {}）；目标 {:.0}%。</p>",
        if u.overall_devices.meets_target == Some(false) {
            "bad"
        } else {
            ""
        },
        pct(u.overall_devices.utilization),
        pct(u.overall_devices.coverage),
        if u.overall_rooms.meets_target == Some(false) {
            "bad"
        } else {
            ""
        },
        pct(u.overall_rooms.utilization),
        pct(u.overall_rooms.coverage),
        u.target * 100.0
    );
    let mut bars: Vec<(String, Option<f64>)> = u
        .rooms
        .iter()
        .map(|r| {
            (
                format!("教室 {}", if r.name.is_empty() { &r.id } else { &r.name }),
                r.utilization,
            )
        })
        .collect();
    bars.extend(u.devices.iter().map(|d| (d.name.clone(), d.utilization)));
    b.push_str(&chart(&bars, u.target));
    b.push_str("<table><tr><th>设备</th><th>教室</th><th>课表节次</th><th>使用</th><th>未使用</th><th>无数据</th><th>利用率</th><th>覆盖率</th><th>开机小时</th><th>课表外开机小时</th><th>灯泡小时</th></tr>");
    for d in &u.devices {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{}</td></tr>",
            esc(&d.name),
            esc(&d.room),
            d.counts.timetabled,
            d.counts.in_use,
            d.counts.unused,
            d.counts.no_data,
            if d.meets_target == Some(false) {
                "bad"
            } else {
                ""
            },
            pct(d.utilization),
            pct(d.coverage),
            d.on_hours,
            d.on_hours_outside,
            d.lamp_hours
                .map(|h| h.to_string())
                .unwrap_or_else(|| "—".into())
        );
    }
    b.push_str("</table>");
    b.push_str("<table><tr><th>功能教室</th><th>课表节次</th><th>使用</th><th>未使用</th><th>无数据</th><th>利用率</th><th>覆盖率</th></tr>");
    for r in &u.rooms {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td></tr>",
            esc(if r.name.is_empty() { &r.id } else { &r.name }),
            r.counts.timetabled,
            r.counts.in_use,
            r.counts.unused,
            r.counts.no_data,
            if r.meets_target == Some(false) {
                "bad"
            } else {
                ""
            },
            pct(r.utilization),
            pct(r.coverage),
        );
    }
    b.push_str("</table>");
    let _ = write!(
        b,
        "<p>设备完好率：{}（{}/{}，目标 {:.0}%）</p>",
        pct(u.intact_rate),
        u.intact,
        u.devices_total,
        u.intact_target * 100.0
    );
    b.push_str("<h2>资源接收率与应用率</h2>");
    if !rt.plan_loaded {
        b.push_str("<p>未导入节目单，接收率无法计算，仅显示接收数量。</p>");
    }
    b.push_str("<table><tr><th>类别</th><th>目标</th><th>节目单</th><th>已接收（节目单内）</th><th>接收率</th><th>本期接收</th><th>已应用</th><th>应用率</th></tr>");
    for c in &rt.categories {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{:.0}%</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
            esc(&c.label),
            c.target * 100.0,
            c.planned
                .map(|x| x.to_string())
                .unwrap_or_else(|| "—".into()),
            c.planned_received
                .map(|x| x.to_string())
                .unwrap_or_else(|| "—".into()),
            if c.reception_meets_target == Some(false) {
                "bad"
            } else {
                ""
            },
            pct(c.reception_rate),
            c.received,
            c.applied,
            if c.application_meets_target == Some(false) {
                "bad"
            } else {
                ""
            },
            pct(c.application_rate),
        );
    }
    b.push_str("</table>");
    let _ = write!(
        b,
        "<p>导出：<a href=\"/api/v1/export/usage?from={f}&to={t}&format=xlsx\">设备使用记录 (xlsx)</a> · \
<a href=\"/api/v1/export/lessons?from={f}&to={t}&format=xlsx\">资源应用记录 (xlsx)</a> · \
<a href=\"/api/v1/export/receptions?from={f}&to={t}&format=csv\">接收记录 (csv)</a></p>",
        f = u.from,
        t = u.to - Duration::days(1)
    );
    Ok(page("利用率与应用率", &b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_draws_bars_the_target_line_and_missing_data() {
        let svg = chart(
            &[("教室 <A>".into(), Some(0.5)), ("投影机".into(), None)],
            0.95,
        );
        // Scale: 170 + v * (640 - 170 - 60) = 170 + v * 410.
        assert!(svg.contains("width=\"205.0\""), "half bar: {svg}");
        assert!(svg.contains("x1=\"559.5\""), "target line at 95%: {svg}");
        assert!(svg.contains("目标 95%") && svg.contains("无数据"), "{svg}");
        assert!(svg.contains("教室 &lt;A&gt;"), "labels are escaped: {svg}");
    }

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
        assert_eq!(percent("a b/中"), "a%20b%2F%E4%B8%AD");
    }
}
