//! `Serve::with_tls`: the server terminates TLS itself and speaks HTTP/2 or HTTP/1.1 as the
//! client chose (ALPN), with the deadlines of plain HTTP: streams and subscribes share one
//! HTTP/2 connection, HTTP/1.1 streams are written through TLS, a handshake that never
//! finishes is cut, plain HTTP on the TLS port is refused, and shutdown ends HTTP/2 streams.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum_realtime::serve::Tls;
use axum_realtime::{Realtime, everyone};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http2::SendRequest;
use hyper::{Request, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};
use realtime_tests::raw_http::{READ_TIMEOUT, closed_within, read_until_quiet};
use realtime_tests::server::TestServer;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Short, so that the deadline tests are quick; still far above a loopback handshake.
const HEAD_TIMEOUT: Duration = Duration::from_millis(400);
/// A generous ceiling for a cut that is due after [`HEAD_TIMEOUT`]: it bounds the attack and
/// nothing else observes it.
const CUT_WITHIN: Duration = Duration::from_secs(4);

fn certificate() -> Tls {
    Tls::self_signed(&["localhost", "127.0.0.1"]).expect("a self-signed certificate")
}

async fn serve(rt: &Realtime, tls: &Tls) -> TestServer {
    TestServer::start_tls(rt, rt.mount(axum::Router::new()), tls.clone()).await
}

fn broker() -> Realtime {
    Realtime::builder()
        .request_head_timeout(HEAD_TIMEOUT)
        .build()
}

/// A TLS connection that trusts the certificate `pem` and offers only `alpn`.
async fn connect(addr: SocketAddr, pem: &str, alpn: &[u8]) -> TlsStream<TcpStream> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        roots.add(cert.expect("PEM certificate")).expect("a root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let name = ServerName::try_from("localhost").expect("a server name");
    let stream = timeout(
        READ_TIMEOUT,
        TlsConnector::from(Arc::new(config)).connect(name, tcp),
    )
    .await
    .expect("the handshake in time")
    .expect("a TLS handshake");
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(alpn));
    stream
}

/// An HTTP/2 connection; also the task driving it, which ends when the connection does.
async fn h2_connect(
    addr: SocketAddr,
    pem: &str,
) -> (
    SendRequest<Full<Bytes>>,
    tokio::task::JoinHandle<hyper::Result<()>>,
) {
    let io = TokioIo::new(connect(addr, pem, b"h2").await);
    let (send, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
        .await
        .expect("an HTTP/2 handshake");
    (send, tokio::spawn(conn))
}

async fn h2_request(
    send: &mut SendRequest<Full<Bytes>>,
    request: Request<Full<Bytes>>,
) -> hyper::Response<Incoming> {
    send.ready().await.expect("the connection takes requests");
    timeout(READ_TIMEOUT, send.send_request(request))
        .await
        .expect("a response in time")
        .expect("a response")
}

/// An event stream read over HTTP/2, event by event.
struct H2Events {
    body: Incoming,
    text: String,
}

impl H2Events {
    async fn open(send: &mut SendRequest<Full<Bytes>>) -> Self {
        let request = Request::get("https://localhost/api/realtime")
            .body(Full::default())
            .unwrap();
        let response = h2_request(send, request).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.version(), Version::HTTP_2);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Self {
            body: response.into_body(),
            text: String::new(),
        }
    }

    /// The next event block, or `None` when the stream ends or stays quiet for the read
    /// timeout.
    async fn next_event(&mut self) -> Option<String> {
        loop {
            if let Some(end) = self.text.find("\n\n") {
                let block = self.text[..end + 2].to_owned();
                self.text.drain(..end + 2);
                return Some(block);
            }
            let frame = timeout(READ_TIMEOUT, self.body.frame()).await.ok()??.ok()?;
            if let Some(data) = frame.data_ref() {
                self.text
                    .push_str(std::str::from_utf8(data).expect("UTF-8 events"));
            }
        }
    }

    async fn client_id(&mut self) -> String {
        client_id_of(&self.next_event().await.expect("PB_CONNECT"))
    }
}

