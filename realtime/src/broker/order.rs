//! The order of sends a node receives from a distributed engine: Redis numbers every send of
//! the application once, so positions mean the same on every node. A node notes where it
//! stands in that order and from where its own copy of the history is complete (it misses
//! what was published while it was disconnected, and everything before it started).

use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::sync::{read, write};

pub(crate) struct ClusterOrder {
    epoch: RwLock<String>,
    last: AtomicU64,
    /// This node's history holds every send from this sequence on.
    complete_from: AtomicU64,
}

/// What a received send changes.
#[derive(Debug, PartialEq, Eq)]
#[cfg_attr(
    not(feature = "redis"),
    allow(dead_code, reason = "used by the Redis engine")
)]
pub(crate) enum Step {
    /// The next send, in order.
    Next,
    /// Sends were missed before this one (or it is the first): history is complete from here.
    Gap,
    /// Another epoch: what this node kept belongs to an order that is gone.
    NewEpoch,
}

impl Default for ClusterOrder {
    fn default() -> Self {
        Self {
            epoch: RwLock::new(String::new()),
            last: AtomicU64::new(0),
            complete_from: AtomicU64::new(u64::MAX),
        }
    }
}

impl ClusterOrder {
    #[cfg_attr(
        not(feature = "redis"),
        allow(dead_code, reason = "used by the Redis engine")
    )]
    /// Notes the send `sequence` of `epoch`, received in order (one thread receives).
    pub(crate) fn receive(&self, epoch: &str, sequence: u64) -> Step {
        let step = if *read(&self.epoch) != epoch {
            epoch.clone_into(&mut write(&self.epoch));
            Step::NewEpoch
        } else if self.last.load(Ordering::Relaxed) + 1 == sequence {
            Step::Next
        } else {
            Step::Gap
        };
        if step != Step::Next {
            self.complete_from.store(sequence, Ordering::Relaxed);
        }
        self.last.store(sequence, Ordering::Relaxed);
        step
    }

    #[cfg_attr(
        not(feature = "redis"),
        allow(dead_code, reason = "used by the Redis engine")
    )]
    /// Notes where the order stands in Redis, read when this node (re)joins: sends before it
    /// were missed (or came before this node), so history is complete only after it.
    pub(crate) fn join(&self, epoch: &str, sequence: u64) -> Step {
        if *read(&self.epoch) != epoch {
            epoch.clone_into(&mut write(&self.epoch));
            self.last.store(sequence, Ordering::Relaxed);
            self.complete_from.store(sequence + 1, Ordering::Relaxed);
            return Step::NewEpoch;
        }
        if sequence > self.last.load(Ordering::Relaxed) {
            self.last.store(sequence, Ordering::Relaxed);
            self.complete_from.store(sequence + 1, Ordering::Relaxed);
            return Step::Gap;
        }
        Step::Next
    }

    /// The epoch and the last sequence received; the epoch is empty before any.
    pub(crate) fn current(&self) -> (String, u64) {
        (read(&self.epoch).clone(), self.last.load(Ordering::Relaxed))
    }

    /// Whether this node's history holds every send after `sequence` of `epoch`.
    pub(crate) fn covers(&self, epoch: &str, sequence: u64) -> bool {
        let (current, last) = self.current();
        !current.is_empty()
            && current == epoch
            && sequence <= last
            && sequence.saturating_add(1) >= self.complete_from.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_knows_from_where_its_history_is_complete() {
        let order = ClusterOrder::default();
        assert!(!order.covers("", 0));
        assert_eq!(order.receive("E", 10), Step::NewEpoch);
        assert_eq!(order.receive("E", 11), Step::Next);
        assert!(order.covers("E", 9), "complete from 10");
        assert!(!order.covers("E", 8));
        assert!(!order.covers("E", 12), "not yet sent");
        assert_eq!(order.receive("E", 15), Step::Gap, "12 to 14 missed");
        assert!(!order.covers("E", 11));
        assert!(order.covers("E", 14));
        assert_eq!(
            order.join("E", 20),
            Step::Gap,
            "rejoined after missing 16 to 20"
        );
        assert!(!order.covers("E", 15));
        assert!(order.covers("E", 20));
        assert_eq!(order.join("E", 20), Step::Next);
        assert_eq!(order.receive("F", 1), Step::NewEpoch);
        assert!(!order.covers("E", 14));
        assert!(order.covers("F", 0));
    }
}
