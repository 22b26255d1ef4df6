//! Fan-out: one send framed once and queued for every subscriber its filter accepts, and the
//! removal of clients whose queue overflowed.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::index::{self, Keys, Topic};
use super::{Shared, lock};
use crate::broker::client::Client;
use crate::broker::delivery::Delivery;
use crate::broker::filter::Filter;
use crate::broker::history::Entry;
use crate::broker::order::Step;
use crate::broker::outbox::Push;
use crate::broker::writers::Claimed;
use crate::wire::client_id::ClientId;
use crate::wire::position::Position;
use crate::wire::sse;

impl Shared {
    /// Queues one send for the subscribers of `topic` that `filter` accepts, and keeps it in
    /// the topic's history (with `replayable`, the filter to run again for a client that
    /// reconnects; `None` for a closure).
    ///
    /// Under the index's read lock, it runs the filter and queues the plain key's frame, one
    /// for all; clients with keys with options are only noted. Their frames are built after
    /// the lock is released, once per distinct key per send and found by the key's address, so
    /// a send to thousands of such keys keeps no subscribe or disconnect waiting. A single
    /// publisher's sends still arrive in order under every key: each is queued whole before
    /// `send_to` returns. While any topic keeps a history, sends are queued one at a time, so
    /// every client receives them in the order of their positions.
    pub(crate) fn fan_out<F>(
        &self,
        topic: &str,
        data: &[u8],
        filter: F,
        replayable: Option<&Filter>,
        at: Option<Position<'_>>,
    ) -> Delivery
    where
        F: Fn(&ClientId, &Client) -> bool,
    {
        // Two clock reads per send, only when the application asked for metrics.
        #[cfg(feature = "metrics")]
        let started = std::time::Instant::now();
        let delivery = self.queue_send(topic, data, filter, replayable, at);
        #[cfg(feature = "metrics")]
        super::publish::fan_out_took(started.elapsed());
        delivery
    }

