// A JSON channel: the struct derives `Serialize` through `realtime`; this crate's manifest has
// no serde. Sends take the default filter, a closure, or a named function.
use axum_realtime::{Client, ClientId, Realtime, RequestAuth, channel};

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

fn in_room(_id: &ClientId, client: &Client) -> bool {
    client.get::<String>("roomId").as_deref() == Some("123")
}

fn main() {
    let rt = Realtime::new();
    let msg = ChatMsg { user: "ann".into(), text: "hi".into() };
    let sent = msg.send(&rt, &RequestAuth::guest()).unwrap();
    assert_eq!(sent.reached, 0);
    let _ = msg.send_to(&rt, axum_realtime::everyone).unwrap();
    let _ = msg.send_to(&rt, in_room).unwrap();
    let _ = msg.send_to(&rt, |_, client| client.has_subscription("news")).unwrap();
    let _ = Status::Online { user: "ann".into() }.send(&rt, &RequestAuth::guest()).unwrap();
    let _ = Status::Offline.send_to(&rt, axum_realtime::everyone).unwrap();
    assert_eq!(<ChatMsg as axum_realtime::Channel>::NAME, "chat");
}
