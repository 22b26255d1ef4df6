//! What the broker has done, in numbers: counters kept as relaxed atomics where things happen,
//! and the snapshot [`Realtime::stats`](crate::Realtime::stats) reads from them.
//!
//! The hot counters cost one relaxed add per send (its deliveries are counted from the
//! fan-out's own tally, not one by one) and one per batch a stream writes; each sits on a
//! cache line of its own, so counters written from different places do not share one.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Why a stream ended. Recorded once per stream, when it ends: the first reason wins (a client
/// the application disconnected that then leaves ended because of the application).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The client went away, or its connection failed.
    ClientLeft,
    /// Nothing was written for the idle timeout ([`Builder::idle_timeout`](crate::Builder::idle_timeout)).
    IdleTimeout,
    /// The stream reached its longest lifetime ([`Builder::max_lifetime`](crate::Builder::max_lifetime)).
    Lifetime,
    /// The client's queue held its most messages ([`Builder::queue_capacity`](crate::Builder::queue_capacity)).
    QueueFull,
    /// The client's queue held its most bytes ([`Builder::queue_bytes`](crate::Builder::queue_bytes)).
    ByteBudget,
    /// A write made no progress for the write timeout ([`Builder::write_timeout`](crate::Builder::write_timeout)).
    WriteStalled,
    /// The server shut down, or [`Realtime::disconnect_all`](crate::Realtime::disconnect_all)
    /// ended every stream.
    Shutdown,
    /// The application disconnected the client ([`Client::disconnect`](crate::Client::disconnect)).
    Application,
    /// The stream never started: the application's layers answered its request with another
    /// response, or the connection was upgraded.
    NotServed,
}

impl DisconnectReason {
    /// Every reason, in order.
    pub const ALL: [Self; 9] = [
        Self::ClientLeft,
        Self::IdleTimeout,
        Self::Lifetime,
        Self::QueueFull,
        Self::ByteBudget,
        Self::WriteStalled,
        Self::Shutdown,
        Self::Application,
        Self::NotServed,
    ];

    /// The reason in `snake_case`, as logs and metric labels name it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientLeft => "client_left",
            Self::IdleTimeout => "idle_timeout",
            Self::Lifetime => "lifetime",
            Self::QueueFull => "queue_full",
            Self::ByteBudget => "byte_budget",
            Self::WriteStalled => "write_stalled",
            Self::Shutdown => "shutdown",
            Self::Application => "application",
            Self::NotServed => "not_served",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which writer serves a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StreamPath {
    /// A response body written by hyper (`axum::serve`, or
    /// [`Builder::direct_streams`](crate::Builder::direct_streams)`(false)`).
    Hyper,
    /// Written straight to the socket by [`Realtime::serve`](crate::Realtime::serve).
    Direct,
}

impl StreamPath {
    /// `"hyper"` or `"direct"`, as logs and metric labels name it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hyper => "hyper",
            Self::Direct => "direct",
        }
    }
}

impl fmt::Display for StreamPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One figure for each stream path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ByPath<T> {
    /// Streams written by hyper.
    pub hyper: T,
    /// Streams written by [`Realtime::serve`](crate::Realtime::serve) itself.
    pub direct: T,
}

impl<T: Copy> ByPath<T> {
    /// The figure for `path`.
    #[must_use]
    pub fn get(&self, path: StreamPath) -> T {
        match path {
            StreamPath::Hyper => self.hyper,
            StreamPath::Direct => self.direct,
        }
    }
}

/// What the broker is doing and has done, as [`Realtime::stats`](crate::Realtime::stats)
/// read it. Counts since the broker was built; the figures are read one after another, not
/// at one instant, so under load they may disagree by what happened in between.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Clients connected (registered) now.
    pub clients: usize,
    /// Event streams open now, as [`Realtime::open_streams`](crate::Realtime::open_streams):
    /// a stream stays open after its client is cut off until its connection is gone, and is
    /// counted here before it has started on a path.
    pub open_streams: usize,
    /// Of the open streams, those that started on each path.
    pub streams_by_path: ByPath<usize>,
    /// Streams started on each path since the broker was built.
    pub connections_by_path: ByPath<u64>,
    /// Topics with at least one subscriber now.
    pub topics: usize,
    /// Bytes queued for the connected clients now, not yet taken by their streams (a frame
    /// shared by several clients counts in each).
    pub queued_bytes: usize,
    /// Sends fanned out on this node: [`Realtime::send`](crate::Realtime::send),
    /// `send_to`, `send_local` and captures, and the sends of other nodes delivered here.
    /// [`Client::send`](crate::Client::send) to one client is not counted.
    pub sends: u64,
    /// Clients those sends were queued for, once per client per send.
    pub deliveries: u64,
    /// `POST /api/realtime` answers by HTTP status (204 for a change applied).
    pub subscriptions_by_status: BTreeMap<u16, u64>,
    /// Streams ended, by why.
    pub disconnects: BTreeMap<DisconnectReason, u64>,
    /// Bytes of events written to streams, on either path (the Server-Sent Events text,
    /// without the HTTP head or chunk framing).
    pub bytes_written: u64,
}

