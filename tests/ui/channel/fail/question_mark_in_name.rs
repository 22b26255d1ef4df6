#[axum_realtime::channel("chat?options=1")]
struct ChatMsg {
    text: String,
}

fn main() {}
