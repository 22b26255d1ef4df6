//! The topic index: which clients listen to each topic, and under which keys.
//!
//! A topic keeps each distinct key with options once, shared by every subscriber that holds
//! it. A send then tells keys apart by address: it frames each distinct key once and finds
//! that frame in constant time, however long the keys are and however many there are.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::broker::client::Client;
use crate::broker::pace::Pace;
use crate::wire::client_id::ClientId;
use crate::wire::subscription::Subscription;

/// Subscribers by topic, so a send costs time in proportion to that topic's subscribers.
pub(super) type Topics = HashMap<Arc<str>, Topic>;

/// A subscriber's keys with options under one topic. Shared, so that a send can take them
/// out from under the index lock and frame them after releasing it.
pub(super) type Keys = Arc<[Arc<str>]>;

/// One topic's subscribers, the keys with options they hold, and how often it is sent to.
#[derive(Default)]
pub(super) struct Topic {
    pub(super) subscribers: HashMap<ClientId, Subscriber>,
    /// Each distinct key with options, once, with how many subscribers hold it.
    keys: HashMap<Arc<str>, usize>,
    pub(super) pace: Pace,
}

/// One client's entry under one topic.
pub(super) struct Subscriber {
    pub(super) client: Client,
    /// Whether it holds the plain key (the topic itself): one frame serves all such.
    pub(super) plain: bool,
    /// Its keys with options, each the topic's shared copy; `None` when it holds none.
    pub(super) keyed: Option<Keys>,
}

/// A key's identity within its topic at one moment: the topic keeps each distinct key once, so
/// equal keys share an address. Valid while the key is held.
pub(super) fn identity(key: &Arc<str>) -> usize {
    Arc::as_ptr(key).cast::<u8>().addr()
}

/// A client's subscriptions, grouped by topic before the index is locked, so that the lock
/// covers only the index update.
pub(super) struct Grouped<'a> {
    topics: HashMap<&'a str, (bool, Vec<&'a Arc<str>>)>,
}

impl<'a> Grouped<'a> {
    /// Groups `subscriptions`, whose keys must be distinct.
    pub(super) fn new(subscriptions: &'a [Subscription]) -> Self {
        let mut topics: HashMap<&str, (bool, Vec<&Arc<str>>)> = HashMap::new();
        for sub in subscriptions {
            let (plain, keyed) = topics.entry(sub.topic()).or_default();
            if sub.key().len() == sub.topic().len() {
                *plain = true;
            } else {
                keyed.push(sub.shared_key());
            }
        }
        Self { topics }
    }
}

/// Removes each duplicate key, keeping the first: the index holds a key once per client.
pub(super) fn dedupe(subscriptions: &mut Vec<Subscription>) {
    let mut seen = HashSet::with_capacity(subscriptions.len());
    subscriptions.retain(|sub| seen.insert(Arc::clone(sub.shared_key())));
}

/// Enters `client` under every topic of `grouped`.
pub(super) fn insert(topics: &mut Topics, client: &Client, grouped: &Grouped<'_>) {
    for (&name, (plain, keyed)) in &grouped.topics {
        if !topics.contains_key(name) {
            topics.insert(Arc::from(name), Topic::default());
        }
        let Some(topic) = topics.get_mut(name) else {
            continue;
        };
        let keyed = (!keyed.is_empty())
            .then(|| keyed.iter().map(|key| topic.intern(key)).collect::<Keys>());
        let previous = topic.subscribers.insert(
            client.id().clone(),
            Subscriber {
                client: client.clone(),
                plain: *plain,
                keyed,
            },
        );
        if let Some(previous) = previous {
            topic.release(&previous);
        }
    }
}

/// Removes the client `id` from `name`'s subscribers, and the topic once it has none.
pub(super) fn remove(topics: &mut Topics, name: &str, id: &ClientId) {
    let Some(topic) = topics.get_mut(name) else {
        return;
    };
    if let Some(subscriber) = topic.subscribers.remove(id) {
        topic.release(&subscriber);
    }
    if topic.subscribers.is_empty() {
        topics.remove(name);
    }
}

impl Topic {
    /// The topic's shared copy of `key`, counted once more.
    fn intern(&mut self, key: &Arc<str>) -> Arc<str> {
        match self.keys.entry(Arc::clone(key)) {
            Entry::Occupied(mut held) => {
                *held.get_mut() += 1;
                Arc::clone(held.key())
            }
            Entry::Vacant(new) => {
                new.insert(1);
                Arc::clone(key)
            }
        }
    }

    /// Forgets a subscriber's hold on its keys.
    fn release(&mut self, subscriber: &Subscriber) {
        for key in subscriber.keyed.iter().flat_map(|keys| keys.iter()) {
            if let Some(count) = self.keys.get_mut(&**key) {
                *count -= 1;
                if *count == 0 {
                    self.keys.remove(&**key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscribe(topics: &mut Topics, client: &Client, keys: &[&str]) -> Vec<Subscription> {
        let mut subs: Vec<_> = keys.iter().map(|key| Subscription::parse(key)).collect();
        dedupe(&mut subs);
        insert(topics, client, &Grouped::new(&subs));
        subs
    }

    fn keyed<'a>(topics: &'a Topics, topic: &str, client: &Client) -> &'a [Arc<str>] {
        topics[topic].subscribers[client.id()]
            .keyed
            .as_deref()
            .unwrap_or_default()
    }

    #[test]
    fn equal_keys_of_different_clients_share_one_copy_until_the_last_leaves() {
        let mut topics = Topics::default();
        let (a, b) = (Client::detached(), Client::detached());
        let _a_subs = subscribe(
            &mut topics,
            &a,
            &["chat", "chat?options=1", "chat?options=2"],
        );
        let _b_subs = subscribe(&mut topics, &b, &["chat?options=1", "news"]);
        let shared = |client| identity(&keyed(&topics, "chat", client)[0]);
        assert_eq!(shared(&a), shared(&b), "one copy of chat?options=1");
        assert!(topics["chat"].subscribers[a.id()].plain);
        assert!(!topics["chat"].subscribers[b.id()].plain);
        assert_eq!(topics["chat"].keys.len(), 2);
        assert_eq!(topics["chat"].keys["chat?options=1"], 2);

        remove(&mut topics, "chat", a.id());
        assert_eq!(topics["chat"].keys.len(), 1, "chat?options=2 is forgotten");
        assert_eq!(topics["chat"].keys["chat?options=1"], 1);
        remove(&mut topics, "chat", b.id());
        assert!(!topics.contains_key("chat"));
        assert!(topics.contains_key("news"));
    }

    #[test]
    fn resubscribing_replaces_a_clients_keys_and_duplicates_count_once() {
        let mut topics = Topics::default();
        let client = Client::detached();
        let subs = subscribe(&mut topics, &client, &["chat?x", "chat?x", "chat?y"]);
        assert_eq!(subs.len(), 2);
        assert_eq!(keyed(&topics, "chat", &client).len(), 2);
        let _subs = subscribe(&mut topics, &client, &["chat?y", "chat?z"]);
        let keys: HashSet<&str> = topics["chat"].keys.keys().map(|key| &**key).collect();
        assert_eq!(keys, HashSet::from(["chat?y", "chat?z"]));
        assert!(topics["chat"].keys.values().all(|&count| count == 1));
    }
}
