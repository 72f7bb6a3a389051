//! Burning a bin/cue image with cdrdao: checks that cdrdao is installed, that
//! the image is sound (our sector checker) and that cdrdao accepts the cue
//! (`show-toc`), finds a writer, then runs `cdrdao write` (blocking, its output
//! passed through so the operator sees progress).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::check;
use super::error::VcdError;

/// What to burn and how.
#[derive(Debug, Clone)]
pub struct BurnOptions {
    pub cue: PathBuf,
    pub device: Option<PathBuf>,
    pub speed: u32,
    pub cdrdao: PathBuf,
    /// Where to look for writers when no device is given (normally /dev).
    pub dev_dir: PathBuf,
}

/// CD writers (sr devices) present in `dev_dir`, sorted.
pub fn writers(dev_dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dev_dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| {
                    let n = e.file_name();
                    let n = n.to_string_lossy();
                    n.strip_prefix("sr")
                        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
                })
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Checks everything, then burns. Returns the device used.
pub fn burn(o: &BurnOptions) -> Result<PathBuf, VcdError> {
    // cdrdao resolves the cue's FILE line against its working directory.
    let dir = o
        .cue
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let cue_name = o.cue.file_name().unwrap_or(o.cue.as_os_str());
    let toc = Command::new(&o.cdrdao)
        .arg("show-toc")
        .arg(cue_name)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| VcdError::spawn(&o.cdrdao, "cdrdao", e))?;
    // libcdio and cdrdao pair NAME.cue with NAME.bin; so do we.
    let bin = o.cue.with_extension("bin");
    if !bin.is_file() {
        return Err(VcdError::Read {
            path: bin,
            error: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the image next to the cue sheet is missing",
            ),
        });
    }
    let report = check::check_image(&bin)?;
    if !report.ok() {
        return Err(VcdError::Damaged {
            path: bin,
            faults: report.fault_count,
        });
    }
    if !toc.status.success() {
        return Err(VcdError::Burn {
            cue: o.cue.clone(),
            message: last_error(&toc.stderr),
        });
    }
    let device = match &o.device {
        Some(d) if d.exists() => d.clone(),
        Some(d) => {
            return Err(VcdError::NoWriter {
                detail: format!("{} does not exist", d.display()),
            });
        }
        None => writers(&o.dev_dir)
            .into_iter()
            .next()
            .ok_or_else(|| VcdError::NoWriter {
                detail: format!("no CD writer (sr device) in {}", o.dev_dir.display()),
            })?,
    };
    let status = Command::new(&o.cdrdao)
        .arg("write")
        .arg("--device")
        .arg(&device)
        .args(["--speed", &o.speed.to_string(), "--eject"])
        .arg(cue_name)
        .current_dir(dir)
        .stdin(Stdio::null())
        .status()
        .map_err(|e| VcdError::spawn(&o.cdrdao, "cdrdao", e))?;
    if !status.success() {
        return Err(VcdError::Burn {
            cue: o.cue.clone(),
            message: format!(
                "cdrdao write on {} failed ({status}); see its messages above",
                device.display()
            ),
        });
    }
    Ok(device)
}

fn last_error(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let errors: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("ERROR") || l.starts_with("WARNING"))
        .collect();
    if errors.is_empty() {
        text.lines().last().unwrap_or("unknown error").to_string()
    } else {
        errors.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writers_are_sr_devices() {
        let d = tempfile::tempdir().unwrap();
        for n in ["sr1", "sr0", "sda", "srx", "sr"] {
            std::fs::write(d.path().join(n), b"").unwrap();
        }
        assert_eq!(
            writers(d.path()),
            [d.path().join("sr0"), d.path().join("sr1")]
        );
    }
}
