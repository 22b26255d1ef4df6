//! The example serves the realtime endpoint and broadcasts posted messages.

use realtime::Realtime;
use realtime_tests::raw_http::{READ_TIMEOUT, SseStream, post_realtime, request};
use realtime_tests::server::TestServer;

#[tokio::test]
async fn a_posted_message_reaches_a_subscriber() {
    let rt = Realtime::new();
    let server = TestServer::start(example_chat::app(&rt)).await;
    let mut stream = SseStream::open(server.addr, &[]).await;
    let id = stream.client_id().await;
    let body = format!(r#"{{"clientId":"{id}","subscriptions":["chat"]}}"#);
    assert_eq!(post_realtime(server.addr, &body, None).await.status, 204);

    let response = request(
        server.addr,
        "POST /api/chat HTTP/1.1\r\nContent-Type: application/json",
        br#"{"user":"ann","text":"hi <b>there</b>"}"#,
    )
    .await;
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), r#"{"reached":1}"#);
    let event = stream
        .next_event(READ_TIMEOUT)
        .await
        .expect("the chat event");
    assert!(
        event.ends_with("\nevent:chat\ndata:{\"user\":\"ann\",\"text\":\"hi <b>there</b>\"}\n\n"),
        "{event}"
    );

    let page = request(server.addr, "GET / HTTP/1.1", b"").await;
    assert!(page.text().contains("new EventSource('/api/realtime')"));
}
