use axum_realtime::Client;

#[axum_realtime::channel("chat")]
#[template(source = "{{ text }}", ext = "html")]
struct MessageHtml {
    text: String,
}

#[axum_realtime::filter]
fn in_room(client: &Client, room: &str) -> bool {
    client.get::<String>("roomId").as_deref() == Some(room)
}

#[axum_realtime::realtime_page(filter = in_room(7, "lobby"))]
async fn post_chat(body: String) -> MessageHtml {
    MessageHtml { text: body }
}

fn main() {}
