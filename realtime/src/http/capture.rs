//! Render capture: what an HTML channel can do, as the methods of the trait `#[channel]`
//! implements on a template (render once, broadcast on its channel, answer with the same
//! HTML). It sits here, above the broker, because `channel` sits below it.

use std::fmt;

use axum::response::{Html, IntoResponse, Response};
use http::StatusCode;

use crate::auth::RequestAuth;
use crate::broker::Realtime;
use crate::broker::client::Client;
use crate::broker::delivery::{Delivery, SendError};
use crate::broker::filter::{IntoFilter, same_user_or_all};
use crate::channel::Channel;
use crate::wire::client_id::ClientId;

/// A channel whose payload is an askama template: the rendered HTML is broadcast as a JSON
/// string. Implemented by [`#[channel("name")]`](macro@crate::channel) on a template struct,
/// which also gives the type inherent `capture` and `capture_to`, so calls need no import.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an HTML channel",
    label = "not the template of an HTML channel",
    note = "an HTML channel is a struct with `#[axum_realtime::channel(\"name\")]` and `#[template(...)]`; a JSON channel is sent with `.send` / `.send_to`"
)]
pub trait HtmlChannel: Channel + askama::Template {
    /// Renders this template once and broadcasts the HTML on its channel with the default
    /// filter (the sender's own user, or everyone when a guest sends); the result answers the
    /// requester with the same HTML.
    ///
    /// # Errors
    ///
    /// [`CaptureError::Render`] if the template fails; [`CaptureError::Send`] if the HTML
    /// cannot be sent. Nothing is broadcast then.
    fn capture(&self, rt: &Realtime, sender: &RequestAuth) -> Result<Captured, CaptureError> {
        capture(self, rt, same_user_or_all(sender))
    }

    /// Renders this template once and broadcasts the HTML on its channel to the subscribers
    /// `filter` (a [`Filter`](crate::Filter)) accepts, on every node; the result answers the
    /// requester with the same HTML.
    ///
    /// # Errors
    ///
    /// [`CaptureError::Render`] if the template fails; [`CaptureError::Send`] if the HTML
    /// cannot be sent. Nothing is broadcast then.
    fn capture_to(&self, rt: &Realtime, filter: impl IntoFilter) -> Result<Captured, CaptureError> {
        capture(self, rt, filter)
    }

    /// Renders this template once and broadcasts the HTML on its channel to the subscribers
    /// **on this node** that `filter`, any `Fn(&ClientId, &Client) -> bool`, accepts (see
    /// [`Realtime::send_local`]).
    ///
    /// # Errors
    ///
    /// [`CaptureError::Render`] if the template fails; [`CaptureError::Send`] if the HTML
    /// cannot be sent. Nothing is broadcast then.
    fn capture_local<F>(&self, rt: &Realtime, filter: F) -> Result<Captured, CaptureError>
    where
        F: Fn(&ClientId, &Client) -> bool,
    {
        let html = self.render().map_err(CaptureError::Render)?;
        let delivery = rt
            .send_local(Self::NAME, &html, filter)
            .map_err(CaptureError::Send)?;
        Ok(Captured { html, delivery })
    }
}

/// A captured page: the HTML that was broadcast, and what the broadcast did. As a response it
/// is that HTML, so the requester gets exactly what the subscribers got.
#[derive(Debug, Clone)]
pub struct Captured {
    /// The rendered HTML.
    pub html: String,
    /// What the broadcast did.
    pub delivery: Delivery,
}

impl IntoResponse for Captured {
    fn into_response(self) -> Response {
        Html(self.html).into_response()
    }
}

/// Why a capture failed; nothing was broadcast.
#[derive(Debug)]
#[non_exhaustive]
pub enum CaptureError {
    /// The template failed to render.
    Render(askama::Error),
    /// The rendered HTML could not be sent.
    Send(SendError),
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Render(err) => write!(f, "cannot render the captured template: {err}"),
            Self::Send(err) => write!(f, "cannot broadcast the captured template: {err}"),
        }
    }
}

impl std::error::Error for CaptureError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Render(err) => Some(err),
            Self::Send(err) => Some(err),
        }
    }
}

impl IntoResponse for CaptureError {
    fn into_response(self) -> Response {
        tracing::error!(error = %self, "render capture failed");
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the page could not be rendered",
        )
            .into_response()
    }
}

/// Renders `page` once and broadcasts the HTML on its channel to the subscribers `filter`
/// accepts: [`HtmlChannel::capture_to`] as a function.
///
/// # Errors
///
/// [`CaptureError::Render`] if the template fails; [`CaptureError::Send`] if the HTML cannot
/// be sent. Nothing is broadcast then.
pub fn capture<T>(
    page: &T,
    rt: &Realtime,
    filter: impl IntoFilter,
) -> Result<Captured, CaptureError>
where
    T: HtmlChannel + ?Sized,
{
    let html = page.render().map_err(CaptureError::Render)?;
    let delivery = rt
        .send_to(T::NAME, &html, filter)
        .map_err(CaptureError::Send)?;
    Ok(Captured { html, delivery })
}
