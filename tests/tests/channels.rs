//! Typed channels end to end: JSON sends, HTML captures and `#[realtime_page]` handlers, read
//! off a real stream.

use axum::Router;
use axum::routing::post;
use axum_realtime::{
    Channel, Client, Realtime, RequestAuth, Template, channel, everyone, filter, realtime_page,
};
use realtime_tests::raw_http::{READ_TIMEOUT, SseStream, post_realtime, request};
use realtime_tests::server::TestServer;

#[channel("chat")]
struct ChatMsg {
    user: String,
    text: String,
}

/// One message as rendered inside the chat page: the `messages` block of `chat.html` with a
/// single message, so the page and the broadcast fragment share one file.
#[channel("chat-html")]
#[derive(Template)]
#[template(path = "chat.html", block = "messages")]
struct MessageHtml {
    messages: [Message; 1],
}

struct Message {
    user: String,
    text: String,
}

/// The whole page, from the same file.
#[derive(Template)]
#[template(path = "chat.html", askama = axum_realtime::askama)]
struct ChatPage {
    messages: Vec<Message>,
}

/// Clients whose store holds this `name`.
#[filter]
fn named(client: &Client, name: &str) -> bool {
    client.get::<String>("name").as_deref() == Some(name)
}

/// Clients with a name at all.
#[filter]
fn has_name(client: &Client) -> bool {
    client.has("name")
}

#[realtime_page]
async fn post_default(axum::extract::Json(text): axum::extract::Json<String>) -> MessageHtml {
    MessageHtml {
        messages: [Message {
            user: "guest".into(),
            text,
        }],
    }
}

#[realtime_page(filter = named("ann"))]
async fn post_to_ann(body: String) -> Result<MessageHtml, (axum::http::StatusCode, &'static str)> {
    if body.is_empty() {
        return Err((
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "empty message",
        ));
    }
    Ok(MessageHtml {
        messages: [Message {
            user: "bob".into(),
            text: body,
        }],
    })
}

#[realtime_page(filter = has_name())]
async fn post_to_named(body: String) -> MessageHtml {
    MessageHtml {
        messages: [Message {
            user: "cy".into(),
            text: body,
        }],
    }
}

