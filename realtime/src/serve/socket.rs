//! The bytes under a connection: the accepted TCP stream itself (shared once an event stream
//! writes it directly, see `shared_tcp`), or (feature `tls`) the TLS session over it. The TLS
//! session is boxed so that a plain connection stays as small as
//! its TCP stream.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::shared_tcp::SharedTcp;

pub(crate) enum Socket {
    Plain(TcpStream),
    Shared(SharedTcp),
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl Socket {
    pub(crate) fn tcp(&self) -> &TcpStream {
        match self {
            Self::Plain(tcp) => tcp,
            Self::Shared(shared) => shared.tcp(),
            #[cfg(feature = "tls")]
            Self::Tls(tls) => tls.get_ref().0,
        }
    }

    /// The socket, with its TCP stream shared if it is a plain one, and a weak reference to
    /// that stream for others to write it while it lives; a TLS session stays whole (its
    /// records are written by one writer only).
    pub(crate) fn share(self) -> (Self, Option<Weak<TcpStream>>) {
        let shared = match self {
            Self::Plain(tcp) => SharedTcp::new(tcp),
            Self::Shared(shared) => shared,
            #[cfg(feature = "tls")]
            tls @ Self::Tls(_) => return (tls, None),
        };
        let weak = Arc::downgrade(shared.tcp());
        (Self::Shared(shared), Some(weak))
    }

    /// Whether the client chose HTTP/2 in the TLS handshake (ALPN `h2`).
    #[cfg(feature = "tls")]
    pub(crate) fn negotiated_h2(&self) -> bool {
        match self {
            Self::Plain(_) | Self::Shared(_) => false,
            Self::Tls(tls) => tls.get_ref().1.alpn_protocol() == Some(b"h2"),
        }
    }
}

/// Calls `$method` on whichever stream the socket is.
macro_rules! delegate {
    ($self:ident, $stream:ident => $call:expr) => {
        match $self.get_mut() {
            Socket::Plain($stream) => {
                let $stream = Pin::new($stream);
                $call
            }
            Socket::Shared($stream) => {
                let $stream = Pin::new($stream);
                $call
            }
            #[cfg(feature = "tls")]
            Socket::Tls($stream) => {
                let $stream = Pin::new(&mut **$stream);
                $call
            }
        }
    };
}

impl AsyncRead for Socket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        delegate!(self, stream => stream.poll_read(cx, buf))
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        delegate!(self, stream => stream.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        delegate!(self, stream => stream.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(tcp) => tcp.is_write_vectored(),
            Self::Shared(shared) => shared.is_write_vectored(),
            #[cfg(feature = "tls")]
            Self::Tls(tls) => tls.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, stream => stream.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, stream => stream.poll_shutdown(cx))
    }
}
