use axum_realtime::Client;

#[axum_realtime::filter]
fn in_room(client: &Client, room: &str) -> bool {
    client.get::<u32>("roomId") == Some(room)
}

fn main() {}
