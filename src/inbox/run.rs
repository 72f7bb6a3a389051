//! The inbox's threads: the file-system watcher feeding the inbox loop, the
//! loop itself (events, start-up scan, periodic reconcile, re-watching a drop
//! folder that comes back), and the media-probe worker. The decisions they act
//! on live in the [`Inbox`] engine and in [`super::settle`].

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use super::Inbox;
use crate::paths;
use crate::store::Store;

/// Messages into the inbox loop.
#[derive(Debug)]
pub enum Msg {
    /// Paths an event touched.
    Paths(Vec<PathBuf>),
    /// The watcher lost events or failed: scan everything.
    Rescan(String),
    /// Stop the loop.
    Shutdown,
}

/// Starts a watcher on the drop folder, feeding `tx`.
pub fn watch(root: &Path, tx: Sender<Msg>) -> notify::Result<notify::RecommendedWatcher> {
    use notify::{EventKind, RecursiveMode, Watcher, event::AccessKind};
    let mut w = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let msg = match res {
            Ok(ev) if ev.need_rescan() => Msg::Rescan("watcher overflow".into()),
            Ok(ev) => match ev.kind {
                EventKind::Access(AccessKind::Close(_)) => Msg::Paths(ev.paths),
                EventKind::Access(_) => return,
                _ => Msg::Paths(ev.paths),
            },
            Err(e) => Msg::Rescan(format!("watcher error: {e}")),
        };
        let _ = tx.send(msg);
    })?;
    w.watch(root, RecursiveMode::Recursive)?;
    Ok(w)
}

fn root_identity(root: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(root)
        .ok()
        .filter(|m| m.is_dir())
        .map(|m| (m.dev(), m.ino()))
}

/// The daemon loop: events, start-up scan, periodic reconcile, re-watch when
/// the drop folder comes back. Runs until [`Msg::Shutdown`].
pub fn run_loop(
    mut inbox: Inbox,
    tx: Sender<Msg>,
    rx: Receiver<Msg>,
    reconcile: Duration,
    use_events: bool,
) {
    let mut watcher: Option<notify::RecommendedWatcher> = None;
    let mut watched: Option<(u64, u64)> = None;
    let mut need_scan = true;
    let mut next_reconcile = inbox.now();
    loop {
        // (Re)establish the watch when the folder is (back) there or was replaced.
        let ident = root_identity(inbox.root());
        let now = inbox.now();
        // A failed watch (e.g. the inotify watch limit) is retried at reconcile time.
        let retry_watch =
            use_events && watcher.is_none() && ident.is_some() && now >= next_reconcile;
        if ident != watched || retry_watch {
            watcher = None;
            watched = ident;
            if ident.is_some() && use_events {
                match watch(inbox.root(), tx.clone()) {
                    Ok(w) => {
                        tracing::info!(inbox = %inbox.root().display(), "watching the drop folder");
                        watcher = Some(w);
                    }
                    Err(e) => {
                        tracing::warn!(inbox = %inbox.root().display(), error = %e,
                            "cannot watch the drop folder; relying on periodic scans \
                             (raise fs.inotify.max_user_watches if the folder is very large)")
                    }
                }
            }
            if ident.is_some() {
                need_scan = true;
            }
        }
        if need_scan || now >= next_reconcile {
            // A missing folder is noticed by the identity check above when it returns.
            inbox.full_scan();
            need_scan = false;
            next_reconcile = now + reconcile;
        }
        inbox.process_due();

        let now = inbox.now();
        let mut wake = next_reconcile;
        if let Some(d) = inbox.next_deadline() {
            wake = wake.min(d);
        }
        if watched.is_none() {
            // Look for the drop folder coming back every few seconds.
            wake = wake.min(now + Duration::from_secs(5));
        }
        let timeout = wake.saturating_sub(now).max(Duration::from_millis(50));
        match rx.recv_timeout(timeout) {
            Ok(Msg::Shutdown) | Err(RecvTimeoutError::Disconnected) => break,
            Ok(first) => {
                let mut stop = false;
                for msg in std::iter::once(first).chain(rx.try_iter()) {
                    match msg {
                        Msg::Paths(ps) => {
                            for p in ps {
                                inbox.observe_path(&p);
                            }
                        }
                        Msg::Rescan(why) => {
                            tracing::warn!(%why, "rescanning the drop folder");
                            need_scan = true;
                        }
                        Msg::Shutdown => stop = true,
                    }
                }
                if stop {
                    break;
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
    }
    drop(watcher);
    tracing::info!("inbox loop stopped");
}

/// The media-probe worker: probes items without facts, one at a time.
pub fn run_prober(store: Store, program: String, timeout: Duration, rx: Receiver<i64>) {
    let mut warned_missing = false;
    loop {
        // Work through the backlog, then wait for news.
        loop {
            let batch = match store.items_to_probe(50) {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(error = %e, "cannot list items to probe");
                    break;
                }
            };
            if batch.is_empty() {
                break;
            }
            let mut missing = false;
            for (id, path, kind) in batch {
                if kind != "video" && kind != "audio" {
                    let _ = store.set_media(id, None, None);
                    continue;
                }
                let p = paths::from_bytes(&path);
                match crate::catalog::probe::probe(&program, &p, timeout) {
                    Ok(facts) => {
                        let _ = store.set_media(id, Some(&facts), None);
                    }
                    Err(e @ crate::catalog::probe::ProbeError::Missing { .. }) => {
                        if !warned_missing {
                            tracing::warn!(error = %e, "media facts are not collected");
                            warned_missing = true;
                        }
                        missing = true;
                        break;
                    }
                    Err(e) => {
                        tracing::info!(path = %paths::display(&p), error = %e, "media probe failed; cataloged without media facts");
                        let _ = store.set_media(id, None, Some(&e.to_string()));
                    }
                }
            }
            if missing {
                break;
            }
        }
        match rx.recv() {
            Ok(_) => while rx.try_recv().is_ok() {},
            Err(_) => break,
        }
    }
}
