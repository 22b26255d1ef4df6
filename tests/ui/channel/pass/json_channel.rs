// A JSON channel: the struct derives `Serialize` through `realtime`; this crate's manifest has
// no serde. Sends take the default filter, a built-in filter, or a `#[filter]` function; a
// local send takes a closure.
use axum_realtime::{Client, Filter, Realtime, RequestAuth, channel, filter};

#[channel("chat")]
pub struct ChatMsg {
    pub user: String,
    pub text: String,
}

#[channel("status")]
enum Status {
    Online { user: String },
    Offline,
}

#[filter]
fn in_room(client: &Client, room: &str) -> bool {
    client.get::<String>("roomId").as_deref() == Some(room)
}

fn main() {
    let rt = Realtime::new();
    let msg = ChatMsg { user: "ann".into(), text: "hi".into() };
    let sent = msg.send(&rt, &RequestAuth::guest()).unwrap();
    assert_eq!(sent.reached, 0);
    let _ = msg.send_to(&rt, axum_realtime::everyone).unwrap();
    let _ = msg.send_to(&rt, in_room("123")).unwrap();
    let _ = msg.send_to(&rt, Filter::subscribed_to("news")).unwrap();
    let _ = msg.send_local(&rt, |_, client| client.has_subscription("news")).unwrap();
    let _ = Status::Online { user: "ann".into() }.send(&rt, &RequestAuth::guest()).unwrap();
    let _ = Status::Offline.send_to(&rt, axum_realtime::everyone).unwrap();
    assert_eq!(<ChatMsg as axum_realtime::Channel>::NAME, "chat");
}
