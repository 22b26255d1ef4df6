//! The client's address behind reverse proxies (`Builder::trusted_proxies`), on both stream
//! paths: `rt.serve` (streams written by the server itself) and plain `axum::serve` with
//! `ConnectInfo<SocketAddr>`. Loopback addresses stand in for proxies: the test's connections
//! come from 127.0.0.2 ("proxy A") and 127.0.0.3 ("proxy B"), or 127.0.0.4 (untrusted).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum_realtime::{Builder, ForwardedHeader, Realtime, TrustedProxies};
use realtime_tests::raw_http::{READ_TIMEOUT, Response, SseStream, connect_from, request_from};
use realtime_tests::server::TestServer;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

const PROXY_A: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const PROXY_B: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));
const STRANGER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 4));

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// The two ways a stream is served.
#[derive(Debug, Clone, Copy)]
enum Path {
    /// `rt.serve`: the connection writes the stream itself.
    Serve,
    /// `axum::serve` with `into_make_service_with_connect_info::<SocketAddr>()`.
    Axum,
}

const PATHS: [Path; 2] = [Path::Serve, Path::Axum];

/// A server on `127.0.0.1:<free port>`, stopped when dropped.
enum Server {
    Serve(TestServer),
    Axum(SocketAddr, JoinHandle<()>),
}

impl Server {
    async fn start(path: Path, rt: &Realtime) -> Self {
        let app = rt.mount(Router::new());
        match path {
            Path::Serve => Self::Serve(TestServer::start(rt, app).await),
            Path::Axum => {
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
                let addr = listener.local_addr().expect("local address");
                let service = app.into_make_service_with_connect_info::<SocketAddr>();
                let task = tokio::spawn(async move {
                    axum::serve(listener, service).await.expect("axum::serve");
                });
                Self::Axum(addr, task)
            }
        }
    }

