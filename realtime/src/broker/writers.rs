//! The fan-out's writers. A send that finds streams idle claims their next write (see
//! `outbox`) instead of waking each stream's task: a wake-up, a poll and a drain per delivery,
//! and a task's cold state to bring in. The claimed frames are written by the sender itself
//! when they are few, otherwise by one task per worker thread of the runtime, each through an
//! equal share of the streams: the same system calls, in parallel, for fewer cycles each.
//!
//! Claims are made only while the server is not busy (see `load`): a busy server queues
//! frames for the streams' own tasks, which write what piled up together, and a stream that
//! is behind (frames queued, or a write in progress) is never claimed, so a claim never makes
//! a frame wait.

use std::sync::Arc;

use tokio::runtime::Handle;

use crate::broker::client::Client;
use crate::broker::stats::Counters;

/// Frames the sender writes itself rather than hand to writer tasks: a few system calls cost
/// less than waking another thread.
const WRITTEN_BY_THE_SENDER: usize = 16;

/// Claimed streams, each with one frame to write. Dropped unwritten (a writer task that the
/// runtime dropped, say), they give their claims back to the streams' tasks.
pub(super) struct Claimed {
    clients: Vec<Client>,
    /// The runtime to spawn writer tasks on, for a send to more streams than the sender
    /// writes itself.
    runtime: Option<Handle>,
}

impl Claimed {
    /// For a send to up to `streams` streams, or `None` if its frames should not be claimed
    /// from here: a sender outside the runtime (the Redis engine's thread, say) has no writer
    /// tasks to share many with, and the streams' own tasks write them in parallel instead.
    pub(super) fn for_send(streams: usize) -> Option<Self> {
        let runtime = if streams > WRITTEN_BY_THE_SENDER {
            Some(Handle::try_current().ok()?)
        } else {
            None
        };
        Some(Self {
            clients: Vec::with_capacity(streams),
            runtime,
        })
    }

    pub(super) fn push(&mut self, client: Client) {
        self.clients.push(client);
    }

    /// Writes every claimed frame: here when they are few, otherwise in writer tasks, one
    /// per worker thread at most.
    pub(super) fn write(mut self, counters: &Arc<Counters>) {
        let count = self.clients.len();
        let runtime = self
            .runtime
            .take()
            .filter(|_| count > WRITTEN_BY_THE_SENDER);
        let Some(runtime) = runtime else {
            self.write_here(counters);
            return;
        };
        let writers = runtime
            .metrics()
            .num_workers()
            .min(count.div_ceil(WRITTEN_BY_THE_SENDER))
            .max(1);
        let share = count.div_ceil(writers);
        while !self.clients.is_empty() {
            let mut part = Claimed {
                clients: self
                    .clients
                    .split_off(self.clients.len().saturating_sub(share)),
                runtime: None,
            };
            let counters = Arc::clone(counters);
            runtime.spawn(async move { part.write_here(&counters) });
        }
    }

    fn write_here(&mut self, counters: &Counters) {
        let mut events = 0;
        for client in self.clients.drain(..) {
            events += client.state().outbox.write_claimed();
        }
        counters.wrote(events);
    }
}

impl Drop for Claimed {
    fn drop(&mut self) {
        for client in self.clients.drain(..) {
            client.state().outbox.give_back_claim();
        }
    }
}
