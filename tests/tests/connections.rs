//! What a hostile client can do with connections: hold many, send heads slowly, stop reading,
//! smuggle a second request into a body, send ambiguous framing, or open a stream the
//! application never offered. Each test asserts the bound, not a timing.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_realtime::Realtime;
use realtime_tests::raw_http::{
    READ_TIMEOUT, SseStream, closed_within, connect_from, read_until_quiet, request, status_lines,
    subscribed_to,
};
use realtime_tests::server::TestServer;
use realtime_tests::wait::eventually;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const ATTACKER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const QUIET: Duration = Duration::from_millis(500);

async fn serve(rt: &Realtime) -> TestServer {
    TestServer::start(rt, rt.mount(Router::new())).await
}

/// How many of `sockets` the server still keeps open after [`QUIET`] (one it refused is
/// closed at once).
async fn held_open(sockets: &mut [TcpStream]) -> usize {
    tokio::time::sleep(QUIET).await;
    let mut held = 0;
    for socket in sockets {
        held += usize::from(!closed_within(socket, Duration::from_millis(10)).await);
    }
    held
}

/// Connections from one address beyond its limit are closed at once, slow and idle ones are
/// closed at the head deadline, and meanwhile everyone else is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_hold_more_than_its_share_of_connections() {
    let rt = Realtime::builder()
        .max_connections_per_ip(20)
        .request_head_timeout(Duration::from_secs(2))
        .build();
    let server = serve(&rt).await;
    let mut sockets = Vec::new();
    for n in 0..40 {
        let mut socket = connect_from(ATTACKER, server.addr).await;
        if n % 2 == 0 {
            // Slowloris: a head that never ends.
            socket
                .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
                .await
                .unwrap();
        }
        sockets.push(socket);
    }
    assert_eq!(
        held_open(&mut sockets).await,
        20,
        "the address keeps exactly its limit"
    );

    // Another address is served, streams included.
    let mut stream = subscribed_to(server.addr, "chat").await;
    assert_eq!(
        rt.send_to("chat", "hi", axum_realtime::everyone)
            .unwrap()
            .reached,
        1
    );
    assert!(stream.next_event(READ_TIMEOUT).await.is_some());

    // The held ones never finish a head: all are closed by the deadline (2 s, read for 5).
    for socket in &mut sockets {
        assert!(closed_within(socket, READ_TIMEOUT).await);
    }
    // Their places are free again.
    let mut again = connect_from(ATTACKER, server.addr).await;
    again
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(
        status_lines(&read_until_quiet(&mut again, READ_TIMEOUT).await),
        [404]
    );
}

