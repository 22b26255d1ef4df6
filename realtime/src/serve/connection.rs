//! An accepted socket as the server's tasks see it: it can be aborted from outside, a write
//! (or a flush, which is what writes a TLS session's records) that makes no progress for too
//! long fails, and while a stream is being taken from hyper it discards hyper's placeholder
//! response.

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

use super::socket::Socket;
use crate::http::handoff::Handoff;
use crate::sync::Abort;

pub(crate) struct Connection {
    stream: Socket,
    abort: Abort,
    handoff: Arc<Handoff>,
    /// Whether hyper may still write: until a stream is taken over, the handoff learns of
    /// every write and flush. After, nothing reads that, so the writes leave its shared cache
    /// line alone.
    through_hyper: bool,
    /// How long a write may make no progress before the connection is given up.
    write_timeout: Option<Duration>,
    /// Armed when a write has to wait, disarmed by progress: a reader that keeps up never
    /// touches the timer.
    stall: Option<Pin<Box<Sleep>>>,
    stalled: bool,
}

impl Connection {
    pub(crate) fn new(stream: TcpStream, abort: Abort, write_timeout: Option<Duration>) -> Self {
        Self {
            stream: Socket::Plain(stream),
            abort,
            handoff: Handoff::new(),
            through_hyper: true,
            write_timeout,
            stall: None,
            stalled: false,
        }
    }

    pub(crate) fn handoff(&self) -> &Arc<Handoff> {
        &self.handoff
    }

    /// Hyper is done with the connection: a stream taken over is written to it directly,
    /// by its task and (for a plain TCP stream, through the weak reference returned) by the
    /// fan-out's writers while the stream is idle.
    pub(crate) fn write_directly(self) -> (Self, Option<Weak<TcpStream>>) {
        let (stream, shared) = self.stream.share();
        let conn = Self {
            stream,
            through_hyper: false,
            ..self
        };
        (conn, shared)
    }

    pub(crate) fn set_nodelay(&self) -> io::Result<()> {
        self.stream.tcp().set_nodelay(true)
    }

    /// Whether the client chose HTTP/2 in the TLS handshake.
    #[cfg(feature = "tls")]
    pub(crate) fn negotiated_h2(&self) -> bool {
        self.stream.negotiated_h2()
    }

    /// Runs the TLS handshake on the plain socket; fails if the connection is aborted first.
    #[cfg(feature = "tls")]
    pub(crate) async fn accept_tls(self, tls: &super::Tls) -> io::Result<Self> {
        let Socket::Plain(tcp) = self.stream else {
            return Err(io::Error::other("the connection is already TLS"));
        };
        let aborted = std::future::poll_fn(|cx| match self.abort.check(cx) {
            Err(err) => Poll::Ready(err),
            Ok(()) => Poll::Pending,
        });
        let tls = tokio::select! {
            tls = tls.accept(tcp) => tls?,
            err = aborted => return Err(err),
        };
        Ok(Self {
            stream: Socket::Tls(Box::new(tls)),
            ..self
        })
    }

    /// Accounts for a write's outcome: progress disarms the stall timer, waiting arms it
    /// (once per stall) and fails once it fires.
    fn note_write(
        &mut self,
        cx: &mut Context<'_>,
        poll: &Poll<io::Result<usize>>,
    ) -> io::Result<()> {
        match poll {
            Poll::Pending => {
                self.abort.check(cx)?;
                let Some(timeout) = self.write_timeout else {
                    return Ok(());
                };
                if !std::mem::replace(&mut self.stalled, true) {
                    let deadline = Instant::now() + timeout;
                    match &mut self.stall {
                        Some(stall) => stall.as_mut().reset(deadline),
                        None => self.stall = Some(Box::pin(tokio::time::sleep_until(deadline))),
                    }
                }
                if let Some(stall) = &mut self.stall
                    && stall.as_mut().poll(cx).is_ready()
                {
                    self.abort.note_stalled();
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client read nothing for the write timeout",
                    ));
                }
                Ok(())
            }
            Poll::Ready(Ok(_)) => {
                self.stalled = false;
                if self.through_hyper {
                    self.handoff.note_written();
                }
                Ok(())
            }
            Poll::Ready(Err(_)) => Ok(()),
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
        if this.through_hyper && this.handoff.swallows() {
            return Poll::Ready(Ok(buf.len()));
        }
        if this.abort.is_aborted() {
            this.abort.check(cx)?;
        }
        let poll = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.note_write(cx, &poll)?;
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.through_hyper && this.handoff.swallows() {
            return Poll::Ready(Ok(bufs.iter().map(|buf| buf.len()).sum()));
        }
        if this.abort.is_aborted() {
            this.abort.check(cx)?;
        }
        let poll = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.note_write(cx, &poll)?;
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let poll = Pin::new(&mut this.stream).poll_flush(cx);
        if poll.is_pending() {
            this.note_write(cx, &Poll::Pending)?;
            return Poll::Pending;
        }
        ready!(poll)?;
        this.stalled = false;
        // Hyper flushes only once its own buffer is empty: a response boundary.
        if this.through_hyper {
            this.handoff.note_flushed();
        }
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.through_hyper && self.handoff.swallows() {
            return Poll::Ready(Ok(())); // hyper is done with it; the stream goes on
        }
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
