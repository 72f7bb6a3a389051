//! VCD jobs and the disc register over HTTP, and the outreach worker's pages
//! (zh-CN): agriculture videos to choose from, the disc plan, a live progress
//! bar, downloads, a printable label and insert, and the disc register.

use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use tower::ServiceExt;

use super::AppState;
use super::api::local_display;
use super::error::ApiError;
use super::pages::esc;
use crate::outreach::{self, parse_disc, parse_standard};
use crate::store::outreach::{DiscRecord, NewJob, job_state};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/vcd/jobs", get(list_jobs).post(create_job))
        .route("/api/v1/vcd/jobs/{id}", get(get_job).delete(cancel_job))
        .route("/api/v1/vcd/jobs/{id}/files/{name}", get(job_file))
        .route("/api/v1/vcd/plan", axum::routing::post(plan))
        .route("/api/v1/vcd/register", get(register).post(add_register))
        .route("/vcd", get(page_index))
        .route("/vcd/jobs/{id}", get(page_job))
        .route("/vcd/jobs/{id}/label", get(page_label))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobRequest {
    pub items: Vec<i64>,
    #[serde(default = "pal")]
    pub standard: String,
    #[serde(default = "d74")]
    pub disc: u32,
    #[serde(default)]
    pub menu: bool,
    #[serde(default)]
    pub title: String,
}

fn pal() -> String {
    "pal".into()
}
fn d74() -> u32 {
    74
}