    fn addr(&self) -> SocketAddr {
        match self {
            Self::Serve(server) => server.addr,
            Self::Axum(addr, _) => *addr,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Self::Axum(_, task) = self {
            task.abort();
        }
    }
}

/// Proxies A and B trusted, reading `X-Forwarded-For`.
fn behind_proxies() -> Builder {
    Realtime::builder().trusted_proxies(TrustedProxies::new(["127.0.0.2", "127.0.0.3"]).unwrap())
}

/// A stream opened from `from` with extra header lines; its client id.
async fn open(server: &Server, from: IpAddr, headers: &[&str]) -> (SseStream, String) {
    let socket = connect_from(from, server.addr()).await;
    let mut stream = SseStream::open_on(socket, server.addr(), headers).await;
    assert_eq!(stream.status, 200);
    let id = stream.client_id().await;
    (stream, id)
}

/// `Client::remote_ip` of a stream opened from `from` with `headers`.
async fn remote_ip_of(rt: &Realtime, server: &Server, from: IpAddr, headers: &[&str]) -> IpAddr {
    let (_stream, id) = open(server, from, headers).await;
    rt.client(&id)
        .expect("the client is connected")
        .remote_ip()
        .expect("the server knows the peer")
}

/// `POST /api/realtime` subscribing `id` to `chat`, from `from` with extra header lines.
async fn subscribe_from(server: &Server, from: IpAddr, id: &str, headers: &[&str]) -> Response {
    let mut head = String::from("POST /api/realtime HTTP/1.1\r\nContent-Type: application/json");
    for line in headers {
        head.push_str("\r\n");
        head.push_str(line);
    }
    let body = format!(r#"{{"clientId":"{id}","subscriptions":["chat"]}}"#);
    request_from(from, server.addr(), &head, body.as_bytes()).await
}

const WRONG_ADDRESS: &str = r#"{"data":{},"message":"Invalid realtime client.","status":400}"#;

#[tokio::test]
async fn an_untrusted_peer_cannot_spoof_its_address() {
    for path in PATHS {
        let rt = behind_proxies().build();
        let server = Server::start(path, &rt).await;
        let spoofed = ["X-Forwarded-For: 203.0.113.7", "X-Real-IP: 203.0.113.7"];
        assert_eq!(
            remote_ip_of(&rt, &server, STRANGER, &spoofed).await,
            STRANGER,
            "{path:?}"
        );
        // Nor can it pass a POST off as another's by naming that other's address.
        let (_stream, id) = open(&server, STRANGER, &spoofed).await;
        let response = subscribe_from(&server, PROXY_A, &id, &[spoofed[0]]).await;
        assert_eq!(response.status, 400, "{path:?}");
    }
}

#[tokio::test]
async fn a_trusted_proxy_names_the_rightmost_untrusted_hop() {
    for path in PATHS {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let hook_seen = Arc::clone(&seen);
        let rt = Realtime::builder()
            .trusted_proxies(TrustedProxies::new(["127.0.0.1/8"]).unwrap())
            .on_connect(move |client| hook_seen.lock().unwrap().push(client.remote_ip()))
            .build();
        let server = Server::start(path, &rt).await;
        for (header, client) in [
            ("X-Forwarded-For: 203.0.113.7, 127.0.0.1", "203.0.113.7"),
            // A client writing its own leftmost entry gets it ignored.
            ("X-Forwarded-For: 1.2.3.4, 203.0.113.7", "203.0.113.7"),
            (
                "X-Forwarded-For: 1.2.3.4, 203.0.113.7, 127.0.0.9",
                "203.0.113.7",
            ),
        ] {
            assert_eq!(
                remote_ip_of(&rt, &server, PROXY_A, &[header]).await,
                ip(client),
                "{path:?} {header}"
            );
        }
        assert_eq!(
            remote_ip_of(&rt, &server, PROXY_A, &[]).await,
            PROXY_A,
            "{path:?}: no header, the proxy itself"
        );
        let expected: Vec<_> = ["203.0.113.7", "203.0.113.7", "203.0.113.7", "127.0.0.2"]
            .map(|text| Some(ip(text)))
            .into();
        assert_eq!(
            *seen.lock().unwrap(),
            expected,
            "{path:?}: the connect hook sees it"
        );
    }
}

/// The case of the issue: behind two proxy instances, a stream and its subscription `POST`
/// arrive from different socket addresses.
#[tokio::test]
async fn a_stream_and_its_post_may_come_through_different_proxies() {
    for path in PATHS {
        let rt = behind_proxies().build();
        let server = Server::start(path, &rt).await;
        let forwarded = ["X-Forwarded-For: 203.0.113.7"];
        let (mut stream, id) = open(&server, PROXY_A, &forwarded).await;
        let response = subscribe_from(&server, PROXY_B, &id, &forwarded).await;
        assert_eq!(response.status, 204, "{path:?}: {}", response.text());
        let delivery = rt.send_to("chat", "hi", axum_realtime::everyone).unwrap();
        assert_eq!(delivery.reached, 1, "{path:?}");
        let event = stream.next_event(READ_TIMEOUT).await.expect("the message");
        assert!(event.contains("event:chat"), "{event}");

        // Through a trusted proxy, another client is still another address.
        let (_stream, id) = open(&server, PROXY_A, &forwarded).await;
        let response =
            subscribe_from(&server, PROXY_B, &id, &["X-Forwarded-For: 198.51.100.9"]).await;
        assert_eq!(
            (response.status, response.text().as_str()),
            (400, WRONG_ADDRESS),
            "{path:?}"
        );
    }
}

/// Without the setting, the two proxies are two addresses, as in PocketBase (400, "Invalid
/// realtime client.").
#[tokio::test]
async fn without_trusted_proxies_the_proxies_are_the_addresses() {
    for path in PATHS {
        let rt = Realtime::new();
        let server = Server::start(path, &rt).await;
        let forwarded = ["X-Forwarded-For: 203.0.113.7"];
        let (_stream, id) = open(&server, PROXY_A, &forwarded).await;
        assert_eq!(rt.client(&id).unwrap().remote_ip(), Some(PROXY_A));
        let response = subscribe_from(&server, PROXY_B, &id, &forwarded).await;
        assert_eq!(
            (response.status, response.text().as_str()),
            (400, WRONG_ADDRESS),
            "{path:?}"
        );
        assert!(rt.client(&id).unwrap().subscriptions().is_empty());
    }
}

#[tokio::test]
async fn forwarded_and_x_real_ip_are_read_when_chosen() {
    for path in PATHS {
        let proxies = TrustedProxies::new(["127.0.0.2"]).unwrap();
        let rt = Realtime::builder()
            .trusted_proxies(proxies.clone().header(ForwardedHeader::Forwarded))
            .build();
        let server = Server::start(path, &rt).await;
        let headers = [
            r#"Forwarded: for="[2001:db8::1]:4711";proto=https, for=127.0.0.2"#,
            "X-Forwarded-For: 203.0.113.7",
        ];
        assert_eq!(
            remote_ip_of(&rt, &server, PROXY_A, &headers).await,
            ip("2001:db8::1"),
            "{path:?}"
        );

        let rt = Realtime::builder()
            .trusted_proxies(proxies.header(ForwardedHeader::XRealIp))
            .build();
        let server = Server::start(path, &rt).await;
        let headers = ["X-Real-IP: 198.51.100.2", "X-Forwarded-For: 203.0.113.7"];
        assert_eq!(
            remote_ip_of(&rt, &server, PROXY_A, &headers).await,
            ip("198.51.100.2"),
            "{path:?}"
        );
    }
}

#[tokio::test]
async fn a_malformed_header_leaves_the_peer() {
    for path in PATHS {
        let rt = behind_proxies().build();
        let server = Server::start(path, &rt).await;
        for header in [
            "X-Forwarded-For: not-an-address",
            "X-Forwarded-For: 203.0.113.7, [::1",
            "X-Forwarded-For: 203.0.113.7, unknown",
            "X-Forwarded-For: 203.0.113.7:99999",
            "X-Forwarded-For: ,,,",
            "X-Forwarded-For: 203.0.113.7, \"é\\",
        ] {
            assert_eq!(
                remote_ip_of(&rt, &server, PROXY_A, &[header]).await,
                PROXY_A,
                "{path:?} {header}"
            );
        }
    }
}

/// A header of a quarter MiB of trusted hops, after a forged client (hyper refuses heads past
/// about 400 KiB, so this is near the most that reaches the endpoint): only its last 8 KiB are
/// read, so the forged client is never reached and the proxy is the client.
#[tokio::test]
async fn a_huge_header_is_read_only_to_its_bound() {
    let hops = ", 127.0.0.2".repeat((256 << 10) / 11);
    let header = format!("X-Forwarded-For: 1.2.3.4{hops}");
    for path in PATHS {
        let rt = behind_proxies().build();
        let server = Server::start(path, &rt).await;
        let started = Instant::now();
        for _ in 0..20 {
            assert_eq!(
                remote_ip_of(&rt, &server, PROXY_A, &[&header]).await,
                PROXY_A,
                "{path:?}"
            );
        }
        // Not a performance figure: an attack ceiling. Twenty such requests (5 MiB of hops)
        // take milliseconds; only a walk without bound over a debug build could come near.
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{path:?}: {:?}",
            started.elapsed()
        );
    }
}

/// A trusted proxy carries everyone: `rt.serve` does not hold it to `max_connections_per_ip`,
/// while an untrusted address still is.
#[tokio::test]
async fn a_trusted_proxy_is_not_held_to_the_per_address_limit() {
    let rt = behind_proxies().max_connections_per_ip(2).build();
    let server = Server::start(Path::Serve, &rt).await;
    let mut streams = Vec::new();
    for n in 0..5 {
        let header = format!("X-Forwarded-For: 203.0.113.{n}");
        streams.push(open(&server, PROXY_A, &[&header]).await);
    }
    assert_eq!(rt.clients().len(), 5);

    let mut refused = 0;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut socket = connect_from(STRANGER, server.addr()).await;
        if realtime_tests::raw_http::closed_within(&mut socket, Duration::from_millis(300)).await {
            refused += 1;
        } else {
            held.push(socket);
        }
    }
    assert_eq!(
        (held.len(), refused),
        (2, 1),
        "the untrusted address keeps its limit"
    );
}

