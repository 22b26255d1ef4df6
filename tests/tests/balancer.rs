//! The test balancer itself: requests alternate between upstreams (also on one keep-alive
//! connection), a refusing upstream is skipped, request bodies reach the upstream, and a
//! response body streams through chunk by chunk, as Server-Sent Events need.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::channel::{Channel, Sender};
use http_body_util::{BodyExt, Either, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use realtime_tests::balancer::{Balancer, Forwarded};
use realtime_tests::raw_http::{READ_TIMEOUT, keep_alive_get, request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::timeout;

type Body = Either<Full<Bytes>, Channel<Bytes, Infallible>>;

/// An upstream that answers `GET /who` with its name, echoes a `POST /echo` body after its
/// name, and answers `GET /stream` with a chunked body whose chunks the test writes through
/// the senders it receives.
struct Upstream {
    addr: SocketAddr,
    streams: mpsc::UnboundedReceiver<Sender<Bytes, Infallible>>,
    task: JoinHandle<()>,
}

impl Upstream {
    async fn start(name: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (streams_tx, streams) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                let (socket, _) = listener.accept().await.unwrap();
                let streams_tx = streams_tx.clone();
                let service = service_fn(move |request: Request<Incoming>| {
                    let streams_tx = streams_tx.clone();
                    async move { Ok::<_, Infallible>(answer(name, request, &streams_tx).await) }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(socket), service),
                );
            }
        });
        Self {
            addr,
            streams,
            task,
        }
    }

    /// The writing end of the next `GET /stream` this upstream receives.
    async fn next_stream(&mut self) -> Sender<Bytes, Infallible> {
        timeout(READ_TIMEOUT, self.streams.recv())
            .await
            .expect("the stream request reached the upstream in time")
            .expect("the upstream runs")
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(
    name: &'static str,
    request: Request<Incoming>,
    streams: &mpsc::UnboundedSender<Sender<Bytes, Infallible>>,
) -> Response<Body> {
    match request.uri().path() {
        "/stream" => {
            let (sender, body) = Channel::new(1);
            streams.send(sender).unwrap();
            Response::builder()
                .header("content-type", "text/event-stream")
                .body(Either::Right(body))
                .unwrap()
        }
        "/echo" => {
            let header = request.headers()["x-test"].to_str().unwrap().to_owned();
            let body = request.into_body().collect().await.unwrap().to_bytes();
            let text = format!("{name} {header} {}", String::from_utf8_lossy(&body));
            Response::new(Either::Left(Full::new(Bytes::from(text))))
        }
        _ => Response::new(Either::Left(Full::new(Bytes::from(name)))),
    }
}

/// A loopback address nothing listens on: a port that was just free.
async fn refusing_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
}

async fn get(addr: SocketAddr, path: &str) -> String {
    let response = request(addr, &format!("GET {path} HTTP/1.1"), b"").await;
    assert_eq!(response.status, 200, "{}", response.text());
    response.text()
}

#[tokio::test]
async fn requests_alternate_between_upstreams_even_on_one_connection() {
    let (a, b) = (Upstream::start("a").await, Upstream::start("b").await);
    let balancer = Balancer::start(vec![a.addr, b.addr]).await;

    let mut answers = Vec::new();
    for _ in 0..4 {
        answers.push(get(balancer.addr(), "/who").await);
    }
    assert_eq!(answers, ["a", "b", "a", "b"]);

    // Per request, not per connection: no stickiness on a keep-alive connection either.
    let mut socket = TcpStream::connect(balancer.addr()).await.unwrap();
    let mut answers = Vec::new();
    for _ in 0..4 {
        let response = keep_alive_get(&mut socket, balancer.addr(), "/who").await;
        answers.push(response.text());
    }
    assert_eq!(answers, ["a", "b", "a", "b"]);

    let log = balancer.forwarded();
    assert_eq!(log.len(), 8);
    assert_eq!(
        log[..2],
        [
            Forwarded {
                method: "GET".into(),
                path: "/who".into(),
                upstream: 0
            },
            Forwarded {
                method: "GET".into(),
                path: "/who".into(),
                upstream: 1
            },
        ]
    );
}

#[tokio::test]
async fn an_upstream_that_refuses_is_skipped_for_the_next() {
    let a = Upstream::start("a").await;
    let balancer = Balancer::start(vec![refusing_addr().await, a.addr]).await;
    for _ in 0..3 {
        assert_eq!(get(balancer.addr(), "/who").await, "a");
    }
    assert!(balancer.forwarded().iter().all(|f| f.upstream == 1));

    let nothing = Balancer::start(vec![refusing_addr().await]).await;
    let response = request(nothing.addr(), "GET /who HTTP/1.1", b"").await;
    assert_eq!(response.status, 502, "{}", response.text());
}

#[tokio::test]
async fn request_headers_and_bodies_reach_the_upstream() {
    let a = Upstream::start("a").await;
    let balancer = Balancer::start(vec![a.addr]).await;
    let response = request(
        balancer.addr(),
        "POST /echo?x=1 HTTP/1.1\r\nX-Test: kept",
        b"the body",
    )
    .await;
    assert_eq!(response.text(), "a kept the body");
    assert_eq!(balancer.forwarded()[0].path, "/echo?x=1");
    assert_eq!(balancer.forwarded()[0].method, "POST");
}

/// Reads from `socket` until what was read contains `want`, within [`READ_TIMEOUT`].
async fn read_until(socket: &mut TcpStream, seen: &mut String, want: &str) {
    let mut buf = [0u8; 1024];
    while !seen.contains(want) {
        let n = timeout(READ_TIMEOUT, socket.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("{want:?} did not come through; got {seen:?}"))
            .unwrap();
        assert!(n > 0, "the stream ended before {want:?}; got {seen:?}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
}

#[tokio::test]
async fn a_stream_passes_through_chunk_by_chunk_and_ends_with_the_client() {
    let mut a = Upstream::start("a").await;
    let balancer = Balancer::start(vec![a.addr]).await;
    let mut socket = TcpStream::connect(balancer.addr()).await.unwrap();
    let head = format!(
        "GET /stream HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
        balancer.addr()
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let mut chunks = a.next_stream().await;

    // Each chunk is read through the balancer before the next one is written: nothing waits
    // for the body to end or for a buffer to fill.
    let mut seen = String::new();
    chunks
        .send_data(Bytes::from("data: first\n\n"))
        .await
        .unwrap();
    read_until(&mut socket, &mut seen, "data: first\n\n").await;
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
    assert!(
        seen.to_lowercase()
            .contains("content-type: text/event-stream")
    );
    chunks
        .send_data(Bytes::from("data: second\n\n"))
        .await
        .unwrap();
    read_until(&mut socket, &mut seen, "data: second\n\n").await;

    // The client goes away: the upstream's stream ends too (the node sees the disconnect).
    drop(socket);
    timeout(READ_TIMEOUT, async {
        while chunks.send_data(Bytes::from(": ping\n\n")).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the upstream stream ended after the client left");
}
