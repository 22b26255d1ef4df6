//! `realtime` under another name (`realtime_renamed` in the manifest): `crate = ...` points the
//! generated code at it. Building this crate is the test; its unit test checks the generated code runs.
use realtime_renamed as rt;

/// A JSON channel.
#[rt::channel("chat", crate = rt)]
pub struct ChatMsg {
    /// The text.
    pub text: String,
}

/// An HTML channel.
#[rt::channel("chat-html", crate = ::realtime_renamed)]
#[template(source = "{{ text }}", ext = "html")]
pub struct MessageHtml {
    /// The text.
    pub text: String,
}

/// A page broadcasting to everyone.
#[rt::realtime_page(crate = rt, filter = rt::everyone)]
pub async fn page(body: String) -> MessageHtml {
    MessageHtml { text: body }
}

/// Clients in `room`.
#[rt::filter(crate = rt)]
pub fn in_room(client: &rt::Client, room: &str) -> bool {
    client.get::<String>("roomId").as_deref() == Some(room)
}

/// A page broadcasting to a room.
#[rt::realtime_page(crate = rt, filter = in_room("7"))]
pub async fn room_page(body: String) -> MessageHtml {
    MessageHtml { text: body }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_code_uses_the_renamed_crate() {
        let broker = rt::Realtime::new();
        let sent = ChatMsg {
            text: String::new(),
        }
        .send(&broker, &rt::RequestAuth::guest());
        assert_eq!(sent.unwrap().reached, 0);
        let captured =
            MessageHtml { text: "<i>".into() }.capture(&broker, &rt::RequestAuth::guest());
        assert_eq!(captured.unwrap().html, "&#60;i&#62;");
        let _app: axum::Router = broker.mount(
            axum::Router::new()
                .route("/", axum::routing::post(page))
                .route("/room", axum::routing::post(room_page)),
        );
        let client = rt::Client::detached();
        client.set("roomId", String::from("7"));
        assert!(in_room("7").accepts(&client));
        assert!(!in_room("8").accepts(&client));
    }
}
