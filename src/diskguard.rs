//! diskguard
