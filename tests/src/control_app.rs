//! The app the real-client tests run against: the realtime endpoint, plus control endpoints
//! through which a test sends, mints tokens, drops streams and inspects the registry.
//!
//! The contract is described in `tests/js/README.md`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Json;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum_realtime::filter::same_user_or_all;
use axum_realtime::{
    AuthRecord, Builder, Channel, Client, Filter, JwtAuth, OtherNodes, Realtime, RequestAuth,
    Template, channel, filter,
};
use serde_json::{Map, Value, json};

/// The signing secret of the test server's tokens.
pub const SECRET: &[u8] = b"realtime-tests-secret-32-bytes!!";

/// How many sends of each topic the control app keeps, so that a client resuming after a drop
/// in the middle of a burst gets every one it missed.
pub const HISTORY: usize = 1000;

/// The topic whose history is short enough for a test to outrun it (and get `PB_RESYNC`).
pub const SHORT_HISTORY_TOPIC: &str = "short";

/// How many sends [`SHORT_HISTORY_TOPIC`] keeps.
pub const SHORT_HISTORY: usize = 3;

/// The broker and router of the control app. The subscribe hook copies
/// `options.query.roomId` onto the client as `roomId`, as the seed's room filter needs. Every
/// topic keeps a history of [`HISTORY`] sends ([`SHORT_HISTORY_TOPIC`]: [`SHORT_HISTORY`]),
/// for five minutes.
pub fn control_app() -> (Realtime, Router) {
    let ttl = Duration::from_mins(5);
    control_app_with(|builder| {
        builder
            .history(HISTORY, ttl)
            .history_for(SHORT_HISTORY_TOPIC, SHORT_HISTORY, ttl)
    })
}

/// The control app on a broker that `configure` finishes (without the history of
/// [`control_app`]), e.g. one node of several:
/// `control_app_with(|builder| builder.redis(&url).unwrap())`.
pub fn control_app_with(configure: impl FnOnce(Builder) -> Builder) -> (Realtime, Router) {
    let builder = Realtime::builder()
        .authenticator(JwtAuth::new(SECRET))
        .on_subscribe(|client, sub| {
            if let Some(room) = sub.options().query.get("roomId") {
                client.set("roomId", room.clone());
            }
        });
    let rt = configure(builder).build();
    let jwt = Arc::new(JwtAuth::new(SECRET));
    let (send_rt, capture_rt, drop_rt, list_rt) = (rt.clone(), rt.clone(), rt.clone(), rt.clone());
    let router = Router::new()
        .route(
            "/test/send",
            post(
                move |auth: RequestAuth, Json(body): Json<Value>| async move {
                    send(&send_rt, &auth, &body)
                },
            ),
        )
        .route(
            "/test/capture",
            post(
                move |auth: RequestAuth, Json(body): Json<Value>| async move {
                    capture(&capture_rt, &auth, &body)
                },
            ),
        )
        .route(
            "/test/token",
            post(move |Json(body): Json<Value>| async move { token(&jwt, &body) }),
        )
        .route(
            "/test/drop",
            post(move || async move { Json(json!({ "dropped": drop_rt.disconnect_all() })) }),
        )
        .route(
            "/test/clients",
            get(move || async move { Json(clients(&list_rt)) }),
        );
    (rt.clone(), rt.mount(router))
}

/// A control endpoint's answer; bad input is a 400 that says what is wrong.
type Reply = Result<Json<Value>, (StatusCode, String)>;

fn bad(message: impl Into<String>) -> (StatusCode, String) {
    (StatusCode::BAD_REQUEST, message.into())
}

fn send(rt: &Realtime, auth: &RequestAuth, body: &Value) -> Reply {
    let topic = body["topic"]
        .as_str()
        .ok_or_else(|| bad("`topic` must be a string"))?;
    let delivery = rt
        .send_to(topic, &body["data"], filter_of(&body["filter"], auth)?)
        .map_err(|err| bad(err.to_string()))?;
    Ok(Json(json!({
        "reached": delivery.reached,
        "dropped": delivery.dropped,
        "otherNodes": other_nodes(delivery.other_nodes),
    })))
}

