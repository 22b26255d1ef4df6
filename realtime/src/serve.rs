//! Serving ([`Realtime::serve`]) with connections the broker can cut: a client that stops reading stalls its
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

use bytes::Bytes;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::extract::connect_info::{Connected, IntoMakeServiceWithConnectInfo};
use axum::middleware::AddExtension;
use axum::serve::{IncomingStream, Serve};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;

use crate::broker::Realtime;
use crate::fast_stream;

impl Realtime {
    /// Serves `router` on `listener` with what the realtime endpoint needs: the peer's address
    /// (for PocketBase's same-address check), the means to cut a client that stops reading,
    /// and event streams written straight to their sockets. Add
    /// `.with_graceful_shutdown(rt.shutdown_after(signal))` to end open streams on shutdown.
    ///
    /// A connection whose first request is a plain same-origin `GET /api/realtime` is answered
    /// by the broker itself, byte for byte as the mounted route would answer it, but without
    /// an HTTP connection's buffers held for the stream's lifetime; every other connection,
    /// and every cross-origin stream request, goes through `router` and its layers.
    ///
    /// ```no_run
    /// # async fn run() -> std::io::Result<()> {
    /// let rt = realtime::Realtime::new();
    /// let app = rt.mount(axum::Router::new());
    /// let listener = realtime::serve::bind("127.0.0.1:8090".parse().unwrap())?;
    /// rt.serve(listener, app)
    ///     .with_graceful_shutdown(rt.shutdown_after(async { tokio::signal::ctrl_c().await.ok(); }))
    ///     .await
    /// # }
    /// ```
    pub fn serve(
        &self,
        listener: TcpListener,
        router: Router,
    ) -> Serve<Listener, MakeService, Service> {
        let (handoff, accepted) = mpsc::channel(1024);
        let listener = Listener {
            inner: listener,
            rt: self.clone(),
            handoff,
            accepted,
        };
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<Peer>(),
        )
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

/// The make-service [`Realtime::serve`] runs: the router, told each connection's [`Peer`].
pub type MakeService = IntoMakeServiceWithConnectInfo<Router, Peer>;

/// The per-connection service [`Realtime::serve`] runs.
pub type Service = AddExtension<Router, ConnectInfo<Peer>>;

/// A TCP listener whose connections the broker can abort, and which serves event streams
/// itself. Made by [`Realtime::serve`].
#[derive(Debug)]
pub struct Listener {
    inner: TcpListener,
    rt: Realtime,
    /// Connections that turned out not to be event streams, for the router.
    handoff: mpsc::Sender<(Connection, SocketAddr)>,
    accepted: mpsc::Receiver<(Connection, SocketAddr)>,
}

impl axum::serve::Listener for Listener {
    type Io = Connection;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Connection, SocketAddr) {
        loop {
            tokio::select! {
                biased;
                Some(connection) = self.accepted.recv() => return connection,
                accepted = self.inner.accept() => match accepted {
                    Ok((stream, addr)) => {
                        // Events are small and latency matters more than packet count.
                        let _ = stream.set_nodelay(true);
                        let connection = Connection {
                            stream,
                            prefix: Bytes::new(),
                            abort: Abort::default(),
                        };
                        tokio::spawn(route(connection, addr, self.rt.clone(), self.handoff.clone()));
                    }
                    Err(err) if is_connection_error(&err) => {}
                    Err(err) => {
                        // Out of file descriptors, most likely: wait for some to be freed.
                        tracing::error!("accept failed: {err}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// Serves a new connection's event stream, or hands the connection to the router.
async fn route(
    mut connection: Connection,
    addr: SocketAddr,
    rt: Realtime,
    handoff: mpsc::Sender<(Connection, SocketAddr)>,
) {
    match fast_stream::route(&mut connection).await {
        fast_stream::Route::Stream => fast_stream::serve_stream(connection, addr, rt).await,
        fast_stream::Route::Router(read) => {
            connection.prefix = read;
            let _ = handoff.send((connection, addr)).await;
        }
        fast_stream::Route::Gone => {}
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
    /// Bytes already read from the socket (while routing), returned before any others.
    prefix: Bytes,
    abort: Abort,
}

impl Connection {
    pub(crate) fn abort(&self) -> Abort {
        self.abort.clone()
    }
}

impl AsyncRead for Connection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix.split_to(n));
            return Poll::Ready(Ok(()));
        }
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

/// What the realtime endpoint learns about the peer of a connection served by [`Realtime::serve`].
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
