//! Live updates for server-rendered [axum](https://docs.rs/axum) apps over Server-Sent
//! Events, speaking PocketBase's realtime protocol byte for byte: the unmodified PocketBase JS
//! SDK (`pb.realtime.subscribe`) and the `pocketbase-sse` HTMX extension are its clients.
//!
//! - **Typed channels**: `#[channel("chat")] struct ChatMsg { .. }` makes the struct the
//!   payload of the `chat` topic, with generated `send` / `send_to`; an HTML channel (a
//!   `Template`) gets `capture` / `capture_to` instead. A payload of the wrong type is a
//!   compile error.
//! - **Render capture**: a [`#[realtime_page]`](realtime_page) handler returns a template,
//!   which is rendered once, broadcast on its channel, and answered to the request.
//! - **Filters** decide who receives a send, and are values ([`Filter`]) that can travel to
//!   the other nodes of a cluster and run where each client is: [`everyone`], the default
//!   (the sender's own user, or everyone when a guest sends), built-in rules on the client's
//!   auth record, store and subscriptions, functions of your own declared with
//!   [`#[filter]`](macro@filter) (`fn in_room(client: &Client, room: &str) -> bool` becomes
//!   `in_room("7")`; only the arguments travel), and combinations of them. Signatures are
//!   checked at compile time; a closure is accepted only by the sends that say they stay on
//!   this node ([`Realtime::send_local`]). See [`filter`](mod@filter).
//! - **Recovery**: topics that keep a history ([`Builder::history`], [`Builder::history_for`])
//!   give a client that reconnects with `Last-Event-ID` (or `?lastEventId=`) every message it
//!   missed, once and in order, before anything live; when the server cannot tell what was
//!   missed, one `PB_RESYNC` event names the topics to reload. The HTMX extension resumes by
//!   itself and turns `PB_RESYNC` into the DOM event `sse:resync`; the PocketBase SDK resumes
//!   once the page loads the helper at [`endpoint::SDK_RESUME_PATH`] before it.
//! - **One broker** per application ([`Realtime`]), cheap to clone, with the limits a public
//!   server needs ([`Builder`], [`serve`]).
//!
//! # Install
//!
//! ```toml
//! [dependencies]
//! axum-realtime = "0.1"
//! axum = "0.8"
//! tokio = { version = "1", features = ["macros", "rt-multi-thread", "signal"] }
//! ```
//!
//! The crate re-exports what its macros need: no serde or askama entry of your own is
//! required.
//!
//! # Example
//!
//! A JSON channel, an HTML channel sent by render capture, a filter of your own, and the
//! server:
//!
#![doc = concat!("```rust,no_run\n", include_str!("../doc/example.rs"), "```")]
//!
//! In the browser, the PocketBase SDK needs nothing special:
//!
//! ```js
//! const pb = new PocketBase('http://127.0.0.1:8090')
//! await pb.realtime.subscribe('notifications', (data) => console.log(data.text))
//! ```
//!
//! and an HTMX page loads the extension the endpoint serves ([`endpoint::HTMX_EXTENSION_PATH`]):
//!
//! ```html
//! <script src="/_realtime/pocketbase-sse.js"></script>
//! <div hx-ext="pocketbase-sse" sse-swap="chat" hx-swap="beforeend"></div>
//! ```
//!
//! # Feature flags
//!
//! - `jwt` (default): [`JwtAuth`], an [`auth::Authenticator`] for HS256 tokens. Without it,
//!   bring your own authenticator.
//! - `metrics`: [`Realtime::publish_metrics`], the figures of [`Realtime::stats`] through the
//!   [`metrics`](https://docs.rs/metrics) facade, and a histogram of every send's fan-out time.
//!
//! # Modules
//!
//! [`auth`] (who a request is), [`channel`](mod@channel) (the channel traits and registry),
//! [`filter`](mod@filter) (who receives a send), [`capture`] (rendering a page once for
//! everyone), [`endpoint`] (what [`Realtime::mount`] serves) and [`serve`] (the server, its
//! limits and deadlines).

// Generated code names `::axum_realtime`, which must resolve inside this crate's own tests too.
extern crate self as axum_realtime;

pub mod auth;
mod broker;
pub mod channel;
#[cfg(feature = "redis")]
mod cluster;
mod http;
mod proxy;
pub mod serve;
mod sync;
mod wire;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

/// Render capture outside a `#[realtime_page]` handler, and what a page handler's output is
/// made of.
pub mod capture {
    pub use crate::http::capture::{CaptureError, Captured, capture};
    pub use crate::http::page::{PageContext, PageOutput};
}

/// What [`Realtime::mount`](crate::Realtime::mount) serves, and the extractor error of a
/// router it was not mounted on.
pub mod endpoint {
    pub use crate::http::endpoint::{HTMX_EXTENSION_PATH, PATH, SDK_RESUME_PATH, SDK_TABS_PATH};
    pub use crate::http::extract::NotMounted;
}

pub use broker::filter;

/// The askama version `axum-realtime` renders with: page templates that are not channels can
/// use it without a dependency of their own, with
/// `#[template(..., askama = axum_realtime::askama)]`.
pub use askama;
pub use askama::Template;
#[cfg(feature = "jwt")]
pub use auth::JwtAuth;
pub use auth::{AuthRecord, RequestAuth};
pub use axum_realtime_macros::{channel, filter, realtime_page};
pub use broker::Realtime;
pub use broker::builder::Builder;
pub use broker::client::Client;
pub use broker::delivery::{Delivery, OtherNodes, SendError};
pub use broker::engine::EngineStatus;
pub use broker::json_channel::JsonChannel;
pub use broker::past::PastSend;
pub use broker::stats::{ByPath, DisconnectReason, Stats, StreamPath};
pub use channel::{Channel, ChannelHistory};
#[cfg(feature = "redis")]
pub use cluster::RedisUrlError;
pub use filter::{Filter, IntoFilter, everyone};
pub use http::capture::HtmlChannel;
pub use proxy::{ForwardedHeader, TrustedProxies, TrustedProxyError};
pub use wire::client_id::ClientId;
pub use wire::subscription::{Subscription, SubscriptionOptions};
