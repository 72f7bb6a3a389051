//! The station's spine, end to end: the real binary, the real SQLite file, the
//! real HTTP server, real files in a real drop folder.

mod util;

use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Duration;

use util::{BIN, Station, wait_for};

fn sleep(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

#[test]
fn complete_file_is_cataloged_with_facts_and_reception() {
    let st = Station::start("");
    st.drop_file(
        "同步课堂/小学/三年级/语文/人教版 第5课 秋天的雨.txt",
        b"lesson text",
    );
    let item = st.wait_item("人教版 第5课 秋天的雨");
    assert_eq!(item["category"], "course");
    assert_eq!(item["subject"], "语文");
    assert_eq!(item["grade"], "三年级");
    assert_eq!(item["edition"], "人教版");
    assert_eq!(item["kind"], "document");
    assert_eq!(item["state"], "present");
    assert_eq!(item["receptions"], 1);
    assert_eq!(item["size"], 11);
    assert_eq!(
        item["blake3"].as_str().unwrap(),
        blake3::hash(b"lesson text").to_hex().as_str()
    );
    let id = item["id"].as_i64().unwrap();
    let one = st.http.json(&format!("/api/v1/items/{id}"));
    assert_eq!(one["title"], item["title"]);
    let recs = st.http.json("/api/v1/receptions");
    assert_eq!(recs["receptions"].as_array().unwrap().len(), 1);
    assert_eq!(recs["receptions"][0]["clock_trusted"], true);
    let h = st.health();
    assert_eq!(h["counts"]["items"], 1);
    assert!(h["disk"]["free_bytes"].as_u64().unwrap() > 0);
    assert!(h["last_reception"].is_string());
}

#[test]
fn temp_name_is_ignored_until_renamed() {
    let st = Station::start("");
    let tmp = st.drop_file("教师培训/课例.mp4.part", b"partial video bytes");
    sleep(4500); // more than the 2 s settle window
    assert_eq!(st.item_count(), 0, "a .part file must not be cataloged");
    std::fs::rename(&tmp, st.inbox().join("教师培训/课例.mp4")).unwrap();
    let item = st.wait_item("课例");
    assert_eq!(item["category"], "training");
}

#[test]
fn slow_writer_is_not_cataloged_early() {
    let st = Station::start("");
    let p = st.inbox().join("slow.mp4");
    let mut f = std::fs::File::create(&p).unwrap();
    for i in 0..14 {
        f.write_all(&[i as u8; 4096]).unwrap();
        f.flush().unwrap();
        sleep(350); // pauses far shorter than the settle window
        assert_eq!(
            st.item_count(),
            0,
            "cataloged while still being written (step {i})"
        );
    }
    drop(f);
    let item = st.wait_item("slow");
    assert_eq!(item["size"], 14 * 4096);
}

#[test]
fn preallocated_file_waits_until_filled() {
    let st = Station::start("");
    let p = st.inbox().join("prealloc.mpg");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&p)
        .unwrap();
    f.set_len(64 * 1024).unwrap(); // full size up front, like Explorer does
    let mut f = f;
    for i in 0..12 {
        use std::io::{Seek, SeekFrom};
        f.seek(SeekFrom::Start(i * 4096)).unwrap();
        f.write_all(&[0xAB; 4096]).unwrap();
        f.flush().unwrap();
        sleep(350);
        assert_eq!(
            st.item_count(),
            0,
            "cataloged while being filled (step {i})"
        );
    }
    drop(f);
    let item = st.wait_item("prealloc");
    let want = {
        let mut v = vec![0u8; 64 * 1024];
        v[..12 * 4096].fill(0xAB);
        blake3::hash(&v).to_hex().to_string()
    };
    assert_eq!(item["blake3"], want.as_str());
}

fn zip_bytes() -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let o = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    z.start_file("index.htm", o).unwrap();
    z.write_all(&vec![b'a'; 50_000]).unwrap();
    z.start_file("b.swf", o).unwrap();
    z.write_all(&(0..60_000u32).map(|i| (i % 97) as u8).collect::<Vec<_>>())
        .unwrap();
    z.finish().unwrap().into_inner()
}

