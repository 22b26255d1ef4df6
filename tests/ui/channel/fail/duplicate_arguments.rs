// Every mistake is reported in one build.
#[realtime::channel("chat", "news", crate = realtime, crate = realtime)]
struct ChatMsg {
    text: String,
}

fn main() {}
