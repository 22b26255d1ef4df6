// Closures stay accepted by the sends whose names say they stay on this node.
use axum_realtime::{Client, ClientId, Realtime, channel};

#[channel("chat")]
struct ChatMsg {
    text: String,
}

#[channel("chat-html")]
#[template(source = "<p>{{ text }}</p>", ext = "html")]
struct ChatHtml {
    text: String,
}

fn not_a_bot(_id: &ClientId, client: &Client) -> bool {
    !client.has("bot")
}

fn main() {
    let rt = Realtime::new();
    let room = String::from("7");
    let in_room = move |_: &ClientId, client: &Client| client.get::<String>("roomId") == Some(room.clone());
    let _ = ChatMsg { text: "hi".into() }.send_local(&rt, &in_room).unwrap();
    let _ = ChatMsg { text: "hi".into() }.send_local(&rt, not_a_bot).unwrap();
    let _ = ChatHtml { text: "hi".into() }.capture_local(&rt, |_, client| client.has("name")).unwrap();
    let _ = rt.send_local("chat", "hi", |id, _| id.as_str().starts_with('a')).unwrap();
}
