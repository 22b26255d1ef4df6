//! Serving with connections the broker can cut ([`serve()`](crate::serve())): a client that stops reading stalls its
//! connection's writes, and a stalled connection never polls its stream again, so ending the
//! stream alone would leave the socket and its buffers behind. [`Listener`] wraps each accepted
//! socket so the broker can abort it when that client's queue overflows.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::extract::connect_info::{Connected, IntoMakeServiceWithConnectInfo};
use axum::middleware::AddExtension;
use axum::serve::{IncomingStream, Serve};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// Serves `router` on `listener` with the peer information the realtime endpoint uses: the
/// address (for PocketBase's same-address check) and the means to abort a stalled connection.
/// Add `.with_graceful_shutdown(rt.shutdown_after(signal))` to end open streams on shutdown.
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// let rt = realtime::Realtime::new();
/// let app = rt.mount(axum::Router::new());
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8090").await?;
/// realtime::serve(listener, app)
///     .with_graceful_shutdown(rt.shutdown_after(async { tokio::signal::ctrl_c().await.ok(); }))
///     .await
/// # }
/// ```
pub fn serve(listener: TcpListener, router: Router) -> Serve<Listener, MakeService, Service> {
    axum::serve(
        Listener(listener),
        router.into_make_service_with_connect_info::<Peer>(),
    )
}

/// How many connections may wait to be accepted. The operating system's usual 128 overflows
/// when a restarted server sees every client reconnect at once; Go servers use 4096 too.
const BACKLOG: u32 = 4096;

/// Binds a listener for [`serve`] with a listen backlog of 4096 (tokio's `TcpListener::bind`
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

/// The make-service [`serve`] runs: the router, told each connection's [`Peer`].
pub type MakeService = IntoMakeServiceWithConnectInfo<Router, Peer>;

/// The per-connection service [`serve`] runs.
pub type Service = AddExtension<Router, ConnectInfo<Peer>>;

/// A TCP listener whose connections the broker can abort. Use it through [`serve`].
#[derive(Debug)]
pub struct Listener(pub TcpListener);

impl axum::serve::Listener for Listener {
    type Io = Connection;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Connection, SocketAddr) {
        loop {
            match self.0.accept().await {
                Ok((stream, addr)) => {
                    // Events are small and latency matters more than packet count.
                    let _ = stream.set_nodelay(true);
                    return (
                        Connection {
                            stream,
                            abort: Abort::default(),
                        },
                        addr,
                    );
                }
                Err(err) if is_connection_error(&err) => {}
                Err(err) => {
                    // Out of file descriptors, most likely: wait for some to be freed.
                    tracing::error!("accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
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

/// A way to abort one connection from outside its task.
#[derive(Debug, Clone, Default)]
pub(crate) struct Abort(Arc<AbortState>);

#[derive(Debug, Default)]
struct AbortState {
    aborted: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Abort {
    /// Makes the connection's next read or write fail, and wakes its task to notice.
    pub(crate) fn abort(&self) {
        self.0.aborted.store(true, Ordering::Release);
        let waker = self
            .0
            .waker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn check(&self, cx: &Context<'_>) -> io::Result<()> {
        if self.0.aborted.load(Ordering::Acquire) {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "aborted by the realtime broker",
            ));
        }
        let mut waker = self.0.waker.lock().unwrap_or_else(PoisonError::into_inner);
        if !waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            *waker = Some(cx.waker().clone());
        }
        Ok(())
    }
}

/// An accepted connection that the broker can abort.
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    abort: Abort,
}

impl AsyncRead for Connection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let poll = Pin::new(&mut this.stream).poll_read(cx, buf);
        if poll.is_pending() {
            this.abort.check(cx)?;
        }
        poll
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let poll = Pin::new(&mut this.stream).poll_write(cx, buf);
        if poll.is_pending() {
            this.abort.check(cx)?;
        }
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let poll = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        if poll.is_pending() {
            this.abort.check(cx)?;
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// What the realtime endpoint learns about the peer of a connection served by [`serve`].
#[derive(Debug, Clone)]
pub struct Peer {
    addr: SocketAddr,
    pub(crate) abort: Abort,
}

impl Peer {
    /// The peer's address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Connected<IncomingStream<'_, Listener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, Listener>) -> Self {
        Self {
            addr: *stream.remote_addr(),
            abort: stream.io().abort.clone(),
        }
    }
}
