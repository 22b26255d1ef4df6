//! The seed's HTMX chat on `realtime`.
//!
//! - `GET /`: the page, with the stored history; `hx-ext="pocketbase-sse"` keeps it live.
//! - `POST /api/chat`: a `#[realtime_page]` that stores the message, renders it once,
//!   broadcasts it on `chat` to everyone (the seed's chat overrides the default filter), and
//!   answers the poster with the same HTML, once the message is on its way to the other
//!   instances (with `--redis`: an instance that dies after answering loses nothing it
//!   acknowledged). The poster's own tabs also get a notice on
//!   `notices`, sent with the default filter: other users never see it.
//! - `GET /api/count`: how many messages are stored; the page re-fetches it on every `chat`
//!   event (`hx-trigger="sse:chat"`).
//! - `GET /api/messages`: the stored messages, which the page reloads when the server cannot
//!   tell what it missed during a disconnect (`hx-trigger="sse:resync"`; `GET /chat.js` keeps
//!   the live messages that cross the reload, each once, by their row ids). Otherwise a
//!   reconnecting page gets the missed messages themselves: `chat` keeps a history of its last
//!   200 messages, for 10 minutes.
//! - `POST /login`, `POST /logout`: a name is enough; the login sets the auth cookie the HTMX
//!   extension's subscription carries, and answers `{"token": …, "record": …}`. Both refuse
//!   (403) a request that is not same-origin by the check the cookie is honoured under
//!   ([`axum_realtime::auth::is_same_origin`]): another site cannot log its visitors in or out. A client
//!   that is not a browser sends an `Origin` naming the server.
//! - `GET /metrics`: the broker's figures ([`axum_realtime::Realtime::stats`]) in Prometheus
//!   text.

pub mod metrics;
mod routes;
pub mod secret;
pub mod views;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::middleware;
use axum::routing::{get, post};
use axum_realtime::{JwtAuth, Realtime, TrustedProxies};

pub use example_support::messages::{Message, MessageStore as Db, Stored};

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The broker.
    pub rt: Realtime,
    /// The message store.
    pub db: Db,
    /// Mints login tokens (the broker verifies them with the same key).
    pub jwt: Arc<JwtAuth>,
}

/// How the process is deployed: alone or one of several over Redis, reached directly or
/// through reverse proxies.
#[derive(Debug, Clone, Default)]
pub struct Deployment {
    /// The Redis server joining the instances; `None`: this process alone.
    pub redis: Option<String>,
    /// The reverse proxies whose `X-Forwarded-For` names the client; empty: none.
    pub trusted_proxies: Vec<String>,
    /// Whether the auth cookie is marked `Secure` (the site is served over HTTPS).
    pub secure_cookie: bool,
}

impl AppState {
    /// A broker that authenticates with tokens signed by `secret`, keeps the chat's recent
    /// history, and is deployed as `deployment` says: given Redis, one node of a chat spread
    /// over several processes.
    ///
    /// # Errors
    ///
    /// When the Redis URL or a trusted proxy is not valid.
    pub fn new(db: Db, secret: &[u8], deployment: &Deployment) -> Result<Self, String> {
        let mut builder = Realtime::builder()
            .authenticator(JwtAuth::new(secret))
            .history_for("chat", 200, Duration::from_mins(10))
            .secure_cookie(deployment.secure_cookie);
        if !deployment.trusted_proxies.is_empty() {
            let proxies = TrustedProxies::new(&deployment.trusted_proxies)
                .map_err(|err| format!("--trusted-proxies: {err}"))?;
            builder = builder.trusted_proxies(proxies);
        }
        if let Some(url) = &deployment.redis {
            builder = builder.redis(url).map_err(|err| err.to_string())?;
        }
        Ok(Self {
            rt: builder.build(),
            db,
            jwt: Arc::new(JwtAuth::new(secret)),
        })
    }
}

/// The example's router.
pub fn app(state: AppState) -> Router {
    let rt = state.rt.clone();
    let routes = Router::new()
        .route("/", get(routes::page))
        .route("/style.css", get(routes::style))
        .route("/chat.js", get(routes::script))
        .route(
            "/api/chat",
            post(routes::post_chat).layer(middleware::from_fn_with_state(
                state.clone(),
                routes::answer_once_handed_on,
            )),
        )
        .route("/api/count", get(routes::count))
        .route("/api/messages", get(routes::messages))
        .route("/login", post(routes::login))
        .route("/logout", post(routes::logout))
        .route("/metrics", get(metrics::render))
        .merge(example_support::assets::routes())
        .with_state(state);
    rt.mount(routes)
}
