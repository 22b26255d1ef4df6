//! What `#[realtime_page]` handlers are made of: the request's broker and auth, and the
//! outputs a page may return.

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::request::Parts;

use crate::auth::RequestAuth;
use crate::broker::Realtime;
use crate::broker::filter::Filter;
use crate::http::capture::{HtmlChannel, capture};
use crate::http::extract::NotMounted;

/// The broker and the requester's auth, extracted for a `#[realtime_page]` handler.
#[derive(Debug, Clone)]
pub struct PageContext {
    rt: Realtime,
    auth: RequestAuth,
}

impl PageContext {
    /// The broker.
    #[must_use]
    pub fn realtime(&self) -> &Realtime {
        &self.rt
    }

    /// The requester's auth, which the default filter compares with each client's.
    #[must_use]
    pub fn auth(&self) -> &RequestAuth {
        &self.auth
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PageContext {
    type Rejection = NotMounted;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let rt = parts
            .extensions
            .get::<Realtime>()
            .ok_or(NotMounted)?
            .clone();
        let auth = rt.authenticate(parts);
        Ok(Self { rt, auth })
    }
}

/// What a `#[realtime_page]` handler may return: the template it broadcasts, or a `Result`
/// whose `Ok` is that template and whose `Err` is answered as it is, with nothing broadcast.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not the template of a realtime channel",
    label = "a `#[realtime_page]` handler must return the template it broadcasts",
    note = "put `#[axum_realtime::channel(\"name\")]` and `#[derive(Template)]` on the template struct; `Result<Template, E: IntoResponse>` works too"
)]
pub trait PageOutput {
    /// Broadcasts the page to the subscribers `filter` accepts and answers the requester.
    fn respond(self, page: &PageContext, filter: Filter) -> Response;
}

impl<T: HtmlChannel> PageOutput for T {
    fn respond(self, page: &PageContext, filter: Filter) -> Response {
        capture(&self, &page.rt, filter).into_response()
    }
}

impl<T: HtmlChannel, E: IntoResponse> PageOutput for Result<T, E> {
    fn respond(self, page: &PageContext, filter: Filter) -> Response {
        match self {
            Ok(template) => template.respond(page, filter),
            Err(err) => err.into_response(),
        }
    }
}

/// The channel a page output broadcasts on, and that channel's kind, [`HtmlKind`] or
/// [`JsonKind`]. Implemented by `#[channel]` for its type, and here for a `Result` of one.
/// Generated code answers a page through its kind's [`Respond`], so a JSON channel gets a
/// message of its own instead of "not a template".
// Hidden, so that the impls `#[channel]` emits stay out of the user's docs.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not the template of a realtime channel",
    label = "a `#[realtime_page]` handler must return the template it broadcasts",
    note = "put `#[axum_realtime::channel(\"name\")]` and `#[derive(Template)]` on the template struct; `Result<Template, E: IntoResponse>` works too"
)]
pub trait PageChannel {
    /// The channel's payload type.
    type Channel;
    /// [`HtmlKind`] or [`JsonKind`].
    type Kind;
}

impl<T: PageChannel, E> PageChannel for Result<T, E> {
    type Channel = T::Channel;
    type Kind = T::Kind;
}

/// The kind of an HTML channel: its pages are answered.
#[doc(hidden)]
#[derive(Debug)]
pub enum HtmlKind {}

/// The kind of a JSON channel: it cannot be a page, and [`Respond`] says so.
#[doc(hidden)]
#[derive(Debug)]
pub enum JsonKind {}

/// Answers a page output `O` whose channel `C` is of this kind: only [`HtmlKind`] can.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{C}` is a JSON channel: a `#[realtime_page]` handler returns the template of an HTML channel",
    label = "returns a JSON channel",
    note = "send a JSON channel with `.send(&rt, &auth)` / `.send_to(&rt, filter)` from a plain handler; a page returns a struct with `#[axum_realtime::channel(\"name\")]` and `#[template(...)]`"
)]
pub trait Respond<O, C> {
    /// [`PageOutput::respond`].
    fn respond(output: O, page: &PageContext, filter: Filter) -> Response;
}

impl<O: PageOutput, C> Respond<O, C> for HtmlKind {
    fn respond(output: O, page: &PageContext, filter: Filter) -> Response {
        output.respond(page, filter)
    }
}