/// The server as a whole keeps to its limit too.
#[tokio::test]
async fn the_server_keeps_to_its_connection_limit() {
    let rt = Realtime::builder().max_connections(5).build();
    let limited = serve(&rt).await;
    let mut sockets = Vec::new();
    for _ in 0..8 {
        sockets.push(TcpStream::connect(limited.addr).await.unwrap());
    }
    assert_eq!(held_open(&mut sockets).await, 5);
    drop(sockets);
    // A connection the limit refuses is closed without an answer: retry until the places
    // are given back.
    let mut served = None;
    for _ in 0..50 {
        let response = tokio::time::timeout(READ_TIMEOUT, async {
            let mut socket = TcpStream::connect(limited.addr).await.unwrap();
            socket
                .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await
                .unwrap();
            read_until_quiet(&mut socket, READ_TIMEOUT).await
        })
        .await
        .unwrap();
        if !response.is_empty() {
            served = Some(status_lines(&response));
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(served, Some(vec![404]), "served once the others left");
}

/// A body that looks like a stream request, sent after `100 Continue`, is a body: the request
/// gets exactly one final response and no stream is opened.
#[tokio::test]
async fn a_stream_request_hidden_in_a_body_gets_no_stream() {
    let rt = Realtime::new();
    let app = rt.mount(Router::new().route(
        "/api/chat",
        post(|_: String| async { StatusCode::BAD_REQUEST }),
    ));
    let server = TestServer::start(&rt, app).await;
    let body = b"GET /api/realtime HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut socket = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /api/chat HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let interim = read_until_quiet(&mut socket, QUIET).await;
    socket.write_all(body).await.unwrap();
    let mut raw = interim;
    raw.extend(read_until_quiet(&mut socket, QUIET).await);
    let statuses = status_lines(&raw);
    assert_eq!(
        statuses.iter().filter(|&&status| status != 100).count(),
        1,
        "{}",
        String::from_utf8_lossy(&raw)
    );
    assert_eq!(statuses.last(), Some(&400));
    assert!(!String::from_utf8_lossy(&raw).contains("text/event-stream"));
    assert_eq!(rt.client_count(), 0);
}

/// Conflicting `Content-Length` headers make a request ambiguous (RFC 9112 §6.3): refused
/// with one 400, on a stream request as on any other.
#[tokio::test]
async fn conflicting_content_lengths_are_refused() {
    let rt = Realtime::new();
    let server = serve(&rt).await;
    for path in ["/api/realtime", "/"] {
        let mut socket = TcpStream::connect(server.addr).await.unwrap();
        let head = format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\nhello"
        );
        socket.write_all(head.as_bytes()).await.unwrap();
        let raw = read_until_quiet(&mut socket, READ_TIMEOUT).await;
        assert_eq!(
            status_lines(&raw),
            [400],
            "{}",
            String::from_utf8_lossy(&raw)
        );
    }
    assert_eq!(rt.client_count(), 0);
}

async fn require_key(request: Request, next: Next) -> Response {
    if request.headers().get("x-key").is_none() {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert("x-layer", HeaderValue::from_static("seen"));
    response
}

/// The application's layers see stream opens: one that refuses keeps the stream from opening
/// (and the broker from registering a client), one that adds a header adds it to the stream's
/// head, and the stream accepted is still written by the broker's own path.
#[tokio::test]
async fn layers_decide_who_gets_a_stream() {
    let connects = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&connects);
    let rt = Realtime::builder()
        .on_connect(move |_| {
            counted.fetch_add(1, Ordering::Relaxed);
        })
        .build();
    let app = rt
        .mount(Router::new())
        .layer(middleware::from_fn(require_key));
    let server = TestServer::start(&rt, app).await;

    let refused = request(server.addr, "GET /api/realtime HTTP/1.1", b"").await;
    assert_eq!(refused.status, 401);
    assert_eq!(connects.load(Ordering::Relaxed), 0);
    assert_eq!(rt.client_count(), 0);

    let mut stream = SseStream::open(server.addr, &["x-key: 1"]).await;
    assert_eq!(stream.status, 200);
    assert_eq!(stream.header("x-layer"), Some("seen"));
    assert_eq!(stream.header("content-type"), Some("text/event-stream"));
    stream.client_id().await;
    assert_eq!(connects.load(Ordering::Relaxed), 1);
    // The broker's own path owns the connection: it closes when the stream ends.
    assert_eq!(rt.disconnect_all(), 1);
    assert!(stream.ended_within(READ_TIMEOUT).await);
    assert!(closed_within(&mut stream.into_socket(), READ_TIMEOUT).await);
}

/// Where the application did not mount the endpoint, or answers `/api/realtime` itself, the
/// application's answer is the answer.
#[tokio::test]
async fn only_a_mounted_endpoint_opens_streams() {
    let rt = Realtime::new();
    let unmounted =
        TestServer::start(&rt, Router::new().route("/", get(|| async { "home" }))).await;
    let response = request(unmounted.addr, "GET /api/realtime HTTP/1.1", b"").await;
    assert_eq!(response.status, 404);

    let own = Router::new().route("/api/realtime", get(|| async { StatusCode::GONE }));
    let own = TestServer::start(&rt, own).await;
    let response = request(own.addr, "GET /api/realtime HTTP/1.1", b"").await;
    assert_eq!(response.status, 410);
    assert_eq!(rt.client_count(), 0);
}

/// A client that subscribes and stops reading, with far less queued than its queue's bounds.
async fn stalled_reader(rt: &Realtime, server: &TestServer) -> SseStream {
    let stalled = subscribed_to(server.addr, "big").await;
    // 300 × 64 KiB: more than the kernel's socket buffers on both sides hold, so writes to
    // the client stop making progress.
    let payload = "x".repeat(64 * 1024);
    for _ in 0..300 {
        assert_eq!(
            rt.send_to("big", &payload, axum_realtime::everyone)
                .unwrap()
                .dropped,
            0
        );
        tokio::task::yield_now().await;
    }
    stalled
}

fn patient(direct: bool) -> axum_realtime::Builder {
    Realtime::builder()
        .direct_streams(direct)
        .queue_capacity(1_000_000)
        .queue_bytes(usize::MAX)
}

/// A write that makes no progress for the write timeout cuts the client, on both stream paths,
/// though its queue never fills.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_stops_is_cut_when_writes_stall() {
    for direct in [true, false] {
        let rt = patient(direct)
            .write_timeout(Some(Duration::from_millis(300)))
            .build();
        let server = serve(&rt).await;
        let stalled = stalled_reader(&rt, &server).await;
        eventually("the stalled client is cut", || {
            rt.client_count() == 0 && rt.open_streams() == 0
        })
        .await;
        drop(stalled);
    }
}

/// Shutdown ends everything within its timeout: a stream whose client stopped reading (on
/// both paths) and a connection with a half-sent head.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_does_not_wait_for_stalled_streams_or_half_sent_heads() {
    for direct in [true, false] {
        let rt = patient(direct)
            .write_timeout(None)
            .request_head_timeout(Duration::from_mins(10))
            .shutdown_timeout(Duration::from_secs(1))
            .build();
        let server = serve(&rt).await;
        let mut half_sent = TcpStream::connect(server.addr).await.unwrap();
        half_sent
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let mut stalled = stalled_reader(&rt, &server).await;
        assert!(
            server.shut_down_within(Duration::from_secs(10)).await,
            "the server stopped (direct: {direct})"
        );
        assert!(closed_within(&mut half_sent, READ_TIMEOUT).await);
        assert_eq!(rt.open_streams(), 0, "the stalled stream was cut");
        drop(stalled.next_block(Duration::ZERO).await);
    }
}
