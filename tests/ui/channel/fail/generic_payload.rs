#[axum_realtime::channel("chat")]
struct ChatMsg<T> {
    body: T,
}

fn main() {}
