//! The client object: one connected stream, as filters and hooks see it.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use serde::Serialize;

use crate::auth::{AUTH_KEY, AuthRecord};
use crate::broker::Shared;
use crate::broker::delivery::SendError;
use crate::broker::outbox::{self, Outbox, Push};
use crate::broker::stats::DisconnectReason;
use crate::sync::{Abort, lock};
use crate::wire::client_id::ClientId;
use crate::wire::position::Resume;
use crate::wire::sse;
use crate::wire::subscription::Subscription;

type Value = Arc<dyn Any + Send + Sync>;

#[derive(Default)]
struct Resumption {
    connected_at: Option<u64>,
    pending: Option<Resume>,
}

/// One connected stream: its id, its subscriptions, its auth, and a store of values the
/// application keeps on it (PocketBase's subscription client).
///
/// Cheap to clone: clones are handles to the same client.
#[derive(Clone)]
pub struct Client {
    state: Arc<ClientState>,
}

pub(crate) struct ClientState {
    id: ClientId,
    remote_ip: Option<IpAddr>,
    connected_at: Instant,
    store: Mutex<HashMap<String, Value>>,
    /// Written only while the broker's topic index is locked for writing, so that the two
    /// always agree.
    subscriptions: Mutex<Vec<Subscription>>,
    pub(crate) outbox: Outbox,
    /// Aborts the connection itself, when it was accepted by [`crate::serve`].
    abort: Option<Abort>,
    /// Where the broker's order of sends stood when the stream opened, and where the client
    /// says it stopped (its `Last-Event-ID`), until its first subscription takes it.
    resume: Mutex<Resumption>,
    broker: Weak<Shared>,
}

impl Client {
    pub(crate) fn new(
        id: ClientId,
        remote_ip: Option<IpAddr>,
        abort: Option<Abort>,
        queue: outbox::Limits,
        broker: Weak<Shared>,
    ) -> Self {
        Self {
            state: Arc::new(ClientState {
                id,
                remote_ip,
                connected_at: Instant::now(),
                store: Mutex::default(),
                subscriptions: Mutex::default(),
                outbox: Outbox::new(queue),
                abort,
                resume: Mutex::default(),
                broker,
            }),
        }
    }

    pub(crate) fn state(&self) -> &ClientState {
        &self.state
    }

    /// The client's id.
    #[must_use]
    pub fn id(&self) -> &ClientId {
        &self.state.id
    }

    /// The address the stream was opened from, when the server was started with
    /// [`Realtime::serve`](crate::Realtime::serve) (or axum's `into_make_service_with_connect_info`).
    #[must_use]
    pub fn remote_ip(&self) -> Option<IpAddr> {
        self.state.remote_ip
    }

    /// When the stream was opened.
    #[must_use]
    pub fn connected_at(&self) -> Instant {
        self.state.connected_at
    }

    /// A value stored on the client, if there is one of type `T` under `key`.
    ///
    /// ```
    /// # let client = axum_realtime::Client::detached();
    /// client.set("roomId", String::from("123"));
    /// assert_eq!(client.get::<String>("roomId").as_deref(), Some("123"));
    /// assert_eq!(client.get::<u32>("roomId"), None);
    /// ```
    #[must_use]
    pub fn get<T: Any + Send + Sync + Clone>(&self, key: &str) -> Option<T> {
        lock(&self.state.store)
            .get(key)
            .and_then(|value| value.downcast_ref::<T>())
            .cloned()
    }

    /// Stores a value on the client, replacing any under the same key.
    pub fn set<T: Any + Send + Sync>(&self, key: impl Into<String>, value: T) {
        lock(&self.state.store).insert(key.into(), Arc::new(value));
    }

    /// Removes the value under `key`; whether there was one.
    #[allow(clippy::must_use_candidate, reason = "removing is the point")]
    pub fn unset(&self, key: &str) -> bool {
        lock(&self.state.store).remove(key).is_some()
    }

    /// Whether a value is stored under `key`, whatever its type.
    #[must_use]
    pub fn has(&self, key: &str) -> bool {
        lock(&self.state.store).contains_key(key)
    }

