//! What a connection served by [`Realtime::serve`](crate::Realtime::serve) tells the realtime
//! endpoint: the peer, and a way to hand an accepted stream back to the connection so that
//! the server writes it to the socket itself, without hyper's per-connection buffers.
//!
//! The router always answers a stream request (so the application's routes and layers decide
//! who gets a stream); only the writing of the stream it accepted is taken from hyper, at a
//! response boundary hyper itself reached: see `serve::http1`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use http::HeaderMap;

use crate::http::stream::EventStream;
use crate::sync::Abort;

/// What the realtime endpoint learns about the peer of a connection served by
/// [`Realtime::serve`](crate::Realtime::serve). Requests carry it as
/// `axum::extract::ConnectInfo<Peer>` (and the address alone as `ConnectInfo<SocketAddr>`).
#[derive(Debug, Clone)]
pub struct Peer {
    addr: SocketAddr,
    pub(crate) abort: Abort,
}

impl Peer {
    pub(crate) fn new(addr: SocketAddr, abort: Abort) -> Self {
        Self { addr, abort }
    }

    /// The peer's address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// In a stream request's extensions when its connection can write the stream itself: the
/// endpoint then [offers](DirectStream::offer) the stream here instead of returning it as the
/// response body.
#[derive(Clone)]
pub(crate) struct DirectStream(pub(crate) Arc<Handoff>);

impl DirectStream {
    /// Hands `stream` to the connection; the response the endpoint returns carries only the
    /// status and headers.
    pub(crate) fn offer(&self, stream: EventStream) {
        *self.0.slot() = Slot::Offered(stream);
    }
}

/// One connection's handoff state, shared by its I/O (which hyper owns), its service and the
/// task that drives it.
#[derive(Default)]
pub(crate) struct Handoff {
    /// Hyper has written out everything it was given (it flushes only with an empty buffer),
    /// so a response now starts at a boundary.
    flushed: AtomicBool,
    /// What hyper writes is discarded: the placeholder response of a stream taken over.
    swallow: AtomicBool,
    /// The router was asked to answer a request on this connection.
    served: AtomicBool,
    slot: Mutex<Slot>,
}

#[derive(Default)]
enum Slot {
    #[default]
    Empty,
    /// The endpoint accepted a stream; the layers have not answered yet.
    Offered(EventStream),
    /// The stream and the head the application answered with, for the connection to write.
    Taken(EventStream, HeaderMap),
}

impl Handoff {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            flushed: AtomicBool::new(true),
            ..Self::default()
        })
    }

    fn slot(&self) -> MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn note_written(&self) {
        self.flushed.store(false, Ordering::Relaxed);
    }

    pub(crate) fn note_flushed(&self) {
        self.flushed.store(true, Ordering::Relaxed);
    }

    pub(crate) fn is_flushed(&self) -> bool {
        self.flushed.load(Ordering::Relaxed)
    }

    pub(crate) fn note_request(&self) {
        self.served.store(true, Ordering::Relaxed);
    }

    pub(crate) fn has_served(&self) -> bool {
        self.served.load(Ordering::Relaxed)
    }

    pub(crate) fn swallows(&self) -> bool {
        self.swallow.load(Ordering::Relaxed)
    }

    pub(crate) fn stop_swallowing(&self) {
        self.swallow.store(false, Ordering::Relaxed);
    }

    /// Takes the stream the endpoint offered, if any, to be written with `headers`; from now
    /// on hyper's own response is discarded. Returns whether there was one.
    pub(crate) fn take_over(&self, headers: HeaderMap) -> bool {
        let mut slot = self.slot();
        match std::mem::take(&mut *slot) {
            Slot::Offered(stream) => {
                *slot = Slot::Taken(stream, headers);
                self.swallow.store(true, Ordering::Relaxed);
                true
            }
            other => {
                *slot = other;
                false
            }
        }
    }

    /// Drops an offered stream the application's layers did not answer with a 200 (its
    /// client is unregistered with it).
    pub(crate) fn withdraw(&self) {
        let offered = std::mem::take(&mut *self.slot());
        drop(offered);
    }

    /// The stream taken over, with its head.
    pub(crate) fn taken(&self) -> Option<(EventStream, HeaderMap)> {
        match std::mem::take(&mut *self.slot()) {
            Slot::Taken(stream, headers) => Some((stream, headers)),
            _ => None,
        }
    }
}
