//! VCD jobs end to end: catalog videos -> job over the API -> real ffmpeg ->
//! our author -> files to download, the disc register; cancel, bad requests,
//! and a kill -9 in the middle of a job.

mod util;

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use util::{Station, make_video, require_tool, wait_for};

/// Drops a video and waits until the catalog knows its duration.
fn drop_video(st: &Station, rel: &str, secs: u32) -> i64 {
    let tmp = st.dir.path().join("clip.mp4");
    make_video(&tmp, secs, "320x240");
    st.drop_file(rel, &std::fs::read(&tmp).unwrap());
    let title = Path::new(rel).file_stem().unwrap().to_str().unwrap();
    let id = st.wait_item(title)["id"].as_i64().unwrap();
    wait_for("duration known", || {
        st.http.json(&format!("/api/v1/items/{id}"))["media"]["duration_secs"].is_number()
    });
    id
}

fn post_json(st: &Station, path: &str, v: &Value) -> (u16, Value) {
    let (s, b) = st
        .http
        .send("POST", path, &v.to_string(), "application/json");
    (s, serde_json::from_str(&b).unwrap_or(Value::Null))
}

fn job(st: &Station, id: i64) -> Value {
    st.http.json(&format!("/api/v1/vcd/jobs/{id}"))
}

#[test]
fn job_makes_a_disc_to_download_and_register() {
    require_tool("vcd-info", "vcdimager");
    let st = Station::start("[station]\nschool = \"王家庄小学\"\n");
    let a = drop_video(&st, "农业技术/养殖/蛋鸡饲养.mp4", 3);
    let b = drop_video(&st, "农业技术/种植/大棚黄瓜.mp4", 2);
    // the plan comes before any encoding
    let (s, plan) = post_json(&st, "/api/v1/vcd/plan", &json!({"items": [a, b]}));
    assert_eq!(s, 200, "{plan}");
    assert_eq!(plan["discs"].as_array().unwrap().len(), 1);
    assert_eq!(plan["discs"][0]["tracks"][1]["title"], "大棚黄瓜");
    assert!(plan["discs"][0]["free_seconds"].as_u64().unwrap() > 70 * 60);
    let (s, j) = post_json(
        &st,
        "/api/v1/vcd/jobs",
        &json!({"items": [a, b], "title": "养殖种植技术", "menu": true}),
    );
    assert_eq!(s, 201, "{j}");
    let id = j["id"].as_i64().unwrap();
    wait_for("job done", || {
        let j = job(&st, id);
        assert!(j["state"] != "failed", "job failed: {j}");
        j["state"] == "done"
    });
    let j = job(&st, id);
    assert_eq!(j["progress"], 1.0);
    let disc = &j["discs"][0];
    let (bin, cue, zip) = (
        disc["bin"].as_str().unwrap(),
        disc["cue"].as_str().unwrap(),
        disc["zip"].as_str().unwrap(),
    );
    let (s, _, cue_bytes) = st
        .http
        .get_bytes(&format!("/api/v1/vcd/jobs/{id}/files/{cue}"), &[]);
    assert_eq!(s, 200);
    assert!(String::from_utf8_lossy(&cue_bytes).contains("MODE2/2352"));
    let (s, _, bin_bytes) = st
        .http
        .get_bytes(&format!("/api/v1/vcd/jobs/{id}/files/{bin}"), &[]);
    assert_eq!(s, 200);
    assert_eq!(bin_bytes.len() % 2352, 0);
    // the downloaded image is a VCD 2.0 by an independent reader
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("disc.bin"), &bin_bytes).unwrap();
    std::fs::write(
        dir.path().join("disc.cue"),
        String::from_utf8_lossy(&cue_bytes).replace(bin, "disc.bin"),
    )
    .unwrap();
    let out = Command::new("vcd-info")
        .args(["-B", "--cue-file"])
        .arg(dir.path().join("disc.cue"))
        .output()
        .unwrap();
    let info = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{info}");
    assert!(info.contains("VCD 2.0"), "{info}");
    // the menu: a selection list over the two titles
    assert!(
        info.contains("PSD"),
        "no playback control on the disc: {info}"
    );
    // one download of both
    let (s, _, zbytes) = st
        .http
        .get_bytes(&format!("/api/v1/vcd/jobs/{id}/files/{zip}"), &[]);
    assert_eq!(s, 200);
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(zbytes)).unwrap();
    assert_eq!(z.len(), 2);
    assert_eq!(z.by_name(bin).unwrap().size(), bin_bytes.len() as u64);
    // unknown file names are refused (no path tricks)
    let (s, _) = st.http.get(&format!(
        "/api/v1/vcd/jobs/{id}/files/..%2F..%2Fxingzhan.sqlite3"
    ));
    assert_eq!(s, 404);
    // pages: job with downloads, label
    let (s, page) = st.http.get(&format!("/vcd/jobs/{id}"));
    assert_eq!(s, 200);
    assert!(page.contains("完成") && page.contains("蛋鸡饲养"));
    let (_, label) = st.http.get(&format!("/vcd/jobs/{id}/label"));
    assert!(label.contains("王家庄小学") && label.contains("大棚黄瓜"));
    let (_, index) = st.http.get("/vcd");
    assert!(index.contains("蛋鸡饲养") && index.contains("大棚黄瓜"));
    // the disc register
    let (s, r) = post_json(
        &st,
        "/api/v1/vcd/register",
        &json!({"job_id": id, "disc_no": 1, "titles": "蛋鸡饲养；大棚黄瓜", "category": "agriculture",
                "copies": 5, "recipient": "李家沟村", "purpose": "农民实用技术培训", "note": null}),
    );
    assert_eq!(s, 201, "{r}");
    let (s, _) = post_json(
        &st,
        "/api/v1/vcd/register",
        &json!({"disc_no": 1, "titles": "x", "category": "agriculture", "copies": 0,
                "recipient": "李家沟村", "purpose": "培训", "note": null}),
    );
    assert_eq!(s, 400);
    let (_, _, csv) = st.http.get_bytes("/api/v1/vcd/register?format=csv", &[]);
    let text = String::from_utf8_lossy(&csv[3..]).to_string();
    assert!(
        text.contains("李家沟村") && text.contains("+08:00"),
        "{text}"
    );
    // and like the other registers, through the export API
    let (s, _, json) = st.http.get_bytes("/api/v1/export/discs?format=json", &[]);
    assert_eq!(s, 200);
    assert!(String::from_utf8_lossy(&json).contains("李家沟村"));
    let (s, _, xlsx) = st.http.get_bytes("/api/v1/export/discs?format=xlsx", &[]);
    assert_eq!(s, 200);
    assert_eq!(&xlsx[..2], b"PK", "an xlsx is a zip");
}

