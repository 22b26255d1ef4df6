//! Where recently gone clients had connected, so a client whose `Last-Event-ID` is its old
//! `PB_CONNECT` id (no message had reached it) can be given everything since. Bounded: the
//! oldest are forgotten first, and a forgotten one gets a resync instead.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use crate::broker::client::Client;
use crate::sync::lock;

/// How many gone clients are remembered.
const CAPACITY: usize = 65_536;

#[derive(Default)]
pub(super) struct Recent {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    connected_at: HashMap<String, u64>,
    order: VecDeque<String>,
}

impl Recent {
    /// Remembers where `client`, now gone, had connected.
    pub(super) fn left(&self, client: &Client) {
        let Some(sequence) = client.connected_sequence() else {
            return;
        };
        let mut inner = lock(&self.inner);
        let id = client.id().as_str().to_owned();
        if inner.connected_at.insert(id.clone(), sequence).is_none() {
            inner.order.push_back(id);
        }
        while inner.order.len() > CAPACITY {
            if let Some(oldest) = inner.order.pop_front() {
                inner.connected_at.remove(&oldest);
            }
        }
    }

    /// Where the gone client `id` had connected, if it is remembered.
    pub(super) fn connected_at(&self, id: &str) -> Option<u64> {
        lock(&self.inner).connected_at.get(id).copied()
    }
}
