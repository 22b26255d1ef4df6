//! The chat over real sockets: login, the page's history, render capture on `chat`, and the
//! default filter's notices, byte for byte where it matters.

use std::time::Duration;

use example_chat::{AppState, Db, Deployment, Message, Stored, app};
use realtime_tests::raw_http::{READ_TIMEOUT, Response, SseStream, post_realtime, request};
use realtime_tests::server::TestServer;

const SECRET: &[u8] = b"example-chat-tests-secret-32-byt";
const QUIET: Duration = Duration::from_millis(300);

async fn start() -> (TestServer, AppState) {
    let state = AppState::new(Db::in_memory().unwrap(), SECRET, &Deployment::default()).unwrap();
    (
        TestServer::start(&state.rt, app(state.clone())).await,
        state,
    )
}

/// A form POST to `path` with extra header lines (each `\r\nName: value`).
async fn post_form(server: &TestServer, path: &str, headers: &str, form: &str) -> Response {
    let head =
        format!("POST {path} HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded{headers}");
    request(server.addr, &head, form.as_bytes()).await
}

/// The `Origin` line of the page's own requests.
fn own_origin(server: &TestServer) -> String {
    format!("\r\nOrigin: http://{}", server.addr)
}

/// Logs in from the page.
async fn login(server: &TestServer, name: &str) -> (Response, String) {
    let form = format!("username={name}");
    let response = post_form(server, "/login", &own_origin(server), &form).await;
    let cookie = response
        .header("set-cookie")
        .map(|value| value.split(';').next().unwrap().to_owned())
        .unwrap_or_default();
    (response, cookie)
}

