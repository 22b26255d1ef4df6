use axum_realtime::Client;

#[axum_realtime::filter]
fn in_room(client: &Client, room: &str) {
    let _ = (client, room);
}

fn main() {}
