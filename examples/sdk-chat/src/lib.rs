//! The seed's "Real-time Chat" for the unmodified PocketBase JS SDK.
//!
//! The page loads the SDK and calls `pb.realtime.subscribe('chat', ...)`; `POST /chat` stores
//! a message in SQLite and broadcasts it, as JSON `{"text": ..., "user": ...}`, on the typed
//! channel `chat` to every subscriber (the seed's chat overrides the default filter).
//!
//! | route | what |
//! | --- | --- |
//! | `GET /` | the page (`chat.js` and `chat.css` beside it) |
//! | `POST /chat` | JSON `{"user", "text"}` or a form: validate, store, broadcast; answers `{"status":"sent","reached":N}` |
//! | `GET /api/messages` | the latest 100 messages, oldest first |
//! | `GET`/`POST /api/realtime` | the realtime endpoint |
//! | `GET /assets/pocketbase.umd.js` | the SDK, from npm at build time |
//! | `GET /_realtime/pocketbase-tabs.js` | loaded before the SDK: one stream for every tab, resumed across reconnects |

use std::sync::LazyLock;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Json, Request, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum_realtime::{Realtime, channel};
use serde::{Deserialize, Serialize};

pub mod db;
pub mod input;

pub use db::Db;
pub use input::{ApiError, ChatInput};

/// A chat message: the payload of the typed channel `chat`, as the seed's `sseSend('chat',
/// {text, user})` sends it, and one entry of the history.
#[channel("chat")]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// What was written.
    pub text: String,
    /// Who wrote it.
    pub user: String,
}

/// The answer to a successful `POST /chat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Sent {
    /// Always `"sent"`, as in the seed.
    pub status: &'static str,
    /// How many connected clients the message reached.
    pub reached: usize,
}

/// What every handler shares.
#[derive(Clone)]
struct AppState {
    rt: Realtime,
    db: Db,
}

/// The page, with the paths of the SDK and of the tabs helper loaded before it filled in.
static INDEX_HTML: LazyLock<String> = LazyLock::new(|| {
    include_str!("../assets/index.html")
        .replace("{{TABS_PATH}}", axum_realtime::endpoint::SDK_TABS_PATH)
        .replace(
            "{{POCKETBASE_PATH}}",
            example_support::assets::POCKETBASE_PATH,
        )
});

/// The page's script: the SDK subscription, the history, the form.
const CHAT_JS: &str = include_str!("../assets/chat.js");
/// The page's styles.
const CHAT_CSS: &str = include_str!("../assets/chat.css");
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Scripts and styles only from this origin: a message that slipped into the DOM as markup
/// could not run anything (the page renders messages with `textContent` regardless).
const PAGE_CSP: &str = "default-src 'self'; img-src 'self' data:; object-src 'none'; \
                        base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The example's router: the page, `POST /chat`, `GET /api/messages`, the browser libraries,
/// and the realtime endpoint mounted on `rt`.
pub fn app(rt: &Realtime, db: Db) -> Router {
    let state = AppState { rt: rt.clone(), db };
    let routes = Router::new()
        .route("/", get(index))
        .route("/chat.js", get(|| async { static_file(JS, CHAT_JS) }))
        .route("/chat.css", get(|| async { static_file(CSS, CHAT_CSS) }))
        .route(
            "/chat",
            post(post_chat).layer(DefaultBodyLimit::max(input::MAX_BODY_BYTES)),
        )
        .route("/api/messages", get(history))
        .with_state(state)
        .merge(example_support::assets::routes());
    rt.mount(routes)
}

async fn index() -> Response {
    (
        [
            (CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_CSP)),
            (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        Html(INDEX_HTML.as_str()),
    )
        .into_response()
}

fn static_file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, content_type),
            (CACHE_CONTROL, "no-cache"),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// `POST /chat`: validate, store, then broadcast to everyone subscribed to `chat`.
async fn post_chat(
    State(state): State<AppState>,
    request: Request,
) -> Result<Json<Sent>, ApiError> {
    let message = ChatInput::read(request).await?.validate()?;
    let rt = state.rt.clone();
    let delivery = state
        .db
        // The seed's chat overrides the default filter: everyone gets every message.
        .store_then(message, move |message| {
            message.send_to(&rt, axum_realtime::everyone)
        })
        .await
        .map_err(|err| internal("store the message", &err))?
        .map_err(|err| internal("broadcast the message", &err))?;
    Ok(Json(Sent {
        status: "sent",
        reached: delivery.reached,
    }))
}

/// `GET /api/messages`: the latest messages, oldest first.
async fn history(State(state): State<AppState>) -> Result<Response, ApiError> {
    let messages = state
        .db
        .history()
        .await
        .map_err(|err| internal("read the history", &err))?;
    Ok(([(CACHE_CONTROL, "no-store")], Json(messages)).into_response())
}

/// A 500 that tells the client what failed, and logs why.
fn internal(what: &str, err: &dyn std::fmt::Display) -> ApiError {
    eprintln!("example-sdk-chat: could not {what}: {err}");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("The server could not {what}."),
    )
}
