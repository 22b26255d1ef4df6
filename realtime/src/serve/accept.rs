//! The accept loop: admits connections within the limits, spawns a task for each, and on
//! shutdown ends them all within a bounded time.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::TokioTimer;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use super::connection::Connection;
use super::{direct, http1};
use crate::abort::Abort;
use crate::broker::Realtime;
use crate::handoff::{Handoff, Peer};

/// Where the server is in its life; connections follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Running,
    /// No new connections; finish what is in flight.
    Draining,
}

/// What every connection task of one server shares.
pub(super) struct ServeContext {
    pub(super) rt: Realtime,
    pub(super) router: Router,
    pub(super) http1: hyper::server::conn::http1::Builder,
    pub(super) direct_streams: bool,
    pub(super) phase: watch::Sender<Phase>,
    write_timeout: Option<Duration>,
    shutdown_timeout: Duration,
    connections: Arc<Connections>,
}

impl ServeContext {
    pub(super) fn new(rt: Realtime, router: Router) -> Arc<Self> {
        let config = &rt.shared().config.serve;
        let mut http1 = hyper::server::conn::http1::Builder::new();
        // Hyper restarts this timer whenever a connection waits for a request head, so it is
        // both the head deadline and the idle keep-alive deadline.
        http1
            .timer(TokioTimer::new())
            .header_read_timeout(config.request_head_timeout);
        Arc::new(Self {
            router,
            http1,
            direct_streams: config.direct_streams,
            phase: watch::Sender::new(Phase::Running),
            write_timeout: config.write_timeout,
            shutdown_timeout: config.shutdown_timeout,
            connections: Arc::new(Connections::new(
                config.max_connections,
                config.max_connections_per_ip,
            )),
            rt,
        })
    }

    /// Accepts connections until `signal`, then shuts down.
    pub(super) async fn run(
        self: Arc<Self>,
        listener: TcpListener,
        signal: impl Future<Output = ()>,
    ) -> io::Result<()> {
        let mut signal = std::pin::pin!(signal);
        let mut last_warning = None;
        loop {
            tokio::select! {
                () = &mut signal => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, addr)) => self.admit(stream, addr),
                    Err(err) if is_connection_error(&err) => {}
                    Err(err) => {
                        // Out of file descriptors, most likely: wait for some to be freed.
                        if warn_now(&mut last_warning) {
                            tracing::error!("accept failed, retrying: {err}");
                        }
                        tokio::select! {
                            () = &mut signal => break,
                            () = tokio::time::sleep(Duration::from_millis(100)) => {}
                        }
                    }
                },
            }
        }
        drop(listener);
        self.shut_down().await;
        Ok(())
    }

    fn admit(self: &Arc<Self>, stream: TcpStream, addr: SocketAddr) {
        let abort = Abort::default();
        let conn = Connection::new(stream, abort.clone(), self.write_timeout);
        let Some(admission) =
            Connections::admit(&self.connections, addr.ip(), &abort, conn.handoff())
        else {
            return; // dropping the socket closes it
        };
        // Events are small and latency matters more than packet count.
        let _ = conn.set_nodelay();
        let context = Arc::clone(self);
        tokio::spawn(async move {
            let taken = http1::serve(conn, Peer::new(addr, abort), &context).await;
            drop(context);
            if let Some((conn, stream, headers)) = taken {
                // A task of its own: the stream's lifetime keeps only what it needs.
                tokio::spawn(async move {
                    let _admission = admission;
                    direct::serve(conn, stream, headers).await;
                });
            }
        });
    }

    /// Ends every connection: idle ones and those that never sent a whole request at once,
    /// streams after what they have queued, requests in flight when they are answered or
    /// when the shutdown timeout runs out, whichever is first.
    async fn shut_down(&self) {
        self.phase.send_replace(Phase::Draining);
        self.connections.abort_unused();
        let streams = self.rt.disconnect_all();
        tracing::info!(
            streams,
            connections = self.connections.open(),
            "shutting down"
        );
        if !self
            .connections
            .closed_by(Instant::now() + self.shutdown_timeout)
            .await
        {
            let cut = self.connections.abort_all();
            tracing::warn!(connections = cut, "shutdown timeout: cutting what is left");
            // Aborted connections fail at their next read or write, which the abort wakes.
            self.connections
                .closed_by(Instant::now() + Duration::from_secs(1))
                .await;
        }
    }
}

