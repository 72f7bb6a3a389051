//! Integration tests of the equipment log: real pseudo-terminals with fake
//! devices that answer like the documented models, socat links that are
//! unplugged and come back, a fake PJLink server, a kill -9 of a child process,
//! and the HTTP API on a real server bound to port 0.
//!
//! Nothing here asserts a duration: every wait is for a condition, with a
//! generous deadline.

mod equipment_util;

use std::sync::Arc;
use std::time::Duration;

use equipment_util::*;
use xingzhan::clock::{SimClock, SystemClock};
use xingzhan::equipment::config::{DeviceConfig, DeviceKind, Sense};
use xingzhan::equipment::{self, State};

fn sys() -> Arc<SystemClock> {
    Arc::new(SystemClock::new())
}

// ---------------------------------------------------------------- serial

#[test]
fn epson_reports_on_and_lamp_hours() {
    let fake = FakeDevice::pair(either(vec![
        on_query(b"PWR?\r", |_, _| vec![w(b"PWR=01\r:")]),
        on_query(b"LAMP?\r", |_, _| vec![w(b"LAMP=1234\r:")]),
    ]));
    let (_d, store, h) = start(vec![serial_dev("p1", "epson_escvp21", &fake.path)]);
    let rows = wait_seq(&store, "p1", &[State::On]);
    assert_eq!(rows[0].detail, "epson_escvp21=01");
    wait_for(
        "lamp hours",
        || {
            let (a, b) = far();
            let l = store.equip_lamp_rows(a, b).unwrap();
            (!l.is_empty()).then_some(l)
        },
        String::new,
    );
    h.shutdown();
    let rows = intervals(&store, "p1");
    assert_eq!(rows.len(), 1, "polls without change add no rows: {rows:?}");
    assert_eq!(rows[0].closed_by.as_deref(), Some("shutdown"));
    let (a, b) = far();
    assert_eq!(store.equip_lamp_rows(a, b).unwrap()[0].hours, 1234);
}

#[test]
fn garbage_then_valid_reply() {
    // Hitachi: first a garbage frame of the reply length, then the real one.
    let fake = FakeDevice::pair(on_query(
        b"\xBE\xEF\x03\x06\x00\x19\xD3\x02\x00\x00\x60\x00\x00",
        |n, _| match n {
            0 => vec![w(b"\xFF\x13\x00")],
            _ => vec![w(b"\x1D\x01\x00")],
        },
    ));
    let (_d, store, h) = start(vec![serial_dev("h", "hitachi", &fake.path)]);
    let rows = wait_seq(&store, "h", &[State::Unknown, State::On]);
    assert!(
        rows[0].detail.contains("unrecognised reply"),
        "{}",
        rows[0].detail
    );
    assert!(rows[0].detail.contains("\\xFF\\x13"), "{}", rows[0].detail);
    h.shutdown();
}

#[test]
fn partial_reply_is_unknown_then_recovers() {
    let fake = FakeDevice::pair(on_query(b"PWR?\r", |n, _| match n {
        0 => vec![w(b"PWR=0")],
        _ => vec![w(b"PWR=00\r:")],
    }));
    let (_d, store, h) = start(vec![serial_dev("p", "epson_escvp21", &fake.path)]);
    let rows = wait_seq(&store, "p", &[State::Unknown, State::Standby]);
    assert!(
        rows[0].detail.contains("incomplete reply"),
        "{}",
        rows[0].detail
    );
    assert!(rows[0].detail.contains("PWR=0"), "{}", rows[0].detail);
    h.shutdown();
}

#[test]
fn reply_split_across_reads() {
    // Sony 8E1 reply sent one byte at a time.
    let fake = FakeDevice::pair(on_query(b"\xA9\x01\x02\x01\x00\x00\x03\x9A", |_, _| {
        b"\xA9\x01\x02\x02\x00\x03\x03\x9A"
            .iter()
            .flat_map(|b| [w(&[*b]), sleep_ms(15)])
            .collect()
    }));
    let (_d, store, h) = start(vec![serial_dev("s", "sony_vpl", &fake.path)]);
    wait_for(
        "several polls",
        || (fake.queries.load(std::sync::atomic::Ordering::SeqCst) >= 3).then_some(()),
        || show(&store, "s"),
    );
    h.shutdown();
    assert_eq!(seq(&store, "s"), vec![State::On], "{}", show(&store, "s"));
}

#[test]
fn growing_match_split_across_reads_is_not_cut_short() {
    // "Ok12" already matches Optoma's lamp pattern; the rest "34\r" follows
    // in a second write. The poller must wait for it, not record 12 hours.
    let fake = FakeDevice::pair(either(vec![
        on_query(b"~00124 1\r", |_, _| vec![w(b"Ok1\r")]),
        on_query(b"~00108 1\r", |_, _| {
            vec![w(b"Ok12"), sleep_ms(20), w(b"34\r")]
        }),
    ]));
    let (_d, store, h) = start(vec![serial_dev("o", "optoma", &fake.path)]);
    let lamp = wait_for(
        "a lamp reading",
        || {
            let (a, b) = far();
            store.equip_lamp_rows(a, b).unwrap().pop()
        },
        || show(&store, "o"),
    );
    assert_eq!(lamp.hours, 1234);
    h.shutdown();
}