    /// [`Shared::fan_out`], untimed.
    fn queue_send<F>(
        &self,
        topic: &str,
        data: &[u8],
        filter: F,
        replayable: Option<&Filter>,
        at: Option<Position<'_>>,
    ) -> Delivery
    where
        F: Fn(&ClientId, &Client) -> bool,
    {
        let _in_order = self.history.is_enabled().then(|| lock(&self.order));
        let mut delivery = Delivery::default();
        let mut overflowed = Vec::new();
        // Clients with keys with options, their keys, and whether the plain frame reached them.
        let mut keyed: Vec<(Client, Keys, bool)> = Vec::new();
        let (id, hold, claimed) = {
            let topics = self.read_topics();
            // Numbered in the application's order (given, from the engine), or this broker's.
            let position = at.unwrap_or_else(|| Position {
                epoch: &self.epoch,
                sequence: self.sequence.fetch_add(1, Ordering::Relaxed) + 1,
            });
            let (sequence, id) = (position.sequence, position);
            let plain = sse::event(&id, topic, data);
            // With an engine, only the sends it numbered belong to the history's order.
            let in_order = at.is_some() || self.engine().is_none();
            if in_order && self.history.retention(topic).is_some() {
                let entry = Entry::new(
                    sequence,
                    plain.clone(),
                    data.len(),
                    replayable.cloned(),
                    Instant::now(),
                );
                self.history.record(topic, entry);
            }
            let Some(Topic {
                subscribers, pace, ..
            }) = topics.get(topic)
            else {
                self.counters.sent(0);
                tracing::trace!(topic, reached = 0, dropped = 0, "sent");
                return delivery;
            };
            let now = Instant::now();
            // A frame is held for company only while the server is short of CPU: otherwise
            // writing it at once costs nothing anyone waits for.
            let max_delay = if self.load.is_busy(now) {
                self.config.max_write_delay
            } else {
                Duration::ZERO
            };
            let hold = pace.record(now, max_delay);
            // The idle streams whose next write this send claims, written once the index is
            // free, unless the server is busy: then every frame goes to its stream's own task,
            // to share its writes.
            let mut claimed = if max_delay.is_zero() {
                Claimed::for_send(subscribers.len(), &self.serving_runtime)
            } else {
                None
            };
            // Clients of the plain topic whose stream had not written earlier frames yet.
            let (mut behind, mut plain_clients) = (0, 0);
            for (client_id, subscriber) in subscribers {
                if !filter(client_id, &subscriber.client) {
                    continue;
                }
                let mut queued = false;
                if subscriber.plain {
                    let (pushed, is_behind) = subscriber.client.state().outbox.push_behind(
                        plain.clone(),
                        hold,
                        claimed.is_some(),
                    );
                    behind += usize::from(is_behind);
                    plain_clients += 1;
                    match pushed {
                        Push::Queued => queued = true,
                        Push::Claimed => {
                            queued = true;
                            if let Some(claimed) = &mut claimed {
                                claimed.push(subscriber.client.clone());
                            }
                        }
                        Push::Closed => continue,
                        Push::Overflowed => {
                            overflowed.push(subscriber.client.clone());
                            continue;
                        }
                    }
                }
                match &subscriber.keyed {
                    Some(keys) => keyed.push((subscriber.client.clone(), Arc::clone(keys), queued)),
                    None => delivery.reached += usize::from(queued),
                }
            }
            pace.record_behind(behind, plain_clients);
            (id, hold, claimed)
        };
        if let Some(claimed) = claimed {
            claimed.write(&self.counters);
        }
        delivery.reached += Self::queue_keyed(keyed, &id, data, hold, &mut overflowed);
        delivery.dropped = overflowed.len();
        // Counted once per send, from the fan-out's own tally: nothing per delivery.
        self.counters.sent(delivery.reached);
        tracing::trace!(
            topic,
            reached = delivery.reached,
            dropped = delivery.dropped,
            "sent"
        );
        for client in &overflowed {
            tracing::warn!(client = %client.id(), topic, "queue full; disconnecting slow client");
            self.drop_slow(client);
        }
        self.reap();
        delivery
    }

    /// Queues a send's frames for clients with keys with options (`keyed`: each client, its
    /// keys, and whether the plain frame reached it), each key's frame built once; notes the
    /// clients that overflowed. Returns how many clients it reached.
    fn queue_keyed(
        keyed: Vec<(Client, Keys, bool)>,
        id: &Position<'_>,
        data: &[u8],
        hold: Option<Instant>,
        overflowed: &mut Vec<Client>,
    ) -> usize {
        let mut reached = 0;
        let mut frames: HashMap<usize, Bytes> = HashMap::new();
        for (client, keys, mut queued) in keyed {
            for key in keys.iter() {
                let frame = frames
                    .entry(index::identity(key))
                    .or_insert_with(|| sse::event(id, key, data));
                match client.state().outbox.push(frame.clone(), hold) {
                    Push::Queued | Push::Claimed => queued = true,
                    Push::Closed => break,
                    Push::Overflowed => {
                        overflowed.push(client.clone());
                        break;
                    }
                }
            }
            reached += usize::from(queued);
        }
        reached
    }

