//! What nodes say to each other over Redis, as JSON: a send (on the channel every node
//! listens to), and a subscription change and its answer (on the channel of one node).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::broker::engine::{Refusal, SubscriptionChange};
use crate::broker::filter::Filter;

/// A send made on node `node`: the payload travels as the JSON it already is, not re-encoded.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Send<'a> {
    #[serde(borrow)]
    pub(super) node: Cow<'a, str>,
    #[serde(borrow)]
    pub(super) topic: Cow<'a, str>,
    pub(super) filter: Filter,
    #[serde(borrow)]
    pub(super) data: &'a RawValue,
}

/// A message to one node.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum ToNode {
    /// Apply this change to one of your clients, and answer node `from` under `request`.
    Change {
        from: String,
        request: u64,
        change: SubscriptionChange,
    },
    /// The answer to the request `request` this node made.
    Answer {
        request: u64,
        outcome: Result<(), Refusal>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::filter::everyone;

    #[test]
    fn a_send_carries_its_payload_as_it_is() {
        let data = RawValue::from_string(r#"{"text":"hi","n":[1,2]}"#.to_owned()).unwrap();
        let send = Send {
            node: "abcdefgh".into(),
            topic: "chat \"quoted\"".into(),
            filter: everyone,
            data: &data,
        };
        let text = serde_json::to_string(&send).unwrap();
        assert_eq!(
            text,
            r#"{"node":"abcdefgh","topic":"chat \"quoted\"","filter":"everyone","data":{"text":"hi","n":[1,2]}}"#
        );
        let back: Send<'_> = serde_json::from_str(&text).unwrap();
        assert_eq!(back.data.get(), r#"{"text":"hi","n":[1,2]}"#);
        assert_eq!((&*back.node, &*back.topic), ("abcdefgh", "chat \"quoted\""));
    }
}
