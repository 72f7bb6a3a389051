//! The school resource library (校本资源库): keeping an item copies (or
//! hard-links) its file to `<library>/<category>/<subject>/<grade>/<name>`,
//! verifies the copy's hash, then marks the item kept. Kept items survive
//! anything that happens to the drop folder, and the disk guard never touches
//! the library.

use std::path::{Path, PathBuf};

use crate::catalog::hash;
use crate::clock::Stamper;
use crate::config::{Config, LibraryMode};
use crate::paths;
use crate::store::catalog::Item;
use crate::store::{Store, StoreError};

/// Errors keeping an item.
#[derive(Debug, thiserror::Error)]
pub enum KeepError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "item {id}: its file {path} is no longer in the drop folder and was never kept; it cannot be added to the library"
    )]
    SourceGone { id: i64, path: String },
    #[error("item {id}: cannot write {dest}: {source}")]
    Io {
        id: i64,
        dest: String,
        source: std::io::Error,
    },
    #[error(
        "item {id}: the copy at {dest} does not match the received content (hash differs); it was removed, try again"
    )]
    Mismatch { id: i64, dest: String },
}

/// A folder name that is safe on any filesystem.
fn folder(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| if c == '/' || c == '\0' { '_' } else { c })
        .collect();
    if s.is_empty() || s == "." || s == ".." {
        "_".into()
    } else {
        s
    }
}

/// Where an item goes in the library.
pub fn destination(config: &Config, item: &Item) -> PathBuf {
    let label = config.classify.category_label(&item.category).to_string();
    let src = paths::from_bytes(&item.path_bytes);
    let name = src
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| format!("item-{}", item.id).into());
    config
        .paths
        .library()
        .join(folder(&label))
        .join(folder(item.subject.as_deref().unwrap_or("未分学科")))
        .join(folder(item.grade.as_deref().unwrap_or("未分年级")))
        .join(name)
}

/// Keeps an item: puts its bytes into the library and marks it kept.
pub fn keep(store: &Store, config: &Config, stamper: &Stamper, id: i64) -> Result<Item, KeepError> {
    let item = store.item(id)?;
    if item.kept
        && let Some(lib) = &item.library_bytes
        && paths::from_bytes(lib).is_file()
    {
        return Ok(item);
    }
    let src = paths::from_bytes(&item.path_bytes);
    if !src.is_file() {
        return Err(KeepError::SourceGone {
            id,
            path: item.path.clone(),
        });
    }
    let mut dest = destination(config, &item);
    if dest.exists() {
        // Same name, other content: keep both, tell them apart by hash.
        match hash::hash_file(&dest) {
            Ok((h, _)) if h == item.blake3 => {
                store.set_kept(id, &paths::to_bytes(&dest), stamper.stamp().at)?;
                return Ok(store.item(id)?);
            }
            _ => {
                let mut name = dest.file_stem().unwrap_or_default().to_os_string();
                name.push(format!("-{}", &item.blake3[..8]));
                if let Some(ext) = dest.extension() {
                    name.push(".");
                    name.push(ext);
                }
                dest.set_file_name(name);
            }
        }
    }
    let io = |source| KeepError::Io {
        id,
        dest: paths::display(&dest),
        source,
    };
    std::fs::create_dir_all(dest.parent().unwrap_or(Path::new("."))).map_err(io)?;
    let tmp = dest.with_extension("xingzhan-tmp");
    let linked =
        config.library.mode == LibraryMode::Hardlink && std::fs::hard_link(&src, &dest).is_ok();
    if !linked {
        std::fs::copy(&src, &tmp).map_err(io)?;
        let f = std::fs::File::open(&tmp).map_err(io)?;
        f.sync_all().map_err(io)?;
        let (h, _) = hash::hash_file(&tmp).map_err(io)?;
        if h != item.blake3 {
            let _ = std::fs::remove_file(&tmp);
            return Err(KeepError::Mismatch {
                id,
                dest: paths::display(&dest),
            });
        }
        std::fs::rename(&tmp, &dest).map_err(io)?;
    } else {
        let (h, _) = hash::hash_file(&dest).map_err(io)?;
        if h != item.blake3 {
            let _ = std::fs::remove_file(&dest);
            return Err(KeepError::Mismatch {
                id,
                dest: paths::display(&dest),
            });
        }
    }
    store.set_kept(id, &paths::to_bytes(&dest), stamper.stamp().at)?;
    tracing::info!(item = id, dest = %paths::display(&dest), "kept in the school library");
    Ok(store.item(id)?)
}
