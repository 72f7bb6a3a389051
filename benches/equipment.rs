//! Equipment benchmarks (harness = false; prints figures, asserts nothing).
//!
//!   cargo bench --bench equipment -- [--quick] [poll] [reports] [export]
//!
//! - poll: 16 fake devices on pty pairs polled every second for 60 s (5 s with
//!   --quick); CPU of the poller and recorder threads (from /proc/self/task)
//!   and the process's RSS.
//! - reports: a school year (50 devices changing state every few minutes on
//!   school days, 200 lessons a week); time and peak RSS of the utilization and
//!   rates reports over the year.
//! - export: 1,000,000 state intervals to CSV through the HTTP API against the
//!   sqlite3 CLI exporting the same rows from the same database; and to xlsx.

#[path = "../tests/equipment_util/mod.rs"]
mod equipment_util;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Timelike, Utc};
use equipment_util::*;
use xingzhan::clock::SystemClock;
use xingzhan::equipment::config::{DeviceConfig, DeviceKind, RoomConfig, Sense};
use xingzhan::equipment::{self, EquipmentConfig, report};
use xingzhan::store::Store;
use xingzhan::store::equipment::ts;

fn status_kib(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Resets the peak RSS (VmHWM) so the next phase measures its own peak.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// CPU seconds (user + system) of this process's threads whose name starts with `prefix`.
fn thread_cpu(prefix: &str) -> f64 {
    let tick = 100.0; // USER_HZ on Linux
    let mut total = 0u64;
    for e in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
        if !comm.trim().starts_with(prefix) {
            continue;
        }
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        if let Some(rest) = stat.rsplit_once(')').map(|x| x.1) {
            let f: Vec<&str> = rest.split_whitespace().collect();
            total += f[11].parse::<u64>().unwrap_or(0) + f[12].parse::<u64>().unwrap_or(0);
        }
    }
    total as f64 / tick
}

fn process_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    (f[11].parse::<u64>().unwrap_or(0) + f[12].parse::<u64>().unwrap_or(0)) as f64 / 100.0
}

fn bench_poll(quick: bool) {
    let secs = if quick { 5 } else { 60 };
    let drivers: [(&str, &'static [u8], &'static [u8]); 4] = [
        ("epson_escvp21", b"PWR?\r", b"PWR=01\r:"),
        (
            "hitachi",
            b"\xBE\xEF\x03\x06\x00\x19\xD3\x02\x00\x00\x60\x00\x00",
            b"\x1D\x01\x00",
        ),
        ("benq", b"\r*pow=?#\r", b"*pow=?#*POW=ON#"),
        (
            "sony_vpl",
            b"\xA9\x01\x02\x01\x00\x00\x03\x9A",
            b"\xA9\x01\x02\x02\x00\x03\x03\x9A",
        ),
    ];
    let mut fakes = Vec::new();
    let mut devices = Vec::new();
    for i in 0..16 {
        let (drv, q, a) = drivers[i % 4];
        let fake = FakeDevice::pair(on_query(q, move |_, _| vec![w(a)]));
        let mut d = serial_dev(&format!("d{i:02}"), drv, &fake.path);
        d.poll_ms = 1000;
        d.reply_timeout_ms = 1000;
        devices.push(d);
        fakes.push(fake);
    }
    let (_dir, store) = store();
    let cfg = config(devices);
    let cpu0 = (thread_cpu("equip-"), process_cpu());
    let h = equipment::spawn(&cfg, store.clone(), Arc::new(SystemClock::new())).unwrap();
    let t0 = Instant::now();
    let mut rss_max = 0;
    while t0.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_millis(500));
        rss_max = rss_max.max(status_kib("VmRSS:"));
    }
    let equip_cpu = thread_cpu("equip-") - cpu0.0;
    let wall = t0.elapsed().as_secs_f64();
    let polls: usize = fakes
        .iter()
        .map(|f| f.queries.load(std::sync::atomic::Ordering::SeqCst))
        .sum();
    h.shutdown();
    let proc_cpu = process_cpu() - cpu0.1;
    let rows: usize = (0..16)
        .map(|i| intervals(&store, &format!("d{i:02}")).len())
        .sum();
    println!(
        "poll: 16 devices every 1 s for {wall:.1} s: {polls} polls answered; poller+recorder threads {equip_cpu:.2} CPU-s ({:.2}% of one core); whole process incl. fake devices {proc_cpu:.2} CPU-s; max RSS {:.1} MiB; {rows} interval rows",
        equip_cpu / wall * 100.0,
        rss_max as f64 / 1024.0
    );
}

