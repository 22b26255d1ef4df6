#[axum_realtime::channel("")]
struct ChatMsg {
    text: String,
}

fn main() {}
