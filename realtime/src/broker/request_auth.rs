//! How the broker tells who a request is: the token in `Authorization`, or on a same-origin
//! request the auth cookie, through the application's authenticator.

use super::Realtime;
use crate::auth::{self, RequestAuth, cookie};

impl Realtime {
    /// The auth of a request: the token in its `Authorization` header (raw or `Bearer`), or
    /// else, on a same-origin request, in the auth cookie. A missing, invalid or expired token
    /// is a guest.
    #[must_use]
    pub fn authenticate(&self, request: &http::request::Parts) -> RequestAuth {
        let config = &self.shared.config;
        auth::token_from_headers(&request.headers)
            .or_else(|| cookie::token(&request.headers, &request.method, &config.auth_cookie))
            .and_then(|token| self.shared.authenticator.authenticate(token))
            .into()
    }

    /// A `Set-Cookie` value that logs the browser in with `token` (minted by your
    /// authenticator, e.g. [`JwtAuth::mint`](crate::JwtAuth::mint)) for `max_age`:
    /// `HttpOnly`, `SameSite=Strict`, `Path=/`.
    #[must_use]
    pub fn auth_cookie(&self, token: &str, max_age: std::time::Duration) -> http::HeaderValue {
        let config = &self.shared.config;
        cookie::set(&config.auth_cookie, token, max_age, config.secure_cookie)
    }

    /// A `Set-Cookie` value that logs the browser out.
    #[must_use]
    pub fn clear_auth_cookie(&self) -> http::HeaderValue {
        let config = &self.shared.config;
        cookie::clear(&config.auth_cookie, config.secure_cookie)
    }
}
