//! The engine's thread: two Redis connections (one publishes, one listens), the task that
//! publishes what the broker queued, and the one that handles what other nodes sent.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use fred::clients::{Client, SubscriberClient};
use fred::interfaces::{ClientLike, EventInterface, PubsubInterface};
use fred::types::Builder as RedisBuilder;
use fred::types::config::{Config, ReconnectPolicy};
use fred::types::{Message, Value};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use super::envelope::{self, ToNode};
use super::pending::Pending;
use crate::broker::Shared;

/// What the broker's side hands the engine's thread.
pub(super) enum Outbound {
    /// A send, for every node.
    Send(Vec<u8>),
    /// A subscription change for the client of node `owner`.
    Change {
        owner: String,
        request: u64,
        payload: Vec<u8>,
    },
    /// This node's answer to a change node `to` forwarded.
    Answer { to: String, payload: Vec<u8> },
}

/// The Redis channels a node uses.
pub(super) struct Channels {
    prefix: String,
    /// Every node listens here for sends.
    sends: String,
    /// Only this node listens here.
    own: String,
}

impl Channels {
    pub(super) fn new(prefix: &str, node: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
            sends: format!("{prefix}:sends"),
            own: format!("{prefix}:node:{node}"),
        }
    }

    fn of_node(&self, node: &str) -> String {
        format!("{}:node:{node}", self.prefix)
    }
}

pub(super) struct Node {
    pub(super) config: Config,
    pub(super) channels: Channels,
    pub(super) broker: Weak<Shared>,
    pub(super) queue: mpsc::Receiver<Outbound>,
    /// For answers to other nodes: weak, so the queue closes when the broker is gone.
    pub(super) answers: mpsc::WeakSender<Outbound>,
    pub(super) connected: Arc<AtomicBool>,
    pub(super) pending: Arc<Pending>,
}

/// The most messages published in one pipeline (one round trip).
const MAX_PIPELINE: usize = 512;

/// How long a publish may take before the engine gives up on it.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

/// How often the engine's status is refreshed from its connections' states.
const STATUS_EVERY: Duration = Duration::from_millis(50);

/// Pub/sub messages buffered between fred's connection task and ours.
const INBOUND_BUFFER: usize = 16_384;

pub(super) fn spawn(node: Node) {
    let spawned = std::thread::Builder::new()
        .name("realtime-redis".to_owned())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    tracing::error!(%error, "cannot start the Redis engine's runtime");
                    return;
                }
            };
            runtime.block_on(node.run());
        });
    if let Err(error) = spawned {
        tracing::error!(%error, "cannot start the Redis engine's thread");
    }
}

impl Node {
    async fn run(self) {
        let (publisher, subscriber) = match self.clients() {
            Ok(clients) => clients,
            Err(error) => {
                tracing::error!(%error, "cannot configure the Redis engine");
                return;
            }
        };
        let _connection = publisher.connect();
        let _subscriber_connection = subscriber.connect();
        let inbound = subscriber.message_rx();
        let listening = Arc::new(AtomicBool::new(false));
        tokio::spawn(stay_subscribed(
            subscriber.clone(),
            [self.channels.sends.clone(), self.channels.own.clone()],
            Arc::clone(&listening),
        ));
        tokio::spawn(keep_status(
            publisher.clone(),
            subscriber.clone(),
            listening,
            Arc::clone(&self.connected),
        ));
        tokio::spawn(receive(
            inbound,
            self.broker.clone(),
            self.answers.clone(),
            Arc::clone(&self.pending),
            self.channels.sends.clone(),
        ));
        self.publish_queued(&publisher).await;
        // The broker is gone.
        let _ = publisher.quit().await;
        let _ = subscriber.quit().await;
    }

    fn clients(&self) -> Result<(Client, SubscriberClient), fred::error::Error> {
        let mut config = self.config.clone();
        // Redis down at start is a reason to retry, not to fail.
        config.fail_fast = false;
        let mut builder = RedisBuilder::from_config(config);
        builder
            .with_connection_config(|connection| {
                // A publish retried after a lost reply could reach other nodes twice.
                connection.max_command_attempts = 1;
                connection.connection_timeout = Duration::from_secs(2);
                connection.internal_command_timeout = Duration::from_secs(2);
            })
            .with_performance_config(|performance| {
                performance.default_command_timeout = COMMAND_TIMEOUT;
                performance.broadcast_channel_capacity = INBOUND_BUFFER;
            })
            // Forever, from 100 ms doubling to 5 s.
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 5_000, 2));
        Ok((builder.build()?, builder.build_subscriber_client()?))
    }

    /// Publishes what the broker queued, in order, as many at a time as are waiting, until the
    /// broker is gone.
    async fn publish_queued(mut self, publisher: &Client) {
        let mut batch = Vec::with_capacity(MAX_PIPELINE);
        while self.queue.recv_many(&mut batch, MAX_PIPELINE).await > 0 {
            if publisher.is_connected() {
                self.publish(publisher, &mut batch).await;
            } else {
                self.give_up(&mut batch, "Redis is disconnected");
            }
            batch.clear();
        }
    }

    async fn publish(&self, publisher: &Client, batch: &mut Vec<Outbound>) {
        let pipeline = publisher.pipeline();
        for message in batch.iter() {
            let (channel, payload) = match message {
                Outbound::Send(payload) => (self.channels.sends.clone(), payload),
                Outbound::Change { owner, payload, .. } => (self.channels.of_node(owner), payload),
                Outbound::Answer { to, payload } => (self.channels.of_node(to), payload),
            };
            let queued: Result<(), _> = pipeline
                .publish(channel, Value::Bytes(payload.clone().into()))
                .await;
            if let Err(error) = queued {
                tracing::warn!(%error, "cannot queue a publish for Redis");
            }
        }
        match pipeline.all::<Vec<i64>>().await {
            Ok(receivers) => {
                for (message, receivers) in batch.iter().zip(receivers) {
                    // Nobody listens on the owner's channel: no node has that tag, so no
                    // client has that id.
                    if let Outbound::Change { request, .. } = message
                        && receivers == 0
                    {
                        self.pending
                            .complete(*request, Err(crate::broker::engine::Refusal::UnknownClient));
                    }
                }
            }
            Err(error) => {
                tracing::warn!(%error, "publishing to Redis failed");
                self.give_up(batch, "publishing to Redis failed");
            }
        }
    }

    fn give_up(&self, batch: &mut Vec<Outbound>, why: &str) {
        let mut sends = 0usize;
        for message in batch.drain(..) {
            match message {
                Outbound::Send(_) => sends += 1,
                Outbound::Change { request, .. } => self.pending.complete(
                    request,
                    Err(crate::broker::engine::Refusal::OwnerUnreachable),
                ),
                Outbound::Answer { .. } => {}
            }
        }
        if sends > 0 {
            tracing::warn!(sends, "{why}: these sends reached this node's clients only");
        }
    }
}

