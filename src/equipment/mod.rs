//! Classroom equipment usage (issue 3): which device was on when, sensed over
//! RS-232 (a table of drivers as data), PJLink, the DVB frontend or the host
//! itself; the bell schedule and school calendar; the lesson log (资源应用);
//! and the indicators the plan holds schools to (utilization, reception and
//! application rates, 完好率).
//!
//! Shape: each sensed device has one named thread (`equip-<id>`) that polls one
//! command at a time and sends [`Event`]s over a channel to one recorder thread
//! (`equip-recorder`), which owns the writes: a state is stored as an interval
//! that is committed when it opens and again when it closes, with `last_seen`
//! kept current, so a kill -9 loses nothing but the time since the last touch
//! (the open interval is closed at `last_seen` on the next start). The maths
//! (`utilization`, `rates`, `timetable`) is pure and tested without I/O.

pub mod config;
pub mod drivers;
pub mod dvb;
pub mod export;
pub mod lessons;
pub mod pjlink;
pub mod rates;
pub mod recorder;
pub mod report;
pub mod serial;
pub mod timetable;
pub mod utilization;

use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::store::Store;

pub use config::{DeviceConfig, DeviceKind, EquipmentConfig, OnTimeout, Sense};

/// A device's normalised state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    On,
    Warming,
    Cooling,
    Standby,
    Error,
    Unknown,
}

impl State {
    pub const ALL: [State; 6] = [
        State::On,
        State::Warming,
        State::Cooling,
        State::Standby,
        State::Error,
        State::Unknown,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            State::On => "on",
            State::Warming => "warming",
            State::Cooling => "cooling",
            State::Standby => "standby",
            State::Error => "error",
            State::Unknown => "unknown",
        }
    }
    /// Parses a state name; "off" means standby.
    pub fn parse(s: &str) -> Option<State> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "on" => State::On,
            "warming" => State::Warming,
            "cooling" => State::Cooling,
            "standby" | "off" => State::Standby,
            "error" => State::Error,
            "unknown" => State::Unknown,
            _ => return None,
        })
    }
    /// Label shown on the page.
    pub fn label(self) -> &'static str {
        match self {
            State::On => "开机",
            State::Warming => "预热",
            State::Cooling => "冷却",
            State::Standby => "待机/关机",
            State::Error => "故障",
            State::Unknown => "未知",
        }
    }
}

/// What a poller tells the recorder.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A reading of the device's state (or the reason it is unknown).
    State {
        device: String,
        state: State,
        detail: String,
    },
    /// A state known to have held since an earlier time (the host PC since
    /// boot); the interval starts there, but never before what is recorded.
    Since {
        device: String,
        state: State,
        detail: String,
        since: chrono::DateTime<chrono::Utc>,
    },
    /// A lamp-hours reading.
    Lamp { device: String, hours: u64 },
}

/// A stop signal that sleeping threads wake up for.
#[derive(Default)]
pub struct Stop {
    flag: Mutex<bool>,
    cv: Condvar,
}

impl Stop {
    pub fn new() -> Arc<Stop> {
        Arc::new(Stop::default())
    }
    pub fn set(&self) {
        *self.flag.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.cv.notify_all();
    }
    pub fn is_set(&self) -> bool {
        *self.flag.lock().unwrap_or_else(|p| p.into_inner())
    }
    /// Sleeps up to `d`; returns true if stopped.
    pub fn wait(&self, d: Duration) -> bool {
        let g = self.flag.lock().unwrap_or_else(|p| p.into_inner());
        let (g, _) = self
            .cv
            .wait_timeout_while(g, d, |stopped| !*stopped)
            .unwrap_or_else(|p| p.into_inner());
        *g
    }
}

/// The latest reading of each device, for the page.
pub type Live = Arc<Mutex<HashMap<String, (State, String)>>>;

/// The running equipment log: pollers and the recorder.
pub struct EquipmentHandle {
    stop: Arc<Stop>,
    pollers: Vec<JoinHandle<()>>,
    recorder: Option<JoinHandle<()>>,
    live: Live,
}

impl EquipmentHandle {
    /// The latest reading of each device.
    pub fn live(&self) -> Live {
        self.live.clone()
    }
    /// Stops the pollers, lets the recorder write what they sent, closes the
    /// open intervals at the current time, and waits for all threads.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }
    fn stop_and_join(&mut self) {
        self.stop.set();
        for h in self.pollers.drain(..) {
            let name = h.thread().name().unwrap_or("?").to_string();
            if h.join().is_err() {
                tracing::error!(thread = %name, "equipment poller panicked");
            }
        }
        if let Some(r) = self.recorder.take()
            && r.join().is_err()
        {
            tracing::error!("equipment recorder panicked");
        }
        tracing::info!("equipment log stopped");
    }
}

impl Drop for EquipmentHandle {
    fn drop(&mut self) {
        if self.recorder.is_some() {
            self.stop_and_join();
        }
    }
}