/// The client id of a `PB_CONNECT` event block.
fn client_id_of(block: &str) -> String {
    let id = block
        .strip_prefix("id:")
        .and_then(|rest| rest.split('\n').next())
        .unwrap_or_else(|| panic!("not an event: {block:?}"))
        .to_owned();
    assert_eq!(
        block,
        format!("id:{id}\nevent:PB_CONNECT\ndata:{{\"clientId\":\"{id}\"}}\n\n")
    );
    id
}

fn subscribe_body(id: &str) -> String {
    json!({"clientId": id, "subscriptions": ["chat"]}).to_string()
}

#[tokio::test]
async fn one_http2_connection_carries_streams_and_their_subscribes() {
    let tls = certificate();
    let rt = broker();
    let server = serve(&rt, &tls).await;
    let (mut send, _conn) = h2_connect(server.addr, tls.certificate_pem()).await;
    let mut first = H2Events::open(&mut send).await;
    let mut second = H2Events::open(&mut send).await;
    let first_id = first.client_id().await;
    let second_id = second.client_id().await;
    assert_ne!(first_id, second_id);
    for id in [&first_id, &second_id] {
        let request = Request::post("https://localhost/api/realtime")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(subscribe_body(id))))
            .unwrap();
        let response = h2_request(&mut send, request).await;
        assert_eq!(response.status(), 204, "subscribed on the same connection");
    }
    assert_eq!(rt.subscribers("chat").len(), 2);
    let _ = rt.send_to("chat", &json!({"n": 1}), everyone).unwrap();
    for events in [&mut first, &mut second] {
        let event = events.next_event().await.expect("the send");
        assert!(event.contains("event:chat\ndata:{\"n\":1}\n"), "{event:?}");
    }
}

/// Reads from `stream` until `needle` has arrived; everything read.
async fn read_until(stream: &mut (impl AsyncRead + Unpin), needle: &str) -> String {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&raw).contains(needle) {
        let n = timeout(READ_TIMEOUT, stream.read(&mut buf))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "{needle:?} in time; got {:?}",
                    String::from_utf8_lossy(&raw)
                )
            })
            .expect("a read");
        assert!(
            n > 0,
            "closed before {needle:?}: {:?}",
            String::from_utf8_lossy(&raw)
        );
        raw.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(raw).expect("UTF-8")
}

#[tokio::test]
async fn http1_over_tls_streams_and_subscribes() {
    let tls = certificate();
    let rt = broker();
    let server = serve(&rt, &tls).await;
    let mut stream = connect(server.addr, tls.certificate_pem(), b"http/1.1").await;
    stream
        .write_all(b"GET /api/realtime HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
    let head = read_until(&mut stream, "}\n\n\r\n").await;
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head:?}");
    assert!(head.contains("transfer-encoding: chunked\r\n"), "{head:?}");
    let event = head.split("\r\n\r\n").nth(1).expect("a body");
    let chunk = event.split_once("\r\n").expect("a chunk").1;
    let id = client_id_of(chunk.strip_suffix("\r\n").expect("a whole chunk"));

    let body = subscribe_body(&id);
    let mut subscribe = connect(server.addr, tls.certificate_pem(), b"http/1.1").await;
    let request = format!(
        "POST /api/realtime HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    subscribe.write_all(request.as_bytes()).await.unwrap();
    let answer = read_until(&mut subscribe, "\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 204"), "{answer:?}");

    let _ = rt.send_to("chat", &json!({"n": 2}), everyone).unwrap();
    let event = read_until(&mut stream, "{\"n\":2}").await;
    assert!(event.contains("event:chat\ndata:{\"n\":2}\n"), "{event:?}");
}

#[tokio::test]
async fn a_handshake_that_never_finishes_is_cut_within_the_head_timeout() {
    let tls = certificate();
    let rt = broker();
    let server = serve(&rt, &tls).await;
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    // A TLS record header announcing a ClientHello that never comes.
    let mut dribbling = TcpStream::connect(server.addr).await.unwrap();
    dribbling
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .await
        .unwrap();
    assert!(
        closed_within(&mut silent, CUT_WITHIN).await,
        "a silent client is cut"
    );
    assert!(
        closed_within(&mut dribbling, CUT_WITHIN).await,
        "a dribbling hello is cut"
    );
}

