//! The engine's thread: two Redis connections (one publishes, one listens), the task that
//! publishes what the broker queued, and the one that handles what other nodes sent.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use fred::clients::{Client, SubscriberClient};
use fred::interfaces::{ClientLike, EventInterface, KeysInterface, LuaInterface, PubsubInterface};
use fred::types::Builder as RedisBuilder;
use fred::types::config::{Config, ReconnectPolicy};
use fred::types::{ClusterHash, CustomCommand, Expiration};
use fred::types::{Message, Value};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{mpsc, oneshot};

use super::envelope::{self, ToNode};
use super::pending::Pending;
use super::scripts;
use crate::broker::Shared;
use crate::broker::engine::{FetchRequest, Fetched, FetchedSend, Refusal};
use crate::broker::history::Retention;
use crate::wire::position::Position;

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
    /// A send in the application's one order, kept in `topic`'s history per `retention`.
    Ordered {
        topic: String,
        payload: Vec<u8>,
        retention: Option<Retention>,
    },
    /// Where a client connected, for another node to resume it from its old id.
    Connected {
        client: String,
        sequence: u64,
        ttl: Duration,
    },
    /// A read of the history for a reconnecting client.
    Fetch {
        request: FetchRequest,
        reply: oneshot::Sender<Option<Fetched>>,
    },
    /// Answered once everything queued before it has been published or given up on.
    Flush(oneshot::Sender<()>),
}

/// The Redis channels and keys a node uses.
pub(super) struct Channels {
    prefix: String,
    /// Used as the epoch if Redis holds none yet.
    candidate_epoch: String,
    /// Every node listens here for sends.
    sends: String,
    /// Only this node listens here.
    own: String,
}

