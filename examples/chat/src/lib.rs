//! The chat example's application: the realtime endpoint, and `POST /api/chat`, which
//! broadcasts a message to every subscriber of `chat`.

use axum::Router;
use axum::extract::Json;
use axum::http::StatusCode;
use axum::response::Html;
use axum::routing::{get, post};
use realtime::{Realtime, channel};
use serde::{Deserialize, Serialize};

/// A chat message, as posted and as broadcast on the typed channel `chat`.
#[channel("chat")]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Who wrote it.
    pub user: String,
    /// What they wrote.
    pub text: String,
}

/// The example's router, with the realtime endpoint mounted on `rt`.
pub fn app(rt: &Realtime) -> Router {
    let sender = rt.clone();
    rt.mount(
        Router::new()
            .route("/", get(|| async { Html(include_str!("../index.html")) }))
            .route(
                "/api/chat",
                post(move |Json(message): Json<ChatMessage>| async move {
                    // The seed's chat overrides the default filter: everyone gets every message.
                    match message.send_to(&sender, realtime::everyone) {
                        Ok(delivery) => Ok(Json(Sent {
                            reached: delivery.reached,
                        })),
                        Err(err) => Err((StatusCode::INTERNAL_SERVER_ERROR, err.to_string())),
                    }
                }),
            ),
    )
}

/// The answer to a post: how many clients the message reached.
#[derive(Debug, Serialize)]
pub struct Sent {
    /// Clients reached.
    pub reached: usize,
}
