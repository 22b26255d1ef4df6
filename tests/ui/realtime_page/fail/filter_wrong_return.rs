use axum_realtime::Client;

#[axum_realtime::channel("chat")]
#[template(source = "{{ text }}", ext = "html")]
struct MessageHtml {
    text: String,
}

#[axum_realtime::filter]
fn room(client: &Client) -> Option<String> {
    client.get("roomId")
}

#[axum_realtime::realtime_page(filter = room())]
async fn post_chat(body: String) -> MessageHtml {
    MessageHtml { text: body }
}

fn main() {}