#[test]
fn bad_job_requests_are_refused_with_reasons() {
    let st = Station::start("");
    st.drop_file("农业技术/说明.txt", b"not a video");
    let doc = st.wait_item("说明")["id"].as_i64().unwrap();
    for (body, want, says) in [
        (json!({"items": []}), 400, "at least one"),
        (json!({"items": [doc]}), 400, "not a video"),
        (json!({"items": [99999]}), 404, "not found"),
        (json!({"items": [doc], "disc": 90}), 400, "74 or 80"),
        (json!({"items": [doc], "standard": "secam"}), 400, "pal"),
    ] {
        let (s, r) = post_json(&st, "/api/v1/vcd/jobs", &body);
        assert_eq!(s, want, "{body}: {r}");
        assert!(
            r["error"].as_str().unwrap_or("").contains(says),
            "{body}: {r}"
        );
    }
    let (s, _) = st.http.send(
        "POST",
        "/api/v1/vcd/jobs",
        "{\"items\": \"1\"}",
        "application/json",
    );
    assert!(s == 400 || s == 422);
    assert_eq!(st.http.get("/api/v1/vcd/jobs/777").0, 404);
}

#[test]
fn cancel_a_running_job_and_a_queued_one() {
    let st = Station::start("");
    let long = drop_video(&st, "农业技术/养殖/长视频.mp4", 120);
    let (_, j1) = post_json(&st, "/api/v1/vcd/jobs", &json!({"items": [long]}));
    let (_, j2) = post_json(&st, "/api/v1/vcd/jobs", &json!({"items": [long]}));
    let (id1, id2) = (j1["id"].as_i64().unwrap(), j2["id"].as_i64().unwrap());
    wait_for("first job transcoding", || {
        job(&st, id1)["state"] == "transcoding"
    });
    // the queued one is cancelled at once
    let (s, _) = st.http.delete(&format!("/api/v1/vcd/jobs/{id2}"));
    assert_eq!(s, 200);
    assert_eq!(job(&st, id2)["state"], "cancelled");
    let (s, _) = st.http.delete(&format!("/api/v1/vcd/jobs/{id1}"));
    assert_eq!(s, 200);
    wait_for("running job cancelled", || {
        job(&st, id1)["state"] == "cancelled"
    });
    // its partial files are gone
    let dir = st.data().join(format!("work/vcd/job-{id1}"));
    assert!(!dir.exists(), "{dir:?} left behind");
    // cancelling again is a conflict, not a crash
    assert_eq!(st.http.delete(&format!("/api/v1/vcd/jobs/{id1}")).0, 409);
}

#[test]
fn kill9_mid_job_then_restart_resumes_it() {
    let mut st = Station::start("");
    let v = drop_video(&st, "农业技术/种植/果树修剪.mp4", 60);
    let (_, j) = post_json(&st, "/api/v1/vcd/jobs", &json!({"items": [v]}));
    let id = j["id"].as_i64().unwrap();
    wait_for("transcoding", || job(&st, id)["state"] == "transcoding");
    st.kill9();
    st.launch();
    wait_for("job finished after restart", || {
        let j = job(&st, id);
        assert!(j["state"] != "failed", "{j}");
        j["state"] == "done"
    });
    let j = job(&st, id);
    assert_eq!(j["attempts"], 1);
    assert!(j["message"].as_str().is_some());
}
