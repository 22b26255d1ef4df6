//! What can go wrong when sending, and what a send did.

use std::fmt;

/// Why a message was not sent. Nothing was delivered to anyone when this is returned.
#[derive(Debug)]
#[non_exhaustive]
pub enum SendError {
    /// The topic or event name is empty or holds CR, LF or NUL (it could not be framed as
    /// Server-Sent Events), or holds `?` (which starts a subscription's options, so no
    /// subscriber could listen to it).
    InvalidTopic(String),
    /// The payload could not be encoded as JSON (for example a map with non-string keys).
    Encode(serde_json::Error),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidTopic(topic) => write!(
                f,
                "invalid topic {topic:?}: it must be non-empty and hold no CR, LF, NUL or `?`"
            ),
            Self::Encode(err) => write!(f, "cannot encode the payload as JSON: {err}"),
        }
    }
}

impl std::error::Error for SendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Encode(err) => Some(err),
            Self::InvalidTopic(_) => None,
        }
    }
}

/// What a send did: how many of this node's clients it reached, how many it disconnected
/// because their queues were full, and whether it went on to the other nodes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[must_use]
pub struct Delivery {
    /// Clients the message was queued for (once per client, however many of its keys match).
    pub reached: usize,
    /// Subscribers whose queue was full: they were disconnected instead of slowing the send.
    pub dropped: usize,
    /// Whether the send went on to the other nodes (each filters it for its own clients).
    pub other_nodes: OtherNodes,
}

/// Whether a send reached the other nodes, as far as the sender can know at once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OtherNodes {
    /// There are none: the broker runs in-process, without a distributed engine.
    #[default]
    Alone,
    /// Handed to the engine, which carries it to every node in order.
    Published,
    /// The engine is disconnected (or too far behind): no other node gets this send. It was
    /// still delivered to this node's clients.
    Unreached,
}
