//! The disk guard: a full disk stops reception, so free space on the drop
//! folder's filesystem is checked periodically. Below the warning threshold it
//! warns; below the critical threshold (and with auto-purge on) it deletes
//! drop-folder files that are not the only copy of something kept, in the
//! order the store gives (broken, already in the library, never used, oldest),
//! until the target is free. Every purge is recorded. The library is never
//! touched. How much is free is a parameter, so tests simulate a full disk.

use std::path::Path;

use serde::Serialize;

use crate::clock::Stamper;
use crate::config::DiskConfig;
use crate::paths;
use crate::store::Store;
use crate::store::register::PurgeCandidate;

const MIB: u64 = 1024 * 1024;

/// How the disk looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warn,
    Critical,
}

/// Classifies free space against the thresholds.
pub fn level(cfg: &DiskConfig, free: u64) -> Level {
    if free < cfg.critical_free_mib * MIB {
        Level::Critical
    } else if free < cfg.warn_free_mib * MIB {
        Level::Warn
    } else {
        Level::Ok
    }
}

/// Picks candidates, in order, until `target - free` bytes would be freed.
pub fn plan(candidates: &[PurgeCandidate], free: u64, target: u64) -> Vec<PurgeCandidate> {
    let mut need = target.saturating_sub(free);
    let mut out = Vec::new();
    for c in candidates {
        if need == 0 {
            break;
        }
        need = need.saturating_sub(c.size);
        out.push(c.clone());
    }
    out
}

/// What a check did (or, in a dry run, would do).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub free_bytes: u64,
    pub level: Level,
    pub dry_run: bool,
    pub target_bytes: u64,
    pub planned: Vec<PurgeCandidate>,
    pub purged: u64,
    pub freed_bytes: u64,
    pub failed: Vec<String>,
}

/// Free bytes on the filesystem holding `path`.
pub fn free_space(path: &Path) -> std::io::Result<u64> {
    fs4::available_space(path)
}

/// One check. `force` purges even above the critical level (a manual purge to
/// the target); `dry_run` only plans.
pub fn check(
    store: &Store,
    cfg: &DiskConfig,
    stamper: &Stamper,
    free: u64,
    dry_run: bool,
    force: bool,
) -> crate::store::Result<Report> {
    let lvl = level(cfg, free);
    let target = cfg.target_free_mib * MIB;
    let mut report = Report {
        free_bytes: free,
        level: lvl,
        dry_run,
        target_bytes: target,
        planned: vec![],
        purged: 0,
        freed_bytes: 0,
        failed: vec![],
    };
    match lvl {
        Level::Warn => tracing::warn!(free_mib = free / MIB, "disk space is low"),
        Level::Critical => {
            tracing::error!(
                free_mib = free / MIB,
                "disk space is critical; reception may stop"
            )
        }
        Level::Ok => {}
    }
    let act = force || dry_run || (lvl == Level::Critical && cfg.auto_purge);
    if !act {
        return Ok(report);
    }
    report.planned = plan(&store.purge_candidates()?, free, target);
    if dry_run {
        return Ok(report);
    }
    for c in &report.planned {
        let p = paths::from_bytes(&c.path);
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::error!(path = %c.path_display, error = %e, "cannot purge file");
                report.failed.push(format!("{}: {e}", c.path_display));
                continue;
            }
        }
        let stamp = stamper.stamp();
        let reason = if c.state == "broken" {
            "broken file"
        } else if c.kept {
            "copy kept in library"
        } else if c.uses == 0 {
            "never used, oldest first"
        } else {
            "oldest first"
        };
        store.record_purge(c, reason, free, stamp.at, stamp.trusted)?;
        tracing::warn!(path = %c.path_display, size = c.size, reason, "purged from the drop folder");
        report.purged += 1;
        report.freed_bytes += c.size;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(name: &str, size: u64) -> PurgeCandidate {
        PurgeCandidate {
            path: name.as_bytes().to_vec(),
            path_display: name.into(),
            size,
            state: "complete".into(),
            item_id: None,
            kept: false,
            uses: 0,
            last_received: None,
        }
    }

    #[test]
    fn plan_takes_in_order_until_enough() {
        let c = vec![cand("a", 5 * MIB), cand("b", 5 * MIB), cand("c", 5 * MIB)];
        let p = plan(&c, 10 * MIB, 18 * MIB);
        assert_eq!(p.len(), 2);
        assert!(plan(&c, 20 * MIB, 18 * MIB).is_empty());
    }

    #[test]
    fn levels() {
        let cfg = DiskConfig::default();
        assert_eq!(level(&cfg, 10_000 * MIB), Level::Ok);
        assert_eq!(level(&cfg, 2_000 * MIB), Level::Warn);
        assert_eq!(level(&cfg, 100 * MIB), Level::Critical);
    }
}
