//! The web layer: the versioned JSON API and the technician's pages (zh-CN).
//!
//! `app(state)` is a pure function returning the router; the listener and the
//! shutdown future are injected by the caller, so tests serve on port 0.

pub mod equipment;

use std::sync::Arc;

use axum::Router;

use crate::clock::Clock;
use crate::config::Config;
use crate::store::Store;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
}

/// The whole router.
pub fn app(state: AppState) -> Router {
    Router::new().merge(equipment::routes()).with_state(state)
}