#[test]
fn truncated_and_corrupt_archives_stay_receiving_then_broken() {
    let st = Station::start("[inbox]\nmax_wait_secs = 8\n");
    let good = zip_bytes();
    st.drop_file("课件/good.zip", &good);
    st.drop_file("课件/truncated.zip", &good[..good.len() / 2]);
    let mut corrupt = good.clone();
    corrupt[100] ^= 0xFF;
    st.drop_file("课件/corrupt.zip", &corrupt);
    st.wait_item("good");
    wait_for("both bad archives broken", || st.files("broken").len() == 2);
    let broken = st.files("broken");
    for f in &broken {
        let note = f["note"].as_str().unwrap();
        assert!(note.contains("archive test failed"), "{note}");
    }
    assert_eq!(st.item_count(), 1);
    // the receiver finishes the truncated one: it is cataloged after all
    std::fs::write(st.inbox().join("课件/truncated.zip"), &good[..]).unwrap();
    wait_for("completed archive cataloged (repeat of good)", || {
        st.http.json("/api/v1/receptions")["receptions"]
            .as_array()
            .unwrap()
            .len()
            == 2
    });
    assert_eq!(st.item_count(), 1, "same content is the same item");
}

#[test]
fn zero_byte_file_is_not_an_item() {
    let mut st = Station::start("[inbox]\nmax_wait_secs = 5\n");
    st.drop_file("empty.mp4", b"");
    st.drop_file("marker.txt", b"x");
    st.wait_item("marker");
    wait_for("zero-byte file shown as broken", || {
        st.files("broken")
            .iter()
            .any(|f| f["note"].as_str().unwrap_or("").contains("empty"))
    });
    assert_eq!(st.item_count(), 1);
    // after a restart it is checked again and stays broken (no flapping)
    st.stop();
    st.launch();
    st.drop_file("after-restart.txt", b"y");
    st.wait_item("after-restart");
    assert_eq!(
        st.files("broken").len(),
        1,
        "{}",
        st.http.get("/api/v1/inbox").1
    );
    assert!(
        st.files("receiving").is_empty(),
        "{:?}",
        st.files("receiving")
    );
}

