//! Filters: which subscribers of a topic receive a message.
//!
//! A [`Filter`] is a value, not a closure, so that a send made on one node can be filtered on
//! every other: it travels with the message and runs on the node that holds each client,
//! against that client's store and auth record. It is built from:
//!
//! - the built-in rules: [`everyone`], [`same_user_or_all`] (the default of
//!   [`Realtime::send`](crate::Realtime::send)), [`Filter::user`], [`Filter::superusers`],
//!   [`Filter::collection`], [`Filter::auth_field`], [`Filter::stored`],
//!   [`Filter::subscribed_to`], [`Filter::guests`];
//! - functions of your own, declared with [`#[filter]`](macro@crate::filter): the function is
//!   code every node has, and only its arguments travel;
//! - combinations: [`Filter::and`], [`Filter::or`], `!filter`, [`Filter::all`], [`Filter::any`].
//!
//! ```
//! use axum_realtime::{Client, Filter, filter};
//!
//! #[filter]
//! fn in_room(client: &Client, room: &str) -> bool {
//!     client.get::<String>("roomId").as_deref() == Some(room)
//! }
//!
//! let moderators_of_room_7 = in_room("7").and(Filter::auth_field("role", "moderator"));
//! let client = Client::detached();
//! client.set("roomId", String::from("7"));
//! assert!(in_room("7").accepts(&client));
//! assert!(!moderators_of_room_7.accepts(&client));
//! ```
//!
//! An arbitrary closure `Fn(&ClientId, &Client) -> bool` cannot travel: it is accepted only by
//! the sends whose names say they stay on this node ([`Realtime::send_local`](crate::Realtime::send_local)
//! and the `send_local` / `capture_local` of channels). A recipient must also be subscribed to
//! the topic.

pub(crate) mod attribute;
mod check;
pub(crate) mod named;
mod rule;

use std::ops::Not;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::RequestAuth;
use crate::broker::client::Client;
pub(crate) use check::Check;
pub use named::NamedFilter;
use rule::Rule;

/// Who receives a send, as a value every node can evaluate. See the [module docs](self).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Filter(Rule);

/// The filter that accepts every subscriber: `rt.send_to("chat", &msg, axum_realtime::everyone)`.
#[allow(
    non_upper_case_globals,
    reason = "a filter named like the others it sits beside, used as `send_to(.., everyone)`"
)]
pub const everyone: Filter = Filter(Rule::Everyone);

/// The filter [`Realtime::send`](crate::Realtime::send) uses: when the sender is
/// authenticated, only clients authenticated as the same user (all of that user's tabs); when
/// the sender is a guest, every subscriber.
#[must_use]
pub fn same_user_or_all(sender: &RequestAuth) -> Filter {
    match sender.record() {
        Some(record) => Filter::user(record.id()),
        None => everyone,
    }
}

impl Filter {
    /// Clients authenticated as the user with this id (in any collection).
    #[must_use]
    pub fn user(id: impl Into<String>) -> Self {
        Self(Rule::User(id.into()))
    }

    /// Clients authenticated as a superuser (PocketBase's `_superusers` collection).
    #[must_use]
    pub fn superusers() -> Self {
        Self(Rule::Superusers)
    }

    /// Clients authenticated with a record of this collection.
    #[must_use]
    pub fn collection(name: impl Into<String>) -> Self {
        Self(Rule::Collection(name.into()))
    }

    /// Clients whose auth record has `field` equal to `value` (`Filter::auth_field("role",
    /// "moderator")`).
    #[must_use]
    pub fn auth_field(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Self(Rule::AuthField {
            field: field.into(),
            value: value.into(),
        })
    }

    /// Clients that are guests (no auth record).
    #[must_use]
    pub fn guests() -> Self {
        Self(Rule::Guests)
    }

