#[axum_realtime::channel("chat")]
struct ChatMsg {
    text: String,
}

#[axum_realtime::realtime_page]
async fn post_chat(body: String) -> ChatMsg {
    ChatMsg { text: body }
}

fn main() {}
