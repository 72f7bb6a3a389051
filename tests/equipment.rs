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
    let (_d, store) = store();
    let cfg = config(vec![serial_dev("p1", "epson_escvp21", &fake.path)]);
    let h = equipment::spawn(&cfg, store.clone(), sys()).unwrap();
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
    let (_d, store) = store();
    let cfg = config(vec![serial_dev("h", "hitachi", &fake.path)]);
    let h = equipment::spawn(&cfg, store.clone(), sys()).unwrap();
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
    let (_d, store) = store();
    let cfg = config(vec![serial_dev("p", "epson_escvp21", &fake.path)]);
    let h = equipment::spawn(&cfg, store.clone(), sys()).unwrap();
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
    let (_d, store) = store();
    let cfg = config(vec![serial_dev("s", "sony_vpl", &fake.path)]);
    let h = equipment::spawn(&cfg, store.clone(), sys()).unwrap();
    wait_for(
        "several polls",
        || (fake.queries.load(std::sync::atomic::Ordering::SeqCst) >= 3).then_some(()),
        || show(&store, "s"),
    );
    h.shutdown();
    assert_eq!(seq(&store, "s"), vec![State::On], "{}", show(&store, "s"));
}

#[test]
fn device_that_never_answers_follows_its_on_timeout_policy() {
    let mute1 = FakeDevice::pair(on_query(b"PWR?\r", |_, _| vec![]));
    let mute2 = FakeDevice::pair(on_query(b"ka 01 ff\r", |_, _| vec![]));
    let (_d, store) = store();
    let mut tv = serial_dev("tv", "lg_tv", &mute2.path);
    tv.kind = DeviceKind::Tv;
    let cfg = config(vec![serial_dev("p", "epson_escvp21", &mute1.path), tv]);
    let h = equipment::spawn(&cfg, store.clone(), sys()).unwrap();
    let p = wait_seq(&store, "p", &[State::Unknown]);
    assert!(p[0].detail.contains("no reply from"), "{}", p[0].detail);
    assert!(p[0].detail.contains(&mute1.path), "{}", p[0].detail);
    // LG TVs are mute in standby: the driver's documented default is "off".
    let t = wait_seq(&store, "tv", &[State::Standby]);
    assert!(t[0].detail.contains("on_timeout = off"), "{}", t[0].detail);
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
    let (_d, store) = store();
    let h = equipment::spawn(
        &config(vec![serial_dev("o", "optoma", &fake.path)]),
        store.clone(),
        sys(),
    )
    .unwrap();
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
fn host_pc_counts_while_running() {
    let (_d, store) = store();
    let mut pc = DeviceConfig::new("pc", "r1", DeviceKind::Pc, Sense::Host);
    pc.poll_ms = 50;
    let h = equipment::spawn(&config(vec![pc]), store.clone(), sys()).unwrap();
    wait_seq(&store, "pc", &[State::On]);
    h.shutdown();
    let rows = intervals(&store, "pc");
    assert!(rows[0].end_at.is_some());
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
