//! Resuming: what a reconnecting client missed, queued before any live send when its first
//! subscription arrives, or a `PB_RESYNC` for the topics whose past cannot be told.

use std::collections::BTreeMap;

use bytes::Bytes;
use tokio::time::Instant;

use super::Shared;
use super::client::Client;
use super::history::Since;
use crate::wire::position::{Position, Resume};
use crate::wire::sse;

/// The event that tells a client some topics' past is lost: reload their state.
pub(crate) const RESYNC_EVENT: &str = "PB_RESYNC";

impl Shared {
    /// Queues for `client`, which says it stopped at `resume`, every send it missed on its
    /// topics that keep a history, in order, under each of its keys, each only if the send's
    /// filter accepts this client; then one `PB_RESYNC` naming the topics whose missed sends
    /// cannot be told (position too old or unknown, another epoch, a send whose filter was a
    /// closure, or more than its queue could take). Runs under the topic index's write lock,
    /// so no live send can come first.
    pub(super) fn replay(&self, client: &Client, resume: &Resume) {
        let current = self.sequence.load(std::sync::atomic::Ordering::Relaxed);
        let after = match resume {
            Resume::After { epoch, sequence } if *epoch == self.epoch && *sequence <= current => {
                Some(*sequence)
            }
            Resume::Connected(old) => self
                .find(old)
                .and_then(|client| client.connected_sequence())
                .or_else(|| self.recent.connected_at(old)),
            Resume::After { .. } | Resume::Unknown => None,
        };
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
            let entries = match after.map(|after| self.history.since(topic, after, now)) {
                Some(Since::Entries(entries)) if entries.iter().all(|e| e.filter.is_some()) => {
                    entries
                }
                _ => {
                    lost.push(topic);
                    continue;
                }
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
                            epoch: &self.epoch,
                            sequence: entry.sequence,
                        };
                        sse::event(&id.to_string(), key, &entry.data)
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
                epoch: &self.epoch,
                sequence: current,
            };
            client.push(sse::event(&id.to_string(), RESYNC_EVENT, data.as_bytes()));
        }
    }
}
