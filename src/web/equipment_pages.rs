//! The technician's equipment pages (zh-CN): today's timetable per room with
//! each device's state and one-click lesson entry, and the report page with
//! utilization against the 95% line (an inline SVG chart) and the rates
//! against their targets. The JSON API they share helpers with is in
//! [`super::equipment`].

use std::fmt::Write as _;

use axum::extract::{Form, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{Duration, NaiveDate};
use serde::Deserialize;

use super::AppState;
use super::equipment::*;
use super::pages::esc;
use crate::equipment::lessons::{self, LessonError, LessonRequest};
use crate::equipment::report;
use crate::equipment::timetable::to_utc;
use crate::equipment::{Sense, State as DevState};
use crate::store::equipment::LessonFilter;

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

pub(super) async fn today_page(
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
pub(super) async fn form_lesson(
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

pub(super) async fn report_page(
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
    fn percent_encodes_for_links() {
        assert_eq!(percent("a b/中"), "a%20b%2F%E4%B8%AD");
    }

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
}
