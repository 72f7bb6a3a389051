//! The technician's pages, in Chinese: the overview (counts, files still
//! receiving, recent receptions, disk), the catalog search with filters, an item
//! page with its facts, a correction form and a keep button, and the disk page
//! with the purge dry run. Plain server-rendered HTML with a little CSS and no
//! script, so it works on an old PC's browser.

use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::AppState;
use super::api::{checked, keep, local_display as local_time, purge_plan};
use crate::diskguard;
use crate::store::catalog::ItemQuery;
use crate::store::catalog::{Item, ItemPatch};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/items", get(items))
        .route("/items/{id}", get(item))
        .route("/items/{id}/keep", post(keep_form))
        .route("/items/{id}/edit", post(edit_form))
        .route("/disk", get(disk))
        .route("/receptions", get(receptions_page))
}

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// Encodes a query-string value.
fn qs(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

const CSS: &str = "body{font-family:'Noto Sans CJK SC','Microsoft YaHei',SimSun,sans-serif;margin:0;background:#f4f6f8;color:#222}\
header{background:#1d5e9e;color:#fff;padding:8px 16px}header a{color:#fff;margin-right:16px;text-decoration:none}\
main{padding:12px 16px;max-width:1100px}table{border-collapse:collapse;width:100%;background:#fff}\
td,th{border:1px solid #ccd;padding:4px 6px;text-align:left;font-size:14px}th{background:#e8eef5}\
.cards{display:flex;flex-wrap:wrap;gap:8px}.card{background:#fff;border:1px solid #ccd;padding:8px 12px;min-width:110px}\
.card b{display:block;font-size:22px}.warn{color:#b35900}.crit{color:#c00;font-weight:bold}.ok{color:#2a7a2a}\
form.inline{display:inline}input,select,button{font-size:14px;padding:3px}\
.bar{background:#ddd;width:100%;height:22px}.bar div{background:#2d8a2d;height:22px}.err{color:#c00}";

/// The one page layout of the station: header with the navigation, a title,
/// the body. `head` adds to `<head>` (a page's own style or a refresh).
pub fn layout(title: &str, body: &str, head: &str) -> Html<String> {
    Html(format!(
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{t} - 星站</title>\
<style>{CSS}</style>{head}</head><body><header><b>星站</b> &nbsp; <a href=\"/\">首页</a><a href=\"/items\">资源目录</a>\
<a href=\"/items?kept=true\">校本资源库</a><a href=\"/receptions\">接收登记</a><a href=\"/equipment\">设备使用</a><a href=\"/vcd\">农业光盘</a><a href=\"/disk\">磁盘</a></header><main><h2>{t}</h2>{body}</main></body></html>",
        t = esc(title)
    ))
}

fn page(title: &str, body: &str) -> Html<String> {
    layout(title, body, "")
}

fn page_error(status: StatusCode, msg: &str) -> Response {
    (
        status,
        page("出错了", &format!("<p class=\"crit\">{}</p>", esc(msg))),
    )
        .into_response()
}

fn human_size(n: u64) -> String {
    const U: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < U.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", U[i])
    }
}

fn state_label(s: &str) -> &str {
    match s {
        "present" => "在接收目录",
        "gone" => "已离开接收目录",
        "receiving" => "正在接收",
        "complete" => "已完整接收",
        "broken" => "损坏/未完成",
        "purged" => "已清理",
        other => other,
    }
}

fn kind_label(s: &str) -> &str {
    match s {
        "video" => "视频",
        "audio" => "音频",
        "courseware" => "课件",
        "document" => "文档",
        "package" => "压缩包",
        "image" => "图片",
        _ => "其他",
    }
}