#[test]
fn device_that_never_answers_follows_its_on_timeout_policy() {
    let mute1 = FakeDevice::pair(on_query(b"PWR?\r", |_, _| vec![]));
    let mute2 = FakeDevice::pair(on_query(b"ka 01 ff\r", |_, _| vec![]));
    // An LG TV that answers "on" twice, then is switched off (and goes mute).
    let lg = FakeDevice::pair(on_query(b"ka 01 ff\r", |n, _| {
        if n < 2 {
            vec![w(b"a 01 OK01x")]
        } else {
            vec![]
        }
    }));
    let (_d, store) = store();
    let mut tv = serial_dev("tv", "lg_tv", &mute2.path);
    tv.kind = DeviceKind::Tv;
    let mut tv2 = serial_dev("tv2", "lg_tv", &lg.path);
    tv2.kind = DeviceKind::Tv;
    let cfg = config(vec![serial_dev("p", "epson_escvp21", &mute1.path), tv, tv2]);
    let h = equipment::spawn(&cfg, store.clone(), sys()).unwrap();
    let p = wait_seq(&store, "p", &[State::Unknown]);
    assert!(p[0].detail.contains("no reply from"), "{}", p[0].detail);
    assert!(p[0].detail.contains(&mute1.path), "{}", p[0].detail);
    // LG TVs are mute in standby: the driver's documented default is "off",
    // but only once the link has been proven by an answer.
    let t = wait_seq(&store, "tv", &[State::Unknown]);
    assert!(
        t[0].detail.contains("once the device has answered"),
        "{}",
        t[0].detail
    );
    let t = wait_seq(&store, "tv2", &[State::On, State::Standby]);
    assert!(
        t[1].detail.contains("(on_timeout = off)"),
        "{}",
        t[1].detail
    );
    h.shutdown();
}

#[test]
fn slow_device_within_timeout() {
    let fake = FakeDevice::pair(on_query(b"\r*pow=?#\r", |_, _| {
        vec![
            sleep_ms(300),
            w(b"\r\n*pow=?#\r\n"),
            sleep_ms(200),
            w(b"*POW=ON#\r\n"),
        ]
    }));
    let (_d, store) = store();
    let mut d = serial_dev("b", "benq", &fake.path);
    d.reply_timeout_ms = 5000;
    let h = equipment::spawn(&config(vec![d]), store.clone(), sys()).unwrap();
    wait_seq(&store, "b", &[State::On]);
    h.shutdown();
    assert_eq!(seq(&store, "b"), vec![State::On], "{}", show(&store, "b"));
}

#[test]
fn lowercase_replies() {
    let benq = FakeDevice::pair(on_query(b"\r*pow=?#\r", |_, _| {
        vec![w(b"*pow=?#*pow=off#")]
    }));
    let lg = FakeDevice::pair(on_query(b"ka 01 ff\r", |_, _| vec![w(b"a 01 ok01x")]));
    let (_d, store) = store();
    let cfg = config(vec![
        serial_dev("b", "benq", &benq.path),
        serial_dev("lg", "lg_tv", &lg.path),
    ]);
    let h = equipment::spawn(&cfg, store.clone(), sys()).unwrap();
    wait_seq(&store, "b", &[State::Standby]);
    wait_seq(&store, "lg", &[State::On]);
    h.shutdown();
}

#[test]
fn optoma_unsolicited_info_messages() {
    // Standby, then the lamp is struck by remote: INFO1 (warming) arrives
    // unprompted between polls, and later polls say on.
    let fake = FakeDevice::pair(on_query(b"~00124 1\r", |n, _| match n {
        0 => vec![w(b"Ok0\r"), sleep_ms(30), w(b"INFO1\r")],
        1..=3 => vec![w(b"INFO1\rOk0\r")],
        _ => vec![w(b"Ok1\r")],
    }));
    let (_d, store, h) = start(vec![serial_dev("o", "optoma", &fake.path)]);
    let rows = wait_seq(&store, "o", &[State::Standby, State::Warming, State::On]);
    let warming = rows.iter().find(|r| r.state == State::Warming).unwrap();
    assert!(
        warming.detail.contains("unsolicited INFO1"),
        "{}",
        warming.detail
    );
    h.shutdown();
}

#[test]
fn unplugged_port_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let socat = Socat::start(dir.path());
    let answer = || on_query(b"PWR?\r", |_, _| vec![w(b"PWR=01\r:")]);
    let fake = FakeDevice::on_path(&socat.device_end, answer());
    let (_d, store) = store();
    let port = socat.daemon_end.display().to_string();
    let h = equipment::spawn(
        &config(vec![serial_dev("p", "epson_escvp21", &port)]),
        store.clone(),
        sys(),
    )
    .unwrap();
    wait_seq(&store, "p", &[State::On]);
    socat.unplug();
    drop(fake);
    let rows = wait_seq(&store, "p", &[State::On, State::Unknown]);
    let down = rows.last().unwrap();
    assert!(down.detail.contains("link down"), "{}", down.detail);
    assert!(down.detail.contains(&port), "{}", down.detail);
    // Plugged in again: the same link path comes back.
    let socat = Socat::start(dir.path());
    let _fake = FakeDevice::on_path(&socat.device_end, answer());
    wait_seq(&store, "p", &[State::On, State::Unknown, State::On]);
    h.shutdown();
}

#[test]
fn port_that_does_not_exist_is_named() {
    let (_d, store) = store();
    let port = "/dev/serial/by-id/usb-nonexistent-adapter-port0";
    let h = equipment::spawn(
        &config(vec![serial_dev("p", "epson_escvp21", port)]),
        store.clone(),
        sys(),
    )
    .unwrap();
    let rows = wait_seq(&store, "p", &[State::Unknown]);
    assert!(
        rows[0]
            .detail
            .contains(&format!("cannot open serial port {port}")),
        "{}",
        rows[0].detail
    );
    h.shutdown();
}

