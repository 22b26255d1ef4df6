use axum_realtime::Client;

#[axum_realtime::filter]
fn room(client: &Client) -> Option<String> {
    client.get("roomId")
}

fn main() {}
