//! The open connections, counted in total and per client address, each with the means to cut
//! it: what keeps one address, or a flood, from taking every descriptor. A trusted proxy's
//! connections count in the total only: it carries everyone's.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::http::handoff::Handoff;
use crate::proxy::TrustedProxies;
use crate::sync::{Abort, lock};

/// Whether a repeated warning is due: at most one every ten seconds.
pub(super) fn warn_now(last: &mut Option<Instant>) -> bool {
    let now = Instant::now();
    if last.is_some_and(|at| now < at + Duration::from_secs(10)) {
        return false;
    }
    *last = Some(now);
    true
}

/// The open connections, counted in total and per address, each with the means to cut it.
pub(super) struct Connections {
    max_total: usize,
    max_per_ip: usize,
    /// Peers not held to `max_per_ip`.
    proxies: TrustedProxies,
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
pub(super) struct Admission {
    connections: Arc<Connections>,
    id: u64,
    /// The address counted, unless the peer is a trusted proxy.
    ip: Option<IpAddr>,
}

impl Connections {
    pub(super) fn new(max_total: usize, max_per_ip: usize, proxies: TrustedProxies) -> Self {
        Self {
            max_total,
            max_per_ip,
            proxies,
            next_id: AtomicU64::new(0),
            registry: Mutex::default(),
            emptied: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        lock(&self.registry)
    }

    /// Takes a place for a new connection from `ip`, or refuses it (and says so, now and
    /// then) when the server or that address is at its limit (a trusted proxy has none of its
    /// own).
    pub(super) fn admit(
        this: &Arc<Self>,
        ip: IpAddr,
        abort: &Abort,
        handoff: &Arc<Handoff>,
    ) -> Option<Admission> {
        let counted = (!this.proxies.is_trusted(ip)).then_some(ip);
        let mut registry = this.lock();
        let from_ip = counted
            .and_then(|ip| registry.per_ip.get(&ip).copied())
            .unwrap_or(0);
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
        if let Some(ip) = counted {
            *registry.per_ip.entry(ip).or_default() += 1;
        }
        Some(Admission {
            connections: Arc::clone(this),
            id,
            ip: counted,
        })
    }

    fn release(&self, id: u64, ip: Option<IpAddr>) {
        let mut registry = self.lock();
        registry.open.remove(&id);
        if let Some(ip) = ip
            && let Some(count) = registry.per_ip.get_mut(&ip)
        {
            *count -= 1;
            if *count == 0 {
                registry.per_ip.remove(&ip);
            }
        }
        if registry.open.is_empty() {
            self.emptied.notify_waiters();
        }
    }

    pub(super) fn open(&self) -> usize {
        self.lock().open.len()
    }

    /// Cuts connections that never sent a whole request: nothing is in flight on them.
    pub(super) fn abort_unused(&self) {
        for (abort, handoff) in self.lock().open.values() {
            if !handoff.has_served() {
                abort.abort();
            }
        }
    }

    /// Cuts every connection; returns how many there were.
    pub(super) fn abort_all(&self) -> usize {
        let registry = self.lock();
        for (abort, _) in registry.open.values() {
            abort.abort();
        }
        registry.open.len()
    }

    /// Waits until every connection is closed, or `deadline`; whether they all are.
    pub(super) async fn closed_by(&self, deadline: Instant) -> bool {
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
