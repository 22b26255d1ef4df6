//! The load generator: N event-stream clients over real loopback sockets, each subscribed
//! through `POST /api/realtime`, and publishers that `POST /bench/send` messages whose data
//! carries the publisher, a sequence number and the send time (`"<publisher>:<seq>:<ns>"`).
//! Every client checks that each message arrives exactly once and in order, and records its
//! latency.
//!
//! With rooms (`Config::rooms`), the clients are split evenly over R topics, each room with
//! its own publishers and the same load, and latencies are kept per room too; a message of
//! another room counts as malformed.
//!
//! With several servers (the nodes of one application, joined by Redis), the clients are
//! spread over them round-robin, and the sends go to the first (or, with [`SendTo::All`],
//! each publisher to a server of its own); CPU time and memory are summed over the servers,
//! Redis's CPU time is read apart, and so are its command counts (`INFO commandstats`).
//!
//! One run per process: latencies go to per-thread histograms (one per room) kept in a
//! process-wide list.

use std::cell::RefCell;
use std::future::poll_fn;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, mpsc};

use crate::histogram::Histogram;
use crate::http::{self, Conn};
use crate::procfs::{self, StealReading};
use crate::redis_stats;
use crate::report::{Report, Usage};
use crate::sse::{self, Parser};

/// How messages are sent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Load {
    /// This many messages in all, each publisher sending its share as fast as it can (one
    /// request at a time, waiting for each answer).
    Burst {
        /// Messages in all (split among the publishers).
        messages: u64,
    },
    /// A fixed rate of deliveries (sends per second × connections) for a duration.
    Rate {
        /// Deliveries per second in all.
        deliveries_per_s: f64,
        /// How long to send.
        duration: Duration,
    },
    /// One message to clients that each hold this many distinct keys with options, with
    /// another client subscribing while it is sent (`crate::keys`).
    Keys {
        /// Keys per client.
        per_client: usize,
        /// Bytes per key.
        key_bytes: usize,
    },
}

/// Which servers the publishers send to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SendTo {
    /// Every send goes to the first server; the others get theirs through Redis.
    #[default]
    First,
    /// Publisher k (over all rooms) sends to server k mod n, so sends start on every server
    /// once there are as many publishers. Each publisher keeps to one server: the engine
    /// orders the sends of one publisher on one node, not sends made on different nodes.
    All,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The servers (loopback addresses), one or more nodes of one application: client i
    /// connects and subscribes to server i mod n, the sends go as [`Config::send_to`] says.
    pub addrs: Vec<SocketAddr>,
    /// Which servers the publishers send to.
    pub send_to: SendTo,
    /// The servers' process ids: their CPU time and memory are summed.
    pub server_pids: Vec<u32>,
    /// The Redis server's process id: its CPU time is read too, apart.
    pub redis_pid: Option<u32>,
    /// The Redis server's address (loopback): its command counts before and after the sends.
    pub redis_addr: Option<SocketAddr>,
    /// The server's name in the report.
    pub label: String,
    /// The scenario's name in the report.
    pub scenario: String,
    /// Event-stream clients.
    pub connections: usize,
    /// Concurrent publishers, each on its own keep-alive connection.
    pub publishers: usize,
    /// How messages are sent.
    pub load: Load,
    /// The topic every client subscribes to, or the rooms' topics' stem.
    pub topic: String,
    /// Rooms: `None` puts every client on `topic`; `Some(R)` splits them evenly over R topics
    /// `<topic>-0` … `<topic>-<R-1>` (client `i` in room `i mod R`), each room with its own
    /// `publishers` and the load a single-topic run would give its clients: `Burst` sends its
    /// messages to every room, `Rate` keeps its sends per second per room (deliveries per
    /// second ÷ connections). The rooms' schedules are staggered evenly within a send interval.
    pub rooms: Option<usize>,
    /// Padding added to each message's stamp, to measure large payloads (0: a bare stamp).
    pub payload_bytes: usize,
    /// Clients connecting and subscribing at once.
    pub connect_concurrency: usize,
    /// Keep-alive connections for the subscription `POST`s.
    pub subscribe_pool: usize,
    /// How long the clients stay idle before the sends (the memory reading is taken then).
    pub hold: Duration,
    /// How long to wait without progress for the last deliveries.
    pub drain_timeout: Duration,
    /// How long after closing every client the server's memory is read again.
    pub settle: Duration,
    /// Runtime threads of this process (reported only).
    pub threads: usize,
}

/// Per-thread latency histograms of this process, one per room.
static HISTOGRAMS: Mutex<Vec<Arc<Mutex<Vec<Histogram>>>>> = Mutex::new(Vec::new());

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; 64 * 1024]);
    static HISTOGRAM: Arc<Mutex<Vec<Histogram>>> = {
        let histograms = Arc::new(Mutex::new(Vec::new()));
        lock(&HISTOGRAMS).push(Arc::clone(&histograms));
        histograms
    };
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Which messages each publisher of a room sends, and where they sit in a client's bitmap
/// (every room has the same plan).
#[derive(Debug)]
struct Plan {
    counts: Vec<u64>,
    offsets: Vec<u64>,
    /// Messages per room.
    total: u64,
    /// Rate mode: nanoseconds between two sends to one room (its publishers together).
    interval_ns: Option<u64>,
}

