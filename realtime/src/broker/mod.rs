//! The broker: the registry of connected clients, the topic index, and fan-out.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};

use bytes::Bytes;
use serde::Serialize;
use tokio::time::Instant;

use crate::auth::cookie;
use crate::auth::{self, Authenticator, RequestAuth};
use crate::broker::builder::{Builder, Config, Hooks};
use crate::broker::client::Client;
use crate::broker::delivery::{Delivery, SendError};
use crate::broker::outbox::Push;
use crate::sync::{Abort, lock};
use crate::wire::client_id::ClientId;
use crate::wire::frame;
use crate::wire::subscription::Subscription;

pub(crate) mod builder;
pub(crate) mod client;
pub(crate) mod delivery;
pub mod filter;
mod index;
pub(crate) mod outbox;
mod pace;

use index::{Grouped, Keys, Topic, Topics};

const SHARDS: usize = 16;

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
    /// Clients by id, in shards so that connects and disconnects of unrelated clients do not
    /// queue on one lock.
    registry: Box<[Mutex<HashMap<ClientId, Client>>]>,
    /// Subscribers by topic. Subscribes and disconnects lock it for writing: sends hold it
    /// only to find their recipients and queue the shared plain frame.
    topics: RwLock<Topics>,
    /// Clients whose queue overflowed outside a fan-out, waiting to be unregistered.
    overflowed: Mutex<Vec<Client>>,
    epoch: String,
    sequence: AtomicU64,
    /// Response bodies alive: a stream outlives its registration while its connection drains.
    pub(crate) open_streams: AtomicUsize,
}

/// A stream's registration: its client stays registered, and counted in
/// [`Realtime::open_streams`], until this is dropped (the stream ended or its peer left).
pub(crate) struct Connected {
    client: Client,
    broker: Weak<Shared>,
}

impl Connected {
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }
}

impl Drop for Connected {
    fn drop(&mut self) {
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
        Self {
            shared: Arc::new(Shared {
                config: builder.config,
                authenticator: builder.authenticator,
                hooks: builder.hooks,
                registry: (0..SHARDS).map(|_| Mutex::default()).collect(),
                topics: RwLock::default(),
                overflowed: Mutex::default(),
                epoch,
                sequence: AtomicU64::new(0),
                open_streams: AtomicUsize::new(0),
            }),
        }
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

    /// Sends `payload`, JSON-encoded, to the subscribers of `topic` that `filter` accepts.
    /// [`everyone`](crate::everyone) accepts all.
    ///
    /// The payload is encoded and framed once; every recipient shares those bytes. A client
    /// subscribed under several keys of the topic (`chat` and `chat?options=...`) gets the
    /// message under each, and counts once; each distinct key is framed once per send, however
    /// many clients hold it. A client whose queue is full is disconnected instead of waited for.
    ///
    /// The filter runs while the topic index is read-locked: it must not send or subscribe.
    ///
    /// # Errors
    ///
    /// See [`SendError`]; nothing is sent when it fails.
    pub fn send_to<T, F>(&self, topic: &str, payload: &T, filter: F) -> Result<Delivery, SendError>
    where
        T: Serialize + ?Sized,
        F: Fn(&ClientId, &Client) -> bool,
    {
        if !frame::is_valid_event_name(topic) || topic.contains('?') {
            return Err(SendError::InvalidTopic(topic.to_owned()));
        }
        let data = serde_json::to_vec(payload).map_err(SendError::Encode)?;
        Ok(self.shared.fan_out(topic, &data, filter))
    }

    /// The client with this id, if it is connected.
    #[must_use]
    pub fn client(&self, id: &str) -> Option<Client> {
        self.shared.find(id)
    }

    /// Every connected client.
    #[must_use]
    pub fn clients(&self) -> Vec<Client> {
        self.shared
            .registry
            .iter()
            .flat_map(|shard| lock(shard).values().cloned().collect::<Vec<_>>())
            .collect()
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
        self.shared
            .registry
            .iter()
            .map(|shard| lock(shard).len())
            .sum()
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

    /// Ends every stream (clients reconnect); returns how many there were.
    #[allow(clippy::must_use_candidate, reason = "ending the streams is the point")]
    pub fn disconnect_all(&self) -> usize {
        let clients = self.clients();
        for client in &clients {
            client.disconnect();
        }
        clients.len()
    }

    /// The auth of a request: the token in its `Authorization` header (raw or `Bearer`), or
    /// else, on a same-origin request, in the auth cookie. A missing, invalid or expired token
    /// is a guest.
    #[must_use]
    pub fn authenticate(&self, request: &http::request::Parts) -> RequestAuth {
        let config = &self.shared.config;
        auth::token_from_headers(&request.headers)
            .or_else(|| cookie::token(&request.headers, &request.method, &config.auth_cookie))
            .and_then(|token| self.shared.authenticator.authenticate(token))
            .into()
    }

    /// A `Set-Cookie` value that logs the browser in with `token` (minted by your
    /// authenticator, e.g. [`JwtAuth::mint`](crate::JwtAuth::mint)) for `max_age`:
    /// `HttpOnly`, `SameSite=Strict`, `Path=/`.
    #[must_use]
    pub fn auth_cookie(&self, token: &str, max_age: std::time::Duration) -> http::HeaderValue {
        let config = &self.shared.config;
        cookie::set(&config.auth_cookie, token, max_age, config.secure_cookie)
    }

    /// A `Set-Cookie` value that logs the browser out.
    #[must_use]
    pub fn clear_auth_cookie(&self) -> http::HeaderValue {
        let config = &self.shared.config;
        cookie::clear(&config.auth_cookie, config.secure_cookie)
    }
}

impl Shared {
    fn shard(&self, id: &str) -> &Mutex<HashMap<ClientId, Client>> {
        let hash = id
            .bytes()
            .take(8)
            .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b.into()));
        &self.registry[hash % SHARDS]
    }

