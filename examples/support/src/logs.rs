//! The examples' logs: on stderr (stdout carries the address line tests wait for), filtered by
//! `RUST_LOG` (`axum_realtime=debug`: every stream's life), `info` when it is unset.

use tracing_subscriber::EnvFilter;

/// Installs the process's log subscriber; call once, first thing in `main`.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