impl Plan {
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "message counts and intervals far below 2^53"
    )]
    fn new(config: &Config) -> Result<Self, String> {
        let publishers = config.publishers.max(1) as u64;
        let (total, interval_ns) = match config.load {
            Load::Burst { messages } => (messages, None),
            Load::Keys { .. } => (1, None),
            Load::Rate {
                deliveries_per_s,
                duration,
            } => {
                if deliveries_per_s <= 0.0 {
                    return Err("--rate must be positive".into());
                }
                let sends_per_s = deliveries_per_s / config.connections.max(1) as f64;
                let total = (duration.as_secs_f64() * sends_per_s).round().max(1.0) as u64;
                (total, Some((1e9 / sends_per_s) as u64))
            }
        };
        let counts: Vec<u64> = (0..publishers)
            .map(|p| total / publishers + u64::from(p < total % publishers))
            .collect();
        let offsets = counts
            .iter()
            .scan(0, |at, count| {
                let offset = *at;
                *at += count;
                Some(offset)
            })
            .collect();
        let bitmap_bytes = config.connections as u64 * total.div_ceil(64) * 8;
        if bitmap_bytes > 2 << 30 {
            return Err(format!(
                "{} connections × {total} messages need {} MiB of bookkeeping; send fewer",
                config.connections,
                bitmap_bytes >> 20
            ));
        }
        Ok(Self {
            counts,
            offsets,
            total,
            interval_ns,
        })
    }
}

struct Shared {
    /// The servers, as [`Config::addrs`].
    addrs: Vec<SocketAddr>,
    send_to: SendTo,
    start: Instant,
    /// Each room's topic (one, `Config::topic`, without rooms).
    topics: Vec<String>,
    /// What each message carries after its stamp.
    padding: String,
    plan: Plan,
    /// Topic events read by all clients.
    delivered: AtomicU64,
    /// When the last of them was read, in nanoseconds since `start`.
    last_delivery_ns: AtomicU64,
}