async fn index(State(st): State<AppState>) -> Response {
    let data = st
        .store
        .run_blocking(|s| {
            Ok((
                s.counts()?,
                s.inbox_files(Some("receiving"), 50)?,
                s.inbox_files(Some("broken"), 50)?,
                s.recent_receptions(20)?,
            ))
        })
        .await;
    let (counts, receiving, broken, recent) = match data {
        Ok(d) => d,
        Err(e) => return page_error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let offset = st
        .config
        .station
        .offset()
        .unwrap_or(chrono::FixedOffset::east_opt(8 * 3600).unwrap());
    let free = diskguard::free_space(&st.config.paths.inbox()).ok();
    let disk = match free {
        Some(f) => {
            let (cls, word) = match diskguard::level(&st.config.disk, f) {
                diskguard::Level::Ok => ("ok", "正常"),
                diskguard::Level::Warn => ("warn", "空间不足"),
                diskguard::Level::Critical => ("crit", "空间严重不足，接收可能停止"),
            };
            format!(
                "<span class=\"{cls}\">{} 可用，{word}</span>",
                human_size(f)
            )
        }
        None => "<span class=\"crit\">无法读取（接收目录不存在？）</span>".into(),
    };
    let stamp = st.stamper.stamp();
    let clock = if stamp.trusted {
        String::new()
    } else {
        "<p class=\"crit\">电脑时钟不可信（日期过早或被调回），请校准时间。期间记录的时间会被标记。</p>".into()
    };
    let mut b = format!(
        "{clock}<div class=\"cards\">\
<div class=\"card\">资源总数<b>{}</b></div><div class=\"card\">接收次数<b>{}</b></div>\
<div class=\"card\">正在接收<b>{}</b></div><div class=\"card\">损坏/未完成<b>{}</b></div>\
<div class=\"card\">校本资源库<b>{}</b></div></div><p>接收目录：{} ；磁盘：{disk}</p>",
        counts.items,
        counts.receptions,
        counts.files_receiving,
        counts.files_broken,
        counts.kept,
        esc(&st.config.paths.inbox().display().to_string()),
    );
    b.push_str("<form action=\"/items\"><input name=\"q\" placeholder=\"搜索资源，如：语文、鸡\" size=\"30\"> <button>搜索</button></form>");
    b.push_str("<h3>正在接收</h3>");
    if receiving.is_empty() {
        b.push_str("<p>没有正在接收的文件。</p>");
    } else {
        b.push_str("<table><tr><th>文件</th><th>大小</th><th>最后变化</th><th>说明</th></tr>");
        for f in &receiving {
            b.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&f.path_display),
                human_size(f.size),
                esc(&local_time(&f.updated, offset)),
                esc(f.note.as_deref().unwrap_or(""))
            ));
        }
        b.push_str("</table>");
    }
    if !broken.is_empty() {
        b.push_str("<h3 class=\"warn\">损坏或长时间未完成</h3><table><tr><th>文件</th><th>大小</th><th>说明</th></tr>");
        for f in &broken {
            b.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&f.path_display),
                human_size(f.size),
                esc(f.note.as_deref().unwrap_or(""))
            ));
        }
        b.push_str("</table>");
    }
    b.push_str("<h3>最近接收（节目接收登记）</h3><p><a href=\"/api/v1/receptions?format=csv\">导出接收登记 CSV</a></p>");
    b.push_str(&reception_table(&st, &recent, offset, false));
    page("接收站概况", &b).into_response()
}

fn select(name: &str, options: &[(String, String)], current: Option<&str>) -> String {
    let mut s = format!("<select name=\"{name}\"><option value=\"\">全部</option>");
    for (v, label) in options {
        let sel = if current == Some(v.as_str()) {
            " selected"
        } else {
            ""
        };
        s.push_str(&format!(
            "<option value=\"{}\"{sel}>{}</option>",
            esc(v),
            esc(label)
        ));
    }
    s.push_str("</select>");
    s
}