/// Subscribes to the node's channels on every connection the listening client makes: a
/// reconnect starts without subscriptions, and the node counts as connected only once they
/// are back.
async fn stay_subscribed(
    subscriber: SubscriberClient,
    channels: [String; 2],
    listening: Arc<AtomicBool>,
) {
    let mut reconnects = subscriber.reconnect_rx();
    loop {
        while subscriber.subscribe(channels.to_vec()).await.is_err() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        listening.store(true, Ordering::Relaxed);
        // Several reconnects missed while busy are one reason to subscribe again.
        loop {
            match reconnects.recv().await {
                Ok(_) => break,
                Err(RecvError::Closed) => return,
                Err(RecvError::Lagged(_)) => {}
            }
        }
        listening.store(false, Ordering::Relaxed);
    }
}

/// Keeps `connected` true only while both connections are up and listening.
async fn keep_status(
    publisher: Client,
    subscriber: SubscriberClient,
    listening: Arc<AtomicBool>,
    connected: Arc<AtomicBool>,
) {
    let mut every = tokio::time::interval(STATUS_EVERY);
    loop {
        every.tick().await;
        let up = publisher.is_connected()
            && subscriber.is_connected()
            && listening.load(Ordering::Relaxed);
        if connected.swap(up, Ordering::Relaxed) != up {
            if up {
                tracing::info!("the Redis engine is connected: sends reach every node");
            } else {
                tracing::warn!("the Redis engine is disconnected: sends reach this node only");
            }
        }
    }
}

/// Handles what other nodes sent, in the order Redis delivered it.
async fn receive(
    mut inbound: tokio::sync::broadcast::Receiver<Message>,
    broker: Weak<Shared>,
    answers: mpsc::WeakSender<Outbound>,
    pending: Arc<Pending>,
    sends: String,
) {
    loop {
        let message = match inbound.recv().await {
            Ok(message) => message,
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(
                    missed,
                    "the Redis engine fell behind and lost messages from other nodes"
                );
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        let Some(broker) = broker.upgrade() else {
            return;
        };
        let Some(bytes) = message.value.as_bytes() else {
            continue;
        };
        if *message.channel == *sends {
            deliver(&broker, bytes);
        } else {
            answer(&broker, bytes, &answers, &pending);
        }
    }
}

/// A send from another node, for this node's clients.
fn deliver(broker: &Shared, bytes: &[u8]) {
    let send: envelope::Send<'_> = match serde_json::from_slice(bytes) {
        Ok(send) => send,
        Err(error) => {
            tracing::warn!(%error, "ignoring a malformed send from Redis");
            return;
        }
    };
    if broker
        .engine()
        .is_some_and(|engine| engine.node() == send.node)
    {
        return; // ours, delivered here when it was sent
    }
    let check = send.filter.check();
    let _ = broker.fan_out(
        &send.topic,
        send.data.get().as_bytes(),
        |_, client| check.accepts(client),
        Some(&send.filter),
    );
}

/// A message to this node: a change to apply to one of its clients, or the answer to one it
/// forwarded.
fn answer(broker: &Shared, bytes: &[u8], answers: &mpsc::WeakSender<Outbound>, pending: &Pending) {
    match serde_json::from_slice::<ToNode>(bytes) {
        Ok(ToNode::Change {
            from,
            request,
            change,
        }) => {
            let outcome = broker.change_subscriptions(change);
            let reply = ToNode::Answer { request, outcome };
            if let (Some(answers), Ok(payload)) = (answers.upgrade(), serde_json::to_vec(&reply))
                && answers
                    .try_send(Outbound::Answer { to: from, payload })
                    .is_err()
            {
                tracing::warn!(
                    "cannot answer another node's subscription request: the Redis queue is full"
                );
            }
        }
        Ok(ToNode::Answer { request, outcome }) => pending.complete(request, outcome),
        Err(error) => tracing::warn!(%error, "ignoring a malformed message from Redis"),
    }
}
