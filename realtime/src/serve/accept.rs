//! The accept loop: admits connections within the limits, spawns a task for each, and on
//! shutdown ends them all within a bounded time.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

use super::connection::Connection;
use super::context::{Phase, ServeContext};
use super::limits::{Connections, warn_now};
use super::{direct, protocol};
use crate::http::handoff::Peer;
use crate::sync::Abort;

impl ServeContext {
    /// Accepts connections until `signal`, then shuts down.
    pub(super) async fn run(
        self: Arc<Self>,
        listener: TcpListener,
        signal: impl Future<Output = ()>,
    ) -> io::Result<()> {
        let mut signal = std::pin::pin!(signal);
        let mut last_warning = None;
        loop {
            tokio::select! {
                () = &mut signal => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, addr)) => self.admit(stream, addr),
                    Err(err) if is_connection_error(&err) => {}
                    Err(err) => {
                        // Out of file descriptors, most likely: wait for some to be freed.
                        if warn_now(&mut last_warning) {
                            tracing::error!("accept failed, retrying: {err}");
                        }
                        tokio::select! {
                            () = &mut signal => break,
                            () = tokio::time::sleep(Duration::from_millis(100)) => {}
                        }
                    }
                },
            }
        }
        drop(listener);
        self.shut_down().await;
        Ok(())
    }

    fn admit(self: &Arc<Self>, stream: TcpStream, addr: SocketAddr) {
        let abort = Abort::default();
        let conn = Connection::new(stream, abort.clone(), self.write_timeout);
        let Some(admission) =
            Connections::admit(&self.connections, addr.ip(), &abort, conn.handoff())
        else {
            return; // dropping the socket closes it
        };
        // Events are small and latency matters more than packet count.
        let _ = conn.set_nodelay();
        let context = Arc::clone(self);
        tokio::spawn(async move {
            let taken = protocol::serve(conn, Peer::new(addr, abort), &context).await;
            drop(context);
            if let Some((conn, stream, headers)) = taken {
                // A task of its own: the stream's lifetime keeps only what it needs.
                tokio::spawn(async move {
                    let _admission = admission;
                    direct::serve(conn, stream, headers).await;
                });
            }
        });
    }

    /// Ends every connection: idle ones and those that never sent a whole request at once,
    /// streams after what they have queued, requests in flight when they are answered or
    /// when the shutdown timeout runs out, whichever is first.
    async fn shut_down(&self) {
        self.phase.send_replace(Phase::Draining);
        self.connections.abort_unused();
        let streams = self.rt.disconnect_all();
        tracing::info!(
            streams,
            connections = self.connections.open(),
            "shutting down"
        );
        if !self
            .connections
            .closed_by(Instant::now() + self.shutdown_timeout)
            .await
        {
            let cut = self.connections.abort_all();
            tracing::warn!(connections = cut, "shutdown timeout: cutting what is left");
            // Aborted connections fail at their next read or write, which the abort wakes.
            self.connections
                .closed_by(Instant::now() + Duration::from_secs(1))
                .await;
        }
        // The requests answered may have made sends the engine has yet to publish.
        if !self.rt.flush(self.shutdown_timeout).await {
            tracing::warn!("shutdown timeout: some sends may not have reached the other nodes");
        }
    }
}

fn is_connection_error(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}