async fn items(State(st): State<AppState>, Query(q): Query<ItemQuery>) -> Response {
    let q = match checked(q) {
        Ok(q) => q,
        Err(_) => return page_error(StatusCode::BAD_REQUEST, "查询条件有误"),
    };
    let query = q.clone();
    let page_data = match st.store.run_blocking(move |s| s.items(&query)).await {
        Ok(p) => p,
        Err(e) => return page_error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let cfg = &st.config.classify;
    let cats = cfg.category_codes();
    let subjects: Vec<(String, String)> = cfg
        .subjects
        .iter()
        .map(|r| (r.value.clone(), r.value.clone()))
        .collect();
    let mut grades: Vec<(String, String)> = cfg
        .grades
        .iter()
        .map(|r| (r.value.clone(), r.value.clone()))
        .collect();
    grades.sort_by_key(|(v, _)| {
        "一二三四五六七八九"
            .chars()
            .position(|c| v.starts_with(c))
            .unwrap_or(99)
    });
    let ItemQuery {
        q,
        category,
        subject,
        grade,
        kept,
        ..
    } = q;
    let mut b = format!(
        "<form action=\"/items\">关键词 <input name=\"q\" value=\"{}\" size=\"24\"> 类别 {} 学科 {} 年级 {} {}<button>搜索</button></form><p></p>",
        esc(q.as_deref().unwrap_or("")),
        select("category", &cats, category.as_deref()),
        select("subject", &subjects, subject.as_deref()),
        select("grade", &grades, grade.as_deref()),
        if kept == Some(true) {
            "<input type=\"hidden\" name=\"kept\" value=\"true\">"
        } else {
            ""
        },
    );
    if page_data.items.is_empty() {
        b.push_str("<p>没有找到资源。</p>");
    } else {
        b.push_str("<table><tr><th>标题</th><th>类别</th><th>学科</th><th>年级</th><th>类型</th><th>大小</th><th>最近接收</th><th>状态</th></tr>");
        let offset = st
            .config
            .station
            .offset()
            .unwrap_or(chrono::FixedOffset::east_opt(8 * 3600).unwrap());
        for i in &page_data.items {
            b.push_str(&format!(
                "<tr><td><a href=\"/items/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td></tr>",
                i.id,
                esc(&i.title),
                esc(cfg.category_label(&i.category)),
                esc(i.subject.as_deref().unwrap_or("")),
                esc(i.grade.as_deref().unwrap_or("")),
                kind_label(&i.kind),
                human_size(i.size),
                esc(&local_time(&i.last_received, offset)),
                state_label(&i.state),
                if i.kept { "，已入库" } else { "" },
            ));
        }
        b.push_str("</table>");
    }
    if let Some(next) = page_data.next {
        let mut link = format!("/items?after={next}");
        for (k, v) in [
            ("q", &q),
            ("category", &category),
            ("subject", &subject),
            ("grade", &grade),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                link.push_str(&format!("&{k}={}", qs(v)));
            }
        }
        if kept == Some(true) {
            link.push_str("&kept=true");
        }
        b.push_str(&format!("<p><a href=\"{}\">下一页 →</a></p>", esc(&link)));
    }
    let title = if kept == Some(true) {
        "校本资源库"
    } else {
        "资源目录"
    };
    page(title, &b).into_response()
}

fn item_page(st: &AppState, i: &Item, msg: Option<&str>) -> Response {
    let cfg = &st.config.classify;
    let offset = st
        .config
        .station
        .offset()
        .unwrap_or(chrono::FixedOffset::east_opt(8 * 3600).unwrap());
    let media = match (&i.media, &i.media_error) {
        (Some(m), _) => {
            let dur = m["duration_secs"]
                .as_f64()
                .map(|d| format!("{}分{:02}秒", (d as u64) / 60, (d as u64) % 60))
                .unwrap_or_default();
            format!(
                "时长 {dur}；格式 {}；视频 {} {}×{}；音频 {}",
                esc(m["container"].as_str().unwrap_or("-")),
                esc(m["video_codec"].as_str().unwrap_or("-")),
                m["width"]
                    .as_u64()
                    .map(|v| v.to_string())
                    .unwrap_or("-".into()),
                m["height"]
                    .as_u64()
                    .map(|v| v.to_string())
                    .unwrap_or("-".into()),
                esc(m["audio_codec"].as_str().unwrap_or("-")),
            )
        }
        (None, Some(e)) => format!("<span class=\"warn\">无法读取媒体信息：{}</span>", esc(e)),
        (None, None) => "—".into(),
    };
    let mut b = String::new();
    if let Some(m) = msg {
        b.push_str(&format!("<p class=\"ok\">{}</p>", esc(m)));
    }
    b.push_str(&format!(
        "<table><tr><th>编号</th><td>{}</td></tr><tr><th>路径</th><td>{}</td></tr><tr><th>大小</th><td>{} ({} 字节)</td></tr>\
<tr><th>类别</th><td>{}</td></tr><tr><th>学科</th><td>{}</td></tr><tr><th>年级</th><td>{}</td></tr><tr><th>教材版本</th><td>{}</td></tr>\
<tr><th>类型</th><td>{}</td></tr><tr><th>媒体信息</th><td>{media}</td></tr><tr><th>首次接收</th><td>{}</td></tr><tr><th>最近接收</th><td>{}</td></tr>\
<tr><th>接收次数</th><td>{}</td></tr><tr><th>使用次数</th><td>{}</td></tr><tr><th>状态</th><td>{}</td></tr><tr><th>校本资源库</th><td>{}</td></tr>\
<tr><th>BLAKE3</th><td><code>{}</code></td></tr></table>",
        i.id,
        esc(&i.path),
        human_size(i.size),
        i.size,
        esc(cfg.category_label(&i.category)),
        esc(i.subject.as_deref().unwrap_or("—")),
        esc(i.grade.as_deref().unwrap_or("—")),
        esc(i.edition.as_deref().unwrap_or("—")),
        kind_label(&i.kind),
        esc(&local_time(&i.first_received, offset)),
        esc(&local_time(&i.last_received, offset)),
        i.receptions,
        i.uses,
        state_label(&i.state),
        match &i.library_path {
            Some(p) if i.kept => format!("已入库：{}", esc(p)),
            _ => "未入库".into(),
        },
        esc(&i.blake3),
    ));
    b.push_str(&format!(
        "<p><a href=\"/api/v1/items/{}/content\">打开/下载</a></p>",
        i.id
    ));
    if !i.kept {
        b.push_str(&format!(
            "<form class=\"inline\" method=\"post\" action=\"/items/{}/keep\"><button>保存到校本资源库</button></form>",
            i.id
        ));
    }
    let cats = cfg.category_codes();
    b.push_str(&format!(
        "<h3>更正信息</h3><form method=\"post\" action=\"/items/{}/edit\">标题 <input name=\"title\" value=\"{}\" size=\"40\"><br>\
类别 {} 学科 <input name=\"subject\" value=\"{}\" size=\"8\"> 年级 <input name=\"grade\" value=\"{}\" size=\"8\"> \
教材版本 <input name=\"edition\" value=\"{}\" size=\"8\"> <button>保存更正</button></form>",
        i.id,
        esc(&i.title),
        select("category", &cats, Some(&i.category)).replace("<option value=\"\">全部</option>", ""),
        esc(i.subject.as_deref().unwrap_or("")),
        esc(i.grade.as_deref().unwrap_or("")),
        esc(i.edition.as_deref().unwrap_or("")),
    ));
    page(&i.title, &b).into_response()
}

