use axum_realtime::Client;

#[axum_realtime::filter]
fn in_room(client: &Client, room: &mut String, name: &'static str, tags: impl AsRef<str>) -> bool {
    client.has(name) && room.is_empty() && tags.as_ref().is_empty()
}

fn main() {}
