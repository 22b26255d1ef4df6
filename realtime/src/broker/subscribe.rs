//! Subscription changes: PocketBase's checks, run on the node that holds the client, wherever
//! the request arrived.

use std::collections::HashSet;
use std::sync::Arc;

use super::engine::{EngineStatus, FetchRequest, Fetched, Refusal, SubscriptionChange};
use super::{Realtime, Shared};
use crate::auth::AUTH_KEY;
use crate::wire::position::Resume;
use crate::wire::subscription::Subscription;

impl Realtime {
    /// Counts a `POST /api/realtime` answered with `status`, and logs a refusal.
    pub(crate) fn answered_subscription(&self, status: u16) {
        self.shared().counters.subscription_answered(status);
        if status != 204 {
            tracing::debug!(status, "subscription refused");
        }
    }

    /// Applies `change` on the node holding its client: here, or through the engine.
    pub(crate) async fn change_subscriptions(
        &self,
        change: SubscriptionChange,
    ) -> Result<(), Refusal> {
        let shared = self.shared();
        match shared.engine() {
            Some(engine) => match change.client_id.get(..engine.node().len()) {
                Some(owner) if owner != engine.node() => {
                    let owner = owner.to_owned();
                    engine.forward(&owner, change).await
                }
                _ => Arc::clone(&self.shared).change_here(change).await,
            },
            None => shared.change_subscriptions(change, None),
        }
    }
}

impl Shared {
    /// Applies `change` to a client of this node, first reading from the engine's history
    /// what a reconnecting client missed when this node's own copy does not reach back.
    pub(crate) async fn change_here(
        self: Arc<Self>,
        change: SubscriptionChange,
    ) -> Result<(), Refusal> {
        let fetched = match self.fetch_request(&change) {
            Some(request) => match self.engine() {
                Some(engine) => engine.fetch(request).await,
                None => None,
            },
            None => None,
        };
        self.change_subscriptions(change, fetched)
    }

    /// What to read from the engine for `change`, if its client resumes from further back than
    /// this node's history holds.
    fn fetch_request(&self, change: &SubscriptionChange) -> Option<FetchRequest> {
        let engine = self.engine()?;
        if !self.history.is_enabled() || engine.status() != EngineStatus::Connected {
            return None;
        }
        let client = self.find(&change.client_id)?;
        let (after, connected) = match client.pending_resume()? {
            Resume::After { epoch, sequence } => {
                let (current, _) = self.cluster_order.current();
                if self.cluster_order.covers(&epoch, sequence)
                    || !(current.is_empty() || current == epoch)
                {
                    return None;
                }
                (Some(sequence), None)
            }
            Resume::Connected(old) => {
                if self.find(&old).is_some() || self.recent.connected_at(&old).is_some() {
                    return None; // known here: replayed from this node's copy, or resynced
                }
                (None, Some(old))
            }
            Resume::Unknown => return None,
        };
        let mut topics: Vec<_> = change
            .keys
            .iter()
            .map(|key| Subscription::parse(key).topic().to_owned())
            .collect::<HashSet<_>>()
            .into_iter()
            .filter_map(|topic| self.history.retention(&topic).map(|r| (topic, r)))
            .collect();
        topics.sort_by(|a, b| a.0.cmp(&b.0));
        (!topics.is_empty()).then_some(FetchRequest {
            after,
            connected,
            topics,
        })
    }
}

impl Shared {
    /// Applies `change` to a client of this node, after PocketBase's checks in PocketBase's
    /// order: the client exists, the request comes from its address, and its auth is the one
    /// the client is bound to (or binds a guest).
    pub(crate) fn change_subscriptions(
        &self,
        change: SubscriptionChange,
        fetched: Option<Fetched>,
    ) -> Result<(), Refusal> {
        let client = self.find(&change.client_id).ok_or(Refusal::UnknownClient)?;
        if self.config.check_remote_ip
            && let (Some(opened_from), Some(remote)) = (client.remote_ip(), change.remote)
            && opened_from != remote
        {
            return Err(Refusal::WrongAddress);
        }
        // Whether a guest is now bound to a user (a bound client's record is only refreshed).
        let auth_changed = match (client.auth(), change.auth) {
            (Some(bound), Some(new)) if bound.same_principal(&new) => {
                client.set(AUTH_KEY, new);
                false
            }
            (Some(_), _) => return Err(Refusal::AuthMismatch),
            (None, Some(new)) => {
                client.set(AUTH_KEY, new);
                true
            }
            (None, None) => false,
        };
        // A set: empty keys are ignored and duplicates collapse, as in PocketBase.
        let mut seen = HashSet::with_capacity(change.keys.len());
        let subscriptions = change
            .keys
            .iter()
            .filter(|key| !key.is_empty() && seen.insert(key.as_str()))
            .map(|key| Subscription::parse(key))
            .collect();
        if self.replace_subscriptions(&client, subscriptions, fetched) {
            tracing::debug!(
                client = %client.id(),
                keys = seen.len(),
                auth_changed,
                "subscriptions changed"
            );
            Ok(())
        } else {
            Err(Refusal::UnknownClient)
        }
    }
}