/// A tab of the page: a stream subscribed to the page's topics with the user's cookie.
async fn tab(server: &TestServer, cookie: &str) -> SseStream {
    let mut stream = SseStream::open(server.addr, &[]).await;
    let id = stream.client_id().await;
    let head = format!(
        "POST /api/realtime HTTP/1.1\r\nContent-Type: application/json\r\nCookie: {cookie}\r\nOrigin: http://{}",
        server.addr
    );
    let body = format!(r#"{{"clientId":"{id}","subscriptions":["chat","notices"]}}"#);
    assert_eq!(
        request(server.addr, &head, body.as_bytes()).await.status,
        204
    );
    stream
}

async fn post_chat(server: &TestServer, cookie: &str, form: &str) -> Response {
    let head = format!(
        "POST /api/chat HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nCookie: {cookie}\r\nOrigin: http://{}",
        server.addr
    );
    request(server.addr, &head, form.as_bytes()).await
}

fn data_line(event: &str) -> &str {
    event
        .split_once("\ndata:")
        .expect("a data line")
        .1
        .strip_suffix("\n\n")
        .expect("one data line")
}

#[tokio::test]
async fn login_sets_an_http_only_cookie_and_answers_token_and_record() {
    let (server, _) = start().await;
    let (response, cookie) = login(&server, "Ann").await;
    assert_eq!(response.status, 200);
    let set_cookie = response.header("set-cookie").unwrap();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"),
        "{set_cookie}"
    );
    let body = response.text();
    assert!(
        body.contains(r#""record":{"collectionName":"users","id":"ann","username":"Ann"}"#),
        "{body}"
    );
    let token = cookie.strip_prefix("realtime_auth=").unwrap();
    assert!(body.contains(&format!(r#""token":"{token}""#)));

    let (response, _) = login(&server, "no%20spaces").await;
    assert_eq!(response.status, 422);
}

#[tokio::test]
async fn login_and_logout_refuse_other_sites_and_set_no_cookie() {
    let (server, _) = start().await;
    let cross_site = [
        // Another site's form, as browsers send it.
        "\r\nOrigin: http://evil.test\r\nSec-Fetch-Site: cross-site".to_owned(),
        "\r\nOrigin: http://evil.test".to_owned(),
        format!("{}\r\nSec-Fetch-Site: cross-site", own_origin(&server)),
        // No `Origin` at all (old browsers): not known to be the page's own.
        String::new(),
    ];
    for headers in &cross_site {
        for (path, form) in [("/login", "username=mallory"), ("/logout", "")] {
            let response = post_form(&server, path, headers, form).await;
            assert_eq!(response.status, 403, "{path} with {headers:?}");
            assert_eq!(
                response.header("set-cookie"),
                None,
                "{path} with {headers:?}"
            );
        }
    }
    // The page's own requests still work, whichever header the browser sends.
    let same_site = [
        own_origin(&server),
        "\r\nSec-Fetch-Site: same-origin".to_owned(),
    ];
    for headers in &same_site {
        let response = post_form(&server, "/login", headers, "username=ann").await;
        assert_eq!(response.status, 200, "{headers:?}: {}", response.text());
        assert!(
            response
                .header("set-cookie")
                .unwrap()
                .starts_with("realtime_auth=ey")
        );
        let response = post_form(&server, "/logout", headers, "").await;
        assert_eq!(response.status, 204, "{headers:?}: {}", response.text());
        let cleared = response.header("set-cookie").unwrap();
        assert!(cleared.starts_with("realtime_auth=; ") && cleared.contains("Max-Age=0"));
    }
}

#[tokio::test]
async fn a_message_is_stored_broadcast_to_everyone_and_noticed_by_its_author_only() {
    let (server, state) = start().await;
    let (_, ann) = login(&server, "ann").await;
    let (_, bob) = login(&server, "bob").await;
    let mut ann_tab = tab(&server, &ann).await;
    let mut ann_other_tab = tab(&server, &ann).await;
    let mut bob_tab = tab(&server, &bob).await;
    let mut guest_tab = SseStream::open(server.addr, &[]).await;
    let guest_id = guest_tab.client_id().await;
    let body = format!(r#"{{"clientId":"{guest_id}","subscriptions":["chat","notices"]}}"#);
    assert_eq!(post_realtime(server.addr, &body, None).await.status, 204);

    let response = post_chat(
        &server,
        &ann,
        "message=%3Cscript%3Ealert(1)%3C%2Fscript%3E+%26+%22q%22%0Anext+line",
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let html = "\n      <div class=\"message\" id=\"message-1\"><strong class=\"user\">ann</strong><span class=\"text\">&#60;script&#62;alert(1)&#60;/script&#62; &#38; &#34;q&#34;\nnext line</span></div>";
    assert_eq!(
        response.text(),
        html,
        "the poster is answered with the broadcast HTML"
    );

    let encoded = serde_json::to_string(html).unwrap();
    let tabs = [
        (&mut ann_tab, 1),
        (&mut ann_other_tab, 1),
        (&mut bob_tab, 0),
        (&mut guest_tab, 0),
    ];
    for (stream, notices_expected) in tabs {
        let mut events = Vec::new();
        while let Some(event) = stream.next_event(QUIET).await {
            events.push(event);
        }
        let chat: Vec<_> = events
            .iter()
            .filter(|e| e.contains("\nevent:chat\n"))
            .collect();
        assert_eq!(chat.len(), 1, "{events:?}");
        assert_eq!(
            data_line(chat[0]),
            encoded,
            "one data line: the HTML as a JSON string"
        );
        let notices = events
            .iter()
            .filter(|e| e.contains("\nevent:notices\n"))
            .count();
        assert_eq!(notices, notices_expected, "{events:?}");
    }
    assert_eq!(
        state.db.history().await.unwrap(),
        [Stored {
            id: 1,
            message: Message {
                user: "ann".into(),
                text: "<script>alert(1)</script> & \"q\"\nnext line".into()
            }
        }]
    );
}

#[tokio::test]
async fn notices_reach_only_the_senders_own_tabs() {
    let (server, _) = start().await;
    let (_, ann) = login(&server, "ann").await;
    let (_, bob) = login(&server, "bob").await;
    let mut ann_tabs = [tab(&server, &ann).await, tab(&server, &ann).await];
    let mut bob_tab = tab(&server, &bob).await;

    assert_eq!(post_chat(&server, &ann, "message=hi").await.status, 200);
    for stream in &mut ann_tabs {
        let notice = stream.next_event(READ_TIMEOUT).await.unwrap();
        assert!(
            notice.contains("\nevent:notices\n") && notice.contains("Sent: “hi”"),
            "{notice}"
        );
        assert!(
            stream
                .next_event(READ_TIMEOUT)
                .await
                .unwrap()
                .contains("\nevent:chat\n")
        );
    }
    let only = bob_tab.next_event(READ_TIMEOUT).await.unwrap();
    assert!(
        only.contains("\nevent:chat\n"),
        "bob gets the message: {only}"
    );
    assert!(
        bob_tab.next_event(QUIET).await.is_none(),
        "and no notice of ann's"
    );
}

#[tokio::test]
async fn bad_posts_are_refused_without_broadcasting() {
    let (server, _) = start().await;
    let (_, ann) = login(&server, "ann").await;
    let mut ann_tab = tab(&server, &ann).await;
    let response = post_chat(&server, "", "message=hi").await;
    assert_eq!(
        (response.status, response.text().as_str()),
        (401, "log in to chat")
    );
    let response = post_chat(&server, &ann, "message=+++").await;
    assert_eq!(
        (response.status, response.text().as_str()),
        (422, "the message is empty")
    );
    let long = "x".repeat(1001);
    assert_eq!(
        post_chat(&server, &ann, &format!("message={long}"))
            .await
            .status,
        422
    );
    assert_eq!(post_chat(&server, &ann, "nonsense").await.status, 422);
    assert!(ann_tab.next_event(QUIET).await.is_none());
}

#[tokio::test]
async fn the_page_shows_the_history_and_the_live_parts() {
    let (server, state) = start().await;
    state
        .db
        .insert(Message {
            user: "ann".into(),
            text: "<first>".into(),
        })
        .await
        .unwrap();
    let page = request(server.addr, "GET / HTTP/1.1", b"").await;
    let html = page.text();
    assert!(
        html.contains(
            "<div class=\"message\" id=\"message-1\"><strong class=\"user\">ann</strong>\
             <span class=\"text\">&#60;first&#62;</span>"
        ),
        "{html}"
    );
    assert!(html.contains(r#"hx-ext="pocketbase-sse""#));
    assert!(html.contains(r#"sse-swap="chat" hx-swap="beforeend""#));
    assert!(
        html.contains(r#"id="login""#),
        "a guest gets the login form"
    );
    for script in [
        "/assets/htmx.min.js",
        "/chat.js",
        axum_realtime::endpoint::HTMX_EXTENSION_PATH,
    ] {
        let response = request(server.addr, &format!("GET {script} HTTP/1.1"), b"").await;
        assert_eq!(response.status, 200, "{script}");
    }
    let (_, ann) = login(&server, "ann").await;
    let page = request(
        server.addr,
        &format!("GET / HTTP/1.1\r\nCookie: {ann}"),
        b"",
    )
    .await;
    assert!(page.text().contains(r#"<span class="me">ann</span>"#));
    assert!(
        page.text()
            .contains(r#"hx-post="/api/chat" hx-swap="none""#)
    );
}

#[tokio::test]
async fn messages_survive_a_restart() {
    let dir = std::env::temp_dir().join(format!("example-chat-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = Db::open(&dir, "chat.db").unwrap();
    db.insert(Message {
        user: "ann".into(),
        text: "kept".into(),
    })
    .await
    .unwrap();
    drop(db);
    let reopened = Db::open(&dir, "chat.db").unwrap();
    assert_eq!(reopened.history().await.unwrap().len(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}
