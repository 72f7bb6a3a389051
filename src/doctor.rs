//! `xingzhan doctor`: checks the station and explains each finding with what to
//! do: configuration, folders and permissions, free disk, ffmpeg and ffprobe,
//! SQLite integrity, and whether the clock looks trusted.

use std::path::Path;

use crate::config::Config;
use crate::{diskguard, store::Store};

/// One finding.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Finding {
    pub ok: bool,
    pub check: String,
    pub detail: String,
}

fn finding(ok: bool, check: &str, detail: impl Into<String>) -> Finding {
    Finding {
        ok,
        check: check.into(),
        detail: detail.into(),
    }
}

fn writable(dir: &Path) -> Result<(), String> {
    if !dir.is_dir() {
        return Err(format!("{} does not exist", dir.display()));
    }
    let probe = dir.join(".xingzhan-doctor");
    std::fs::write(&probe, b"x").map_err(|e| format!("{} is not writable: {e}", dir.display()))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

fn tool_version(program: &str) -> Result<String, String> {
    crate::catalog::probe::version(program).map_err(|e| e.to_string())
}

/// Runs every check. `config_note` says where the configuration came from.
pub fn run(config: &Config, config_note: &str) -> Vec<Finding> {
    let mut out = vec![finding(true, "config", config_note)];
    let inbox = config.paths.inbox();
    for (name, dir) in [
        ("data folder", config.paths.data.clone()),
        ("drop folder", inbox.clone()),
    ] {
        out.push(match writable(&dir) {
            Ok(()) => finding(true, name, format!("{} is writable", dir.display())),
            Err(e) => finding(
                false,
                name,
                format!("{e}; create it and give the xingzhan user write access"),
            ),
        });
    }
    match diskguard::free_space(if inbox.is_dir() {
        &inbox
    } else {
        &config.paths.data
    }) {
        Ok(free) => {
            let lvl = diskguard::level(&config.disk, free);
            out.push(finding(
                lvl == diskguard::Level::Ok,
                "free disk",
                format!(
                    "{} MiB free ({lvl:?}); warn below {} MiB, purge below {} MiB",
                    free / (1024 * 1024),
                    config.disk.warn_free_mib,
                    config.disk.critical_free_mib
                ),
            ))
        }
        Err(e) => out.push(finding(false, "free disk", format!("cannot read: {e}"))),
    }
    let ffmpeg = if config.probe.ffprobe.ends_with("ffprobe") {
        config.probe.ffprobe.trim_end_matches("ffprobe").to_string() + "ffmpeg"
    } else {
        "ffmpeg".to_string()
    };
    for (name, program) in [
        ("ffprobe", config.probe.ffprobe.clone()),
        ("ffmpeg", ffmpeg),
    ] {
        out.push(match tool_version(&program) {
            Ok(v) => finding(true, name, v),
            Err(e) => finding(
                false,
                name,
                format!("{e}. Media facts and VCD making need it: apt-get install ffmpeg"),
            ),
        });
    }
    let db = config.paths.database();
    if db.exists() {
        match Store::open(&db).and_then(|s| Ok((s.integrity_check()?, s.schema_version()?))) {
            Ok((r, v)) if r == "ok" => out.push(finding(
                true,
                "database",
                format!("{} integrity ok, schema version {v}", db.display()),
            )),
            Ok((r, _)) => out.push(finding(
                false,
                "database",
                format!("{}: {r}; restore it from a backup", db.display()),
            )),
            Err(e) => out.push(finding(false, "database", e.to_string())),
        }
    } else {
        out.push(finding(
            true,
            "database",
            format!("{} will be created at first start", db.display()),
        ));
    }
    let now = chrono::Utc::now();
    match config.station.floor() {
        Ok(floor) if now < floor => out.push(finding(
            false,
            "clock",
            format!("the PC clock says {now}, before {floor}; set the date and time (the CMOS battery may be dead)"),
        )),
        Ok(_) => out.push(finding(true, "clock", format!("the PC clock says {now}, which looks plausible"))),
        Err(e) => out.push(finding(false, "clock", e.to_string())),
    }
    out
}
