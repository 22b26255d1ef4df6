//! The handlers.

use axum::extract::{FromRequest, Request, State};
use axum::http::header::{CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::{Form, Json};
use axum_realtime::{AuthRecord, EngineStatus, RequestAuth, Template, realtime_page};
use serde::Deserialize;
use serde_json::json;

use crate::views::{ChatPage, MessageHtml, MessagesHtml, NoticeHtml};
use crate::{AppState, Message};

/// How long a login lasts.
const LOGIN_TTL: std::time::Duration = std::time::Duration::from_hours(24 * 14);

/// The longest message accepted.
const MAX_MESSAGE: usize = 1000;

/// An error answered as plain text, which the page shows under its form.
pub(crate) struct Problem(StatusCode, String);

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        (self.0, self.1).into_response()
    }
}

/// Refuses a request another site may have sent: the check the auth cookie is honoured
/// under, which is what keeps `/api/chat` from acting for a user on another site's behalf.
/// Without it, another site's form could log its visitors in as the attacker (they would chat
/// under the attacker's name, their notices going to the attacker's tabs), or log them out.
fn same_origin_only(headers: &HeaderMap, method: &Method) -> Result<(), Problem> {
    if axum_realtime::auth::is_same_origin(headers, method) {
        Ok(())
    } else {
        Err(Problem(
            StatusCode::FORBIDDEN,
            "this request must come from the chat's own page".into(),
        ))
    }
}

fn internal(err: impl std::fmt::Display) -> Problem {
    Problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("something went wrong: {err}"),
    )
}

pub(crate) async fn page(
    State(state): State<AppState>,
    auth: RequestAuth,
) -> Result<Html<String>, Problem> {
    let messages = state.db.history().await.map_err(internal)?;
    let user = auth
        .record()
        .and_then(AuthRecord::username)
        .map(str::to_owned);
    let page = ChatPage { messages, user };
    page.render().map(Html).map_err(internal)
}

pub(crate) async fn style() -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../static/style.css"),
    )
}

pub(crate) async fn script() -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../static/chat.js"),
    )
}

/// The stored messages, for a page that reloads them after a resync.
pub(crate) async fn messages(State(state): State<AppState>) -> Result<Html<String>, Problem> {
    let messages = state.db.history().await.map_err(internal)?;
    MessagesHtml { messages }
        .render()
        .map(Html)
        .map_err(internal)
}

pub(crate) async fn count(State(state): State<AppState>) -> Result<String, Problem> {
    let count = state.db.count().await.map_err(internal)?;
    Ok(if count == 1 {
        "1 message".to_owned()
    } else {
        format!("{count} messages")
    })
}

/// How long a post's answer waits for Redis to take its message: far longer than a round trip,
/// short enough that a stalled Redis does not hold posters for long.
const HANDED_ON_WITHIN: std::time::Duration = std::time::Duration::from_secs(2);

/// Answers a post once what it sent is with Redis (`Realtime::flush`; at once without
/// Redis): the message is captured after the handler returns, and an instance killed between
/// its answer and its publish would lose a message the poster saw accepted.
pub(crate) async fn answer_once_handed_on(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    if response.status().is_success() && !state.rt.flush(HANDED_ON_WITHIN).await {
        tracing::warn!(
            within = ?HANDED_ON_WITHIN,
            "answering a chat post whose message Redis has not taken yet"
        );
    }
    response
}

#[derive(Deserialize)]
pub(crate) struct ChatForm {
    message: String,
}

/// The seed's `sseSend('chat')`: the returned template is rendered once, broadcast to
/// everyone, and answered to the poster.
#[realtime_page(filter = axum_realtime::everyone)]
pub(crate) async fn post_chat(
    State(state): State<AppState>,
    auth: RequestAuth,
    Form(form): Form<ChatForm>,
) -> Result<MessageHtml, Problem> {
    let Some(user) = auth.record().and_then(AuthRecord::username) else {
        return Err(Problem(StatusCode::UNAUTHORIZED, "log in to chat".into()));
    };
    let text = form.message.trim();
    if text.is_empty() {
        return Err(Problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the message is empty".into(),
        ));
    }
    if text.chars().count() > MAX_MESSAGE {
        return Err(Problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("a message has at most {MAX_MESSAGE} characters"),
        ));
    }
    // Other instances' users would not see it: refused before it is stored, so that the
    // poster's retry is not a second copy.
    if state.rt.engine_status() == EngineStatus::Disconnected {
        return Err(Problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "the chat is reconnecting; try again in a moment".into(),
        ));
    }
    let message = Message {
        user: user.to_owned(),
        text: text.to_owned(),
    };
    let stored = state.db.insert(message).await.map_err(internal)?;
    // The seed's default filter: this notice reaches the poster's own tabs only.
    let notice = NoticeHtml {
        text: format!("Sent: “{}”", shorten(text)),
    };
    notice.capture(&state.rt, &auth).map_err(internal)?;
    Ok(MessageHtml { messages: [stored] })
}

fn shorten(text: &str) -> String {
    let mut short: String = text.chars().take(40).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    username: String,
}

/// `POST /login` with a form (the page) or JSON (an API client), from the chat's own page
/// (see [`same_origin_only`]).
pub(crate) async fn login(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, Problem> {
    same_origin_only(request.headers(), request.method())?;
    let is_json = request
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
    let form = if is_json {
        Json::<LoginForm>::from_request(request, &state)
            .await
            .map(|Json(form)| form)
            .map_err(|err| Problem(StatusCode::BAD_REQUEST, err.body_text()))?
    } else {
        Form::<LoginForm>::from_request(request, &state)
            .await
            .map(|Form(form)| form)
            .map_err(|err| Problem(StatusCode::BAD_REQUEST, err.body_text()))?
    };
    let username = form.username.trim();
    let valid = (1..=32).contains(&username.chars().count())
        && username
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    if !valid {
        return Err(Problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "a name has 1 to 32 letters, digits, `_` or `-`".into(),
        ));
    }
    let record = AuthRecord::new(username.to_lowercase()).with("username", username);
    let token = state.jwt.mint(&record).map_err(internal)?;
    // Tabs where this user is already logged in hear about it (default filter: theirs only).
    let notice = NoticeHtml {
        text: format!("{username} logged in in another tab"),
    };
    notice
        .capture(&state.rt, &RequestAuth::user(record.clone()))
        .map_err(internal)?;
    let mut headers = HeaderMap::new();
    headers.insert(SET_COOKIE, state.rt.auth_cookie(&token, LOGIN_TTL));
    Ok((headers, Json(json!({ "token": token, "record": record }))).into_response())
}

pub(crate) async fn logout(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
) -> Result<impl IntoResponse, Problem> {
    same_origin_only(&headers, &method)?;
    Ok((
        [(SET_COOKIE, state.rt.clear_auth_cookie())],
        StatusCode::NO_CONTENT,
    ))
}
