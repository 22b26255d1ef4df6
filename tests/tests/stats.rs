//! `Realtime::stats`: the figures move with real streams, on both stream paths.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use axum_realtime::{AuthRecord, DisconnectReason, JwtAuth, Realtime, StreamPath, everyone};
use realtime_tests::raw_http::{READ_TIMEOUT, SseStream, post_realtime};
use realtime_tests::server::TestServer;
use realtime_tests::wait::eventually;

async fn serve(rt: &Realtime) -> TestServer {
    TestServer::start(rt, rt.mount(axum::Router::new())).await
}

fn path(direct: bool) -> StreamPath {
    if direct {
        StreamPath::Direct
    } else {
        StreamPath::Hyper
    }
}

async fn subscribe(server: &TestServer, id: &str, keys: &str) {
    let body = format!(r#"{{"clientId":"{id}","subscriptions":{keys}}}"#);
    let response = post_realtime(server.addr, &body, None).await;
    assert_eq!(response.status, 204, "{}", response.text());
}

/// Waits until the stream of `reason` has been counted `count` times.
async fn ended_for(rt: &Realtime, reason: DisconnectReason, count: u64) {
    eventually(&format!("{count} ended for {reason}"), || {
        rt.stats().disconnects_for(reason) == count
    })
    .await;
}

#[tokio::test]
async fn streams_are_counted_by_path_while_open_and_by_reason_once_ended() {
    for direct in [true, false] {
        let rt = Realtime::builder().direct_streams(direct).build();
        let server = serve(&rt).await;
        let mut stream = SseStream::open(server.addr, &[]).await;
        stream.client_id().await;
        let stats = rt.stats();
        assert_eq!((stats.clients, stats.open_streams), (1, 1));
        assert_eq!(stats.streams_by_path.get(path(direct)), 1, "{stats:?}");
        assert_eq!(stats.streams_by_path.get(path(!direct)), 0, "{stats:?}");
        assert_eq!(stats.connections_by_path.get(path(direct)), 1);
        assert!(stats.disconnects.is_empty(), "{stats:?}");

        drop(stream);
        ended_for(&rt, DisconnectReason::ClientLeft, 1).await;
        let stats = rt.stats();
        assert_eq!((stats.clients, stats.open_streams), (0, 0));
        assert_eq!(stats.streams_by_path.get(path(direct)), 0);
        assert_eq!(stats.connections_by_path.get(path(direct)), 1, "a total");
        assert_eq!(
            stats.disconnects,
            BTreeMap::from([(DisconnectReason::ClientLeft, 1)])
        );
    }
}

#[tokio::test]
async fn subscription_requests_are_counted_by_status() {
    let jwt = JwtAuth::new(b"stats-tests-secret-of-32-bytes!!");
    let ann = jwt.mint(&AuthRecord::new("ann")).unwrap();
    let bob = jwt.mint(&AuthRecord::new("bob")).unwrap();
    let rt = Realtime::builder().authenticator(jwt).build();
    let server = serve(&rt).await;
    let mut stream = SseStream::open(server.addr, &[]).await;
    let id = stream.client_id().await;
    let body = format!(r#"{{"clientId":"{id}","subscriptions":["chat","news"]}}"#);
    let answers = [
        post_realtime(server.addr, &body, None).await.status,
        post_realtime(server.addr, &body, Some(&ann)).await.status,
        post_realtime(server.addr, &body, Some(&bob)).await.status,
        post_realtime(server.addr, r#"{"clientId":"nobody"}"#, None)
            .await
            .status,
        post_realtime(server.addr, r#"{"subscriptions":"#, None)
            .await
            .status,
    ];
    assert_eq!(answers, [204, 204, 403, 404, 400]);
    let stats = rt.stats();
    assert_eq!(
        stats.subscriptions_by_status,
        BTreeMap::from([(204, 2), (400, 1), (403, 1), (404, 1)])
    );
    assert_eq!(stats.topics, 2);
}

#[tokio::test]
async fn sends_deliveries_and_bytes_written_add_up_on_both_paths() {
    for direct in [true, false] {
        let rt = Realtime::builder()
            .heartbeat(None)
            .direct_streams(direct)
            .build();
        let server = serve(&rt).await;
        let mut streams = Vec::new();
        let mut read = 0;
        for keys in [r#"["chat","news"]"#, r#"["chat"]"#] {
            let mut stream = SseStream::open(server.addr, &[]).await;
            let id = stream.client_id().await;
            read += format!("id:{id}\nevent:PB_CONNECT\ndata:{{\"clientId\":\"{id}\"}}\n\n").len();
            subscribe(&server, &id, keys).await;
            streams.push(stream);
        }
        assert_eq!(rt.send_to("chat", &"hello", everyone).unwrap().reached, 2);
        assert_eq!(rt.send_to("news", &"extra", everyone).unwrap().reached, 1);
        assert_eq!(rt.send_to("empty", &"nobody", everyone).unwrap().reached, 0);
        for (stream, events) in streams.iter_mut().zip([2, 1]) {
            for _ in 0..events {
                read += stream.next_event(READ_TIMEOUT).await.unwrap().len();
            }
        }
        let stats = rt.stats();
        assert_eq!((stats.sends, stats.deliveries), (3, 3), "{stats:?}");
        assert_eq!(stats.topics, 2);
        assert_eq!(stats.queued_bytes, 0, "all read");
        // Counted once the write returns, which may be just after the reader has the bytes.
        eventually("every byte read is counted", || {
            rt.stats().bytes_written == read as u64
        })
        .await;
    }
}

// One thread: the sends below run back to back, with no chance for the stream's task to
// drain. The client reads nothing, and the first message is large enough to fill its socket:
// the send writes what the socket takes (the stream being idle), the rest stays queued, and
// what comes next queues behind it.
#[tokio::test(flavor = "current_thread")]
async fn overflowing_queues_are_counted_by_which_bound_they_hit() {
    let large = "x".repeat(8 << 20);
    let rt = Realtime::builder()
        .queue_capacity(3)
        .queue_bytes(usize::MAX)
        .build();
    let server = serve(&rt).await;
    let mut stream = SseStream::open(server.addr, &[]).await;
    let id = stream.client_id().await;
    subscribe(&server, &id, r#"["chat"]"#).await;
    let sent = rt.send_to("chat", &large, axum_realtime::everyone).unwrap();
    assert_eq!(sent.reached, 1);
    assert!(rt.stats().queued_bytes > 0, "queued, not yet written");
    let mut dropped = 0;
    for n in 0..3 {
        dropped += rt
            .send_to("chat", &n, axum_realtime::everyone)
            .unwrap()
            .dropped;
    }
    assert_eq!(dropped, 1);
    assert!(stream.ended_within(READ_TIMEOUT).await);
    ended_for(&rt, DisconnectReason::QueueFull, 1).await;
    assert_eq!(rt.stats().queued_bytes, 0);

    let rt = Realtime::builder().queue_bytes(100).build();
    let server = serve(&rt).await;
    let mut stream = SseStream::open(server.addr, &[]).await;
    let id = stream.client_id().await;
    subscribe(&server, &id, r#"["chat"]"#).await;
    // A frame onto an empty queue is always taken, however large; the next is over budget.
    let first = rt.send_to("chat", &large, axum_realtime::everyone).unwrap();
    let second = rt
        .send_to("chat", &"x".repeat(60), axum_realtime::everyone)
        .unwrap();
    assert_eq!((first.dropped, second.dropped), (0, 1));
    assert!(stream.ended_within(READ_TIMEOUT).await);
    ended_for(&rt, DisconnectReason::ByteBudget, 1).await;
    let stats = rt.stats();
    assert_eq!(stats.disconnects.len(), 1, "{stats:?}");
    assert_eq!((stats.sends, stats.deliveries), (2, 1));
}

#[tokio::test]
async fn the_application_shutdown_and_timeouts_are_told_apart() {
    let rt = Realtime::new();
    let server = serve(&rt).await;
    let mut cut = SseStream::open(server.addr, &[]).await;
    let id = cut.client_id().await;
    rt.client(&id).unwrap().disconnect();
    assert!(cut.ended_within(READ_TIMEOUT).await);
    ended_for(&rt, DisconnectReason::Application, 1).await;
    let mut streams = Vec::new();
    for _ in 0..2 {
        let mut stream = SseStream::open(server.addr, &[]).await;
        stream.client_id().await;
        streams.push(stream);
    }
    assert_eq!(rt.disconnect_all(), 2);
    for stream in &mut streams {
        assert!(stream.ended_within(READ_TIMEOUT).await);
    }
    ended_for(&rt, DisconnectReason::Shutdown, 2).await;
    assert_eq!(rt.stats().disconnects.len(), 2, "nothing else");

    for (builder, reason) in [
        (
            Realtime::builder().idle_timeout(Some(Duration::from_millis(200))),
            DisconnectReason::IdleTimeout,
        ),
        (
            Realtime::builder().max_lifetime(Some(Duration::from_millis(200))),
            DisconnectReason::Lifetime,
        ),
    ] {
        let rt = builder.build();
        let server = serve(&rt).await;
        let mut stream = SseStream::open(server.addr, &[]).await;
        stream.client_id().await;
        assert!(stream.ended_within(READ_TIMEOUT).await);
        ended_for(&rt, reason, 1).await;
        assert_eq!(rt.stats().disconnects.len(), 1);
    }
}

#[tokio::test]
async fn a_stream_the_application_answered_otherwise_never_started() {
    let rt = Realtime::new();
    let app = rt
        .mount(axum::Router::new())
        .layer(axum::middleware::map_response(|_: Response| async {
            http_forbidden()
        }));
    let server = TestServer::start(&rt, app).await;
    let stream = SseStream::open(server.addr, &[]).await;
    assert_eq!(stream.status, 403);
    ended_for(&rt, DisconnectReason::NotServed, 1).await;
    let stats = rt.stats();
    assert_eq!(
        stats.connections_by_path.hyper + stats.connections_by_path.direct,
        0
    );
    assert_eq!(stats.open_streams, 0);
}

fn http_forbidden() -> Response {
    axum::http::StatusCode::FORBIDDEN.into_response()
}
