//! Settings of a broker, and the builder that sets them.

use std::collections::HashMap;
use std::time::Duration;

use crate::auth::{Authenticator, Guests};
use crate::broker::Realtime;
use crate::broker::client::Client;
use crate::broker::engine::StartEngine;
use crate::broker::history::Retention;
use crate::broker::outbox;
use crate::channel::DuplicateChannel;
use crate::proxy::TrustedProxies;
use crate::wire::subscription::Subscription;

pub(crate) type ClientHook = Box<dyn Fn(&Client) + Send + Sync>;
pub(crate) type SubscribeHook = Box<dyn Fn(&Client, &Subscription) + Send + Sync>;

/// How streams behave. Defaults: a heartbeat every 20 s, no idle or maximum lifetime (the
/// heartbeat already reveals dead peers), 1024 queued messages and 1 MiB per client, frames of
/// busy topics held up to 80 ms to share writes, and the same-address check of PocketBase
/// ≥ 0.38.2.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) heartbeat: Option<Duration>,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) max_lifetime: Option<Duration>,
    pub(crate) queue_capacity: usize,
    pub(crate) queue_bytes: usize,
    pub(crate) max_write_delay: Duration,
    pub(crate) hold_above_cores: f64,
    pub(crate) check_remote_ip: bool,
    /// Whose forwarding headers name the client; none by default.
    pub(crate) trusted_proxies: TrustedProxies,
    /// The history every topic keeps unless set per topic.
    pub(crate) history: Option<Retention>,
    pub(crate) auth_cookie: String,
    pub(crate) secure_cookie: bool,
    pub(crate) serve: ServeLimits,
}

/// The limits and deadlines of [`Realtime::serve`](crate::Realtime::serve).
#[derive(Debug, Clone)]
pub(crate) struct ServeLimits {
    pub(crate) request_head_timeout: Duration,
    pub(crate) write_timeout: Option<Duration>,
    pub(crate) max_connections: usize,
    pub(crate) max_connections_per_ip: usize,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) direct_streams: bool,
}

/// Descriptors kept free of connections, for the application's files, database and logs.
const RESERVED_DESCRIPTORS: u64 = 64;

impl Default for ServeLimits {
    fn default() -> Self {
        let max_connections = default_max_connections();
        Self {
            request_head_timeout: Duration::from_secs(10),
            write_timeout: Some(Duration::from_secs(30)),
            max_connections,
            max_connections_per_ip: (max_connections / 4).max(1),
            shutdown_timeout: Duration::from_secs(5),
            direct_streams: true,
        }
    }
}

/// As many connections as the process may open descriptors, less a reserve: past that,
/// accepting fails anyway, and every other client is locked out until some close.
fn default_max_connections() -> usize {
    let (soft, _hard) =
        rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap_or((1024, rlimit::INFINITY));
    let usable = soft
        .saturating_sub(RESERVED_DESCRIPTORS)
        .max(RESERVED_DESCRIPTORS);
    usize::try_from(usable).unwrap_or(usize::MAX)
}

impl Default for Config {
    fn default() -> Self {
        Self {
            heartbeat: Some(Duration::from_secs(20)),
            idle_timeout: None,
            max_lifetime: None,
            queue_capacity: 1024,
            queue_bytes: DEFAULT_QUEUE_BYTES,
            history: None,
            max_write_delay: Duration::from_millis(80),
            hold_above_cores: 0.5,
            check_remote_ip: true,
            trusted_proxies: TrustedProxies::default(),
            auth_cookie: crate::auth::cookie::DEFAULT_COOKIE.to_owned(),
            secure_cookie: false,
            serve: ServeLimits::default(),
        }
    }
}

/// Bytes a client's queue may hold by default: Centrifugo's `client_queue_max_size`.
const DEFAULT_QUEUE_BYTES: usize = 1 << 20;

impl Config {
    /// What one client's queue may hold.
    pub(crate) fn queue_limits(&self) -> outbox::Limits {
        outbox::Limits {
            messages: self.queue_capacity,
            bytes: self.queue_bytes,
        }
    }
}