async fn subscribed(server: &TestServer, topic: &str) -> (SseStream, String) {
    let mut stream = SseStream::open(server.addr, &[]).await;
    let id = stream.client_id().await;
    let body = format!(r#"{{"clientId":"{id}","subscriptions":["{topic}"]}}"#);
    assert_eq!(post_realtime(server.addr, &body, None).await.status, 204);
    (stream, id)
}

async fn post_text(
    server: &TestServer,
    path: &str,
    body: &[u8],
) -> realtime_tests::raw_http::Response {
    let head = format!("POST {path} HTTP/1.1\r\nContent-Type: text/plain");
    request(server.addr, &head, body).await
}

fn data_of(event: &str) -> &str {
    event
        .split("\ndata:")
        .nth(1)
        .expect("a data line")
        .trim_end_matches('\n')
}

#[tokio::test]
async fn json_channel_sends_its_struct() {
    let rt = Realtime::new();
    let server = TestServer::start(&rt, rt.mount(Router::new())).await;
    let (mut stream, _) = subscribed(&server, "chat").await;
    let msg = ChatMsg {
        user: "ann".into(),
        text: "hi \"there\"\n".into(),
    };
    assert_eq!(msg.send(&rt, &RequestAuth::guest()).unwrap().reached, 1);
    let event = stream.next_event(READ_TIMEOUT).await.unwrap();
    assert!(event.contains("\nevent:chat\n"), "{event}");
    assert_eq!(data_of(&event), r#"{"user":"ann","text":"hi \"there\"\n"}"#);
    assert_eq!(msg.send_to(&rt, !everyone).unwrap().reached, 0);
    assert_eq!(<ChatMsg as Channel>::NAME, "chat");
}

#[tokio::test]
async fn a_block_of_the_page_template_is_the_broadcast_fragment() {
    let message = || Message {
        user: "ann".into(),
        text: "<script>alert(1)</script> & \"q\"".into(),
    };
    let page = ChatPage {
        messages: vec![message()],
    }
    .render()
    .unwrap();
    let fragment = MessageHtml {
        messages: [message()],
    }
    .render()
    .unwrap();
    assert!(
        page.contains(&fragment),
        "the page embeds the fragment:\n{page}\n{fragment}"
    );
    assert_eq!(
        fragment,
        "<div class=\"message\"><strong>ann:</strong> &#60;script&#62;alert(1)&#60;/script&#62; &#38; &#34;q&#34;</div>"
    );
}

#[tokio::test]
async fn realtime_page_renders_once_broadcasts_and_answers() {
    let rt = Realtime::new();
    let app = rt.mount(
        Router::new()
            .route("/default", post(post_default))
            .route("/ann", post(post_to_ann))
            .route("/named", post(post_to_named)),
    );
    let server = TestServer::start(&rt, app).await;
    let (mut anns, ann_id) = subscribed(&server, "chat-html").await;
    let (mut other, _) = subscribed(&server, "chat-html").await;
    rt.client(&ann_id).unwrap().set("name", String::from("ann"));

    let response = request(
        server.addr,
        "POST /default HTTP/1.1\r\nContent-Type: application/json",
        br#""line one\nline <b>two</b>""#,
    )
    .await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let html = "<div class=\"message\"><strong>guest:</strong> line one\nline &#60;b&#62;two&#60;/b&#62;</div>";
    assert_eq!(response.text(), html, "the poster gets the broadcast HTML");
    for stream in [&mut anns, &mut other] {
        let event = stream.next_event(READ_TIMEOUT).await.unwrap();
        let data = data_of(&event);
        assert!(!data.contains('\n'), "one data line: {event:?}");
        assert_eq!(serde_json::from_str::<String>(data).unwrap(), html);
    }

    let response = post_text(&server, "/ann", b"psst").await;
    assert_eq!(response.status, 200);
    assert!(
        anns.next_event(READ_TIMEOUT)
            .await
            .unwrap()
            .contains("psst")
    );
    assert!(
        other
            .next_event(std::time::Duration::from_millis(300))
            .await
            .is_none()
    );

    let response = post_text(&server, "/ann", b"").await;
    assert_eq!(
        (response.status, response.text().as_str()),
        (422, "empty message")
    );
    assert!(
        anns.next_event(std::time::Duration::from_millis(300))
            .await
            .is_none(),
        "an Err broadcasts nothing"
    );

    let response = post_text(&server, "/named", b"hello named").await;
    assert_eq!(response.status, 200);
    assert!(
        anns.next_event(READ_TIMEOUT)
            .await
            .unwrap()
            .contains("hello named")
    );
}

#[tokio::test]
async fn the_default_filter_uses_the_requesters_auth() {
    let jwt = axum_realtime::JwtAuth::new(realtime_tests::control_app::SECRET);
    let token = jwt.mint(&axum_realtime::AuthRecord::new("ann")).unwrap();
    let rt = Realtime::builder().authenticator(jwt).build();
    let server = TestServer::start(
        &rt,
        rt.mount(Router::new().route("/default", post(post_default))),
    )
    .await;
    let mut anns = SseStream::open(server.addr, &[]).await;
    let ann_id = anns.client_id().await;
    let body = format!(r#"{{"clientId":"{ann_id}","subscriptions":["chat-html"]}}"#);
    assert_eq!(
        post_realtime(server.addr, &body, Some(&token)).await.status,
        204
    );
    let (mut guest, _) = subscribed(&server, "chat-html").await;

    let head = format!(
        "POST /default HTTP/1.1\r\nContent-Type: application/json\r\nAuthorization: Bearer {token}"
    );
    let response = request(server.addr, &head, br#""mine""#).await;
    assert_eq!(response.status, 200);
    assert!(
        anns.next_event(READ_TIMEOUT)
            .await
            .unwrap()
            .contains("mine")
    );
    assert!(
        guest
            .next_event(std::time::Duration::from_millis(300))
            .await
            .is_none()
    );
}

/// `send` and `capture` (the `JsonChannel` / `HtmlChannel` methods behind the inherent ones)
/// reach the sender's own user when the sender is authenticated, and everyone for a guest.
#[tokio::test]
async fn typed_sends_use_the_default_filter() {
    let jwt = axum_realtime::JwtAuth::new(realtime_tests::control_app::SECRET);
    let ann = axum_realtime::AuthRecord::new("ann");
    let token = jwt.mint(&ann).unwrap();
    let rt = Realtime::builder().authenticator(jwt).build();
    let server = TestServer::start(&rt, rt.mount(Router::new())).await;
    let mut anns = SseStream::open(server.addr, &[]).await;
    let ann_id = anns.client_id().await;
    let body = format!(r#"{{"clientId":"{ann_id}","subscriptions":["chat","chat-html"]}}"#);
    assert_eq!(
        post_realtime(server.addr, &body, Some(&token)).await.status,
        204
    );
    let mut guest = SseStream::open(server.addr, &[]).await;
    let guest_id = guest.client_id().await;
    let body = format!(r#"{{"clientId":"{guest_id}","subscriptions":["chat","chat-html"]}}"#);
    assert_eq!(post_realtime(server.addr, &body, None).await.status, 204);

    let as_ann = RequestAuth::user(ann);
    let msg = ChatMsg {
        user: "ann".into(),
        text: "mine".into(),
    };
    assert_eq!(msg.send(&rt, &as_ann).unwrap().reached, 1);
    let page = MessageHtml {
        messages: [Message {
            user: "ann".into(),
            text: "mine too".into(),
        }],
    };
    assert_eq!(page.capture(&rt, &as_ann).unwrap().delivery.reached, 1);
    assert!(
        anns.next_event(READ_TIMEOUT)
            .await
            .unwrap()
            .contains("mine")
    );
    assert!(
        anns.next_event(READ_TIMEOUT)
            .await
            .unwrap()
            .contains("mine too")
    );
    assert!(
        guest
            .next_event(std::time::Duration::from_millis(300))
            .await
            .is_none(),
        "a user's sends stay with that user"
    );

    assert_eq!(msg.send(&rt, &RequestAuth::guest()).unwrap().reached, 2);
    assert_eq!(
        page.capture(&rt, &RequestAuth::guest())
            .unwrap()
            .delivery
            .reached,
        2
    );
}

#[test]
fn channels_are_registered() {
    // The shared control app's own channel is linked into this binary too (or not, as the
    // linker keeps or drops that unused code): only this file's count here.
    let mut names: Vec<_> = axum_realtime::channel::channels()
        .filter(|c| c.name != realtime_tests::control_app::CAPTURED_HTML)
        .map(|c| (c.name, c.kind))
        .collect();
    names.sort_by_key(|(name, _)| *name);
    assert_eq!(
        names,
        [
            ("chat", axum_realtime::channel::ChannelKind::Json),
            ("chat-html", axum_realtime::channel::ChannelKind::Html)
        ]
    );
}
