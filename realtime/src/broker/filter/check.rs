//! A filter made ready to run on many clients: built once per send (on each node it reaches),
//! run once per subscriber.

use serde_json::Value;

use super::named::{self, Predicate, Unusable};
use super::rule::Rule;
use crate::auth::AuthRecord;
use crate::broker::client::Client;

pub(crate) enum Check {
    Everyone,
    Nobody,
    Guests,
    User(String),
    Superusers,
    Collection(String),
    AuthField { field: String, value: Value },
    Stored { key: String, value: Value },
    SubscribedTo(String),
    Named(Predicate),
    All(Vec<Check>),
    Any(Vec<Check>),
    Not(Box<Check>),
}

impl Check {
    /// The whole filter reaches nobody when a part of it cannot run here: negated, a part
    /// that accepted nobody would accept everyone.
    pub(super) fn new(rule: &Rule) -> Self {
        Self::build(rule).unwrap_or_else(|(name, why)| {
            match why {
                Unusable::Unknown => tracing::warn!(
                    filter = %name,
                    "a send names a #[filter] function this program does not have (another \
                     version on another node?); it reaches nobody here"
                ),
                Unusable::Ambiguous => tracing::error!(
                    filter = %name,
                    "two #[filter] functions of this program have the same path (one module, \
                     two function bodies); rename one: a send naming it reaches nobody"
                ),
                Unusable::Arguments(error) => tracing::warn!(
                    filter = %name, %error,
                    "a send's #[filter] arguments do not fit the function; it reaches nobody here"
                ),
            }
            Self::Nobody
        })
    }

    fn build(rule: &Rule) -> Result<Self, (String, Unusable)> {
        let all = |rules: &[Rule]| rules.iter().map(Self::build).collect::<Result<Vec<_>, _>>();
        Ok(match rule {
            Rule::Everyone => Self::Everyone,
            Rule::Guests => Self::Guests,
            Rule::User(id) => Self::User(id.clone()),
            Rule::Superusers => Self::Superusers,
            Rule::Collection(name) => Self::Collection(name.clone()),
            Rule::AuthField { field, value } => Self::AuthField {
                field: field.clone(),
                value: value.clone(),
            },
            Rule::Stored { key, value } => Self::Stored {
                key: key.clone(),
                value: value.clone(),
            },
            Rule::SubscribedTo(topic) => Self::SubscribedTo(topic.clone()),
            Rule::Named { name, args } => {
                Self::Named(named::prepare(name, args).map_err(|why| (name.clone(), why))?)
            }
            Rule::All(rules) => Self::All(all(rules)?),
            Rule::Any(rules) => Self::Any(all(rules)?),
            Rule::Not(rule) => Self::Not(Box::new(Self::build(rule)?)),
        })
    }

    pub(crate) fn accepts(&self, client: &Client) -> bool {
        match self {
            Self::Everyone => true,
            Self::Nobody => false,
            Self::Guests => !client.is_authenticated(),
            Self::User(id) => client.auth_id_is(id),
            Self::Superusers => with_auth(client, AuthRecord::is_superuser),
            Self::Collection(name) => with_auth(client, |auth| auth.collection() == name),
            Self::AuthField { field, value } => {
                with_auth(client, |auth| auth_field_is(auth, field, value))
            }
            Self::Stored { key, value } => client.stored_equals(key, value),
            Self::SubscribedTo(topic) => client.has_subscription(topic),
            Self::Named(predicate) => predicate(client),
            Self::All(checks) => checks.iter().all(|check| check.accepts(client)),
            Self::Any(checks) => checks.iter().any(|check| check.accepts(client)),
            Self::Not(check) => !check.accepts(client),
        }
    }
}

fn with_auth(client: &Client, test: impl FnOnce(&AuthRecord) -> bool) -> bool {
    client.auth_matches(test)
}

/// `id` and `collectionName` are fields too, as in the record's JSON.
fn auth_field_is(auth: &AuthRecord, field: &str, value: &Value) -> bool {
    match field {
        "id" => value.as_str() == Some(auth.id()),
        "collectionName" => value.as_str() == Some(auth.collection()),
        _ => auth.get(field) == Some(value),
    }
}
