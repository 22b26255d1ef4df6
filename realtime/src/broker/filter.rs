//! Filters: which subscribers of a topic receive a message.
//!
//! A filter is any `Fn(&ClientId, &Client) -> bool`, as in the PocketBase plugin's
//! `(clientId, client) => boolean`. A recipient must also be subscribed to the topic.

use crate::auth::RequestAuth;
use crate::broker::client::Client;
use crate::wire::client_id::ClientId;

/// The filter that accepts every subscriber: `rt.send_to("chat", &msg, axum_realtime::everyone)`.
#[must_use]
pub fn everyone(_id: &ClientId, _client: &Client) -> bool {
    true
}

/// The filter [`Realtime::send`](crate::Realtime::send) uses: when the sender is
/// authenticated, only clients authenticated as the same user (all of that user's tabs); when
/// the sender is a guest, every subscriber.
pub fn same_user_or_all(sender: &RequestAuth) -> impl Fn(&ClientId, &Client) -> bool + '_ {
    move |_id, client| {
        sender
            .record()
            .is_none_or(|auth| client.auth_id_is(auth.id()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AUTH_KEY;
    use crate::auth::AuthRecord;

    #[test]
    fn the_default_filter_reaches_the_senders_user_or_everyone() {
        let ann = Client::detached();
        ann.set(AUTH_KEY, AuthRecord::new("ann"));
        let bob = Client::detached();
        bob.set(AUTH_KEY, AuthRecord::new("bob"));
        let guest = Client::detached();

        let as_ann = RequestAuth::user(AuthRecord::new("ann"));
        let filter = same_user_or_all(&as_ann);
        assert!(filter(ann.id(), &ann));
        assert!(!filter(bob.id(), &bob));
        assert!(!filter(guest.id(), &guest));

        let as_guest = RequestAuth::guest();
        let filter = same_user_or_all(&as_guest);
        assert!([&ann, &bob, &guest].iter().all(|c| filter(c.id(), c)));
    }
}
