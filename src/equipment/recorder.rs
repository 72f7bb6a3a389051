//! The recorder: the one thread that turns pollers' readings into state
//! intervals in SQLite.
//!
//! Invariants: a device has at most one open interval (`end_at` NULL); a
//! change closes it and opens the next in one transaction; `last_seen` of the
//! open interval is refreshed at most every [`TOUCH_EVERY`] of uptime; every row
//! carries whether the wall clock was trusted when it was written (a clock
//! before the floor or jumping backwards is not). On shutdown open intervals are
//! closed at the current time; after a kill -9 they are closed at `last_seen`
//! by [`crate::store::Store::equip_recover`] on the next start.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Event, Live, State};
use crate::clock::{Clock, Trust};
use crate::store::{Store, StoreError};

/// How often the open interval's `last_seen` is written while nothing changes.
pub const TOUCH_EVERY: Duration = Duration::from_secs(5);

struct Open {
    id: i64,
    state: State,
    detail: String,
    touched: Duration,
}

/// Writes readings as intervals.
pub struct Recorder {
    store: Store,
    clock: Arc<dyn Clock>,
    trust: Trust,
    open: HashMap<String, Open>,
    live: Live,
}

impl Recorder {
    /// A recorder whose clock trust (rows before `floor` or behind the newest
    /// recorded time are untrusted) is seeded with the newest recorded time.
    pub fn with_floor(
        store: Store,
        clock: Arc<dyn Clock>,
        live: Live,
        floor: DateTime<Utc>,
    ) -> Result<Recorder, StoreError> {
        let mut trust = Trust::new(floor);
        if let Some(last) = store.equip_latest_time()? {
            trust.seed(last, clock.uptime());
        }
        Ok(Recorder {
            store,
            clock,
            trust,
            open: HashMap::new(),
            live,
        })
    }

    /// Handles events until every sender is gone, then closes open intervals.
    pub fn run(mut self, rx: Receiver<Event>) {
        for ev in rx {
            if let Err(e) = self.handle(&ev) {
                tracing::error!("equipment recorder: {e}");
            }
        }
        if let Err(e) = self.close_all() {
            tracing::error!("equipment recorder: closing intervals: {e}");
        }
    }

    fn now(&mut self) -> (DateTime<Utc>, bool) {
        let (wall, up) = (self.clock.now(), self.clock.uptime());
        let trusted = self.trust.check(wall, up);
        (wall, trusted)
    }

    /// Records one event.
    pub fn handle(&mut self, ev: &Event) -> Result<(), StoreError> {
        let (now, trusted) = self.now();
        let up = self.clock.uptime();
        match ev {
            Event::Lamp { device, hours } => {
                self.store.equip_lamp(device, *hours, now, trusted)?;
            }
            Event::Since {
                device,
                state,
                detail,
                since,
            } => {
                let after = self.store.equip_device_latest_time(device)?;
                let start = after.map_or(*since, |a| a.max(*since)).min(now);
                let id = self.change(device, *state, detail, start, trusted, up)?;
                self.store.equip_touch(id, now, detail)?;
            }
            Event::State {
                device,
                state,
                detail,
            } => {
                self.live
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(device.clone(), (*state, detail.clone()));
                match self.open.get_mut(device) {
                    Some(o) if o.state == *state => {
                        if up.saturating_sub(o.touched) >= TOUCH_EVERY || o.detail != *detail {
                            self.store.equip_touch(o.id, now, detail)?;
                            o.touched = up;
                            o.detail = detail.clone();
                        }
                    }
                    _ => {
                        self.change(device, *state, detail, now, trusted, up)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Closes the device's open interval and opens one in `state` at `at`.
    fn change(
        &mut self,
        device: &str,
        state: State,
        detail: &str,
        at: DateTime<Utc>,
        trusted: bool,
        up: Duration,
    ) -> Result<i64, StoreError> {
        let prev = self.open.get(device).map(|o| o.id);
        let id = self
            .store
            .equip_change(device, prev, state, detail, at, trusted)?;
        self.open.insert(
            device.to_string(),
            Open {
                id,
                state,
                detail: detail.to_string(),
                touched: up,
            },
        );
        Ok(id)
    }

    /// Closes every open interval at the current time.
    pub fn close_all(&mut self) -> Result<(), StoreError> {
        let (now, trusted) = self.now();
        for (_, o) in self.open.drain() {
            self.store.equip_close(o.id, now, trusted, "shutdown")?;
        }
        Ok(())
    }
}
