//! Cookie auth: browsers that cannot set `Authorization` (the HTMX extension's native
//! `EventSource` and its POSTs) carry the app's auth token in an `HttpOnly`, `SameSite=Strict`
//! cookie instead. A cookie is honoured only on same-origin requests, so another site cannot
//! act with a user's cookie.

use std::time::Duration;

use http::header::{COOKIE, HOST, ORIGIN};
use http::{HeaderMap, HeaderValue, Method};

/// The default name of the auth cookie.
pub const DEFAULT_COOKIE: &str = "realtime_auth";

/// The value of cookie `name` in a request, if the request is same-origin.
pub(crate) fn token<'a>(headers: &'a HeaderMap, method: &Method, name: &str) -> Option<&'a str> {
    if !is_same_origin(headers, method) {
        return None;
    }
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"'))
        .filter(|value| !value.is_empty())
}

/// Whether the browser says a request comes from this site's own pages: `Sec-Fetch-Site` when
/// it sends one, else an `Origin` naming this host, else (old browsers, no `Origin`) only a
/// safe method. The auth cookie is honoured under this check only.
///
/// Routes that set or clear the cookie (a login, a logout) should refuse requests that fail
/// it, or another site's form can log its visitors in as the attacker (login CSRF):
///
/// ```
/// use http::{HeaderMap, Method};
///
/// let mut headers = HeaderMap::new();
/// headers.insert("host", "chat.example".parse().unwrap());
/// headers.insert("origin", "https://chat.example".parse().unwrap());
/// assert!(axum_realtime::auth::is_same_origin(&headers, &Method::POST));
/// headers.insert("origin", "https://evil.example".parse().unwrap());
/// assert!(!axum_realtime::auth::is_same_origin(&headers, &Method::POST));
/// ```
#[must_use]
pub fn is_same_origin(headers: &HeaderMap, method: &Method) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    match (headers.get(ORIGIN), headers.get(HOST)) {
        (Some(origin), Some(host)) => origin
            .to_str()
            .ok()
            .and_then(|origin| origin.split_once("://"))
            .is_some_and(|(_, origin_host)| origin_host.as_bytes() == host.as_bytes()),
        (Some(_), None) => false,
        (None, _) => matches!(*method, Method::GET | Method::HEAD),
    }
}

/// A `Set-Cookie` value that stores `token` for `max_age`.
pub(crate) fn set(name: &str, token: &str, max_age: Duration, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let value = format!(
        "{name}={token}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{secure}",
        max_age.as_secs()
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A `Set-Cookie` value that removes the cookie.
pub(crate) fn clear(name: &str, secure: bool) -> HeaderValue {
    set(name, "", Duration::ZERO, secure)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    http::HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                )
            })
            .collect()
    }

    #[test]
    fn honoured_on_same_origin_requests_only() {
        let cookie = ("cookie", "a=1; realtime_auth=tok; b=2");
        let same = headers(&[
            cookie,
            ("origin", "http://127.0.0.1:8090"),
            ("host", "127.0.0.1:8090"),
        ]);
        assert_eq!(token(&same, &Method::POST, DEFAULT_COOKIE), Some("tok"));
        let fetch_meta = headers(&[cookie, ("sec-fetch-site", "same-origin")]);
        assert_eq!(
            token(&fetch_meta, &Method::POST, DEFAULT_COOKIE),
            Some("tok")
        );
        let navigation = headers(&[cookie]);
        assert_eq!(
            token(&navigation, &Method::GET, DEFAULT_COOKIE),
            Some("tok")
        );

        let cross = headers(&[
            cookie,
            ("origin", "http://evil.test"),
            ("host", "127.0.0.1:8090"),
        ]);
        assert_eq!(token(&cross, &Method::POST, DEFAULT_COOKIE), None);
        let cross_meta = headers(&[
            cookie,
            ("sec-fetch-site", "cross-site"),
            ("origin", "http://127.0.0.1:8090"),
            ("host", "127.0.0.1:8090"),
        ]);
        assert_eq!(token(&cross_meta, &Method::POST, DEFAULT_COOKIE), None);
        let no_origin_post = headers(&[cookie]);
        assert_eq!(token(&no_origin_post, &Method::POST, DEFAULT_COOKIE), None);
    }

    #[test]
    fn set_cookie_is_http_only_and_strict() {
        let value = set("realtime_auth", "tok", Duration::from_mins(1), false);
        assert_eq!(
            value,
            "realtime_auth=tok; Path=/; Max-Age=60; HttpOnly; SameSite=Strict"
        );
        assert_eq!(
            clear("x", true),
            "x=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict; Secure"
        );
    }
}
