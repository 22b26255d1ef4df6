//! Resuming: what a reconnecting client missed, queued before any live send when its first
//! subscription arrives, or a `PB_RESYNC` for the topics whose past cannot be told.

use std::collections::BTreeMap;

use bytes::Bytes;
use tokio::time::Instant;

use super::Shared;
use super::client::Client;
use super::engine::Fetched;
use super::history::{Entry, Since};
use crate::wire::position::{Position, Resume};
use crate::wire::sse;

impl Shared {
    /// The position a new stream stands for, in the order `epoch` which stands at `at`: `at`
    /// for a client that says nothing, else where it says it stopped, if that can be told.
    /// A browser's `EventSource` takes the stream's `PB_CONNECT` id as its last event id:
    /// were the stream lost before its subscription brought what was missed, the client
    /// resumes from that id, which must not skip what it still misses.
    pub(super) fn resumed_from(
        &self,
        resume: Option<&Resume>,
        epoch: &str,
        at: u64,
    ) -> Option<u64> {
        let Some(resume) = resume else {
            return Some(at);
        };
        match resume {
            // With an engine, other nodes number sends too: a position past this node's
            // count is one it has not received yet.
            Resume::After {
                epoch: from,
                sequence,
            } => {
                (from == epoch && (*sequence <= at || self.engine().is_some())).then_some(*sequence)
            }
            Resume::Connected(old) => self
                .find(old)
                .and_then(|client| client.connected_sequence())
                .or_else(|| self.recent.connected_at(old)),
            Resume::Unknown => None,
        }
    }

    /// Queues for `client`, which says it stopped at `resume`, every send it missed on its
    /// topics that keep a history, in order, under each of its keys, each only if the send's
    /// filter accepts this client; then one `PB_RESYNC` naming the topics whose missed sends
    /// cannot be told (position too old or unknown, another epoch, a send whose filter was a
    /// closure, or more than its queue could take). Runs under the topic index's write lock,
    /// so no live send can come first.
    pub(super) fn replay(&self, client: &Client, resume: &Resume, fetched: Option<Fetched>) {
        // The order positions belong to: the application's (with an engine), or this broker's.
        let (epoch, current) = if self.engine().is_some() {
            self.cluster_order.current()
        } else {
            (
                self.epoch.clone(),
                self.sequence.load(std::sync::atomic::Ordering::Relaxed),
            )
        };
        let fetched = fetched.filter(|f| !epoch.is_empty() && f.epoch == epoch);
        let after = match resume {
            Resume::After {
                epoch: from,
                sequence,
            } if *from == epoch && *sequence <= current => Some(*sequence),
            Resume::Connected(old) => self
                .find(old)
                .and_then(|client| client.connected_sequence())
                .or_else(|| self.recent.connected_at(old))
                .or_else(|| fetched.as_ref().map(|f| f.after)),
            Resume::After { .. } | Resume::Unknown => None,
        };
        // This node's copy reaches back far enough, or the engine's history was read.
        let local = after.is_some_and(|after| {
            self.engine().is_none() || self.cluster_order.covers(&epoch, after)
        });
        // The client's keys by topic, for the topics that keep a history.
        let mut keys: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for sub in client.subscription_details() {
            if self.history.retention(sub.topic()).is_some() {
                keys.entry(sub.topic().to_owned())
                    .or_default()
                    .push(sub.key().to_owned());
            }
        }
        let now = Instant::now();
        let mut lost: Vec<&str> = Vec::new();
        let mut missed: Vec<(u64, Bytes)> = Vec::new();
        for (topic, keys) in &keys {
            let entries = match after {
                Some(after) if local => match self.history.since(topic, after, now) {
                    Since::Entries(entries) => Some(entries),
                    Since::Lost => None,
                },
                Some(after) => fetched
                    .as_ref()
                    .and_then(|f| self.read_back(f, topic, after, now)),
                None => None,
            };
            let Some(entries) = entries.filter(|e| e.iter().all(|e| e.filter.is_some())) else {
                lost.push(topic);
                continue;
            };
            for entry in entries {
                if !entry
                    .filter
                    .as_ref()
                    .is_some_and(|filter| filter.accepts(client))
                {
                    continue;
                }
                for key in keys {
                    let frame = if key == topic {
                        entry.frame.clone()
                    } else {
                        let id = Position {
                            epoch: &epoch,
                            sequence: entry.sequence,
                        };
                        sse::event(&id, key, &entry.data)
                    };
                    missed.push((entry.sequence, frame));
                }
            }
        }
        // Across topics, in the one order of sends (stable: a send's keys stay in order).
        missed.sort_by_key(|(sequence, _)| *sequence);
        let limits = self.config.queue_limits();
        let bytes: usize = missed.iter().map(|(_, frame)| frame.len()).sum();
        if missed.len() + 2 > limits.messages || bytes > limits.bytes {
            // More than the queue holds: the page reloads instead of the client being cut.
            lost = keys.keys().map(String::as_str).collect();
            missed.clear();
        }
        for (_, frame) in missed {
            client.push(frame);
        }
        if !lost.is_empty() {
            let data = serde_json::json!({ "topics": lost }).to_string();
            let id = Position {
                epoch: &epoch,
                sequence: current,
            };
            client.push(sse::event(
                &id.to_string(),
                sse::RESYNC_EVENT,
                data.as_bytes(),
            ));
        }
    }

    /// A topic's sends after `after`: those read from the engine's history, then those this
    /// node received since; `None` when some are gone, or the two do not meet.
    fn read_back(
        &self,
        fetched: &Fetched,
        topic: &str,
        after: u64,
        now: Instant,
    ) -> Option<Vec<Entry>> {
        let sends = fetched.topics.get(topic)?.as_ref()?;
        let mut entries: Vec<Entry> = sends
            .iter()
            .map(|send| {
                let id = Position {
                    epoch: &fetched.epoch,
                    sequence: send.sequence,
                };
                let frame = sse::event(&id, topic, &send.data);
                Entry::new(
                    send.sequence,
                    frame,
                    send.data.len(),
                    Some(send.filter.clone()),
                    now,
                )
            })
            .collect();
        let read_through = entries.last().map_or(after, |entry| entry.sequence);
        if !self.cluster_order.covers(&fetched.epoch, read_through) {
            return None; // sends after the read are not all here either
        }
        match self.history.since(topic, read_through, now) {
            Since::Entries(newer) => entries.extend(newer),
            Since::Lost => return None,
        }
        Some(entries)
    }
}
