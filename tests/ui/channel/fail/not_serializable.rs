struct Timestamp(u64);

#[realtime::channel("chat")]
struct ChatMsg {
    text: String,
    at: Timestamp,
}

fn main() {}
