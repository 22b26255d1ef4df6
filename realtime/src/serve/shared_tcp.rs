//! A TCP stream an event stream's writer shares with the fan-out's writers (see
//! `broker::writers`): the writer task owns the only strong reference, so the socket closes
//! when the stream ends, and a fan-out writer holds a weak one for the moment of its write.
//! Reads and writes go through the stream's readiness and its `try_` calls, which take it by
//! reference, as tokio's own owned halves do.

use std::io::{self, IoSlice};
use std::net::Shutdown;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

pub(crate) struct SharedTcp(Arc<TcpStream>);

impl SharedTcp {
    pub(crate) fn new(tcp: TcpStream) -> Self {
        Self(Arc::new(tcp))
    }

    pub(crate) fn tcp(&self) -> &Arc<TcpStream> {
        &self.0
    }

    /// Polls `io` until it does not block on the readiness `ready` waits for.
    fn poll_io<T>(
        &self,
        cx: &mut Context<'_>,
        ready: impl Fn(&TcpStream, &mut Context<'_>) -> Poll<io::Result<()>>,
        mut io: impl FnMut(&TcpStream) -> io::Result<T>,
    ) -> Poll<io::Result<T>> {
        loop {
            ready!(ready(&self.0, cx))?;
            match io(&self.0) {
                // Readiness was stale: wait for the next.
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                done => return Poll::Ready(done),
            }
        }
    }
}

impl AsyncRead for SharedTcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // Only the stream's read probe reads here (a few bytes): zeroing them costs nothing.
        let n = ready!(self.poll_io(cx, TcpStream::poll_read_ready, |tcp| {
            tcp.try_read(buf.initialize_unfilled())
        }))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for SharedTcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_io(cx, TcpStream::poll_write_ready, |tcp| tcp.try_write(buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_io(cx, TcpStream::poll_write_ready, |tcp| {
            tcp.try_write_vectored(bufs)
        })
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(
            match socket2::SockRef::from(&*self.0).shutdown(Shutdown::Write) {
                Err(err) if err.kind() == io::ErrorKind::NotConnected => Ok(()),
                done => done,
            },
        )
    }
}
