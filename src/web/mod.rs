//! The web layer.
