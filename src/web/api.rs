//! The JSON API, version 1: health, items (search, filters, keyset paging, facts,
//! correction, keep, content with HTTP Range), the reception register (JSON or
//! CSV), drop-folder files and the disk guard's dry run.

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::Deserialize;
use serde_json::json;
use tower::ServiceExt;

use super::AppState;
use super::error::ApiError;
use crate::diskguard;
use crate::store::catalog::{ItemPatch, ItemQuery, ts};
use crate::store::register::Reception;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/health", get(health))
        .route("/api/v1/items", get(list_items))
        .route("/api/v1/items/{id}", get(get_item).patch(patch_item))
        .route("/api/v1/items/{id}/keep", post(keep_item))
        .route("/api/v1/items/{id}/content", get(item_content))
        .route("/api/v1/receptions", get(receptions))
        .route("/api/v1/inbox", get(inbox_files))
        .route("/api/v1/disk", get(disk))
}

/// Reads a `from`/`to` bound: a local date (`2026-09-01`: midnight in the
/// station's zone; for an end bound the whole day, so the next midnight) or an
/// RFC 3339 instant. Returns the UTC instant and the local day it falls in (for
/// an end bound, the first day not included). The one date parser of the API.
pub fn date_bound(
    s: &str,
    off: FixedOffset,
    end: bool,
) -> Option<(DateTime<chrono::Utc>, NaiveDate)> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let d = if end { d.succ_opt()? } else { d };
        let t = d.and_hms_opt(0, 0, 0)?.and_local_timezone(off).single()?;
        return Some((t.to_utc(), d));
    }
    let t = DateTime::parse_from_rfc3339(s).ok()?.to_utc();
    let local = t.with_timezone(&off);
    let day = if end && local.time() != chrono::NaiveTime::MIN {
        local.date_naive().succ_opt()?
    } else {
        local.date_naive()
    };
    Some((t, day))
}

/// A `from`/`to` bound in the stored UTC form, or a clear error naming it.
pub fn parse_bound(
    s: &str,
    offset: FixedOffset,
    end: bool,
    name: &str,
) -> Result<String, ApiError> {
    date_bound(s, offset, end)
        .map(|(t, _)| ts(t))
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "{name}={s:?} is not a date; use 2026-09-01 or 2026-09-01T08:00:00+08:00"
            ))
        })
}

/// The station's offset and the `from`/`to` bounds of a register query.
pub fn range(
    st: &AppState,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<(FixedOffset, Option<String>, Option<String>), ApiError> {
    let offset = st
        .config
        .station
        .offset()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let from = from
        .map(|s| parse_bound(s, offset, false, "from"))
        .transpose()?;
    let to = to.map(|s| parse_bound(s, offset, true, "to")).transpose()?;
    Ok((offset, from, to))
}

/// A CSV download (UTF-8 with BOM already in `body`).
pub fn csv_response(filename: &str, body: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// Shows a stored UTC timestamp in the station's zone, with its offset.
pub fn local_time(stored: &str, offset: FixedOffset) -> String {
    DateTime::parse_from_rfc3339(stored)
        .map(|t| {
            t.with_timezone(&offset)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
        })
        .unwrap_or_else(|_| stored.to_string())
}

/// A stored UTC timestamp as a person reads it on the page (station zone).
pub fn local_display(stored: &str, offset: FixedOffset) -> String {
    DateTime::parse_from_rfc3339(stored)
        .map(|t| {
            t.with_timezone(&offset)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_else(|_| stored.to_string())
}

async fn health(State(st): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let counts = st.store.run_blocking(|s| s.counts()).await?;
    let inbox = st.config.paths.inbox();
    let free = diskguard::free_space(&inbox).ok();
    let stamp = st.stamper.stamp();
    Ok(Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_secs": st.clock.uptime().as_secs(),
        "now": ts(stamp.at),
        "clock_trusted": stamp.trusted,
        "counts": counts,
        "last_reception": counts.last_reception,
        "disk": {
            "free_bytes": free,
            "level": free.map(|f| diskguard::level(&st.config.disk, f)),
        },
        "inbox": inbox.display().to_string(),
    })))
}

/// Checks a listing query from a client: bounded search text, known states.
pub fn checked(q: ItemQuery) -> Result<ItemQuery, ApiError> {
    if q.q.as_ref().is_some_and(|t| t.chars().count() > 200) {
        return Err(ApiError::BadRequest(
            "q is too long (200 characters at most)".into(),
        ));
    }
    if let Some(s) = &q.state
        && !s.is_empty()
        && s != "present"
        && s != "gone"
    {
        return Err(ApiError::BadRequest(format!(
            "state={s:?}: use present or gone"
        )));
    }
    Ok(q)
}

async fn list_items(
    State(st): State<AppState>,
    Query(q): Query<ItemQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let q = checked(q)?;
    let page = st.store.run_blocking(move |s| s.items(&q)).await?;
    Ok(Json(json!(page)))
}

async fn get_item(
    State(st): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let item = st.store.run_blocking(move |s| s.item(id)).await?;
    Ok(Json(json!(item)))
}

async fn patch_item(
    State(st): State<AppState>,
    Path(id): Path<i64>,
    Json(patch): Json<ItemPatch>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if let Some(c) = &patch.category
        && !st
            .config
            .classify
            .category_codes()
            .iter()
            .any(|(code, _)| code == c)
    {
        let codes: Vec<String> = st
            .config
            .classify
            .category_codes()
            .into_iter()
            .map(|(c, _)| c)
            .collect();
        return Err(ApiError::BadRequest(format!(
            "category {c:?} is unknown; use one of {}",
            codes.join(", ")
        )));
    }
    for (name, v) in [
        ("title", &patch.title),
        ("subject", &patch.subject),
        ("grade", &patch.grade),
        ("edition", &patch.edition),
    ] {
        if v.as_ref().is_some_and(|v| v.chars().count() > 300) {
            return Err(ApiError::BadRequest(format!(
                "{name} is too long (300 characters at most)"
            )));
        }
    }
    let item = st
        .store
        .run_blocking(move |s| s.patch_item(id, &patch))
        .await?;
    Ok(Json(json!(item)))
}

/// Keeps an item in the library (blocking file copy off the runtime).
pub async fn keep(st: &AppState, id: i64) -> Result<crate::store::catalog::Item, ApiError> {
    let (store, config, stamper) = (st.store.clone(), st.config.clone(), st.stamper.clone());
    tokio::task::spawn_blocking(move || crate::library::keep(&store, &config, &stamper, id))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(ApiError::from)
}

async fn keep_item(
    State(st): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(json!(keep(&st, id).await?)))
}