fn is_connection_error(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Whether a repeated warning is due: at most one every ten seconds.
fn warn_now(last: &mut Option<Instant>) -> bool {
    let now = Instant::now();
    if last.is_some_and(|at| now < at + Duration::from_secs(10)) {
        return false;
    }
    *last = Some(now);
    true
}

/// The open connections, counted in total and per address, each with the means to cut it.
struct Connections {
    max_total: usize,
    max_per_ip: usize,
    next_id: AtomicU64,
    registry: Mutex<Registry>,
    /// Notified when the last connection closes.
    emptied: Notify,
}

#[derive(Default)]
struct Registry {
    open: HashMap<u64, (Abort, Arc<Handoff>)>,
    per_ip: HashMap<IpAddr, usize>,
    refused: u64,
    last_warning: Option<Instant>,
}

/// A connection's place within the limits, given back when it is dropped.
struct Admission {
    connections: Arc<Connections>,
    id: u64,
    ip: IpAddr,
}

impl Connections {
    fn new(max_total: usize, max_per_ip: usize) -> Self {
        Self {
            max_total,
            max_per_ip,
            next_id: AtomicU64::new(0),
            registry: Mutex::default(),
            emptied: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a place for a new connection from `ip`, or refuses it (and says so, now and
    /// then) when the server or that address is at its limit.
    fn admit(
        this: &Arc<Self>,
        ip: IpAddr,
        abort: &Abort,
        handoff: &Arc<Handoff>,
    ) -> Option<Admission> {
        let mut registry = this.lock();
        let from_ip = registry.per_ip.get(&ip).copied().unwrap_or(0);
        if registry.open.len() >= this.max_total || from_ip >= this.max_per_ip {
            registry.refused += 1;
            if warn_now(&mut registry.last_warning) {
                tracing::warn!(
                    open = registry.open.len(),
                    from_this_address = from_ip,
                    %ip,
                    refused_so_far = registry.refused,
                    "connection limit reached: refusing connections"
                );
            }
            return None;
        }
        let id = this.next_id.fetch_add(1, Ordering::Relaxed);
        registry
            .open
            .insert(id, (abort.clone(), Arc::clone(handoff)));
        *registry.per_ip.entry(ip).or_default() += 1;
        Some(Admission {
            connections: Arc::clone(this),
            id,
            ip,
        })
    }

    fn release(&self, id: u64, ip: IpAddr) {
        let mut registry = self.lock();
        registry.open.remove(&id);
        if let Some(count) = registry.per_ip.get_mut(&ip) {
            *count -= 1;
            if *count == 0 {
                registry.per_ip.remove(&ip);
            }
        }
        if registry.open.is_empty() {
            self.emptied.notify_waiters();
        }
    }

    fn open(&self) -> usize {
        self.lock().open.len()
    }

    /// Cuts connections that never sent a whole request: nothing is in flight on them.
    fn abort_unused(&self) {
        for (abort, handoff) in self.lock().open.values() {
            if !handoff.has_served() {
                abort.abort();
            }
        }
    }

    /// Cuts every connection; returns how many there were.
    fn abort_all(&self) -> usize {
        let registry = self.lock();
        for (abort, _) in registry.open.values() {
            abort.abort();
        }
        registry.open.len()
    }

    /// Waits until every connection is closed, or `deadline`; whether they all are.
    async fn closed_by(&self, deadline: Instant) -> bool {
        loop {
            let emptied = self.emptied.notified();
            if self.open() == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, emptied).await.is_err() {
                return self.open() == 0;
            }
        }
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.connections.release(self.id, self.ip);
    }
}
