//! A way to abort one connection from outside its task: the broker cuts a client whose queue
//! overflowed (its socket is likely too clogged to notice the stream ending), and the server
//! cuts whatever is left when a graceful shutdown runs out of time.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Waker};

/// Shared by the connection (which checks it on every read and write that would wait) and
/// whoever may cut it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Abort(Arc<AbortState>);

#[derive(Debug, Default)]
struct AbortState {
    aborted: AtomicBool,
    /// A write made no progress for the write timeout: why the connection failed, for the
    /// stream to tell when it ends.
    stalled: AtomicBool,
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

    /// An error once aborted; otherwise remembers `cx`'s waker, for [`Abort::abort`] to wake.
    pub(crate) fn check(&self, cx: &Context<'_>) -> io::Result<()> {
        if self.is_aborted() {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "aborted by the realtime server",
            ));
        }
        let mut waker = self.0.waker.lock().unwrap_or_else(PoisonError::into_inner);
        if !waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            *waker = Some(cx.waker().clone());
        }
        Ok(())
    }

    pub(crate) fn is_aborted(&self) -> bool {
        self.0.aborted.load(Ordering::Acquire)
    }

    /// Notes that the connection failed because a write stalled.
    pub(crate) fn note_stalled(&self) {
        self.0.stalled.store(true, Ordering::Relaxed);
    }

    /// Whether the connection failed because a write stalled.
    pub(crate) fn has_stalled(&self) -> bool {
        self.0.stalled.load(Ordering::Relaxed)
    }
}
