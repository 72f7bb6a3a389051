//! One process per data directory: `serve` and `scan` take an exclusive lock on
//! `<data>/xingzhan.lock` and refuse to start while another holds it.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Errors taking the data-directory lock.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot create lock file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "data directory {data} is in use by another xingzhan process ({holder}); stop it first (`systemctl stop xingzhan`) or use another --data"
    )]
    Busy { data: PathBuf, holder: String },
}

/// Held for the life of the process; dropping it releases the lock.
#[derive(Debug)]
pub struct DataLock {
    _file: File,
}

/// Takes the lock, writing our pid and role into the file.
pub fn acquire(data: &Path, role: &str) -> Result<DataLock, LockError> {
    let path = data.join("xingzhan.lock");
    let io = |source| LockError::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(data).map_err(io)?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            return Err(LockError::Busy {
                data: data.to_path_buf(),
                holder: holder.trim().to_string(),
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
    }
    file.set_len(0).map_err(io)?;
    writeln!(file, "{role}, pid {}", std::process::id()).map_err(io)?;
    Ok(DataLock { _file: file })
}
