//! A client's bounded queue of outgoing frames.
//!
//! Senders never wait: a frame is queued or refused at once. The queue is bounded twice, in
//! messages and in bytes: a reader that stops reading is cut once either is exceeded, so large
//! messages cannot hold more memory than small ones. The stream takes several queued frames at
//! a time and writes them together, so a burst costs one write, not one per frame.
//! A frame of a busy topic may come with a hold: the stream leaves it queued until then (for
//! the next frames to join it), unless the queue already fills a write: `MAX_BATCH` frames
//! or `HOLD_BYTES`. A push says whether it found frames still queued (the client is behind):
//! what earns a topic its holds (`pace`).
//!
//! A stream written straight to its TCP socket lends the outbox a weak reference to it: a
//! push that finds the stream idle (nothing queued, nothing being written) may then claim the
//! next write instead of waking the stream's task, and the fan-out's writers (`writers`) write
//! the frame from there. One writer at a time, either way: the stream's task while it writes
//! what it drained, the claimant until it has written or given back its frame.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll, Waker};

use bytes::{Buf, Bytes};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::broker::stats::DisconnectReason;
use crate::wire::sse;

/// The most frames a stream takes, and writes, at a time.
pub(crate) const MAX_BATCH: usize = 16;

/// Queued bytes that end a hold: a write this large already spends little per byte on the
/// system call, so large frames wait for no company (small ones are bound by `MAX_BATCH`).
const HOLD_BYTES: usize = 32 * 1024;

/// What happened to a pushed frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Push {
    /// Queued for the stream.
    Queued,
    /// Queued for an idle stream whose next write the caller claimed: the stream is not
    /// woken, and the caller must call [`Outbox::write_claimed`] (or
    /// [`Outbox::give_back_claim`]).
    Claimed,
    /// The queue was full (in messages or bytes): the outbox is now closed and its frames
    /// dropped, because a client that falls this far behind would otherwise hold memory
    /// without bound.
    Overflowed,
    /// The outbox was already closed.
    Closed,
}

/// How much one client's queue may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// The most frames queued.
    pub(crate) messages: usize,
    /// The most bytes queued (the sum of the frames' lengths), except that a frame pushed
    /// onto an empty queue is always taken: a message larger than this still reaches a reader
    /// that keeps up, and the queue holds at most this, or that one frame.
    pub(crate) bytes: usize,
}

/// Laid out for the cache: a fan-out to thousands of clients finds each one's outbox cold, so
/// what a delivery touches is two whole cache lines and no more. The first holds the lock word,
/// the oldest frame, the byte count and the hold: all that a drain taking one frame reads. The
/// second holds what a push or a drain finding nothing reads besides. The oldest frame sits in
/// the outbox itself, so a stream that keeps up (one frame at a time) never touches the
/// deque (boxed, elsewhere), and a quiet client has no deque at all.
#[repr(C, align(64))]
pub(crate) struct Outbox {
    state: Mutex<State>,
}

#[repr(C)]
#[derive(Default)]
struct State {
    // The first cache line, after the lock word.
    /// The oldest queued frame; `None` only when nothing is queued.
    first: Option<Bytes>,
    /// The sum of the queued frames' lengths. A frame shared with other clients (or other
    /// keys) counts in full in each queue, so the bound holds however frames are shared.
    bytes: usize,
    /// Until when the queued frames may wait: the earliest hold among them, `None` once one
    /// came without.
    hold: Option<Instant>,
    // The second.
    /// Why the outbox closed, once it has: one byte, as a `bool` would be.
    closed: Option<DisconnectReason>,
    /// The stream's task took frames and is writing them: nobody else may write.
    writing: bool,
    /// A push claimed the next write (see [`Push::Claimed`]): the stream's task waits for it.
    claimed: bool,
    /// A claimant wrote since the stream last asked (its idle timer and heartbeat count it).
    wrote_elsewhere: bool,
    /// [`Limits::messages`], at least 1. Four bytes, so that the state fits its two lines:
    /// a queue of four billion frames would not fit in memory anyway.
    max_messages: u32,
    waker: Option<Waker>,
    /// The frames queued after `first`, oldest first; boxed, so that a client that keeps up
    /// pays one word for it (the socket's reference fits in this line for it).
    #[allow(
        clippy::box_collection,
        reason = "a word in this cache line instead of four; made only for a client behind"
    )]
    rest: Option<Box<VecDeque<Bytes>>>,
    /// [`Limits::bytes`].
    max_bytes: usize,
    /// The stream's TCP socket, while the stream lets claimants write it.
    socket: Option<Weak<TcpStream>>,
}