    #[cfg_attr(
        not(feature = "redis"),
        allow(dead_code, reason = "used by the Redis engine")
    )]
    /// Delivers a send numbered by the engine, in the order received: the application's one
    /// order of sends.
    pub(crate) fn deliver_ordered(
        &self,
        at: Position<'_>,
        topic: &str,
        data: &[u8],
        filter: &Filter,
    ) {
        if self.cluster_order.receive(at.epoch, at.sequence) == Step::NewEpoch {
            self.history.clear();
        }
        let check = filter.check();
        let _ = self.fan_out(
            topic,
            data,
            |_, client| check.accepts(client),
            Some(filter),
            Some(at),
        );
    }

    #[cfg_attr(
        not(feature = "redis"),
        allow(dead_code, reason = "used by the Redis engine")
    )]
    /// Notes where the application's order stands, read from the engine when this node joins
    /// it (at start and after every reconnect).
    pub(crate) fn join_order(&self, epoch: &str, sequence: u64) {
        if self.cluster_order.join(epoch, sequence) == Step::NewEpoch {
            self.history.clear();
        }
    }

    /// Queues a client whose queue overflowed outside a fan-out for removal.
    pub(crate) fn overflowed(&self, client: Client) {
        self.overflowed.put(std::iter::once(client));
        self.reap();
    }

    /// Unregisters overflowed clients, unless the topic index is busy (this may run inside a
    /// filter); the next send or connect does it then.
    pub(super) fn reap(&self) {
        let Some(pending) = self.overflowed.take() else {
            return;
        };
        if self.topics.try_write().is_err() {
            self.overflowed.put(pending);
            return;
        }
        for client in &pending {
            self.drop_slow(client);
        }
    }

    /// Unregisters a client whose queue overflowed and cuts its connection, which is likely
    /// too clogged to notice the end of its stream.
    fn drop_slow(&self, client: &Client) {
        self.unregister(client);
        client.abort_connection();
    }
}

/// Clients whose queue overflowed outside a fan-out, waiting to be unregistered. Every send
/// looks, on every topic: finding none is one atomic load, so sends on different cores share
/// its cache line instead of taking turns with its lock.
#[derive(Default)]
pub(super) struct Overflowed {
    clients: Mutex<Vec<Client>>,
    /// Whether `clients` holds any; written only under its lock.
    any: AtomicBool,
}

impl Overflowed {
    fn put(&self, clients: impl IntoIterator<Item = Client>) {
        let mut queued = lock(&self.clients);
        queued.extend(clients);
        self.any.store(!queued.is_empty(), Ordering::Release);
    }

    /// Every client queued, if any.
    fn take(&self) -> Option<Vec<Client>> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        let mut queued = lock(&self.clients);
        self.any.store(false, Ordering::Release);
        Some(std::mem::take(&mut *queued)).filter(|clients| !clients.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use crate::Realtime;

    #[test]
    fn a_client_that_overflows_outside_a_send_is_removed_then_or_by_the_next_connect() {
        let rt = Realtime::builder().queue_capacity(2).build();
        let shared = rt.shared_arc();
        let stream = shared.connect(None, None, None, None);
        let client = stream.client().clone();
        // Its PB_CONNECT and one more fill the queue; the next overflows it.
        assert!(client.send("note", &1).unwrap());
        assert!(!client.send("note", &2).unwrap());
        assert!(rt.client(client.id().as_str()).is_none(), "removed at once");

        let stream = shared.connect(None, None, None, None);
        let client = stream.client().clone();
        assert!(client.send("note", &1).unwrap());
        {
            // The index is busy (as when this runs inside a filter): removal waits.
            let _busy = shared.write_topics();
            assert!(!client.send("note", &2).unwrap());
        }
        assert!(rt.client(client.id().as_str()).is_some(), "not yet");
        let _next = shared.connect(None, None, None, None);
        assert!(
            rt.client(client.id().as_str()).is_none(),
            "removed by the next connect"
        );
    }

    /// A send made outside any runtime spawns its writers on the runtime that served the
    /// first stream (see `writers`): a stream opened outside one names none.
    #[test]
    fn the_first_stream_opened_in_a_runtime_names_it_for_writers() {
        let rt = Realtime::builder().build();
        let shared = rt.shared_arc();
        let _outside = shared.connect(None, None, None, None);
        assert!(shared.serving_runtime.get().is_none());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let _inside = runtime.block_on(async { shared.connect(None, None, None, None) });
        assert!(shared.serving_runtime.get().is_some());
    }
}
