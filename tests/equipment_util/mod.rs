//! Helpers for tests/equipment.rs: fake serial devices on real pseudo-terminals,
//! socat links that can be unplugged, a fake PJLink server, waiting for
//! conditions (never asserting durations), and config builders.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serialport::{SerialPort, TTYPort};
use xingzhan::equipment::config::{DeviceConfig, DeviceKind, RoomConfig, Sense};
use xingzhan::equipment::{EquipmentConfig, State};
use xingzhan::store::Store;
use xingzhan::store::equipment::IntervalRow;

/// Generous deadline for anything a test waits for.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Waits until `f` returns Some, or panics with `what` and the last `show()`.
pub fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>, show: impl Fn() -> String) -> T {
    let end = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > end {
            panic!("timed out waiting for {what}; last seen: {}", show());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What a fake device does in answer.
#[derive(Debug, Clone)]
pub enum Act {
    Write(Vec<u8>),
    Sleep(Duration),
}

/// Line settings the daemon set on the port, as the fake sees them.
#[derive(Debug, Clone, Copy)]
pub struct Seen {
    pub baud: u32,
    pub parity: serialport::Parity,
}

/// A responder: given the bytes received so far (and the line settings),
/// returns how many bytes it consumed and what to do; `None` = wait for more.
pub type Responder = Box<dyn FnMut(&[u8], Seen) -> Option<(usize, Vec<Act>)> + Send>;

/// Answers each occurrence of `query` with `answer(n)` (n counts from 0).
pub fn on_query(
    query: &'static [u8],
    mut answer: impl FnMut(usize, Seen) -> Vec<Act> + Send + 'static,
) -> Responder {
    let mut n = 0;
    Box::new(move |buf, seen| {
        let pos = buf.windows(query.len()).position(|w| w == query)?;
        let acts = answer(n, seen);
        n += 1;
        Some((pos + query.len(), acts))
    })
}

/// Several query/answer pairs on one device (e.g. power and lamp).
pub fn either(mut rs: Vec<Responder>) -> Responder {
    Box::new(move |buf, seen| {
        // The earliest complete query in the buffer wins.
        for r in rs.iter_mut() {
            if let Some(x) = r(buf, seen) {
                return Some(x);
            }
        }
        None
    })
}

pub fn w(b: &[u8]) -> Act {
    Act::Write(b.to_vec())
}
pub fn sleep_ms(ms: u64) -> Act {
    Act::Sleep(Duration::from_millis(ms))
}

/// A fake device on the master side of a pty pair; the daemon opens `path`.
pub struct FakeDevice {
    pub path: String,
    pub queries: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    _slave: Option<TTYPort>,
}

impl FakeDevice {
    /// A pty pair from serialport's `TTYPort::pair()`.
    pub fn pair(responder: Responder) -> FakeDevice {
        let (master, slave) = TTYPort::pair().expect("pty pair");
        let path = slave.name().expect("slave has a name");
        // The daemon opens the slave exclusively (flock), so the fake lets go of it;
        // the master then reads EIO until the daemon has it open.
        drop(slave);
        FakeDevice::start(path, master, None, responder)
    }

    /// The far end of a socat link.
    pub fn on_path(path: &Path, responder: Responder) -> FakeDevice {
        let port = serialport::new(path.to_string_lossy(), 9600)
            .timeout(Duration::from_millis(20))
            .open_native()
            .unwrap_or_else(|e| panic!("open fake end {}: {e}", path.display()));
        FakeDevice::start(path.display().to_string(), port, None, responder)
    }

    fn start(path: String, mut port: TTYPort, slave: Option<TTYPort>, mut r: Responder) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let queries = Arc::new(AtomicUsize::new(0));
        let (stop2, q2) = (stop.clone(), queries.clone());
        port.set_timeout(Duration::from_millis(20)).unwrap();
        let thread = std::thread::Builder::new()
            .name("fake-device".into())
            .spawn(move || {
                let mut buf = Vec::new();
                let mut tmp = [0u8; 256];
                while !stop2.load(Ordering::SeqCst) {
                    match port.read(&mut tmp) {
                        Ok(0) => return,
                        Ok(n) => buf.extend_from_slice(&tmp[..n]),
                        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                        Err(_) => {
                            // No slave open (between reopens) or the link is gone.
                            std::thread::sleep(Duration::from_millis(10));
                            if slave_gone(&port) {
                                return;
                            }
                        }
                    }
                    let seen = Seen {
                        baud: port.baud_rate().unwrap_or(0),
                        parity: port.parity().unwrap_or(serialport::Parity::None),
                    };
                    while let Some((n, acts)) = r(&buf, seen) {
                        buf.drain(..n.min(buf.len()));
                        q2.fetch_add(1, Ordering::SeqCst);
                        for a in acts {
                            match a {
                                Act::Write(b) => {
                                    let _ = port.write_all(&b);
                                    let _ = port.flush();
                                }
                                Act::Sleep(d) => std::thread::sleep(d),
                            }
                        }
                    }
                }
            })
            .unwrap();
        FakeDevice {
            path,
            queries,
            stop,
            thread: Some(thread),
            _slave: slave,
        }
    }
}

fn slave_gone(port: &TTYPort) -> bool {
    // A socat end whose peer died: the path has no name (pair master) → keep going.
    port.name().is_some_and(|n| !Path::new(&n).exists())
}

impl Drop for FakeDevice {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A socat process joining two pty links; kill it to "unplug".
pub struct Socat {
    child: Child,
    pub daemon_end: PathBuf,
    pub device_end: PathBuf,
}

impl Socat {
    pub fn start(dir: &Path) -> Socat {
        let daemon_end = dir.join("ttyUSB0");
        let device_end = dir.join("device");
        let child = Command::new("socat")
            .arg(format!("pty,raw,echo=0,link={}", daemon_end.display()))
            .arg(format!("pty,raw,echo=0,link={}", device_end.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run socat ({e}): this test needs it; install the Debian package `socat`"
                )
            });
        let s = Socat {
            child,
            daemon_end,
            device_end,
        };
        wait_for(
            "socat links",
            || (s.daemon_end.exists() && s.device_end.exists()).then_some(()),
            || "links missing".into(),
        );
        s
    }
    /// Kills socat (the adapter is unplugged) and waits until it is gone.
    pub fn unplug(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.daemon_end);
        let _ = std::fs::remove_file(&self.device_end);
    }
}

