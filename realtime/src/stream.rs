//! The body of `GET /api/realtime`: a client's frames, heartbeats, and the end of the stream.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Weak;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Interval, MissedTickBehavior, Sleep};

use crate::broker::Shared;
use crate::client::Client;
use crate::config::Config;
use crate::frame;

/// Streams one client's outbox. Dropping it (the peer went away, or the stream ended)
/// unregisters the client.
///
/// Timers are never reset per frame (that costs a timer update and a clock read on every
/// delivery): a frame only sets flags, which the timers read when they fire. A heartbeat thus
/// comes one to two intervals after the last message, and the idle timeout ends a stream one
/// to two timeouts after it.
pub(crate) struct EventStream {
    client: Client,
    broker: Weak<Shared>,
    heartbeat: Option<Interval>,
    /// A frame was written since the last heartbeat tick.
    wrote_since_tick: bool,
    idle: Option<(Pin<Box<Sleep>>, std::time::Duration)>,
    /// A frame was written since the idle timer was last armed.
    wrote_since_idle_check: bool,
    deadline: Option<Pin<Box<Sleep>>>,
}

impl EventStream {
    pub(crate) fn new(client: Client, broker: Weak<Shared>, config: &Config) -> Self {
        if let Some(broker) = broker.upgrade() {
            broker.open_streams.fetch_add(1, Ordering::Relaxed);
        }
        let now = Instant::now();
        let heartbeat = config.heartbeat.map(|every| {
            let mut interval = tokio::time::interval_at(now + every, every);
            interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
            interval
        });
        Self {
            client,
            broker,
            heartbeat,
            wrote_since_tick: false,
            wrote_since_idle_check: false,
            idle: config
                .idle_timeout
                .map(|after| (Box::pin(tokio::time::sleep(after)), after)),
            deadline: config
                .max_lifetime
                .map(|after| Box::pin(tokio::time::sleep(after))),
        }
    }
}

impl Body for EventStream {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = &mut *self;
        match this.client.state().outbox.poll_drain(cx) {
            Poll::Ready(Some(chunk)) => {
                this.wrote_since_tick = true;
                this.wrote_since_idle_check = true;
                return Poll::Ready(Some(Ok(Frame::data(chunk))));
            }
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => {}
        }
        let mut expired = this
            .deadline
            .as_mut()
            .is_some_and(|sleep| sleep.as_mut().poll(cx).is_ready());
        if let Some((sleep, after)) = &mut this.idle {
            while sleep.as_mut().poll(cx).is_ready() {
                if !std::mem::take(&mut this.wrote_since_idle_check) {
                    expired = true;
                    break;
                }
                sleep.as_mut().reset(Instant::now() + *after);
            }
        }
        if expired {
            this.client.disconnect();
            return Poll::Ready(None);
        }
        if let Some(heartbeat) = &mut this.heartbeat {
            while heartbeat.poll_tick(cx).is_ready() {
                if !std::mem::take(&mut this.wrote_since_tick) {
                    return Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(
                        frame::HEARTBEAT,
                    )))));
                }
            }
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        false
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        if let Some(broker) = self.broker.upgrade() {
            broker.unregister(&self.client);
            broker.open_streams.fetch_sub(1, Ordering::Relaxed);
        }
    }
}