impl Channels {
    pub(super) fn new(prefix: &str, node: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
            candidate_epoch: crate::wire::client_id::ClientId::random().as_str()[..8].to_owned(),
            sends: format!("{prefix}:sends"),
            own: format!("{prefix}:node:{node}"),
        }
    }

    fn of_node(&self, node: &str) -> String {
        format!("{}:node:{node}", self.prefix)
    }

    fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.prefix)
    }

    fn history_of(&self, topic: &str) -> String {
        format!("{}:history:{topic}", self.prefix)
    }

    fn connected(&self, client: &str) -> String {
        format!("{}:connected:{client}", self.prefix)
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
            publisher.clone(),
            [self.channels.sends.clone(), self.channels.own.clone()],
            [self.channels.key("epoch"), self.channels.key("seq")],
            self.broker.clone(),
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
        // Reads of the history wait on their own, not in the order of sends.
        for message in batch.extract_if(.., |m| matches!(m, Outbound::Fetch { .. })) {
            if let Outbound::Fetch { request, reply } = message {
                let (publisher, keys) = (publisher.clone(), self.fetch_keys(&request));
                tokio::spawn(async move {
                    let _ = reply.send(fetch(&publisher, keys, &request).await);
                });
            }
        }
        // Answered once what came before them in the batch is published, or given up on.
        let flushes: Vec<Outbound> = batch
            .extract_if(.., |m| matches!(m, Outbound::Flush(_)))
            .collect();
        self.publish_commands(publisher, batch).await;
        for flush in flushes {
            if let Outbound::Flush(done) = flush {
                let _ = done.send(());
            }
        }
    }

    /// Publishes the batch's commands in one pipeline, in order.
    async fn publish_commands(&self, publisher: &Client, batch: &mut Vec<Outbound>) {
        if batch.is_empty() {
            return;
        }
        let pipeline = publisher.pipeline();
        for message in batch.iter() {
            if let Err(error) = self.queue(&pipeline, message).await {
                tracing::warn!(%error, "cannot queue a command for Redis");
            }
        }
        match pipeline.all::<Vec<Value>>().await {
            Ok(results) => {
                for (message, result) in batch.iter().zip(results) {
                    // Nobody listens on the owner's channel: no node has that tag, so no
                    // client has that id.
                    if let Outbound::Change { request, .. } = message
                        && result.as_i64() == Some(0)
                    {
                        self.pending.complete(*request, Err(Refusal::UnknownClient));
                    }
                }
            }
            Err(error) => {
                tracing::warn!(%error, "publishing to Redis failed");
                self.give_up(batch, "publishing to Redis failed");
            }
        }
    }

    /// Adds the command `message` stands for to `pipeline`.
    async fn queue(
        &self,
        pipeline: &fred::clients::Pipeline<Client>,
        message: &Outbound,
    ) -> Result<(), fred::error::Error> {
        match message {
            Outbound::Send(payload) => {
                pipeline
                    .publish(self.channels.sends.clone(), bytes(payload))
                    .await
            }
            Outbound::Change { owner, payload, .. } => {
                pipeline
                    .publish(self.channels.of_node(owner), bytes(payload))
                    .await
            }
            Outbound::Answer { to, payload } => {
                pipeline
                    .publish(self.channels.of_node(to), bytes(payload))
                    .await
            }
            Outbound::Ordered {
                topic,
                payload,
                retention,
            } => {
                let channels = &self.channels;
                let keys = vec![
                    channels.key("seq"),
                    channels.key("epoch"),
                    channels.history_of(topic),
                    channels.key("trimmed"),
                    channels.key("last"),
                ];
                let (count, ttl) = retention.map_or((0, 0), |r| (r.count, r.ttl.as_millis()));
                let args: Vec<Value> = vec![
                    channels.candidate_epoch.clone().into(),
                    bytes(payload),
                    count.to_string().into(),
                    ttl.max(1).to_string().into(),
                    channels.sends.clone().into(),
                    topic.clone().into(),
                ];
                // EVAL by hand: fred's pipelines carry no scripting interface.
                let mut command: Vec<Value> =
                    vec![scripts::SEND.into(), keys.len().to_string().into()];
                command.extend(keys.into_iter().map(Value::from));
                command.extend(args);
                pipeline
                    .custom(
                        CustomCommand::new("EVAL", ClusterHash::FirstKey, false),
                        command,
                    )
                    .await
            }
            Outbound::Connected {
                client,
                sequence,
                ttl,
            } => {
                let ttl = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1);
                pipeline
                    .set(
                        self.channels.connected(client),
                        sequence.to_string(),
                        Some(Expiration::PX(ttl)),
                        None,
                        false,
                    )
                    .await
            }
            Outbound::Fetch { .. } | Outbound::Flush(_) => Ok(()),
        }
    }

    /// The keys the history read of `request` touches, in the script's order.
    fn fetch_keys(&self, request: &FetchRequest) -> Vec<String> {
        let channels = &self.channels;
        let mut keys = vec![
            channels.key("epoch"),
            channels.key("trimmed"),
            channels.key("last"),
            channels.connected(request.connected.as_deref().unwrap_or("-")),
        ];
        keys.extend(
            request
                .topics
                .iter()
                .map(|(topic, _)| channels.history_of(topic)),
        );
        keys
    }

    fn give_up(&self, batch: &mut Vec<Outbound>, why: &str) {
        let mut sends = 0usize;
        for message in batch.drain(..) {
            match message {
                Outbound::Send(_) | Outbound::Ordered { .. } => sends += 1,
                Outbound::Change { request, .. } => self.pending.complete(
                    request,
                    Err(crate::broker::engine::Refusal::OwnerUnreachable),
                ),
                Outbound::Fetch { reply, .. } => {
                    let _ = reply.send(None);
                }
                Outbound::Flush(done) => {
                    let _ = done.send(());
                }
                Outbound::Answer { .. } | Outbound::Connected { .. } => {}
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
    publisher: Client,
    channels: [String; 2],
    order_keys: [String; 2],
    broker: Weak<Shared>,
    listening: Arc<AtomicBool>,
) {
    let mut reconnects = subscriber.reconnect_rx();
    loop {
        while subscriber.subscribe(channels.to_vec()).await.is_err() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Where the order of sends stands, now that nothing after it can be missed.
        let order: Result<Vec<Option<String>>, _> = publisher.mget(order_keys.to_vec()).await;
        if let (Ok(order), Some(broker)) = (order, broker.upgrade()) {
            match <[Option<String>; 2]>::try_from(order) {
                Ok([Some(epoch), Some(sequence)]) => {
                    if let Ok(sequence) = sequence.parse() {
                        broker.join_order(&epoch, sequence);
                    }
                }
                // No order in Redis (a fresh one, or one that lost its data): whatever this
                // node kept belongs to no order any more.
                Ok([None, _]) => broker.join_order("", 0),
                _ => {}
            }
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

/// A send from another node, for this node's clients; or, numbered (`P <epoch> <sequence>
/// <send>`), a send in the application's one order, from any node, this one included.
fn deliver(broker: &Shared, bytes: &[u8]) {
    if let Some(ordered) = bytes.strip_prefix(b"P ") {
        deliver_ordered(broker, ordered);
        return;
    }
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
        None,
    );
}

fn deliver_ordered(broker: &Shared, bytes: &[u8]) {
    let mut parts = bytes.splitn(3, |&b| b == b' ');
    let (Some(epoch), Some(sequence), Some(send)) = (parts.next(), parts.next(), parts.next())
    else {
        tracing::warn!("ignoring a malformed numbered send from Redis");
        return;
    };
    let (Ok(epoch), Some(sequence)) = (
        std::str::from_utf8(epoch),
        std::str::from_utf8(sequence)
            .ok()
            .and_then(|s| s.parse().ok()),
    ) else {
        tracing::warn!("ignoring a numbered send with a malformed position");
        return;
    };
    let send: envelope::Send<'_> = match serde_json::from_slice(send) {
        Ok(send) => send,
        Err(error) => {
            tracing::warn!(%error, "ignoring a malformed send from Redis");
            return;
        }
    };
    broker.deliver_ordered(
        Position { epoch, sequence },
        &send.topic,
        send.data.get().as_bytes(),
        &send.filter,
    );
}

/// A message to this node: a change to apply to one of its clients, or the answer to one it
/// forwarded.
fn answer(
    broker: &Arc<Shared>,
    bytes: &[u8],
    answers: &mpsc::WeakSender<Outbound>,
    pending: &Pending,
) {
    match serde_json::from_slice::<ToNode>(bytes) {
        Ok(ToNode::Change {
            from,
            request,
            change,
        }) => {
            // It may first read the history from Redis: answered from its own task.
            let (broker, answers) = (Arc::clone(broker), answers.clone());
            tokio::spawn(async move {
                let outcome = broker.change_here(change).await;
                let reply = ToNode::Answer { request, outcome };
                if let (Some(answers), Ok(payload)) =
                    (answers.upgrade(), serde_json::to_vec(&reply))
                    && answers
                        .try_send(Outbound::Answer { to: from, payload })
                        .is_err()
                {
                    tracing::warn!(
                        "cannot answer another node's subscription request: the Redis queue is full"
                    );
                }
            });
        }
        Ok(ToNode::Answer { request, outcome }) => pending.complete(request, outcome),
        Err(error) => tracing::warn!(%error, "ignoring a malformed message from Redis"),
    }
}

fn bytes(payload: &[u8]) -> Value {
    Value::Bytes(payload.to_vec().into())
}

/// Reads from the history what a reconnecting client missed (one script, one round trip).
async fn fetch(publisher: &Client, keys: Vec<String>, request: &FetchRequest) -> Option<Fetched> {
    let after = request
        .after
        .map_or_else(|| "-1".to_owned(), |after| after.to_string());
    let mut args: Vec<Value> = vec![after.into(), request.topics.len().to_string().into()];
    for (topic, retention) in &request.topics {
        args.push(topic.clone().into());
        args.push(retention.ttl.as_millis().to_string().into());
    }
    let reply: Vec<Value> = match publisher.eval(scripts::FETCH, keys, args).await {
        Ok(reply) => reply,
        Err(error) => {
            tracing::warn!(%error, "cannot read the history from Redis");
            return None;
        }
    };
    parse_fetched(reply)
}

/// `[epoch, position, topic, status, [sequence, send, ...], ...]`.
fn parse_fetched(reply: Vec<Value>) -> Option<Fetched> {
    let mut reply = reply.into_iter();
    let epoch = reply.next()?.as_string()?;
    let after: i64 = reply.next()?.as_string()?.parse().ok()?;
    let after = u64::try_from(after).ok()?; // no position for that old client id
    let mut topics = std::collections::HashMap::new();
    while let (Some(topic), Some(status), Some(found)) = (reply.next(), reply.next(), reply.next())
    {
        let topic = topic.as_string()?;
        let sends = if status.as_str().as_deref() == Some("ok") {
            let found: Vec<Value> = found.into_array();
            let mut sends = Vec::with_capacity(found.len() / 2);
            for pair in found.chunks(2) {
                let [sequence, send] = pair else { return None };
                let sequence: u64 = sequence.as_string()?.parse().ok()?;
                let raw = send.as_bytes()?;
                let send: envelope::Send<'_> = serde_json::from_slice(raw).ok()?;
                sends.push(FetchedSend {
                    sequence,
                    data: bytes::Bytes::copy_from_slice(send.data.get().as_bytes()),
                    filter: send.filter,
                });
            }
            Some(sends)
        } else {
            None
        };
        topics.insert(topic, sends);
    }
    Some(Fetched {
        epoch,
        after,
        topics,
    })
}
