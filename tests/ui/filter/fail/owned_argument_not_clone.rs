use axum_realtime::Client;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Room {
    id: String,
}

#[axum_realtime::filter]
fn in_room(client: &Client, room: Room) -> bool {
    client.get::<String>("roomId") == Some(room.id)
}

fn main() {}
