//! Procedural macros of the `realtime` crate; use them through `realtime`.