#[derive(Default)]
#[allow(
    clippy::struct_field_names,
    reason = "the hooks are named as the builder's methods"
)]
pub(crate) struct Hooks {
    pub(crate) on_connect: Option<ClientHook>,
    pub(crate) on_subscribe: Option<SubscribeHook>,
    pub(crate) on_disconnect: Option<ClientHook>,
}

/// Builds a [`Realtime`] broker.
///
/// ```
/// use std::time::Duration;
/// use axum_realtime::{JwtAuth, Realtime};
///
/// let rt = Realtime::builder()
///     .authenticator(JwtAuth::new(b"a secret of at least 32 bytes!!!"))
///     .heartbeat(Some(Duration::from_secs(15)))
///     .on_subscribe(|client, sub| {
///         if let Some(room) = sub.options().query.get("roomId") {
///             client.set("roomId", room.clone());
///         }
///     })
///     .build();
/// # drop(rt);
/// ```
#[must_use]
pub struct Builder {
    pub(crate) config: Config,
    pub(crate) authenticator: Box<dyn Authenticator>,
    pub(crate) hooks: Hooks,
    /// A distributed engine, started with the broker; `None` in-process.
    pub(crate) engine: Option<Box<dyn StartEngine>>,
    /// The history of topics set one by one.
    pub(crate) history_for: HashMap<String, Retention>,
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            config: Config::default(),
            authenticator: Box::new(Guests),
            hooks: Hooks::default(),
            engine: None,
            history_for: HashMap::new(),
        }
    }
}

impl Builder {
    /// How requests' tokens become auth records. Without one, everyone is a guest.
    pub fn authenticator(mut self, authenticator: impl Authenticator) -> Self {
        self.authenticator = Box::new(authenticator);
        self
    }

    /// How often a quiet stream gets a heartbeat comment; `None` turns heartbeats off.
    pub fn heartbeat(mut self, every: Option<Duration>) -> Self {
        self.config.heartbeat = every;
        self
    }

    /// Ends a stream that had no message for this long (heartbeats do not count); clients
    /// reconnect. PocketBase uses 5 minutes.
    pub fn idle_timeout(mut self, after: Option<Duration>) -> Self {
        self.config.idle_timeout = after;
        self
    }

    /// Ends every stream after this long; clients reconnect. PocketBase uses 30 minutes.
    pub fn max_lifetime(mut self, after: Option<Duration>) -> Self {
        self.config.max_lifetime = after;
        self
    }

    /// How many messages may wait for one client. A client that falls further behind is
    /// disconnected rather than allowed to slow anyone else or hold memory without bound.
    pub fn queue_capacity(mut self, messages: usize) -> Self {
        self.config.queue_capacity = messages.max(1);
        self
    }

    /// How many bytes of messages may wait for one client (default 1 MiB, as Centrifugo's
    /// `client_queue_max_size`); a client whose backlog would grow past it is disconnected,
    /// as one past [`queue_capacity`](Self::queue_capacity). Every queued message counts in
    /// full, even where one frame is shared by many clients, so the queue holds at most
    /// `bytes`, or a single message larger than that (which still reaches a reader that keeps
    /// up): a client's memory is bounded by `bytes` plus one message, besides the write in
    /// progress and the socket's own buffers. `usize::MAX` leaves only the message count.
    pub fn queue_bytes(mut self, bytes: usize) -> Self {
        self.config.queue_bytes = bytes;
        self
    }

    /// The longest a message may be held back so that it shares one write with the messages
    /// after it (default 80 ms). Most of a delivery's cost is the write itself (a system call
    /// and a TCP segment, and a read for the client), so under sustained load sharing writes
    /// raises throughput several times. A message is held only while the server is busy
    /// ([`Builder::hold_above_cores`]), its topic is sent to more often than this, and the
    /// topic's clients are falling behind (its recent sends found more than a quarter of them
    /// with messages still queued); then for this long, or until 16 messages or 32 KiB wait
    /// for the client's stream, whichever comes first. Otherwise it is written at once. Set
    /// `Duration::ZERO` to write every message at once.
    pub fn max_write_delay(mut self, delay: Duration) -> Self {
        self.config.max_write_delay = delay;
        self
    }