impl State {
    fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.as_ref().map_or(0, |rest| rest.len())
    }

    fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    fn push_back(&mut self, frame: Bytes) {
        if self.first.is_none() {
            self.first = Some(frame);
        } else {
            self.rest.get_or_insert_default().push_back(frame);
        }
    }

    fn pop_front(&mut self) -> Option<Bytes> {
        let first = self.first.take();
        self.first = self.rest.as_mut().and_then(|rest| rest.pop_front());
        first
    }
}

/// What a stream finds in the outbox.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Drain {
    /// This many frames were moved out, oldest first.
    Frames(usize),
    /// Frames are queued but may wait until then; the stream is woken early if that changes.
    Held(Instant),
    /// Nothing queued; the stream is woken by the next frame.
    Empty,
    /// Closed, and everything queued was taken.
    Ended,
}

impl Outbox {
    pub(crate) fn new(limits: Limits) -> Self {
        Self {
            state: Mutex::new(State {
                max_messages: u32::try_from(limits.messages.max(1)).unwrap_or(u32::MAX),
                max_bytes: limits.bytes,
                ..State::default()
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `frame`, which may wait until `hold` for others to share its write.
    pub(crate) fn push(&self, frame: Bytes, hold: Option<Instant>) -> Push {
        self.push_behind(frame, hold, false).0
    }

    /// [`push`](Self::push), and whether the frame was queued behind others the stream had
    /// not written yet: its client is behind. With `claim`, a frame for an idle stream that
    /// lent its socket comes back [`Push::Claimed`].
    pub(crate) fn push_behind(
        &self,
        frame: Bytes,
        hold: Option<Instant>,
        claim: bool,
    ) -> (Push, bool) {
        let mut state = self.lock();
        if state.closed.is_some() {
            return (Push::Closed, false);
        }
        let was_empty = state.is_empty();
        let bytes = state.bytes.saturating_add(frame.len());
        // An empty queue takes any frame (it holds at least one message): the limits are read
        // only behind a backlog.
        let full = state.len() >= state.max_messages as usize;
        if !was_empty && (full || bytes > state.max_bytes) {
            state.closed = Some(if full {
                DisconnectReason::QueueFull
            } else {
                DisconnectReason::ByteBudget
            });
            state.first = None;
            state.rest = None;
            state.bytes = 0;
            return (Self::wake(state, Push::Overflowed), true);
        }
        let due = if was_empty {
            hold
        } else {
            state.hold.zip(hold).map(|(queued, new)| queued.min(new))
        };
        // The stream needs waking when it has something to do now, or a deadline to learn:
        // not for a frame that joins a held queue without bringing its deadline closer.
        let wake = was_empty
            || due != state.hold
            || state.len() + 1 >= MAX_BATCH
            || (state.hold.is_some() && state.bytes < HOLD_BYTES && bytes >= HOLD_BYTES);
        state.hold = due;
        state.bytes = bytes;
        state.push_back(frame);
        if claim && was_empty && !state.writing && !state.claimed && state.socket.is_some() {
            state.claimed = true;
            return (Push::Claimed, false);
        }
        let pushed = if wake {
            Self::wake(state, Push::Queued)
        } else {
            Push::Queued
        };
        (pushed, !was_empty)
    }

    /// Lends the stream's socket to claimants (see [`Push::Claimed`]).
    pub(crate) fn lend_socket(&self, socket: Weak<TcpStream>) {
        self.lock().socket = Some(socket);
    }

    /// Writes the frame a push claimed, as far as the socket takes it without waiting, and
    /// gives the turn back: the stream's task is woken if anything is left to write (the rest
    /// of that frame, frames queued since, or the end). Returns the event bytes written whole,
    /// for the counters. The write is made under the outbox's lock, so that a push on another
    /// thread queues behind it; a failed one leaves the frame to the stream's task, which
    /// meets the error itself.
    pub(crate) fn write_claimed(&self) -> usize {
        let mut state = self.lock();
        if !std::mem::take(&mut state.claimed) {
            return 0;
        }
        let socket = state.socket.as_ref().and_then(Weak::upgrade);
        let mut events = 0;
        let queued = &mut *state;
        if let (Some(socket), Some(first)) = (socket, queued.first.as_mut())
            && let Ok(n) = socket.try_write(first)
        {
            queued.wrote_elsewhere = true;
            queued.bytes -= n;
            if n == first.len() {
                events = sse::event_in(first).len();
                queued.pop_front();
            } else {
                // The stream writes the rest and counts what it finds as its event there; the
                // event's other bytes are counted here.
                let event = sse::event_in(first).len();
                first.advance(n);
                events = event.saturating_sub(sse::event_in(first).len());
            }
        }
        if !state.is_empty() || state.closed.is_some() {
            Self::wake(state, Push::Queued);
        }
        events
    }

    /// Gives back a claim without writing: the stream's task writes the frame.
    pub(crate) fn give_back_claim(&self) {
        let mut state = self.lock();
        if std::mem::take(&mut state.claimed) {
            Self::wake(state, Push::Queued);
        }
    }

    /// Whether a claimant wrote since the last call.
    pub(crate) fn take_wrote_elsewhere(&self) -> bool {
        std::mem::take(&mut self.lock().wrote_elsewhere)
    }

    /// Takes the socket back for good, once no claimant is writing it: the stream writes its
    /// end itself.
    pub(crate) fn poll_take_socket_back(&self, cx: &Context<'_>) -> Poll<()> {
        let mut state = self.lock();
        state.socket = None;
        if state.claimed {
            Self::register(&mut state, cx);
            return Poll::Pending;
        }
        state.writing = true;
        Poll::Ready(())
    }

    fn wake(mut state: MutexGuard<'_, State>, outcome: Push) -> Push {
        let waker = state.waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
        outcome
    }

    /// Closes the outbox for `reason`, unless it already was (the first reason stands); the
    /// stream still writes what is queued, then ends.
    pub(crate) fn close(&self, reason: DisconnectReason) {
        let mut state = self.lock();
        state.closed.get_or_insert(reason);
        let waker = state.waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed.is_some()
    }

    /// Why the outbox closed, if it has.
    pub(crate) fn closed_for(&self) -> Option<DisconnectReason> {
        self.lock().closed
    }

    /// The bytes queued now.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Moves the oldest queued frames into `out`'s first slots (as many as fit), unless they
    /// are held past `now()` (`None`: ignore holds) and fewer than `out` holds. The clock is
    /// read only when frames are held: this runs once per delivery.
    ///
    /// Slots are `Option`s: a stream may make its `out` anew for every drain, and an empty
    /// `Option` costs nothing to make or drop, where an empty `Bytes` costs an indirect call
    /// to drop.
    #[inline]
    pub(crate) fn poll_drain(
        &self,
        cx: &mut Context<'_>,
        out: &mut [Option<Bytes>],
        now: impl FnOnce() -> Option<Instant>,
    ) -> Drain {
        let mut state = self.lock();
        // Called again once what it took was written.
        state.writing = false;
        if state.claimed {
            Self::register(&mut state, cx);
            return Drain::Empty; // the claimant wakes it when done
        }
        if state.is_empty() {
            if state.closed.is_some() {
                return Drain::Ended;
            }
            Self::register(&mut state, cx);
            return Drain::Empty;
        }
        if let Some(hold) = state.hold
            && state.len() < out.len()
            && state.bytes < HOLD_BYTES
            && state.closed.is_none()
            && now().is_some_and(|now| now < hold)
        {
            Self::register(&mut state, cx);
            return Drain::Held(hold);
        }
        let n = out.len().min(state.len());
        let mut taken = 0;
        for slot in &mut out[..n] {
            *slot = state.pop_front();
            taken += slot.as_ref().map_or(0, Bytes::len);
        }
        state.bytes -= taken;
        // What is left (more than one write holds) goes out next, without waiting.
        state.hold = None;
        state.writing = true;
        Drain::Frames(n)
    }

    fn register(state: &mut State, cx: &Context<'_>) {
        if !state
            .waker
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            state.waker = Some(cx.waker().clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Wake, Waker};
    use std::time::Duration;

    fn drain_at(outbox: &Outbox, now: Option<Instant>) -> Result<Vec<Bytes>, Drain> {
        let mut out: [Option<Bytes>; 3] = Default::default();
        match outbox.poll_drain(&mut Context::from_waker(Waker::noop()), &mut out, || now) {
            Drain::Frames(n) => Ok(out[..n]
                .iter_mut()
                .map(|slot| slot.take().expect("a frame in every slot taken"))
                .collect()),
            other => Err(other),
        }
    }

    fn drain(outbox: &Outbox) -> Result<Vec<Bytes>, Drain> {
        drain_at(outbox, Some(Instant::now()))
    }

    fn frames(frames: &[&'static [u8]]) -> Vec<Bytes> {
        frames.iter().copied().map(Bytes::from_static).collect()
    }

    /// A waker, and how many times it was woken so far.
    fn counting_waker() -> (Waker, impl Fn() -> usize) {
        struct Count(AtomicUsize);
        impl Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&count));
        (waker, move || count.0.load(Ordering::Relaxed))
    }

    /// An outbox bounded in messages only.
    fn bounded(messages: usize) -> Outbox {
        Outbox::new(Limits {
            messages,
            bytes: usize::MAX,
        })
    }

    fn push(outbox: &Outbox, frame: &'static [u8]) -> Push {
        outbox.push(Bytes::from_static(frame), None)
    }

    #[test]
    fn a_frame_queued_behind_unwritten_ones_says_so() {
        let outbox = bounded(8);
        let behind = |frame| outbox.push_behind(Bytes::from_static(frame), None, false);
        assert_eq!(behind(b"a"), (Push::Queued, false));
        assert_eq!(behind(b"b"), (Push::Queued, true));
        assert_eq!(drain(&outbox), Ok(frames(&[b"a", b"b"])));
        assert_eq!(behind(b"c"), (Push::Queued, false), "the stream caught up");
    }

    #[test]
    fn drains_queued_frames_oldest_first_as_many_as_fit() {
        let outbox = bounded(8);
        assert_eq!(drain(&outbox), Err(Drain::Empty));
        for frame in [&b"a"[..], b"b", b"c"] {
            assert_eq!(push(&outbox, frame), Push::Queued);
        }
        assert_eq!(drain(&outbox), Ok(frames(&[b"a", b"b", b"c"])));
        assert_eq!(drain(&outbox), Err(Drain::Empty));
        for frame in [&b"d"[..], b"e", b"f", b"g"] {
            assert_eq!(push(&outbox, frame), Push::Queued);
        }
        assert_eq!(drain(&outbox), Ok(frames(&[b"d", b"e", b"f"])));
        assert_eq!(drain(&outbox), Ok(frames(&[b"g"])));
    }

    #[test]
    fn held_frames_wait_for_their_deadline_or_a_full_write() {
        let outbox = bounded(8);
        let now = Instant::now();
        let later = now + Duration::from_mins(1);
        outbox.push(Bytes::from_static(b"a"), Some(later));
        assert_eq!(drain_at(&outbox, Some(now)), Err(Drain::Held(later)));
        // A sooner deadline wins; a frame without one ends the hold.
        let sooner = now + Duration::from_secs(30);
        outbox.push(Bytes::from_static(b"b"), Some(sooner));
        assert_eq!(drain_at(&outbox, Some(now)), Err(Drain::Held(sooner)));
        assert_eq!(drain_at(&outbox, Some(sooner)), Ok(frames(&[b"a", b"b"])));
        outbox.push(Bytes::from_static(b"c"), Some(later));
        outbox.push(Bytes::from_static(b"d"), None);
        assert_eq!(drain_at(&outbox, Some(now)), Ok(frames(&[b"c", b"d"])));
        // Enough for a write goes at once, and so does what is left after it.
        for frame in [&b"e"[..], b"f", b"g", b"h"] {
            outbox.push(Bytes::from_static(frame), Some(later));
        }
        assert_eq!(
            drain_at(&outbox, Some(now)),
            Ok(frames(&[b"e", b"f", b"g"]))
        );
        assert_eq!(drain_at(&outbox, Some(now)), Ok(frames(&[b"h"])));
    }

    #[test]
    fn held_frames_go_at_once_when_closed_or_when_holds_are_ignored() {
        let outbox = bounded(8);
        let later = Instant::now() + Duration::from_mins(1);
        outbox.push(Bytes::from_static(b"a"), Some(later));
        assert_eq!(drain_at(&outbox, None), Ok(frames(&[b"a"])));
        outbox.push(Bytes::from_static(b"b"), Some(later));
        outbox.close(DisconnectReason::Application);
        assert_eq!(drain(&outbox), Ok(frames(&[b"b"])));
        assert_eq!(drain(&outbox), Err(Drain::Ended));
    }

    #[test]
    fn the_stream_is_woken_only_when_it_has_something_new_to_do() {
        let (waker, woken) = counting_waker();
        let outbox = bounded(64);
        let now = Instant::now();
        let hold = |secs| Some(now + Duration::from_secs(secs));
        let mut out: [Option<Bytes>; MAX_BATCH] = Default::default();
        let mut poll =
            || outbox.poll_drain(&mut Context::from_waker(&waker), &mut out, || Some(now));
        assert_eq!(poll(), Drain::Empty);
        outbox.push(Bytes::from_static(b"a"), hold(60)); // a deadline to learn
        assert_eq!(woken(), 1);
        assert!(matches!(poll(), Drain::Held(_)));
        outbox.push(Bytes::from_static(b"b"), hold(90)); // joins, changes nothing
        assert_eq!(woken(), 1);
        assert!(matches!(poll(), Drain::Held(_)));
        outbox.push(Bytes::from_static(b"c"), hold(30)); // due sooner
        assert_eq!(woken(), 2);
        assert!(matches!(poll(), Drain::Held(_)));
        for _ in 3..MAX_BATCH {
            outbox.push(Bytes::from_static(b"x"), hold(60));
        }
        assert_eq!(woken(), 3, "a full write is due at once");
        assert_eq!(poll(), Drain::Frames(MAX_BATCH));
    }

    #[test]
    fn large_frames_end_a_hold_once_they_fill_a_write() {
        let (waker, woken) = counting_waker();
        let outbox = bounded(64);
        let now = Instant::now();
        let later = Some(now + Duration::from_mins(1));
        let large = Bytes::from(vec![b'x'; HOLD_BYTES / 2]);
        let mut out: [Option<Bytes>; MAX_BATCH] = Default::default();
        outbox.push(large.clone(), later);
        let mut poll =
            || outbox.poll_drain(&mut Context::from_waker(&waker), &mut out, || Some(now));
        assert!(matches!(poll(), Drain::Held(_)));
        outbox.push(large.clone(), later);
        assert_eq!(
            woken(),
            1,
            "the stream is woken when the held frames fill a write"
        );
        assert_eq!(
            poll(),
            Drain::Frames(2),
            "two frames of half the bytes that end a hold go out at once"
        );
    }

    #[test]
    fn overflow_closes_and_drops_the_backlog() {
        let outbox = bounded(2);
        push(&outbox, b"a");
        push(&outbox, b"b");
        assert_eq!(push(&outbox, b"c"), Push::Overflowed);
        assert_eq!(push(&outbox, b"d"), Push::Closed);
        assert_eq!(drain(&outbox), Err(Drain::Ended));
        outbox.close(DisconnectReason::Application);
        assert_eq!(
            outbox.closed_for(),
            Some(DisconnectReason::QueueFull),
            "the first reason stands"
        );
    }

    #[test]
    fn a_backlog_over_the_byte_budget_closes_and_drops_it() {
        let outbox = Outbox::new(Limits {
            messages: 8,
            bytes: 10,
        });
        assert_eq!(push(&outbox, b"aaaa"), Push::Queued);
        assert_eq!(push(&outbox, b"bbbbbb"), Push::Queued, "exactly the budget");
        assert_eq!(outbox.queued_bytes(), 10);
        assert_eq!(push(&outbox, b"c"), Push::Overflowed);
        assert_eq!(outbox.closed_for(), Some(DisconnectReason::ByteBudget));
        assert_eq!(outbox.queued_bytes(), 0);
        assert_eq!(push(&outbox, b"d"), Push::Closed);
        assert_eq!(drain(&outbox), Err(Drain::Ended));
    }

    #[test]
    fn drained_frames_give_their_bytes_back() {
        let outbox = Outbox::new(Limits {
            messages: 8,
            bytes: 10,
        });
        for _ in 0..5 {
            assert_eq!(push(&outbox, b"aaaa"), Push::Queued);
            assert_eq!(push(&outbox, b"bbbb"), Push::Queued);
            assert_eq!(drain(&outbox), Ok(frames(&[b"aaaa", b"bbbb"])));
        }
        // Partly drained: what is left still counts.
        for frame in [&b"aaaa"[..], b"bbbb", b"cc"] {
            assert_eq!(push(&outbox, frame), Push::Queued);
        }
        let mut out: [Option<Bytes>; 2] = Default::default();
        let cx = &mut Context::from_waker(Waker::noop());
        assert_eq!(outbox.poll_drain(cx, &mut out, || None), Drain::Frames(2));
        assert_eq!(push(&outbox, b"dddddddd"), Push::Queued, "2 + 8 bytes");
        assert_eq!(push(&outbox, b"e"), Push::Overflowed, "2 + 8 + 1 bytes");
    }

    #[test]
    fn a_frame_larger_than_the_budget_still_goes_to_a_reader_that_keeps_up() {
        let outbox = Outbox::new(Limits {
            messages: 8,
            bytes: 4,
        });
        for _ in 0..3 {
            assert_eq!(push(&outbox, b"larger than four"), Push::Queued);
            assert_eq!(drain(&outbox), Ok(frames(&[b"larger than four"])));
        }
        assert_eq!(push(&outbox, b"larger than four"), Push::Queued);
        assert_eq!(
            push(&outbox, b"a"),
            Push::Overflowed,
            "no backlog behind it"
        );
    }

    #[test]
    #[cfg(all(target_os = "linux", target_pointer_width = "64"))]
    fn the_state_fills_two_cache_lines_and_a_drain_of_one_frame_reads_the_first() {
        use std::mem::{offset_of, size_of};
        assert_eq!(size_of::<Outbox>(), 128);
        let outbox = bounded(1);
        let start = std::ptr::from_ref(&outbox).addr();
        let state = std::ptr::from_ref(&*outbox.lock()).addr() - start;
        assert!(state + offset_of!(State, hold) + size_of::<Option<Instant>>() <= 64);
        assert!(state + offset_of!(State, closed) >= 64);
    }

    /// A connected loopback pair: the server's end, shared as a stream lends it, and the
    /// client's.
    async fn socket_pair() -> (Arc<TcpStream>, std::net::TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().await.unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        (Arc::new(server), client)
    }

    fn read_exactly(client: &std::net::TcpStream, n: usize) -> Vec<u8> {
        use std::io::Read;
        let mut buf = vec![0; n];
        (&*client).read_exact(&mut buf).expect("the bytes written");
        buf
    }

    fn claim(outbox: &Outbox, frame: &'static [u8]) -> Push {
        outbox.push_behind(Bytes::from_static(frame), None, true).0
    }

    #[tokio::test]
    async fn only_an_idle_stream_that_lent_its_socket_is_claimed() {
        let (server, client) = socket_pair().await;
        let outbox = bounded(8);
        assert_eq!(claim(&outbox, b"a"), Push::Queued, "no socket lent");
        assert_eq!(drain(&outbox), Ok(frames(&[b"a"])));
        outbox.lend_socket(Arc::downgrade(&server));
        assert_eq!(
            claim(&outbox, b"b"),
            Push::Queued,
            "the stream is writing a"
        );
        assert_eq!(drain(&outbox), Ok(frames(&[b"b"])));
        assert_eq!(drain(&outbox), Err(Drain::Empty), "b written: idle");
        assert_eq!(outbox.push(Bytes::from_static(b"c"), None), Push::Queued);
        assert_eq!(claim(&outbox, b"d"), Push::Queued, "behind c");
        assert_eq!(drain(&outbox), Ok(frames(&[b"c", b"d"])));
        assert_eq!(drain(&outbox), Err(Drain::Empty));
        assert_eq!(claim(&outbox, b"e"), Push::Claimed);
        assert_eq!(claim(&outbox, b"f"), Push::Queued, "one claim at a time");
        assert_eq!(
            drain(&outbox),
            Err(Drain::Empty),
            "the claimant writes first"
        );
        assert!(!outbox.take_wrote_elsewhere());
        assert_eq!(
            outbox.write_claimed(),
            0,
            "e is no event of a chunk: no event bytes"
        );
        assert!(outbox.take_wrote_elsewhere());
        assert_eq!(read_exactly(&client, 1), b"e");
        assert_eq!(drain(&outbox), Ok(frames(&[b"f"])), "what came behind it");
    }

    #[tokio::test]
    async fn a_claimed_frame_is_written_whole_or_its_rest_left_to_the_stream() {
        let (server, client) = socket_pair().await;
        let outbox = bounded(8);
        outbox.lend_socket(Arc::downgrade(&server));
        let (waker, woken) = counting_waker();
        let mut out: [Option<Bytes>; MAX_BATCH] = Default::default();
        let mut poll = || outbox.poll_drain(&mut Context::from_waker(&waker), &mut out, || None);
        assert_eq!(poll(), Drain::Empty);
        let chunk = sse::event("1", "t", b"x");
        assert_eq!(
            outbox.push_behind(chunk.clone(), None, true).0,
            Push::Claimed
        );
        assert_eq!(outbox.write_claimed(), sse::event_in(&chunk).len());
        assert_eq!(read_exactly(&client, chunk.len()), chunk);
        assert_eq!(woken(), 0, "nothing left for the stream");
        // Larger than the socket takes while the client reads nothing.
        let large = sse::event("2", "t", &vec![b'x'; 64 << 20]);
        assert_eq!(
            outbox.push_behind(large.clone(), None, true).0,
            Push::Claimed
        );
        let counted_here = outbox.write_claimed();
        assert_eq!(woken(), 1, "the stream writes the rest");
        let rest = outbox.queued_bytes();
        assert!(0 < rest && rest < large.len(), "{rest}");
        let mut out: [Option<Bytes>; 1] = Default::default();
        let cx = &mut Context::from_waker(Waker::noop());
        assert_eq!(outbox.poll_drain(cx, &mut out, || None), Drain::Frames(1));
        let left = out[0].take().unwrap();
        assert_eq!(left, large.slice(large.len() - rest..));
        assert_eq!(
            counted_here + sse::event_in(&left).len(),
            sse::event_in(&large).len(),
            "the event's bytes counted once, between the claimant and the stream"
        );
    }

    #[tokio::test]
    async fn a_claim_given_back_or_a_gone_socket_leaves_the_frame_to_the_stream() {
        let (server, _client) = socket_pair().await;
        let (waker, woken) = counting_waker();
        let outbox = bounded(8);
        outbox.lend_socket(Arc::downgrade(&server));
        assert_eq!(claim(&outbox, b"a"), Push::Claimed);
        outbox.give_back_claim();
        assert_eq!(woken(), 0, "no stream waiting yet");
        assert_eq!(drain(&outbox), Ok(frames(&[b"a"])));
        assert_eq!(drain(&outbox), Err(Drain::Empty));
        drop(server); // the stream ended
        assert_eq!(claim(&outbox, b"b"), Push::Claimed);
        let cx = Context::from_waker(&waker);
        assert!(
            outbox.poll_take_socket_back(&cx).is_pending(),
            "a claimant holds it"
        );
        assert_eq!(outbox.write_claimed(), 0);
        assert_eq!(woken(), 1, "b is left to the stream");
        assert!(outbox.poll_take_socket_back(&cx).is_ready());
        assert_eq!(claim(&outbox, b"c"), Push::Queued, "taken back for good");
        assert_eq!(drain(&outbox), Ok(frames(&[b"b", b"c"])));
    }

    #[test]
    fn close_still_delivers_what_is_queued() {
        let outbox = bounded(2);
        push(&outbox, b"a");
        outbox.close(DisconnectReason::Application);
        assert_eq!(drain(&outbox), Ok(frames(&[b"a"])));
        assert_eq!(drain(&outbox), Err(Drain::Ended));
    }
}
