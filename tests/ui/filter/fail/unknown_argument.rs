use axum_realtime::Client;

#[axum_realtime::filter(name = "rooms::in_room")]
fn in_room(client: &Client) -> bool {
    client.has("roomId")
}

fn main() {}
