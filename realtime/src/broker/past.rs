//! Reading a topic's history from the application: what was sent, since a position.

use tokio::time::Instant;

use super::Realtime;
use super::history::Since;
use crate::wire::position::{Position, Resume};

/// One send kept in a topic's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastSend {
    /// Its position: the `id:` its event carried.
    pub id: String,
    /// Its payload, the JSON as it was sent.
    pub data: String,
}

impl Realtime {
    /// The sends `topic` keeps (see [`Builder::history`](crate::Builder::history)), oldest
    /// first: all of them, or only those after `since` (an event's `id:`). `None` when that
    /// cannot be told: the topic keeps no history, `since` is older than what it keeps, or of
    /// another epoch (a restarted server). Filters are not applied: this is the server's
    /// view. With a distributed engine it reads this node's copy.
    #[must_use]
    pub fn history(&self, topic: &str, since: Option<&str>) -> Option<Vec<PastSend>> {
        let shared = self.shared();
        shared.history.retention(topic)?;
        let (epoch, current) = if shared.engine().is_some() {
            shared.cluster_order.current()
        } else {
            (
                shared.epoch.clone(),
                shared.sequence.load(std::sync::atomic::Ordering::Relaxed),
            )
        };
        let after = match since.map(Resume::parse) {
            None | Some(None) => None,
            Some(Some(Resume::After {
                epoch: from,
                sequence,
            })) if from == epoch && sequence <= current => Some(sequence),
            Some(Some(_)) => return None,
        };
        if let Some(after) = after
            && shared.engine().is_some()
            && !shared.cluster_order.covers(&epoch, after)
        {
            return None;
        }
        let now = Instant::now();
        let kept = match after {
            None => Since::Entries(shared.history.kept(topic, now)),
            Some(after) => shared.history.since(topic, after, now),
        };
        match kept {
            Since::Lost => None,
            Since::Entries(entries) => Some(
                entries
                    .into_iter()
                    .map(|entry| PastSend {
                        id: Position {
                            epoch: &epoch,
                            sequence: entry.sequence,
                        }
                        .to_string(),
                        data: String::from_utf8_lossy(&entry.data).into_owned(),
                    })
                    .collect(),
            ),
        }
    }
}
