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

/// A TLS connection that trusts `tls`'s certificate and offers only `alpn`.
async fn connect(addr: SocketAddr, tls: &Tls, alpn: &[u8]) -> TlsStream<TcpStream> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(tls.certificate_pem().as_bytes()) {
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
    tls: &Tls,
) -> (
    SendRequest<Full<Bytes>>,
    tokio::task::JoinHandle<hyper::Result<()>>,
) {
    let io = TokioIo::new(connect(addr, tls, b"h2").await);
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
    let (mut send, _conn) = h2_connect(server.addr, &tls).await;
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
    let mut stream = connect(server.addr, &tls, b"http/1.1").await;
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
    let mut subscribe = connect(server.addr, &tls, b"http/1.1").await;
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
    let (_send, conn) = h2_connect(server.addr, &tls).await;
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
    let (mut send, _conn) = h2_connect(server.addr, &tls).await;
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
    let (mut send, conn) = h2_connect(server.addr, &tls).await;
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
