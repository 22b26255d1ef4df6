#[axum_realtime::channel("chat\0")]
struct ChatMsg {
    text: String,
}

fn main() {}
