//! A client's bounded queue of outgoing frames.
//!
//! Senders never wait: a frame is queued or refused at once. The stream drains everything
//! queued in one go and writes it as one chunk, so a burst costs one write, not one per frame.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use bytes::{Bytes, BytesMut};

/// What happened to a pushed frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Push {
    /// Queued for the stream.
    Queued,
    /// The queue was full: the outbox is now closed and its frames dropped, because a client
    /// that falls this far behind would otherwise hold memory without bound.
    Overflowed,
    /// The outbox was already closed.
    Closed,
}

pub(crate) struct Outbox {
    capacity: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    frames: VecDeque<Bytes>,
    waker: Option<Waker>,
    closed: bool,
}

impl Outbox {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            state: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn push(&self, frame: Bytes) -> Push {
        let mut state = self.lock();
        if state.closed {
            return Push::Closed;
        }
        let outcome = if state.frames.len() >= self.capacity {
            state.closed = true;
            state.frames = VecDeque::new();
            Push::Overflowed
        } else {
            state.frames.push_back(frame);
            Push::Queued
        };
        let waker = state.waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
        outcome
    }

    /// Closes the outbox; the stream still writes what is queued, then ends.
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        let waker = state.waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Everything queued, as one chunk; `Ready(None)` once closed and empty.
    pub(crate) fn poll_drain(&self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let mut state = self.lock();
        match state.frames.len() {
            0 if state.closed => Poll::Ready(None),
            0 => {
                if !state
                    .waker
                    .as_ref()
                    .is_some_and(|w| w.will_wake(cx.waker()))
                {
                    state.waker = Some(cx.waker().clone());
                }
                Poll::Pending
            }
            1 => Poll::Ready(state.frames.pop_front()),
            _ => {
                let len = state.frames.iter().map(Bytes::len).sum();
                let mut chunk = BytesMut::with_capacity(len);
                for frame in state.frames.drain(..) {
                    chunk.extend_from_slice(&frame);
                }
                Poll::Ready(Some(chunk.freeze()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    fn drain(outbox: &Outbox) -> Poll<Option<Bytes>> {
        outbox.poll_drain(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn drains_queued_frames_as_one_chunk() {
        let outbox = Outbox::new(4);
        assert!(drain(&outbox).is_pending());
        assert_eq!(outbox.push(Bytes::from_static(b"a")), Push::Queued);
        assert_eq!(outbox.push(Bytes::from_static(b"b")), Push::Queued);
        assert_eq!(drain(&outbox), Poll::Ready(Some(Bytes::from_static(b"ab"))));
        assert!(drain(&outbox).is_pending());
    }

    #[test]
    fn overflow_closes_and_drops_the_backlog() {
        let outbox = Outbox::new(2);
        outbox.push(Bytes::from_static(b"a"));
        outbox.push(Bytes::from_static(b"b"));
        assert_eq!(outbox.push(Bytes::from_static(b"c")), Push::Overflowed);
        assert_eq!(outbox.push(Bytes::from_static(b"d")), Push::Closed);
        assert_eq!(drain(&outbox), Poll::Ready(None));
    }

    #[test]
    fn close_still_delivers_what_is_queued() {
        let outbox = Outbox::new(2);
        outbox.push(Bytes::from_static(b"a"));
        outbox.close();
        assert_eq!(drain(&outbox), Poll::Ready(Some(Bytes::from_static(b"a"))));
        assert_eq!(drain(&outbox), Poll::Ready(None));
    }
}
