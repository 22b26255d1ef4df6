// Every mistake is reported in one build.
#[axum_realtime::channel("chat", "news", crate = realtime, crate = realtime)]
struct ChatMsg {
    text: String,
}

fn main() {}
