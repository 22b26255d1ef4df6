//! Message history: the recent sends of the topics that keep one, bounded by count and by age,
//! so that a client that reconnects can be given what it missed. Entries hold the frames as
//! they were sent (nothing is encoded again) and the send's filter, to run again for the
//! reconnecting client.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::broker::filter::Filter;
use crate::sync::lock;
use crate::wire::sse::{CONNECT_EVENT, RESYNC_EVENT};

/// How much of a topic's past is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Retention {
    /// The most messages kept.
    pub(crate) count: usize,
    /// How long a message is kept.
    pub(crate) ttl: Duration,
}

/// One past send on a topic.
#[derive(Clone)]
pub(crate) struct Entry {
    pub(crate) sequence: u64,
    /// The plain key's frame, as it was sent.
    pub(crate) frame: Bytes,
    /// The payload: a slice of `frame`, to frame again under a key with options.
    pub(crate) data: Bytes,
    /// Who may have it: `None` when the send's filter was a closure, which cannot run again.
    pub(crate) filter: Option<Filter>,
    at: Instant,
}

impl Entry {
    /// An entry for the send `sequence`, whose payload is the last `data_len` bytes of the
    /// event in `frame` (before the blank line and the chunk's end).
    pub(crate) fn new(
        sequence: u64,
        frame: Bytes,
        data_len: usize,
        filter: Option<Filter>,
        at: Instant,
    ) -> Self {
        let end = frame.len().saturating_sub(4);
        let data = frame.slice(end.saturating_sub(data_len)..end);
        Self {
            sequence,
            frame,
            data,
            filter,
            at,
        }
    }
}

/// What a topic's history says about the sends after a position.
pub(crate) enum Since {
    /// Every send after it, oldest first.
    Entries(Vec<Entry>),
    /// Some of them are gone (too many since, or too old): what was missed cannot be told.
    Lost,
}

struct TopicHistory {
    retention: Retention,
    entries: VecDeque<Entry>,
    /// The highest sequence dropped from this topic: a position before it missed something
    /// that is gone.
    dropped_through: u64,
}

impl TopicHistory {
    fn prune(&mut self, now: Instant) {
        while self.entries.len() > self.retention.count
            || self
                .entries
                .front()
                .is_some_and(|entry| now.duration_since(entry.at) > self.retention.ttl)
        {
            if let Some(entry) = self.entries.pop_front() {
                self.dropped_through = self.dropped_through.max(entry.sequence);
            }
        }
    }
}

/// Every topic's history.
pub(crate) struct History {
    default: Option<Retention>,
    per_topic: HashMap<String, Retention>,
    topics: RwLock<HashMap<Arc<str>, Mutex<TopicHistory>>>,
    recorded: AtomicU64,
    /// The highest sequence dropped from a topic since forgotten: positions before it may
    /// have missed sends of any topic no longer known.
    forgotten_through: AtomicU64,
}

/// Events the protocol itself writes (the stream's first event, the resync notice).
const PROTOCOL_EVENTS: [&str; 2] = [CONNECT_EVENT, RESYNC_EVENT];

/// Every this many records, topics whose history has all expired are forgotten.
const SWEEP_EVERY: u64 = 4096;

impl History {
    pub(crate) fn new(default: Option<Retention>, per_topic: HashMap<String, Retention>) -> Self {
        Self {
            default: default.filter(|r| r.count > 0),
            per_topic,
            topics: RwLock::default(),
            recorded: AtomicU64::new(0),
            forgotten_through: AtomicU64::new(0),
        }
    }

    /// Whether any topic keeps a history: sends then keep one order across topics.
    pub(crate) fn is_enabled(&self) -> bool {
        self.default.is_some() || self.per_topic.values().any(|r| r.count > 0)
    }

