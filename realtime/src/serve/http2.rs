//! One connection served by hyper's HTTP/2, as negotiated in the TLS handshake. The router
//! answers every request, stream requests included, and streams are written by hyper as
//! response bodies: the connection carries many of them, so none is taken from hyper.

use std::pin::pin;
use std::sync::Arc;

use hyper_util::rt::TokioIo;

use super::connection::Connection;
use super::context::{Phase, ServeContext};
use super::http1::ConnectionService;
use crate::http::handoff::Peer;

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
