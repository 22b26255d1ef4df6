//! The `RequestAuth` extractor: the auth of the request a handler serves.

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;

use crate::auth::RequestAuth;
use crate::broker::Realtime;

/// Rejection of [`RequestAuth`] when the route was added after [`Realtime::mount`], or the
/// router has no broker: a programming error, answered 500 with a message that says so.
#[derive(Debug)]
pub struct NotMounted;

impl IntoResponse for NotMounted {
    fn into_response(self) -> Response {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "realtime: no broker on this route; add the route before calling `Realtime::mount`",
        )
            .into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestAuth {
    type Rejection = NotMounted;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let rt = parts.extensions.get::<Realtime>().ok_or(NotMounted)?;
        Ok(rt.authenticate(parts))
    }
}
