#[axum_realtime::channel("chat", retry = 3)]
struct ChatMsg {
    text: String,
}

fn main() {}
