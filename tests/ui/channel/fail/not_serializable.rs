struct Timestamp(u64);

#[axum_realtime::channel("chat")]
struct ChatMsg {
    text: String,
    at: Timestamp,
}

fn main() {}