    /// The auth record bound to the client by its `POST /api/realtime`, `None` for a guest.
    /// The same record is stored under [`AUTH_KEY`](crate::auth::AUTH_KEY), so `client.get::<AuthRecord>("auth")`
    /// works too.
    #[must_use]
    pub fn auth(&self) -> Option<AuthRecord> {
        self.get(AUTH_KEY)
    }

    pub(crate) fn auth_id_is(&self, id: &str) -> bool {
        self.auth_matches(|record| record.id() == id)
    }

    /// Whether the client has an auth record and `test` accepts it (without copying it).
    pub(crate) fn auth_matches(&self, test: impl FnOnce(&AuthRecord) -> bool) -> bool {
        lock(&self.state.store)
            .get(AUTH_KEY)
            .and_then(|value| value.downcast_ref::<AuthRecord>())
            .is_some_and(test)
    }

    pub(crate) fn is_authenticated(&self) -> bool {
        self.auth_matches(|_| true)
    }

    /// Whether the store holds `expected` under `key`, in any of the types a JSON value of its
    /// kind is naturally stored as.
    pub(crate) fn stored_equals(&self, key: &str, expected: &serde_json::Value) -> bool {
        use serde_json::Value as Json;
        let store = lock(&self.state.store);
        let Some(value) = store.get(key) else {
            return false;
        };
        if let Some(json) = value.downcast_ref::<Json>() {
            return json == expected;
        }
        match expected {
            Json::String(text) => value
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| value.downcast_ref::<&'static str>().copied())
                .is_some_and(|stored| stored == text),
            Json::Bool(flag) => value.downcast_ref::<bool>() == Some(flag),
            Json::Number(number) => stored_number_equals(&**value, number),
            Json::Null | Json::Array(_) | Json::Object(_) => false,
        }
    }

    /// Whether the client listens to `topic`, under the plain key or one with options
    /// (`news?options=...`). An exact key with options matches too.
    #[must_use]
    pub fn has_subscription(&self, topic: &str) -> bool {
        lock(&self.state.subscriptions)
            .iter()
            .any(|sub| sub.topic() == topic || sub.key() == topic)
    }

    /// The client's subscription keys, exactly as it sent them.
    #[must_use]
    pub fn subscriptions(&self) -> Vec<String> {
        lock(&self.state.subscriptions)
            .iter()
            .map(|sub| sub.key().to_owned())
            .collect()
    }

    /// The client's subscriptions with their parsed options.
    #[must_use]
    pub fn subscription_details(&self) -> Vec<Subscription> {
        lock(&self.state.subscriptions).clone()
    }

    pub(crate) fn replace_subscriptions(
        &self,
        subscriptions: Vec<Subscription>,
    ) -> Vec<Subscription> {
        std::mem::replace(&mut *lock(&self.state.subscriptions), subscriptions)
    }

    /// Sends one event to this client alone, JSON-encoded, under the event name `event`.
    /// Returns whether it was queued; a client whose queue is full is disconnected.
    ///
    /// # Errors
    ///
    /// [`SendError::InvalidTopic`] if `event` is empty or holds CR, LF or NUL;
    /// [`SendError::Encode`] if the payload cannot be encoded as JSON.
    pub fn send<T: Serialize + ?Sized>(&self, event: &str, payload: &T) -> Result<bool, SendError> {
        if !sse::is_valid_event_name(event) {
            return Err(SendError::InvalidTopic(event.to_owned()));
        }
        let data = serde_json::to_vec(payload).map_err(SendError::Encode)?;
        let frame = sse::event(self.id().as_str(), event, &data);
        Ok(self.push(frame))
    }

    /// Queues a frame; on overflow, hands the client to the broker for removal.
    pub(crate) fn push(&self, frame: bytes::Bytes) -> bool {
        match self.state.outbox.push(frame, None) {
            Push::Queued | Push::Claimed => true,
            Push::Closed => false,
            Push::Overflowed => {
                if let Some(broker) = self.state.broker.upgrade() {
                    broker.overflowed(self.clone());
                }
                false
            }
        }
    }

