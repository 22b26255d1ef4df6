//! A round-robin HTTP/1.1 load balancer for the scale-out tests, as a deployment puts in front
//! of several nodes: no sticky sessions, every request to the next upstream.
//!
//! Each request gets a fresh connection to the next upstream in turn, even on one keep-alive
//! client connection, so an SDK's stream and its subscription `POST` land on different nodes.
//! An upstream that refuses the connection (a stopped node) is skipped for the next one.
//! Headers pass as they are and bodies stream both ways frame by frame, so Server-Sent Events
//! flow through unbuffered. The nodes see the balancer's address as the client's.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use http_body_util::{Either, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// How long a connection to an upstream may take before the next one is tried.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long an upstream may take to answer with a response head: a generous ceiling (a node
/// carrying a subscription to a silent owner answers 503 after 5 s), which only bounds a hang.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);

/// How many forwarded requests [`Balancer::forwarded`] remembers: enough for any test,
/// bounded for a long one.
const LOG_CAPACITY: usize = 4096;

/// The body of a response: the upstream's, streamed, or the balancer's own error.
type Body = Either<Incoming, Full<Bytes>>;

/// One request the balancer forwarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarded {
    /// Its method, e.g. `GET`.
    pub method: String,
    /// Its path and query.
    pub path: String,
    /// The index, in the list given to [`Balancer::start`], of the upstream that got it.
    pub upstream: usize,
}

/// A load balancer on `127.0.0.1:<free port>`, stopped when dropped (with every connection it
/// holds).
pub struct Balancer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

struct Shared {
    upstreams: Vec<SocketAddr>,
    /// The turn of the next request.
    next: AtomicUsize,
    log: Mutex<Vec<Forwarded>>,
}

impl Balancer {
    /// Starts balancing over `upstreams`, round-robin from the first.
    ///
    /// # Panics
    ///
    /// If `upstreams` is empty or no loopback port can be bound.
    pub async fn start(upstreams: Vec<SocketAddr>) -> Self {
        assert!(!upstreams.is_empty(), "a balancer needs an upstream");
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let shared = Arc::new(Shared {
            upstreams,
            next: AtomicUsize::new(0),
            log: Mutex::new(Vec::new()),
        });
        let task = tokio::spawn(accept(listener, Arc::clone(&shared)));
        Self { addr, shared, task }
    }

    /// Where it listens.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The requests forwarded so far (the latest 4096), in the order they were sent upstream.
    #[must_use]
    pub fn forwarded(&self) -> Vec<Forwarded> {
        self.shared.log().clone()
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        // The accept task owns the connections' tasks: aborting it drops them all.
        self.task.abort();
    }
}

impl Shared {
    fn log(&self) -> std::sync::MutexGuard<'_, Vec<Forwarded>> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn record(&self, request: &Request<Incoming>, upstream: usize) {
        let path = request
            .uri()
            .path_and_query()
            .map_or_else(|| "/".to_owned(), ToString::to_string);
        let mut log = self.log();
        if log.len() == LOG_CAPACITY {
            log.remove(0);
        }
        log.push(Forwarded {
            method: request.method().to_string(),
            path,
            upstream,
        });
    }
}

/// Serves every accepted connection on a task of its own, until aborted.
async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of descriptors, most likely: let some close instead of spinning.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        while connections.try_join_next().is_some() {}
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        connections.spawn(async move {
            let service = service_fn(move |request| forward(Arc::clone(&shared), request));
            // A client that goes away mid-request is no error of the balancer's.
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Sends `request` to the next upstream that accepts a connection, and answers with its
/// response, whose body streams as the upstream writes it.
async fn forward(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let count = shared.upstreams.len();
    let turn = shared.next.fetch_add(1, Ordering::Relaxed);
    for index in (turn..turn + count).map(|turn| turn % count) {
        let Some(stream) = connect(shared.upstreams[index]).await else {
            continue;
        };
        let Ok((mut sender, connection)) =
            hyper::client::conn::http1::handshake::<_, Incoming>(TokioIo::new(stream)).await
        else {
            continue;
        };
        // Drives the upstream connection while the response body streams; it ends when the
        // body is done or dropped (the client went away).
        tokio::spawn(connection);
        shared.record(&request, index);
        return Ok(
            match tokio::time::timeout(RESPONSE_TIMEOUT, sender.send_request(request)).await {
                Ok(Ok(response)) => response.map(Either::Left),
                Ok(Err(err)) => error(StatusCode::BAD_GATEWAY, &format!("upstream: {err}")),
                Err(_) => error(StatusCode::GATEWAY_TIMEOUT, "upstream: no answer"),
            },
        );
    }
    Ok(error(StatusCode::BAD_GATEWAY, "no upstream accepted"))
}

/// A connection to `addr`, or `None` if it refuses or does not answer in time.
async fn connect(addr: SocketAddr) -> Option<TcpStream> {
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
        .await
        .ok()?
        .ok()?;
    let _ = stream.set_nodelay(true);
    Some(stream)
}

fn error(status: StatusCode, message: &str) -> Response<Body> {
    let mut response = Response::new(Either::Right(Full::new(Bytes::from(format!(
        "balancer: {message}\n"
    )))));
    *response.status_mut() = status;
    response
}
