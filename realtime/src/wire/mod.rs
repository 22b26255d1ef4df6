//! PocketBase's realtime protocol as bytes: event frames, client ids, positions (event ids and
//! `Last-Event-ID`), subscription keys and their options, the subscription request body, and
//! the error bodies. Nothing here knows about clients, topics or connections.

pub(crate) mod api_error;
pub(crate) mod client_id;
pub(crate) mod position;
pub(crate) mod sse;
pub(crate) mod subscribe_request;
pub(crate) mod subscription;
