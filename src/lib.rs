//! xingzhan (星站): the daemon of a rural school's satellite receiving station.
//!
//! Data flows one way: the drop folder (`inbox`) feeds the `catalog`, which the
//! `store` keeps in SQLite; the `web` layer, the reports, the `equipment` log and
//! the `vcd` author read from there. Lower layers never import `web`.

pub mod catalog;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod diskguard;
pub mod doctor;
pub mod equipment;
pub mod inbox;
pub mod library;
pub mod lock;
pub mod outreach;
pub mod paths;
pub mod store;
pub mod vcd;
pub mod web;