    fn read_topics(&self) -> RwLockReadGuard<'_, Topics> {
        self.topics.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_topics(&self) -> RwLockWriteGuard<'_, Topics> {
        self.topics.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Opens a stream's registration: a new client, with its `PB_CONNECT` queued, registered
    /// until the returned guard is dropped. The one way a stream opens, on either path.
    pub(crate) fn connect(
        self: &Arc<Self>,
        remote_ip: Option<IpAddr>,
        abort: Option<Abort>,
    ) -> Connected {
        self.reap();
        let client = Client::new(
            remote_ip,
            abort,
            self.config.queue_limits(),
            Arc::downgrade(self),
        );
        if let Some(hook) = &self.hooks.on_connect {
            hook(&client);
        }
        client.push(frame::connect(client.id().as_str()));
        lock(self.shard(client.id().as_str())).insert(client.id().clone(), client.clone());
        self.open_streams.fetch_add(1, Ordering::Relaxed);
        Connected {
            client,
            broker: Arc::downgrade(self),
        }
    }

    pub(crate) fn find(&self, id: &str) -> Option<Client> {
        lock(self.shard(id)).get(id).cloned()
    }

    /// Removes a client from the index and the registry; runs the disconnect hook the first
    /// time only.
    pub(crate) fn unregister(&self, client: &Client) {
        // Closing first means a concurrent subscription change, which checks under the topic
        // lock, cannot put the client back once it is gone.
        client.state().outbox.close();
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
        let removed = {
            let mut shard = lock(self.shard(client.id().as_str()));
            match shard.get(client.id()) {
                Some(found) if found.ptr_eq(client) => shard.remove(client.id()),
                _ => None,
            }
        };
        if removed.is_some()
            && let Some(hook) = &self.hooks.on_disconnect
        {
            hook(client);
        }
    }