#[test]
fn deleted_or_renamed_mid_settle() {
    let st = Station::start("");
    let a = st.drop_file("a.mp4", b"aaaa");
    let b = st.drop_file("b.mp4", b"bbbb");
    sleep(300);
    std::fs::remove_file(&a).unwrap();
    std::fs::rename(&b, st.inbox().join("c.mp4")).unwrap();
    st.wait_item("c");
    sleep(3000);
    let titles: Vec<String> = st
        .items("")
        .iter()
        .map(|i| i["title"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(titles, vec!["c".to_string()]);
}

#[test]
fn repeat_broadcast_and_replaced_content() {
    let st = Station::start("");
    st.drop_file("专题教育/安全.flv", b"version one");
    let first = st.wait_item("安全");
    // the carousel sends the same content again under another name
    st.drop_file("专题教育/安全(1).flv", b"version one");
    wait_for("second reception", || {
        st.http.json(&format!("/api/v1/items/{}", first["id"]))["receptions"] == 2
    });
    assert_eq!(st.item_count(), 1);
    // same name, new content: a new item, and the old file's item is gone from
    // the inbox only if no other copy is present (安全(1).flv still is)
    sleep(1100); // a different mtime second for the rewrite
    st.drop_file("专题教育/安全.flv", b"version two!");
    wait_for("new item for new content", || st.item_count() == 2);
    let items = st.items("");
    let new = items.iter().find(|i| i["size"] == 12).unwrap();
    assert_eq!(new["title"], "安全");
    assert_eq!(new["receptions"], 1);
}

#[test]
fn gbk_and_very_long_names_are_cataloged_and_openable() {
    let st = Station::start("");
    let (gbk, _, _) = encoding_rs::GBK.encode("农业技术/养殖/蛋鸡饲养管理.wmv");
    let raw = PathBuf::from(std::ffi::OsStr::from_bytes(&gbk));
    let body = b"gbk named content".to_vec();
    let p = st.inbox().join(&raw);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, &body).unwrap();
    let long_title = "很长的文件名".repeat(13); // 78 chars, 234 bytes + ext
    st.drop_file(format!("{long_title}.txt"), b"long");
    let item = st.wait_item("蛋鸡饲养管理");
    assert_eq!(item["category"], "breeding");
    assert!(
        item["path"]
            .as_str()
            .unwrap()
            .ends_with("农业技术/养殖/蛋鸡饲养管理.wmv")
    );
    let (status, _, bytes) = st
        .http
        .get_bytes(&format!("/api/v1/items/{}/content", item["id"]), &[]);
    assert_eq!(status, 200);
    assert_eq!(bytes, body);
    st.wait_item(&long_title);
    // found by a one-character search
    let hits = st.items("q=%E9%B8%A1"); // 鸡
    assert_eq!(hits.len(), 1);
}

#[test]
fn symlinks_are_not_followed() {
    let st = Station::start("");
    let outside = st.dir.path().join("secret.txt");
    std::fs::write(&outside, b"outside the drop folder").unwrap();
    std::os::unix::fs::symlink(&outside, st.inbox().join("link.txt")).unwrap();
    std::os::unix::fs::symlink(st.dir.path(), st.inbox().join("dirlink")).unwrap();
    st.drop_file("real.txt", b"real");
    st.wait_item("real");
    sleep(3000);
    assert_eq!(st.item_count(), 1, "a symlink was followed");
}

#[test]
fn drop_folder_that_disappears_and_comes_back() {
    let st = Station::start("");
    st.drop_file("before.txt", b"before");
    st.wait_item("before");
    let away = st.dir.path().join("usb-away");
    std::fs::rename(st.inbox(), &away).unwrap();
    sleep(3000);
    // nothing is marked gone while the folder is missing
    assert_eq!(st.items("state=gone").len(), 0);
    std::fs::write(away.join("while-away.txt"), b"w").unwrap();
    std::fs::rename(&away, st.inbox()).unwrap();
    st.wait_item("while-away");
    st.drop_file("after.txt", b"after");
    st.wait_item("after");
    assert_eq!(st.items("state=gone").len(), 0);
    // a file that really leaves is marked gone, its item and reception stay
    std::fs::remove_file(st.inbox().join("before.txt")).unwrap();
    wait_for("item marked gone", || st.items("state=gone").len() == 1);
    assert_eq!(st.health()["counts"]["receptions"], 3);
}

#[test]
fn files_that_arrived_while_down_are_found_at_startup() {
    let mut st = Station::start("");
    st.stop();
    st.drop_file("down/一年级数学.mp4", b"arrived while the daemon was down");
    st.launch();
    let item = st.wait_item("一年级数学");
    assert_eq!(item["grade"], "一年级");
}

#[test]
fn kill9_mid_ingest_then_restart_is_consistent() {
    let mut st = Station::start("");
    let n = 300;
    for i in 0..n {
        st.drop_file(
            format!("batch/f{i:04}.txt"),
            format!("content {i} {}", "x".repeat(2000 + i)).as_bytes(),
        );
    }
    // a few repeats of the same content under other names
    for i in 0..10 {
        st.drop_file(
            format!("repeat/r{i}.txt"),
            format!("content {i} {}", "x".repeat(2000 + i)).as_bytes(),
        );
    }
    wait_for("ingest under way", || st.item_count() > 5);
    st.kill9();
    st.launch();
    wait_for("all files cataloged after restart", || {
        let h = st.health();
        h["counts"]["files_complete"] == n + 10
    });
    let h = st.health();
    assert_eq!(h["counts"]["items"], n, "one item per distinct content");
    assert_eq!(
        h["counts"]["receptions"],
        n + 10,
        "one reception per arrival"
    );
    // the register has no duplicate arrival
    let regs = st.http.json("/api/v1/receptions?limit=100000")["receptions"]
        .as_array()
        .unwrap()
        .clone();
    let mut paths: Vec<&str> = regs.iter().map(|r| r["path"].as_str().unwrap()).collect();
    paths.sort();
    paths.dedup();
    assert_eq!(paths.len(), n + 10);
}

#[test]
fn keep_copies_into_library_and_survives_the_drop_folder() {
    let st = Station::start("");
    st.drop_file("同步课堂/初二/物理/浮力.ppt", b"slides about buoyancy");
    let item = st.wait_item("浮力");
    let id = item["id"].as_i64().unwrap();
    let (s, body) = st.http.send(
        "POST",
        &format!("/api/v1/items/{id}/keep"),
        "",
        "text/plain",
    );
    assert_eq!(s, 200, "{body}");
    let kept: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(kept["kept"], true);
    let lib = st.library().join("课程资源/物理/八年级/浮力.ppt");
    assert_eq!(std::fs::read(&lib).unwrap(), b"slides about buoyancy");
    std::fs::remove_file(st.inbox().join("同步课堂/初二/物理/浮力.ppt")).unwrap();
    wait_for("gone from inbox", || {
        st.http.json(&format!("/api/v1/items/{id}"))["state"] == "gone"
    });
    let (status, _, bytes) = st
        .http
        .get_bytes(&format!("/api/v1/items/{id}/content"), &[]);
    assert_eq!(status, 200);
    assert_eq!(bytes, b"slides about buoyancy");
    assert_eq!(st.items("kept=true").len(), 1);
    // an item whose file is gone and was never kept cannot be kept
    st.drop_file("x.txt", b"x");
    let x = st.wait_item("x");
    std::fs::remove_file(st.inbox().join("x.txt")).unwrap();
    wait_for("x gone", || {
        st.http.json(&format!("/api/v1/items/{}", x["id"]))["state"] == "gone"
    });
    let (s, body) = st.http.send(
        "POST",
        &format!("/api/v1/items/{}/keep", x["id"]),
        "",
        "text/plain",
    );
    assert_eq!(s, 409, "{body}");
    assert!(body.contains("no longer in the drop folder"), "{body}");
}

#[test]
fn content_supports_http_range() {
    let st = Station::start("");
    let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    st.drop_file("v.mpg", &data);
    let item = st.wait_item("v");
    let (status, headers, bytes) = st.http.get_bytes(
        &format!("/api/v1/items/{}/content", item["id"]),
        &[("Range", "bytes=100-199")],
    );
    assert_eq!(status, 206);
    assert_eq!(bytes, &data[100..200]);
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "content-range" && v == "bytes 100-199/10000")
    );
}

