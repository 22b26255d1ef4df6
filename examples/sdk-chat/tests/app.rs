//! The SDK chat over real loopback sockets: a raw-protocol subscriber receives each posted
//! message as one line of JSON, the history keeps it, and bad input is a 400 with a JSON error.

use std::net::SocketAddr;
use std::time::Duration;

use axum_realtime::Realtime;
use example_sdk_chat::db::{FILE_NAME, HISTORY};
use example_sdk_chat::{ChatMessage, Db, app};
use realtime_tests::raw_http::{READ_TIMEOUT, Response, SseStream, post_realtime, request};
use realtime_tests::server::TestServer;
use serde_json::{Value, json};

async fn start() -> TestServer {
    let db = Db::in_memory().expect("an in-memory database");
    {
        let rt = Realtime::new();
        TestServer::start(&rt, app(&rt, db)).await
    }
}

/// A stream subscribed to `chat` through the raw protocol: `PB_CONNECT`, then the POST.
async fn subscriber(addr: SocketAddr) -> SseStream {
    let mut stream = SseStream::open(addr, &[]).await;
    assert_eq!(stream.status, 200);
    let id = stream.client_id().await;
    let body = format!(r#"{{"clientId":"{id}","subscriptions":["chat"]}}"#);
    assert_eq!(post_realtime(addr, &body, None).await.status, 204);
    stream
}

async fn post_chat(addr: SocketAddr, content_type: &str, body: &[u8]) -> Response {
    let head = format!("POST /chat HTTP/1.1\r\nContent-Type: {content_type}");
    request(addr, &head, body).await
}

fn json_body(response: &Response) -> Value {
    assert_eq!(
        response.header("content-type"),
        Some("application/json"),
        "{}",
        response.text()
    );
    serde_json::from_slice(&response.body)
        .unwrap_or_else(|err| panic!("not JSON ({err}): {}", response.text()))
}

async fn history(addr: SocketAddr) -> Value {
    let response = request(addr, "GET /api/messages HTTP/1.1", b"").await;
    assert_eq!(response.status, 200, "{}", response.text());
    json_body(&response)
}

/// The `data:` line of a `chat` event, checked to be the whole event's only data line.
fn chat_data(event: &str) -> &str {
    let mut lines = event
        .strip_suffix("\n\n")
        .expect("a complete event")
        .split('\n');
    assert!(
        lines.next().is_some_and(|l| l.starts_with("id:")),
        "{event:?}"
    );
    assert_eq!(lines.next(), Some("event:chat"), "{event:?}");
    let data = lines
        .next()
        .and_then(|l| l.strip_prefix("data:"))
        .unwrap_or_else(|| panic!("no data line in {event:?}"));
    assert_eq!(lines.next(), None, "one data line only: {event:?}");
    data
}

#[tokio::test]
async fn a_posted_message_reaches_subscribers_as_one_line_of_json() {
    let server = start().await;
    let mut ann = subscriber(server.addr).await;
    let mut bob = subscriber(server.addr).await;

    let text = "hi <b>\"there\"</b> & 'you'\nsecond line ✓";
    let body = json!({ "user": "  ann ", "text": text }).to_string();
    let response = post_chat(server.addr, "application/json", body.as_bytes()).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.text(), r#"{"status":"sent","reached":2}"#);

    let expected = json!({ "text": text, "user": "ann" }).to_string();
    for stream in [&mut ann, &mut bob] {
        let event = stream
            .next_event(READ_TIMEOUT)
            .await
            .expect("the chat event within the timeout");
        let data = chat_data(&event);
        // Byte for byte: the typed channel's field order, JSON-escaped newline, raw UTF-8.
        assert_eq!(data, expected);
        assert_eq!(
            data,
            r#"{"text":"hi <b>\"there\"</b> & 'you'\nsecond line ✓","user":"ann"}"#
        );
    }

    assert_eq!(
        history(server.addr).await,
        json!([{ "text": text, "user": "ann" }])
    );
}

#[tokio::test]
async fn a_form_post_with_the_seeds_field_name_works_too() {
    let server = start().await;
    let mut stream = subscriber(server.addr).await;
    let response = post_chat(
        server.addr,
        "application/x-www-form-urlencoded",
        b"user=bob&message=one%0D%0Atwo+%26+three",
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        json_body(&response),
        json!({ "status": "sent", "reached": 1 })
    );
    let event = stream
        .next_event(READ_TIMEOUT)
        .await
        .expect("the chat event");
    assert_eq!(
        chat_data(&event),
        r#"{"text":"one\ntwo & three","user":"bob"}"#
    );
}

#[tokio::test]
async fn bad_input_is_a_json_error_and_is_neither_stored_nor_sent() {
    let server = start().await;
    let mut stream = subscriber(server.addr).await;
    let json_type = "application/json";
    let form_type = "application/x-www-form-urlencoded";
    let long_text = "x".repeat(example_sdk_chat::input::MAX_TEXT_CHARS + 1);
    let long_name = "n".repeat(example_sdk_chat::input::MAX_USER_CHARS + 1);
    let huge = format!(
        r#"{{"user":"ann","text":"{}"}}"#,
        "x".repeat(example_sdk_chat::input::MAX_BODY_BYTES)
    );
    let cases: Vec<(&str, String, u16, Option<&str>)> = vec![
        (
            json_type,
            r#"{"user":"ann","text":""}"#.into(),
            400,
            Some("text"),
        ),
        (
            json_type,
            r#"{"user":"ann","text":" \n\t "}"#.into(),
            400,
            Some("text"),
        ),
        (json_type, r#"{"user":"ann"}"#.into(), 400, Some("text")),
        (
            json_type,
            r#"{"user":"","text":"hi"}"#.into(),
            400,
            Some("user"),
        ),
        (json_type, r#"{"text":"hi"}"#.into(), 400, Some("user")),
        (
            json_type,
            r#"{"user":"a\nb","text":"hi"}"#.into(),
            400,
            Some("user"),
        ),
        (
            json_type,
            r#"{"user":"ann","text":"a\u0000b"}"#.into(),
            400,
            Some("text"),
        ),
        (
            json_type,
            json!({"user": "ann", "text": long_text}).to_string(),
            400,
            Some("text"),
        ),
        (
            json_type,
            json!({"user": long_name, "text": "hi"}).to_string(),
            400,
            Some("user"),
        ),
        (json_type, r#"{"user":1,"text":"hi"}"#.into(), 400, None),
        (json_type, r#"{"user":"ann","text":"hi""#.into(), 400, None),
        (json_type, "null".into(), 400, None),
        (json_type, String::new(), 400, None),
        (form_type, "user=ann&text=".into(), 400, Some("text")),
        (form_type, "user=ann&text=a%00b".into(), 400, Some("text")),
        ("text/plain", "hello".into(), 415, None),
        (json_type, huge, 413, None),
    ];
    for (content_type, body, status, field) in cases {
        let response = post_chat(server.addr, content_type, body.as_bytes()).await;
        let what = format!("{content_type} {:?}", body.get(..60).unwrap_or(&body));
        assert_eq!(response.status, status, "{what}: {}", response.text());
        let error = json_body(&response);
        assert!(
            error["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{what}: {error}"
        );
        assert_eq!(error["field"].as_str(), field, "{what}: {error}");
    }

    assert_eq!(history(server.addr).await, json!([]));
    assert_eq!(stream.next_event(Duration::from_millis(300)).await, None);
}

#[tokio::test]
async fn the_history_is_the_latest_messages_oldest_first() {
    let db = Db::in_memory().expect("an in-memory database");
    let total = HISTORY + 5;
    for n in 1..=total {
        let message = ChatMessage {
            text: format!("message {n}"),
            user: "ann".into(),
        };
        db.store(message).await.expect("stored");
    }
    let server = {
        let rt = Realtime::new();
        TestServer::start(&rt, app(&rt, db)).await
    };
    let response = request(server.addr, "GET /api/messages HTTP/1.1", b"").await;
    assert_eq!(response.header("cache-control"), Some("no-store"));
    let messages = json_body(&response);
    let texts: Vec<&str> = messages
        .as_array()
        .expect("an array")
        .iter()
        .map(|m| m["text"].as_str().expect("text"))
        .collect();
    let expected: Vec<String> = (6..=total).map(|n| format!("message {n}")).collect();
    assert_eq!(texts, expected);
}

#[tokio::test]
async fn messages_survive_reopening_the_database() {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_nanos();
    let dir = std::env::temp_dir().join(format!("sdk-chat-test-{}-{nanos}", std::process::id()));
    let message = ChatMessage {
        text: "kept".into(),
        user: "ann".into(),
    };
    {
        let db = Db::open_in(&dir).expect("open");
        db.store(message.clone()).await.expect("stored");
    }
    assert!(dir.join(FILE_NAME).is_file());
    let reopened = Db::open_in(&dir).expect("reopen");
    assert_eq!(reopened.history().await.expect("history"), vec![message]);
    drop(reopened);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_page_loads_the_sdk_and_subscribes_to_chat() {
    let server = start().await;
    let page = request(server.addr, "GET / HTTP/1.1", b"").await;
    assert_eq!(page.status, 200);
    let csp = page.header("content-security-policy").expect("a CSP");
    assert!(csp.contains("default-src 'self'"), "{csp}");
    let html = page.text();
    let sdk = example_support::assets::POCKETBASE_PATH;
    assert!(
        html.contains(&format!(r#"<script src="{sdk}" defer></script>"#)),
        "{html}"
    );
    assert!(!html.contains("{{"), "an unfilled placeholder: {html}");
    // The tabs helper wraps `EventSource` and `fetch` before the SDK is loaded.
    let tabs = axum_realtime::endpoint::SDK_TABS_PATH;
    let helper_at = html.find(&format!(r#"<script src="{tabs}" defer></script>"#));
    let sdk_at = html.find(&format!(r#"<script src="{sdk}""#));
    assert!(
        helper_at.is_some_and(|at| sdk_at.is_some_and(|sdk_at| at < sdk_at)),
        "{tabs} must be loaded before the SDK: {html}"
    );
    let helper = request(server.addr, &format!("GET {tabs} HTTP/1.1"), b"").await;
    assert_eq!(helper.status, 200);
    assert!(helper.text().contains("resumesRealtime"));
    assert!(helper.text().contains("sharedByTabs"));

    let script = request(server.addr, "GET /chat.js HTTP/1.1", b"").await;
    assert_eq!(script.status, 200);
    let js = script.text();
    for needle in [
        "new PocketBase(location.origin)",
        "pb.realtime.subscribe(\"chat\"",
        "pb.realtime.subscribe(\"PB_RESYNC\"",
        "pb.realtime.onDisconnect",
        "pb.realtime.isConnected",
    ] {
        assert!(js.contains(needle), "chat.js lacks {needle}");
    }
    assert!(
        !js.contains("innerHTML"),
        "user data must go through textContent"
    );

    let sdk_js = request(server.addr, &format!("GET {sdk} HTTP/1.1"), b"").await;
    assert_eq!(sdk_js.status, 200);
    assert!(sdk_js.text().contains("PocketBase"));
    let css = request(server.addr, "GET /chat.css HTTP/1.1", b"").await;
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
}