/// Inserts closed intervals (device, state, start, end) in one transaction.
fn insert_intervals(
    store: &Store,
    detail: &str,
    rows: impl Iterator<Item = (String, &'static str, DateTime<Utc>, DateTime<Utc>)>,
) {
    store
        .write(|c| {
            let tx = c.transaction()?;
            {
                let mut ins = tx.prepare(
                    "INSERT INTO equipment_intervals (device_id, state, detail, start_at, end_at, last_seen, clock_trusted, closed_by)
                     VALUES (?1, ?2, ?5, ?3, ?4, ?4, 1, 'change')",
                )?;
                for (dev, state, a, b) in rows {
                    ins.execute(rusqlite::params![dev, state, ts(a), ts(b), detail])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .unwrap();
}

/// 50 devices in 10 rooms, state changes every few minutes 07:00-18:00 on
/// school days, standby overnight; 200 lessons a week.
fn school_year(store: &Store) -> (EquipmentConfig, NaiveDate, NaiveDate) {
    let from = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap();
    let to = NaiveDate::from_ymd_opt(2027, 7, 1).unwrap();
    let rooms: Vec<RoomConfig> = (0..10)
        .map(|i| RoomConfig {
            id: format!("room{i}"),
            name: format!("教室{i}"),
        })
        .collect();
    let devices: Vec<DeviceConfig> = (0..50)
        .map(|i| {
            let mut d = DeviceConfig::new(
                &format!("dev{i:02}"),
                &format!("room{}", i % 10),
                DeviceKind::Projector,
                Sense::Serial,
            );
            d.driver = "epson_escvp21".into();
            d.port = "/dev/null".into();
            d
        })
        .collect();
    let cfg = EquipmentConfig {
        rooms,
        devices,
        ..Default::default()
    };
    let mut seed = 12345u64;
    let mut rnd = move |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let mut rows = Vec::new();
    for dev in &cfg.devices {
        let mut t: DateTime<Utc> = Utc.from_utc_datetime(&from.and_hms_opt(0, 0, 0).unwrap());
        let end: DateTime<Utc> = Utc.from_utc_datetime(&to.and_hms_opt(0, 0, 0).unwrap());
        let mut on = false;
        while t < end {
            let local_h = (t.hour() + 8) % 24;
            let wd = (t + chrono::Duration::hours(8))
                .weekday()
                .number_from_monday();
            let (state, next) = if wd <= 5 && (7..18).contains(&local_h) {
                on = !on;
                let next = t + chrono::Duration::minutes(2 + rnd(8) as i64);
                (if on { "on" } else { "standby" }, next)
            } else {
                on = false;
                ("standby", t + chrono::Duration::hours(1))
            };
            rows.push((dev.id.clone(), state, t, next));
            t = next;
        }
    }
    insert_intervals(store, "", rows.into_iter());
    store
        .write(|c| {
            let tx = c.transaction()?;
            {
                let mut les = tx.prepare(
                    "INSERT INTO lessons (room, period, start_at, end_at, teacher, class, subject, created_at, clock_trusted)
                     VALUES (?1, '第1节', ?2, ?3, '老师', '班', '数学', ?2, 1)",
                )?;
                let mut d = from;
                while d < to {
                    if d.weekday().number_from_monday() <= 5 {
                        // 40 lessons a day = 200 a week: 4 per room, in periods 1-7.
                        for room in 0..10 {
                            for k in 0..4u32 {
                                let h = [0u32, 0, 2, 2, 6, 6, 7][(k as usize * 2 + room) % 7];
                                let s = Utc.from_utc_datetime(&d.and_hms_opt(h, 50 * (k % 2), 0).unwrap());
                                les.execute(rusqlite::params![
                                    format!("room{room}"),
                                    ts(s),
                                    ts(s + chrono::Duration::minutes(40))
                                ])?;
                            }
                        }
                    }
                    d = d.succ_opt().unwrap();
                }
            }
            tx.commit()?;
            Ok(())
        })
        .unwrap();
    (cfg, from, to)
}

fn bench_reports() {
    let (_dir, store) = store();
    let t0 = Instant::now();
    let (cfg, from, to) = school_year(&store);
    let n: i64 = store
        .read(|c| Ok(c.query_row("SELECT count(*) FROM equipment_intervals", [], |r| r.get(0))?))
        .unwrap();
    let l: i64 = store
        .read(|c| Ok(c.query_row("SELECT count(*) FROM lessons", [], |r| r.get(0))?))
        .unwrap();
    println!(
        "reports: generated a school year ({n} intervals, {l} lessons, 50 devices) in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let off = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    reset_peak();
    let base = status_kib("VmRSS:");
    let t0 = Instant::now();
    let r = report::utilization(&store, &cfg, off, from, to).unwrap();
    let dt = t0.elapsed().as_secs_f64();
    let peak = status_kib("VmHWM:");
    println!(
        "reports: utilization over the year: {dt:.2} s, peak RSS {:.0} MiB (+{:.0} MiB over {:.0} MiB before); device 0: {} periods, utilization {:.3}",
        peak as f64 / 1024.0,
        (peak.saturating_sub(base)) as f64 / 1024.0,
        base as f64 / 1024.0,
        r.devices[0].counts.timetabled,
        r.devices[0].utilization.unwrap_or(0.0)
    );
    reset_peak();
    let t0 = Instant::now();
    report::rates(&store, &cfg, off, from, to).unwrap();
    println!(
        "reports: rates over the year: {:.3} s, peak RSS {:.0} MiB",
        t0.elapsed().as_secs_f64(),
        status_kib("VmHWM:") as f64 / 1024.0
    );
}

fn bench_export() {
    let (dir, store) = store();
    let t0 = Instant::now();
    let base = Utc.with_ymd_and_hms(2026, 9, 1, 0, 0, 0).unwrap();
    insert_intervals(
        &store,
        "epson_escvp21=01",
        (0..1_000_000i64).map(|i| {
            let s = base + chrono::Duration::seconds(i * 15);
            (
                format!("dev{:02}", i % 50),
                if i % 2 == 0 { "on" } else { "standby" },
                s,
                s + chrono::Duration::seconds(15),
            )
        }),
    );
    println!(
        "export: 1,000,000 intervals written in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let cfg = xingzhan::config::Config {
        equipment: config(vec![]),
        ..Default::default()
    };
    let server = Server::start(xingzhan::web::AppState::new(
        store.clone(),
        Arc::new(cfg),
        Arc::new(SystemClock::new()),
    ));
    let t0 = Instant::now();
    let r = server.get("/api/v1/export/usage?from=2026-08-01&to=2027-12-31&format=csv");
    let api = t0.elapsed().as_secs_f64();
    let lines = r.body.iter().filter(|b| **b == b'\n').count();
    assert_eq!(r.status, 200);
    let t0 = Instant::now();
    let out = std::process::Command::new("sqlite3")
        .arg("-csv")
        .arg("-header")
        .arg(dir.path().join("db.sqlite3"))
        .arg("SELECT id, device_id, state, start_at, coalesce(end_at, last_seen), \
              CAST(strftime('%s', coalesce(end_at, last_seen)) - strftime('%s', start_at) AS INTEGER), \
              end_at IS NULL, clock_trusted, closed_by, detail FROM equipment_intervals ORDER BY id")
        .output()
        .expect("sqlite3 CLI (Debian package sqlite3)");
    let cli = t0.elapsed().as_secs_f64();
    let cli_lines = out.stdout.iter().filter(|b| **b == b'\n').count();
    println!(
        "export: CSV through the API {api:.2} s ({lines} lines, {:.0} MiB); sqlite3 CLI {cli:.2} s ({cli_lines} lines, {:.0} MiB); ratio API/CLI {:.2}",
        r.body.len() as f64 / 1048576.0,
        out.stdout.len() as f64 / 1048576.0,
        api / cli
    );
    reset_peak();
    let t0 = Instant::now();
    let r = server.get("/api/v1/export/usage?from=2026-08-01&to=2027-12-31&format=xlsx");
    println!(
        "export: xlsx through the API {:.2} s ({:.0} MiB, status {}), peak RSS {:.0} MiB",
        t0.elapsed().as_secs_f64(),
        r.body.len() as f64 / 1048576.0,
        r.status,
        status_kib("VmHWM:") as f64 / 1024.0
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let picked: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| ["poll", "reports", "export"].contains(a))
        .collect();
    let run = |name: &str| picked.is_empty() || picked.contains(&name);
    if run("poll") {
        bench_poll(quick);
    }
    if run("reports") {
        bench_reports();
    }
    if run("export") {
        bench_export();
    }
}