async fn item_content(
    State(st): State<AppState>,
    Path(id): Path<i64>,
    req: Request,
) -> Result<Response, ApiError> {
    let item = st.store.run_blocking(move |s| s.item(id)).await?;
    let Some(source) = item.file_on_pc() else {
        return Err(ApiError::NotFound(format!(
            "item {id}: its file is no longer on this PC (not in the drop folder, not kept)"
        )));
    };
    let ranged = req.headers().contains_key(header::RANGE);
    let mut resp = tower_http::services::ServeFile::new(&source)
        .oneshot(req)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map(Body::new);
    if resp.status() == StatusCode::OK && !ranged {
        let store = st.store.clone();
        let _ = tokio::task::spawn_blocking(move || store.add_use(id)).await;
    }
    let name = source
        .file_name()
        .map(|n| crate::paths::display(std::path::Path::new(n)))
        .unwrap_or_default();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename*=UTF-8''{encoded}")) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReceptionParams {
    from: Option<String>,
    to: Option<String>,
    after: Option<i64>,
    limit: Option<u32>,
    format: Option<String>,
}

/// The reception register as CSV (UTF-8 with BOM, opens in Excel and WPS).
pub fn receptions_csv(
    rows: &[Reception],
    offset: FixedOffset,
    labels: &dyn Fn(&str) -> String,
) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::from(*b"\xEF\xBB\xBF"));
    let _ = w.write_record([
        "序号",
        "接收时间",
        "时钟可信",
        "标题",
        "类别",
        "学科",
        "年级",
        "类型",
        "大小(字节)",
        "路径",
        "BLAKE3",
        "资源编号",
    ]);
    for r in rows {
        let _ = w.write_record([
            r.id.to_string(),
            local_time(&r.received_at, offset),
            if r.clock_trusted { "是" } else { "否" }.to_string(),
            r.title.clone(),
            labels(&r.category),
            r.subject.clone().unwrap_or_default(),
            r.grade.clone().unwrap_or_default(),
            r.kind.clone(),
            r.size.to_string(),
            r.path.clone(),
            r.blake3.clone(),
            r.item_id.to_string(),
        ]);
    }
    w.into_inner().unwrap_or_default()
}

async fn receptions(
    State(st): State<AppState>,
    Query(p): Query<ReceptionParams>,
) -> Result<Response, ApiError> {
    let (offset, from, to) = range(&st, p.from.as_deref(), p.to.as_deref())?;
    let format = p.format.as_deref().unwrap_or("json");
    if format != "json" && format != "csv" {
        return Err(ApiError::BadRequest(format!(
            "format={format:?}: use json or csv"
        )));
    }
    let limit = p
        .limit
        .unwrap_or(if format == "csv" { 1_000_000 } else { 1000 })
        .clamp(1, 1_000_000);
    let after = p.after;
    let rows = st
        .store
        .run_blocking(move |s| s.receptions(from.as_deref(), to.as_deref(), after, limit))
        .await?;
    if format == "csv" {
        let cfg = st.config.clone();
        let body = receptions_csv(&rows, offset, &|c| {
            cfg.classify.category_label(c).to_string()
        });
        return Ok(csv_response("receptions.csv", body));
    }
    let next = (rows.len() as u32 == limit)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    let rows: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|r| {
            let mut v = json!(r);
            v["received_at_local"] = json!(local_time(&r.received_at, offset));
            v
        })
        .collect();
    Ok(
        Json(json!({ "receptions": rows, "next": next, "utc_offset": offset.to_string() }))
            .into_response(),
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InboxParams {
    state: Option<String>,
    limit: Option<u32>,
}

async fn inbox_files(
    State(st): State<AppState>,
    Query(p): Query<InboxParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let limit = p.limit.unwrap_or(200).clamp(1, 5000);
    let files = st
        .store
        .run_blocking(move |s| s.inbox_files(p.state.as_deref(), limit))
        .await?;
    Ok(Json(json!({ "files": files })))
}

/// What a purge would delete now (the disk guard's dry run), with free space.
pub async fn purge_plan(st: &AppState) -> Result<diskguard::Report, ApiError> {
    let free = diskguard::free_space(&st.config.paths.inbox())
        .map_err(|e| ApiError::Internal(format!("cannot read free space: {e}")))?;
    let (store, cfg, stamper) = (st.store.clone(), st.config.clone(), st.stamper.clone());
    Ok(tokio::task::spawn_blocking(move || {
        diskguard::check(&store, &cfg.disk, &stamper, free, true, true)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??)
}

async fn disk(State(st): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(json!(purge_plan(&st).await?)))
}
