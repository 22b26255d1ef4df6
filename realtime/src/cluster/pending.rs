//! Subscription changes sent to the node that holds their client, waiting for its answer.
//! Bounded in number and in time: a node that never answers costs one entry for a while.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::broker::engine::Refusal;
use crate::sync::lock;

/// How long a forwarded request waits for the owner's answer.
pub(super) const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// The most requests waiting at once; more are answered "unreachable" at once.
const MAX_WAITING: usize = 10_000;

type Outcome = Result<(), Refusal>;

#[derive(Default)]
pub(super) struct Pending {
    next: AtomicU64,
    waiting: Mutex<HashMap<u64, oneshot::Sender<Outcome>>>,
}

impl Pending {
    /// A new request's number and where its answer will arrive; `None` when too many wait.
    pub(super) fn register(&self) -> Option<(u64, oneshot::Receiver<Outcome>)> {
        let mut waiting = lock(&self.waiting);
        if waiting.len() >= MAX_WAITING {
            return None;
        }
        let request = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        waiting.insert(request, tx);
        Some((request, rx))
    }

    /// Answers request `request`, if it still waits.
    pub(super) fn complete(&self, request: u64, outcome: Outcome) {
        if let Some(tx) = lock(&self.waiting).remove(&request) {
            let _ = tx.send(outcome);
        }
    }

    /// Gives up on `request` (its caller stopped waiting).
    pub(super) fn forget(&self, request: u64) {
        lock(&self.waiting).remove(&request);
    }

    /// Waits for the answer to `request`, at most [`ANSWER_TIMEOUT`].
    pub(super) async fn answer(&self, request: u64, rx: oneshot::Receiver<Outcome>) -> Outcome {
        if let Ok(Ok(outcome)) = tokio::time::timeout(ANSWER_TIMEOUT, rx).await {
            outcome
        } else {
            self.forget(request);
            Err(Refusal::OwnerUnreachable)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_reach_their_request_once_and_the_table_stays_bounded() {
        let pending = Pending::default();
        let (a, rx_a) = pending.register().unwrap();
        let (b, rx_b) = pending.register().unwrap();
        pending.complete(b, Err(Refusal::AuthMismatch));
        pending.complete(a, Ok(()));
        pending.complete(a, Err(Refusal::UnknownClient)); // late duplicate: ignored
        assert_eq!(pending.answer(a, rx_a).await, Ok(()));
        assert_eq!(pending.answer(b, rx_b).await, Err(Refusal::AuthMismatch));
        assert!(lock(&pending.waiting).is_empty());

        let held: Vec<_> = (0..MAX_WAITING)
            .map(|_| pending.register().unwrap())
            .collect();
        assert!(pending.register().is_none(), "the table is bounded");
        drop(held);
    }

    #[tokio::test(start_paused = true)]
    async fn an_owner_that_never_answers_is_unreachable_after_the_timeout() {
        let pending = Pending::default();
        let (request, rx) = pending.register().unwrap();
        assert_eq!(
            pending.answer(request, rx).await,
            Err(Refusal::OwnerUnreachable)
        );
        assert!(lock(&pending.waiting).is_empty(), "the entry is gone");
    }
}