/// Checks a request against the catalog; returns the items' titles and durations.
async fn check_request(
    st: &AppState,
    r: &JobRequest,
) -> Result<Vec<(String, Option<f64>)>, ApiError> {
    if r.items.is_empty() {
        return Err(ApiError::BadRequest(
            "choose at least one video (items)".into(),
        ));
    }
    if r.items.len() > 98 * 4 {
        return Err(ApiError::BadRequest("too many videos in one job".into()));
    }
    if parse_standard(&r.standard).is_none() {
        return Err(ApiError::BadRequest(format!(
            "standard {:?}: use pal (village players in China) or ntsc",
            r.standard
        )));
    }
    if parse_disc(r.disc).is_none() {
        return Err(ApiError::BadRequest(format!(
            "disc {}: use 74 or 80 (minutes)",
            r.disc
        )));
    }
    if r.title.chars().count() > 100 {
        return Err(ApiError::BadRequest(
            "title is too long (100 characters at most)".into(),
        ));
    }
    let ids = r.items.clone();
    let items = st
        .store
        .run_blocking(move |s| {
            ids.iter()
                .map(|id| s.item(*id))
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
    let mut out = Vec::new();
    for i in items {
        if i.kind != "video" {
            return Err(ApiError::BadRequest(format!(
                "item {} ({}) is not a video ({}); only videos go on a VCD",
                i.id, i.title, i.kind
            )));
        }
        let on_pc = (i.state == "present") || (i.kept && i.library_path.is_some());
        if !on_pc {
            return Err(ApiError::Conflict(format!(
                "item {} ({}) is no longer on this PC",
                i.id, i.title
            )));
        }
        let dur = i.media.as_ref().and_then(|m| m["duration_secs"].as_f64());
        out.push((i.title, dur));
    }
    Ok(out)
}

async fn create_job(
    State(st): State<AppState>,
    Json(r): Json<JobRequest>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let items = check_request(&st, &r).await?;
    let title = if r.title.trim().is_empty() {
        items.first().map(|(t, _)| t.clone()).unwrap_or_default()
    } else {
        r.title.trim().to_string()
    };
    let new = NewJob {
        title,
        item_ids: r.items.clone(),
        standard: r.standard.clone(),
        disc_minutes: r.disc,
        menu: r.menu,
    };
    let stamp = st.stamper.stamp();
    let job = st
        .store
        .run_blocking(move |s| s.create_job(&new, stamp.at, stamp.trusted))
        .await?;
    st.jobs.wake();
    Ok((StatusCode::CREATED, Json(json!(job))))
}

async fn list_jobs(State(st): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let jobs = st.store.run_blocking(|s| s.jobs(200)).await?;
    Ok(Json(json!({ "jobs": jobs })))
}

async fn get_job(
    State(st): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(json!(
        st.store.run_blocking(move |s| s.job(id)).await?
    )))
}

async fn cancel_job(
    State(st): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let job = st.store.run_blocking(move |s| s.job(id)).await?;
    if !job_state::is_open(&job.state) {
        return Err(ApiError::Conflict(format!(
            "job {id} is already {}",
            job.state
        )));
    }
    if !st.jobs.cancel_running(id) {
        let at = st.stamper.stamp().at;
        st.store
            .run_blocking(move |s| s.set_job_state(id, job_state::CANCELLED, Some("cancelled"), at))
            .await?;
    }
    Ok(Json(json!(
        st.store.run_blocking(move |s| s.job(id)).await?
    )))
}

async fn job_file(
    State(st): State<AppState>,
    Path((id, name)): Path<(i64, String)>,
    req: Request,
) -> Result<Response, ApiError> {
    let job = st.store.run_blocking(move |s| s.job(id)).await?;
    let discs = job.discs.clone().unwrap_or_default();
    let known = discs.as_array().into_iter().flatten().any(|d| {
        [&d["bin"], &d["cue"], &d["zip"]]
            .iter()
            .any(|v| v.as_str() == Some(name.as_str()))
    });
    if job.state != job_state::DONE || !known {
        return Err(ApiError::NotFound(format!(
            "job {id} has no file {name:?} (files exist once the job is done)"
        )));
    }
    let dir = outreach::job_dir(&st.config, id);
    let path = if let Some(stem) = name.strip_suffix(".zip") {
        let (dir, stem) = (dir.clone(), stem.to_string());
        tokio::task::spawn_blocking(move || outreach::disc_zip(&dir, &stem))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .map_err(|e| ApiError::Internal(format!("cannot make the zip: {e}")))?
    } else {
        dir.join(&name)
    };
    let mut resp = tower_http::services::ServeFile::new(&path)
        .oneshot(req)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map(axum::body::Body::new);
    if let Ok(v) = header::HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

async fn plan(
    State(st): State<AppState>,
    Json(r): Json<JobRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let items = check_request(&st, &r).await?;
    let unknown: Vec<&str> = items
        .iter()
        .filter(|(_, d)| d.is_none())
        .map(|(t, _)| t.as_str())
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::Conflict(format!(
            "the duration of {} is not known yet (media facts pending or unreadable)",
            unknown.join(", ")
        )));
    }
    let durations: Vec<f64> = items.iter().map(|(_, d)| d.unwrap_or(0.0)).collect();
    let disc = parse_disc(r.disc).expect("checked");
    let discs = crate::vcd::plan::plan(&durations, disc, r.menu);
    let titles: Vec<String> = items.iter().map(|(t, _)| t.clone()).collect();
    let out = outreach::plan_json(&discs, &titles, &r.items);
    Ok(Json(json!({ "discs": out })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterParams {
    from: Option<String>,
    to: Option<String>,
    after: Option<i64>,
    format: Option<String>,
}

async fn register(
    State(st): State<AppState>,
    Query(p): Query<RegisterParams>,
) -> Result<Response, ApiError> {
    let (offset, from, to) = super::api::range(&st, p.from.as_deref(), p.to.as_deref())?;
    let after = p.after;
    let rows = st
        .store
        .run_blocking(move |s| s.disc_register(from.as_deref(), to.as_deref(), after, 100_000))
        .await?;
    match p.format.as_deref().unwrap_or("json") {
        "json" => Ok(Json(json!({ "discs": rows })).into_response()),
        "csv" => {
            let mut w = csv::Writer::from_writer(Vec::from(*b"\xEF\xBB\xBF"));
            let _ = w.write_record([
                "序号",
                "制作时间",
                "时钟可信",
                "光盘",
                "节目",
                "类别",
                "份数",
                "发放村",
                "用途",
                "备注",
                "任务",
            ]);
            for r in &rows {
                let _ = w.write_record([
                    r.id.to_string(),
                    super::api::local_time(&r.made_at, offset),
                    if r.clock_trusted { "是" } else { "否" }.into(),
                    r.disc_no.to_string(),
                    r.titles.clone(),
                    st.config.classify.category_label(&r.category).to_string(),
                    r.copies.to_string(),
                    r.recipient.clone(),
                    r.purpose.clone(),
                    r.note.clone().unwrap_or_default(),
                    r.job_id.map(|j| j.to_string()).unwrap_or_default(),
                ]);
            }
            Ok(super::api::csv_response(
                "disc-register.csv",
                w.into_inner().unwrap_or_default(),
            ))
        }
        f => Err(ApiError::BadRequest(format!(
            "format={f:?}: use json or csv"
        ))),
    }
}

async fn add_register(
    State(st): State<AppState>,
    Json(d): Json<DiscRecord>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    if d.recipient.chars().count() > 200
        || d.purpose.chars().count() > 200
        || d.titles.chars().count() > 2000
    {
        return Err(ApiError::BadRequest("a field is too long".into()));
    }
    let stamp = st.stamper.stamp();
    let rec = st
        .store
        .run_blocking(move |s| s.record_disc(&d, stamp.at, stamp.trusted))
        .await?;
    Ok((StatusCode::CREATED, Json(json!(rec))))
}

const STYLE: &str = "body{font-family:'Noto Sans CJK SC','Microsoft YaHei',sans-serif;margin:0;background:#f4f6f8}\
header{background:#2d6a2d;color:#fff;padding:8px 16px}header a{color:#fff;margin-right:16px}main{padding:12px 16px;max-width:1000px}\
table{border-collapse:collapse;width:100%;background:#fff}td,th{border:1px solid #ccd;padding:4px 6px;font-size:14px;text-align:left}\
th{background:#e6f0e6}.bar{background:#ddd;width:100%;height:22px}.bar div{background:#2d8a2d;height:22px}\
.err{color:#c00}input,select,button{font-size:14px;padding:3px}";

fn shell(title: &str, body: &str, refresh: bool) -> Html<String> {
    Html(format!(
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">{}<title>{t} - 星站</title><style>{STYLE}</style></head>\
<body><header><b>星站 · 农村远教光盘</b> &nbsp; <a href=\"/\">首页</a><a href=\"/vcd\">制作光盘</a><a href=\"/api/v1/vcd/register?format=csv\">光盘发放登记（CSV）</a></header>\
<main><h2>{t}</h2>{body}</main></body></html>",
        if refresh {
            "<meta http-equiv=\"refresh\" content=\"3\">"
        } else {
            ""
        },
        t = esc(title)
    ))
}

fn state_zh(s: &str) -> &str {
    match s {
        "queued" => "排队中",
        "transcoding" => "转码中",
        "authoring" => "生成光盘映像",
        "done" => "完成",
        "failed" => "失败",
        "cancelled" => "已取消",
        o => o,
    }
}

fn mmss(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    format!("{}分{:02}秒", s / 60, s % 60)
}

#[derive(Debug, Deserialize)]
struct IndexParams {
    category: Option<String>,
}

async fn page_index(State(st): State<AppState>, Query(p): Query<IndexParams>) -> Response {
    let mut videos = Vec::new();
    let chosen = p.category.unwrap_or_default();
    for cat in ["planting", "breeding", "agriculture"] {
        if !chosen.is_empty() && chosen != cat {
            continue;
        }
        let q = crate::store::catalog::ItemQuery {
            category: Some(cat.into()),
            kind: Some("video".into()),
            limit: 500,
            ..Default::default()
        };
        if let Ok(p) = st.store.run_blocking(move |s| s.items(&q)).await {
            videos.extend(
                p.items
                    .into_iter()
                    .filter(|i| i.state == "present" || i.kept),
            );
        }
    }
    let jobs = st
        .store
        .run_blocking(|s| s.jobs(20))
        .await
        .unwrap_or_default();
    let mut b = String::from("<p>筛选：");
    for (code, label) in [
        ("", "全部"),
        ("planting", "种植"),
        ("breeding", "养殖"),
        ("agriculture", "其他农业技术"),
    ] {
        if code == chosen {
            b.push_str(&format!("<b>{label}</b> "));
        } else {
            b.push_str(&format!("<a href=\"/vcd?category={code}\">{label}</a> "));
        }
    }
    b.push_str("</p>");
    b.push_str(
        "<p>勾选种植、养殖技术视频，选择光盘规格，点“开始制作”。制作的是标准 VCD 2.0 光盘映像（bin/cue），农村常见的 VCD/DVD 机都能播放。</p>\
<form id=\"f\" onsubmit=\"return start(event)\"><table><tr><th>选择</th><th>标题</th><th>类别</th><th>时长</th></tr>",
    );
    if videos.is_empty() {
        b.push_str("<tr><td colspan=\"4\">还没有收到农业技术视频。</td></tr>");
    }
    for v in &videos {
        let dur = v
            .media
            .as_ref()
            .and_then(|m| m["duration_secs"].as_f64())
            .map(mmss)
            .unwrap_or_else(|| "未知".into());
        b.push_str(&format!(
            "<tr><td><input type=\"checkbox\" name=\"item\" value=\"{}\"></td><td>{}</td><td>{}</td><td>{dur}</td></tr>",
            v.id,
            esc(&v.title),
            esc(st.config.classify.category_label(&v.category)),
        ));
    }
    b.push_str(
        "</table><p>光盘标题 <input name=\"title\" size=\"30\"> 制式 <select name=\"standard\"><option value=\"pal\">PAL（国内）</option><option value=\"ntsc\">NTSC</option></select> \
光盘 <select name=\"disc\"><option value=\"74\">74 分钟（650MB）</option><option value=\"80\">80 分钟（700MB）</option></select> \
<label><input type=\"checkbox\" name=\"menu\"> 带中文节目菜单</label></p>\
<p><button type=\"button\" onclick=\"preview()\">预览光盘安排</button> <button>开始制作</button></p></form><div id=\"plan\"></div>",
    );
    b.push_str(
        "<script>\
function req(){var f=document.getElementById('f');var ids=[];f.querySelectorAll('input[name=item]:checked').forEach(function(c){ids.push(+c.value)});\
return {items:ids,title:f.title.value,standard:f.standard.value,disc:+f.disc.value,menu:f.menu.checked};}\
function post(u,cb){var x=new XMLHttpRequest();x.open('POST',u);x.setRequestHeader('content-type','application/json');\
x.onload=function(){cb(x.status,JSON.parse(x.responseText||'{}'))};x.send(JSON.stringify(req()));}\
function preview(){post('/api/v1/vcd/plan',function(s,r){var el=document.getElementById('plan');if(s!=200){el.innerHTML='<p class=err>'+(r.error||s)+'</p>';return;}\
var h='';r.discs.forEach(function(d){h+='<h4>第'+d.disc+'张光盘（剩余 '+Math.floor(d.free_seconds/60)+' 分钟）</h4><ol>';\
d.tracks.forEach(function(t){h+='<li>'+t.title.replace(/</g,'&lt;')+(t.of>1?'（第'+t.part+'/'+t.of+'段）':'')+' '+Math.round(t.length_secs/60)+' 分钟</li>'});h+='</ol>'});el.innerHTML=h;});}\
function start(e){e.preventDefault();post('/api/v1/vcd/jobs',function(s,r){if(s==201){location='/vcd/jobs/'+r.id}else{document.getElementById('plan').innerHTML='<p class=err>'+(r.error||s)+'</p>'}});return false;}\
</script>",
    );
    b.push_str("<h3>最近的制作任务</h3><table><tr><th>任务</th><th>标题</th><th>状态</th><th>进度</th></tr>");
    for j in &jobs {
        b.push_str(&format!(
            "<tr><td><a href=\"/vcd/jobs/{id}\">#{id}</a></td><td>{}</td><td>{}</td><td>{:.0}%</td></tr>",
            esc(&j.title),
            state_zh(&j.state),
            j.progress * 100.0,
            id = j.id
        ));
    }
    b.push_str("</table>");
    shell("制作农业技术光盘", &b, false).into_response()
}

async fn page_job(State(st): State<AppState>, Path(id): Path<i64>) -> Response {
    let job = match st.store.run_blocking(move |s| s.job(id)).await {
        Ok(j) => j,
        Err(_) => return (StatusCode::NOT_FOUND, shell("没有这个任务", "", false)).into_response(),
    };
    let open = job_state::is_open(&job.state);
    let offset = st
        .config
        .station
        .offset()
        .unwrap_or(chrono::FixedOffset::east_opt(8 * 3600).unwrap());
    let mut b = format!(
        "<p>状态：<b>{}</b> {}</p><div class=\"bar\"><div style=\"width:{:.0}%\"></div></div><p>{:.0}% · 创建于 {}</p>",
        state_zh(&job.state),
        esc(if job.state == job_state::DONE {
            ""
        } else {
            job.message.as_deref().unwrap_or("")
        }),
        job.progress * 100.0,
        job.progress * 100.0,
        esc(&local_display(&job.created_at, offset)),
    );
    if open {
        b.push_str(&format!(
            "<p><button onclick=\"var x=new XMLHttpRequest();x.open('DELETE','/api/v1/vcd/jobs/{id}');x.onload=function(){{location.reload()}};x.send()\">取消制作</button>（页面每 3 秒自动刷新）</p>"
        ));
    }
    let discs = job.discs.clone().or(job.plan.clone()).unwrap_or_default();
    for d in discs.as_array().into_iter().flatten() {
        b.push_str(&format!(
            "<h3>第{}张光盘</h3><ol>",
            d["disc"].as_u64().unwrap_or(0)
        ));
        for t in d["tracks"].as_array().into_iter().flatten() {
            b.push_str(&format!(
                "<li>{} {}</li>",
                esc(t["title"].as_str().unwrap_or("")),
                mmss(t["length_secs"].as_f64().unwrap_or(0.0))
            ));
        }
        b.push_str("</ol>");
        if job.state == job_state::DONE
            && let Some(bin) = d["bin"].as_str()
        {
            b.push_str(&format!(
                "<p>下载：<a href=\"/api/v1/vcd/jobs/{id}/files/{zip}\">bin+cue 打包</a> · <a href=\"/api/v1/vcd/jobs/{id}/files/{bin}\">{bin}</a> · \
<a href=\"/api/v1/vcd/jobs/{id}/files/{cue}\">{cue}</a> · <a href=\"/vcd/jobs/{id}/label\">打印光盘标签和封套</a></p>",
                zip = esc(d["zip"].as_str().unwrap_or("")),
                bin = esc(bin),
                cue = esc(d["cue"].as_str().unwrap_or("")),
            ));
        }
    }
    if job.state == job_state::DONE {
        b.push_str(&format!(
            "<h3>登记发放（光盘发放登记）</h3><form onsubmit=\"var f=this;var x=new XMLHttpRequest();x.open('POST','/api/v1/vcd/register');\
x.setRequestHeader('content-type','application/json');x.onload=function(){{document.getElementById('r').textContent=x.status==201?'已登记':'登记失败：'+x.responseText}};\
x.send(JSON.stringify({{job_id:{id},disc_no:+f.disc.value,titles:f.titles.value,category:'agriculture',copies:+f.copies.value,recipient:f.recipient.value,purpose:f.purpose.value,note:null}}));return false;\">\
光盘 <input name=\"disc\" value=\"1\" size=\"2\"> 份数 <input name=\"copies\" value=\"1\" size=\"3\"> 发放村 <input name=\"recipient\" size=\"12\"> \
用途 <input name=\"purpose\" value=\"农民实用技术培训\" size=\"14\"><input type=\"hidden\" name=\"titles\" value=\"{}\"> <button>登记</button> <span id=\"r\"></span></form>",
            esc(&job.title)
        ));
    }
    shell(&format!("光盘任务 #{id}：{}", job.title), &b, open).into_response()
}

async fn page_label(State(st): State<AppState>, Path(id): Path<i64>) -> Response {
    let job = match st.store.run_blocking(move |s| s.job(id)).await {
        Ok(j) => j,
        Err(_) => return (StatusCode::NOT_FOUND, shell("没有这个任务", "", false)).into_response(),
    };
    let school = &st.config.station.school;
    let mut b = String::from(
        "<style>@media print{header{display:none}}.label{width:116mm;height:116mm;border-radius:50%;border:1px solid #999;\
display:flex;flex-direction:column;align-items:center;justify-content:center;margin:8px;background:#fff;text-align:center}\
.insert{width:120mm;border:1px dashed #999;padding:6mm;background:#fff;margin:8px}</style>",
    );
    let discs = job.discs.clone().or(job.plan.clone()).unwrap_or_default();
    for d in discs.as_array().into_iter().flatten() {
        let n = d["disc"].as_u64().unwrap_or(1);
        let tracks: Vec<String> = d["tracks"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| esc(t["title"].as_str().unwrap_or("")))
            .collect();
        b.push_str(&format!(
            "<div class=\"label\"><b style=\"font-size:18px\">{}</b><div>第{n}张 · VCD</div><div style=\"font-size:12px\">{}</div><div style=\"font-size:11px\">{} 赠送 · 仅供农民技术培训，不得用于营利</div></div>",
            esc(&job.title),
            tracks.join("<br>"),
            esc(if school.is_empty() { "农村远程教育接收站" } else { school }),
        ));
        b.push_str(&format!(
            "<div class=\"insert\"><b>{} 第{n}张</b><ol>{}</ol><p style=\"font-size:12px\">用遥控器数字键选择节目。</p></div>",
            esc(&job.title),
            d["tracks"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| format!(
                    "<li>{} {}</li>",
                    esc(t["title"].as_str().unwrap_or("")),
                    mmss(t["length_secs"].as_f64().unwrap_or(0.0))
                ))
                .collect::<String>()
        ));
    }
    shell(&format!("光盘标签：{}", job.title), &b, false).into_response()
}