    /// Clients whose store holds `value` under `key` (set with [`Client::set`]). A string
    /// matches a stored `String` or `&'static str`; a number an integer or float of any
    /// width; a boolean a `bool`; anything a stored `serde_json::Value` equal to it.
    #[must_use]
    pub fn stored(key: impl Into<String>, value: impl Into<Value>) -> Self {
        Self(Rule::Stored {
            key: key.into(),
            value: value.into(),
        })
    }

    /// Clients also subscribed to `topic` (see [`Client::has_subscription`]).
    #[must_use]
    pub fn subscribed_to(topic: impl Into<String>) -> Self {
        Self(Rule::SubscribedTo(topic.into()))
    }

    /// Clients both filters accept.
    #[must_use]
    pub fn and(self, other: impl IntoFilter) -> Self {
        Self::all([self, other.into_filter()])
    }

    /// Clients either filter accepts.
    #[must_use]
    pub fn or(self, other: impl IntoFilter) -> Self {
        Self::any([self, other.into_filter()])
    }

    /// Clients every one of `filters` accepts (everyone, when there are none).
    #[must_use]
    pub fn all(filters: impl IntoIterator<Item = Filter>) -> Self {
        Self(Rule::All(flatten(filters, |rule| match rule {
            Rule::All(rules) => Ok(rules),
            rule => Err(rule),
        })))
    }

    /// Clients at least one of `filters` accepts (nobody, when there are none).
    #[must_use]
    pub fn any(filters: impl IntoIterator<Item = Filter>) -> Self {
        Self(Rule::Any(flatten(filters, |rule| match rule {
            Rule::Any(rules) => Ok(rules),
            rule => Err(rule),
        })))
    }

    /// Whether this filter accepts `client`. Sends prepare a filter once and run it for every
    /// subscriber; this does both, for one client (tests, examples).
    #[must_use]
    pub fn accepts(&self, client: &Client) -> bool {
        self.check().accepts(client)
    }

    /// The filter made ready to run: `#[filter]` functions looked up and their arguments
    /// decoded, once per send.
    pub(crate) fn check(&self) -> Check {
        Check::new(&self.0)
    }

    /// A `#[filter]` function with its arguments: what the attribute's constructor returns.
    #[doc(hidden)]
    #[must_use]
    pub fn named(name: &str, args: Value) -> Self {
        Self(Rule::Named {
            name: name.to_owned(),
            args,
        })
    }
}

/// Rules of nested combinations of the same kind are lifted into one.
fn flatten(
    filters: impl IntoIterator<Item = Filter>,
    same_kind: impl Fn(Rule) -> Result<Vec<Rule>, Rule>,
) -> Vec<Rule> {
    let mut rules = Vec::new();
    for Filter(rule) in filters {
        match same_kind(rule) {
            Ok(inner) => rules.extend(inner),
            Err(rule) => rules.push(rule),
        }
    }
    rules
}

impl Not for Filter {
    type Output = Filter;

    /// Clients this filter refuses.
    fn not(self) -> Filter {
        match self.0 {
            Rule::Not(inner) => Filter(*inner),
            rule => Filter(Rule::Not(Box::new(rule))),
        }
    }
}

/// What a send that may reach other nodes accepts as its filter: a [`Filter`] (or a reference
/// to one). A closure is refused here, at compile time, because it cannot travel.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a filter that can travel to other nodes",
    label = "not an `axum_realtime::Filter`",
    note = "a closure runs only where it was made: declare the function with `#[axum_realtime::filter]`, combine built-in filters (`Filter::user`, `Filter::stored`, ...), or send to this node's clients only with `send_local` / `capture_local`"
)]
pub trait IntoFilter {
    /// The filter.
    fn into_filter(self) -> Filter;
}

impl IntoFilter for Filter {
    fn into_filter(self) -> Filter {
        self
    }
}

impl IntoFilter for &Filter {
    fn into_filter(self) -> Filter {
        self.clone()
    }
}

#[cfg(test)]
mod tests;
