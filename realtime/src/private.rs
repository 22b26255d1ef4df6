//! What macro-generated code names. Not public API: no stability promises.

pub use askama;
pub use axum;
pub use inventory;
pub use serde;
pub use serde_json;

pub use crate::http::page::{HtmlKind, JsonKind, PageChannel, PageContext, Respond};

use crate::channel::{ChannelHistory, ChannelInfo, ChannelKind};

/// Builds a registry entry (a `const fn`, usable in `inventory::submit!`).
#[must_use]
pub const fn channel_info(
    name: &'static str,
    type_path: &'static str,
    kind: ChannelKind,
    history_count: usize,
    history_ttl_secs: u64,
) -> ChannelInfo {
    ChannelInfo {
        name,
        type_path,
        kind,
        history: if history_count == 0 {
            None
        } else {
            Some(ChannelHistory {
                count: history_count,
                ttl: std::time::Duration::from_secs(history_ttl_secs),
            })
        },
    }
}

pub use crate::broker::filter::NamedFilter;
pub use crate::broker::filter::attribute::{
    Accepted, accepted, arguments, decode, encode, named_filter,
};
pub use crate::broker::filter::named::Predicate;

/// The filter a `#[realtime_page]` broadcasts with. Generated code converts the user's filter
/// with it, spanned at the filter, so a closure or a wrong type is reported there, once.
pub fn page_filter(filter: impl crate::broker::filter::IntoFilter) -> crate::Filter {
    filter.into_filter()
}
