//! The broker over HTTP: the endpoint `mount`s (`GET`/`POST /api/realtime`, the HTMX
//! extension), the event stream body, the request-auth extractor, render capture for
//! `#[realtime_page]` handlers, and the handoff through which a connection served by
//! `serve` takes a stream the endpoint accepted.

pub(crate) mod capture;
pub(crate) mod client_address;
pub(crate) mod endpoint;
pub(crate) mod extract;
pub(crate) mod handoff;
pub(crate) mod page;
pub(crate) mod stream;
