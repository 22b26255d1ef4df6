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
//! - **TLS and HTTP/2** (feature `tls`, [`Serve::with_tls`]): the server terminates TLS
//!   itself and offers HTTP/2 and HTTP/1.1 (ALPN). The handshake must finish within the
//!   request head timeout. On HTTP/2 one connection carries up to 100 streams (every tab of a
//!   browser shares it, where HTTP/1.1 allows a browser 6 connections per site), written by
//!   hyper rather than directly; a stream the broker cuts for overflowing its queue cuts its
//!   connection, whose socket its other streams share. A connection that sends no request
//!   within the head timeout is closed, an idle one is pinged every 30 s, and shutdown sends
//!   `GOAWAY`. Over HTTP/1.1 everything above holds, through TLS.

mod accept;
mod connection;
mod context;
mod direct;
mod http1;
#[cfg(feature = "tls")]
mod http2;
mod limits;
mod protocol;
mod shared_tcp;
mod socket;
#[cfg(feature = "tls")]
mod tls;

use std::future::{Future, IntoFuture};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;

use axum::Router;
use tokio::net::{TcpListener, TcpSocket};

use crate::broker::Realtime;
pub use crate::http::handoff::Peer;
#[cfg(feature = "tls")]
pub use tls::{Tls, TlsError};

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
            #[cfg(feature = "tls")]
            tls: None,
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
    #[cfg(feature = "tls")]
    tls: Option<Tls>,
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

    /// Terminates TLS with `tls`'s certificate, offering HTTP/2 and HTTP/1.1 (ALPN): browsers
    /// then multiplex every tab's stream over one connection instead of holding one of the six
    /// HTTP/1.1 connections they allow a site each. Behind a reverse proxy that terminates
    /// TLS, leave this out.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use axum_realtime::serve::Tls;
    /// let rt = axum_realtime::Realtime::new();
    /// let app = rt.mount(axum::Router::new());
    /// let listener = axum_realtime::serve::bind("0.0.0.0:443".parse()?)?;
    /// let tls = Tls::from_pem_files("fullchain.pem", "privkey.pem")?;
    /// rt.serve(listener, app).with_tls(tls).await?;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "tls")]
    pub fn with_tls(mut self, tls: Tls) -> Self {
        self.tls = Some(tls);
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
            #[cfg(feature = "tls")]
            tls,
        } = self;
        let context = context::ServeContext::new(
            rt,
            router,
            #[cfg(feature = "tls")]
            tls,
        );
        Box::pin(context.run(listener, signal))
    }
}

impl Serve {
    #[cfg_attr(
        not(feature = "tls"),
        allow(
            clippy::unused_self,
            reason = "reads the TLS setting when the feature is on"
        )
    )]
    fn tls_enabled(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.tls.is_some();
        #[cfg(not(feature = "tls"))]
        false
    }
}

impl std::fmt::Debug for Serve {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Serve")
            .field("listener", &self.listener)
            .field("tls", &self.tls_enabled())
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