#[test]
fn patch_search_filters_and_paging() {
    let st = Station::start("");
    for i in 0..7 {
        st.drop_file(
            format!("同步课堂/数学/第{i}课.mp4"),
            format!("m{i}").as_bytes(),
        );
    }
    st.drop_file("农业技术/种植/大棚蔬菜.mp4", b"veg");
    wait_for("8 items", || st.item_count() == 8);
    assert_eq!(st.items("category=planting").len(), 1);
    assert_eq!(st.items("subject=%E6%95%B0%E5%AD%A6").len(), 7); // 数学
    let p1 = st.http.json("/api/v1/items?limit=3");
    assert_eq!(p1["items"].as_array().unwrap().len(), 3);
    let next = p1["next"].as_i64().unwrap();
    let p2 = st.http.json(&format!("/api/v1/items?limit=3&after={next}"));
    assert!(p2["items"][0]["id"].as_i64().unwrap() < next);
    // the technician corrects a title; the search follows
    let id = st.items("category=planting")[0]["id"].as_i64().unwrap();
    let (s, b) = st.http.send(
        "PATCH",
        &format!("/api/v1/items/{id}"),
        r#"{"title":"温室黄瓜栽培","subject":"","grade":"九年级"}"#,
        "application/json",
    );
    assert_eq!(s, 200, "{b}");
    let hits = st.items("q=%E9%BB%84%E7%93%9C"); // 黄瓜
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["grade"], "九年级");
    assert_eq!(hits[0]["corrected"], true);
    let (s, b) = st.http.send(
        "PATCH",
        &format!("/api/v1/items/{id}"),
        r#"{"category":"nonsense"}"#,
        "application/json",
    );
    assert_eq!(s, 400);
    assert!(b.contains("unknown"), "{b}");
}

#[test]
fn receptions_csv_opens_in_excel_with_chinese_and_timezone() {
    let st = Station::start("");
    st.drop_file("教师培训/班主任工作.wmv", b"training");
    st.wait_item("班主任工作");
    let (s, headers, body) = st
        .http
        .get_bytes("/api/v1/receptions?format=csv&from=2000-01-01", &[]);
    assert_eq!(s, 200);
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "content-type" && v.starts_with("text/csv"))
    );
    assert_eq!(&body[..3], b"\xEF\xBB\xBF", "UTF-8 BOM for Excel/WPS");
    let text = String::from_utf8(body[3..].to_vec()).unwrap();
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with("序号,接收时间"));
    let row = lines.next().unwrap();
    assert!(
        row.contains("教师培训") && row.contains("班主任工作"),
        "{row}"
    );
    assert!(row.contains("+08:00"), "explicit time zone: {row}");
    // an empty range
    let (_, _, body) = st
        .http
        .get_bytes("/api/v1/receptions?format=csv&to=2001-01-01", &[]);
    assert_eq!(String::from_utf8_lossy(&body[3..]).lines().count(), 1);
}

