//! The web layer: the versioned JSON API (`/api/v1`) and the technician's pages
//! (zh-CN, server-rendered, light enough for an old PC).
//!
//! `app(state)` is a pure function returning the router; the listener and the
//! shutdown future are injected by the caller, so tests serve on port 0.
//! Handlers reach SQLite only through the store, off the async runtime.

pub mod api;
pub mod error;
pub mod outreach;
pub mod pages;

pub mod equipment;
pub mod equipment_pages;

use std::sync::Arc;

use axum::Router;

use crate::clock::{Clock, Stamper, Trust};
use crate::config::Config;
use crate::store::Store;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    pub stamper: Arc<Stamper>,
    /// Wakes and cancels the VCD job worker (if one runs).
    pub jobs: Arc<crate::outreach::JobControl>,
}

impl AppState {
    /// State with a fresh clock-trust judge (seeded from the store's newest row).
    pub fn new(store: Store, config: Arc<Config>, clock: Arc<dyn Clock>) -> AppState {
        let floor = config.station.floor().unwrap_or_default();
        let mut trust = Trust::new(floor);
        if let Ok(Some(newest)) = store.newest_timestamp()
            && let Ok(t) = chrono::DateTime::parse_from_rfc3339(&newest)
        {
            trust.seed(t.to_utc(), clock.uptime());
        }
        let stamper = Arc::new(Stamper::new(clock.clone(), trust));
        AppState {
            store,
            config,
            clock,
            stamper,
            jobs: Arc::new(crate::outreach::JobControl::default()),
        }
    }
}

/// The whole router.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(api::routes())
        .merge(pages::routes())
        .merge(outreach::routes())
        .merge(equipment::routes())
        .layer(axum::extract::DefaultBodyLimit::max(1 << 20))
        .with_state(state)
}
