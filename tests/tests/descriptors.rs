//! Running out of file descriptors: the accept loop keeps going and serves again once some
//! are freed. Its own test binary, since it lowers the process's open-file limit.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use axum_realtime::Realtime;
use realtime_tests::raw_http::{READ_TIMEOUT, read_until_quiet, status_lines};
use realtime_tests::server::TestServer;
use rlimit::Resource;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const LIMIT: u64 = 256;

/// One plain request; `None` when no answer came (the server could not accept it yet).
async fn try_request(addr: std::net::SocketAddr) -> Option<Vec<u16>> {
    let attempt = tokio::time::timeout(Duration::from_secs(1), async {
        let mut socket = TcpStream::connect(addr).await.ok()?;
        socket
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        Some(status_lines(
            &read_until_quiet(&mut socket, READ_TIMEOUT).await,
        ))
    });
    attempt
        .await
        .ok()
        .flatten()
        .filter(|statuses| !statuses.is_empty())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_serves_again_once_descriptors_are_freed() {
    let (_, hard) = rlimit::getrlimit(Resource::NOFILE).unwrap();
    rlimit::setrlimit(Resource::NOFILE, LIMIT.min(hard), hard).unwrap();
    // Limits above what the process can open, so that accepting itself runs out.
    let rt = Realtime::builder()
        .max_connections(100_000)
        .max_connections_per_ip(100_000)
        .build();
    let app = Router::new().route("/", get(|| async { "up" }));
    let app_server = TestServer::start(&rt, rt.mount(app)).await;
    assert_eq!(try_request(app_server.addr).await, Some(vec![200]));

    // Client sockets and the server's accepted ones share the limit: open until it is hit.
    let mut sockets = Vec::new();
    while sockets.len() < 2 * usize::try_from(LIMIT).unwrap() {
        match tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(app_server.addr))
            .await
        {
            Ok(Ok(socket)) => sockets.push(socket),
            _ => break,
        }
    }
    assert!(
        try_request(app_server.addr).await.is_none(),
        "the limit was reached ({} sockets)",
        sockets.len()
    );

    drop(sockets);
    let mut served = None;
    for _ in 0..50 {
        served = try_request(app_server.addr).await;
        if served.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        served,
        Some(vec![200]),
        "served again once descriptors were freed"
    );
}
