//! The engine seam: what carries sends (and subscription requests for clients held elsewhere)
//! between the nodes of one application. The broker fans out to its own clients itself; an
//! engine only moves what other nodes need. Without one (the default, in-process) nothing
//! else happens on a send: one node is the whole application.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;

use serde::{Deserialize, Serialize};

use crate::auth::AuthRecord;
use crate::broker::Shared;
use crate::broker::delivery::OtherNodes;
use crate::broker::filter::Filter;
use crate::broker::history::Retention;

/// The state of a broker's engine (see [`Realtime::engine_status`](crate::Realtime::engine_status)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineStatus {
    /// In-process: this node is the whole application.
    InProcess,
    /// Connected: sends reach every node.
    Connected,
    /// Not connected (yet, or any more): this node serves its own clients, sends do not reach
    /// other nodes, and the engine reconnects by itself.
    Disconnected,
}

/// A validated subscription request (`POST /api/realtime`) for one client, with what the
/// request's own node found out about it: where it came from, and who sent it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SubscriptionChange {
    pub(crate) client_id: String,
    /// The keys, deduplicated and without empty ones, in the order sent.
    pub(crate) keys: Vec<String>,
    /// The address the request came from.
    pub(crate) remote: Option<IpAddr>,
    /// The request's auth record, `None` for a guest.
    pub(crate) auth: Option<AuthRecord>,
}

/// Why the node holding a client refused a subscription change: PocketBase's answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Refusal {
    /// No such client (404).
    UnknownClient,
    /// The request came from another address than the stream (400).
    WrongAddress,
    /// The request's auth differs from the one the client is bound to (403).
    AuthMismatch,
    /// The node holding the client could not be asked (503).
    OwnerUnreachable,
}

pub(crate) type Answer = Pin<Box<dyn Future<Output = Result<(), Refusal>> + Send>>;

/// What to read from the engine's history for a reconnecting client.
#[derive(Debug, Clone)]
#[cfg_attr(
    not(feature = "redis"),
    allow(dead_code, reason = "used by the Redis engine")
)]
pub(crate) struct FetchRequest {
    /// Its position, or `None` to look up where its old client id (`connected`) connected.
    pub(crate) after: Option<u64>,
    pub(crate) connected: Option<String>,
    /// Its topics that keep a history.
    pub(crate) topics: Vec<(String, Retention)>,
}

/// One send read back from the engine's history.
#[derive(Debug, Clone)]
pub(crate) struct FetchedSend {
    pub(crate) sequence: u64,
    pub(crate) data: Bytes,
    pub(crate) filter: Filter,
}

/// What the engine's history says a reconnecting client missed.
#[derive(Debug, Clone)]
pub(crate) struct Fetched {
    pub(crate) epoch: String,
    /// The position the sends follow (looked up, for an old client id).
    pub(crate) after: u64,
    /// Each topic's sends after it, oldest first; `None` when some are gone.
    pub(crate) topics: HashMap<String, Option<Vec<FetchedSend>>>,
}

pub(crate) type FetchAnswer = Pin<Box<dyn Future<Output = Option<Fetched>> + Send>>;

/// What a distributed engine does for the broker. Implementations never block the caller:
/// a send is queued for the engine's own task or reported [`OtherNodes::Unreached`].
pub(crate) trait Engine: Send + Sync {
    /// Carries a send already delivered here to the other nodes, which filter it against
    /// their own clients.
    fn publish(&self, topic: &str, data: &[u8], filter: &Filter) -> OtherNodes;

    /// This node's tag, which starts the ids of its clients so that any node can tell where
    /// a client lives.
    fn node(&self) -> &str;

    /// Asks the node whose tag is `owner` to apply `change` to its client.
    fn forward(&self, owner: &str, change: SubscriptionChange) -> Answer;

    fn status(&self) -> EngineStatus;

    /// Carries a send to every node, this one included, in the one order of the application's
    /// sends, keeping it in `topic`'s history when `retention` says so. Each node delivers it
    /// when it comes back, with a position valid on every node.
    fn publish_ordered(
        &self,
        topic: &str,
        data: &[u8],
        filter: &Filter,
        retention: Option<Retention>,
    ) -> OtherNodes;

    /// Notes, for `ttl`, where the client `id` connected, so that another node can resume it
    /// from its `PB_CONNECT` id.
    fn note_connect(&self, id: &str, sequence: u64, ttl: Duration);

    /// Reads what a reconnecting client missed from the engine's history; `None` when it
    /// cannot be read.
    fn fetch(&self, request: FetchRequest) -> FetchAnswer;

    /// Resolves once everything queued before it has gone to the other nodes (or been given
    /// up on): a process about to exit must not take acknowledged sends with it.
    fn flushed(&self) -> Flushed;
}

/// See [`Engine::flushed`].
pub(crate) type Flushed = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Starts an engine for a broker: the builder's part, run once the broker exists.
pub(crate) trait StartEngine: Send {
    fn start(self: Box<Self>, broker: Weak<Shared>) -> Arc<dyn Engine>;
}