#[test]
fn wrong_line_settings_are_reported() {
    // The fake Sony reads the baud rate the daemon set on the pty (the kernel
    // keeps the speed of a pty but forces 8 data bits and no parity, so only
    // the speed is observable); at the wrong speed a real UART hears noise, so
    // the fake answers noise.
    let fake = |_: ()| {
        FakeDevice::pair(on_query(b"\xA9\x01\x02\x01\x00\x00\x03\x9A", |_, seen| {
            if seen.baud == 38400 {
                vec![w(b"\xA9\x01\x02\x02\x00\x03\x03\x9A")]
            } else {
                vec![w(b"\xE9\x41\xFF\x9A")]
            }
        }))
    };
    let (right, wrong) = (fake(()), fake(()));
    let (_d, store) = store();
    let mut bad = serial_dev("bad", "sony_vpl", &wrong.path);
    bad.line.baud = Some(9600);
    let cfg = config(vec![serial_dev("good", "sony_vpl", &right.path), bad]);
    let h = equipment::spawn(&cfg, store.clone(), sys()).unwrap();
    wait_seq(&store, "good", &[State::On]);
    let rows = wait_seq(&store, "bad", &[State::Unknown]);
    assert!(
        rows[0].detail.contains("unrecognised reply"),
        "{}",
        rows[0].detail
    );
    assert!(
        rows[0].detail.contains("line settings: 9600 8E1"),
        "{}",
        rows[0].detail
    );
    h.shutdown();
    assert_eq!(seq(&store, "good"), vec![State::On]);
}

#[test]
fn bad_device_config_is_refused_naming_the_device() {
    let (_d, store) = store();
    let mut d = serial_dev("p9", "epsn", "/dev/null");
    let e = equipment::spawn(&config(vec![d.clone()]), store.clone(), sys())
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("p9") && e.contains("epsn"), "{e}");
    d.driver = "epson_escvp21".into();
    d.room = "attic".into();
    let e = equipment::spawn(&config(vec![d]), store, sys())
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("attic"), "{e}");
}

// ---------------------------------------------------------------- PJLink

#[test]
fn pjlink_with_password_and_with_a_wrong_one() {
    let good = FakePjlink::start(Some("JBMIAProjectorLink"), "1");
    let bad = FakePjlink::start(Some("JBMIAProjectorLink"), "1");
    let (_d, store) = store();
    let pj = |id: &str, port: u16, pw: &str| {
        let mut d = DeviceConfig::new(id, "r1", DeviceKind::Projector, Sense::Pjlink);
        d.host = "127.0.0.1".into();
        d.tcp_port = port;
        d.password = pw.into();
        d.poll_ms = 100;
        d
    };
    let cfg = config(vec![
        pj("good", good.port, "JBMIAProjectorLink"),
        pj("bad", bad.port, "wrong"),
    ]);
    let h = equipment::spawn(&cfg, store.clone(), sys()).unwrap();
    wait_seq(&store, "good", &[State::On]);
    let rows = wait_seq(&store, "bad", &[State::Unknown]);
    assert!(
        rows[0].detail.contains("authentication failed"),
        "{}",
        rows[0].detail
    );
    assert!(
        rows[0].detail.contains(&bad.port.to_string()),
        "{}",
        rows[0].detail
    );
    wait_for(
        "lamp via PJLink",
        || {
            let (a, b) = far();
            let l = store.equip_lamp_rows(a, b).unwrap();
            l.iter()
                .any(|r| r.device_id == "good" && r.hours == 1234)
                .then_some(())
        },
        String::new,
    );
    // The password is never printed.
    assert!(!format!("{cfg:?}").contains("JBMIAProjectorLink"));
    h.shutdown();
}

// ---------------------------------------------------------------- DVB, host

struct FakeFrontend(u32);
impl equipment::dvb::Frontend for FakeFrontend {
    fn read_status(&mut self) -> std::io::Result<u32> {
        Ok(self.0)
    }
    fn describe(&self) -> String {
        "fake frontend".into()
    }
}

#[test]
fn receiver_lock_and_reception_activity() {
    use equipment::serial::Sensor;
    let (_d, store) = store();
    let clock = Arc::new(SimClock::new("2026-09-07T02:00:00Z".parse().unwrap()));
    let mut locked = equipment::dvb::DvbSensor::new(
        Some(Box::new(FakeFrontend(0x1f))),
        store.clone(),
        clock.clone(),
    );
    assert_eq!(locked.poll().0, State::On);
    let mut idle = equipment::dvb::DvbSensor::new(
        Some(Box::new(FakeFrontend(0))),
        store.clone(),
        clock.clone(),
    );
    let (s, detail) = idle.poll();
    assert_eq!(s, State::Standby);
    assert!(detail.contains("idle"), "{detail}");
    // A reception in the catalog counts as activity.
    store
        .write(|c| {
            c.execute_batch(
                "INSERT INTO items (id, blake3, size, title, path, path_display, category, kind, state,
                 first_received, last_received) VALUES (1, 'b', 1, 't', x'00', 't', 'course', 'video',
                 'present', '2026-09-07T01:55:00Z', '2026-09-07T01:55:00Z');
                 INSERT INTO receptions (item_id, received_at, clock_trusted, uptime_ms, path, path_display,
                 size, mtime_ns, blake3) VALUES (1, '2026-09-07T01:55:00Z', 1, 0, x'00', 't', 1, 0, 'b');",
            )?;
            Ok(())
        })
        .unwrap();
    assert_eq!(idle.poll().0, State::On);
    let mut none = equipment::dvb::DvbSensor::new(None, store.clone(), clock.clone());
    assert_eq!(none.poll().0, State::On);
    clock.advance(Duration::from_secs(3600));
    assert_eq!(none.poll().0, State::Unknown);
}

