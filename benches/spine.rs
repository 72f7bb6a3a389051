//! Benchmarks of the spine, printing figures (not timed tests):
//!
//! 1. ingest: 10,000 small files and 2 GB of large files dropped at once into a
//!    running `serve`: files/s and MB/s end to end, beside `b3sum` and the
//!    blake3 crate (one thread) over the same files: the hashing limit;
//! 2. latency from a file's last write to its item in the API, settle 2 s;
//! 3. idle CPU and RSS of `serve` with 100,000 items and nothing arriving;
//! 4. search p50/p95 of `GET /api/v1/items?q=` at 100,000 and 1,000,000 items
//!    for one-, two- and four-character Chinese terms.
//!
//! `cargo bench --bench spine [-- --quick]`; `--only NAME` runs one part.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use xingzhan::catalog::classify::ClassifyConfig;
use xingzhan::store::Store;
use xingzhan::store::catalog::Arrival;

const BIN: &str = env!("CARGO_BIN_EXE_xingzhan");

struct Serve {
    child: Child,
    base: String,
    agent: ureq::Agent,
}

impl Serve {
    fn start(data: &Path, settle: u64) -> Serve {
        let mut child = Command::new(BIN)
            .arg("--data")
            .arg(data)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--settle-secs",
                &settle.to_string(),
                "serve",
            ])
            .env("XINGZHAN_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start serve");
        let mut line = String::new();
        let mut r = BufReader::new(child.stdout.take().unwrap());
        r.read_line(&mut line).unwrap();
        let base = line
            .trim()
            .trim_start_matches("xingzhan: listening on ")
            .trim_end_matches('/')
            .to_string();
        std::thread::spawn(move || {
            let mut s = String::new();
            while r.read_line(&mut s).map(|n| n > 0).unwrap_or(false) {
                s.clear();
            }
        });
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        Serve { child, base, agent }
    }
    fn json(&self, path: &str) -> serde_json::Value {
        let mut r = self
            .agent
            .get(&format!("{}{}", self.base, path))
            .call()
            .unwrap();
        serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap()
    }
    fn get_status(&self, path: &str) -> u16 {
        let mut r = self
            .agent
            .get(&format!("{}{}", self.base, path))
            .call()
            .unwrap();
        let _ = r.body_mut().read_to_vec();
        r.status().as_u16()
    }
    fn complete(&self) -> u64 {
        self.json("/api/v1/health")["counts"]["files_complete"]
            .as_u64()
            .unwrap()
    }
    /// (utime + stime) clock ticks and RSS in KiB from /proc.
    fn cpu_rss(&self) -> (u64, u64) {
        let pid = self.child.id();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        let ticks = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let rss = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        (ticks, rss)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while t.elapsed() < limit {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("bench: timed out waiting for {what}");
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// A tiny deterministic PRNG (xorshift), so the data is the same every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[(self.next() % v.len() as u64) as usize]
    }
}

