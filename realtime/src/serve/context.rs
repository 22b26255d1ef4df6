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
            http2: super::http2::builder(),
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
