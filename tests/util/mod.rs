//! Test helpers: a station (the real `xingzhan` binary serving a temp data dir
//! on a free port), an HTTP client, and waiting for conditions. Waits have
//! generous deadlines and never assert durations.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_xingzhan");

/// Polls `f` for up to 60 s; true when it came to hold.
fn poll(mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// Waits until `f` holds, polling; panics with `what` after 60 s.
pub fn wait_for(what: &str, f: impl FnMut() -> bool) {
    assert!(poll(f), "timed out waiting for: {what}");
}

/// Runs the binary with a config file and arguments, to completion.
pub fn with_config(config: impl AsRef<Path>, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .arg("--config")
        .arg(config.as_ref())
        .args(args)
        .output()
        .expect("run xingzhan")
}

/// Fails loudly when a system tool the tests need is missing.
pub fn require_tool(tool: &str, package: &str) {
    let ok = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "`{tool}` is missing: install the Debian package `{package}` (scripts/test installs it)"
    );
}

pub struct Http {
    agent: ureq::Agent,
    pub base: String,
}

impl Http {
    pub fn new(base: String) -> Http {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        Http { agent, base }
    }
    pub fn get(&self, path: &str) -> (u16, String) {
        let mut r = self
            .agent
            .get(&format!("{}{}", self.base, path))
            .call()
            .unwrap_or_else(|e| panic!("GET {path}: {e:?}"));
        let status = r.status().as_u16();
        (
            status,
            r.body_mut()
                .with_config()
                .limit(1 << 30)
                .read_to_string()
                .unwrap_or_default(),
        )
    }
    pub fn get_bytes(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (u16, Vec<(String, String)>, Vec<u8>) {
        let mut req = self.agent.get(&format!("{}{}", self.base, path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut r = req.call().expect("http get");
        let hs = r
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        (
            r.status().as_u16(),
            hs,
            r.body_mut()
                .with_config()
                .limit(1 << 30)
                .read_to_vec()
                .unwrap(),
        )
    }
    pub fn json(&self, path: &str) -> Value {
        let (s, b) = self.get(path);
        assert_eq!(s, 200, "GET {path}: {b}");
        serde_json::from_str(&b).unwrap_or_else(|e| panic!("GET {path}: {e}: {b}"))
    }
    pub fn delete(&self, path: &str) -> (u16, String) {
        let mut r = self
            .agent
            .delete(&format!("{}{}", self.base, path))
            .call()
            .expect("http delete");
        (
            r.status().as_u16(),
            r.body_mut().read_to_string().unwrap_or_default(),
        )
    }
    /// Like `send`, but a transport error is returned, not a panic.
    pub fn try_send(
        &self,
        method: &str,
        path: &str,
        body: &str,
        ctype: &str,
    ) -> Result<(u16, String), String> {
        let url = format!("{}{}", self.base, path);
        let r = match method {
            "POST" => self
                .agent
                .post(&url)
                .header("content-type", ctype)
                .send(body),
            "PATCH" => self
                .agent
                .patch(&url)
                .header("content-type", ctype)
                .send(body),
            m => panic!("method {m}"),
        };
        match r {
            Ok(mut r) => Ok((
                r.status().as_u16(),
                r.body_mut().read_to_string().unwrap_or_default(),
            )),
            Err(e) => Err(format!("{e:?}")),
        }
    }
    pub fn send(&self, method: &str, path: &str, body: &str, ctype: &str) -> (u16, String) {
        self.try_send(method, path, body, ctype)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }
}

/// A running station over a temp directory.
pub struct Station {
    pub dir: tempfile::TempDir,
    pub child: Option<Child>,
    pub http: Http,
    pub extra: String,
    pub log: PathBuf,
}

impl Station {
    /// Starts `xingzhan serve` with settle 2 s and `extra` TOML appended.
    pub fn start(extra: &str) -> Station {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data/inbox")).unwrap();
        let mut s = Station {
            log: dir.path().join("serve.log"),
            dir,
            child: None,
            http: Http::new(String::new()),
            extra: extra.to_string(),
        };
        s.launch();
        s
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("xingzhan.toml")
    }

    pub fn write_config(&self) {
        let text = format!(
            "[paths]\ndata = \"{}\"\n[web]\nlisten = \"127.0.0.1:0\"\n{}\n",
            self.dir.path().join("data").display(),
            self.extra
        );
        std::fs::write(self.config_path(), text).unwrap();
    }

    /// Builds a command for the binary with this station's config.
    pub fn command(&self, args: &[&str]) -> Command {
        self.write_config();
        let mut c = Command::new(BIN);
        c.arg("--config").arg(self.config_path()).args(args);
        c.env("XINGZHAN_LOG", "info");
        c
    }

    pub fn launch(&mut self) {
        let mut cmd = self.command(&["serve", "--settle-secs", &self.settle().to_string()]);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start xingzhan serve");
        let stdout = child.stdout.take().unwrap();
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .strip_prefix("xingzhan: listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}; log: {}", self.log_text()))
            .trim_end_matches('/')
            .to_string();
        std::thread::spawn(move || {
            let mut sink = String::new();
            while reader.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
                sink.clear();
            }
        });
        self.http = Http::new(addr);
        self.child = Some(child);
    }

    fn settle(&self) -> u64 {
        2
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn inbox(&self) -> PathBuf {
        self.data().join("inbox")
    }

    pub fn library(&self) -> PathBuf {
        self.data().join("library")
    }

    /// Writes a file into the drop folder at once (complete).
    pub fn drop_file(&self, rel: impl AsRef<Path>, bytes: &[u8]) -> PathBuf {
        let p = self.inbox().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        p
    }

    pub fn items(&self, query: &str) -> Vec<Value> {
        self.http.json(&format!("/api/v1/items?limit=500&{query}"))["items"]
            .as_array()
            .unwrap()
            .clone()
    }

    pub fn item_count(&self) -> usize {
        self.health()["counts"]["items"].as_u64().unwrap() as usize
    }

    pub fn health(&self) -> Value {
        self.http.json("/api/v1/health")
    }

    pub fn files(&self, state: &str) -> Vec<Value> {
        self.http.json(&format!("/api/v1/inbox?state={state}"))["files"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// Waits until an item with this title exists and returns it.
    pub fn wait_item(&self, title: &str) -> Value {
        let mut found = None;
        let ok = poll(|| {
            found = self
                .items("")
                .into_iter()
                .find(|i| i["title"].as_str() == Some(title));
            found.is_some()
        });
        assert!(
            ok,
            "timed out waiting for item {title:?}; daemon log:\n{}",
            self.log_text()
        );
        found.unwrap()
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait: the orderly shutdown.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        unsafe_kill(c.id(), "TERM");
        c.wait().unwrap()
    }
}

pub fn unsafe_kill(pid: u32, sig: &str) {
    Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
}

impl Drop for Station {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Makes a small video with ffmpeg (test pattern and a tone), mpeg4 + aac.
pub fn make_video(out: &Path, secs: u32, size: &str) {
    require_tool("ffmpeg", "ffmpeg");
    let ok = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
        ])
        .arg(format!("testsrc=size={size}:rate=25"))
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args(["-t", &secs.to_string(), "-c:v", "mpeg4", "-c:a", "aac"])
        .arg(out)
        .status()
        .unwrap()
        .success();
    assert!(ok, "ffmpeg could not make the test video");
}