#[tokio::test]
async fn an_http2_connection_that_sends_no_request_is_closed() {
    let tls = certificate();
    let rt = broker();
    let server = serve(&rt, &tls).await;
    let (_send, conn) = h2_connect(server.addr, tls.certificate_pem()).await;
    let ended = timeout(CUT_WITHIN, conn).await;
    assert!(
        ended.is_ok(),
        "the server closes an HTTP/2 connection that never asks"
    );
}

#[tokio::test]
async fn plain_http_on_the_tls_port_fails_cleanly() {
    let tls = certificate();
    let rt = broker();
    let server = serve(&rt, &tls).await;
    let mut plain = TcpStream::connect(server.addr).await.unwrap();
    plain
        .write_all(b"GET /api/realtime HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_quiet(&mut plain, CUT_WITHIN).await;
    assert!(
        !answer.starts_with(b"HTTP/"),
        "no HTTP answer over plain text"
    );
    assert!(
        closed_within(&mut plain, CUT_WITHIN).await,
        "the connection is closed"
    );
    // The server goes on serving.
    let (mut send, _conn) = h2_connect(server.addr, tls.certificate_pem()).await;
    H2Events::open(&mut send).await.client_id().await;
}

#[tokio::test]
async fn shutdown_ends_http2_streams_and_their_connection() {
    let tls = certificate();
    // Long enough that only GOAWAY, not the shutdown timeout, can end the connection in time.
    let rt = Realtime::builder()
        .request_head_timeout(HEAD_TIMEOUT)
        .shutdown_timeout(Duration::from_secs(30))
        .build();
    let server = serve(&rt, &tls).await;
    let (mut send, conn) = h2_connect(server.addr, tls.certificate_pem()).await;
    let mut events = H2Events::open(&mut send).await;
    events.client_id().await;
    assert!(
        server.shut_down_within(CUT_WITHIN).await,
        "the server stops without waiting out its shutdown timeout"
    );
    assert_eq!(events.next_event().await, None, "the stream ended");
    assert!(
        timeout(CUT_WITHIN, conn).await.is_ok(),
        "the connection closed"
    );
}

/// Set in the server process that [`idle_stream_memory_over_http2_and_http1`] starts: `tls`
/// or `plain`.
const MEMORY_SERVER: &str = "REALTIME_TLS_MEMORY_SERVER";
/// Idle streams measured per protocol.
const MEASURED_STREAMS: usize = 1000;

/// The server of the memory measurement, in a process of its own so that its resident memory
/// is the server's alone: prints its port and the certificate, serves until stdin closes.
#[tokio::test]
#[ignore = "started by idle_stream_memory_over_http2_and_http1"]
async fn memory_server_process() {
    let Ok(mode) = std::env::var(MEMORY_SERVER) else {
        return;
    };
    let _ = rlimit::increase_nofile_limit(4 * MEASURED_STREAMS as u64);
    let rt = Realtime::builder()
        .max_connections(4 * MEASURED_STREAMS)
        .max_connections_per_ip(4 * MEASURED_STREAMS)
        .build();
    let tls = certificate();
    let server = if mode == "tls" {
        serve(&rt, &tls).await
    } else {
        TestServer::start(&rt, rt.mount(axum::Router::new())).await
    };
    println!("PORT {}", server.addr.port());
    println!("{}", tls.certificate_pem());
    println!("END");
    tokio::task::spawn_blocking(|| {
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new())
    })
    .await
    .unwrap()
    .unwrap();
}

/// The memory server: its process, port and certificate.
struct MemoryServer {
    child: std::process::Child,
    addr: SocketAddr,
    pem: String,
}