/// Checks the configuration: known rooms, unique ids, drivers that build,
/// periods that parse. Errors name the device or period.
pub fn check(config: &EquipmentConfig) -> anyhow::Result<()> {
    let rooms: Vec<&str> = config.rooms.iter().map(|r| r.id.as_str()).collect();
    let mut ids = std::collections::HashSet::new();
    for d in &config.devices {
        anyhow::ensure!(
            ids.insert(d.id.as_str()),
            "equipment.devices: id {:?} is used twice",
            d.id
        );
        anyhow::ensure!(
            rooms.contains(&d.room.as_str()),
            "equipment device {}: room {:?} is not one of equipment.rooms ({})",
            d.id,
            d.room,
            rooms.join(", ")
        );
        if d.sense == Sense::Serial {
            drivers::Driver::for_device(d)?;
            anyhow::ensure!(
                !d.port.is_empty(),
                "equipment device {}: sense = \"serial\" needs port = \"/dev/serial/by-id/...\"",
                d.id
            );
        }
        if d.sense == Sense::Pjlink {
            anyhow::ensure!(
                !d.host.is_empty(),
                "equipment device {}: sense = \"pjlink\" needs host",
                d.id
            );
        }
        anyhow::ensure!(
            d.poll_ms > 0,
            "equipment device {}: poll_ms must be > 0",
            d.id
        );
    }
    timetable::Timetable::from_config(config)?;
    anyhow::ensure!(
        config.in_use_share > 0.0 && config.in_use_share <= 1.0,
        "equipment.in_use_share must be in (0, 1], found {}",
        config.in_use_share
    );
    Ok(())
}

fn spawn_named(name: String, f: impl FnOnce() + Send + 'static) -> anyhow::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(name.clone())
        .spawn(f)
        .with_context(|| format!("cannot start thread {name}"))
}

/// Starts the equipment log: closes intervals left open by a previous run (at
/// their last-seen time), imports the calendar and plan CSV files named in the
/// config, then starts one poller thread per sensed device and the recorder.
pub fn spawn(
    config: &EquipmentConfig,
    store: Store,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<EquipmentHandle> {
    let floor = crate::config::StationConfig::default()
        .floor()
        .unwrap_or_default();
    spawn_with_floor(config, store, clock, floor)
}

/// As [`spawn`], with the station's clock floor (`[station] clock_floor`):
/// rows written while the wall clock is before it are flagged untrusted.
pub fn spawn_with_floor(
    config: &EquipmentConfig,
    store: Store,
    clock: Arc<dyn Clock>,
    floor: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<EquipmentHandle> {
    check(config)?;
    for (path, doc) in [
        (&config.calendar_csv, lessons::DOC_CALENDAR),
        (&config.plan_csv, lessons::DOC_PLAN),
    ] {
        if !path.as_os_str().is_empty() {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            lessons::import_doc(&store, config, doc, &text, &path.display().to_string())?;
        }
    }
    let closed = store.equip_recover()?;
    if closed > 0 {
        tracing::info!(
            closed,
            "closed equipment intervals left open by the last run"
        );
    }
    let stop = Stop::new();
    let live: Live = Arc::default();
    let (tx, rx) = mpsc::channel::<Event>();
    let max_backoff = Duration::from_secs(config.reconnect_max_secs.max(1));
    let mut pollers = Vec::new();
    for d in &config.devices {
        let (d2, tx2, stop2) = (d.clone(), tx.clone(), stop.clone());
        let name = format!("equip-{}", d.id);
        let h = match d.sense {
            Sense::Serial => {
                let driver = drivers::Driver::for_device(d)?;
                spawn_named(name, move || {
                    serial::run(&d2, &driver, &tx2, &stop2, max_backoff)
                })?
            }
            Sense::Pjlink => spawn_named(name, move || {
                let mut s = pjlink::Pjlink::new(&d2);
                serial::run_polled(&d2, &mut s, &tx2, &stop2)
            })?,
            Sense::Dvb => {
                let (store2, clock2) = (store.clone(), clock.clone());
                spawn_named(name, move || {
                    let mut s = dvb::DvbSensor::linux(&d2, store2, clock2);
                    serial::run_polled(&d2, &mut s, &tx2, &stop2)
                })?
            }
            Sense::Host => {
                if let Some(up) = dvb::host_uptime() {
                    let since = clock.now() - chrono::Duration::from_std(up).unwrap_or_default();
                    let _ = tx.send(Event::Since {
                        device: d.id.clone(),
                        state: State::On,
                        detail: "host running".into(),
                        since,
                    });
                }
                spawn_named(name, move || {
                    let mut s = dvb::HostSensor;
                    serial::run_polled(&d2, &mut s, &tx2, &stop2)
                })?
            }
            Sense::None => continue,
        };
        pollers.push(h);
    }
    drop(tx);
    let rec = recorder::Recorder::with_floor(store, clock, live.clone(), floor)?;
    let recorder = spawn_named("equip-recorder".into(), move || rec.run(rx))?;
    tracing::info!(devices = pollers.len(), "equipment log started");
    Ok(EquipmentHandle {
        stop,
        pollers,
        recorder: Some(recorder),
        live,
    })
}
