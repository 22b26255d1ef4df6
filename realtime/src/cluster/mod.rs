//! The Redis engine (feature `redis`): several nodes serve one application, each fanning out
//! to its own clients, with Redis carrying between them what the others need.
//!
//! - A send is published once, on the channel every node listens to, with its filter; each
//!   other node frames it once and filters it against its own clients. The payload travels
//!   as the JSON it already is.
//! - A client id starts with its node's tag, so a `POST /api/realtime` that reaches another
//!   node is carried to the owner on the owner's own channel, checked there, and answered
//!   with the owner's verdict.
//! - The engine runs on a thread of its own with its own Tokio runtime, so a broker can be
//!   built anywhere and Redis traffic never waits on the application's tasks. fred keeps the
//!   connections, reconnects with backoff and resubscribes after a reconnect.
//!
//! Redis `PUBLISH` is at-most-once: a node that is disconnected while a send is published
//! misses it (recovery is the job of message history), and a send made while this node is
//! disconnected reaches its own clients only ([`OtherNodes::Unreached`]).

mod envelope;
mod node;
mod pending;
mod scripts;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use serde_json::value::RawValue;
use tokio::sync::{mpsc, oneshot};

use crate::broker::Shared;
use crate::broker::builder::Builder;
use crate::broker::delivery::OtherNodes;
use crate::broker::engine::{
    Answer, Engine, EngineStatus, FetchAnswer, FetchRequest, Flushed, Refusal, StartEngine,
    SubscriptionChange,
};
use crate::broker::filter::Filter;
use crate::broker::history::Retention;
use crate::wire::client_id::ClientId;
use envelope::ToNode;
use node::Outbound;
use pending::Pending;

/// How many messages may wait for Redis; past that a send is reported unreached rather than
/// queued without bound behind a slow Redis.
const OUTBOUND_CAPACITY: usize = 65_536;

/// The length of a node's tag, which starts its clients' ids.
const NODE_TAG_LEN: usize = 8;

/// The Redis channels of one application: keep the prefix apart from other applications that
/// share the Redis server.
const DEFAULT_PREFIX: &str = "axum-realtime";

/// A Redis URL that cannot be used.
#[derive(Debug)]
pub struct RedisUrlError(fred::error::Error);

impl fmt::Display for RedisUrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid Redis URL: {}", self.0)
    }
}

impl std::error::Error for RedisUrlError {}

impl Builder {
    /// Makes this broker one node of an application spread over several, joined by the Redis
    /// server at `url` (`redis://[user:password@]host:port[/db]`). Sends reach the clients of
    /// every node; a subscription request may arrive at any node. See the crate's scale-out
    /// notes.
    ///
    /// The broker starts at once: while Redis cannot be reached it serves its own clients,
    /// retries with backoff, and [`Realtime::engine_status`](crate::Realtime::engine_status)
    /// says so.
    ///
    /// # Errors
    ///
    /// [`RedisUrlError`] if `url` is not a Redis URL.
    pub fn redis(self, url: &str) -> Result<Self, RedisUrlError> {
        self.redis_with_prefix(url, DEFAULT_PREFIX)
    }

    /// [`Builder::redis`], with the Redis channels named `<prefix>:...` (default
    /// `axum-realtime`): applications sharing one Redis server each need their own.
    ///
    /// # Errors
    ///
    /// [`RedisUrlError`] if `url` is not a Redis URL.
    pub fn redis_with_prefix(mut self, url: &str, prefix: &str) -> Result<Self, RedisUrlError> {
        let config = fred::types::config::Config::from_url(url).map_err(RedisUrlError)?;
        self.engine = Some(Box::new(StartRedis {
            config,
            prefix: prefix.to_owned(),
        }));
        Ok(self)
    }
}

struct StartRedis {
    config: fred::types::config::Config,
    prefix: String,
}

impl StartEngine for StartRedis {
    fn start(self: Box<Self>, broker: Weak<Shared>) -> Arc<dyn Engine> {
        let node = ClientId::random().as_str()[..NODE_TAG_LEN].to_owned();
        let (outbound, queue) = mpsc::channel(OUTBOUND_CAPACITY);
        let engine = Arc::new(RedisEngine {
            node: node.clone(),
            outbound,
            connected: Arc::new(AtomicBool::new(false)),
            pending: Arc::new(Pending::default()),
        });
        node::spawn(node::Node {
            config: self.config,
            channels: node::Channels::new(&self.prefix, &node),
            broker,
            queue,
            answers: engine.outbound.downgrade(),
            connected: Arc::clone(&engine.connected),
            pending: Arc::clone(&engine.pending),
        });
        engine
    }
}

