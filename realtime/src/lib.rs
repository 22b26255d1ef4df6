#![doc = include_str!("../../README.md")]

// Generated code names `::realtime`, which must resolve inside this crate's own tests too.
extern crate self as realtime;

mod abort;
mod api_error;
mod auth;
mod broker;
mod capture;
mod channel;
mod client;
mod client_id;
mod config;
mod cookie;
mod endpoint;
mod error;
mod extract;
mod filter;
mod frame;
mod handoff;
mod jwt;
mod outbox;
mod pace;
mod page;
pub mod serve;
mod stream;
mod subscribe_request;
mod subscription;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

/// The askama version `realtime` renders with: page templates that are not channels can use
/// it without a dependency of their own, with `#[template(..., askama = realtime::askama)]`.
pub use askama;
pub use askama::Template;
pub use auth::{AuthRecord, Authenticator, RequestAuth, SUPERUSERS};
pub use broker::Realtime;
pub use capture::{CaptureError, Captured, capture};
pub use channel::{Channel, ChannelInfo, ChannelKind, DuplicateChannel, HtmlChannel, channels};
pub use client::{AUTH_KEY, Client};
pub use client_id::ClientId;
pub use config::Builder;
pub use cookie::{DEFAULT_COOKIE, is_same_origin};
pub use endpoint::{HTMX_EXTENSION_PATH, PATH};
pub use error::{Delivery, SendError};
pub use extract::NotMounted;
pub use filter::{default_for, everyone};
pub use jwt::{JwtAuth, MintError};
pub use page::{PageContext, PageOutput};
pub use realtime_macros::{channel, realtime_page};
pub use subscription::{Subscription, SubscriptionOptions};
