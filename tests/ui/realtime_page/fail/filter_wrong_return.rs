use axum_realtime::{Client, ClientId};

#[axum_realtime::channel("chat")]
#[template(source = "{{ text }}", ext = "html")]
struct MessageHtml {
    text: String,
}

fn room(_id: &ClientId, client: &Client) -> Option<String> {
    client.get("roomId")
}

#[axum_realtime::realtime_page(filter = room)]
async fn post_chat(body: String) -> MessageHtml {
    MessageHtml { text: body }
}

fn main() {}
