//! The body of `GET /api/realtime`: a client's frames, heartbeats, and the end of the stream.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Interval, MissedTickBehavior, Sleep};

use crate::broker::Connected;
use crate::broker::builder::Config;
use crate::broker::outbox::{Drain, MAX_BATCH};
use crate::broker::stats::{DisconnectReason, StreamPath};
use crate::wire::sse;

/// Streams one client's outbox. Dropping it (the peer went away, or the stream ended)
/// drops its registration, which unregisters the client.
///
/// Timers are never reset per frame (that costs a timer update and a clock read on every
/// delivery): a frame only sets flags, which the timers read when they fire. A heartbeat thus
/// comes one to two intervals after the last message, and the idle timeout ends a stream one
/// to two timeouts after it.
pub(crate) struct EventStream {
    registration: Connected,
    heartbeat: Option<Interval>,
    /// A frame was written since the last heartbeat tick.
    wrote_since_tick: bool,
    idle: Option<(Pin<Box<Sleep>>, std::time::Duration)>,
    /// A frame was written since the idle timer was last armed.
    wrote_since_idle_check: bool,
    deadline: Option<Pin<Box<Sleep>>>,
    /// Wakes the stream when held frames are due (made on first use: quiet streams never are).
    hold: Option<Pin<Box<Sleep>>>,
}

impl EventStream {
    pub(crate) fn new(registration: Connected, config: &Config) -> Self {
        let now = Instant::now();
        let heartbeat = config.heartbeat.map(|every| {
            let mut interval = tokio::time::interval_at(now + every, every);
            interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
            interval
        });
        Self {
            registration,
            heartbeat,
            wrote_since_tick: false,
            wrote_since_idle_check: false,
            idle: config
                .idle_timeout
                .map(|after| (Box::pin(tokio::time::sleep(after)), after)),
            deadline: config
                .max_lifetime
                .map(|after| Box::pin(tokio::time::sleep(after))),
            hold: None,
        }
    }

    /// The stream starts being written on `path` (counted, and its span opened); the direct
    /// writer says so, hyper's path does at its first poll.
    pub(crate) fn start(&mut self, path: StreamPath) {
        self.registration.start(path);
    }

    pub(crate) fn span(&self) -> &tracing::Span {
        self.registration.span()
    }

    /// Frames the fan-out's writers wrote count as the stream's own for its timers.
    fn note_writes_elsewhere(registration: &Connected, idle_check: &mut bool, tick: &mut bool) {
        if registration.client().state().outbox.take_wrote_elsewhere() {
            *idle_check = true;
            *tick = true;
        }
    }

    /// Lets the fan-out's writers write frames to the stream's socket while it is idle (see
    /// `broker::outbox`).
    pub(crate) fn lend_socket(&self, socket: std::sync::Weak<tokio::net::TcpStream>) {
        self.registration
            .client()
            .state()
            .outbox
            .lend_socket(socket);
    }

    /// Takes the socket back from the fan-out's writers, once none is writing it: the stream
    /// ends, and writes its end itself.
    pub(crate) fn poll_take_socket_back(&self, cx: &Context<'_>) -> Poll<()> {
        let outbox = &self.registration.client().state().outbox;
        outbox.poll_take_socket_back(cx)
    }

    /// Counts a batch of `bytes` of events written.
    pub(crate) fn note_written(&self, bytes: usize) {
        self.registration.counters().wrote(bytes);
    }