    /// What `topic` keeps: its own setting, else the default; `None` for nothing. The
    /// protocol's own events are never part of a history: a client that names them among its
    /// subscriptions has no past to be replayed or resynchronized.
    pub(crate) fn retention(&self, topic: &str) -> Option<Retention> {
        if PROTOCOL_EVENTS.contains(&topic) {
            return None;
        }
        match self.per_topic.get(topic) {
            Some(retention) => Some(*retention).filter(|r| r.count > 0),
            None => self.default,
        }
    }

    /// Keeps `entry` of `topic`, if the topic keeps a history.
    pub(crate) fn record(&self, topic: &str, entry: Entry) {
        let Some(retention) = self.retention(topic) else {
            return;
        };
        let now = entry.at;
        let known = {
            let topics = self
                .topics
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match topics.get(topic) {
                Some(history) => {
                    let mut history = lock(history);
                    history.entries.push_back(entry.clone());
                    history.prune(now);
                    true
                }
                None => false,
            }
        };
        if !known {
            let mut topics = self
                .topics
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let history = topics.entry(Arc::from(topic)).or_insert_with(|| {
                Mutex::new(TopicHistory {
                    retention,
                    entries: VecDeque::new(),
                    dropped_through: self.forgotten_through.load(Ordering::Relaxed),
                })
            });
            let history = history
                .get_mut()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            history.entries.push_back(entry);
            history.prune(now);
        }
        if self.recorded.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.sweep(now);
        }
    }

    /// The sends of `topic` after `sequence`. A topic without entries has nothing to give
    /// and lost nothing unless something was dropped after `sequence`.
    pub(crate) fn since(&self, topic: &str, sequence: u64, now: Instant) -> Since {
        let topics = self
            .topics
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(history) = topics.get(topic) else {
            // Never sent to, or forgotten once all its sends expired.
            return if sequence < self.forgotten_through.load(Ordering::Relaxed) {
                Since::Lost
            } else {
                Since::Entries(Vec::new())
            };
        };
        let mut history = lock(history);
        history.prune(now);
        if sequence < history.dropped_through {
            return Since::Lost;
        }
        Since::Entries(
            history
                .entries
                .iter()
                .filter(|entry| entry.sequence > sequence)
                .cloned()
                .collect(),
        )
    }

    #[cfg_attr(
        not(feature = "redis"),
        allow(dead_code, reason = "used by the Redis engine")
    )]
    /// Forgets everything: the order it belonged to is gone (a new epoch).
    pub(crate) fn clear(&self) {
        self.topics
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        self.forgotten_through.store(0, Ordering::Relaxed);
    }

    /// The longest a topic keeps its sends.
    pub(crate) fn longest_ttl(&self) -> Duration {
        self.per_topic
            .values()
            .chain(self.default.as_ref())
            .filter(|r| r.count > 0)
            .map(|r| r.ttl)
            .max()
            .unwrap_or_default()
    }

    /// Every send `topic` still keeps, oldest first.
    pub(crate) fn kept(&self, topic: &str, now: Instant) -> Vec<Entry> {
        let topics = self
            .topics
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        topics.get(topic).map_or_else(Vec::new, |history| {
            let mut history = lock(history);
            history.prune(now);
            history.entries.iter().cloned().collect()
        })
    }

    /// Forgets topics whose every entry has expired.
    fn sweep(&self, now: Instant) {
        let mut topics = self
            .topics
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        topics.retain(|_, history| {
            let history = history
                .get_mut()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            history.prune(now);
            let keep = !history.entries.is_empty();
            if !keep {
                self.forgotten_through
                    .fetch_max(history.dropped_through, Ordering::Relaxed);
            }
            keep
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::sse;

    fn entry(sequence: u64, at: Instant) -> Entry {
        let data = format!(r#"{{"n":{sequence}}}"#);
        let frame = sse::event(&format!("e-{sequence}"), "chat", data.as_bytes());
        Entry::new(sequence, frame, data.len(), None, at)
    }

    fn sequences(since: Since) -> Option<Vec<u64>> {
        match since {
            Since::Entries(entries) => Some(entries.iter().map(|e| e.sequence).collect()),
            Since::Lost => None,
        }
    }

    #[test]
    fn entries_keep_the_frame_and_its_payload() {
        let e = entry(7, Instant::now());
        assert_eq!(&e.data[..], br#"{"n":7}"#);
        assert!(e.frame.ends_with(b"data:{\"n\":7}\n\n\r\n"));
    }

    #[test]
    fn a_topic_keeps_its_last_sends_and_knows_when_some_are_gone() {
        let retention = Retention {
            count: 3,
            ttl: Duration::from_mins(1),
        };
        let history = History::new(None, HashMap::from([("chat".to_owned(), retention)]));
        assert!(history.is_enabled());
        let now = Instant::now();
        for sequence in 1..=5 {
            history.record("chat", entry(sequence, now));
            history.record("other", entry(sequence + 100, now)); // keeps none
        }
        assert_eq!(
            sequences(history.since("chat", 2, now)),
            Some(vec![3, 4, 5])
        );
        assert_eq!(sequences(history.since("chat", 4, now)), Some(vec![5]));
        assert_eq!(sequences(history.since("chat", 5, now)), Some(vec![]));
        assert_eq!(sequences(history.since("chat", 1, now)), None, "2 is gone");
        assert_eq!(sequences(history.since("other", 1, now)), Some(vec![]));
    }

    #[test]
    fn old_sends_expire() {
        let retention = Retention {
            count: 100,
            ttl: Duration::from_secs(10),
        };
        let history = History::new(Some(retention), HashMap::new());
        let start = Instant::now();
        history.record("chat", entry(1, start));
        history.record("chat", entry(2, start + Duration::from_secs(5)));
        let later = start + Duration::from_secs(12);
        assert_eq!(sequences(history.since("chat", 1, later)), Some(vec![2]));
        assert_eq!(
            sequences(history.since("chat", 0, later)),
            None,
            "1 expired"
        );
        history.sweep(start + Duration::from_secs(20));
        assert!(
            history.topics.read().unwrap().is_empty(),
            "forgotten once empty"
        );
        let much_later = start + Duration::from_secs(30);
        assert_eq!(
            sequences(history.since("chat", 1, much_later)),
            None,
            "2 expired unseen"
        );
        assert_eq!(
            sequences(history.since("news", 1, much_later)),
            None,
            "unknown now"
        );
        assert_eq!(
            sequences(history.since("chat", 2, much_later)),
            Some(vec![])
        );
        history.record("chat", entry(3, much_later));
        assert_eq!(
            sequences(history.since("chat", 1, much_later)),
            None,
            "still gone"
        );
        assert_eq!(
            sequences(history.since("chat", 2, much_later)),
            Some(vec![3])
        );
    }

    #[test]
    fn a_topic_can_keep_none_of_the_default() {
        let keep = Retention {
            count: 10,
            ttl: Duration::from_mins(1),
        };
        let none = Retention { count: 0, ..keep };
        let history = History::new(Some(keep), HashMap::from([("noisy".to_owned(), none)]));
        assert_eq!(history.retention("chat"), Some(keep));
        assert_eq!(history.retention("noisy"), None);
    }

    #[test]
    fn the_protocols_own_events_keep_no_history() {
        let keep = Retention {
            count: 10,
            ttl: Duration::from_mins(1),
        };
        let history = History::new(Some(keep), HashMap::new());
        assert_eq!(history.retention("chat"), Some(keep));
        assert_eq!(history.retention("PB_CONNECT"), None);
        assert_eq!(history.retention("PB_RESYNC"), None);
    }

    #[test]
    fn without_retention_nothing_is_kept() {
        let history = History::new(
            Some(Retention {
                count: 0,
                ttl: Duration::from_secs(1),
            }),
            HashMap::new(),
        );
        assert!(!history.is_enabled());
        history.record("chat", entry(1, Instant::now()));
        assert!(history.topics.read().unwrap().is_empty());
    }
}
