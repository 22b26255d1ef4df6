//! One connection served by hyper's HTTP/2, as negotiated in the TLS handshake. The router
//! answers every request, stream requests included, and streams are written by hyper as
//! response bodies: the connection carries many of them, so none is taken from hyper.

use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http2::Builder;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};

use super::connection::Connection;
use super::context::{Phase, ServeContext};
use super::http1::ConnectionService;
use crate::http::handoff::Peer;

/// Streams one connection may have open at once (nginx's default too): the limits on
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

/// Serves `conn` until the client leaves or the server shuts down (GOAWAY: the streams open
/// end as the server ends them, then the connection closes).
pub(super) async fn serve(conn: Connection, peer: Peer, context: &ServeContext) {
    let handoff = Arc::clone(conn.handoff());
    let service = ConnectionService::new(context, peer, &handoff, false);
    let mut http = pin!(context.http2.serve_connection(TokioIo::new(conn), service));
    let mut phase = context.phase.subscribe();
    let mut draining = *phase.borrow() != Phase::Running;
    if draining {
        http.as_mut().graceful_shutdown();
    }
    // A client that sends no request gets no longer than an HTTP/1.1 one to send its head.
    let mut first_request = pin!(tokio::time::sleep(context.request_head_timeout));
    let mut awaiting_first_request = true;
    let served = loop {
        tokio::select! {
            served = http.as_mut() => break served,
            changed = phase.changed(), if !draining => {
                if changed.is_err() || *phase.borrow() != Phase::Running {
                    draining = true;
                    http.as_mut().graceful_shutdown();
                }
            }
            () = first_request.as_mut(), if awaiting_first_request => {
                awaiting_first_request = false;
                if !handoff.has_served() {
                    tracing::debug!("HTTP/2 connection sent no request in time");
                    return;
                }
            }
        }
    };
    if let Err(err) = served {
        tracing::debug!("HTTP/2 connection ended: {err}");
    }
}
