//! The realtime endpoint byte for byte: stream framing, subscriptions, error bodies, lifetimes.

use std::time::Duration;

use axum_realtime::{JwtAuth, Realtime, RequestAuth};
use realtime_tests::raw_http::{READ_TIMEOUT, SseStream, keep_alive_get, post_realtime, request};
use realtime_tests::server::TestServer;
use tokio::io::AsyncReadExt;

const QUIET: Duration = Duration::from_millis(300);

async fn serve(rt: &Realtime) -> TestServer {
    TestServer::start(rt, rt.mount(axum::Router::new())).await
}

async fn subscribe(server: &TestServer, id: &str, keys: &str) {
    let body = format!(r#"{{"clientId":"{id}","subscriptions":{keys}}}"#);
    let response = post_realtime(server.addr, &body, None).await;
    assert_eq!(response.status, 204, "{}", response.text());
    assert!(response.body.is_empty());
}

/// A stream opened with `headers`, its client subscribed to `keys`.
async fn subscribed(server: &TestServer, headers: &[&str], keys: &str) -> SseStream {
    let mut stream = SseStream::open(server.addr, headers).await;
    let id = stream.client_id().await;
    subscribe(server, &id, keys).await;
    stream
}

fn split_id(block: &str) -> (&str, &str) {
    let rest = block.strip_prefix("id:").expect("event starts with id:");
    rest.split_once('\n').expect("id line")
}

#[tokio::test]
async fn stream_opens_with_pocketbase_headers_and_connect_event() {
    let rt = Realtime::new();
    let server = serve(&rt).await;
    let mut stream = SseStream::open(server.addr, &[]).await;
    assert_eq!(stream.status, 200);
    assert_eq!(stream.header("content-type"), Some("text/event-stream"));
    assert_eq!(stream.header("cache-control"), Some("no-store"));
    assert_eq!(stream.header("x-accel-buffering"), Some("no"));
    let id = stream.client_id().await;
    assert_eq!(id.len(), 40);
    assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(rt.client_count(), 1);
    assert!(rt.client(&id).is_some());
}

#[tokio::test]
async fn send_is_framed_once_under_every_key_of_the_topic() {
    let rt = Realtime::new();
    let server = serve(&rt).await;
    let mut stream = SseStream::open(server.addr, &[]).await;
    let id = stream.client_id().await;
    let options = "chat?options=%7B%22query%22%3A%7B%22roomId%22%3A%22r1%22%7D%7D";
    subscribe(&server, &id, &format!(r#"["chat","","{options}","news"]"#)).await;
    assert_eq!(
        rt.client(&id).unwrap().subscriptions(),
        ["chat", options, "news"]
    );

    let html = "<div class=\"m\">\n hi</script></div>";
    let delivery = rt.send_to("chat", html, axum_realtime::everyone).unwrap();
    assert_eq!(
        delivery.reached, 1,
        "a client counts once however many keys match"
    );
    let plain = stream.next_event(READ_TIMEOUT).await.unwrap();
    let keyed = stream.next_event(READ_TIMEOUT).await.unwrap();
    let (message_id, rest) = split_id(&plain);
    assert_eq!(
        rest,
        "event:chat\ndata:\"<div class=\\\"m\\\">\\n hi</script></div>\"\n\n"
    );
    let (keyed_id, keyed_rest) = split_id(&keyed);
    assert_eq!(
        keyed_id, message_id,
        "both frames carry the same message id"
    );
    assert_eq!(
        keyed_rest,
        format!("event:{options}\ndata:\"<div class=\\\"m\\\">\\n hi</script></div>\"\n\n")
    );
    assert!(
        stream.next_event(QUIET).await.is_none(),
        "nothing else: {id}"
    );
}

#[tokio::test]
async fn unsubscribed_topics_and_replaced_sets_receive_nothing() {
    let rt = Realtime::new();
    let server = serve(&rt).await;
    let mut stream = SseStream::open(server.addr, &[]).await;
    let id = stream.client_id().await;
    subscribe(&server, &id, r#"["chat"]"#).await;
    subscribe(&server, &id, r#"["news"]"#).await;
    assert_eq!(
        rt.send_to("chat", &1, axum_realtime::everyone)
            .unwrap()
            .reached,
        0
    );
    assert_eq!(
        rt.send_to("news", &2, axum_realtime::everyone)
            .unwrap()
            .reached,
        1
    );
    let event = stream.next_event(READ_TIMEOUT).await.unwrap();
    assert!(event.ends_with("\nevent:news\ndata:2\n\n"), "{event}");
    subscribe(&server, &id, "[]").await;
    assert!(rt.subscribers("news").is_empty());
    assert!(rt.client(&id).unwrap().subscriptions().is_empty());
}

#[tokio::test]
async fn form_bodies_subscribe_too() {
    let rt = Realtime::new();
    let server = serve(&rt).await;
    let mut stream = SseStream::open(server.addr, &[]).await;
    let id = stream.client_id().await;
    let body = format!("clientId={id}&subscriptions=chat&subscriptions=news");
    let response = request(
        server.addr,
        "POST /api/realtime HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded",
        body.as_bytes(),
    )
    .await;
    assert_eq!(response.status, 204, "{}", response.text());
    assert_eq!(rt.client(&id).unwrap().subscriptions(), ["chat", "news"]);
}

#[tokio::test]
async fn error_bodies_match_pocketbase() {
    let rt = Realtime::new();
    let server = serve(&rt).await;
    let mut stream = SseStream::open(server.addr, &[]).await;
    let id = stream.client_id().await;
    let generic = "Something went wrong while processing your request.";

    let response = post_realtime(server.addr, "{not json", None).await;
    assert_eq!(response.status, 400);
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(
        response.text(),
        format!(r#"{{"data":{{}},"message":"{generic}","status":400}}"#)
    );

    let response = post_realtime(server.addr, r#"{"subscriptions":["chat"]}"#, None).await;
    assert_eq!(response.status, 400);
    assert_eq!(
        response.text(),
        format!(
            r#"{{"data":{{"clientId":{{"code":"validation_required","message":"Cannot be blank."}}}},"message":"{generic}","status":400}}"#
        )
    );

    let keys: Vec<String> = (0..1001).map(|i| format!("\"k{i}\"")).collect();
    let body = format!(
        r#"{{"clientId":"{id}","subscriptions":[{}]}}"#,
        keys.join(",")
    );
    let response = post_realtime(server.addr, &body, None).await;
    assert_eq!(response.status, 400);
    assert_eq!(
        response.text(),
        format!(
            r#"{{"data":{{"subscriptions":{{"code":"validation_length_too_long","message":"The length must be no more than 1000.","params":{{"max":1000,"min":0}}}}}},"message":"{generic}","status":400}}"#
        )
    );

    let long = "x".repeat(2501);
    let body = format!(r#"{{"clientId":"{id}","subscriptions":["ok","{long}"]}}"#);
    let response = post_realtime(server.addr, &body, None).await;
    assert_eq!(response.status, 400);
    assert_eq!(
        response.text(),
        format!(
            r#"{{"data":{{"subscriptions":{{"1":{{"code":"validation_length_too_long","message":"The length must be no more than 2500.","params":{{"max":2500,"min":0}}}}}}}},"message":"{generic}","status":400}}"#
        )
    );
    assert!(
        rt.client(&id).unwrap().subscriptions().is_empty(),
        "a refused POST changes nothing"
    );

    let unknown = "A".repeat(40);
    let response =
        post_realtime(server.addr, &format!(r#"{{"clientId":"{unknown}"}}"#), None).await;
    assert_eq!(response.status, 404);
    assert_eq!(
        response.text(),
        r#"{"data":{},"message":"Missing or invalid client id.","status":404}"#
    );
}

#[tokio::test]
async fn keys_that_cannot_be_framed_are_refused() {
    let rt = Realtime::new();
    let server = serve(&rt).await;
    let mut stream = SseStream::open(server.addr, &[]).await;
    let id = stream.client_id().await;
    let body = format!(r#"{{"clientId":"{id}","subscriptions":["chat","a\nevent:x"]}}"#);
    let response = post_realtime(server.addr, &body, None).await;
    assert_eq!(response.status, 400);
    assert!(
        response
            .text()
            .contains(r#""subscriptions":{"1":{"code":"validation_invalid_subscription""#),
        "{}",
        response.text()
    );
}

#[tokio::test]
async fn auth_binds_once_and_cannot_change() {
    let jwt = JwtAuth::new(b"wire-tests-secret-of-32-bytes!!!");
    let ann = jwt.mint(&axum_realtime::AuthRecord::new("ann")).unwrap();
    let bob = jwt.mint(&axum_realtime::AuthRecord::new("bob")).unwrap();
    let rt = Realtime::builder().authenticator(jwt).build();
    let server = serve(&rt).await;
    let mut stream = SseStream::open(server.addr, &[]).await;
    let id = stream.client_id().await;
    let body = format!(r#"{{"clientId":"{id}","subscriptions":["chat"]}}"#);
    let forbidden = r#"{"data":{},"message":"The current and the previous request authorization don't match.","status":403}"#;

    assert_eq!(
        post_realtime(server.addr, &body, Some("garbage"))
            .await
            .status,
        204,
        "invalid token = guest"
    );
    assert_eq!(
        post_realtime(server.addr, &body, Some(&ann)).await.status,
        204,
        "guest → auth upgrades"
    );
    assert_eq!(rt.client(&id).unwrap().auth().unwrap().id(), "ann");
    assert_eq!(
        post_realtime(server.addr, &body, Some(&format!("Bearer {ann}")))
            .await
            .status,
        204
    );
    let response = post_realtime(server.addr, &body, None).await;
    assert_eq!(
        (response.status, response.text().as_str()),
        (403, forbidden)
    );
    let response = post_realtime(server.addr, &body, Some(&bob)).await;
    assert_eq!(
        (response.status, response.text().as_str()),
        (403, forbidden)
    );
    assert_eq!(rt.client(&id).unwrap().auth().unwrap().id(), "ann");

    let as_ann = RequestAuth::user(axum_realtime::AuthRecord::new("ann"));
    let as_bob = RequestAuth::user(axum_realtime::AuthRecord::new("bob"));
    assert_eq!(rt.send("chat", "for ann", &as_bob).unwrap().reached, 0);
    assert_eq!(rt.send("chat", "for ann", &as_ann).unwrap().reached, 1);
    assert_eq!(
        rt.send("chat", "for all", &RequestAuth::guest())
            .unwrap()
            .reached,
        1
    );
}

#[tokio::test]
async fn heartbeats_keep_quiet_streams_alive() {
    let rt = Realtime::builder()
        .heartbeat(Some(Duration::from_millis(50)))
        .build();
    let server = serve(&rt).await;
    let mut stream = SseStream::open(server.addr, &[]).await;
    stream.client_id().await;
    assert_eq!(
        stream.next_block(READ_TIMEOUT).await.as_deref(),
        Some(":\n\n")
    );
    assert_eq!(
        stream.next_block(READ_TIMEOUT).await.as_deref(),
        Some(":\n\n")
    );
}

/// A quiet stream gets one heartbeat per interval, and a message stands in for the next one:
/// on a paused clock, so the intervals are exact, not timed. A tick finds whether anything
/// was written since the one before, so the first heartbeat after a write comes one to two
/// intervals after it.
#[tokio::test(start_paused = true)]
async fn a_quiet_stream_gets_one_heartbeat_per_interval() {
    const EVERY: Duration = Duration::from_secs(1);
    const SLACK: Duration = Duration::from_millis(5);
    let rt = Realtime::builder().heartbeat(Some(EVERY)).build();
    let server = serve(&rt).await;
    let mut stream = subscribed(&server, &[], r#"["chat"]"#).await;
    let mut wrote = tokio::time::Instant::now();
    for round in 0..2 {
        let mut previous = wrote;
        for n in 0..4 {
            assert_eq!(
                stream.next_block(READ_TIMEOUT).await.as_deref(),
                Some(":\n\n"),
                "round {round}, heartbeat {n}"
            );
            let gap = tokio::time::Instant::now() - previous;
            let longest = if n == 0 {
                2 * EVERY + SLACK
            } else {
                EVERY + SLACK
            };
            assert!(
                EVERY <= gap && gap <= longest,
                "round {round}, heartbeat {n} after {gap:?}"
            );
            previous = tokio::time::Instant::now();
        }
        // Half an interval on, a message: the next tick finds it written and sends nothing.
        tokio::time::sleep(EVERY / 2).await;
        let delivery = rt.send_to("chat", &round, axum_realtime::everyone);
        assert_eq!(delivery.unwrap().reached, 1);
        assert!(
            stream
                .next_block(READ_TIMEOUT)
                .await
                .unwrap()
                .ends_with(&format!("data:{round}\n\n"))
        );
        wrote = tokio::time::Instant::now();
    }
}

#[tokio::test]
async fn idle_and_maximum_lifetimes_end_streams() {
    let rt = Realtime::builder()
        .idle_timeout(Some(Duration::from_millis(200)))
        .build();
    let server = serve(&rt).await;
    let mut stream = SseStream::open(server.addr, &[]).await;
    stream.client_id().await;
    assert!(stream.ended_within(READ_TIMEOUT).await);

    let rt = Realtime::builder()
        .max_lifetime(Some(Duration::from_millis(300)))
        .build();
    let server = serve(&rt).await;
    let mut stream = subscribed(&server, &[], r#"["chat"]"#).await;
    let _ = rt.send_to("chat", &1, axum_realtime::everyone).unwrap();
    assert!(stream.ended_within(READ_TIMEOUT).await);
    assert_eq!(rt.client_count(), 0);
}

#[tokio::test]
async fn invalid_topics_and_payloads_are_errors() {
    let rt = Realtime::new();
    for topic in ["", "a\nb", "chat?x=1"] {
        assert!(matches!(
            rt.send_to(topic, &1, axum_realtime::everyone),
            Err(axum_realtime::SendError::InvalidTopic(_))
        ));
    }
    let mut bad = std::collections::HashMap::new();
    bad.insert((1, 2), 3);
    assert!(matches!(
        rt.send_to("chat", &bad, axum_realtime::everyone),
        Err(axum_realtime::SendError::Encode(_))
    ));
}

#[tokio::test]
async fn bodies_are_read_as_pocketbase_reads_them() {
    let rt = Realtime::new();
    let server = serve(&rt).await;
    let mut stream = SseStream::open(server.addr, &[]).await;
    let id = stream.client_id().await;
    let generic = r#"{"data":{},"message":"Something went wrong while processing your request.","status":400}"#;

    let no_type = request(
        server.addr,
        "POST /api/realtime HTTP/1.1",
        format!(r#"{{"clientId":"{id}"}}"#).as_bytes(),
    )
    .await;
    assert_eq!(
        (no_type.status, no_type.text().as_str()),
        (400, generic),
        "no content type"
    );
    let wrong_type = post_realtime(server.addr, r#"{"clientId":7}"#, None).await;
    assert_eq!(
        (wrong_type.status, wrong_type.text().as_str()),
        (400, generic),
        "a number id"
    );

    let trailing = format!(r#"{{"clientId":"{id}","subscriptions":["a","a","b,c"]}} trailing"#);
    assert_eq!(
        post_realtime(server.addr, &trailing, None).await.status,
        204
    );
    assert_eq!(
        rt.client(&id).unwrap().subscriptions(),
        ["a", "b,c"],
        "duplicates collapse, commas stay"
    );

    let long_id = "a".repeat(256);
    let response =
        post_realtime(server.addr, &format!(r#"{{"clientId":"{long_id}"}}"#), None).await;
    assert_eq!(
        response.text(),
        r#"{"data":{"clientId":{"code":"validation_length_out_of_range","message":"The length must be between 1 and 255.","params":{"max":255,"min":1}}},"message":"Something went wrong while processing your request.","status":400}"#
    );
    let response = post_realtime(
        server.addr,
        &format!(r#"{{"clientId":"{}"}}"#, "a".repeat(255)),
        None,
    )
    .await;
    assert_eq!(response.status, 404, "255 bytes is a valid length");

    // 2500 bytes is the limit, counted in bytes: 834 three-byte characters are 2502 bytes.
    let wide = "€".repeat(834);
    let body = format!(
        r#"{{"clientId":"{id}","subscriptions":["{}","{wide}"]}}"#,
        "x".repeat(2500)
    );
    let response = post_realtime(server.addr, &body, None).await;
    assert!(
        response
            .text()
            .contains(r#"{"subscriptions":{"1":{"code":"validation_length_too_long""#),
        "{}",
        response.text()
    );
}

#[tokio::test]
async fn a_post_from_another_address_is_refused() {
    let rt = Realtime::new();
    let server = serve(&rt).await;
    let mut stream = SseStream::open(server.addr, &[]).await;
    let id = stream.client_id().await;
    let body = format!(r#"{{"clientId":"{id}","subscriptions":["chat"]}}"#);
    let response = realtime_tests::raw_http::request_from(
        "127.0.0.2".parse().unwrap(),
        server.addr,
        "POST /api/realtime HTTP/1.1\r\nContent-Type: application/json",
        body.as_bytes(),
    )
    .await;
    assert_eq!(
        (response.status, response.text().as_str()),
        (
            400,
            r#"{"data":{},"message":"Invalid realtime client.","status":400}"#
        )
    );
    assert!(rt.client(&id).unwrap().subscriptions().is_empty());
}

#[tokio::test]
async fn the_auth_cookie_binds_only_same_origin_posts() {
    let jwt = JwtAuth::new(b"wire-tests-secret-of-32-bytes!!!");
    let ann = jwt.mint(&axum_realtime::AuthRecord::new("ann")).unwrap();
    let rt = Realtime::builder().authenticator(jwt).build();
    let server = serve(&rt).await;
    let post = |origin: String, id: String| {
        let addr = server.addr;
        let ann = ann.clone();
        async move {
            let head = format!(
                "POST /api/realtime HTTP/1.1\r\nContent-Type: application/json\r\nCookie: theme=dark; realtime_auth={ann}\r\nOrigin: {origin}"
            );
            let body = format!(r#"{{"clientId":"{id}","subscriptions":["chat"]}}"#);
            request(addr, &head, body.as_bytes()).await
        }
    };

    let mut stream = SseStream::open(server.addr, &[]).await;
    let id = stream.client_id().await;
    let response = post("http://evil.test".into(), id.clone()).await;
    assert_eq!(response.status, 204);
    assert!(
        rt.client(&id).unwrap().auth().is_none(),
        "a cross-site cookie is ignored"
    );

    let response = post(format!("http://{}", server.addr), id.clone()).await;
    assert_eq!(response.status, 204, "{}", response.text());
    assert_eq!(rt.client(&id).unwrap().auth().unwrap().id(), "ann");

    let cookie = rt.auth_cookie(&ann, Duration::from_mins(1));
    assert_eq!(
        cookie.to_str().unwrap(),
        format!("realtime_auth={ann}; Path=/; Max-Age=60; HttpOnly; SameSite=Strict")
    );
}

#[tokio::test]
async fn the_htmx_extension_is_served() {
    let rt = Realtime::new();
    let server = serve(&rt).await;
    let response = request(
        server.addr,
        &format!(
            "GET {} HTTP/1.1",
            axum_realtime::endpoint::HTMX_EXTENSION_PATH
        ),
        b"",
    )
    .await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert!(response.text().contains("htmx.defineExtension(EXT"));
}

#[tokio::test]
async fn messages_keep_an_idle_timeout_at_bay_and_replace_heartbeats() {
    let rt = Realtime::builder()
        .idle_timeout(Some(Duration::from_millis(300)))
        .heartbeat(Some(Duration::from_millis(100)))
        .build();
    let server = serve(&rt).await;
    let mut stream = subscribed(&server, &[], r#"["chat"]"#).await;
    // Ten messages 60 ms apart outlast the 300 ms idle timeout, and leave no quiet interval.
    for n in 0..10 {
        assert_eq!(
            rt.send_to("chat", &n, axum_realtime::everyone)
                .unwrap()
                .reached,
            1
        );
        let block = stream.next_block(READ_TIMEOUT).await.unwrap();
        assert!(
            block.ends_with(&format!("data:{n}\n\n")),
            "no heartbeat while busy: {block:?}"
        );
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    // Quiet: heartbeats come, then the idle timeout ends the stream.
    assert_eq!(
        stream.next_block(READ_TIMEOUT).await.as_deref(),
        Some(":\n\n")
    );
    assert!(stream.ended_within(READ_TIMEOUT).await);
}

/// A stream the router accepts is written by the broker's own path, or by hyper with
/// `direct_streams(false)`: both answer alike.
#[tokio::test]
async fn both_stream_paths_answer_alike() {
    let mut streams = Vec::new();
    for direct in [true, false] {
        let rt = Realtime::builder().direct_streams(direct).build();
        let server = serve(&rt).await;
        let mut stream = SseStream::open(server.addr, &[]).await;
        let id = stream.client_id().await;
        let mut headers: Vec<_> = stream
            .headers
            .iter()
            .filter(|(name, _)| name != "date")
            .cloned()
            .collect();
        headers.sort();
        assert!(stream.header("date").is_some());
        subscribe(&server, &id, r#"["chat"]"#).await;
        streams.push((rt, server, stream, headers));
    }
    assert_eq!(streams[0].3, streams[1].3);
    for (rt, _, stream, _) in &mut streams {
        assert_eq!(
            rt.send_to("chat", "both", axum_realtime::everyone)
                .unwrap()
                .reached,
            1
        );
        assert!(
            stream
                .next_event(READ_TIMEOUT)
                .await
                .unwrap()
                .ends_with("\nevent:chat\ndata:\"both\"\n\n")
        );
        assert_eq!(rt.disconnect_all(), 1);
        assert!(stream.ended_within(READ_TIMEOUT).await);
    }
}

/// A busy topic's messages are held back to share writes (on both stream paths): they still
/// arrive, every one, in order, framed one by one, the last of a burst with no send after it.
#[tokio::test]
async fn held_messages_arrive_framed_in_order_on_both_paths() {
    for direct in [true, false] {
        let rt = Realtime::builder()
            // The last frames wait out the whole bound: short, for the test's time.
            .max_write_delay(Duration::from_millis(500))
            // Hold whatever the load, so that holding itself is what this test exercises.
            .hold_above_cores(0.0)
            .direct_streams(direct)
            .build();
        let server = serve(&rt).await;
        let mut stream = subscribed(&server, &[], r#"["chat"]"#).await;
        for i in 0..40 {
            let reached = rt
                .send_to("chat", &i, axum_realtime::everyone)
                .unwrap()
                .reached;
            assert_eq!(reached, 1);
            if i % 10 == 9 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        for i in 0..40 {
            let event = stream.next_event(READ_TIMEOUT).await.unwrap();
            let (_, rest) = split_id(&event);
            assert_eq!(rest, format!("event:chat\ndata:{i}\n\n"));
        }
    }
}

/// Browsers reuse keep-alive connections for `EventSource`: a stream request after others on
/// one connection is served (by the broker's own path: the connection is the stream's from then
/// on, so after the stream it is closed rather than kept for more requests).
#[tokio::test]
async fn a_stream_request_after_others_on_one_connection_is_served() {
    let rt = Realtime::new();
    let server = serve(&rt).await;
    let mut socket = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    for _ in 0..2 {
        let script = keep_alive_get(
            &mut socket,
            server.addr,
            axum_realtime::endpoint::HTMX_EXTENSION_PATH,
        )
        .await;
        assert_eq!(script.status, 200);
        assert!(!script.body.is_empty());
    }
    let mut stream = SseStream::open_on(socket, server.addr, &[]).await;
    assert_eq!(stream.status, 200);
    assert_eq!(stream.header("content-type"), Some("text/event-stream"));
    let id = stream.client_id().await;
    subscribe(&server, &id, r#"["chat"]"#).await;
    let delivery = rt
        .send_to("chat", "again", axum_realtime::everyone)
        .unwrap();
    assert_eq!(delivery.reached, 1);
    let event = stream.next_event(READ_TIMEOUT).await.unwrap();
    assert_eq!(split_id(&event).1, "event:chat\ndata:\"again\"\n\n");
    assert_eq!(rt.disconnect_all(), 1);
    assert!(stream.ended_within(READ_TIMEOUT).await);
    let mut socket = stream.into_socket();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(READ_TIMEOUT, socket.read_to_end(&mut rest)).await;
    assert!(
        matches!(closed, Ok(Ok(_))),
        "the connection closes after the stream"
    );
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    assert_eq!(rt.client_count(), 0);
}
