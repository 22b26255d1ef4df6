//! Positions: the `id:` of every message event, `<epoch>-<sequence>`, and what a reconnecting
//! client's `Last-Event-ID` says about where it stopped.
//!
//! The sequence numbers every send of one broker in one order, across topics; the epoch names
//! that order, and changes whenever what came before is lost (a restarted broker).

use std::fmt;

use bytes::{BufMut as _, BytesMut};

use crate::wire::sse::EventId;

/// The longest `Last-Event-ID` read: a position or a client id is far shorter, and anything
/// longer is not one of ours.
const MAX_LEN: usize = 128;

/// A point in one broker's order of sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position<'a> {
    pub(crate) epoch: &'a str,
    pub(crate) sequence: u64,
}

/// Written straight into its frame, not made into a `String` first: every send frames one.
impl EventId for Position<'_> {
    fn text_len(&self) -> usize {
        let digits = self
            .sequence
            .checked_ilog10()
            .map_or(1, |log| log as usize + 1);
        self.epoch.len() + 1 + digits
    }

    fn put(&self, buf: &mut BytesMut) {
        buf.put_slice(self.epoch.as_bytes());
        buf.put_u8(b'-');
        buf.put_slice(decimal(self.sequence, &mut [0; 20]));
    }
}

/// `n` in decimal, written at the end of `buf`.
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + u8::try_from(n % 10).unwrap_or_default();
        n /= 10;
        if n == 0 {
            return &buf[start..];
        }
    }
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
    fn a_position_frames_as_its_text() {
        for epoch in ["Ab3xYz09", "", "x"] {
            for sequence in [0, 1, 9, 10, 99, 100, 4_294_967_296, u64::MAX] {
                let position = Position { epoch, sequence };
                let text = position.to_string();
                assert_eq!(position.text_len(), text.len());
                let mut buf = BytesMut::new();
                position.put(&mut buf);
                assert_eq!(buf, text.as_bytes());
            }
        }
    }

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
