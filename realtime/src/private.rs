//! What macro-generated code names. Not public API: no stability promises.

pub use askama;
pub use axum;
pub use inventory;
pub use serde;
pub use serde_json;

pub use crate::http::page::{HtmlKind, JsonKind, PageChannel, PageContext, Respond};

use crate::broker::client::Client;
use crate::channel::{ChannelInfo, ChannelKind};
use crate::wire::client_id::ClientId;

/// Builds a registry entry (a `const fn`, usable in `inventory::submit!`).
#[must_use]
pub const fn channel_info(
    name: &'static str,
    type_path: &'static str,
    kind: ChannelKind,
) -> ChannelInfo {
    ChannelInfo {
        name,
        type_path,
        kind,
    }
}

/// The filter a `#[realtime_page]` broadcasts with. Generated code coerces the user's filter
/// to it, spanned at the filter, so a wrong signature is reported there, once.
pub type PageFilter<'a> = &'a dyn Fn(&ClientId, &Client) -> bool;