impl Stats {
    /// Streams ended for `reason`.
    #[must_use]
    pub fn disconnects_for(&self, reason: DisconnectReason) -> u64 {
        self.disconnects.get(&reason).copied().unwrap_or(0)
    }

    /// `POST /api/realtime` answered with `status`.
    #[must_use]
    pub fn subscriptions_with(&self, status: u16) -> u64 {
        self.subscriptions_by_status
            .get(&status)
            .copied()
            .unwrap_or(0)
    }
}

/// A counter alone on its cache line: the per-send and per-write counters are bumped from
/// every core, and must not drag the others' lines with them.
#[derive(Default)]
#[repr(align(64))]
struct Padded<T>(T);

/// The statuses `POST /api/realtime` answers with, each counted on its own; any other counts
/// under the last slot's `0`, reported as the status it was (the last one seen).
const STATUSES: [u16; 7] = [204, 400, 403, 404, 413, 503, 0];

/// The counters, shared by the broker and every stream.
#[derive(Default)]
pub(crate) struct Counters {
    sends: Padded<AtomicU64>,
    deliveries: Padded<AtomicU64>,
    bytes_written: Padded<AtomicU64>,
    /// Rarely written: once per stream start or end, or per subscription request.
    streams: [AtomicUsize; 2],
    connections: [AtomicU64; 2],
    disconnects: [AtomicU64; DisconnectReason::ALL.len()],
    subscriptions: [AtomicU64; STATUSES.len()],
    /// The status counted under the last slot.
    other_status: AtomicU64,
}

fn path_index(path: StreamPath) -> usize {
    match path {
        StreamPath::Hyper => 0,
        StreamPath::Direct => 1,
    }
}

impl Counters {
    /// A send queued for `reached` clients.
    pub(crate) fn sent(&self, reached: usize) {
        self.sends.0.fetch_add(1, Ordering::Relaxed);
        self.deliveries
            .0
            .fetch_add(reached as u64, Ordering::Relaxed);
    }

    /// A batch of `bytes` written by a stream.
    pub(crate) fn wrote(&self, bytes: usize) {
        self.bytes_written
            .0
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(crate) fn stream_started(&self, path: StreamPath) {
        self.streams[path_index(path)].fetch_add(1, Ordering::Relaxed);
        self.connections[path_index(path)].fetch_add(1, Ordering::Relaxed);
    }

    /// A stream ended: `path` is where it had started, if it had.
    pub(crate) fn stream_ended(&self, path: Option<StreamPath>, reason: DisconnectReason) {
        if let Some(path) = path {
            self.streams[path_index(path)].fetch_sub(1, Ordering::Relaxed);
        }
        self.disconnects[reason.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn subscription_answered(&self, status: u16) {
        let slot = STATUSES
            .iter()
            .position(|known| *known == status)
            .unwrap_or(STATUSES.len() - 1);
        if slot == STATUSES.len() - 1 {
            self.other_status
                .store(u64::from(status), Ordering::Relaxed);
        }
        self.subscriptions[slot].fetch_add(1, Ordering::Relaxed);
    }

    /// The counters' part of a snapshot; the broker fills in what it counts itself.
    pub(crate) fn snapshot(&self) -> Stats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let by_path = |counters: &[AtomicU64; 2]| ByPath {
            hyper: read(&counters[0]),
            direct: read(&counters[1]),
        };
        let mut subscriptions_by_status = BTreeMap::new();
        for (status, counter) in STATUSES.iter().zip(&self.subscriptions) {
            let count = read(counter);
            if count > 0 {
                let status = if *status == 0 {
                    u16::try_from(read(&self.other_status)).unwrap_or(0)
                } else {
                    *status
                };
                *subscriptions_by_status.entry(status).or_insert(0) += count;
            }
        }
        let disconnects = DisconnectReason::ALL
            .iter()
            .zip(&self.disconnects)
            .map(|(reason, counter)| (*reason, read(counter)))
            .filter(|(_, count)| *count > 0)
            .collect();
        Stats {
            streams_by_path: ByPath {
                hyper: self.streams[0].load(Ordering::Relaxed),
                direct: self.streams[1].load(Ordering::Relaxed),
            },
            connections_by_path: by_path(&self.connections),
            sends: read(&self.sends.0),
            deliveries: read(&self.deliveries.0),
            subscriptions_by_status,
            disconnects,
            bytes_written: read(&self.bytes_written.0),
            ..Stats::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_its_own_slot_and_name() {
        for (slot, reason) in DisconnectReason::ALL.iter().enumerate() {
            assert_eq!(reason.index(), slot);
        }
        let names: std::collections::HashSet<_> =
            DisconnectReason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names.len(), DisconnectReason::ALL.len());
    }

    #[test]
    fn statuses_are_counted_apart_and_an_unknown_one_under_its_own_code() {
        let counters = Counters::default();
        for status in [204, 204, 404, 418] {
            counters.subscription_answered(status);
        }
        let stats = counters.snapshot();
        assert_eq!(
            stats.subscriptions_by_status,
            BTreeMap::from([(204, 2), (404, 1), (418, 1)])
        );
    }
}