#[test]
fn hostile_http_requests_get_clear_errors() {
    let st = Station::start("");
    for (path, want) in [
        ("/api/v1/items/abc", 400),
        ("/api/v1/items/999999", 404),
        ("/api/v1/items?limit=-1", 400),
        ("/api/v1/items?bogus=1", 400),
        ("/api/v1/items?state=weird", 400),
        ("/api/v1/receptions?from=yesterday", 400),
        ("/api/v1/receptions?format=xml", 400),
        ("/api/v1/items/1/../../../etc/passwd", 404),
        ("/api/v1/items/999999/content", 404),
        ("/items/999999", 404),
    ] {
        let (s, b) = st.http.get(path);
        assert_eq!(s, want, "{path}: {b}");
    }
    let long = "语".repeat(300);
    let (s, _) = st.http.get(&format!("/api/v1/items?q={long}"));
    assert_eq!(s, 400);
    // quotes and FTS operators in a search are data, not syntax
    let (s, _) = st.http.get("/api/v1/items?q=%22%20OR%20*%20NEAR(");
    assert_eq!(s, 200);
    let (s, _) = st
        .http
        .send("PATCH", "/api/v1/items/1", "{not json", "application/json");
    assert!(s == 400 || s == 422 || s == 404, "{s}");
    // An oversized body is refused with 413; the server may close the
    // connection before the client has sent it all, which is also a refusal.
    let big = "x".repeat(2 << 20);
    match st
        .http
        .try_send("PATCH", "/api/v1/items/1", &big, "application/json")
    {
        Ok((s, _)) => assert_eq!(s, 413),
        Err(e) => assert!(
            e.contains("Broken pipe")
                || e.contains("reset")
                || e.contains("closed")
                || e.contains("Io"),
            "unexpected client error: {e}"
        ),
    }
    // the daemon is still fine (on a new connection: the refused one was closed)
    let fresh = util::Http::new(st.http.base.clone());
    assert_eq!(
        fresh.json("/api/v1/health")["version"],
        env!("CARGO_PKG_VERSION")
    );
}

