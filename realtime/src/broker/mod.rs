//! The broker: the handle applications hold, and what it shares: the connected clients, the
//! topic index, and the settings.

use std::collections::HashSet;
use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{
    Arc, Mutex, OnceLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak,
};

use serde::Serialize;

use crate::auth::{Authenticator, RequestAuth};
use crate::broker::builder::{Builder, Config, Hooks};
use crate::broker::client::Client;
use crate::broker::delivery::{Delivery, OtherNodes, SendError};
use crate::broker::engine::{Engine, EngineStatus};
use crate::broker::filter::IntoFilter;
use crate::sync::{Abort, lock};
use crate::wire::client_id::ClientId;
use crate::wire::position::Resume;
use crate::wire::sse;
use crate::wire::subscription::Subscription;

pub(crate) mod builder;
pub(crate) mod client;
pub(crate) mod delivery;
pub(crate) mod engine;
mod fan_out;
pub mod filter;
pub(crate) mod history;
mod index;
pub(crate) mod json_channel;
mod load;
mod order;
pub(crate) mod outbox;
mod pace;
pub(crate) mod past;
pub(crate) mod per_address;
#[cfg(feature = "metrics")]
mod publish;
mod recent;
mod registry;
mod replay;
mod request_auth;
pub(crate) mod stats;
mod subscribe;
mod writers;

use index::{Grouped, Topics};
use registry::Registry;
use stats::{Counters, DisconnectReason, Stats, StreamPath};

/// The realtime broker: one per application, shared by every handler and task.
///
/// Cheap to clone: clones are handles to the same broker. Mount its endpoint on a router with
/// [`Realtime::mount`], then send from anywhere with [`Realtime::send`] or
/// [`Realtime::send_to`].
#[derive(Clone)]
pub struct Realtime {
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    pub(crate) config: Config,
    authenticator: Box<dyn Authenticator>,
    hooks: Hooks,
    registry: Registry,
    /// Subscribers by topic. Subscribes and disconnects lock it for writing: sends hold it
    /// only to find their recipients and queue the shared plain frame.
    topics: RwLock<Topics>,
    /// Whether the process is busy enough for busy topics' frames to be held.
    load: load::Load,
    /// Clients whose queue overflowed outside a fan-out, waiting to be unregistered.
    overflowed: fan_out::Overflowed,
    /// What carries sends to other nodes; unset in-process. Set once, just after the broker
    /// is made, because the engine holds a handle back to it.
    engine: OnceLock<Arc<dyn Engine>>,
    /// The runtime the first stream was served on: writer tasks of a send made outside any
    /// runtime go there (see `writers`).
    serving_runtime: OnceLock<tokio::runtime::Handle>,
    /// The recent sends of the topics that keep a history.
    history: history::History,
    /// Held by each send while any topic keeps a history: positions then follow one order,
    /// the order in which every client receives them.
    order: Mutex<()>,
    /// Where clients that left had connected, for their `PB_CONNECT` id as `Last-Event-ID`.
    recent: recent::Recent,
    /// With a distributed engine: where this node stands in the application's one order of
    /// sends.
    cluster_order: order::ClusterOrder,
    /// Names this broker's order of sends: a new one at every start, since history is lost.
    epoch: String,
    sequence: AtomicU64,
    /// Response bodies alive: a stream outlives its registration while its connection drains.
    pub(crate) open_streams: AtomicUsize,
    /// The streams of each client a trusted proxy names, held to `max_connections_per_ip`.
    pub(crate) forwarded_streams: Arc<per_address::StreamsPerAddress>,
    /// What [`Realtime::stats`] reports; every stream holds it too.
    pub(crate) counters: Arc<Counters>,
}

/// A stream's registration: its client stays registered, and counted in
/// [`Realtime::open_streams`], until this is dropped (the stream ended or its peer left).
/// Its end is counted and logged then, with its reason, once.
pub(crate) struct Connected {
    client: Client,
    broker: Weak<Shared>,
    /// The stream's place among its forwarded client's, if a trusted proxy named one.
    _address_slot: Option<per_address::AddressSlot>,
    counters: Arc<Counters>,
    /// Where the stream is written, once it has started.
    path: Option<StreamPath>,
    /// The stream's span (disabled until it starts, or when nobody listens).
    span: tracing::Span,
}

