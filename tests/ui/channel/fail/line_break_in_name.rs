#[axum_realtime::channel("chat\nevent:evil")]
struct ChatMsg {
    text: String,
}

fn main() {}
