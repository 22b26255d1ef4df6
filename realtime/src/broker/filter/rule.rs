//! What a filter is made of, in the form that travels between nodes (JSON, one object per
//! rule: `{"user": "u1"}`, `{"all": [...]}`, `"everyone"`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Rule {
    Everyone,
    Guests,
    User(String),
    Superusers,
    Collection(String),
    AuthField {
        field: String,
        value: Value,
    },
    Stored {
        key: String,
        value: Value,
    },
    SubscribedTo(String),
    /// A `#[filter]` function, by its path, with its arguments.
    Named {
        name: String,
        args: Value,
    },
    All(Vec<Rule>),
    Any(Vec<Rule>),
    Not(Box<Rule>),
}