impl MemoryServer {
    fn start(mode: &str) -> Self {
        use std::io::BufRead;
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "memory_server_process",
                "--nocapture",
            ])
            .env(MEMORY_SERVER, mode)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("the server process");
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let port: u16 = loop {
            let line = lines.next().expect("a port line").unwrap();
            if let Some(port) = line.strip_prefix("PORT ") {
                break port.parse().unwrap();
            }
        };
        let mut pem = String::new();
        for line in lines.by_ref() {
            let line = line.unwrap();
            if line == "END" {
                break;
            }
            pem.push_str(&line);
            pem.push('\n');
        }
        // The rest (the test harness's own lines) is read and dropped, or the child fails
        // writing to a closed pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            pem,
        }
    }

    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches(" kB").parse().ok())
            .expect("VmRSS")
    }
}

impl Drop for MemoryServer {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// Resident memory of the server, in KiB, before and after [`MEASURED_STREAMS`] idle streams
/// are open, and the difference per stream.
fn report(what: &str, before: u64, after: u64) {
    let per_stream = (after.saturating_sub(before) * 1024) / MEASURED_STREAMS as u64;
    println!(
        "{what}: server RSS {before} KiB -> {after} KiB for {MEASURED_STREAMS} idle streams: \
         {per_stream} bytes per stream"
    );
}

/// The server's memory per idle stream: over HTTP/2 (100 streams on each of 10 connections),
/// over HTTP/1.1 through TLS (a connection each, written directly) and over plain HTTP/1.1.
/// A measurement, printed, not asserted:
/// `cargo test -p realtime-tests --test tls -- --ignored --nocapture idle_stream_memory`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: prints the memory per idle stream"]
async fn idle_stream_memory_over_http2_and_http1() {
    let _ = rlimit::increase_nofile_limit(4 * MEASURED_STREAMS as u64);
    {
        let server = MemoryServer::start("tls");
        let warm = warm_up(&server, "tls").await;
        let before = server.rss_kib();
        let mut connections = Vec::new();
        let mut streams = Vec::new();
        for _ in 0..10 {
            let (mut send, conn) = h2_connect(server.addr, &server.pem).await;
            for _ in 0..MEASURED_STREAMS / 10 {
                let mut events = H2Events::open(&mut send).await;
                events.client_id().await;
                streams.push(events);
            }
            connections.push((send, conn));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        report("HTTP/2 over TLS", before, server.rss_kib());
        drop((warm, streams, connections));
    }
    for (mode, what) in [("tls", "HTTP/1.1 over TLS"), ("plain", "HTTP/1.1 plain")] {
        let server = MemoryServer::start(mode);
        let warm = warm_up(&server, mode).await;
        let before = server.rss_kib();
        let mut streams = Vec::new();
        for _ in 0..MEASURED_STREAMS {
            streams.push(http1_stream(&server, mode).await);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        report(what, before, server.rss_kib());
        drop((warm, streams));
    }
}

/// A few streams first, so that what every server allocates once is in the baseline.
async fn warm_up(server: &MemoryServer, mode: &str) -> Vec<Box<dyn std::any::Any + Send>> {
    let mut held: Vec<Box<dyn std::any::Any + Send>> = Vec::new();
    for _ in 0..10 {
        held.push(http1_stream(server, mode).await);
    }
    held
}

/// An HTTP/1.1 stream past its `PB_CONNECT`: through TLS unless `mode` is `plain`.
async fn http1_stream(server: &MemoryServer, mode: &str) -> Box<dyn std::any::Any + Send> {
    const REQUEST: &[u8] = b"GET /api/realtime HTTP/1.1\r\nhost: localhost\r\n\r\n";
    if mode == "plain" {
        let mut tcp = TcpStream::connect(server.addr).await.unwrap();
        tcp.write_all(REQUEST).await.unwrap();
        read_until(&mut tcp, "}\n\n\r\n").await;
        return Box::new(tcp);
    }
    let mut tls = connect(server.addr, &server.pem, b"http/1.1").await;
    tls.write_all(REQUEST).await.unwrap();
    read_until(&mut tls, "}\n\n\r\n").await;
    Box::new(tls)
}
