//! What a JSON channel can do: send itself, as the methods of the trait `#[channel]`
//! implements on a serializable type. It sits in the broker, above `channel`, because its
//! methods send through the broker.

use serde::Serialize;

use super::Realtime;
use super::client::Client;
use super::delivery::{Delivery, SendError};
use super::filter::{IntoFilter, same_user_or_all};
use crate::auth::RequestAuth;
use crate::channel::Channel;
use crate::wire::client_id::ClientId;

/// A channel whose payload is a serializable value, sent as JSON. Implemented by
/// [`#[channel("name")]`](macro@crate::channel) on a struct or enum without `#[template]`,
/// which also gives the type inherent `send` and `send_to`, so calls need no import.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a JSON channel",
    label = "not a JSON channel",
    note = "a JSON channel is a struct or enum with `#[axum_realtime::channel(\"name\")]` and no `#[template]`; an HTML channel (a template) is sent with `.capture` / `.capture_to`"
)]
pub trait JsonChannel: Channel + Serialize {
    /// Sends this message on its channel with the default filter: when `sender` is
    /// authenticated, only clients authenticated as the same user receive it (all of that
    /// user's tabs); when `sender` is a guest, every subscriber does.
    ///
    /// # Errors
    ///
    /// [`SendError::Encode`] if the message cannot be encoded as JSON; nothing is sent then.
    fn send(&self, rt: &Realtime, sender: &RequestAuth) -> Result<Delivery, SendError> {
        JsonChannel::send_to(self, rt, same_user_or_all(sender))
    }

    /// Sends this message on its channel to the subscribers `filter` accepts, on every node:
    /// [`everyone`](crate::everyone), a [`Filter`](crate::Filter), or a
    /// [`#[filter]`](macro@crate::filter) function.
    ///
    /// # Errors
    ///
    /// [`SendError::Encode`] if the message cannot be encoded as JSON; nothing is sent then.
    fn send_to(&self, rt: &Realtime, filter: impl IntoFilter) -> Result<Delivery, SendError> {
        rt.send_to(Self::NAME, self, filter)
    }

    /// Sends this message on its channel to the subscribers **on this node** that `filter`, any
    /// `Fn(&ClientId, &Client) -> bool`, accepts (see [`Realtime::send_local`]).
    ///
    /// # Errors
    ///
    /// [`SendError::Encode`] if the message cannot be encoded as JSON; nothing is sent then.
    fn send_local<F>(&self, rt: &Realtime, filter: F) -> Result<Delivery, SendError>
    where
        F: Fn(&ClientId, &Client) -> bool,
    {
        rt.send_local(Self::NAME, self, filter)
    }
}
