use axum::{Router, routing::post};
use axum_realtime::{Client, Filter, JwtAuth, Realtime, RequestAuth, Template, channel, filter, realtime_page};

/// A typed JSON channel: the struct is the payload, `send` and `send_to` are generated.
#[channel("notifications")]
struct Notification {
    text: String,
}

/// A typed HTML channel: the rendered template is the payload.
#[channel("chat")]
#[derive(Template)]
#[template(source = "<div class=\"message\">{{ text }}</div>", ext = "html")]
struct MessageHtml {
    text: String,
}

/// Render capture: the returned template is rendered once, broadcast on `chat` to everyone,
/// and answered to the poster.
#[realtime_page(filter = axum_realtime::everyone)]
async fn post_chat(text: String) -> MessageHtml {
    MessageHtml { text }
}

/// The default filter: an authenticated user's message goes to that user's own tabs only, a
/// guest's to everyone.
async fn save(rt: axum::Extension<Realtime>, auth: RequestAuth) -> String {
    let note = Notification { text: "saved".into() };
    match note.send(&rt, &auth) {
        Ok(delivery) => format!("reached {} tabs", delivery.reached),
        Err(err) => format!("not sent: {err}"),
    }
}

/// A filter of your own: `(clientId, client) => client.get('roomId') === room`. It becomes
/// `in_room(room) -> Filter`, a value that names the function and carries `room`, so that it
/// can also run on the other nodes of a cluster.
#[filter]
fn in_room(client: &Client, room: &str) -> bool {
    client.get::<String>("roomId").as_deref() == Some(room)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let rt = Realtime::builder()
        .authenticator(JwtAuth::new(b"a secret of at least 32 bytes!!!"))
        // The room from the options the SDK sends with `subscribe('chat', cb, {query: {roomId}})`.
        .on_subscribe(|client, sub| {
            if let Some(room) = sub.options().query.get("roomId") {
                client.set("roomId", room.clone());
            }
        })
        .build();

    let _ = Notification { text: "room update".into() }.send_to(&rt, in_room("123"));
    // Combined with the built-in filters: the room's moderators, and every superuser.
    let staff = in_room("123").and(Filter::auth_field("role", "moderator")).or(Filter::superusers());
    let _ = Notification { text: "report filed".into() }.send_to(&rt, staff);

    let app = rt.mount(
        Router::new()
            .route("/api/chat", post(post_chat))
            .route("/save", post(save)),
    );
    // A listen backlog of 4096, so that a crowd of reconnecting clients is not turned away.
    let listener = axum_realtime::serve::bind("127.0.0.1:8090".parse().unwrap())?;
    // Hyper with the router, the peer's address for PocketBase's same-address check, and the
    // limits and deadlines of a public server; on Ctrl-C, streams end and the server stops.
    rt.serve(listener, app)
        .with_graceful_shutdown(async { tokio::signal::ctrl_c().await.ok(); })
        .await
}
