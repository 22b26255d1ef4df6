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
    /// A plain same-origin `GET /api/realtime` is answered by the broker itself, byte for byte
    /// as the mounted route would answer it, but without an HTTP connection's buffers held for
    /// the stream's lifetime: whether it opens a connection or follows other requests on a
    /// keep-alive one (browsers reuse those for `EventSource`). Every other request, and every
    /// cross-origin stream request, goes through `router` and its layers.
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
                        let connection = Connection::new(stream, Bytes::new());
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
            connection.takeover = Some(Takeover {
                rt,
                addr,
                handoff: handoff.clone(),
            });
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
///
/// When the router serves it and a later request on it is a plain stream request (a browser
/// reuses its keep-alive connections for `EventSource`), the router is told the client left
/// and, once the router lets go of the connection, the broker serves the stream itself.
#[derive(Debug)]
pub struct Connection {
    /// `None` only once handed over, on drop.
    stream: Option<TcpStream>,
    /// Bytes already read from the socket (while routing), returned before any others.
    prefix: Bytes,
    abort: Abort,
    /// Where a later stream request goes; set while the router serves the connection.
    takeover: Option<Takeover>,
    /// A stream request taken from under the router, served once the router drops this.
    taken: Option<Bytes>,
    /// The router wrote since it last read: it answered what it had read, so the next bytes
    /// start a new request rather than continue one.
    answered: bool,
}

#[derive(Debug)]
struct Takeover {
    rt: Realtime,
    addr: SocketAddr,
    handoff: mpsc::Sender<(Connection, SocketAddr)>,
}

impl Connection {
    fn new(stream: TcpStream, prefix: Bytes) -> Self {
        Self {
            stream: Some(stream),
            prefix,
            abort: Abort::default(),
            takeover: None,
            taken: None,
            answered: false,
        }
    }

    pub(crate) fn abort(&self) -> Abort {
        self.abort.clone()
    }

    fn note_write(&mut self, cx: &Context<'_>, poll: &Poll<io::Result<usize>>) -> io::Result<()> {
        match poll {
            Poll::Pending => self.abort.check(cx),
            Poll::Ready(Ok(n)) if *n > 0 => {
                self.answered = true;
                Ok(())
            }
            Poll::Ready(_) => Ok(()),
        }
    }

    fn socket(&mut self) -> io::Result<Pin<&mut TcpStream>> {
        self.stream
            .as_mut()
            .map(Pin::new)
            .ok_or_else(|| io::ErrorKind::NotConnected.into())
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let (Some(head), Some(stream), Some(takeover)) =
            (self.taken.take(), self.stream.take(), self.takeover.take())
        else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let Takeover { rt, addr, handoff } = takeover;
            runtime.spawn(route(Connection::new(stream, head), addr, rt, handoff));
        }
    }
}

impl AsyncRead for Connection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.taken.is_some() {
            return Poll::Ready(Ok(())); // the end, as far as the router knows
        }
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix.split_to(n));
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let poll = this.socket()?.poll_read(cx, buf);
        match poll {
            Poll::Pending => this.abort.check(cx)?,
            Poll::Ready(Ok(())) if this.takeover.is_some() => {
                // A read right after an answer that is exactly one whole stream request is a
                // new request (a pipelining client, which no browser is, falls back to hyper).
                let read = &buf.filled()[before..];
                if std::mem::take(&mut this.answered)
                    && read.starts_with(b"GET /api/realtime")
                    && fast_stream::is_plain_stream_request(read)
                {
                    this.taken = Some(Bytes::copy_from_slice(read));
                    buf.set_filled(before);
                }
            }
            Poll::Ready(_) => {}
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
        let poll = this.socket()?.poll_write(cx, buf);
        this.note_write(cx, &poll)?;
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let poll = this.socket()?.poll_write_vectored(cx, bufs);
        this.note_write(cx, &poll)?;
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.stream
            .as_ref()
            .is_some_and(TcpStream::is_write_vectored)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.socket()?.poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.taken.is_some() {
            return Poll::Ready(Ok(())); // the socket lives on as the stream
        }
        self.socket()?.poll_shutdown(cx)
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