#[test]
fn receiver_without_frontend_or_receptions_is_unknown() {
    let (_d, store) = store();
    let mut rx = DeviceConfig::new("rx", "r1", DeviceKind::Receiver, Sense::Dvb);
    rx.adapter = 97;
    rx.poll_ms = 50;
    let h = equipment::spawn(&config(vec![rx]), store.clone(), sys()).unwrap();
    let rows = wait_seq(&store, "rx", &[State::Unknown]);
    assert!(rows[0].detail.contains("no frontend"), "{}", rows[0].detail);
    h.shutdown();
}

#[test]
fn malformed_calendar_file_stops_start_naming_file_and_line() {
    let (d, store) = store();
    let path = d.path().join("校历.csv");
    std::fs::write(
        &path,
        "kind,start,end,note\nterm,2026-09-01,2027-01-20,秋季\nholiday,2026-10-01,10/7,国庆\n",
    )
    .unwrap();
    let mut cfg = config(vec![]);
    cfg.calendar_csv = path.clone();
    let e = format!("{:#}", equipment::spawn(&cfg, store, sys()).err().unwrap());
    assert!(e.contains("校历.csv line 3") && e.contains("10/7"), "{e}");
}

#[test]
fn host_pc_counts_while_running() {
    let (_d, store) = store();
    let mut pc = DeviceConfig::new("pc", "r1", DeviceKind::Pc, Sense::Host);
    pc.poll_ms = 50;
    let h = equipment::spawn(&config(vec![pc]), store.clone(), sys()).unwrap();
    wait_seq(&store, "pc", &[State::On]);
    h.shutdown();
    let rows = intervals(&store, "pc");
    assert_eq!(rows.len(), 1, "{}", show(&store, "pc"));
    assert!(rows[0].end_at.is_some());
    // The interval starts at boot, before the daemon started.
    let boot = chrono::Utc::now()
        - chrono::Duration::from_std(equipment::dvb::host_uptime().unwrap()).unwrap();
    assert!(
        (rows[0].start_at - boot).num_seconds().abs() < 120,
        "{:?} vs {boot}",
        rows[0].start_at
    );
    // A second run does not go back before what is recorded.
    let mut pc = DeviceConfig::new("pc", "r1", DeviceKind::Pc, Sense::Host);
    pc.poll_ms = 50;
    let h = equipment::spawn(&config(vec![pc]), store.clone(), sys()).unwrap();
    h.shutdown();
    let rows = intervals(&store, "pc");
    assert!(
        rows.windows(2)
            .all(|w| w[1].start_at >= w[0].end_at.unwrap()),
        "{rows:?}"
    );
}

// ---------------------------------------------------------------- crash safety, clock

#[test]
#[ignore = "run by kill9_loses_nothing as a child process"]
fn kill9_child() {
    let (Ok(db), Ok(port)) = (std::env::var("XZ_KILL9_DB"), std::env::var("XZ_KILL9_PORT")) else {
        return;
    };
    let store = xingzhan::store::Store::open(std::path::Path::new(&db)).unwrap();
    let _h = equipment::spawn(
        &config(vec![serial_dev("p", "epson_escvp21", &port)]),
        store,
        sys(),
    )
    .unwrap();
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[test]
fn kill9_loses_nothing() {
    let fake = FakeDevice::pair(on_query(b"PWR?\r", |n, _| {
        if n < 3 {
            vec![w(b"PWR=00\r:")]
        } else {
            vec![w(b"PWR=01\r:")]
        }
    }));
    let (dir, store) = store();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "kill9_child", "--nocapture"])
        .env("XZ_KILL9_DB", dir.path().join("db.sqlite3"))
        .env("XZ_KILL9_PORT", &fake.path)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait for standby (closed) then on (open, last_seen moved past its start).
    let before = wait_for(
        "an open 'on' interval touched after it opened",
        || {
            let rows = intervals(&store, "p");
            let ok = rows.len() == 2
                && rows[0].state == State::Standby
                && rows[0].end_at.is_some()
                && rows[1].state == State::On
                && rows[1].end_at.is_none()
                && rows[1].last_seen > rows[1].start_at;
            ok.then_some(rows)
        },
        || show(&store, "p"),
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let last_seen = intervals(&store, "p")[1].last_seen;
    assert!(last_seen >= before[1].last_seen);
    // Restart: the open interval is closed at its last-seen time.
    let h = equipment::spawn(&config(vec![]), store.clone(), sys()).unwrap();
    h.shutdown();
    let after = intervals(&store, "p");
    assert_eq!(after.len(), 2);
    assert_eq!(after[0], before[0], "closed interval unchanged");
    assert_eq!(after[1].state, State::On);
    assert_eq!(after[1].end_at, Some(last_seen));
    assert_eq!(after[1].closed_by.as_deref(), Some("restart"));
}