impl Drop for Socat {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A config with one room "r1" and the given devices.
pub fn config(devices: Vec<DeviceConfig>) -> EquipmentConfig {
    EquipmentConfig {
        rooms: vec![
            RoomConfig {
                id: "r1".into(),
                name: "多媒体教室".into(),
            },
            RoomConfig {
                id: "r2".into(),
                name: "计算机教室".into(),
            },
        ],
        devices,
        reconnect_max_secs: 1,
        ..Default::default()
    }
}

/// A serial device polled fast.
pub fn serial_dev(id: &str, driver: &str, port: &str) -> DeviceConfig {
    let mut d = DeviceConfig::new(id, "r1", DeviceKind::Projector, Sense::Serial);
    d.driver = driver.into();
    d.port = port.into();
    d.poll_ms = 100;
    d.reply_timeout_ms = 2000;
    d.inter_cmd_delay_ms = 10;
    d
}

/// A fresh store and the equipment log running `devices` on the system clock.
pub fn start(
    devices: Vec<DeviceConfig>,
) -> (
    tempfile::TempDir,
    Store,
    xingzhan::equipment::EquipmentHandle,
) {
    let (dir, store) = store();
    let h = xingzhan::equipment::spawn(
        &config(devices),
        store.clone(),
        Arc::new(xingzhan::clock::SystemClock::new()),
    )
    .unwrap();
    (dir, store, h)
}

/// A fresh store in a temp dir.
pub fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&dir.path().join("db.sqlite3")).unwrap();
    (dir, s)
}

pub fn far() -> (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) {
    (
        "2000-01-01T00:00:00Z".parse().unwrap(),
        "2100-01-01T00:00:00Z".parse().unwrap(),
    )
}

/// Every interval of a device, oldest first.
pub fn intervals(store: &Store, device: &str) -> Vec<IntervalRow> {
    let (a, b) = far();
    store.equip_intervals(Some(device), a, b).unwrap()
}

/// The state sequence of a device.
pub fn seq(store: &Store, device: &str) -> Vec<State> {
    intervals(store, device).iter().map(|i| i.state).collect()
}

pub fn show(store: &Store, device: &str) -> String {
    intervals(store, device)
        .iter()
        .map(|i| format!("{}({})", i.state.as_str(), i.detail))
        .collect::<Vec<_>>()
        .join(" → ")
}

/// Waits until the device's states contain `want` in order (not necessarily adjacent).
pub fn wait_seq(store: &Store, device: &str, want: &[State]) -> Vec<IntervalRow> {
    wait_for(
        &format!("{device} to go through {want:?}"),
        || {
            let rows = intervals(store, device);
            let mut it = rows.iter().map(|r| r.state);
            want.iter().all(|w| it.any(|s| s == *w)).then_some(rows)
        },
        || show(store, device),
    )
}