impl Shared {
    fn now_ns(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// The server publisher `stamp` (its number over all rooms) sends to.
    fn send_addr(&self, stamp: usize) -> SocketAddr {
        match self.send_to {
            SendTo::First => self.addrs[0],
            SendTo::All => self.addrs[stamp % self.addrs.len()],
        }
    }
}

/// The server client `index` connects to: round-robin over `servers`.
fn server_of(index: usize, servers: usize) -> usize {
    index % servers.max(1)
}

/// One client's bookkeeping.
#[derive(Debug, Default)]
struct Tally {
    /// The room it is in (an index into `Shared::topics`).
    room: usize,
    client_id: Option<String>,
    seen: Vec<u64>,
    /// Per publisher: one past the highest sequence number received.
    next: Vec<u64>,
    received: u64,
    duplicated: u64,
    out_of_order: u64,
    malformed: u64,
    ended: Option<String>,
}

/// `"<publisher>:<seq>:<ns>"` (with the JSON quotes).
/// Waits until `delivered` reaches `expected`, or stops moving for `drain_timeout`.
pub(crate) async fn await_deliveries(
    delivered: &AtomicU64,
    expected: u64,
    drain_timeout: Duration,
) {
    let mut progress = (delivered.load(Ordering::Relaxed), Instant::now());
    loop {
        let now = delivered.load(Ordering::Relaxed);
        if now >= expected {
            return;
        }
        if now != progress.0 {
            progress = (now, Instant::now());
        } else if progress.1.elapsed() > drain_timeout {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

pub(crate) fn parse_stamp(data: &[u8]) -> Option<(usize, u64, u64)> {
    let inner = data.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    // At most four parts: the padding is not searched for `:`, only checked to be `x`s.
    let mut parts = inner.splitn(4, |&b| b == b':');
    let mut number = || -> Option<u64> {
        let digits = parts.next()?;
        if digits.is_empty() || digits.len() > 19 {
            return None;
        }
        digits.iter().try_fold(0u64, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u64::from(d - b'0'))
        })
    };
    let (publisher, seq, sent) = (number()?, number()?, number()?);
    // Then the padding, if any: `x`s only.
    if !parts.next().is_none_or(only_x) {
        return None;
    }
    Some((usize::try_from(publisher).ok()?, seq, sent))
}

/// Whether `padding` is all `x`: compared 32 bytes at a time (vectorized), since large payloads
/// are mostly padding and the load generator shares the cores with the server it measures.
fn only_x(padding: &[u8]) -> bool {
    let (blocks, rest) = padding.as_chunks::<32>();
    blocks.iter().all(|block| *block == [b'x'; 32]) && rest.iter().all(|&b| b == b'x')
}

impl Tally {
    fn new(plan: &Plan, room: usize) -> Self {
        Self {
            room,
            seen: vec![0; usize::try_from(plan.total.div_ceil(64)).unwrap_or(0)],
            next: vec![0; plan.counts.len()],
            ..Self::default()
        }
    }

    fn event(
        &mut self,
        name: &[u8],
        data: &[u8],
        now_ns: u64,
        shared: &Shared,
        latencies: &mut Histogram,
    ) {
        if name == b"PB_CONNECT" {
            self.client_id = sse::client_id(data).map(str::to_owned);
            return;
        }
        if name != shared.topics[self.room].as_bytes() {
            // Another room's message: the server sent it to the wrong clients.
            if shared.topics.iter().any(|topic| topic.as_bytes() == name) {
                self.malformed += 1;
            }
            return;
        }
        let plan = &shared.plan;
        // Stamps carry a publisher's number over all rooms: room × publishers + its own.
        let per_room = plan.counts.len();
        let Some((publisher, seq, sent_ns)) = parse_stamp(data).and_then(|(global, seq, sent)| {
            let p = global
                .checked_sub(self.room * per_room)
                .filter(|&p| p < per_room)?;
            (seq < plan.counts[p]).then_some((p, seq, sent))
        }) else {
            self.malformed += 1;
            return;
        };
        let bit = plan.offsets[publisher] + seq;
        let (word, mask) = (usize::try_from(bit / 64).unwrap_or(0), 1u64 << (bit % 64));
        if self.seen[word] & mask != 0 {
            self.duplicated += 1;
            return;
        }
        self.seen[word] |= mask;
        self.received += 1;
        if seq < self.next[publisher] {
            self.out_of_order += 1;
        } else {
            self.next[publisher] = seq + 1;
        }
        latencies.record(now_ns.saturating_sub(sent_ns));
    }
}

struct Client {
    parser: Parser,
    tally: Tally,
}

/// Reads what the socket has, feeding events to the client. One `read` per wake-up: through
/// `poll_read`, a read that does not fill the buffer marks the socket drained, so the load
/// generator does not pay a second, empty read per delivery (it shares the cores with the server
/// it measures).
async fn read_some(
    socket: &mut TcpStream,
    client: &Mutex<Client>,
    shared: &Shared,
) -> Result<(), String> {
    poll_fn(|cx| {
        SCRATCH.with_borrow_mut(|buf| {
            let mut read = ReadBuf::new(buf);
            match Pin::new(&mut *socket).poll_read(cx, &mut read) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Err(err)) => Poll::Ready(Err(err.to_string())),
                Poll::Ready(Ok(())) if read.filled().is_empty() => {
                    Poll::Ready(Err("the server closed the stream".to_owned()))
                }
                Poll::Ready(Ok(())) => Poll::Ready(feed(read.filled(), client, shared)),
            }
        })
    })
    .await
}

/// Parses `bytes` read from a client's stream and tallies its events.
fn feed(bytes: &[u8], client: &Mutex<Client>, shared: &Shared) -> Result<(), String> {
    HISTOGRAM.with(|histograms| {
        let mut client = lock(client);
        let Client { parser, tally } = &mut *client;
        let before = tally.received + tally.duplicated;
        let now_ns = shared.now_ns();
        let fed = {
            let mut rooms = lock(histograms);
            if rooms.len() < shared.topics.len() {
                rooms.resize_with(shared.topics.len(), Histogram::new);
            }
            let latencies = &mut rooms[tally.room];
            parser.feed(bytes, &mut |name, data| {
                tally.event(name, data, now_ns, shared, latencies);
            })
        };
        let delivered = tally.received + tally.duplicated - before;
        if delivered > 0 {
            shared.delivered.fetch_add(delivered, Ordering::Relaxed);
            shared.last_delivery_ns.fetch_max(now_ns, Ordering::Relaxed);
        }
        fed.map_err(|err| err.to_string())
    })
}

/// Keep-alive connections for the subscription `POST`s.
struct Pool {
    addr: SocketAddr,
    idle: Mutex<Vec<Conn>>,
    slots: Semaphore,
}

impl Pool {
    async fn post(&self, path: &str, body: &[u8]) -> Result<http::Response, String> {
        let _slot = self.slots.acquire().await.map_err(|err| err.to_string())?;
        let idle = lock(&self.idle).pop();
        let mut conn = match idle {
            Some(conn) => conn,
            None => Conn::connect(self.addr)
                .await
                .map_err(|err| err.to_string())?,
        };
        let response = if let Ok(response) = conn.post_json(path, body).await {
            response
        } else {
            // A kept-alive connection the server closed meanwhile: once more on a new one.
            conn = Conn::connect(self.addr)
                .await
                .map_err(|err| err.to_string())?;
            conn.post_json(path, body)
                .await
                .map_err(|err| err.to_string())?
        };
        if !conn.is_closed() {
            lock(&self.idle).push(conn);
        }
        Ok(response)
    }
}

