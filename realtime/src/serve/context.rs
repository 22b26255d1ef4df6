//! What every connection task of one server shares: the router, hyper's settings, the limits,
//! and where the server is in its life.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::TokioTimer;
use tokio::sync::watch;

use super::limits::Connections;
use crate::broker::Realtime;

/// Where the server is in its life; connections follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Running,
    /// No new connections; finish what is in flight.
    Draining,
}

/// What every connection task of one server shares.
pub(super) struct ServeContext {
    pub(super) rt: Realtime,
    pub(super) router: Router,
    pub(super) http1: hyper::server::conn::http1::Builder,
    /// Used on connections whose client chose HTTP/2 in the TLS handshake.
    #[cfg(feature = "tls")]
    pub(super) http2: hyper::server::conn::http2::Builder<hyper_util::rt::TokioExecutor>,
    /// The certificate, when the server terminates TLS itself.
    #[cfg(feature = "tls")]
    pub(super) tls: Option<super::Tls>,
    /// The TLS handshake's deadline, and an HTTP/2 connection's for its first request.
    #[cfg(feature = "tls")]
    pub(super) request_head_timeout: Duration,
    pub(super) direct_streams: bool,
    pub(super) phase: watch::Sender<Phase>,
    pub(super) write_timeout: Option<Duration>,
    pub(super) shutdown_timeout: Duration,
    pub(super) connections: Arc<Connections>,
}

impl ServeContext {
    pub(super) fn new(
        rt: Realtime,
        router: Router,
        #[cfg(feature = "tls")] tls: Option<super::Tls>,
    ) -> Arc<Self> {
        let config = &rt.shared().config.serve;
        let mut http1 = hyper::server::conn::http1::Builder::new();
        // Hyper restarts this timer whenever a connection waits for a request head, so it is
        // both the head deadline and the idle keep-alive deadline.
        http1
            .timer(TokioTimer::new())
            .header_read_timeout(config.request_head_timeout);
        Arc::new(Self {
            router,
            http1,
            #[cfg(feature = "tls")]
            http2: http2_settings::builder(),
            #[cfg(feature = "tls")]
            tls,
            #[cfg(feature = "tls")]
            request_head_timeout: config.request_head_timeout,
            direct_streams: config.direct_streams,
            phase: watch::Sender::new(Phase::Running),
            write_timeout: config.write_timeout,
            shutdown_timeout: config.shutdown_timeout,
            connections: Arc::new(Connections::new(
                config.max_connections,
                config.max_connections_per_ip,
                rt.shared().config.trusted_proxies.clone(),
            )),
            rt,
        })
    }
}

/// HTTP/2's bounds, as hyper's builder takes them.
#[cfg(feature = "tls")]
mod http2_settings {
    use std::time::Duration;

    use hyper::server::conn::http2::Builder;
    use hyper_util::rt::{TokioExecutor, TokioTimer};

    /// Streams one HTTP/2 connection may have open at once (nginx's default too): the limits on
    /// connections per address count connections, so this bounds the streams behind each.
    const MAX_CONCURRENT_STREAMS: u32 = 100;
    /// Streams a client may open and reset before the server has seen them (the "rapid reset"
    /// attack): past this the connection is closed.
    const MAX_PENDING_RESET_STREAMS: usize = 20;
    /// The largest header block accepted, as hyper's HTTP/1.1 read buffer bounds a head.
    const MAX_HEADER_LIST_SIZE: u32 = 16 * 1024;
    /// What one stream may have waiting to be sent (hyper's default is 400 KiB): a client that
    /// stops reading holds this much per stream, then its queue fills and it is cut.
    const MAX_SEND_BUFFER: usize = 32 * 1024;
    /// How often an idle connection is pinged, and how long the answer may take: a peer that
    /// vanished without closing its connection is noticed, with all of its streams.
    const PING_INTERVAL: Duration = Duration::from_secs(30);
    const PING_TIMEOUT: Duration = Duration::from_secs(20);

    /// Hyper's HTTP/2 server with the bounds above.
    pub(super) fn builder() -> Builder<TokioExecutor> {
        let mut builder = Builder::new(TokioExecutor::new());
        builder
            .timer(TokioTimer::new())
            .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
            .max_pending_accept_reset_streams(MAX_PENDING_RESET_STREAMS)
            .max_header_list_size(MAX_HEADER_LIST_SIZE)
            .max_send_buf_size(MAX_SEND_BUFFER)
            .keep_alive_interval(PING_INTERVAL)
            .keep_alive_timeout(PING_TIMEOUT);
        builder
    }
}
