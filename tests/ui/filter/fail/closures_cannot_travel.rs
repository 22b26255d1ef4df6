use axum_realtime::{Client, ClientId, Realtime, channel};

#[channel("chat")]
struct ChatMsg {
    text: String,
}

#[channel("chat-html")]
#[template(source = "<p>{{ text }}</p>", ext = "html")]
struct ChatHtml {
    text: String,
}

#[axum_realtime::realtime_page(filter = |_, _| true)]
async fn post_chat(body: String) -> ChatHtml {
    ChatHtml { text: body }
}

fn not_a_bot(_id: &ClientId, client: &Client) -> bool {
    !client.has("bot")
}

fn main() {
    let rt = Realtime::new();
    let _ = rt.send_to("chat", "hi", |_: &ClientId, _: &Client| true);
    let _ = ChatMsg { text: "hi".into() }.send_to(&rt, not_a_bot);
    let _ = ChatHtml { text: "hi".into() }.capture_to(&rt, |_: &ClientId, client: &Client| client.has("name"));
}