const SETUP_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens one client's stream, reads its `PB_CONNECT`, subscribes it to its room's topic, on
/// the server of `pool`.
async fn setup(
    shared: &Shared,
    pool: &Pool,
    room: usize,
) -> Result<(TcpStream, Arc<Mutex<Client>>), String> {
    let stream = http::open_stream(pool.addr, "/api/realtime")
        .await
        .map_err(|err| format!("open the stream: {err}"))?;
    let client = Arc::new(Mutex::new(Client {
        parser: Parser::new(stream.chunked),
        tally: Tally::new(&shared.plan, room),
    }));
    {
        let mut guard = lock(&client);
        let Client { parser, tally } = &mut *guard;
        let mut latencies = Histogram::new();
        parser
            .feed(&stream.rest, &mut |name, data| {
                tally.event(name, data, 0, shared, &mut latencies);
            })
            .map_err(|err| err.to_string())?;
    }
    let mut socket = stream.socket;
    let id = loop {
        if let Some(id) = lock(&client).tally.client_id.clone() {
            break id;
        }
        read_some(&mut socket, &client, shared).await?;
    };
    let body = format!(
        r#"{{"clientId":"{id}","subscriptions":["{}"]}}"#,
        shared.topics[room]
    );
    let response = pool.post("/api/realtime", body.as_bytes()).await?;
    if response.status != 204 {
        return Err(format!(
            "subscribe answered {}: {}",
            response.status,
            String::from_utf8_lossy(&response.body)
        ));
    }
    Ok((socket, client))
}

#[derive(Debug, Default)]
struct Published {
    sent: u64,
    reached: u64,
    errors: u64,
    first_error: Option<String>,
    first_send_ns: Option<u64>,
    max_lag_ns: u64,
}

pub(crate) fn reached_of(body: &[u8]) -> Option<u64> {
    const KEY: &[u8] = b"\"reached\":";
    let start = body.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let digits: &[u8] = &body[start..];
    let digits = &digits[..digits
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len())];
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Sends publisher `publisher` of room `room`'s share of the messages.
async fn publish(
    shared: Arc<Shared>,
    room: usize,
    publisher: usize,
    send_start_ns: u64,
) -> Published {
    let mut out = Published::default();
    let mut conn = None;
    let mut body = Vec::with_capacity(128);
    let publishers = shared.plan.counts.len() as u64;
    let topic = &shared.topics[room];
    let stamp = room * shared.plan.counts.len() + publisher;
    let addr = shared.send_addr(stamp);
    for seq in 0..shared.plan.counts[publisher] {
        if let Some(interval) = shared.plan.interval_ns {
            // Rooms take turns within an interval, as independent publishers would.
            let stagger = interval * room as u64 / shared.topics.len() as u64;
            let due = send_start_ns + stagger + (seq * publishers + publisher as u64) * interval;
            let now = shared.now_ns();
            if now < due {
                tokio::time::sleep(Duration::from_nanos(due - now)).await;
            }
            out.max_lag_ns = out.max_lag_ns.max(shared.now_ns().saturating_sub(due));
        }
        if conn.is_none() {
            match Conn::connect(addr).await {
                Ok(c) => conn = Some(c),
                Err(err) => {
                    out.errors += 1;
                    out.first_error.get_or_insert(format!("connect: {err}"));
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        let sent_ns = shared.now_ns();
        out.first_send_ns.get_or_insert(sent_ns);
        body.clear();
        {
            use std::io::Write as _;
            let _ = write!(
                body,
                r#"{{"topic":"{topic}","data":"{stamp}:{seq}:{sent_ns}:{}"}}"#,
                shared.padding
            );
        }
        out.sent += 1;
        match c.post_json("/bench/send", &body).await {
            Ok(response) if response.status == 200 => {
                if let Some(reached) = reached_of(&response.body) {
                    out.reached += reached;
                } else {
                    out.errors += 1;
                    out.first_error.get_or_insert(format!(
                        "no `reached` in {}",
                        String::from_utf8_lossy(&response.body)
                    ));
                }
                if c.is_closed() {
                    conn = None;
                }
            }
            Ok(response) => {
                out.errors += 1;
                out.first_error.get_or_insert(format!(
                    "send answered {}: {}",
                    response.status,
                    String::from_utf8_lossy(&response.body)
                ));
            }
            Err(err) => {
                out.errors += 1;
                out.first_error.get_or_insert(format!("send: {err}"));
                conn = None;
            }
        }
    }
    out
}

/// The rooms' topics: `<topic>-0` … with rooms, the topic alone without.
fn room_topics(config: &Config) -> Result<Vec<String>, String> {
    match config.rooms {
        None => Ok(vec![config.topic.clone()]),
        Some(0) => Err("--rooms must be at least 1".into()),
        Some(rooms) if rooms > config.connections => Err(format!(
            "{rooms} rooms need at least as many connections, not {}",
            config.connections
        )),
        Some(rooms) => Ok((0..rooms)
            .map(|r| format!("{}-{r}", config.topic))
            .collect()),
    }
}

fn cpu_of(pid: Option<u32>) -> Option<Duration> {
    procfs::cpu_time(&pid?.to_string()).ok()
}

/// Each process's CPU time, in the order of `pids`; `None` if any cannot be read (or none
/// is given).
fn cpu_each(pids: &[u32]) -> Option<Vec<Duration>> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|&pid| cpu_of(Some(pid))).collect()
}

/// The processes' resident memory, summed; `None` if any cannot be read (or none is given).
fn rss_sum(pids: &[u32]) -> Option<u64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter()
        .map(|pid| procfs::rss_bytes(&pid.to_string()).ok())
        .sum()
}