    /// Replaces a client's whole subscription set (duplicate keys collapse); false if the
    /// client is already gone. The topic index is locked only for its update: keys are
    /// deduplicated and grouped before, and the old ones freed after.
    pub(crate) fn replace_subscriptions(
        &self,
        client: &Client,
        mut keys: Vec<Subscription>,
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
            old
        };
        drop(old);
        true
    }

    fn next_message_id(&self) -> String {
        let seq = self.sequence.fetch_add(1, Ordering::Relaxed) + 1;
        format!("{}-{seq}", self.epoch)
    }

    /// Queues one send for the subscribers of `topic` that `filter` accepts.
    ///
    /// Under the index's read lock, it runs the filter and queues the plain key's frame, one
    /// for all; clients with keys with options are only noted. Their frames are built after
    /// the lock is released, once per distinct key per send and found by the key's address, so
    /// a send to thousands of such keys keeps no subscribe or disconnect waiting. A single
    /// publisher's sends still arrive in order under every key: each is queued whole before
    /// `send_to` returns.
    fn fan_out<F>(&self, topic: &str, data: &[u8], filter: F) -> Delivery
    where
        F: Fn(&ClientId, &Client) -> bool,
    {
        let mut delivery = Delivery::default();
        let mut overflowed = Vec::new();
        // Clients with keys with options, their keys, and whether the plain frame reached them.
        let mut keyed: Vec<(Client, Keys, bool)> = Vec::new();
        let (id, hold) = {
            let topics = self.read_topics();
            let Some(Topic {
                subscribers, pace, ..
            }) = topics.get(topic)
            else {
                return delivery;
            };
            let hold = pace.record(Instant::now(), self.config.max_write_delay);
            let id = self.next_message_id();
            let plain = frame::event(&id, topic, data);
            for (client_id, subscriber) in subscribers {
                if !filter(client_id, &subscriber.client) {
                    continue;
                }
                let mut queued = false;
                if subscriber.plain {
                    match subscriber.client.state().outbox.push(plain.clone(), hold) {
                        Push::Queued => queued = true,
                        Push::Closed => continue,
                        Push::Overflowed => {
                            overflowed.push(subscriber.client.clone());
                            continue;
                        }
                    }
                }
                match &subscriber.keyed {
                    Some(keys) => keyed.push((subscriber.client.clone(), Arc::clone(keys), queued)),
                    None => delivery.reached += usize::from(queued),
                }
            }
            (id, hold)
        };
        let mut frames: HashMap<usize, Bytes> = HashMap::new();
        for (client, keys, mut queued) in keyed {
            for key in keys.iter() {
                let frame = frames
                    .entry(index::identity(key))
                    .or_insert_with(|| frame::event(&id, key, data));
                match client.state().outbox.push(frame.clone(), hold) {
                    Push::Queued => queued = true,
                    Push::Closed => break,
                    Push::Overflowed => {
                        overflowed.push(client.clone());
                        break;
                    }
                }
            }
            delivery.reached += usize::from(queued);
        }
        delivery.dropped = overflowed.len();
        for client in &overflowed {
            tracing::warn!(client = %client.id(), topic, "queue full; disconnecting slow client");
            self.drop_slow(client);
        }
        self.reap();
        delivery
    }

    /// Queues a client whose queue overflowed outside a fan-out for removal.
    pub(crate) fn overflowed(&self, client: Client) {
        lock(&self.overflowed).push(client);
        self.reap();
    }

    /// Unregisters overflowed clients, unless the topic index is busy (this may run inside a
    /// filter); the next send or connect does it then.
    fn reap(&self) {
        let pending = std::mem::take(&mut *lock(&self.overflowed));
        if pending.is_empty() {
            return;
        }
        if self.topics.try_write().is_err() {
            lock(&self.overflowed).extend(pending);
            return;
        }
        for client in &pending {
            self.drop_slow(client);
        }
    }

    /// Unregisters a client whose queue overflowed and cuts its connection, which is likely
    /// too clogged to notice the end of its stream.
    fn drop_slow(&self, client: &Client) {
        self.unregister(client);
        client.abort_connection();
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
