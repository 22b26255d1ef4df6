//! The connected clients by id, in shards so that connects and disconnects of unrelated
//! clients do not queue on one lock.

use std::collections::HashMap;
use std::sync::Mutex;

use super::client::Client;
use crate::sync::lock;
use crate::wire::client_id::ClientId;

const SHARDS: usize = 16;

pub(super) struct Registry {
    shards: Box<[Mutex<HashMap<ClientId, Client>>]>,
}

impl Registry {
    pub(super) fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }

    fn shard(&self, id: &str) -> &Mutex<HashMap<ClientId, Client>> {
        // Ids are random: their first bytes spread them well enough.
        let hash = id
            .bytes()
            .take(8)
            .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b.into()));
        &self.shards[hash % SHARDS]
    }

    pub(super) fn insert(&self, client: &Client) {
        lock(self.shard(client.id().as_str())).insert(client.id().clone(), client.clone());
    }

    pub(super) fn find(&self, id: &str) -> Option<Client> {
        lock(self.shard(id)).get(id).cloned()
    }

    /// Removes `client` (this very client, not another one under its id); whether it was there.
    pub(super) fn remove(&self, client: &Client) -> bool {
        let mut shard = lock(self.shard(client.id().as_str()));
        match shard.get(client.id()) {
            Some(found) if found.ptr_eq(client) => shard.remove(client.id()).is_some(),
            _ => false,
        }
    }

    pub(super) fn all(&self) -> Vec<Client> {
        self.shards
            .iter()
            .flat_map(|shard| lock(shard).values().cloned().collect::<Vec<_>>())
            .collect()
    }

    /// The sum of `each` over the clients, one shard locked at a time.
    pub(super) fn sum(&self, each: impl Fn(&Client) -> usize) -> usize {
        self.shards
            .iter()
            .map(|shard| lock(shard).values().map(&each).sum::<usize>())
            .sum()
    }

    pub(super) fn len(&self) -> usize {
        self.shards.iter().map(|shard| lock(shard).len()).sum()
    }
}
