//! The catalog: what a received file is. Classification rules, the search text,
//! content hashing, archive integrity and media facts from ffprobe.

pub mod archive;
pub mod classify;
pub mod hash;
pub mod probe;
pub mod search;