fn all_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            all_files(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn ingest(quick: bool) {
    let (n_small, big_mb, n_big) = if quick {
        (2000, 64, 4)
    } else {
        (10_000, 512, 4)
    };
    println!("\n== ingest: {n_small} small files + {n_big} x {big_mb} MB dropped at once ==");
    let root = tempfile::tempdir_in(std::env::temp_dir()).unwrap();
    let stage = root.path().join("stage");
    let mut rng = Rng(7);
    let mut total = 0u64;
    for i in 0..n_small {
        let dir = stage.join(format!("同步课堂/年级{}/学科{}", i % 9, i % 13));
        std::fs::create_dir_all(&dir).unwrap();
        let size = 1024 + (rng.next() % (63 * 1024)) as usize;
        let mut buf = vec![0u8; size];
        for chunk in buf.chunks_mut(8) {
            let v = rng.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        std::fs::write(dir.join(format!("第{i}课.ppt")), &buf).unwrap();
        total += size as u64;
    }
    let big_dir = stage.join("教师培训");
    std::fs::create_dir_all(&big_dir).unwrap();
    for b in 0..n_big {
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(big_dir.join(format!("讲座{b}.mp4"))).unwrap(),
        );
        let mut block = vec![0u8; 1 << 20];
        for _ in 0..big_mb {
            for chunk in block.chunks_mut(8) {
                chunk.copy_from_slice(&rng.next().to_le_bytes());
            }
            f.write_all(&block).unwrap();
        }
        f.flush().unwrap();
        total += big_mb << 20;
    }
    let files = n_small as u64 + n_big;
    // Make the staged files look settled, as a finished transfer would be.
    let data = root.path().join("data");
    std::fs::create_dir_all(data.join("inbox")).unwrap();
    let serve = Serve::start(&data, 2);
    let t = Instant::now();
    std::fs::rename(&stage, data.join("inbox/batch")).unwrap();
    wait_until("ingest", Duration::from_secs(3600), || {
        serve.complete() == files
    });
    let secs = t.elapsed().as_secs_f64();
    let mb = total as f64 / 1e6;
    println!(
        "xingzhan serve (settle 2 s): {files} files, {mb:.0} MB in {secs:.2} s = {:.0} files/s, {:.0} MB/s (from the rename into the drop folder; the staged files were already older than the settle window)",
        files as f64 / secs,
        mb / secs
    );
    drop(serve);
    let mut list = Vec::new();
    all_files(&data.join("inbox/batch"), &mut list);
    // b3sum over the same files (it may use several threads and mmap)
    let t = Instant::now();
    let mut child = Command::new("b3sum")
        .arg("--no-names")
        .args(&list)
        .stdout(Stdio::null())
        .spawn()
        .expect("b3sum (apt-get install b3sum)");
    assert!(child.wait().unwrap().success());
    let b3 = t.elapsed().as_secs_f64();
    println!(
        "b3sum (reference, same files): {b3:.2} s = {:.0} files/s, {:.0} MB/s",
        files as f64 / b3,
        mb / b3
    );
    let t = Instant::now();
    let mut buf = vec![0u8; 1 << 20];
    for p in &list {
        let mut h = blake3::Hasher::new();
        let mut f = std::fs::File::open(p).unwrap();
        loop {
            let n = f.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        std::hint::black_box(h.finalize());
    }
    let one = t.elapsed().as_secs_f64();
    println!(
        "blake3 crate, one thread, read(2) 1 MiB (xingzhan's hashing): {one:.2} s = {:.0} MB/s",
        mb / one
    );
}

fn latency(quick: bool) {
    let n = if quick { 8 } else { 30 };
    println!("\n== latency: last write -> item visible in the API, settle 2 s, {n} files ==");
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let serve = Serve::start(&data, 2);
    let mut samples = Vec::new();
    for i in 0..n {
        let p = data.join(format!("inbox/课程{i}.mp4"));
        let mut f = std::fs::File::create(&p).unwrap();
        f.write_all(&vec![i as u8; 100_000]).unwrap();
        drop(f);
        let t = Instant::now();
        wait_until("item", Duration::from_secs(60), || {
            serve.json("/api/v1/health")["counts"]["items"].as_u64() == Some(i as u64 + 1)
        });
        samples.push(t.elapsed().as_secs_f64());
    }
    samples.sort_by(f64::total_cmp);
    println!(
        "median {:.3} s, p95 {:.3} s, min {:.3} s, max {:.3} s (the settle window is 2.000 s; API polled every 20 ms)",
        pct(&samples, 0.5),
        pct(&samples, 0.95),
        samples[0],
        samples[samples.len() - 1]
    );
}

const SUBJECTS: &[&str] = &[
    "语文", "数学", "英语", "科学", "品德", "物理", "化学", "生物", "历史", "地理",
];
const GRADES: &[&str] = &[
    "一年级",
    "二年级",
    "三年级",
    "四年级",
    "五年级",
    "六年级",
    "七年级",
    "八年级",
    "九年级",
];
const TOPICS: &[&str] = &[
    "秋天的雨",
    "小蝌蚪找妈妈",
    "圆的面积",
    "分数的意义",
    "光合作用",
    "浮力",
    "欧姆定律",
    "丝绸之路",
    "长江与黄河",
    "蛋鸡饲养管理",
    "大棚蔬菜种植",
    "肉牛育肥技术",
    "果树修剪",
    "生猪防疫",
    "水稻插秧",
    "班主任工作",
    "课堂提问艺术",
    "教学设计",
    "安全教育",
    "二十四节气",
    "古诗两首",
    "乘法口诀",
    "长方形的周长",
    "春晓",
    "静夜思",
    "玉米高产",
    "食用菌栽培",
    "小学英语 Unit 3",
    "化学方程式",
];

/// Builds a catalog of `n` synthetic items directly through the store.
fn synth_catalog(db: &Path, n: u64) {
    let store = Store::open(db).unwrap();
    let class = ClassifyConfig::default();
    let mut rng = Rng(42);
    let now = chrono::Utc::now();
    let mut batch = Vec::with_capacity(5000);
    for i in 0..n {
        let subject = rng.pick(SUBJECTS);
        let grade = rng.pick(GRADES);
        let topic = rng.pick(TOPICS);
        let path = format!(
            "/srv/inbox/同步课堂/{grade}/{subject}/第{}课 {topic}.mp4",
            i % 40
        );
        batch.push(Arrival {
            path: path.clone().into_bytes(),
            title: format!("第{}课 {topic} {i}", i % 40),
            class: class.classify(&path),
            path_display: path,
            size: 1000 + i,
            mtime_ns: i as i64,
            blake3: format!("{:064x}", i),
            at: now,
            clock_trusted: true,
            uptime_ms: 0,
        });
        if batch.len() == 5000 {
            store.record_arrivals(&batch).unwrap();
            batch.clear();
        }
    }
    store.record_arrivals(&batch).unwrap();
    // The files are not on this machine: mark them gone so a start-up scan has nothing to do.
    store
        .write(|c| {
            c.execute_batch(
                "UPDATE inbox_files SET state = 'gone'; UPDATE items SET state = 'gone'; PRAGMA wal_checkpoint(TRUNCATE);",
            )?;
            Ok(())
        })
        .unwrap();
}

fn idle_and_search(quick: bool, sizes: &[u64]) {
    for &n in sizes {
        println!("\n== catalog of {n} items ==");
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        std::fs::create_dir_all(data.join("inbox")).unwrap();
        let t = Instant::now();
        synth_catalog(&data.join("xingzhan.sqlite3"), n);
        let size = std::fs::metadata(data.join("xingzhan.sqlite3"))
            .unwrap()
            .len();
        println!(
            "built in {:.1} s ({:.0} items/s through the store), database {:.0} MB",
            t.elapsed().as_secs_f64(),
            n as f64 / t.elapsed().as_secs_f64(),
            size as f64 / 1e6
        );
        let serve = Serve::start(&data, 30);
        wait_until("up", Duration::from_secs(60), || {
            serve.get_status("/api/v1/health") == 200
        });
        if n == 100_000 {
            std::thread::sleep(Duration::from_secs(3));
            let window = if quick { 15 } else { 60 };
            let (c0, _) = serve.cpu_rss();
            std::thread::sleep(Duration::from_secs(window));
            let (c1, rss) = serve.cpu_rss();
            let hz = 100.0; // USER_HZ on Linux
            let cpu = (c1 - c0) as f64 / hz;
            println!(
                "idle serve, {window} s, nothing arriving: CPU {cpu:.2} s ({:.3} % of one core), RSS {:.1} MiB",
                cpu / window as f64 * 100.0,
                rss as f64 / 1024.0
            );
        }
        let reps = if quick { 40 } else { 200 };
        for term in ["鸡", "语文", "秋天的雨", "春晓 静夜思", "nit"] {
            let q: String = term
                .bytes()
                .map(|b| match b {
                    b' ' => "+".to_string(),
                    b if b.is_ascii_alphanumeric() => (b as char).to_string(),
                    b => format!("%{b:02X}"),
                })
                .collect();
            let path = format!("/api/v1/items?q={q}&limit=50");
            let hits = serve.json(&path)["items"].as_array().unwrap().len();
            let mut lat = Vec::new();
            for _ in 0..reps {
                let t = Instant::now();
                assert_eq!(serve.get_status(&path), 200);
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            lat.sort_by(f64::total_cmp);
            println!(
                "search q={term:<8} ({} chars, first page {hits} hits): p50 {:.2} ms, p95 {:.2} ms over {reps} requests",
                term.chars().filter(|c| !c.is_whitespace()).count(),
                pct(&lat, 0.5),
                pct(&lat, 0.95)
            );
        }
        let (_, rss) = serve.cpu_rss();
        println!("serve RSS after searches: {:.1} MiB", rss as f64 / 1024.0);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let run = |name: &str| only.as_deref().is_none_or(|o| o == name);
    println!(
        "xingzhan spine benchmarks ({} mode), {} cores",
        if quick { "quick" } else { "full" },
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    if run("ingest") {
        ingest(quick);
    }
    if run("latency") {
        latency(quick);
    }
    if run("search") {
        let sizes: &[u64] = if quick {
            &[100_000]
        } else {
            &[100_000, 1_000_000]
        };
        idle_and_search(quick, sizes);
    }
}
