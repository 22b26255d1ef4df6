use realtime::{Client, ClientId};

#[realtime::channel("chat")]
#[template(source = "{{ text }}", ext = "html")]
struct MessageHtml {
    text: String,
}

fn room(_id: &ClientId, client: &Client) -> Option<String> {
    client.get("roomId")
}

#[realtime::realtime_page(filter = room)]
async fn post_chat(body: String) -> MessageHtml {
    MessageHtml { text: body }
}

fn main() {}
