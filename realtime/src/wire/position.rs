//! Positions: the `id:` of every message event, `<epoch>-<sequence>`, and what a reconnecting
//! client's `Last-Event-ID` says about where it stopped.
//!
//! The sequence numbers every send of one broker in one order, across topics; the epoch names
//! that order, and changes whenever what came before is lost (a restarted broker).

use std::fmt;

/// The longest `Last-Event-ID` read: a position or a client id is far shorter, and anything
/// longer is not one of ours.
const MAX_LEN: usize = 128;

/// A point in one broker's order of sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position<'a> {
    pub(crate) epoch: &'a str,
    pub(crate) sequence: u64,
}

impl fmt::Display for Position<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.epoch, self.sequence)
    }
}

/// Where a reconnecting client says it stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Resume {
    /// The `id:` of the last message it saw.
    After { epoch: String, sequence: u64 },
    /// No message had arrived: the id of its `PB_CONNECT`, that is its old client id.
    Connected(String),
    /// Nothing this server could have written.
    Unknown,
}

impl Resume {
    /// Reads a `Last-Event-ID` (or `lastEventId` query parameter) value; `None` when there is
    /// none (an empty value resets it, as in the `EventSource` standard).
    pub(crate) fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        if value.is_empty() {
            return None;
        }
        if value.len() > MAX_LEN
            || !value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Some(Self::Unknown);
        }
        Some(match value.rsplit_once('-') {
            Some((epoch, sequence)) if !epoch.is_empty() => match sequence.parse() {
                Ok(sequence) => Self::After {
                    epoch: epoch.to_owned(),
                    sequence,
                },
                Err(_) => Self::Unknown,
            },
            Some(_) => Self::Unknown,
            None => Self::Connected(value.to_owned()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_client_ids_and_everything_else() {
        let position = Position {
            epoch: "Ab3xYz09",
            sequence: 42,
        };
        assert_eq!(position.to_string(), "Ab3xYz09-42");
        assert_eq!(
            Resume::parse(" Ab3xYz09-42 "),
            Some(Resume::After {
                epoch: "Ab3xYz09".into(),
                sequence: 42
            })
        );
        let client = "a".repeat(40);
        assert_eq!(
            Resume::parse(&client),
            Some(Resume::Connected(client.clone()))
        );
        assert_eq!(Resume::parse(""), None);
        for junk in [
            "-42",
            "Ab3xYz09-",
            "Ab3xYz09-x",
            "Ab3xYz09-99999999999999999999999",
            "a b",
            "é-1",
            &"x".repeat(129),
        ] {
            assert_eq!(Resume::parse(junk), Some(Resume::Unknown), "{junk:?}");
        }
    }
}
