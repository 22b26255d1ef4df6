//! Serving ([`Realtime::serve`]): hyper runs the application's router on every connection,
//! with the limits and deadlines a public server needs, and event streams the router accepts
//! are written by the server itself.
//!
//! - **Connections** are limited in total and per client address
//!   ([`Builder::max_connections`](crate::Builder::max_connections),
//!   [`Builder::max_connections_per_ip`](crate::Builder::max_connections_per_ip); a
//!   [trusted proxy](crate::Builder::trusted_proxies)'s count in the total only); one over
//!   a limit is closed at once, and running out of descriptors is logged while the accept
//!   loop waits for some to be freed.
//! - **Deadlines**: a request head must arrive whole within
//!   [`Builder::request_head_timeout`](crate::Builder::request_head_timeout) of the connection
//!   opening or of the previous response (so it is also the idle keep-alive deadline), and a
//!   write that makes no progress for
//!   [`Builder::write_timeout`](crate::Builder::write_timeout) cuts the connection (a client
//!   that stopped reading).
//! - **Streams**: the router answers every request, stream requests included, so the
//!   application's routes and `tower` layers decide who gets a stream. When the endpoint
//!   mounted by [`Realtime::mount`] accepts one, its frames are written straight to the socket
//!   (about 5 KiB per idle stream instead of hyper's ~20 KiB of buffers), after the status and
//!   headers the router answered with; layers that wrap the response *body* do not see that
//!   body. [`Builder::direct_streams`](crate::Builder::direct_streams)`(false)` leaves streams
//!   to hyper.
//! - **Shutdown** ([`Serve::with_graceful_shutdown`]): the listener closes, connections that
//!   never sent a request and idle ones close at once, streams end after what is queued,
//!   requests in flight get [`Builder::shutdown_timeout`](crate::Builder::shutdown_timeout),
//!   and whatever is left then (a client that stopped reading, a half-sent head) is cut.

mod accept;
mod connection;
mod context;
mod direct;
mod http1;
mod limits;

use std::future::{Future, IntoFuture};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;

use axum::Router;
use tokio::net::{TcpListener, TcpSocket};

use crate::broker::Realtime;
pub use crate::http::handoff::Peer;

impl Realtime {
    /// Serves `router` on `listener` with what the realtime endpoint needs: the peer's address
    /// (for PocketBase's same-address check), the means to cut a client that stops reading,
    /// event streams written straight to their sockets, and the limits and deadlines described
    /// in [`serve`](crate::serve). Add `.with_graceful_shutdown(signal)` to stop on a signal.
    ///
    /// ```no_run
    /// # async fn run() -> std::io::Result<()> {
    /// let rt = axum_realtime::Realtime::new();
    /// let app = rt.mount(axum::Router::new());
    /// let listener = axum_realtime::serve::bind("127.0.0.1:8090".parse().unwrap())?;
    /// rt.serve(listener, app)
    ///     .with_graceful_shutdown(async { tokio::signal::ctrl_c().await.ok(); })
    ///     .await
    /// # }
    /// ```
    pub fn serve(&self, listener: TcpListener, router: Router) -> Serve {
        Serve {
            rt: self.clone(),
            listener,
            router,
            signal: Box::pin(std::future::pending()),
        }
    }
}

/// A server made by [`Realtime::serve`]: await it to run it.
#[must_use = "a server does nothing until awaited"]
pub struct Serve {
    rt: Realtime,
    listener: TcpListener,
    router: Router,
    signal: Pin<Box<dyn Future<Output = ()> + Send>>,
}

impl Serve {
    /// Stops accepting when `signal` completes, then ends every connection within
    /// [`Builder::shutdown_timeout`](crate::Builder::shutdown_timeout) (open streams end at
    /// once, after what they have queued).
    pub fn with_graceful_shutdown(
        mut self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> Self {
        self.signal = Box::pin(signal);
        self
    }

    /// The address the server listens on.
    ///
    /// # Errors
    ///
    /// If the operating system cannot tell.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

impl IntoFuture for Serve {
    type Output = io::Result<()>;
    type IntoFuture = Pin<Box<dyn Future<Output = io::Result<()>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        let Self {
            rt,
            listener,
            router,
            signal,
        } = self;
        Box::pin(context::ServeContext::new(rt, router).run(listener, signal))
    }
}

impl std::fmt::Debug for Serve {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Serve")
            .field("listener", &self.listener)
            .finish_non_exhaustive()
    }
}

/// How many connections may wait to be accepted. The operating system's usual 128 overflows
/// when a restarted server sees every client reconnect at once; Go servers use 4096 too.
const BACKLOG: u32 = 4096;

/// Binds a listener for [`Realtime::serve`] with a listen backlog of 4096 (tokio's `TcpListener::bind`
/// uses 128, which a crowd of reconnecting clients overflows).
///
/// # Errors
///
/// If the address cannot be bound. Must be called inside a tokio runtime.
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}