    /// How busy the server must be before frames are held at all (default half a core): a
    /// frame of a busy topic may wait for company ([`Builder::max_write_delay`]) only while the
    /// process used more than `cores` of CPU over the last 20 ms. Below that, sharing writes
    /// saves nothing anyone waits for, and every frame is written at once. `0.0` holds on a
    /// topic's pace and its clients' backlog alone; `f64::INFINITY` never holds.
    pub fn hold_above_cores(mut self, cores: f64) -> Self {
        self.config.hold_above_cores = if cores.is_nan() { 0.5 } else { cores.max(0.0) };
        self
    }

    /// Whether a `POST /api/realtime` must come from the address that opened the stream
    /// (PocketBase ≥ 0.38.2 checks this). On by default; it needs the server started with
    /// [`Realtime::serve`](crate::Realtime::serve) (or axum's `into_make_service_with_connect_info`), and is
    /// skipped without it.
    pub fn check_remote_ip(mut self, check: bool) -> Self {
        self.config.check_remote_ip = check;
        self
    }

    /// The reverse proxies whose forwarding header names the client (none by default: the
    /// client is the socket peer). It decides [`Client::remote_ip`], the address
    /// [`check_remote_ip`](Self::check_remote_ip) compares, and the address
    /// [`max_connections_per_ip`](Self::max_connections_per_ip) counts; see
    /// [`TrustedProxies`].
    ///
    /// ```
    /// # fn main() -> Result<(), axum_realtime::TrustedProxyError> {
    /// use axum_realtime::{Realtime, TrustedProxies};
    ///
    /// let rt = Realtime::builder()
    ///     .trusted_proxies(TrustedProxies::new(["127.0.0.1", "::1"])?)
    ///     .build();
    /// # drop(rt);
    /// # Ok(())
    /// # }
    /// ```
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.config.trusted_proxies = proxies;
        self
    }

    /// The name of the auth cookie (default `realtime_auth`): a same-origin request without
    /// `Authorization` is authenticated by the token in it. Set it with
    /// [`Realtime::auth_cookie`].
    pub fn auth_cookie(mut self, name: impl Into<String>) -> Self {
        self.config.auth_cookie = name.into();
        self
    }

    /// Marks the auth cookie `Secure` (sent over HTTPS only). Turn it on when serving HTTPS.
    pub fn secure_cookie(mut self, secure: bool) -> Self {
        self.config.secure_cookie = secure;
        self
    }

    /// How long a client has to send a whole request head, from the moment its connection
    /// opens or its previous response was written (default 10 s): a slow or half-sent head is
    /// closed, and so is a keep-alive connection idle for this long. Applies to
    /// [`Realtime::serve`](crate::Realtime::serve).
    pub fn request_head_timeout(mut self, timeout: Duration) -> Self {
        self.config.serve.request_head_timeout = timeout;
        self
    }

    /// How long a write may make no progress before the connection is cut (default 30 s): a
    /// client that stops reading is cut even when too little is sent to it to fill its queue.
    /// `None` waits for ever. Applies to [`Realtime::serve`](crate::Realtime::serve).
    pub fn write_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.serve.write_timeout = timeout;
        self
    }

    /// The most connections [`Realtime::serve`](crate::Realtime::serve) keeps open; more are
    /// closed as they arrive. Default: the process's open-file limit (`ulimit -n`) less 64.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.config.serve.max_connections = connections.max(1);
        self
    }

    /// The most connections [`Realtime::serve`](crate::Realtime::serve) keeps open from one
    /// client address; more are closed as they arrive, so that one address cannot take every
    /// descriptor. Default: a quarter of [`Builder::max_connections`]'s default. Behind a
    /// reverse proxy every connection comes from the proxy's address: list the proxy in
    /// [`Builder::trusted_proxies`], whose connections are not held to this limit; the
    /// streams of each client it names are, on any server (more are answered with a 429).
    pub fn max_connections_per_ip(mut self, connections: usize) -> Self {
        self.config.serve.max_connections_per_ip = connections.max(1);
        self
    }

    /// How long a graceful shutdown waits for requests in flight (default 5 s) before it cuts
    /// every connection that is left. Open streams end at once.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.config.serve.shutdown_timeout = timeout;
        self
    }

    /// Whether [`Realtime::serve`](crate::Realtime::serve) writes the event streams the router
    /// accepts to their sockets itself (default), or leaves them to hyper. Either way the
    /// router, with its layers, answers the stream request; written directly, a stream holds
    /// no HTTP buffers (about 5 KiB per idle stream instead of ~20 KiB), but layers that wrap
    /// the response body never see its body.
    pub fn direct_streams(mut self, direct: bool) -> Self {
        self.config.serve.direct_streams = direct;
        self
    }

    /// Runs when a stream opens, before its `PB_CONNECT` is written.
    pub fn on_connect(mut self, hook: impl Fn(&Client) + Send + Sync + 'static) -> Self {
        self.hooks.on_connect = Some(Box::new(hook));
        self
    }

    /// Runs for each key a `POST /api/realtime` adds to a client, before the key receives
    /// anything: the place to copy options (such as `options.query.roomId`) onto the client.
    pub fn on_subscribe(
        mut self,
        hook: impl Fn(&Client, &Subscription) + Send + Sync + 'static,
    ) -> Self {
        self.hooks.on_subscribe = Some(Box::new(hook));
        self
    }

    /// Keeps the last `count` sends of every topic, each for at most `ttl`, so that a client
    /// that reconnects with `Last-Event-ID` gets what it missed (see [`Builder::history_for`]
    /// for one topic). Off by default. While any topic keeps a history, sends are queued one
    /// at a time (their writes stay parallel), so every client receives them in the order of
    /// their positions.
    pub fn history(mut self, count: usize, ttl: Duration) -> Self {
        self.config.history = Some(Retention { count, ttl });
        self
    }

    /// Keeps the last `count` sends of `topic`, each for at most `ttl`; `count` 0 keeps none
    /// (overriding [`Builder::history`] for this topic).
    pub fn history_for(mut self, topic: impl Into<String>, count: usize, ttl: Duration) -> Self {
        self.history_for
            .insert(topic.into(), Retention { count, ttl });
        self
    }

    /// Runs once when a client is gone: its stream ended, or the server disconnected it.
    pub fn on_disconnect(mut self, hook: impl Fn(&Client) + Send + Sync + 'static) -> Self {
        self.hooks.on_disconnect = Some(Box::new(hook));
        self
    }

    /// The broker.
    ///
    /// # Panics
    ///
    /// Panics if two types declare the same channel name (see [`Builder::try_build`]): a
    /// programming error, refused at start-up rather than left to mix payloads on the wire.
    #[must_use]
    pub fn build(self) -> Realtime {
        match self.try_build() {
            Ok(rt) => rt,
            Err(err) => panic!("realtime: {err}"),
        }
    }

    /// The broker, or why the program's channels cannot be served.
    ///
    /// # Errors
    ///
    /// [`DuplicateChannel`] if two types declare the same channel name.
    pub fn try_build(self) -> Result<Realtime, DuplicateChannel> {
        crate::channel::check_unique(crate::channel::channels())?;
        Ok(Realtime::from_builder(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_is_bounded_in_messages_and_bytes() {
        let default = Builder::default().config.queue_limits();
        assert_eq!((default.messages, default.bytes), (1024, 1 << 20));
        let set = Builder::default()
            .queue_capacity(8)
            .queue_bytes(4096)
            .config
            .queue_limits();
        assert_eq!((set.messages, set.bytes), (8, 4096));
    }
}
