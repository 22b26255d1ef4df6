//! The crate-level example of `axum-realtime`, built as its own program.

include!("../../../realtime/doc/example.rs");