    /// Ends the client's stream after what is already queued; it is unregistered at once.
    /// Counted as [`DisconnectReason::Application`].
    pub fn disconnect(&self) {
        self.end(DisconnectReason::Application);
    }

    /// Ends the client's stream for `reason`, after what is already queued.
    pub(crate) fn end(&self, reason: DisconnectReason) {
        self.state.outbox.close(reason);
        if let Some(broker) = self.state.broker.upgrade() {
            broker.unregister(self);
        }
    }

    /// Why the stream ends, if that is known before it does: its outbox was closed, or its
    /// connection's writes stalled.
    pub(crate) fn ending_for(&self) -> Option<DisconnectReason> {
        self.state.outbox.closed_for().or_else(|| {
            self.state
                .abort
                .as_ref()
                .is_some_and(Abort::has_stalled)
                .then_some(DisconnectReason::WriteStalled)
        })
    }

    /// Whether the stream has been closed (by the server, or a full queue).
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.state.outbox.is_closed()
    }

    /// A client attached to no broker and no stream, for tests and doc examples of filters.
    #[must_use]
    pub fn detached() -> Self {
        let queue = outbox::Limits {
            messages: 16,
            bytes: usize::MAX,
        };
        Self::new(ClientId::random(), None, None, queue, Weak::new())
    }

    /// Cuts the connection: for a client so far behind that its socket may no longer be
    /// written, where ending the stream would never be noticed.
    pub(crate) fn abort_connection(&self) {
        if let Some(abort) = &self.state.abort {
            abort.abort();
        }
    }

    /// Notes the position this stream stands for (see [`Client::connected_sequence`]), and
    /// where the client says it stopped.
    pub(crate) fn set_resume(&self, resume: Option<Resume>, connected_at: Option<u64>) {
        *lock(&self.state.resume) = Resumption {
            connected_at,
            pending: resume,
        };
    }

    /// Where the client says it stopped, if its first subscription has not come yet.
    pub(crate) fn pending_resume(&self) -> Option<Resume> {
        lock(&self.state.resume).pending.clone()
    }

    /// Where the client says it stopped, once: its first subscription replays from there.
    pub(crate) fn take_resume(&self) -> Option<Resume> {
        lock(&self.state.resume).pending.take()
    }

    /// The position this stream stands for, which its `PB_CONNECT` id resumes from (kept
    /// while history is on): where the order of sends stood when it opened, or where its
    /// client said it stopped; `None` when that could not be told.
    pub(crate) fn connected_sequence(&self) -> Option<u64> {
        lock(&self.state.resume).connected_at
    }

    pub(crate) fn ptr_eq(&self, other: &Client) -> bool {
        Arc::ptr_eq(&self.state, &other.state)
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("id", self.id())
            .field("subscriptions", &self.subscriptions())
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

/// Whether a stored integer or float equals `expected`.
fn stored_number_equals(value: &(dyn Any + Send + Sync), expected: &serde_json::Number) -> bool {
    macro_rules! signed {
        ($($t:ty),*) => {$(
            if let Some(n) = value.downcast_ref::<$t>() {
                return expected.as_i64() == Some(i64::from(*n));
            }
        )*};
    }
    macro_rules! unsigned {
        ($($t:ty),*) => {$(
            if let Some(n) = value.downcast_ref::<$t>() {
                return expected.as_u64() == Some(u64::from(*n));
            }
        )*};
    }
    signed!(i8, i16, i32, i64);
    unsigned!(u8, u16, u32, u64);
    if let Some(n) = value.downcast_ref::<usize>() {
        return expected.as_u64() == u64::try_from(*n).ok();
    }
    if let Some(n) = value.downcast_ref::<isize>() {
        return expected.as_i64() == i64::try_from(*n).ok();
    }
    #[allow(clippy::float_cmp, reason = "equality is what the filter asks")]
    if let Some(n) = value.downcast_ref::<f64>() {
        return expected.as_f64() == Some(*n);
    }
    false
}
