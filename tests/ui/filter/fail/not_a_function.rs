#[axum_realtime::filter]
struct InRoom {
    room: String,
}

fn main() {}
