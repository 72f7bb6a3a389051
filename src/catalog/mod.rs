//! The catalog: what a received file is (classification, content hash, media facts).

pub mod classify;
