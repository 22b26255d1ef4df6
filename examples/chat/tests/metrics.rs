//! `GET /metrics`: the Prometheus text the chat serves says what `Realtime::stats` says.

use std::collections::HashMap;

use axum_realtime::{DisconnectReason, Stats, everyone};
use example_chat::{AppState, Db, Deployment, app};
use realtime_tests::raw_http::{READ_TIMEOUT, SseStream, post_realtime, request};
use realtime_tests::server::TestServer;
use realtime_tests::wait::eventually;

const SECRET: &[u8] = b"example-chat-tests-secret-32-byt";

/// The samples of a Prometheus text body, by name with labels (`name{label="value"}`).
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// A scrape, and the stats it was taken between (the same, when nothing moved meanwhile).
async fn scrape(server: &TestServer, state: &AppState) -> (HashMap<String, f64>, Stats) {
    for _ in 0..10 {
        let before = state.rt.stats();
        let response = request(server.addr, "GET /metrics HTTP/1.1", b"").await;
        assert_eq!(response.status, 200);
        let after = state.rt.stats();
        if before == after {
            return (samples(&response.text()), after);
        }
    }
    panic!("the stats kept moving while scraped");
}

#[tokio::test]
#[allow(clippy::cast_precision_loss, reason = "small counts")]
async fn the_metrics_page_agrees_with_the_stats() {
    // The recorder first, so that every send's fan-out time is recorded.
    let _ = example_chat::metrics::handle();
    let state = AppState::new(Db::in_memory().unwrap(), SECRET, &Deployment::default()).unwrap();
    let server = TestServer::start(&state.rt, app(state.clone())).await;
    let mut streams = Vec::new();
    for _ in 0..2 {
        let mut stream = SseStream::open(server.addr, &[]).await;
        let id = stream.client_id().await;
        let body = format!(r#"{{"clientId":"{id}","subscriptions":["chat"]}}"#);
        assert_eq!(post_realtime(server.addr, &body, None).await.status, 204);
        streams.push(stream);
    }
    let unknown = r#"{"clientId":"nobody","subscriptions":["chat"]}"#;
    assert_eq!(post_realtime(server.addr, unknown, None).await.status, 404);
    for n in 0..3 {
        assert_eq!(state.rt.send_to("chat", &n, everyone).unwrap().reached, 2);
    }
    for stream in &mut streams {
        for _ in 0..3 {
            assert!(stream.next_event(READ_TIMEOUT).await.is_some());
        }
    }
    drop(streams.pop());
    eventually("the stream that left is counted", || {
        state
            .rt
            .stats()
            .disconnects_for(DisconnectReason::ClientLeft)
            == 1
    })
    .await;

    let (scraped, figures) = scrape(&server, &state).await;
    assert_eq!(
        (figures.sends, figures.deliveries, figures.clients),
        (3, 6, 1)
    );
    let expected = [
        ("realtime_clients", figures.clients as f64),
        ("realtime_open_streams", figures.open_streams as f64),
        ("realtime_topics", figures.topics as f64),
        ("realtime_queued_bytes", figures.queued_bytes as f64),
        (
            "realtime_streams{path=\"direct\"}",
            figures.streams_by_path.direct as f64,
        ),
        (
            "realtime_connections_total{path=\"direct\"}",
            figures.connections_by_path.direct as f64,
        ),
        (
            "realtime_connections_total{path=\"hyper\"}",
            figures.connections_by_path.hyper as f64,
        ),
        (
            "realtime_subscriptions_total{status=\"204\"}",
            figures.subscriptions_with(204) as f64,
        ),
        (
            "realtime_subscriptions_total{status=\"404\"}",
            figures.subscriptions_with(404) as f64,
        ),
        ("realtime_sends_total", figures.sends as f64),
        ("realtime_deliveries_total", figures.deliveries as f64),
        (
            "realtime_dropped_total{reason=\"client_left\"}",
            figures.disconnects_for(DisconnectReason::ClientLeft) as f64,
        ),
        ("realtime_bytes_written_total", figures.bytes_written as f64),
        ("realtime_fan_out_seconds_count", figures.sends as f64),
    ];
    for (name, value) in expected {
        assert_eq!(scraped.get(name), Some(&value), "{name} in {scraped:?}");
    }
    assert!(figures.bytes_written > 0);
}