struct RedisEngine {
    node: String,
    outbound: mpsc::Sender<Outbound>,
    /// Both connections are up and subscribed: kept by the engine's thread.
    connected: Arc<AtomicBool>,
    pending: Arc<Pending>,
}

impl RedisEngine {
    /// A send as nodes read it; the payload is JSON this process just encoded.
    fn envelope(&self, topic: &str, data: &[u8], filter: &Filter) -> Option<Vec<u8>> {
        let data = std::str::from_utf8(data).ok()?;
        let data = serde_json::from_str::<&RawValue>(data).ok()?;
        let send = envelope::Send {
            node: self.node.as_str().into(),
            topic: topic.into(),
            filter: filter.clone(),
            data,
        };
        serde_json::to_vec(&send).ok()
    }
}

impl Engine for RedisEngine {
    fn publish(&self, topic: &str, data: &[u8], filter: &Filter) -> OtherNodes {
        if !self.connected.load(Ordering::Relaxed) {
            return OtherNodes::Unreached;
        }
        let Some(payload) = self.envelope(topic, data, filter) else {
            return OtherNodes::Unreached;
        };
        match self.outbound.try_send(Outbound::Send(payload)) {
            Ok(()) => OtherNodes::Published,
            Err(_) => OtherNodes::Unreached,
        }
    }

    fn publish_ordered(
        &self,
        topic: &str,
        data: &[u8],
        filter: &Filter,
        retention: Option<Retention>,
    ) -> OtherNodes {
        let Some(payload) = self.envelope(topic, data, filter) else {
            return OtherNodes::Unreached;
        };
        let message = Outbound::Ordered {
            topic: topic.to_owned(),
            payload,
            retention,
        };
        match self.outbound.try_send(message) {
            Ok(()) => OtherNodes::Published,
            Err(_) => OtherNodes::Unreached,
        }
    }

    fn note_connect(&self, id: &str, sequence: u64, ttl: std::time::Duration) {
        let _ = self.outbound.try_send(Outbound::Connected {
            client: id.to_owned(),
            sequence,
            ttl,
        });
    }

    fn fetch(&self, request: FetchRequest) -> FetchAnswer {
        let (reply, answer) = tokio::sync::oneshot::channel();
        if self
            .outbound
            .try_send(Outbound::Fetch { request, reply })
            .is_err()
        {
            return Box::pin(async { None });
        }
        Box::pin(async move {
            tokio::time::timeout(pending::ANSWER_TIMEOUT, answer)
                .await
                .ok()
                .and_then(Result::ok)
                .flatten()
        })
    }

    fn flushed(&self) -> Flushed {
        let outbound = self.outbound.clone();
        Box::pin(async move {
            let (done, flushed) = oneshot::channel();
            // Behind everything queued so far; the queue may be full, so this waits its turn.
            if outbound.send(Outbound::Flush(done)).await.is_ok() {
                let _ = flushed.await;
            }
        })
    }

    fn node(&self) -> &str {
        &self.node
    }

    fn forward(&self, owner: &str, change: SubscriptionChange) -> Answer {
        let unreachable: Answer = Box::pin(async { Err(Refusal::OwnerUnreachable) });
        if !self.connected.load(Ordering::Relaxed) {
            return unreachable;
        }
        let Some((request, answer)) = self.pending.register() else {
            return unreachable;
        };
        let message = ToNode::Change {
            from: self.node.clone(),
            request,
            change,
        };
        let sent = serde_json::to_vec(&message).ok().is_some_and(|payload| {
            self.outbound
                .try_send(Outbound::Change {
                    owner: owner.to_owned(),
                    request,
                    payload,
                })
                .is_ok()
        });
        if !sent {
            self.pending.forget(request);
            return unreachable;
        }
        let pending = Arc::clone(&self.pending);
        Box::pin(async move { pending.answer(request, answer).await })
    }

    fn status(&self) -> EngineStatus {
        if self.connected.load(Ordering::Relaxed) {
            EngineStatus::Connected
        } else {
            EngineStatus::Disconnected
        }
    }
}
