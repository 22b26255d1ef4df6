//! Recovery: a client that reconnects with `Last-Event-ID` gets what it missed on the topics
//! that keep a history, exactly once and in order before any live send, or one `PB_RESYNC`
//! when what it missed cannot be told.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum_realtime::{Filter, Realtime, everyone};
use realtime_tests::raw_http::{READ_TIMEOUT, SseStream, post_realtime};
use realtime_tests::server::TestServer;

const HOUR: Duration = Duration::from_hours(1);

async fn server(rt: &Realtime) -> TestServer {
    TestServer::start(rt, rt.mount(Router::new())).await
}

/// A stream opened with `headers`, subscribed to `keys`; its client id.
async fn open(addr: SocketAddr, headers: &[&str], keys: &[&str]) -> (SseStream, String) {
    let mut stream = SseStream::open(addr, headers).await;
    let id = stream.client_id().await;
    let keys = serde_json::to_string(keys).unwrap();
    let body = format!(r#"{{"clientId":"{id}","subscriptions":{keys}}}"#);
    let response = post_realtime(addr, &body, None).await;
    assert_eq!(response.status, 204, "{}", response.text());
    (stream, id)
}

/// An event: its id, name and data.
#[derive(Debug, Clone, PartialEq)]
struct Event {
    id: String,
    name: String,
    data: String,
}

fn parse(block: &str) -> Event {
    let field = |name: &str| {
        block
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .unwrap_or_default()
            .to_owned()
    };
    Event {
        id: field("id:"),
        name: field("event:"),
        data: field("data:"),
    }
}

/// Every event until the stream ends or `count` arrived (each read bounded).
async fn read(stream: &mut SseStream, count: usize) -> Vec<Event> {
    let mut events = Vec::new();
    while events.len() < count {
        match stream.next_event(READ_TIMEOUT).await {
            Some(block) => events.push(parse(&block)),
            None => break,
        }
    }
    events
}

fn numbers(events: &[Event]) -> Vec<u64> {
    events
        .iter()
        .filter(|e| e.name == "chat")
        .map(|e| e.data.parse().expect("a number"))
        .collect()
}

fn resync_topics(events: &[Event]) -> Vec<Vec<String>> {
    events
        .iter()
        .filter(|e| e.name == "PB_RESYNC")
        .map(|e| {
            let data: serde_json::Value = serde_json::from_str(&e.data).unwrap();
            serde_json::from_value(data["topics"].clone()).unwrap()
        })
        .collect()
}

fn last_event_id(id: &str) -> String {
    format!("Last-Event-ID: {id}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_cut_in_a_burst_resumes_with_every_message_once_in_order() {
    let rt = Realtime::builder().history(2000, HOUR).build();
    let server = server(&rt).await;
    let (mut stream, id) = open(server.addr, &[], &["chat"]).await;

    let sender = rt.clone();
    let cut = rt.clone();
    let burst = tokio::spawn(async move {
        for n in 0..1000_u64 {
            let _ = sender.send_to("chat", &n, everyone).unwrap();
            if n == 300 {
                cut.client(&id).expect("connected").disconnect();
            }
            if n % 50 == 0 {
                tokio::task::yield_now().await;
            }
        }
    });
    let before = read(&mut stream, usize::MAX).await;
    burst.await.unwrap();
    let seen = numbers(&before);
    assert!(
        !seen.is_empty() && seen.len() < 1000,
        "the cut came mid-burst: {} seen",
        seen.len()
    );
    let last = before.last().unwrap().id.clone();

    let (mut resumed, _) = open(server.addr, &[&last_event_id(&last)], &["chat"]).await;
    let _ = rt.send_to("chat", &1000_u64, everyone).unwrap();
    let after = read(&mut resumed, 1000 - seen.len() + 1).await;
    let mut all = seen.clone();
    all.extend(numbers(&after));
    assert_eq!(
        all,
        (0..=1000).collect::<Vec<_>>(),
        "every message once, in order, then live"
    );
    assert!(resync_topics(&after).is_empty());
    assert!(
        resumed
            .next_event(Duration::from_millis(300))
            .await
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_saw_only_its_connect_gets_everything_since() {
    let rt = Realtime::builder().history(100, HOUR).build();
    let server = server(&rt).await;
    let (stream, old_id) = open(server.addr, &[], &["chat"]).await;
    drop(stream);
    realtime_tests::wait::eventually("the old client is gone", || rt.client(&old_id).is_none())
        .await;
    for n in 0..3_u64 {
        let _ = rt.send_to("chat", &n, everyone).unwrap();
    }
    let (mut resumed, _) = open(server.addr, &[&last_event_id(&old_id)], &["chat"]).await;
    assert_eq!(numbers(&read(&mut resumed, 3).await), [0, 1, 2]);

    // The same through the query parameter, for a client that opens a new EventSource.
    let socket = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let path = format!("/api/realtime?lastEventId={old_id}");
    let mut by_query = SseStream::open_path(socket, server.addr, &path, &[]).await;
    let id = by_query.client_id().await;
    let body = format!(r#"{{"clientId":"{id}","subscriptions":["chat"]}}"#);
    assert_eq!(post_realtime(server.addr, &body, None).await.status, 204);
    assert_eq!(numbers(&read(&mut by_query, 3).await), [0, 1, 2]);

    // Without either, nothing is replayed, as without history.
    let (mut fresh, _) = open(server.addr, &[], &["chat"]).await;
    assert!(fresh.next_event(Duration::from_millis(300)).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_cannot_be_told_is_a_resync_and_nothing_else() {
    let rt = Realtime::builder()
        .history(5, HOUR)
        .history_for("news", 0, HOUR)
        .build();
    let server = server(&rt).await;
    let (mut stream, _) = open(server.addr, &[], &["chat"]).await;
    let _ = rt.send_to("chat", &0_u64, everyone).unwrap();
    let first = read(&mut stream, 1).await;
    let position = first[0].id.clone();
    for n in 1..=10_u64 {
        let _ = rt.send_to("chat", &n, everyone).unwrap(); // 1..5 fall out of the history
    }

    // Too old: a resync for chat; news keeps no history and is not named.
    let (mut resumed, _) = open(server.addr, &[&last_event_id(&position)], &["chat", "news"]).await;
    let events = read(&mut resumed, 1).await;
    assert_eq!(resync_topics(&events), [vec!["chat".to_owned()]]);
    assert!(
        resumed
            .next_event(Duration::from_millis(300))
            .await
            .is_none(),
        "no replay"
    );

    // Unknown ids, another epoch, junk: a resync too.
    for junk in ["XXXXXXXX-3", "notaclientofours", "%%%"] {
        let (mut resumed, _) = open(server.addr, &[&last_event_id(junk)], &["chat"]).await;
        let events = read(&mut resumed, 1).await;
        assert_eq!(resync_topics(&events), [vec!["chat".to_owned()]], "{junk}");
    }

    // A restarted server (a new broker: a new epoch) cannot tell what the old one sent.
    let restarted = Realtime::builder().history(5, HOUR).build();
    let second = TestServer::start(&restarted, restarted.mount(Router::new())).await;
    let recent = read(&mut stream, 10).await.last().unwrap().id.clone();
    let (mut resumed, _) = open(second.addr, &[&last_event_id(&recent)], &["chat"]).await;
    assert_eq!(
        resync_topics(&read(&mut resumed, 1).await),
        [vec!["chat".to_owned()]]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filtered_channel_replays_only_what_the_client_may_see() {
    let rt = Realtime::builder()
        .history(100, HOUR)
        .on_subscribe(|client, sub| {
            if let Some(room) = sub.options().query.get("room") {
                client.set("room", room.clone());
            }
        })
        .build();
    let server = server(&rt).await;
    let key = r#"chat?options={"query":{"room":"7"}}"#;
    let (mut stream, _) = open(server.addr, &[], &[key]).await;
    let _ = rt
        .send_to("chat", &0_u64, Filter::stored("room", "7"))
        .unwrap();
    let position = read(&mut stream, 1).await[0].id.clone();
    drop(stream);
    for n in 1..=6_u64 {
        let room = if n % 2 == 0 { "7" } else { "8" };
        let _ = rt
            .send_to("chat", &n, Filter::stored("room", room))
            .unwrap();
    }
    // A send with a closure cannot be filtered again: on another topic, it makes that topic
    // a resync and leaves this one alone.
    let _ = rt.send_local("other", &"x", |_, _| true).unwrap();

    let (mut resumed, _) = open(server.addr, &[&last_event_id(&position)], &[key, "other"]).await;
    let events = read(&mut resumed, 4).await;
    let replayed: Vec<(String, String)> = events
        .iter()
        .filter(|e| e.name != "PB_RESYNC")
        .map(|e| (e.name.clone(), e.data.clone()))
        .collect();
    assert_eq!(
        replayed,
        [2, 4, 6].map(|n| (key.to_owned(), n.to_string())),
        "room 7's sends, under the client's key"
    );
    assert_eq!(resync_topics(&events), [vec!["other".to_owned()]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_larger_than_the_queue_is_a_resync_not_a_cut() {
    let rt = Realtime::builder()
        .history(1000, HOUR)
        .queue_capacity(64)
        .build();
    let server = server(&rt).await;
    let (mut stream, _) = open(server.addr, &[], &["chat"]).await;
    let _ = rt.send_to("chat", &0_u64, everyone).unwrap();
    let position = read(&mut stream, 1).await[0].id.clone();
    drop(stream);
    for n in 1..=100_u64 {
        let _ = rt.send_to("chat", &n, everyone).unwrap();
    }
    let (mut resumed, _) = open(server.addr, &[&last_event_id(&position)], &["chat"]).await;
    let events = read(&mut resumed, 1).await;
    assert_eq!(resync_topics(&events), [vec!["chat".to_owned()]]);
    let _ = rt.send_to("chat", &101_u64, everyone).unwrap();
    assert_eq!(
        numbers(&read(&mut resumed, 1).await),
        [101],
        "still connected, live again"
    );
}

/// A channel that declares its own history: no builder setting needed.
#[axum_realtime::channel("declared", history = 3, ttl_secs = 60)]
struct Declared {
    n: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_declares_its_history() {
    let rt = Realtime::new();
    let server = server(&rt).await;
    let (mut stream, _) = open(server.addr, &[], &["declared"]).await;
    let _ = Declared { n: 0 }.send_to(&rt, everyone).unwrap();
    let position = read(&mut stream, 1).await[0].id.clone();
    drop(stream);
    for n in 1..=3 {
        let _ = Declared { n }.send_to(&rt, everyone).unwrap();
    }
    let (mut resumed, _) = open(server.addr, &[&last_event_id(&position)], &["declared"]).await;
    let data: Vec<String> = read(&mut resumed, 3)
        .await
        .into_iter()
        .map(|e| e.data)
        .collect();
    assert_eq!(data, [r#"{"n":1}"#, r#"{"n":2}"#, r#"{"n":3}"#]);

    // It keeps 3: a client further behind gets a resync.
    let _ = Declared { n: 4 }.send_to(&rt, everyone).unwrap();
    let (mut behind, _) = open(server.addr, &[&last_event_id(&position)], &["declared"]).await;
    assert_eq!(
        resync_topics(&read(&mut behind, 1).await),
        [vec!["declared".to_owned()]]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_application_reads_a_topics_history_since_a_position() {
    let rt = Realtime::builder().history_for("chat", 3, HOUR).build();
    assert_eq!(rt.history("chat", None), Some(vec![]));
    assert_eq!(rt.history("news", None), None, "news keeps none");
    for n in 0..5_u64 {
        let _ = rt.send_to("chat", &n, everyone).unwrap();
    }
    let all = rt.history("chat", None).unwrap_or_default();
    assert_eq!(
        all.iter().map(|s| s.data.as_str()).collect::<Vec<_>>(),
        ["2", "3", "4"]
    );
    let since = rt.history("chat", Some(&all[0].id)).unwrap();
    assert_eq!(since, all[1..]);
    assert_eq!(
        rt.history("chat", Some("XXXXXXXX-1")),
        None,
        "another epoch"
    );
    let (epoch, _) = all[0].id.rsplit_once('-').unwrap();
    assert_eq!(
        rt.history("chat", Some(&format!("{epoch}-1"))),
        None,
        "older than kept"
    );
}

/// A browser's `EventSource` takes every `id:` as its last event id, the new stream's
/// `PB_CONNECT` included: a stream lost again before its subscription landed resumes with
/// that stream's client id, and must still get what was missed before it opened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_stream_lost_before_it_subscribed_stands_for_where_it_resumed_from() {
    let rt = Realtime::builder().history(100, HOUR).build();
    let server = server(&rt).await;
    let (mut stream, first_id) = open(server.addr, &[], &["chat"]).await;
    let _ = rt.send_to("chat", &0_u64, everyone).unwrap();
    let position = read(&mut stream, 1).await[0].id.clone();
    rt.client(&first_id).expect("connected").disconnect();
    realtime_tests::wait::eventually("the first client is gone", || {
        rt.client(&first_id).is_none()
    })
    .await;
    let _ = rt.send_to("chat", &1_u64, everyone).unwrap(); // missed

    // The browser reconnects, sees the new PB_CONNECT, and loses that stream too.
    let mut lost = SseStream::open(server.addr, &[&last_event_id(&position)]).await;
    let lost_id = lost.client_id().await;
    drop(lost);
    realtime_tests::wait::eventually("the lost client is gone", || rt.client(&lost_id).is_none())
        .await;
    let _ = rt.send_to("chat", &2_u64, everyone).unwrap(); // missed too

    let (mut resumed, _) = open(server.addr, &[&last_event_id(&lost_id)], &["chat"]).await;
    let events = read(&mut resumed, 2).await;
    assert_eq!(numbers(&events), [1, 2], "{events:?}");
    assert!(resync_topics(&events).is_empty());

    // Where the server could not tell what a stream missed, its id cannot tell either.
    let mut lost = SseStream::open(server.addr, &[&last_event_id("XXXXXXXX-1")]).await;
    let lost_id = lost.client_id().await;
    drop(lost);
    realtime_tests::wait::eventually("the lost client is gone", || rt.client(&lost_id).is_none())
        .await;
    let (mut resumed, _) = open(server.addr, &[&last_event_id(&lost_id)], &["chat"]).await;
    let events = read(&mut resumed, 1).await;
    assert_eq!(resync_topics(&events), [vec!["chat".to_owned()]]);
}