async fn item(State(st): State<AppState>, Path(id): Path<i64>) -> Response {
    match st.store.run_blocking(move |s| s.item(id)).await {
        Ok(i) => item_page(&st, &i, None),
        Err(crate::store::StoreError::NotFound(_)) => {
            page_error(StatusCode::NOT_FOUND, "没有这个资源")
        }
        Err(e) => page_error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

async fn keep_form(State(st): State<AppState>, Path(id): Path<i64>) -> Response {
    match keep(&st, id).await {
        Ok(i) => item_page(&st, &i, Some("已保存到校本资源库。")),
        Err(e) => {
            let msg = match e {
                super::error::ApiError::Conflict(m)
                | super::error::ApiError::NotFound(m)
                | super::error::ApiError::BadRequest(m) => m,
                super::error::ApiError::Internal(m) => m,
            };
            page_error(StatusCode::CONFLICT, &format!("保存失败：{msg}"))
        }
    }
}

#[derive(Debug, Deserialize)]
struct EditForm {
    title: Option<String>,
    category: Option<String>,
    subject: Option<String>,
    grade: Option<String>,
    edition: Option<String>,
}

async fn edit_form(
    State(st): State<AppState>,
    Path(id): Path<i64>,
    Form(f): Form<EditForm>,
) -> Response {
    let valid = f.category.as_ref().is_none_or(|c| {
        st.config
            .classify
            .category_codes()
            .iter()
            .any(|(k, _)| k == c)
    });
    if !valid {
        return page_error(StatusCode::BAD_REQUEST, "类别不正确");
    }
    let patch = ItemPatch {
        title: f.title,
        category: f.category,
        subject: f.subject,
        grade: f.grade,
        edition: f.edition,
    };
    match st
        .store
        .run_blocking(move |s| s.patch_item(id, &patch))
        .await
    {
        Ok(_) => Redirect::to(&format!("/items/{id}")).into_response(),
        Err(e) => page_error(StatusCode::BAD_REQUEST, &format!("保存失败：{e}")),
    }
}

async fn disk(State(st): State<AppState>) -> Response {
    let inbox = st.config.paths.inbox();
    let report = match purge_plan(&st).await {
        Ok(r) => r,
        Err(_) => {
            return page_error(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("无法读取接收目录 {} 的磁盘空间", inbox.display()),
            );
        }
    };
    let free = report.free_bytes;
    let d = &st.config.disk;
    let mut b = format!(
        "<p>可用空间：<b>{}</b>。警告线 {} MB，危险线 {} MB（低于危险线时{}清理接收目录，直到可用 {} MB）。校本资源库中的文件永不清理。</p>",
        human_size(free),
        d.warn_free_mib,
        d.critical_free_mib,
        if d.auto_purge {
            "自动"
        } else {
            "不会自动"
        },
        d.target_free_mib
    );
    b.push_str("<h3>预演：现在清理会删除哪些文件</h3>");
    if report.planned.is_empty() {
        b.push_str("<p>空间充足，不需要删除任何文件。</p>");
    } else {
        b.push_str("<table><tr><th>文件</th><th>大小</th><th>原因</th></tr>");
        for c in &report.planned {
            let why = if c.state == "broken" {
                "损坏文件"
            } else if c.kept {
                "已保存到资源库"
            } else if c.uses == 0 {
                "从未使用，较早接收"
            } else {
                "较早接收"
            };
            b.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{why}</td></tr>",
                esc(&c.path_display),
                human_size(c.size)
            ));
        }
        b.push_str("</table>");
    }
    page("磁盘空间", &b).into_response()
}

