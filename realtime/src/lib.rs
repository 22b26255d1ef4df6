#![doc = include_str!("../../README.md")]

mod api_error;
mod auth;
mod broker;
mod client;
mod client_id;
mod config;
mod endpoint;
mod error;
mod extract;
mod filter;
mod frame;
mod jwt;
mod outbox;
mod stream;
mod subscribe_request;
mod subscription;

pub use auth::{AuthRecord, Authenticator, RequestAuth, SUPERUSERS};
pub use broker::Realtime;
pub use client::{AUTH_KEY, Client};
pub use client_id::ClientId;
pub use config::Builder;
pub use endpoint::PATH;
pub use error::{Delivery, SendError};
pub use extract::NotMounted;
pub use filter::{default_for, everyone};
pub use jwt::{JwtAuth, MintError};
pub use subscription::{Subscription, SubscriptionOptions};
