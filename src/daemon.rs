//! `xingzhan serve` and `xingzhan scan`: wiring the parts together.
//!
//! Serve takes the data-dir lock, opens the store, starts the inbox loop and the
//! media prober on named threads, the disk guard as a task, and the web server;
//! on SIGINT/SIGTERM it stops accepting, lets the inbox loop finish its current
//! file, and exits; a second signal exits at once.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tracing::Instrument;

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::inbox::{self, Inbox, Msg};
use crate::store::Store;
use crate::web::{self, AppState};
use crate::{diskguard, lock};

fn open(config: &Config, role: &str) -> anyhow::Result<(lock::DataLock, AppState)> {
    let data_lock = lock::acquire(&config.paths.data, role)?;
    let inbox_dir = config.paths.inbox();
    if !inbox_dir.exists() {
        std::fs::create_dir_all(&inbox_dir).with_context(|| {
            format!(
                "cannot create the drop folder {}; create it or set paths.inbox",
                inbox_dir.display()
            )
        })?;
    }
    let store = Store::open(&config.paths.database())?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let state = AppState::new(store, Arc::new(config.clone()), clock);
    Ok((data_lock, state))
}

/// Tells systemd (Type=notify) something, if it is listening.
fn sd_notify(msg: &str) {
    if let Some(path) = std::env::var_os("NOTIFY_SOCKET") {
        let sock = match std::os::unix::net::UnixDatagram::unbound() {
            Ok(s) => s,
            Err(_) => return,
        };
        let _ = sock.send_to(msg.as_bytes(), path);
    }
}

/// One reconcile pass of the drop folder into the catalog.
pub fn scan(config: &Config) -> anyhow::Result<inbox::Summary> {
    let (_lock, state) = open(config, "scan")?;
    let mut inbox = Inbox::new(config, state.store.clone(), state.stamper.clone())?;
    if !inbox.full_scan() {
        anyhow::bail!(
            "the drop folder {} is missing; plug in the disk or fix paths.inbox",
            inbox.root().display()
        );
    }
    inbox.process_due();
    inbox.finish_summary();
    Ok(inbox.summary.clone())
}

/// Runs the daemon until a signal.
pub fn serve(config: &Config) -> anyhow::Result<()> {
    let (_lock, state) = open(config, "serve")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("xingzhan-rt")
        .build()?;
    rt.block_on(serve_async(config.clone(), state))
}

async fn serve_async(config: Config, state: AppState) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.web.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}; is another program using it? choose another with --listen",
                config.web.listen
            )
        })?;
    let addr = listener.local_addr()?;

    // The media prober.
    let (probe_tx, probe_rx) = std::sync::mpsc::channel::<i64>();
    let prober = {
        let store = state.store.clone();
        let program = config.probe.ffprobe.clone();
        let timeout = Duration::from_secs(config.probe.timeout_secs);
        std::thread::Builder::new()
            .name("probe".into())
            .spawn(move || inbox::run_prober(store, program, timeout, probe_rx))?
    };
    let _ = probe_tx.send(0); // work through any backlog from before a restart

    // The inbox loop.
    let (tx, rx) = std::sync::mpsc::channel::<Msg>();
    let mut engine = Inbox::new(&config, state.store.clone(), state.stamper.clone())?;
    engine.set_probe_channel(probe_tx.clone());
    let inbox_thread = {
        let tx = tx.clone();
        let reconcile = Duration::from_secs(config.inbox.reconcile_secs);
        let events = config.inbox.watch;
        std::thread::Builder::new()
            .name("inbox".into())
            .spawn(move || inbox::run_loop(engine, tx, rx, reconcile, events))?
    };

    // The VCD job worker.
    let jobs_thread = crate::outreach::spawn(
        state.store.clone(),
        state.config.clone(),
        state.stamper.clone(),
        state.jobs.clone(),
    )?;

    // The equipment log: serial/PJLink pollers and their recorder.
    let equipment =
        crate::equipment::spawn(&config.equipment, state.store.clone(), state.clock.clone())
            .context(
                "cannot start the equipment log (see the [equipment] section of the config)",
            )?;

    // The disk guard.
    let guard = {
        let st = state.clone();
        tokio::spawn(
            async move {
                let mut tick =
                    tokio::time::interval(Duration::from_secs(st.config.disk.check_secs));
                loop {
                    tick.tick().await;
                    let st2 = st.clone();
                    let r = tokio::task::spawn_blocking(move || {
                        let free = diskguard::free_space(&st2.config.paths.inbox())?;
                        diskguard::check(
                            &st2.store,
                            &st2.config.disk,
                            &st2.stamper,
                            free,
                            false,
                            false,
                        )
                        .map_err(std::io::Error::other)
                    })
                    .await;
                    match r {
                        Ok(Ok(rep)) if rep.purged > 0 => {
                            tracing::warn!(
                                purged = rep.purged,
                                freed = rep.freed_bytes,
                                "disk guard purged files"
                            )
                        }
                        Ok(Err(e)) => tracing::warn!(error = %e, "disk guard check failed"),
                        Err(e) => tracing::error!(error = %e, "disk guard task failed"),
                        _ => {}
                    }
                }
            }
            .instrument(tracing::info_span!("diskguard")),
        )
    };

    tracing::info!(%addr, inbox = %config.paths.inbox().display(), data = %config.paths.data.display(),
        "xingzhan serving; open http://{addr}/");
    println!("xingzhan: listening on http://{addr}/");
    sd_notify("READY=1");
    let jobs = state.jobs.clone();
    axum::serve(listener, web::app(state))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    sd_notify("STOPPING=1");
    tracing::info!("stopping: finishing the inbox loop");
    guard.abort();
    let _ = tx.send(Msg::Shutdown);
    drop(probe_tx);
    jobs.shutdown();
    let _ = tokio::task::spawn_blocking(move || {
        let _ = inbox_thread.join();
        let _ = prober.join();
        let _ = jobs_thread.join();
        equipment.shutdown();
    })
    .await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("signal handler");
    let mut int = signal(SignalKind::interrupt()).expect("signal handler");
    tokio::select! {
        _ = term.recv() => {},
        _ = int.recv() => {},
    }
    tracing::info!("signal received; shutting down (send it again to exit at once)");
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        eprintln!("xingzhan: second signal, exiting now");
        std::process::exit(130);
    });
}

/// A manual purge down to the target (or its dry run).
pub fn purge(config: &Config, dry_run: bool) -> anyhow::Result<diskguard::Report> {
    let (_lock, state) = open(config, "purge")?;
    let free = diskguard::free_space(&config.paths.inbox())?;
    Ok(diskguard::check(
        &state.store,
        &config.disk,
        &state.stamper,
        free,
        dry_run,
        true,
    )?)
}