impl Connected {
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    pub(crate) fn counters(&self) -> &Counters {
        &self.counters
    }

    pub(crate) fn span(&self) -> &tracing::Span {
        &self.span
    }

    pub(crate) fn has_started(&self) -> bool {
        self.path.is_some()
    }

    /// The stream starts being written on `path`: counted, and its span opened. Once.
    pub(crate) fn start(&mut self, path: StreamPath) {
        if self.path.is_some() {
            return;
        }
        self.path = Some(path);
        self.counters.stream_started(path);
        let client = &self.client;
        self.span = tracing::debug_span!(
            "realtime_stream",
            client = %client.id(),
            addr = client.remote_ip().map(tracing::field::display),
            path = path.as_str(),
        );
        tracing::debug!(parent: &self.span, "stream started");
    }
}

impl Drop for Connected {
    fn drop(&mut self) {
        let reason = self.client.ending_for().unwrap_or(if self.path.is_some() {
            DisconnectReason::ClientLeft
        } else {
            DisconnectReason::NotServed
        });
        self.counters.stream_ended(self.path, reason);
        tracing::debug!(
            parent: &self.span,
            client = %self.client.id(),
            reason = reason.as_str(),
            "stream ended"
        );
        if let Some(broker) = self.broker.upgrade() {
            broker.unregister(&self.client);
            broker.open_streams.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Default for Realtime {
    fn default() -> Self {
        Self::new()
    }
}

impl Realtime {
    /// A broker with default settings, where everyone is a guest.
    #[must_use]
    pub fn new() -> Self {
        Builder::default().build()
    }

    /// A builder for a broker with an authenticator, hooks or other settings.
    pub fn builder() -> Builder {
        Builder::default()
    }

    pub(crate) fn from_builder(builder: Builder) -> Self {
        let epoch = ClientId::random().as_str()[..8].to_owned();
        let load = load::Load::new(builder.config.hold_above_cores);
        let start_engine = builder.engine;
        // What channels declare (`#[channel("chat", history = N)]`), unless the builder set
        // that topic itself.
        let mut history_for = builder.history_for.clone();
        for info in crate::channel::channels() {
            if let Some(kept) = info.history {
                history_for
                    .entry(info.name.to_owned())
                    .or_insert(history::Retention {
                        count: kept.count,
                        ttl: kept.ttl,
                    });
            }
        }
        let history = history::History::new(builder.config.history, history_for);
        let forwarded_streams =
            per_address::StreamsPerAddress::new(builder.config.serve.max_connections_per_ip);
        let rt = Self {
            shared: Arc::new(Shared {
                config: builder.config,
                authenticator: builder.authenticator,
                hooks: builder.hooks,
                registry: Registry::new(),
                topics: RwLock::default(),
                load,
                overflowed: fan_out::Overflowed::default(),
                engine: OnceLock::new(),
                serving_runtime: OnceLock::new(),
                history,
                order: Mutex::new(()),
                recent: recent::Recent::default(),
                cluster_order: order::ClusterOrder::default(),
                epoch,
                sequence: AtomicU64::new(0),
                open_streams: AtomicUsize::new(0),
                forwarded_streams,
                counters: Arc::default(),
            }),
        };
        if let Some(start) = start_engine {
            let engine = start.start(Arc::downgrade(&rt.shared));
            let _ = rt.shared.engine.set(engine);
        }
        rt
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    pub(crate) fn shared_arc(&self) -> Arc<Shared> {
        Arc::clone(&self.shared)
    }

    /// Sends `payload`, JSON-encoded, to the subscribers of `topic` that the default
    /// filter lets through: when `sender` is authenticated, only clients authenticated as the
    /// same user; when `sender` is a guest, every subscriber.
    ///
    /// # Errors
    ///
    /// See [`SendError`]; nothing is sent when it fails.
    pub fn send<T: Serialize + ?Sized>(
        &self,
        topic: &str,
        payload: &T,
        sender: &RequestAuth,
    ) -> Result<Delivery, SendError> {
        self.send_to(topic, payload, filter::same_user_or_all(sender))
    }

    /// Sends `payload`, JSON-encoded, to the subscribers of `topic` that `filter` accepts, on
    /// every node: [`everyone`](crate::everyone), a built-in [`Filter`](crate::Filter), a
    /// [`#[filter]`](macro@crate::filter) function of your own, or a combination.
    ///
    /// The payload is encoded and framed once; every recipient shares those bytes. A client
    /// subscribed under several keys of the topic (`chat` and `chat?options=...`) gets the
    /// message under each, and counts once; each distinct key is framed once per send, however
    /// many clients hold it. A client whose queue is full is disconnected instead of waited for.
    ///
    /// # Errors
    ///
    /// See [`SendError`]; nothing is sent when it fails.
    pub fn send_to<T>(
        &self,
        topic: &str,
        payload: &T,
        filter: impl IntoFilter,
    ) -> Result<Delivery, SendError>
    where
        T: Serialize + ?Sized,
    {
        let data = encode(topic, payload)?;
        let filter = filter.into_filter();
        let shared = &self.shared;
        if let Some(engine) = shared.engine()
            && shared.history.is_enabled()
            && engine.status() == EngineStatus::Connected
        {
            // One order for the whole application: every node, this one too, delivers the
            // send when Redis hands it back, numbered.
            let retention = shared.history.retention(topic);
            let other_nodes = engine.publish_ordered(topic, &data, &filter, retention);
            if other_nodes == OtherNodes::Published {
                return Ok(Delivery {
                    other_nodes,
                    ..Delivery::default()
                });
            }
        }
        let check = filter.check();
        let mut delivery = shared.fan_out(
            topic,
            &data,
            |_, client| check.accepts(client),
            Some(&filter),
            None,
        );
        if let Some(engine) = shared.engine() {
            delivery.other_nodes = engine.publish(topic, &data, &filter);
            if delivery.other_nodes == OtherNodes::Unreached {
                tracing::warn!(
                    topic,
                    "the engine is disconnected: this send reached this node only"
                );
            }
        }
        Ok(delivery)
    }

    /// Whether sends reach other nodes: [`EngineStatus::InProcess`] without a distributed
    /// engine, otherwise whether it is connected now.
    #[must_use]
    pub fn engine_status(&self) -> EngineStatus {
        self.shared
            .engine()
            .map_or(EngineStatus::InProcess, |engine| engine.status())
    }

    /// Waits, at most `within`, until sends reach every node: at once in-process, else until
    /// the engine is connected (and subscribed). Returns whether it is. A node behind a load
    /// balancer should listen only once this says so: until then its sends reach its own
    /// clients only, and a message a user posted there would be acknowledged yet reach nobody
    /// else (the example chat waits for it with `--redis`).
    pub async fn joined(&self, within: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if self.engine_status() != EngineStatus::Disconnected {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Waits, at most `within`, until every send made so far has gone to the other nodes (at
    /// once in-process): the engine publishes from a queue of its own, so a process that
    /// exits right after a send could take it along. [`Realtime::serve`]'s graceful shutdown
    /// calls this once its connections are closed; call it before exiting when serving
    /// otherwise. Returns whether everything went within the time.
    pub async fn flush(&self, within: std::time::Duration) -> bool {
        let Some(engine) = self.shared.engine() else {
            return true;
        };
        tokio::time::timeout(within, engine.flushed()).await.is_ok()
    }

    /// Sends `payload`, JSON-encoded, to the subscribers of `topic` **on this node** that
    /// `filter` accepts: any `Fn(&ClientId, &Client) -> bool`, as in the PocketBase plugin.
    /// A closure cannot travel to other nodes; with a distributed engine, a send that must
    /// reach every node takes a [`Filter`](crate::Filter) ([`Realtime::send_to`]).
    ///
    /// The filter runs while the topic index is read-locked: it must not send or subscribe.
    ///
    /// # Errors
    ///
    /// See [`SendError`]; nothing is sent when it fails.
    pub fn send_local<T, F>(
        &self,
        topic: &str,
        payload: &T,
        filter: F,
    ) -> Result<Delivery, SendError>
    where
        T: Serialize + ?Sized,
        F: Fn(&ClientId, &Client) -> bool,
    {
        let data = encode(topic, payload)?;
        Ok(self.shared.fan_out(topic, &data, filter, None, None))
    }

    /// The client with this id, if it is connected.
    #[must_use]
    pub fn client(&self, id: &str) -> Option<Client> {
        self.shared.find(id)
    }

    /// Every connected client.
    #[must_use]
    pub fn clients(&self) -> Vec<Client> {
        self.shared.registry.all()
    }

    /// How many event streams are still open, registered or not: a client cut off for falling
    /// behind stays open here until its connection is gone.
    #[must_use]
    pub fn open_streams(&self) -> usize {
        self.shared.open_streams.load(Ordering::Relaxed)
    }

    /// How many clients are connected.
    #[must_use]
    pub fn client_count(&self) -> usize {
        self.shared.registry.len()
    }

    /// What the broker is doing and has done, in numbers: the same figures the `metrics`
    /// feature publishes, without an exporter.
    ///
    /// Cheap but not free: [`Stats::queued_bytes`] is summed over the connected clients
    /// (O(clients), each queue locked in turn), and the topics are counted under the topic
    /// index's read lock. Call it for a scrape or a status page, not per request.
    #[must_use]
    pub fn stats(&self) -> Stats {
        let shared = &self.shared;
        let mut stats = shared.counters.snapshot();
        stats.clients = shared.registry.len();
        stats.open_streams = shared.open_streams.load(Ordering::Relaxed);
        stats.topics = shared.read_topics().len();
        stats.queued_bytes = shared
            .registry
            .sum(|client| client.state().outbox.queued_bytes());
        stats
    }

    /// The clients subscribed to `topic`, under any key.
    #[must_use]
    pub fn subscribers(&self, topic: &str) -> Vec<Client> {
        self.shared
            .read_topics()
            .get(topic)
            .map(|topic| {
                topic
                    .subscribers
                    .values()
                    .map(|sub| sub.client.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits for `signal`, then ends every stream: for servers other than
    /// [`Realtime::serve`] (which ends them itself), such as `axum::serve`, whose
    /// `with_graceful_shutdown` otherwise waits for streams that never end.
    pub fn shutdown_after(
        &self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> impl Future<Output = ()> + Send + 'static {
        let rt = self.clone();
        async move {
            signal.await;
            let ended = rt.disconnect_all();
            tracing::info!(streams = ended, "shutting down: ended the open streams");
        }
    }

    /// Ends every stream (clients reconnect); returns how many there were. Counted as
    /// [`DisconnectReason::Shutdown`].
    #[allow(clippy::must_use_candidate, reason = "ending the streams is the point")]
    pub fn disconnect_all(&self) -> usize {
        let clients = self.clients();
        for client in &clients {
            client.end(DisconnectReason::Shutdown);
        }
        clients.len()
    }
}

/// The payload of a send on `topic`, once the topic is known to be sendable.
fn encode<T: Serialize + ?Sized>(topic: &str, payload: &T) -> Result<Vec<u8>, SendError> {
    if !sse::is_valid_event_name(topic) || topic.contains('?') {
        return Err(SendError::InvalidTopic(topic.to_owned()));
    }
    serde_json::to_vec(payload).map_err(SendError::Encode)
}

impl Shared {
    pub(crate) fn engine(&self) -> Option<&Arc<dyn Engine>> {
        self.engine.get()
    }

    fn read_topics(&self) -> RwLockReadGuard<'_, Topics> {
        self.topics.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_topics(&self) -> RwLockWriteGuard<'_, Topics> {
        self.topics.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Opens a stream's registration: a new client, with its `PB_CONNECT` queued, registered
    /// until the returned guard is dropped (with `address_slot`, if any). The one way a stream
    /// opens, on either path.
    pub(crate) fn connect(
        self: &Arc<Self>,
        remote_ip: Option<IpAddr>,
        abort: Option<Abort>,
        resume: Option<Resume>,
        address_slot: Option<per_address::AddressSlot>,
    ) -> Connected {
        self.reap();
        if self.serving_runtime.get().is_none()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let _ = self.serving_runtime.set(runtime);
        }
        let id = match self.engine() {
            Some(engine) => ClientId::on_node(engine.node()),
            None => ClientId::random(),
        };
        let client = Client::new(
            id,
            remote_ip,
            abort,
            self.config.queue_limits(),
            Arc::downgrade(self),
        );
        if self.history.is_enabled() {
            let engine = self.engine();
            // The order positions belong to: the application's (with an engine), or this broker's.
            let from = if engine.is_some() {
                let (epoch, at) = self.cluster_order.current();
                self.resumed_from(resume.as_ref(), &epoch, at)
            } else {
                let at = self.sequence.load(Ordering::Relaxed);
                self.resumed_from(resume.as_ref(), &self.epoch, at)
            };
            if let (Some(engine), Some(from)) = (engine, from) {
                engine.note_connect(client.id().as_str(), from, self.history.longest_ttl());
            }
            client.set_resume(resume, from);
        }
        if let Some(hook) = &self.hooks.on_connect {
            hook(&client);
        }
        client.push(sse::connect(client.id().as_str()));
        self.registry.insert(&client);
        self.open_streams.fetch_add(1, Ordering::Relaxed);
        Connected {
            client,
            broker: Arc::downgrade(self),
            _address_slot: address_slot,
            counters: Arc::clone(&self.counters),
            path: None,
            span: tracing::Span::none(),
        }
    }

    pub(crate) fn find(&self, id: &str) -> Option<Client> {
        self.registry.find(id)
    }

    /// Removes a client from the index and the registry; runs the disconnect hook the first
    /// time only.
    pub(crate) fn unregister(&self, client: &Client) {
        // Closing first means a concurrent subscription change, which checks under the topic
        // lock, cannot put the client back once it is gone. A client still open here is one
        // whose stream ended because it left (every other end closed it first).
        client.state().outbox.close(DisconnectReason::ClientLeft);
        let old = {
            let mut topics = self.write_topics();
            let old = client.replace_subscriptions(Vec::new());
            for sub in &old {
                index::remove(&mut topics, sub.topic(), client.id());
            }
            old
        };
        // Freed after the lock: a thousand long keys take a while to drop.
        drop(old);
        if self.registry.remove(client) {
            if self.history.is_enabled() {
                self.recent.left(client);
            }
            if let Some(hook) = &self.hooks.on_disconnect {
                hook(client);
            }
        }
    }

    /// Replaces a client's whole subscription set (duplicate keys collapse); false if the
    /// client is already gone. The topic index is locked only for its update: keys are
    /// deduplicated and grouped before, and the old ones freed after.
    pub(crate) fn replace_subscriptions(
        &self,
        client: &Client,
        mut keys: Vec<Subscription>,
        fetched: Option<engine::Fetched>,
    ) -> bool {
        index::dedupe(&mut keys);
        if let Some(hook) = &self.hooks.on_subscribe {
            let old = client.subscriptions();
            let old: HashSet<&str> = old.iter().map(String::as_str).collect();
            for sub in keys.iter().filter(|sub| !old.contains(sub.key())) {
                hook(client, sub);
            }
        }
        let grouped = Grouped::new(&keys);
        let old = {
            let mut topics = self.write_topics();
            if client.is_closed() {
                return false;
            }
            let old = client.replace_subscriptions(Vec::new());
            for sub in &old {
                index::remove(&mut topics, sub.topic(), client.id());
            }
            index::insert(&mut topics, client, &grouped);
            client.replace_subscriptions(keys);
            // A reconnecting client's missed sends go first: no send can reach it before the
            // lock is released.
            if let Some(resume) = client.take_resume() {
                self.replay(client, &resume, fetched);
            }
            old
        };
        drop(old);
        true
    }
}

impl fmt::Debug for Realtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Realtime")
            .field("clients", &self.client_count())
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}
