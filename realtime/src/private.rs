//! What macro-generated code names. Not public API: no stability promises.

pub use askama;
pub use axum;
pub use inventory;
pub use serde;
pub use serde_json;

pub use crate::http::page::{PageContext, PageOutput};

use crate::broker::Realtime;
use crate::broker::client::Client;
use crate::broker::delivery::{Delivery, SendError};
use crate::channel::{Channel, ChannelInfo, ChannelKind};
use crate::wire::client_id::ClientId;

/// Builds a registry entry (a `const fn`, usable in `inventory::submit!`).
#[must_use]
pub const fn channel_info(name: &'static str, type_path: &'static str, html: bool) -> ChannelInfo {
    ChannelInfo {
        name,
        type_path,
        kind: if html {
            ChannelKind::Html
        } else {
            ChannelKind::Json
        },
    }
}

/// The send behind a JSON channel's generated `send` and `send_to`.
///
/// # Errors
///
/// As [`Realtime::send_to`].
pub fn send_json<T, F>(payload: &T, rt: &Realtime, filter: F) -> Result<Delivery, SendError>
where
    T: Channel + serde::Serialize,
    F: Fn(&ClientId, &Client) -> bool,
{
    rt.send_to(T::NAME, payload, filter)
}

/// The filter a `#[realtime_page]` broadcasts with. Generated code coerces the user's filter
/// to it, spanned at the filter, so a wrong signature is reported there, once.
pub type PageFilter<'a> = &'a dyn Fn(&ClientId, &Client) -> bool;