    /// Moves the next frames (chunks, see [`sse`]) into `out`'s first slots: `Ready(Some(n))`
    /// with `n ≥ 1` of them, `Ready(None)` when the stream ends.
    pub(crate) fn poll_frames(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut [Option<Bytes>],
    ) -> Poll<Option<usize>> {
        let mut respect_holds = true;
        loop {
            let now = || respect_holds.then(Instant::now);
            match self
                .registration
                .client()
                .state()
                .outbox
                .poll_drain(cx, out, now)
            {
                Drain::Frames(n) => {
                    // A heartbeat (queued like a frame) is not a message: it neither holds off
                    // the idle timeout nor the next heartbeat.
                    let message = n > 1 || out[0].as_deref() != Some(sse::HEARTBEAT);
                    self.wrote_since_tick |= message;
                    self.wrote_since_idle_check |= message;
                    return Poll::Ready(Some(n));
                }
                Drain::Ended => return Poll::Ready(None),
                Drain::Held(until) => {
                    let hold = self
                        .hold
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(until)));
                    if hold.deadline() != until {
                        hold.as_mut().reset(until);
                    }
                    if hold.as_mut().poll(cx).is_pending() {
                        break;
                    }
                    respect_holds = false; // due: take them whatever the clock says
                }
                Drain::Empty => break,
            }
        }
        let mut expired = self
            .deadline
            .as_mut()
            .is_some_and(|sleep| sleep.as_mut().poll(cx).is_ready())
            .then_some(DisconnectReason::Lifetime);
        if let Some((sleep, after)) = &mut self.idle
            && expired.is_none()
        {
            while sleep.as_mut().poll(cx).is_ready() {
                Self::note_writes_elsewhere(
                    &self.registration,
                    &mut self.wrote_since_idle_check,
                    &mut self.wrote_since_tick,
                );
                if !std::mem::take(&mut self.wrote_since_idle_check) {
                    expired = Some(DisconnectReason::IdleTimeout);
                    break;
                }
                sleep.as_mut().reset(Instant::now() + *after);
            }
        }
        if let Some(reason) = expired {
            self.registration.client().end(reason);
            return Poll::Ready(None);
        }
        if let Some(heartbeat) = &mut self.heartbeat {
            while heartbeat.poll_tick(cx).is_ready() {
                Self::note_writes_elsewhere(
                    &self.registration,
                    &mut self.wrote_since_idle_check,
                    &mut self.wrote_since_tick,
                );
                if !std::mem::take(&mut self.wrote_since_tick) {
                    // Queued like any frame, so that it waits for a fan-out writer's turn;
                    // the push wakes the stream (or the writer does, when done).
                    let _ = self
                        .registration
                        .client()
                        .push(Bytes::from_static(sse::HEARTBEAT));
                    return Poll::Pending;
                }
            }
        }
        Poll::Pending
    }
}

/// Hyper's path: the events of one batch per body frame, hyper doing the chunking.
impl Body for EventStream {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if !self.registration.has_started() {
            self.start(StreamPath::Hyper);
        }
        // The direct writer runs inside the span already (`serve::direct`); hyper's path
        // enters it here, at each poll.
        let span = self.registration.span().clone();
        let _in_span = span.enter();
        let mut chunks = <[Option<Bytes>; MAX_BATCH]>::default();
        let polled = self.poll_frames(cx, &mut chunks);
        polled.map(|next| {
            next.map(|n| {
                let events = events(&mut chunks[..n]);
                self.note_written(events.len());
                Ok(Frame::data(events))
            })
        })
    }

    fn is_end_stream(&self) -> bool {
        false
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

/// The events of a batch's chunks, as one body frame, taking them: a lone chunk's event is cut
/// out of it in place (the common case: one frame per delivery), several are copied into one
/// buffer made to measure.
fn events(chunks: &mut [Option<Bytes>]) -> Bytes {
    if let [chunk] = chunks {
        return chunk.take().map(sse::into_event).unwrap_or_default();
    }
    let events = || chunks.iter().flatten().map(|chunk| sse::event_in(chunk));
    let mut joined = BytesMut::with_capacity(events().map(<[u8]>::len).sum());
    for event in events() {
        joined.extend_from_slice(event);
    }
    chunks.fill(None);
    joined.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_its_events_in_order_as_one_frame() {
        let chunks = [
            sse::event("1", "chat", b"\"a\""),
            sse::event("2", "chat", b"\"bb\""),
            Bytes::from_static(sse::HEARTBEAT),
        ];
        let mut one = [Some(chunks[0].clone())];
        assert_eq!(&events(&mut one)[..], b"id:1\nevent:chat\ndata:\"a\"\n\n");
        let mut all = chunks.map(Some);
        assert_eq!(
            &events(&mut all)[..],
            b"id:1\nevent:chat\ndata:\"a\"\n\nid:2\nevent:chat\ndata:\"bb\"\n\n:\n\n"
        );
        assert!(one.iter().chain(&all).all(Option::is_none), "taken");
    }
}
