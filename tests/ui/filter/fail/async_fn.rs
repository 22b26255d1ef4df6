use axum_realtime::Client;

#[axum_realtime::filter]
async fn in_room(client: &Client, room: &str) -> bool {
    client.get::<String>("roomId").as_deref() == Some(room)
}

fn main() {}