/// Redis's command counts, or `None` (with a warning) when it cannot be read: the run goes on.
async fn redis_calls(addr: Option<SocketAddr>) -> Option<redis_stats::Calls> {
    match redis_stats::command_calls(addr?).await {
        Ok(calls) => Some(calls),
        Err(err) => {
            eprintln!("loadgen: cannot read Redis's INFO commandstats: {err}");
            None
        }
    }
}

/// Refuses what is not on this machine.
fn check_loopback(addrs: &[SocketAddr], redis: Option<SocketAddr>) -> Result<(), String> {
    if addrs.is_empty() {
        return Err("no server address".into());
    }
    match addrs
        .iter()
        .chain(&redis)
        .find(|addr| !addr.ip().is_loopback())
    {
        Some(addr) => Err(format!(
            "{addr} is not a loopback address: the load generator only talks to this machine"
        )),
        None => Ok(()),
    }
}

fn secs(nanos: u64) -> f64 {
    Duration::from_nanos(nanos).as_secs_f64()
}

/// Runs the benchmark and reports.
///
/// # Errors
///
/// When the address is not loopback, or clients cannot connect or subscribe.
#[allow(
    clippy::too_many_lines,
    clippy::cast_precision_loss,
    reason = "one sequence of phases, read top to bottom; counts far below 2^53"
)]
pub async fn run(config: &Config) -> Result<Report, String> {
    check_loopback(&config.addrs, config.redis_addr)?;
    if config.topic.is_empty()
        || !config
            .topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./".contains(&b))
    {
        return Err("the topic must be non-empty ASCII letters, digits, `_-./`".into());
    }
    if let Load::Keys {
        per_client,
        key_bytes,
    } = config.load
    {
        if config.rooms.is_some() {
            return Err("the keys scenario has one topic: it takes no rooms".into());
        }
        if config.addrs.len() > 1 {
            return Err("the keys scenario runs against one server".into());
        }
        return crate::keys::run(config, per_client, key_bytes).await;
    }
    let topics = room_topics(config)?;
    let plan = Plan::new(config)?;
    let shared = Arc::new(Shared {
        addrs: config.addrs.clone(),
        send_to: config.send_to,
        start: Instant::now(),
        topics,
        padding: "x".repeat(config.payload_bytes),
        plan,
        delivered: AtomicU64::new(0),
        last_delivery_ns: AtomicU64::new(0),
    });
    let pids = &config.server_pids;
    let rss_base = rss_sum(pids);

    // Connect and subscribe every client, a bounded number at a time, each on its own server.
    let connect_start = Instant::now();
    let pools: Vec<Arc<Pool>> = config
        .addrs
        .iter()
        .map(|&addr| {
            Arc::new(Pool {
                addr,
                idle: Mutex::default(),
                slots: Semaphore::new(config.subscribe_pool.max(1)),
            })
        })
        .collect();
    let gate = Arc::new(Semaphore::new(config.connect_concurrency.max(1)));
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel::<Result<(), String>>();
    let mut clients = Vec::with_capacity(config.connections);
    let mut readers = Vec::with_capacity(config.connections);
    for index in 0..config.connections {
        let room = index % shared.topics.len();
        let permit = Arc::clone(&gate)
            .acquire_owned()
            .await
            .map_err(|err| err.to_string())?;
        let pool = Arc::clone(&pools[server_of(index, pools.len())]);
        let (shared, ready) = (Arc::clone(&shared), ready_tx.clone());
        let slot = Arc::new(Mutex::new(None));
        clients.push(Arc::clone(&slot));
        readers.push(tokio::spawn(async move {
            let setup = tokio::time::timeout(SETUP_TIMEOUT, setup(&shared, &pool, room)).await;
            drop(permit);
            let (mut socket, client) = match setup {
                Ok(Ok(done)) => done,
                Ok(Err(err)) => {
                    let _ = ready.send(Err(err));
                    return;
                }
                Err(_) => {
                    let _ = ready.send(Err("connecting timed out".into()));
                    return;
                }
            };
            *lock(&slot) = Some(Arc::clone(&client));
            let _ = ready.send(Ok(()));
            loop {
                if let Err(err) = read_some(&mut socket, &client, &shared).await {
                    lock(&client).tally.ended = Some(err);
                    break;
                }
            }
        }));
    }
    drop(ready_tx);
    let mut connected = 0;
    while connected < config.connections {
        match ready_rx
            .recv()
            .await
            .unwrap_or_else(|| Err("a client task died".into()))
        {
            Ok(()) => connected += 1,
            Err(err) => {
                return Err(format!(
                    "a client failed to connect and subscribe after {connected} did: {err}"
                ));
            }
        }
    }
    let connect_s = connect_start.elapsed().as_secs_f64();
    drop(pools); // closes the subscription connections

    tokio::time::sleep(config.hold).await;
    let rss_idle = rss_sum(pids);

    // Send, and wait for the deliveries.
    let redis_before = redis_calls(config.redis_addr).await;
    let cpu_before = cpu_each(pids);
    let redis_cpu_before = cpu_of(config.redis_pid);
    let own_before = procfs::cpu_time("self").ok();
    let stolen_before = StealReading::now();
    let send_start_ns = shared.now_ns();
    let publishers: Vec<_> = (0..shared.topics.len())
        .flat_map(|room| (0..shared.plan.counts.len()).map(move |p| (room, p)))
        .map(|(room, p)| tokio::spawn(publish(Arc::clone(&shared), room, p, send_start_ns)))
        .collect();
    let mut published = Vec::new();
    for publisher in publishers {
        published.push(publisher.await.map_err(|err| err.to_string())?);
    }
    let sends_done_ns = shared.now_ns();
    let reached: u64 = published.iter().map(|p| p.reached).sum();
    // A node answers for its own clients only: with several, every client is owed each message.
    let awaited = if config.addrs.len() > 1 {
        config.connections as u64 * shared.plan.total
    } else {
        reached
    };
    await_deliveries(&shared.delivered, awaited, config.drain_timeout).await;
    let cpu_after = cpu_each(pids);
    let redis_cpu_after = cpu_of(config.redis_pid);
    let own_after = procfs::cpu_time("self").ok();
    let stolen_after = StealReading::now();
    let redis_after = redis_calls(config.redis_addr).await;

    // Gather.
    let mut rooms = vec![Histogram::new(); shared.topics.len()];
    for histograms in lock(&HISTOGRAMS).iter() {
        for (room, histogram) in rooms.iter_mut().zip(lock(histograms).iter()) {
            room.merge(histogram);
        }
    }
    let mut latencies = Histogram::new();
    for room in &rooms {
        latencies.merge(room);
    }
    let mut report = Report::new(&config.label, &config.scenario);
    report.mode = match config.load {
        Load::Burst { .. } => "burst".into(),
        Load::Rate { .. } => "rate".into(),
        Load::Keys { .. } => "keys".into(),
    };
    report.connections = config.connections;
    report.servers = config.addrs.len();
    report.publishers = shared.plan.counts.len() * shared.topics.len();
    report.messages = shared.plan.total;
    if let Load::Rate {
        deliveries_per_s, ..
    } = config.load
    {
        report.target_deliveries_per_s = Some(deliveries_per_s);
        report.max_send_lag_ms =
            Some(published.iter().map(|p| p.max_lag_ns).max().unwrap_or(0) as f64 / 1e6);
    }
    report.expected = config.connections as u64 * shared.plan.total;
    report.reached = reached;
    report.delivered = shared.delivered.load(Ordering::Relaxed);
    report.connect_s = connect_s;
    let first_send = published
        .iter()
        .filter_map(|p| p.first_send_ns)
        .min()
        .unwrap_or(send_start_ns);
    let last = shared
        .last_delivery_ns
        .load(Ordering::Relaxed)
        .max(first_send);
    report.duration_s = secs(last - first_send);
    if report.duration_s > 0.0 {
        report.deliveries_per_s = report.delivered as f64 / report.duration_s;
    }
    let sent: u64 = published.iter().map(|p| p.sent).sum();
    let sending_s = secs(sends_done_ns - first_send);
    if sending_s > 0.0 {
        report.sends_per_s = sent as f64 / sending_s;
    }
    report.record_latencies(&latencies);
    if config.rooms.is_some() {
        report.record_rooms(&rooms);
    }
    report.record_usage(
        Usage {
            server_cpu: cpu_before.zip(cpu_after),
            redis_cpu: redis_cpu_before.zip(redis_cpu_after),
            server_rss: rss_base.zip(rss_idle),
            own_cpu: own_before.zip(own_after),
            stolen: stolen_before.zip(stolen_after),
        },
        config.connections,
        config.threads,
    );
    if let Some(cost) = redis_before
        .zip(redis_after)
        .and_then(|(before, after)| redis_stats::per_send(&before, &after, sent))
    {
        report.redis_publishes_per_send = Some(cost.publishes);
        report.redis_commands_per_send = Some(cost.commands);
    }
    report.send_errors = published.iter().map(|p| p.errors).sum();
    report.first_error = published.iter().find_map(|p| p.first_error.clone());
    for slot in &clients {
        let Some(client) = lock(slot).clone() else {
            report.disconnected += 1;
            continue;
        };
        let client = lock(&client);
        let tally = &client.tally;
        report.lost += shared.plan.total - tally.received;
        report.duplicated += tally.duplicated;
        report.out_of_order += tally.out_of_order;
        report.malformed += tally.malformed;
        if let Some(reason) = &tally.ended {
            report.disconnected += 1;
            report.first_error.get_or_insert_with(|| reason.clone());
        }
    }
    report.exactly_once_in_order = report.lost == 0
        && report.duplicated == 0
        && report.out_of_order == 0
        && report.malformed == 0
        && report.disconnected == 0
        && report.send_errors == 0;

    // Close every client, and see what the server keeps once they are gone.
    for reader in &readers {
        reader.abort();
    }
    for reader in readers {
        let _ = reader.await;
    }
    tokio::time::sleep(config.settle).await;
    report.server_rss_after_kib = rss_sum(pids).map(|rss| rss / 1024);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_and_answers() {
        assert_eq!(
            parse_stamp(br#""2:17:123456789""#),
            Some((2, 17, 123_456_789))
        );
        assert_eq!(parse_stamp(br#""2:17:9:""#), Some((2, 17, 9)));
        assert_eq!(parse_stamp(br#""2:17:9:xxxx""#), Some((2, 17, 9)));
        // Long paddings are checked 32 bytes at a time: a stray byte anywhere is caught.
        let long = |at: usize, stray: u8| {
            let mut data = b"\"2:17:9:".to_vec();
            let start = data.len();
            data.resize(start + 100, b'x');
            data[start + at] = stray;
            data.push(b'"');
            parse_stamp(&data)
        };
        assert_eq!(long(0, b'x'), Some((2, 17, 9)));
        for at in [0, 31, 32, 63, 95, 96, 99] {
            assert_eq!(long(at, b':'), None, "`:` at {at}");
            assert_eq!(long(at, b'y'), None, "`y` at {at}");
        }
        for bad in [
            &b"2:17:1"[..],
            br#""2:17""#,
            br#""2:x:1""#,
            br#""2:1:1:1""#,
            br#""2:1:1:xx:""#,
            br#""::""#,
        ] {
            assert_eq!(parse_stamp(bad), None, "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(reached_of(br#"{"reached":1000}"#), Some(1000));
        assert_eq!(reached_of(br#"{"reached": 3}"#), None);
    }

    /// Clients alternate over the servers; publishers keep to the first, or each to its own.
    #[test]
    fn clients_and_sends_spread_over_servers() {
        let servers: Vec<usize> = (0..5).map(|i| server_of(i, 2)).collect();
        assert_eq!(servers, [0, 1, 0, 1, 0]);
        assert_eq!(server_of(7, 1), 0);
        let addrs: Vec<SocketAddr> = ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        let mut shared = Shared {
            addrs: addrs.clone(),
            send_to: SendTo::First,
            start: Instant::now(),
            topics: vec!["t".into()],
            padding: String::new(),
            plan: Plan {
                counts: vec![1],
                offsets: vec![0],
                total: 1,
                interval_ns: None,
            },
            delivered: AtomicU64::new(0),
            last_delivery_ns: AtomicU64::new(0),
        };
        let ports =
            |shared: &Shared| -> Vec<u16> { (0..4).map(|p| shared.send_addr(p).port()).collect() };
        assert_eq!(ports(&shared), [1, 1, 1, 1]);
        shared.send_to = SendTo::All;
        assert_eq!(ports(&shared), [1, 2, 3, 1]);
        assert!(check_loopback(&addrs, "127.0.0.1:6379".parse().ok()).is_ok());
        assert!(check_loopback(&addrs, "10.0.0.1:6379".parse().ok()).is_err());
        assert!(check_loopback(&["10.0.0.1:1".parse().unwrap()], None).is_err());
        assert!(check_loopback(&[], None).is_err());
    }

    #[test]
    fn plans_split_messages_among_publishers() {
        let mut config = Config {
            addrs: vec!["127.0.0.1:1".parse().unwrap()],
            send_to: SendTo::First,
            server_pids: Vec::new(),
            redis_pid: None,
            redis_addr: None,
            label: String::new(),
            scenario: String::new(),
            connections: 1000,
            publishers: 3,
            load: Load::Burst { messages: 10 },
            topic: "t".into(),
            rooms: None,
            payload_bytes: 0,
            connect_concurrency: 1,
            subscribe_pool: 1,
            hold: Duration::ZERO,
            drain_timeout: Duration::ZERO,
            settle: Duration::ZERO,
            threads: 1,
        };
        let plan = Plan::new(&config).unwrap();
        assert_eq!(
            (plan.counts, plan.offsets, plan.total),
            (vec![4, 3, 3], vec![0, 4, 7], 10)
        );
        config.load = Load::Rate {
            deliveries_per_s: 20_000.0,
            duration: Duration::from_secs(10),
        };
        let plan = Plan::new(&config).unwrap();
        assert_eq!((plan.total, plan.interval_ns), (200, Some(50_000_000)));
    }

    #[test]
    fn tallies_duplicates_and_disorder() {
        let config_plan = Plan {
            counts: vec![3, 2],
            offsets: vec![0, 3],
            total: 5,
            interval_ns: None,
        };
        let shared = Shared {
            addrs: vec!["127.0.0.1:1".parse().unwrap()],
            send_to: SendTo::First,
            start: Instant::now(),
            topics: vec!["t".into()],
            padding: String::new(),
            plan: config_plan,
            delivered: AtomicU64::new(0),
            last_delivery_ns: AtomicU64::new(0),
        };
        let mut tally = Tally::new(&shared.plan, 0);
        let mut h = Histogram::new();
        for data in [
            &br#""0:0:10""#[..],
            br#""1:1:10""#,
            br#""0:2:10""#,
            br#""0:1:10""#,
            br#""0:1:10""#,
            br#""1:0:10""#,
            br#""1:2:10""#,
        ] {
            tally.event(b"t", data, 110, &shared, &mut h);
        }
        tally.event(b"other", br#""0:0:0""#, 0, &shared, &mut h);
        tally.event(b"PB_CONNECT", br#"{"clientId":"x"}"#, 0, &shared, &mut h);
        assert_eq!(
            (
                tally.received,
                tally.duplicated,
                tally.out_of_order,
                tally.malformed
            ),
            (5, 1, 2, 1)
        );
        assert_eq!(tally.client_id.as_deref(), Some("x"));
        assert_eq!((h.count(), h.max()), (5, 100));
    }

    /// A client of room 1 (publishers 2 and 3 over all rooms, two per room) takes its room's
    /// messages, and counts another room's as malformed, under either room's name.
    #[test]
    fn rooms_keep_to_their_own_messages() {
        let shared = Shared {
            addrs: vec!["127.0.0.1:1".parse().unwrap()],
            send_to: SendTo::First,
            start: Instant::now(),
            topics: vec!["room-0".into(), "room-1".into()],
            padding: String::new(),
            plan: Plan {
                counts: vec![2, 2],
                offsets: vec![0, 2],
                total: 4,
                interval_ns: None,
            },
            delivered: AtomicU64::new(0),
            last_delivery_ns: AtomicU64::new(0),
        };
        let mut tally = Tally::new(&shared.plan, 1);
        let mut h = Histogram::new();
        for data in [
            &br#""2:0:1""#[..],
            br#""3:0:1""#,
            br#""2:1:1""#,
            br#""3:1:1""#,
        ] {
            tally.event(b"room-1", data, 5, &shared, &mut h);
        }
        // Room 0's publisher under room 1's name, and room 0's message under its own name.
        tally.event(b"room-1", br#""0:0:1""#, 5, &shared, &mut h);
        tally.event(b"room-0", br#""0:0:1""#, 5, &shared, &mut h);
        // Beyond every room's publishers.
        tally.event(b"room-1", br#""4:0:1""#, 5, &shared, &mut h);
        assert_eq!(
            (tally.received, tally.duplicated, tally.out_of_order),
            (4, 0, 0)
        );
        assert_eq!((tally.malformed, h.count()), (3, 4));

        let config = Config {
            addrs: vec!["127.0.0.1:1".parse().unwrap()],
            send_to: SendTo::First,
            server_pids: Vec::new(),
            redis_pid: None,
            redis_addr: None,
            label: String::new(),
            scenario: String::new(),
            connections: 3,
            publishers: 1,
            load: Load::Burst { messages: 1 },
            topic: "room".into(),
            rooms: Some(3),
            payload_bytes: 0,
            connect_concurrency: 1,
            subscribe_pool: 1,
            hold: Duration::ZERO,
            drain_timeout: Duration::ZERO,
            settle: Duration::ZERO,
            threads: 1,
        };
        assert_eq!(
            room_topics(&config).unwrap(),
            ["room-0", "room-1", "room-2"]
        );
        assert!(
            room_topics(&Config {
                rooms: Some(4),
                ..config.clone()
            })
            .is_err()
        );
        assert_eq!(
            room_topics(&Config {
                rooms: None,
                ..config
            })
            .unwrap(),
            ["room"]
        );
    }
}