#[test]
fn second_process_on_same_data_dir_is_refused() {
    let st = Station::start("");
    let out = st.command(&["scan"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use by another xingzhan process"), "{err}");
}

#[test]
fn scan_command_prints_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("in");
    std::fs::create_dir_all(inbox.join("a")).unwrap();
    std::fs::write(inbox.join("a/one.txt"), b"1").unwrap();
    std::fs::write(inbox.join("a/two.txt"), b"2").unwrap();
    std::fs::write(inbox.join("a/dup.txt"), b"2").unwrap();
    // make them old enough to be settled
    let old = std::time::SystemTime::now() - Duration::from_secs(600);
    for n in ["one", "two", "dup"] {
        std::fs::File::options()
            .write(true)
            .open(inbox.join(format!("a/{n}.txt")))
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    std::fs::write(inbox.join("fresh.txt"), b"just written").unwrap();
    let run = || {
        let out = std::process::Command::new(BIN)
            .args(["--data"])
            .arg(dir.path().join("data"))
            .arg("--inbox")
            .arg(&inbox)
            .args(["scan", "--json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let s = run();
    assert_eq!(s["new"], 2);
    assert_eq!(s["repeated"], 1);
    assert_eq!(s["receiving"], 1);
    std::fs::remove_file(inbox.join("a/one.txt")).unwrap();
    let s = run();
    assert_eq!(s["new"], 0);
    assert_eq!(s["gone"], 1);
}

#[test]
fn bad_config_lines_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[inbox]\nsettle_secs = 5\nsettel_secs = 9\n").unwrap();
    let out = util::with_config(&cfg, &["serve"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 3") && err.contains("settel_secs"),
        "{err}"
    );
    std::fs::write(&cfg, "[station]\nutc_offset = \"Beijing\"\n").unwrap();
    let out = util::with_config(&cfg, &["doctor"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("utc_offset") && err.contains("+08:00"),
        "{err}"
    );
}

#[test]
fn print_default_config_round_trips() {
    let out = std::process::Command::new(BIN)
        .args(["config", "print-default"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text, include_str!("../config/xingzhan.toml"));
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.toml");
    std::fs::write(&p, &text).unwrap();
    let out = util::with_config(&p, &["config", "check"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn doctor_reports_tools_and_database() {
    util::require_tool("ffprobe", "ffmpeg");
    let st = Station::start("");
    let mut st = st;
    st.stop();
    let out = st.command(&["doctor"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("ffprobe") && text.contains("ffprobe version"),
        "{text}"
    );
    assert!(text.contains("integrity ok"), "{text}");
    assert!(text.contains("clock"), "{text}");
    // a missing ffprobe is a failed check that says how to install it
    std::fs::write(
        st.dir.path().join("noff.toml"),
        format!(
            "[paths]\ndata = \"{}\"\n[probe]\nffprobe = \"/nonexistent/ffprobe\"\n",
            st.data().display()
        ),
    )
    .unwrap();
    let out = util::with_config(st.dir.path().join("noff.toml"), &["doctor"]);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("FAIL") && text.contains("apt-get install ffmpeg"),
        "{text}"
    );
}

#[test]
fn media_facts_from_ffprobe_and_corrupt_video_noted() {
    util::require_tool("ffmpeg", "ffmpeg");
    let st = Station::start("");
    let tmp = st.dir.path().join("clip.mp4");
    util::make_video(&tmp, 2, "320x240");
    let bytes = std::fs::read(&tmp).unwrap();
    st.drop_file("同步课堂/科学/实验.mp4", &bytes);
    st.drop_file("同步课堂/科学/坏视频.mp4", &bytes[..bytes.len() / 3]);
    st.drop_file("同步课堂/科学/假视频.rmvb", b"this is not a video at all");
    let good = st.wait_item("实验");
    let id = good["id"].as_i64().unwrap();
    wait_for("media facts", || {
        !st.http.json(&format!("/api/v1/items/{id}"))["media"].is_null()
    });
    let m = &st.http.json(&format!("/api/v1/items/{id}"))["media"];
    assert_eq!(m["width"], 320);
    assert_eq!(m["height"], 240);
    assert_eq!(m["video_codec"], "mpeg4");
    assert_eq!(m["audio_codec"], "aac");
    assert!((m["duration_secs"].as_f64().unwrap() - 2.0).abs() < 0.2);
    let fake = st.wait_item("假视频");
    wait_for("probe error noted", || {
        st.http.json(&format!("/api/v1/items/{}", fake["id"]))["media_error"].is_string()
    });
    st.wait_item("坏视频");
}

#[test]
fn disk_guard_purges_unkept_files_and_records_it() {
    // thresholds far above any real free space: the disk looks critically full
    let st = Station::start(
        "[disk]\ncheck_secs = 3600\nwarn_free_mib = 900000000\ncritical_free_mib = 800000000\ntarget_free_mib = 800000000\n",
    );
    st.drop_file("old.mp4", b"old unkept");
    st.drop_file("kept.mp4", b"kept one");
    st.wait_item("old");
    let kept = st.wait_item("kept");
    let (s, _) = st.http.send(
        "POST",
        &format!("/api/v1/items/{}/keep", kept["id"]),
        "",
        "text/plain",
    );
    assert_eq!(s, 200);
    // the dry run shows what would go, deleting nothing
    let plan = st.http.json("/api/v1/disk");
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["level"], "critical");
    assert_eq!(plan["planned"].as_array().unwrap().len(), 2);
    assert!(st.inbox().join("old.mp4").exists());
    let mut st = st;
    st.stop();
    let out = st.command(&["purge"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!st.inbox().join("old.mp4").exists());
    assert!(!st.inbox().join("kept.mp4").exists());
    // the library copy is untouched
    assert_eq!(
        std::fs::read(st.library().join("其他/未分学科/未分年级/kept.mp4")).unwrap(),
        b"kept one"
    );
    st.launch();
    assert_eq!(st.health()["counts"]["purges"], 2);
}

#[test]
fn unreadable_file_is_reported_and_the_daemon_keeps_going() {
    // root reads everything, so the daemon runs as nobody for this test
    let st_dir = tempfile::tempdir().unwrap();
    let base = st_dir.path();
    std::fs::set_permissions(base, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let data = base.join("data");
    std::fs::create_dir_all(data.join("inbox")).unwrap();
    for p in [&data, &data.join("inbox")] {
        std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    }
    let secret = data.join("inbox/locked.mp4");
    std::fs::write(&secret, b"no read permission").unwrap();
    std::fs::write(data.join("inbox/open.txt"), b"readable").unwrap();
    let old = std::time::SystemTime::now() - Duration::from_secs(600);
    for p in [&secret, &data.join("inbox/open.txt")] {
        std::fs::File::options()
            .write(true)
            .open(p)
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    std::fs::set_permissions(
        data.join("inbox/open.txt"),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let is_root = unsafe_geteuid() == 0;
    let mut cmd = if is_root {
        util::require_tool("setpriv", "util-linux");
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN]);
        c
    } else {
        std::process::Command::new(BIN)
    };
    // the binary must be reachable by nobody
    let out = cmd
        .arg("--data")
        .arg(&data)
        .args(["scan", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["new"], 1, "the readable file is cataloged");
    assert_eq!(s["errors"], 1, "the unreadable one is counted");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("locked.mp4") && err.contains("Permission denied"),
        "{err}"
    );
}

fn unsafe_geteuid() -> u32 {
    let out = std::process::Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn orderly_shutdown_on_sigterm() {
    let mut st = Station::start("");
    st.drop_file("a.txt", b"a");
    st.wait_item("a");
    let status = st.stop();
    assert!(status.success(), "exit status {status:?}");
    assert!(st.log_text().contains("stopped"));
}

/// Renders a page in headless Chromium and returns the DOM it built.
fn browser_dom(url: &str) -> String {
    util::require_tool("chromium", "chromium");
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=2000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn technician_pages_render_in_a_real_browser() {
    let st = Station::start("");
    st.drop_file("同步课堂/三年级/语文/秋天的雨.rmvb", b"video-ish");
    st.drop_file("农业技术/养殖/肉鸡防疫.wmv", b"chicken");
    st.drop_file("接收中/大文件.mp4.part", b"partial");
    let item = st.wait_item("秋天的雨");
    st.wait_item("肉鸡防疫");
    let home = browser_dom(&format!("{}/", st.http.base));
    assert!(home.contains("接收站概况"), "{home}");
    assert!(home.contains("秋天的雨") && home.contains("肉鸡防疫"));
    assert!(home.contains("导出接收登记"));
    let search = browser_dom(&format!("{}/items?q=鸡", st.http.base));
    assert!(search.contains("肉鸡防疫"));
    assert!(
        !search.contains("秋天的雨"),
        "one-character search must filter"
    );
    let page = browser_dom(&format!("{}/items/{}", st.http.base, item["id"]));
    assert!(page.contains("保存到校本资源库") && page.contains("语文") && page.contains("三年级"));
    // the keep button posts a form and the page says so
    let (s, body) = st.http.send(
        "POST",
        &format!("/items/{}/keep", item["id"]),
        "",
        "application/x-www-form-urlencoded",
    );
    assert_eq!(s, 200);
    assert!(body.contains("已保存到校本资源库"), "{body}");
    let lib = browser_dom(&format!("{}/items?kept=true", st.http.base));
    assert!(lib.contains("秋天的雨") && !lib.contains("肉鸡防疫"));
    // correcting through the form
    let (s, _) = st.http.send(
        "POST",
        &format!("/items/{}/edit", item["id"]),
        "title=%E7%A7%8B%E5%A4%A9&category=course&subject=&grade=&edition=",
        "application/x-www-form-urlencoded",
    );
    assert!(s == 303 || s == 200, "{s}");
    assert_eq!(
        st.http.json(&format!("/api/v1/items/{}", item["id"]))["title"],
        "秋天"
    );
    let reg = browser_dom(&format!("{}/receptions", st.http.base));
    assert!(
        reg.contains("节目接收登记") && reg.contains("肉鸡防疫") && reg.contains("共 2 次接收"),
        "{reg}"
    );
    let old = browser_dom(&format!(
        "{}/receptions?from=2001-01-01&to=2001-12-31",
        st.http.base
    ));
    assert!(old.contains("共 0 次接收"));
    let disk = browser_dom(&format!("{}/disk", st.http.base));
    assert!(disk.contains("磁盘空间") && disk.contains("预演"));
}

#[test]
fn without_events_the_reconcile_scan_finds_everything() {
    // e.g. a network share that sends no inotify events
    let st = Station::start("[inbox]\nwatch = false\nreconcile_secs = 1\n");
    st.drop_file("网络共享/一年级/数学/认识钟表.swf", b"flash");
    let item = st.wait_item("认识钟表");
    assert_eq!(item["kind"], "courseware");
    std::fs::remove_file(st.inbox().join("网络共享/一年级/数学/认识钟表.swf")).unwrap();
    wait_for("gone by reconcile", || st.items("state=gone").len() == 1);
}

#[test]
fn daemon_purges_by_itself_when_the_disk_is_critical() {
    let st = Station::start(
        "[disk]\ncheck_secs = 1\nwarn_free_mib = 900000000\ncritical_free_mib = 800000000\ntarget_free_mib = 800000000\n",
    );
    st.drop_file("课程/旧课件.ppt", b"old courseware");
    let item = st.wait_item("旧课件");
    wait_for("automatic purge", || st.health()["counts"]["purges"] == 1);
    assert!(!st.inbox().join("课程/旧课件.ppt").exists());
    let after = st.http.json(&format!("/api/v1/items/{}", item["id"]));
    assert_eq!(after["state"], "gone", "the item stays in the catalog");
    assert_eq!(after["receptions"], 1);
    assert!(st.log_text().contains("purged from the drop folder"));
}

#[test]
fn systemd_unit_is_valid_and_hardened() {
    util::require_tool("systemd-analyze", "systemd");
    let unit = include_str!("../systemd/xingzhan.service");
    for needle in [
        "Type=notify",
        "User=xingzhan",
        "StateDirectory=xingzhan",
        "ProtectSystem=strict",
        "ReadWritePaths=",
        "SupplementaryGroups=dialout",
        "NoNewPrivileges=yes",
    ] {
        assert!(unit.contains(needle), "unit lacks {needle}");
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("xingzhan.service");
    std::fs::write(&p, unit.replace("/usr/local/bin/xingzhan", BIN)).unwrap();
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&p)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        !err.contains("xingzhan.service:"),
        "systemd-analyze complains: {err}"
    );
    let sysusers = include_str!("../systemd/xingzhan.sysusers");
    assert!(sysusers.contains("u xingzhan") && sysusers.contains("m xingzhan dialout"));
}

#[test]
fn config_check_prints_the_layers_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.toml");
    std::fs::write(
        &p,
        "[[equipment.rooms]]\nid = \"lab\"\nname = \"计算机教室\"\n\
         [[equipment.devices]]\nid = \"proj-lab\"\nroom = \"lab\"\nkind = \"projector\"\n\
         sense = \"pjlink\"\nhost = \"127.0.0.1\"\npassword = \"hunter2\"\n",
    )
    .unwrap();
    let out = util::with_config(&p, &["--settle-secs", "7", "config", "check"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("settle_secs = 7"),
        "the flag layer wins: {text}"
    );
    assert!(
        text.contains("proj-lab") && text.contains("<redacted>"),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "a secret was printed: {text}");
}

#[test]
fn hardlink_mode_links_into_the_library() {
    use std::os::unix::fs::MetadataExt;
    let st = Station::start("[library]\nmode = \"hardlink\"\n");
    let src = st.drop_file("同步课堂/五年级/数学/圆的面积.ppt", b"circle area slides");
    let item = st.wait_item("圆的面积");
    let (s, body) = st.http.send(
        "POST",
        &format!("/api/v1/items/{}/keep", item["id"]),
        "",
        "text/plain",
    );
    assert_eq!(s, 200, "{body}");
    let lib = st.library().join("课程资源/数学/五年级/圆的面积.ppt");
    assert_eq!(
        std::fs::metadata(&lib).unwrap().ino(),
        std::fs::metadata(&src).unwrap().ino(),
        "same filesystem: a hard link, no second copy"
    );
    // keeping twice is harmless
    let (s, _) = st.http.send(
        "POST",
        &format!("/api/v1/items/{}/keep", item["id"]),
        "",
        "text/plain",
    );
    assert_eq!(s, 200);
    std::fs::remove_file(&src).unwrap();
    assert_eq!(std::fs::read(&lib).unwrap(), b"circle area slides");
}