#[test]
fn clock_jumping_backwards_flags_rows_and_reports_count_them() {
    use equipment::recorder::Recorder;
    use equipment::{Event, report};
    let (_d, store) = store();
    let start: chrono::DateTime<chrono::Utc> = "2026-09-07T00:00:00Z".parse().unwrap(); // 08:00 +08:00
    let clock = Arc::new(SimClock::new(start));
    let floor = "2026-01-01T00:00:00Z".parse().unwrap();
    let mut rec =
        Recorder::with_floor(store.clone(), clock.clone(), Default::default(), floor).unwrap();
    let ev = |s: State| Event::State {
        device: "p".into(),
        state: s,
        detail: String::new(),
    };
    rec.handle(&ev(State::On)).unwrap();
    clock.advance(Duration::from_secs(40 * 60));
    rec.handle(&ev(State::Standby)).unwrap();
    // Someone sets the date back by a day (dead CMOS battery, manual fix gone wrong).
    clock.set_wall(start - chrono::Duration::days(1));
    clock.advance(Duration::from_secs(60));
    rec.handle(&ev(State::On)).unwrap();
    rec.close_all().unwrap();
    let rows = intervals(&store, "p");
    assert_eq!(rows.len(), 3, "{}", show(&store, "p"));
    let on_first = rows.iter().find(|r| r.start_at == start).unwrap();
    assert!(on_first.clock_trusted, "before the jump");
    assert_eq!(
        rows.iter().filter(|r| !r.clock_trusted).count(),
        2,
        "{rows:?}"
    );
    let cfg = config(vec![serial_dev("p", "epson_escvp21", "/dev/null")]);
    let off = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let r = report::utilization(&store, &cfg, off, day("2026-09-05"), day("2026-09-08")).unwrap();
    assert_eq!(r.untrusted_intervals, 2);
    assert_eq!(r.devices[0].untrusted_intervals, 2);
    // The trusted 40 minutes of period 1 on 2026-09-07 still count as in use.
    assert!(r.devices[0].counts.in_use >= 1, "{:?}", r.devices[0]);

    // A clock before the floor is untrusted from the start.
    let (_d2, store2) = equipment_util::store();
    let old = Arc::new(SimClock::new("2001-01-01T00:00:00Z".parse().unwrap()));
    let mut rec = Recorder::with_floor(store2.clone(), old, Default::default(), floor).unwrap();
    rec.handle(&ev(State::On)).unwrap();
    assert!(!intervals(&store2, "p")[0].clock_trusted);
}

// ---------------------------------------------------------------- HTTP API and pages

fn t(s: &str) -> chrono::DateTime<chrono::Utc> {
    s.parse().unwrap()
}

/// A school with rooms r1 (projector p) and r2 (projector q, never read), a
/// Monday 2026-09-07 on which p was on 08:00-08:30 local and then standby, and
/// catalog items 1 (course) and 2 (training).
fn school() -> (tempfile::TempDir, xingzhan::store::Store, Server) {
    let (dir, store) = store();
    let mut q = serial_dev("q", "hitachi", "/dev/null");
    q.room = "r2".into();
    let cfg = xingzhan::config::Config {
        equipment: config(vec![serial_dev("p", "epson_escvp21", "/dev/null"), q]),
        ..Default::default()
    };
    let id = store
        .equip_change("p", None, State::On, "", t("2026-09-07T00:00:00Z"), true)
        .unwrap();
    let id = store
        .equip_change(
            "p",
            Some(id),
            State::Standby,
            "",
            t("2026-09-07T00:30:00Z"),
            true,
        )
        .unwrap();
    store
        .equip_close(id, t("2026-09-07T09:00:00Z"), true, "shutdown")
        .unwrap();
    add_item(
        &store,
        1,
        "四年级数学 第1课",
        "course",
        "2026-09-06T10:00:00+00:00",
    );
    add_item(
        &store,
        2,
        "班主任培训",
        "training",
        "2026-09-06T11:00:00+00:00",
    );
    let clock = Arc::new(SimClock::new(t("2026-09-07T10:00:00Z")));
    let server = Server::start(xingzhan::web::AppState::new(
        store.clone(),
        Arc::new(cfg),
        clock,
    ));
    (dir, store, server)
}

fn lesson(room: &str, period: &str, teacher: &str, items: &[i64]) -> serde_json::Value {
    serde_json::json!({
        "room": room, "date": "2026-09-07", "period": period,
        "teacher": teacher, "class": "四(1)班", "subject": "数学", "items": items,
    })
}

