//! Which protocol an admitted connection speaks: TLS first when the server has a certificate
//! (the handshake bounded by the request head timeout), then HTTP/2 if the client chose it,
//! otherwise HTTP/1.1.

use super::connection::Connection;
use super::context::ServeContext;
use super::http1::{self, Taken};
use crate::http::handoff::Peer;

/// Serves `conn` as its protocol says; returns a stream taken from hyper (HTTP/1.1 only).
pub(super) async fn serve(conn: Connection, peer: Peer, context: &ServeContext) -> Option<Taken> {
    #[cfg(feature = "tls")]
    let conn = match &context.tls {
        Some(tls) => {
            let conn = handshake(conn, tls, context).await?;
            if conn.negotiated_h2() {
                super::http2::serve(conn, peer, context).await;
                return None;
            }
            conn
        }
        None => conn,
    };
    http1::serve(conn, peer, context).await
}

/// The TLS handshake, given as long as a request head: a client that sends nothing, or
/// dribbles its hello, is cut.
#[cfg(feature = "tls")]
async fn handshake(
    conn: Connection,
    tls: &super::Tls,
    context: &ServeContext,
) -> Option<Connection> {
    match tokio::time::timeout(context.request_head_timeout, conn.accept_tls(tls)).await {
        Ok(Ok(conn)) => Some(conn),
        Ok(Err(err)) => {
            tracing::debug!("TLS handshake failed: {err}");
            None
        }
        Err(_) => {
            tracing::debug!("TLS handshake timed out");
            None
        }
    }
}
