//! `GET` and `POST /api/realtime`, as PocketBase serves them.

use std::collections::HashSet;
use std::net::SocketAddr;

use axum::Extension;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, EXPECT, UPGRADE};
use http::{HeaderValue, StatusCode};
use http_body::Body as _;

use crate::auth::AUTH_KEY;
use crate::broker::Realtime;
use crate::http::handoff::{DirectStream, Peer};
use crate::http::stream::EventStream;
use crate::wire::api_error::ApiError;
use crate::wire::subscribe_request::SubscribeRequest;
use crate::wire::subscription::Subscription;

/// The path of the realtime endpoint, fixed by the PocketBase clients.
pub const PATH: &str = "/api/realtime";

/// Where [`Realtime::mount`] serves `realtime`'s HTMX extension, `pocketbase-sse`: load it
/// after htmx 2 with `<script src="/_realtime/pocketbase-sse.js"></script>`.
///
/// It is attribute-compatible with the published extension (`hx-ext="pocketbase-sse"`,
/// `sse-swap="chat"`), and shares one connection among all elements of a page, trims topics,
/// subscribes `hx-trigger="sse:<name>"` elements too, authenticates by the auth cookie,
/// re-subscribes after a reconnect and marks containers while disconnected (class
/// `sse-disconnected`, attribute `data-sse-state`).
pub const HTMX_EXTENSION_PATH: &str = "/_realtime/pocketbase-sse.js";

const HTMX_EXTENSION: &str = include_str!("../../assets/pocketbase-sse.js");

impl Realtime {
    /// Mounts `GET` and `POST /api/realtime` and the HTMX extension
    /// ([`HTMX_EXTENSION_PATH`]) on `router`, and makes this broker available to the
    /// [`RequestAuth`](crate::RequestAuth) extractor of every route added before.
    ///
    /// ```
    /// use axum::{Router, routing::get};
    /// use axum_realtime::Realtime;
    ///
    /// let rt = Realtime::new();
    /// let app: Router = rt.mount(Router::new().route("/", get(|| async { "hello" })));
    /// # drop(app);
    /// ```
    ///
    /// Serve the router with [`Realtime::serve`](crate::Realtime::serve): `POST /api/realtime` then checks it
    /// comes from the address that opened the stream (as PocketBase does), and a client that
    /// stops reading can be cut off.
    pub fn mount<S>(&self, router: Router<S>) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        let (stream_rt, subscribe_rt) = (self.clone(), self.clone());
        router
            .route(
                PATH,
                get(move |request: Request| async move { open_stream(&stream_rt, &request) }).post(
                    move |request: Request| async move { subscribe(&subscribe_rt, request).await },
                ),
            )
            .route(HTMX_EXTENSION_PATH, get(extension_script))
            .layer(Extension(self.clone()))
    }
}

async fn extension_script() -> Response {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "no-cache"),
        ],
        HTMX_EXTENSION,
    )
        .into_response()
}

/// The peer's address, from [`crate::serve`]'s [`Peer`] or axum's plain connect info.
fn remote_addr(request: &Request) -> Option<SocketAddr> {
    let extensions = request.extensions();
    extensions
        .get::<ConnectInfo<Peer>>()
        .map(|info| info.0.addr())
        .or_else(|| {
            extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0)
        })
}

/// The head of every event stream, as PocketBase writes it (hyper or the direct writer adds
/// the chunked framing and the date).
const STREAM_HEADERS: [(http::HeaderName, &str); 3] = [
    (CONTENT_TYPE, "text/event-stream"),
    (CACHE_CONTROL, "no-store"),
    (http::HeaderName::from_static("x-accel-buffering"), "no"),
];

fn open_stream(rt: &Realtime, request: &Request) -> Response {
    if !is_bare(request) {
        return ApiError::bad_request().into_response();
    }
    let shared = rt.shared_arc();
    let abort = request
        .extensions()
        .get::<ConnectInfo<Peer>>()
        .map(|info| info.0.abort.clone());
    let registration = shared.connect(remote_addr(request).map(|addr| addr.ip()), abort);
    tracing::debug!(client = %registration.client().id(), "realtime stream opened");
    let body = EventStream::new(registration, &shared.config);
    // Where the connection can write the stream itself, it takes the stream once the
    // application's layers have answered; the response then carries only the head.
    let mut response = match request.extensions().get::<DirectStream>() {
        Some(direct) => {
            direct.offer(body);
            Body::empty().into_response()
        }
        None => Body::new(body).into_response(),
    };
    let headers = response.headers_mut();
    for (name, value) in STREAM_HEADERS {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// Whether a stream request carries nothing but its head, as every `EventSource` sends it. A
/// body (unread, it would keep hyper from noticing the client leave), `Expect` or `Upgrade`
/// is refused.
fn is_bare(request: &Request) -> bool {
    let headers = request.headers();
    request.body().is_end_stream()
        && !headers.contains_key(EXPECT)
        && !headers.contains_key(UPGRADE)
}

async fn subscribe(rt: &Realtime, request: Request) -> Response {
    match try_subscribe(rt, request).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => error.into_response(),
    }
}

/// PocketBase's checks, in PocketBase's order.
async fn try_subscribe(rt: &Realtime, request: Request) -> Result<(), ApiError> {
    let remote = remote_addr(&request);
    let (parts, body) = request.into_parts();
    let body = SubscribeRequest::read_body(body).await?;
    let form = SubscribeRequest::parse(&parts.headers, &body)?;
    form.validate()?;

    let shared = rt.shared();
    let client = shared
        .find(&form.client_id)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "Missing or invalid client id."))?;
    if shared.config.check_remote_ip
        && let (Some(opened_from), Some(remote)) = (client.remote_ip(), remote)
        && opened_from != remote.ip()
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "Invalid realtime client.",
        ));
    }

    let auth = rt.authenticate(&parts);
    match (client.auth(), auth.record()) {
        (Some(bound), Some(new)) if bound.same_principal(new) => client.set(AUTH_KEY, new.clone()),
        (Some(_), _) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "The current and the previous request authorization don't match.",
            ));
        }
        (None, Some(new)) => client.set(AUTH_KEY, new.clone()),
        (None, None) => {}
    }

    // A set: empty keys are ignored and duplicates collapse, as in PocketBase.
    let mut seen = HashSet::with_capacity(form.subscriptions.len());
    let subscriptions = form
        .subscriptions
        .iter()
        .filter(|key| !key.is_empty() && seen.insert(key.as_str()))
        .map(|key| Subscription::parse(key))
        .collect();
    if shared.replace_subscriptions(&client, subscriptions) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "Missing or invalid client id.",
        ))
    }
}