#[test]
fn lessons_api_validates_and_handles_overlaps() {
    let (_d, _store, s) = school();
    let r = s.post_json("/api/v1/lessons", lesson("r1", "第3节", "王老师", &[1]));
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["id"].as_i64().unwrap();
    // A double click records nothing new.
    let r = s.post_json("/api/v1/lessons", lesson("r1", "第3节", "王老师", &[1]));
    assert_eq!((r.status, r.json()["id"].as_i64()), (200, Some(id)));
    // Another teacher in the same room at an overlapping time is refused, naming the lesson.
    let r = s.post_json(
        "/api/v1/lessons",
        serde_json::json!({"room": "r1", "start": "2026-09-07T10:20", "end": "2026-09-07T11:00", "teacher": "李老师"}),
    );
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(
        r.text().contains(&format!("overlaps lesson {id}")),
        "{}",
        r.text()
    );
    // The same time in another room is fine.
    let r = s.post_json("/api/v1/lessons", lesson("r2", "第3节", "李老师", &[]));
    assert_eq!(r.status, 201, "{}", r.text());
    // Adjacent, not overlapping.
    let r = s.post_json(
        "/api/v1/lessons",
        serde_json::json!({"room": "r1", "start": "2026-09-07T10:40:00+08:00", "end": "2026-09-07T10:50:00+08:00"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let r = s.post_json("/api/v1/lessons", lesson("attic", "第3节", "x", &[]));
    assert_eq!(r.status, 422);
    assert!(
        r.text().contains("unknown room \\\"attic\\\"") && r.text().contains("r1, r2"),
        "{}",
        r.text()
    );
    let r = s.post_json("/api/v1/lessons", lesson("r1", "第4节", "x", &[1, 99]));
    assert_eq!(r.status, 422);
    assert!(
        r.text().contains("unknown catalog item(s): 99"),
        "{}",
        r.text()
    );
    let r = s.post_json("/api/v1/lessons", lesson("r1", "第9节", "x", &[]));
    assert_eq!(r.status, 422);
    assert!(r.text().contains("第9节"), "{}", r.text());
    let r = s.post_json(
        "/api/v1/lessons",
        serde_json::json!({"room": "r1", "teacher": "x"}),
    );
    assert_eq!(r.status, 422);
    let r = s.post_json(
        "/api/v1/lessons",
        serde_json::json!({"room": "r1", "colour": "x"}),
    );
    assert_eq!(r.status, 422, "unknown fields are refused: {}", r.text());

    let r = s.get(&format!(
        "/api/v1/lessons?date=2026-09-07&period={}&room=r1",
        enc("第3节")
    ));
    let v = r.json();
    let ls = v["lessons"].as_array().unwrap();
    assert_eq!(ls.len(), 1, "{v}");
    assert_eq!(ls[0]["start"], "2026-09-07T10:00:00+08:00");
    assert_eq!(ls[0]["items"], serde_json::json!([1]));
    assert_eq!(ls[0]["clock_trusted"], true);
    let r = s.get(&format!(
        "/api/v1/lessons?from=2026-09-07&to=2026-09-07&teacher={}",
        enc("李老师")
    ));
    assert_eq!(r.json()["lessons"].as_array().unwrap().len(), 1);
    let r = s.get("/api/v1/lessons?from=2026-09-07&to=2026-09-07");
    assert_eq!(r.json()["lessons"].as_array().unwrap().len(), 3);
    let r = s.get("/api/v1/lessons?from=yesterday");
    assert_eq!(r.status, 400);
}

#[test]
fn reports_by_hand_computed_example() {
    let (_d, _store, s) = school();
    assert_eq!(
        s.post_json("/api/v1/lessons", lesson("r1", "第3节", "王老师", &[1]))
            .status,
        201
    );
    let r = s.get("/api/v1/reports/utilization?from=2026-09-07&to=2026-09-07");
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let p = &v["devices"][0];
    assert_eq!(p["id"], "p");
    // Period 1: on 30 of 40 min; period 3: lesson; periods 2, 4-7: standby.
    assert_eq!(p["timetabled"], 7);
    assert_eq!(p["in_use"], 2);
    assert_eq!(p["unused"], 5);
    assert_eq!(p["no_data"], 0);
    assert!((p["utilization"].as_f64().unwrap() - 2.0 / 7.0).abs() < 1e-9);
    assert_eq!(p["coverage"], 1.0);
    assert_eq!(p["on_hours"], 0.5);
    assert_eq!(p["on_hours_outside"], 0.0);
    assert_eq!(p["meets_target"], false);
    // q was never read: all periods are missing coverage, none counted unused.
    let q = &v["devices"][1];
    assert_eq!(
        (q["no_data"].as_i64(), q["unused"].as_i64()),
        (Some(7), Some(0))
    );
    assert!(q["utilization"].is_null());
    assert_eq!(q["coverage"], 0.0);
    assert_eq!(v["rooms"][0]["in_use"], 2);
    // Overall: p's 2 of 7 covered periods; q adds 7 periods without data.
    assert_eq!(v["overall_devices"]["timetabled"], 14);
    assert_eq!(v["overall_devices"]["in_use"], 2);
    assert!((v["overall_devices"]["utilization"].as_f64().unwrap() - 2.0 / 7.0).abs() < 1e-9);
    assert_eq!(v["overall_devices"]["coverage"], 0.5);
    assert_eq!(v["untrusted_intervals"], 0);
    assert_eq!(v["target"], 0.95);
    // A holiday removes the day from the timetable.
    let r = s.req(
        "PUT",
        "/api/v1/calendar",
        "text/csv",
        "kind,start,end,note\nholiday,2026-09-07,2026-09-07,test\n".as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = s
        .get("/api/v1/reports/utilization?from=2026-09-07&to=2026-09-07")
        .json();
    assert_eq!(v["devices"][0]["timetabled"], 0);
    assert_eq!(v["devices"][0]["on_hours_outside"], 0.5);
    let r = s.req(
        "PUT",
        "/api/v1/calendar",
        "text/csv",
        b"term,2026-09-01,2027-01-20\nterm,2026-09-01\n",
    );
    assert_eq!(r.status, 422);
    assert!(r.text().contains("line 2"), "{}", r.text());

    // Rates: no plan yet -> counts only.
    let v = s
        .get("/api/v1/reports/rates?from=2026-09-01&to=2026-09-30")
        .json();
    assert_eq!(v["plan_loaded"], false);
    let course = &v["categories"][0];
    assert_eq!(
        (course["received"].as_i64(), course["applied"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(course["application_rate"], 1.0);
    assert!(course["reception_rate"].is_null());
    assert_eq!(v["categories"][1]["application_rate"], 0.0);
    assert_eq!(v["categories"][1]["application_meets_target"], false);
    let plan = "date,category,title\n2026-09-06,course,四年级数学 第1课\n2026-09-06,课程资源,四年级数学 第2课\n2026-09-06,training,班主任培训\n";
    assert_eq!(
        s.req("PUT", "/api/v1/plan", "text/csv", plan.as_bytes())
            .status,
        200
    );
    let v = s
        .get("/api/v1/reports/rates?from=2026-09-01&to=2026-09-30")
        .json();
    assert_eq!(v["categories"][0]["reception_rate"], 0.5);
    assert_eq!(v["categories"][0]["reception_meets_target"], true);
    assert_eq!(v["categories"][1]["reception_rate"], 1.0);
    let r = s.req(
        "PUT",
        "/api/v1/plan",
        "text/csv",
        b"2026-09-06,course,a\n2026-09-06,music,b\n",
    );
    assert_eq!(r.status, 422);
    assert!(
        r.text().contains("line 2") && r.text().contains("music"),
        "{}",
        r.text()
    );
}

#[test]
fn equipment_and_states_api() {
    let (_d, _store, s) = school();
    let v = s
        .get("/api/v1/equipment?from=2026-09-07&to=2026-09-07")
        .json();
    assert_eq!(v["devices"][0]["state"], "standby");
    assert_eq!(v["devices"][0]["on_hours"], 0.5);
    assert_eq!(v["devices"][0]["intervals"], 2);
    assert_eq!(v["devices"][0]["untrusted_rows"], 0);
    assert_eq!(v["from"], "2026-09-07T00:00:00+08:00");
    assert_eq!(v["devices"][0]["last_seen"], "2026-09-07T17:00:00+08:00");
    assert!(v["devices"][1]["state"].is_null());
    let v = s
        .get("/api/v1/equipment/p/states?from=2026-09-07&to=2026-09-07")
        .json();
    let st = v["states"].as_array().unwrap();
    assert_eq!(st.len(), 2);
    assert_eq!(st[0]["state"], "on");
    assert_eq!(st[0]["start"], "2026-09-07T08:00:00+08:00");
    assert_eq!(st[0]["end"], "2026-09-07T08:30:00+08:00");
    assert_eq!(s.get("/api/v1/equipment/nope/states").status, 404);
}

#[test]
fn exports_csv_json_xlsx_with_cursor() {
    let (_d, store, s) = school();
    // More rows than one export page, to exercise paging and the cursor.
    let mut id = None;
    let mut at = t("2026-09-08T00:00:00Z");
    for i in 0..6_000 {
        let st = if i % 2 == 0 {
            State::On
        } else {
            State::Standby
        };
        id = Some(store.equip_change("p", id, st, "", at, true).unwrap());
        at += chrono::Duration::seconds(30);
    }
    let r = s.get("/api/v1/export/usage?from=2026-09-07&to=2026-09-15&format=csv");
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/csv"));
    let text = r.text();
    assert!(text.starts_with('\u{feff}'), "UTF-8 BOM");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0].trim_start_matches('\u{feff}'),
        "id,device,room,kind,state,start,end,seconds,open,clock_trusted,closed_by,detail"
    );
    assert_eq!(lines.len(), 1 + 2 + 6_000);
    assert!(
        lines[1].contains(
            ",p,r1,projector,on,2026-09-07T08:00:00+08:00,2026-09-07T08:30:00+08:00,1800,false,true,change,"
        ),
        "{}",
        lines[1]
    );
    // Cursor: rows after id 2.
    let r = s.get("/api/v1/export/usage?from=2026-09-07&to=2026-09-08&after=2&limit=3&format=json");
    let v = r.json();
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["id"], 3);
    assert_eq!(v["next_after"], 5);
    assert_eq!(rows[0]["start"], "2026-09-08T08:00:00+08:00");
    // Lessons and receptions.
    assert_eq!(
        s.post_json("/api/v1/lessons", lesson("r1", "第3节", "王老师", &[1, 2]))
            .status,
        201
    );
    let t2 = s
        .get("/api/v1/export/lessons?from=2026-09-07&to=2026-09-07")
        .text();
    assert!(
        t2.contains("2026-09-07T10:00:00+08:00") && t2.contains("1 2"),
        "{t2}"
    );
    let t3 = s
        .get("/api/v1/export/receptions?from=2026-09-06&to=2026-09-06")
        .text();
    assert!(
        t3.contains("2026-09-06T18:00:00+08:00") && t3.contains("班主任培训"),
        "{t3}"
    );
    let t4 = s.get("/api/v1/export/equipment?format=json").json();
    assert_eq!(t4["rows"][1]["device"], "q");
    // xlsx: a real workbook with a header naming the zone.
    let r = s.get("/api/v1/export/usage?from=2026-09-07&to=2026-09-07&format=xlsx");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-next-after"), Some("2"));
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(r.body)).unwrap();
    let mut sheet = String::new();
    std::io::Read::read_to_string(
        &mut zip.by_name("xl/worksheets/sheet1.xml").unwrap(),
        &mut sheet,
    )
    .unwrap();
    // Constant-memory sheets write strings inline.
    assert!(sheet.contains("start (UTC+08:00)"), "{sheet}");
    assert!(sheet.contains("t=\"b\""), "typed boolean cells: {sheet}");
    assert_eq!(s.get("/api/v1/export/nothing").status, 404);
    assert_eq!(s.get("/api/v1/export/usage?format=pdf").status, 400);
}

#[test]
fn pages_in_chinese() {
    let (_d, _store, s) = school();
    let r = s.get("/equipment?date=2026-09-07");
    assert_eq!(r.status, 200);
    let html = r.text();
    assert!(
        html.contains("lang=\"zh-CN\"") && html.contains("第1节") && html.contains("登记"),
        "{html}"
    );
    assert!(html.contains("待机/关机"), "device state shown: {html}");
    let form = format!(
        "room=r1&date=2026-09-07&period={}&teacher={}&class=&subject=&items=1",
        enc("第2节"),
        enc("赵老师")
    );
    let r = s.req(
        "POST",
        "/equipment/lessons",
        "application/x-www-form-urlencoded",
        form.as_bytes(),
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let loc = r.header("location").unwrap().to_string();
    let html = s.get(&loc).text();
    assert!(html.contains("已登记") && html.contains("赵老师"), "{html}");
    let r = s.req(
        "POST",
        "/equipment/lessons",
        "application/x-www-form-urlencoded",
        form.replace("items=1", "items=abc").as_bytes(),
    );
    let html = s.get(r.header("location").unwrap()).text();
    assert!(html.contains("资源编号应为数字"), "{html}");
    let html = s
        .get("/equipment/report?from=2026-09-07&to=2026-09-07")
        .text();
    assert!(
        html.contains("<svg") && html.contains("目标 95%") && html.contains("接收率"),
        "{html}"
    );
    assert!(html.contains("<td>多媒体教室</td>"), "room table: {html}");
}

#[test]
fn timetable_csv_import_replaces_the_configured_periods() {
    let (_d, _store, s) = school();
    let r = s.req(
        "PUT",
        "/api/v1/timetable",
        "text/csv",
        "name,start,end,weekdays,rooms\n上午,08:00,08:40,1-5,\n下午,14:00,13:00,1-5,\n".as_bytes(),
    );
    assert_eq!(r.status, 422);
    assert!(
        r.text().contains("line 3") && r.text().contains("before it starts"),
        "{}",
        r.text()
    );
    let r = s.req(
        "PUT",
        "/api/v1/timetable",
        "text/csv",
        "name,start,end,weekdays,rooms\n上午,08:00,08:40,1-5,\n".as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = s
        .get("/api/v1/reports/utilization?from=2026-09-07&to=2026-09-07")
        .json();
    assert_eq!(v["devices"][0]["timetabled"], 1);
    assert_eq!(v["devices"][0]["in_use"], 1);
    assert_eq!(v["devices"][0]["utilization"], 1.0);
    // Lessons follow the imported periods.
    let r = s.post_json("/api/v1/lessons", lesson("r1", "第1节", "王老师", &[]));
    assert_eq!(r.status, 422, "{}", r.text());
    let r = s.post_json("/api/v1/lessons", lesson("r1", "上午", "王老师", &[]));
    assert_eq!(r.status, 201, "{}", r.text());
}

// ---------------------------------------------------------------- the real daemon

/// `xingzhan serve` with a config, its address read from its first line.
struct Daemon {
    child: std::process::Child,
    http: Server,
}

impl Daemon {
    fn launch(config: &std::path::Path) -> Daemon {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_xingzhan"))
            .arg("--config")
            .arg(config)
            .arg("serve")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start xingzhan serve");
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .strip_prefix("xingzhan: listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .trim_end_matches('/')
            .parse()
            .unwrap();
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        Daemon {
            child,
            http: Server::at(addr),
        }
    }
    fn device_state(&self) -> Option<String> {
        let v = self.http.get("/api/v1/equipment").json();
        v["devices"][0]["state"].as_str().map(String::from)
    }
}

#[test]
fn serve_logs_a_projector_survives_kill9_and_stops_in_order() {
    let fake = FakeDevice::pair(on_query(b"PWR?\r", |_, _| vec![w(b"PWR=01\r:")]));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = dir.path().join("xingzhan.toml");
    std::fs::write(
        &cfg,
        format!(
            "[paths]\ndata = \"{}\"\n[web]\nlisten = \"127.0.0.1:0\"\n\
             [[equipment.rooms]]\nid = \"mm1\"\nname = \"多媒体教室\"\n\
             [[equipment.devices]]\nid = \"proj\"\nroom = \"mm1\"\nkind = \"projector\"\n\
             driver = \"epson_escvp21\"\nport = \"{}\"\npoll_ms = 200\n",
            data.display(),
            fake.path
        ),
    )
    .unwrap();
    let mut d = Daemon::launch(&cfg);
    wait_for(
        "the projector on through the API",
        || (d.device_state().as_deref() == Some("on")).then_some(()),
        || format!("{:?}", d.device_state()),
    );
    d.child.kill().unwrap(); // SIGKILL
    d.child.wait().unwrap();
    let d = Daemon::launch(&cfg);
    let store = xingzhan::store::Store::open(&data.join("xingzhan.sqlite3")).unwrap();
    let rows = wait_seq(&store, "proj", &[State::On, State::On]);
    assert_eq!(rows[0].closed_by.as_deref(), Some("restart"), "{rows:?}");
    assert_eq!(rows[0].end_at, Some(rows[0].last_seen));
    // SIGTERM: the orderly shutdown closes the open interval.
    let status = std::process::Command::new("kill")
        .args(["-TERM", &d.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut child = d.child;
    assert!(child.wait().unwrap().success());
    let rows = intervals(&store, "proj");
    assert!(rows.iter().all(|r| r.end_at.is_some()), "{rows:?}");
    assert_eq!(rows.last().unwrap().closed_by.as_deref(), Some("shutdown"));
}

#[test]
fn spawn_with_the_station_floor_flags_a_clock_before_it() {
    let (_d, store) = store();
    let mut pc = DeviceConfig::new("pc", "r1", DeviceKind::Pc, Sense::Host);
    pc.poll_ms = 50;
    let clock = Arc::new(SimClock::new(t("2003-05-01T00:00:00Z")));
    let h = equipment::spawn_with_floor(
        &config(vec![pc]),
        store.clone(),
        clock,
        t("2026-01-01T00:00:00Z"),
    )
    .unwrap();
    let rows = wait_seq(&store, "pc", &[State::On]);
    h.shutdown();
    assert!(!rows[0].clock_trusted, "{rows:?}");
}
