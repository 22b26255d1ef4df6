//! The fan-out's writers. A send that finds streams idle claims their next write (see
//! `outbox`) instead of waking each stream's task: a wake-up, a poll and a drain per delivery,
//! and a task's cold state to bring in. The claimed frames are written by the sender itself
//! when they are few, otherwise by one task per worker thread of the runtime, each through an
//! equal share of the streams: the same system calls, in parallel, for fewer cycles each.
//!
//! A sender outside any runtime (the Redis engine's thread, or an application's own thread)
//! spawns its writer tasks on the runtime that serves the streams, remembered when the first
//! stream connected.
//!
//! Claims are made only while the server is not busy (see `load`): a busy server queues
//! frames for the streams' own tasks, which write what piled up together, and a stream that
//! is behind (frames queued, or a write in progress) is never claimed, so a claim never makes
//! a frame wait.

use std::sync::{Arc, OnceLock};

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
    /// from here: a sender outside any runtime, before a stream was served (`serving` unset),
    /// has no writer tasks to share many with, and the streams' own tasks write them instead.
    pub(super) fn for_send(streams: usize, serving: &OnceLock<Handle>) -> Option<Self> {
        let runtime = if streams > WRITTEN_BY_THE_SENDER {
            Some(
                Handle::try_current()
                    .ok()
                    .or_else(|| serving.get().cloned())?,
            )
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

#[cfg(test)]
mod tests {
    use std::io::Read as _;
    use std::time::Duration;

    use bytes::Bytes;

    use super::*;
    use crate::broker::outbox::{Drain, Push};

    /// A send made on a thread of no runtime, to more streams than it writes itself, hands
    /// its claims to writer tasks on the runtime that serves the streams. No stream task runs
    /// here, so only those writer tasks can have written the frames.
    #[test]
    fn a_send_outside_the_runtime_writes_through_the_serving_runtime() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let streams = 3 * WRITTEN_BY_THE_SENDER;
        let (clients, sockets, readers) = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let (mut clients, mut sockets, mut readers) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..streams {
                let reader = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
                reader
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .unwrap();
                let socket = Arc::new(listener.accept().await.unwrap().0);
                let client = Client::detached();
                client.state().outbox.lend_socket(Arc::downgrade(&socket));
                clients.push(client);
                sockets.push(socket);
                readers.push(reader);
            }
            (clients, sockets, readers)
        });
        let serving = OnceLock::new();
        assert!(
            Claimed::for_send(streams, &serving).is_none(),
            "no runtime to share the writes with"
        );
        serving.set(runtime.handle().clone()).unwrap();
        let mut claimed = Claimed::for_send(streams, &serving).expect("the serving runtime");
        let frame = Bytes::from_static(b"frame");
        for client in &clients {
            let (pushed, _) = client.state().outbox.push_behind(frame.clone(), None, true);
            assert_eq!(pushed, Push::Claimed);
            claimed.push(client.clone());
        }
        claimed.write(&Arc::new(Counters::default()));
        for mut reader in readers {
            let mut got = [0; 5];
            reader
                .read_exact(&mut got)
                .expect("written by a writer task");
            assert_eq!(&got, b"frame");
        }
        drop(sockets);
    }

    /// Writer tasks spawned on a runtime that has since shut down never run: the claims go
    /// back to the streams, whose frames stay queued, and nothing panics.
    #[test]
    fn claims_for_a_runtime_that_shut_down_go_back_to_the_streams() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let serving = OnceLock::new();
        serving.set(runtime.handle().clone()).unwrap();
        let (clients, _sockets) = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let (mut clients, mut sockets) = (Vec::new(), Vec::new());
            for _ in 0..2 * WRITTEN_BY_THE_SENDER {
                let reader = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
                let socket = Arc::new(listener.accept().await.unwrap().0);
                let client = Client::detached();
                client.state().outbox.lend_socket(Arc::downgrade(&socket));
                clients.push(client);
                sockets.push((socket, reader));
            }
            (clients, sockets)
        });
        drop(runtime);
        let mut claimed = Claimed::for_send(clients.len(), &serving).expect("a stored runtime");
        for client in &clients {
            let (pushed, _) =
                client
                    .state()
                    .outbox
                    .push_behind(Bytes::from_static(b"frame"), None, true);
            assert_eq!(pushed, Push::Claimed);
            claimed.push(client.clone());
        }
        claimed.write(&Arc::new(Counters::default()));
        for client in &clients {
            // No claim is left held: the stream drains its frame.
            let mut out: [Option<Bytes>; 1] = Default::default();
            let cx = &mut std::task::Context::from_waker(std::task::Waker::noop());
            assert_eq!(
                client.state().outbox.poll_drain(cx, &mut out, || None),
                Drain::Frames(1)
            );
            assert_eq!(out[0].as_deref(), Some(&b"frame"[..]));
        }
    }
}
