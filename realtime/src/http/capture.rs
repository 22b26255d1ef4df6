//! Render capture: a template rendered once, broadcast on its channel, and answered.

use std::fmt;

use axum::response::{Html, IntoResponse, Response};
use http::StatusCode;

use crate::broker::Realtime;
use crate::broker::client::Client;
use crate::broker::delivery::{Delivery, SendError};
use crate::channel::HtmlChannel;
use crate::wire::client_id::ClientId;

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
/// accepts.
///
/// # Errors
///
/// [`CaptureError::Render`] if the template fails; [`CaptureError::Send`] if the HTML cannot
/// be sent. Nothing is broadcast then.
pub fn capture<T, F>(page: &T, rt: &Realtime, filter: F) -> Result<Captured, CaptureError>
where
    T: HtmlChannel,
    F: Fn(&ClientId, &Client) -> bool,
{
    let html = page.render().map_err(CaptureError::Render)?;
    let delivery = rt
        .send_to(T::NAME, &html, filter)
        .map_err(CaptureError::Send)?;
    Ok(Captured { html, delivery })
}