/// A fake PJLink server on 127.0.0.1:0 answering `POWR ?` and `LAMP ?`.
pub struct FakePjlink {
    pub port: u16,
    pub connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakePjlink {
    /// `password` None = no authentication.
    pub fn start(password: Option<&str>, power: &str) -> FakePjlink {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(AtomicUsize::new(0));
        let (stop2, c2) = (stop.clone(), connections.clone());
        let password = password.map(String::from);
        let power = Arc::new(Mutex::new(power.to_string()));
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                let Ok((mut s, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                c2.fetch_add(1, Ordering::SeqCst);
                s.set_nonblocking(false).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                let seed = "498e4a67";
                let _ = match &password {
                    Some(_) => s.write_all(format!("PJLINK 1 {seed}\r").as_bytes()),
                    None => s.write_all(b"PJLINK 0\r"),
                };
                let mut authed = password.is_none();
                let mut line = Vec::new();
                let mut byte = [0u8; 1];
                while let Ok(1) = s.read(&mut byte) {
                    if byte[0] != b'\r' {
                        line.push(byte[0]);
                        continue;
                    }
                    let text = String::from_utf8_lossy(&line).to_string();
                    line.clear();
                    let cmd = if authed {
                        text.clone()
                    } else {
                        let pw = password.as_deref().unwrap();
                        let want = format!("{:x}", md5::compute(format!("{seed}{pw}")));
                        if text.len() >= 32 && text[..32] == want {
                            authed = true;
                            text[32..].to_string()
                        } else {
                            let _ = s.write_all(b"PJLINK ERRA\r");
                            break;
                        }
                    };
                    let reply = match cmd.as_str() {
                        "%1POWR ?" => format!("%1POWR={}\r", power.lock().unwrap()),
                        "%1LAMP ?" => "%1LAMP=1234 1\r".to_string(),
                        _ => "%1ERR1\r".to_string(),
                    };
                    let _ = s.write_all(reply.as_bytes());
                }
            }
        });
        FakePjlink {
            port,
            connections,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for FakePjlink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The real HTTP server on 127.0.0.1:0 with its own runtime (or a client of
/// a server elsewhere, see [`Server::at`]).
pub struct Server {
    pub addr: std::net::SocketAddr,
    _rt: Option<tokio::runtime::Runtime>,
}

impl Server {
    pub fn start(state: xingzhan::web::AppState) -> Server {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        rt.spawn(async move {
            axum::serve(listener, xingzhan::web::app(state))
                .await
                .unwrap();
        });
        Server {
            addr,
            _rt: Some(rt),
        }
    }

    /// A client of a server already listening at `addr`.
    pub fn at(addr: std::net::SocketAddr) -> Server {
        Server { addr, _rt: None }
    }

    /// One HTTP/1.0 request (so the body ends at EOF, never chunked).
    pub fn req(&self, method: &str, path: &str, ctype: &str, body: &[u8]) -> Resp {
        let mut s = std::net::TcpStream::connect(self.addr).unwrap();
        let head = format!(
            "{method} {path} HTTP/1.0\r\nHost: x\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(body).unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("headers");
        let head = String::from_utf8_lossy(&raw[..split]).to_string();
        let mut lines = head.lines();
        let status: u16 = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        Resp {
            status,
            headers,
            body: raw[split + 4..].to_vec(),
        }
    }
    pub fn get(&self, path: &str) -> Resp {
        self.req("GET", path, "text/plain", b"")
    }
    pub fn post_json(&self, path: &str, v: serde_json::Value) -> Resp {
        self.req("POST", path, "application/json", v.to_string().as_bytes())
    }
}

/// An HTTP response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).to_string()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Percent-encodes a query value.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Adds a catalog item (and its reception) directly.
pub fn add_item(store: &Store, id: i64, title: &str, category: &str, received: &str) {
    store
        .write(|c| {
            c.execute(
                "INSERT INTO items (id, blake3, size, title, path, path_display, category, kind, state,
                 first_received, last_received, receptions)
                 VALUES (?1, ?2, 1, ?3, x'00', ?3, ?4, 'video', 'present', ?5, ?5, 1)",
                rusqlite::params![id, format!("b{id}"), title, category, received],
            )?;
            c.execute(
                "INSERT INTO receptions (item_id, received_at, clock_trusted, uptime_ms, path, path_display,
                 size, mtime_ns, blake3) VALUES (?1, ?2, 1, 0, x'00', ?3, 1, ?1, ?4)",
                rusqlite::params![id, received, title, format!("b{id}")],
            )?;
            Ok(())
        })
        .unwrap();
}
