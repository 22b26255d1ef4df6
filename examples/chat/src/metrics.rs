//! `GET /metrics`: the broker's figures in Prometheus text, published from its stats at each
//! scrape (the exporter's own HTTP listener is not used: the app serves them).

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::AppState;

/// The process's Prometheus recorder, installed on first use (a process has one recorder).
///
/// # Panics
///
/// If another recorder was installed before.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        PrometheusBuilder::new()
            .install_recorder()
            .expect("no other metrics recorder is installed")
    })
}

/// The figures as they are now.
pub(crate) async fn render(State(state): State<AppState>) -> impl IntoResponse {
    let handle = handle();
    state.rt.publish_metrics();
    handle.run_upkeep();
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
}
