use axum_realtime::Client;

struct Room {
    id: String,
}

#[axum_realtime::filter]
fn in_room(client: &Client, room: &Room) -> bool {
    client.get::<String>("roomId") == Some(room.id.clone())
}

fn main() {}