#[derive(Debug, Deserialize)]
struct RangeForm {
    from: Option<String>,
    to: Option<String>,
}

/// The reception register (节目接收登记) for a date range, like the paper one.
async fn receptions_page(State(st): State<AppState>, Query(f): Query<RangeForm>) -> Response {
    let offset = st
        .config
        .station
        .offset()
        .unwrap_or(chrono::FixedOffset::east_opt(8 * 3600).unwrap());
    let today = st.clock.now().with_timezone(&offset).date_naive();
    let from = f
        .from
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| (today - chrono::Duration::days(30)).to_string());
    let to =
        f.to.filter(|s| !s.is_empty())
            .unwrap_or_else(|| today.to_string());
    let (_, from_utc, to_utc) = match super::api::range(&st, Some(&from), Some(&to)) {
        Ok(r) => r,
        Err(_) => return page_error(StatusCode::BAD_REQUEST, "日期格式应为 2026-09-01"),
    };
    let rows = match st
        .store
        .run_blocking(move |s| s.receptions(from_utc.as_deref(), to_utc.as_deref(), None, 5000))
        .await
    {
        Ok(r) => r,
        Err(e) => return page_error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let mut b = format!(
        "<form action=\"/receptions\">从 <input type=\"date\" name=\"from\" value=\"{f}\"> 到 \
<input type=\"date\" name=\"to\" value=\"{t}\"> <button>查看</button> \
<a href=\"/api/v1/receptions?format=csv&amp;from={f}&amp;to={t}\">导出 CSV（Excel/WPS）</a></form>\
<p>共 {n} 次接收{more}。</p>",
        f = esc(&from),
        t = esc(&to),
        n = rows.len(),
        more = if rows.len() == 5000 {
            "（只显示前 5000 条，请缩小日期范围或导出）"
        } else {
            ""
        },
    );
    b.push_str(&reception_table(&st, &rows, offset, true));
    page("节目接收登记", &b).into_response()
}

/// The reception register as an HTML table; `full` adds the number and the file.
fn reception_table(
    st: &AppState,
    rows: &[crate::store::register::Reception],
    offset: chrono::FixedOffset,
    full: bool,
) -> String {
    let mut b = String::from("<table><tr>");
    if full {
        b.push_str("<th>序号</th>");
    }
    b.push_str(
        "<th>接收时间</th><th>标题</th><th>类别</th><th>学科</th><th>年级</th><th>大小</th>",
    );
    if full {
        b.push_str("<th>文件</th>");
    }
    b.push_str("</tr>");
    for r in rows {
        b.push_str("<tr>");
        if full {
            b.push_str(&format!("<td>{}</td>", r.id));
        }
        b.push_str(&format!(
            "<td>{}{}</td><td><a href=\"/items/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
            esc(&local_time(&r.received_at, offset)),
            if r.clock_trusted { "" } else { " <span class=\"warn\">(时钟不可信)</span>" },
            r.item_id,
            esc(&r.title),
            esc(st.config.classify.category_label(&r.category)),
            esc(r.subject.as_deref().unwrap_or("")),
            esc(r.grade.as_deref().unwrap_or("")),
            human_size(r.size),
        ));
        if full {
            b.push_str(&format!("<td>{}</td>", esc(&r.path)));
        }
        b.push_str("</tr>");
    }
    b.push_str("</table>");
    b
}
