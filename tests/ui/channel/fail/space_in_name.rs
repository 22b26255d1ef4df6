#[axum_realtime::channel("chat room")]
struct ChatMsg {
    text: String,
}

fn main() {}