/// The streams of one forwarded client are held to `max_connections_per_ip` whichever proxy
/// they come through, on either server; other clients of the same proxies are not affected.
#[tokio::test]
async fn a_forwarded_client_is_held_to_the_per_address_limit() {
    for path in PATHS {
        let rt = behind_proxies().max_connections_per_ip(2).build();
        let server = Server::start(path, &rt).await;
        let client = ["X-Forwarded-For: 203.0.113.7"];
        let first = open(&server, PROXY_A, &client).await;
        let _second = open(&server, PROXY_B, &client).await;

        let refused = request_from(
            PROXY_A,
            server.addr(),
            &format!("GET /api/realtime HTTP/1.1\r\n{}", client[0]),
            b"",
        )
        .await;
        assert_eq!(
            (refused.status, refused.text().as_str()),
            (
                429,
                r#"{"data":{},"message":"Too Many Requests.","status":429}"#
            ),
            "{path:?}"
        );
        assert_eq!(rt.clients().len(), 2, "{path:?}: no client was registered");

        let _other = open(&server, PROXY_A, &["X-Forwarded-For: 198.51.100.9"]).await;
        let _proxy_itself = open(&server, PROXY_A, &[]).await;
        let _proxy_itself_again = open(&server, PROXY_A, &[]).await;
        let _proxy_itself_thrice = open(&server, PROXY_A, &[]).await;

        // A place is free again once a stream ends.
        drop(first);
        realtime_tests::wait::eventually("the first stream is gone", || rt.clients().len() == 5)
            .await;
        let _again = open(&server, PROXY_B, &client).await;
    }
}
