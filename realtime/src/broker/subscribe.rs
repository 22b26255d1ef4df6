//! Subscription changes: PocketBase's checks, run on the node that holds the client, wherever
//! the request arrived.

use std::collections::HashSet;

use super::engine::{Refusal, SubscriptionChange};
use super::{Realtime, Shared};
use crate::auth::AUTH_KEY;
use crate::wire::subscription::Subscription;

impl Realtime {
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
                _ => shared.change_subscriptions(change),
            },
            None => shared.change_subscriptions(change),
        }
    }
}

impl Shared {
    /// Applies `change` to a client of this node, after PocketBase's checks in PocketBase's
    /// order: the client exists, the request comes from its address, and its auth is the one
    /// the client is bound to (or binds a guest).
    pub(crate) fn change_subscriptions(&self, change: SubscriptionChange) -> Result<(), Refusal> {
        let client = self.find(&change.client_id).ok_or(Refusal::UnknownClient)?;
        if self.config.check_remote_ip
            && let (Some(opened_from), Some(remote)) = (client.remote_ip(), change.remote)
            && opened_from != remote
        {
            return Err(Refusal::WrongAddress);
        }
        match (client.auth(), change.auth) {
            (Some(bound), Some(new)) if bound.same_principal(&new) => client.set(AUTH_KEY, new),
            (Some(_), _) => return Err(Refusal::AuthMismatch),
            (None, Some(new)) => client.set(AUTH_KEY, new),
            (None, None) => {}
        }
        // A set: empty keys are ignored and duplicates collapse, as in PocketBase.
        let mut seen = HashSet::with_capacity(change.keys.len());
        let subscriptions = change
            .keys
            .iter()
            .filter(|key| !key.is_empty() && seen.insert(key.as_str()))
            .map(|key| Subscription::parse(key))
            .collect();
        if self.replace_subscriptions(&client, subscriptions) {
            Ok(())
        } else {
            Err(Refusal::UnknownClient)
        }
    }
}
