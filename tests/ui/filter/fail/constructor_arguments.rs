use axum_realtime::{Client, Realtime};

#[axum_realtime::filter]
fn in_room(client: &Client, room: &str) -> bool {
    client.get::<String>("roomId").as_deref() == Some(room)
}

fn main() {
    let rt = Realtime::new();
    let _ = rt.send_to("chat", "hi", in_room(7));
    let _ = rt.send_to("chat", "hi", in_room);
}