/// The name of the control app's captured HTML channel. Every test binary that links this
/// crate may see it among the registered channels.
pub const CAPTURED_HTML: &str = CapturedHtml::NAME;

/// The captured channel: a fragment rendered once, on the node that sends it.
#[channel("captured-html")]
#[derive(Template)]
#[template(source = "<p class=\"captured\">{{ text }}</p>", ext = "html")]
struct CapturedHtml {
    text: String,
}

fn capture(rt: &Realtime, auth: &RequestAuth, body: &Value) -> Reply {
    let text = body["text"]
        .as_str()
        .ok_or_else(|| bad("`text` must be a string"))?;
    let page = CapturedHtml { text: text.into() };
    let captured = page
        .capture_to(rt, filter_of(&body["filter"], auth)?)
        .map_err(|err| bad(err.to_string()))?;
    Ok(Json(json!({
        "html": captured.html,
        "reached": captured.delivery.reached,
        "otherNodes": other_nodes(captured.delivery.other_nodes),
    })))
}

/// The filter a control request names: `"default"` (by `auth`, the sender's), `"all"`, or
/// an object of [`rule_filter`] conditions.
fn filter_of(filter: &Value, auth: &RequestAuth) -> Result<Filter, (StatusCode, String)> {
    match filter {
        Value::String(name) if name == "default" => Ok(same_user_or_all(auth)),
        Value::String(name) if name == "all" => Ok(axum_realtime::everyone),
        Value::Object(rule) => Ok(rule_filter(rule)),
        other => Err(bad(format!("unknown filter {other}"))),
    }
}

fn other_nodes(other_nodes: OtherNodes) -> &'static str {
    match other_nodes {
        OtherNodes::Alone => "alone",
        OtherNodes::Published => "published",
        OtherNodes::Unreached => "unreached",
    }
}

/// The seed's custom filters, as portable built-in ones: by room, by user, by superuser, by
/// role, by another subscription, and by room again through a `#[filter]` function of this
/// crate (`roomFn`); every condition must hold. A condition the contract does not know reaches
/// nobody.
fn rule_filter(conditions: &Map<String, Value>) -> Filter {
    Filter::all(
        conditions
            .iter()
            .map(|(name, want)| match (name.as_str(), want) {
                ("room", Value::String(room)) => Filter::stored("roomId", room.as_str()),
                ("user", Value::String(id)) => Filter::user(id),
                ("superuser", Value::Bool(true)) => Filter::superusers(),
                ("role", Value::String(role)) => Filter::auth_field("role", role.as_str()),
                ("subscribed", Value::String(topic)) => Filter::subscribed_to(topic),
                ("roomFn", Value::String(room)) => in_room(room),
                _ => Filter::any([]),
            }),
    )
}

/// A client whose subscribe hook stored `room` as its `roomId`.
#[filter]
fn in_room(client: &Client, room: &str) -> bool {
    client.get::<String>("roomId").as_deref() == Some(room)
}

fn token(jwt: &JwtAuth, body: &Value) -> Reply {
    let id = body["id"]
        .as_str()
        .ok_or_else(|| bad("`id` must be a string"))?;
    let mut record = if body["superuser"] == Value::Bool(true) {
        AuthRecord::superuser(id)
    } else {
        AuthRecord::new(id)
    };
    for field in ["email", "username", "verified", "role"] {
        if let Some(value) = body.get(field) {
            record = record.with(field, value.clone());
        }
    }
    let token = jwt.mint(&record).map_err(|err| bad(err.to_string()))?;
    Ok(Json(json!({ "token": token, "record": record })))
}

fn clients(rt: &Realtime) -> Value {
    let clients = rt.clients();
    let subscriptions: Map<String, Value> = clients
        .iter()
        .map(|client| (client.id().to_string(), json!(client.subscriptions())))
        .collect();
    json!({ "clients": clients.len(), "subscriptions": subscriptions })
}
