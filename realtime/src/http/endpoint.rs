//! `GET` and `POST /api/realtime`, as PocketBase serves them.

use axum::Extension;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, EXPECT, UPGRADE};
use http::{HeaderValue, StatusCode};
use http_body::Body as _;

use crate::broker::Realtime;
use crate::broker::engine::{Refusal, SubscriptionChange};
use crate::broker::per_address::StreamsPerAddress;
use crate::http::client_address::ClientAddress;
use crate::http::handoff::{DirectStream, Peer};
use crate::http::stream::EventStream;
use crate::wire::api_error::ApiError;
use crate::wire::position::Resume;
use crate::wire::subscribe_request::SubscribeRequest;

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

/// Where [`Realtime::mount`] serves `pocketbase-resume.js`: loaded before the PocketBase JS
/// SDK, it makes the SDK's reconnects resume (the SDK opens a new `EventSource` each time, so
/// the browser's `Last-Event-ID` never reaches the server; this passes the last id seen as
/// `?lastEventId=`). See the crate's recovery docs.
pub const SDK_RESUME_PATH: &str = "/_realtime/pocketbase-resume.js";

const SDK_RESUME: &str = include_str!("../../assets/pocketbase-resume.js");

/// Where [`Realtime::mount`] serves `pocketbase-tabs.js`: loaded before the PocketBase JS SDK,
/// it gives the tabs of one browser one realtime stream, shared (and resumed like
/// [`SDK_RESUME_PATH`]'s helper does). See the script's header.
pub const SDK_TABS_PATH: &str = "/_realtime/pocketbase-tabs.js";

const SDK_TABS: &str = include_str!("../../assets/pocketbase-tabs.js");

impl Realtime {
    /// Mounts `GET` and `POST /api/realtime`, the HTMX extension ([`HTMX_EXTENSION_PATH`]) and
    /// the SDK's helpers ([`SDK_RESUME_PATH`], [`SDK_TABS_PATH`]) on `router`, and makes this broker available to the
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
            .route(
                HTMX_EXTENSION_PATH,
                get(|| async { script(HTMX_EXTENSION) }),
            )
            .route(SDK_RESUME_PATH, get(|| async { script(SDK_RESUME) }))
            .route(SDK_TABS_PATH, get(|| async { script(SDK_TABS) }))
            .layer(Extension(self.clone()))
    }
}

fn script(source: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "no-cache"),
        ],
        source,
    )
        .into_response()
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
    let address = ClientAddress::of(request, &shared.config.trusted_proxies);
    // The connection limit saw only the proxy: a forwarded client is counted here.
    let address_slot = match address.filter(ClientAddress::is_forwarded) {
        Some(address) => match StreamsPerAddress::take(&shared.forwarded_streams, address.client) {
            Some(slot) => Some(slot),
            None => return too_many_streams(address),
        },
        None => None,
    };
    let registration = shared.connect(
        address.map(|address| address.client),
        abort,
        resume_of(request),
        address_slot,
    );
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

/// A forwarded client over `max_connections_per_ip` streams: PocketBase's rate-limit answer.
fn too_many_streams(address: ClientAddress) -> Response {
    tracing::debug!(client = %address.client, proxy = %address.peer, "too many streams from one forwarded client");
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests.").into_response()
}

/// Where a reconnecting client says it stopped: `Last-Event-ID` (sent by `EventSource` on its
/// own reconnects) or, for a client that opens a new `EventSource`, the `lastEventId` query
/// parameter.
fn resume_of(request: &Request) -> Option<Resume> {
    let header = request
        .headers()
        .get("last-event-id")
        .map(|value| value.to_str().map_or(Some(Resume::Unknown), Resume::parse));
    let query = || {
        let query = request.uri().query()?;
        form_urlencoded::parse(query.as_bytes())
            .find(|(name, _)| name == "lastEventId")
            .map(|(_, value)| Resume::parse(&value))
    };
    header.or_else(query).flatten()
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
    let response = match try_subscribe(rt, request).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => error.into_response(),
    };
    rt.answered_subscription(response.status().as_u16());
    response
}

/// PocketBase's checks, in PocketBase's order.
async fn try_subscribe(rt: &Realtime, request: Request) -> Result<(), ApiError> {
    let remote = ClientAddress::of(&request, &rt.shared().config.trusted_proxies);
    let (parts, body) = request.into_parts();
    let body = SubscribeRequest::read_body(body).await?;
    let form = SubscribeRequest::parse(&parts.headers, &body)?;
    form.validate()?;

    let auth = rt.authenticate(&parts);
    let change = SubscriptionChange {
        client_id: form.client_id,
        keys: form.subscriptions,
        remote: remote.map(|address| address.client),
        auth: auth.record().cloned(),
    };
    rt.change_subscriptions(change).await.map_err(api_error)
}

/// PocketBase's answer to each refusal, byte for byte.
fn api_error(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::UnknownClient => {
            ApiError::new(StatusCode::NOT_FOUND, "Missing or invalid client id.")
        }
        Refusal::WrongAddress => ApiError::new(StatusCode::BAD_REQUEST, "Invalid realtime client."),
        Refusal::AuthMismatch => ApiError::new(
            StatusCode::FORBIDDEN,
            "The current and the previous request authorization don't match.",
        ),
        Refusal::OwnerUnreachable => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "The node holding this realtime client cannot be reached.",
        ),
    }
}
