// `crate = path` points the generated code at a renamed runtime crate.
use axum_realtime as rt;

#[rt::filter(crate = rt)]
fn in_room(client: &rt::Client, room: &str) -> bool {
    client.get::<String>("roomId").as_deref() == Some(room)
}

fn main() {
    let client = rt::Client::detached();
    client.set("roomId", String::from("7"));
    assert!(in_room("7").accepts(&client));
}
