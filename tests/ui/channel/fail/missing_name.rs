#[axum_realtime::channel(crate = realtime)]
struct ChatMsg {
    text: String,
}

fn main() {}
