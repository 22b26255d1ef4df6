//! Several nodes, one Redis: sends reach the clients of every node, subscription requests are
//! answered by the node holding the stream, filters run where the client is, and a Redis
//! outage costs the other nodes' deliveries only while it lasts.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::Router;
use axum_realtime::{
    AuthRecord, EngineStatus, Filter, JwtAuth, OtherNodes, Realtime, Template, channel, everyone,
};
use realtime_tests::raw_http::{
    READ_TIMEOUT, SseStream, connect_from, post_realtime, request_from, subscribed_to,
};
use realtime_tests::redis::RedisServer;
use realtime_tests::server::TestServer;
use realtime_tests::wait::eventually;

const SECRET: &[u8] = b"a secret shared by every node!!!";

/// One node: a broker on the shared Redis, served on its own port.
struct Node {
    rt: Realtime,
    server: TestServer,
}

impl Node {
    async fn start(redis: &RedisServer) -> Self {
        let rt = Realtime::builder()
            .authenticator(JwtAuth::new(SECRET))
            .on_subscribe(|client, sub| {
                if let Some(room) = sub.options().query.get("room") {
                    client.set("room", room.clone());
                }
            })
            .redis(&redis.url())
            .expect("a Redis URL")
            .build();
        let server = TestServer::start(&rt, rt.mount(Router::new())).await;
        Self { rt, server }
    }

    fn addr(&self) -> SocketAddr {
        self.server.addr
    }
}

async fn cluster(redis: &RedisServer, count: usize) -> Vec<Node> {
    let mut nodes = Vec::new();
    for _ in 0..count {
        nodes.push(Node::start(redis).await);
    }
    eventually("every node is connected to Redis", || {
        nodes
            .iter()
            .all(|node| node.rt.engine_status() == EngineStatus::Connected)
    })
    .await;
    nodes
}

fn token(record: &AuthRecord) -> String {
    JwtAuth::new(SECRET).mint(record).expect("a token")
}

/// A stream on `node`, subscribed to `keys` with `authorization` (a token), through `via`.
async fn subscribed(
    node: SocketAddr,
    via: SocketAddr,
    keys: &[&str],
    authorization: Option<&str>,
) -> SseStream {
    let mut stream = SseStream::open(node, &[]).await;
    let id = stream.client_id().await;
    let keys = serde_json::to_string(keys).unwrap();
    let body = format!(r#"{{"clientId":"{id}","subscriptions":{keys}}}"#);
    let response = post_realtime(via, &body, authorization).await;
    assert_eq!(response.status, 204, "{}", response.text());
    stream
}

/// The data of the events of `topic` (under any of its keys) that arrive, until `count` have
/// or none comes for [`READ_TIMEOUT`].
async fn events(stream: &mut SseStream, topic: &str, count: usize) -> Vec<String> {
    let mut seen = Vec::new();
    while seen.len() < count {
        let Some(block) = stream.next_event(READ_TIMEOUT).await else {
            break;
        };
        let event = block.lines().find_map(|l| l.strip_prefix("event:"));
        if event.is_some_and(|event| event == topic || event.starts_with(&format!("{topic}?"))) {
            let data = block.lines().find_map(|l| l.strip_prefix("data:")).unwrap();
            seen.push(data.to_owned());
        }
    }
    seen
}

/// Whether anything but heartbeats arrives within `wait`.
async fn quiet_for(stream: &mut SseStream, wait: Duration) -> bool {
    stream.next_event(wait).await.is_none()
}

#[channel("news")]
#[derive(Template)]
#[template(source = "<p>{{ text }}</p>", ext = "html")]
struct NewsHtml {
    text: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_on_any_node_reaches_every_nodes_subscribers_once_and_in_order() {
    let redis = RedisServer::start();
    let nodes = cluster(&redis, 3).await;
    let mut streams = Vec::new();
    for node in &nodes {
        streams.push(subscribed_to(node.addr(), "chat").await);
    }

    for (i, sender) in nodes.iter().enumerate() {
        let delivery = sender
            .rt
            .send_to("chat", &serde_json::json!({ "from": i }), everyone)
            .unwrap();
        assert_eq!(delivery.reached, 1, "the sender's own subscriber");
        assert_eq!(delivery.other_nodes, OtherNodes::Published);
    }
    for stream in &mut streams {
        let mut got = events(stream, "chat", 3).await;
        got.sort();
        assert_eq!(got, [r#"{"from":0}"#, r#"{"from":1}"#, r#"{"from":2}"#]);
        assert!(
            quiet_for(stream, Duration::from_millis(300)).await,
            "once each"
        );
    }

    // One publisher's sends keep their order on every node.
    for n in 0..200 {
        let _ = nodes[0].rt.send_to("chat", &n, everyone).unwrap();
    }
    let expected: Vec<String> = (0..200).map(|n| n.to_string()).collect();
    for stream in &mut streams {
        assert_eq!(events(stream, "chat", 200).await, expected);
    }

    // Render capture: rendered once on the sender, the same HTML everywhere.
    let mut news: Vec<SseStream> = Vec::new();
    for node in &nodes {
        news.push(subscribed_to(node.addr(), "news").await);
    }
    let page = NewsHtml {
        text: "hello <world>".into(),
    };
    let captured = page.capture_to(&nodes[2].rt, everyone).unwrap();
    assert_eq!(captured.html, "<p>hello &#60;world&#62;</p>");
    for stream in &mut news {
        assert_eq!(
            events(stream, "news", 1).await,
            [r#""<p>hello &#60;world&#62;</p>""#]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_request_is_answered_by_the_node_that_holds_the_stream() {
    let redis = RedisServer::start();
    let nodes = cluster(&redis, 2).await;
    let (a, b) = (nodes[0].addr(), nodes[1].addr());

    // A stream on A, subscribed through B.
    let mut stream = subscribed(a, b, &["chat"], None).await;
    let _ = nodes[0].rt.send_to("chat", "via b", everyone).unwrap();
    assert_eq!(events(&mut stream, "chat", 1).await, [r#""via b""#]);

    // B answers as A does, byte for byte: an unknown client of A, and of no node.
    let id = {
        let mut other = SseStream::open(a, &[]).await;
        other.client_id().await
    };
    let unknown_of_a = format!("{}{}", &id[..8], "x".repeat(32));
    for unknown in [unknown_of_a.as_str(), "nobodysclientid"] {
        let body = format!(r#"{{"clientId":"{unknown}","subscriptions":["chat"]}}"#);
        let on_a = post_realtime(a, &body, None).await;
        let on_b = post_realtime(b, &body, None).await;
        assert_eq!(on_a.status, 404, "{}", on_a.text());
        assert_eq!((on_b.status, on_b.text()), (on_a.status, on_a.text()));
    }

    // A client bound to ann: bob's token is refused, by A and through B alike.
    let ann = token(&AuthRecord::new("ann"));
    let bob = token(&AuthRecord::new("bob"));
    let mut ann_stream = SseStream::open(a, &[]).await;
    let ann_id = ann_stream.client_id().await;
    let body = format!(r#"{{"clientId":"{ann_id}","subscriptions":["chat"]}}"#);
    assert_eq!(post_realtime(b, &body, Some(&ann)).await.status, 204);
    let on_a = post_realtime(a, &body, Some(&bob)).await;
    let on_b = post_realtime(b, &body, Some(&bob)).await;
    assert_eq!(on_a.status, 403, "{}", on_a.text());
    assert_eq!((on_b.status, on_b.text()), (on_a.status, on_a.text()));

    // Validation is the receiving node's, and the same everywhere.
    let invalid = r#"{"clientId":"","subscriptions":["chat"]}"#;
    let (on_a, on_b) = (
        post_realtime(a, invalid, None).await,
        post_realtime(b, invalid, None).await,
    );
    assert_eq!(on_a.status, 400);
    assert_eq!((on_b.status, on_b.text()), (on_a.status, on_a.text()));

    // The address check compares the stream's address with the POST's, wherever it lands.
    let other_host = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let mut from_one = SseStream::open_on(
        connect_from(IpAddr::V4(Ipv4Addr::LOCALHOST), a).await,
        a,
        &[],
    )
    .await;
    let id = from_one.client_id().await;
    let body = format!(r#"{{"clientId":"{id}","subscriptions":["chat"]}}"#);
    let head = "POST /api/realtime HTTP/1.1\r\nContent-Type: application/json";
    let on_a = request_from(other_host, a, head, body.as_bytes()).await;
    let on_b = request_from(other_host, b, head, body.as_bytes()).await;
    assert_eq!(on_a.status, 400, "{}", on_a.text());
    assert_eq!((on_b.status, on_b.text()), (on_a.status, on_a.text()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_run_on_the_node_that_holds_each_client() {
    let redis = RedisServer::start();
    let nodes = cluster(&redis, 2).await;
    let (a, b) = (nodes[0].addr(), nodes[1].addr());
    let ann = token(&AuthRecord::new("ann").with("role", "moderator"));
    let bob = token(&AuthRecord::new("bob"));
    let root = token(&AuthRecord::superuser("root"));

    // On B: ann in room 7, bob in room 8 also subscribed to news, root, and a guest.
    let mut ann_b = subscribed(
        b,
        a,
        &["chat?options={\"query\":{\"room\":\"7\"}}"],
        Some(&ann),
    )
    .await;
    let mut bob_b = subscribed(
        b,
        b,
        &["chat?options={\"query\":{\"room\":\"8\"}}", "news"],
        Some(&bob),
    )
    .await;
    let mut root_b = subscribed(b, a, &["chat"], Some(&root)).await;
    let mut guest_b = subscribed(b, b, &["chat"], None).await;

    let cases: [(&str, Filter, [bool; 4]); 8] = [
        ("everyone", everyone, [true, true, true, true]),
        (
            "default of a guest sender",
            axum_realtime::filter::same_user_or_all(&axum_realtime::RequestAuth::guest()),
            [true, true, true, true],
        ),
        (
            "the sender's user",
            Filter::user("ann"),
            [true, false, false, false],
        ),
        (
            "the room in the store",
            Filter::stored("room", "7"),
            [true, false, false, false],
        ),
        (
            "superusers",
            Filter::superusers(),
            [false, false, true, false],
        ),
        (
            "a role",
            Filter::auth_field("role", "moderator"),
            [true, false, false, false],
        ),
        (
            "another subscription",
            Filter::subscribed_to("news"),
            [false, true, false, false],
        ),
        (
            "a combination",
            Filter::stored("room", "8")
                .or(Filter::guests())
                .and(!Filter::superusers()),
            [false, true, false, true],
        ),
    ];
    for (n, (name, filter, expected)) in cases.into_iter().enumerate() {
        let delivery = nodes[0].rt.send_to("chat", &n, filter).unwrap();
        assert_eq!(delivery.reached, 0, "{name}: A holds no client");
        // A marker sent to everyone after each case bounds the wait for what must not come.
        let _ = nodes[0].rt.send_to("chat", &"end", everyone).unwrap();
        for (i, (stream, wanted)) in [&mut ann_b, &mut bob_b, &mut root_b, &mut guest_b]
            .into_iter()
            .zip(expected)
            .enumerate()
        {
            let got = events(stream, "chat", if wanted { 2 } else { 1 }).await;
            let want: Vec<String> = if wanted {
                vec![n.to_string(), r#""end""#.to_owned()]
            } else {
                vec![r#""end""#.to_owned()]
            };
            assert_eq!(got, want, "{name}: client {i}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_costs_the_other_nodes_only_while_it_lasts() {
    let mut redis = RedisServer::start();
    let nodes = cluster(&redis, 2).await;
    let mut on_a = subscribed_to(nodes[0].addr(), "chat").await;
    let mut on_b = subscribed_to(nodes[1].addr(), "chat").await;

    let _ = nodes[0].rt.send_to("chat", "before", everyone).unwrap();
    assert_eq!(events(&mut on_b, "chat", 1).await, [r#""before""#]);
    assert_eq!(events(&mut on_a, "chat", 1).await, [r#""before""#]);

    redis.stop();
    eventually("both nodes see Redis gone", || {
        nodes
            .iter()
            .all(|node| node.rt.engine_status() == EngineStatus::Disconnected)
    })
    .await;
    let during = nodes[0].rt.send_to("chat", "during", everyone).unwrap();
    assert_eq!(
        (during.reached, during.other_nodes),
        (1, OtherNodes::Unreached)
    );
    assert_eq!(
        events(&mut on_a, "chat", 1).await,
        [r#""during""#],
        "local delivery goes on"
    );
    // A subscription request for another node's client is refused, not left hanging.
    let id = SseStream::open(nodes[0].addr(), &[])
        .await
        .client_id()
        .await;
    let body = format!(r#"{{"clientId":"{id}","subscriptions":["chat"]}}"#);
    let answer = tokio::time::timeout(
        Duration::from_secs(3),
        post_realtime(nodes[1].addr(), &body, None),
    )
    .await
    .expect("answered at once");
    assert_eq!(answer.status, 503, "{}", answer.text());

    redis.restart();
    eventually("both nodes reconnect and resubscribe", || {
        nodes
            .iter()
            .all(|node| node.rt.engine_status() == EngineStatus::Connected)
    })
    .await;
    let _ = nodes[0].rt.send_to("chat", "after", everyone).unwrap();
    assert_eq!(
        events(&mut on_b, "chat", 1).await,
        [r#""after""#],
        "nothing twice, nothing from the outage"
    );
    assert_eq!(events(&mut on_a, "chat", 1).await, [r#""after""#]);
    assert!(quiet_for(&mut on_b, Duration::from_millis(300)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_starts_without_redis_serves_its_own_clients_and_joins_when_redis_comes() {
    let mut redis = RedisServer::start();
    redis.stop();
    let a = Node::start(&redis).await;
    let b = Node::start(&redis).await;
    let mut on_a = subscribed_to(a.addr(), "chat").await;
    let mut on_b = subscribed_to(b.addr(), "chat").await;
    assert_eq!(a.rt.engine_status(), EngineStatus::Disconnected);
    let alone = a.rt.send_to("chat", "alone", everyone).unwrap();
    assert_eq!(
        (alone.reached, alone.other_nodes),
        (1, OtherNodes::Unreached)
    );
    assert_eq!(events(&mut on_a, "chat", 1).await, [r#""alone""#]);

    redis.restart();
    eventually("both nodes connect once Redis is up", || {
        [&a, &b]
            .iter()
            .all(|node| node.rt.engine_status() == EngineStatus::Connected)
    })
    .await;
    let together = b.rt.send_to("chat", "together", everyone).unwrap();
    assert_eq!(together.other_nodes, OtherNodes::Published);
    assert_eq!(events(&mut on_a, "chat", 1).await, [r#""together""#]);
    assert_eq!(events(&mut on_b, "chat", 1).await, [r#""together""#]);
    assert!(
        quiet_for(&mut on_a, Duration::from_millis(300)).await,
        "nothing from before"
    );
}

// Recovery across nodes: with history, Redis numbers every send once, so a position means the
// same on every node, and a node reads back from Redis what its own copy does not hold.

async fn history_node(redis: &RedisServer) -> Node {
    let rt = Realtime::builder()
        .history(2000, Duration::from_hours(1))
        .redis(&redis.url())
        .expect("a Redis URL")
        .build();
    let server = TestServer::start(&rt, rt.mount(Router::new())).await;
    eventually("the node is connected to Redis", || {
        rt.engine_status() == EngineStatus::Connected
    })
    .await;
    Node { rt, server }
}

/// `(id, data)` of each `chat` event until `count` arrived or the stream went quiet.
async fn chat_with_ids(stream: &mut SseStream, count: usize) -> Vec<(String, String)> {
    let mut seen = Vec::new();
    while seen.len() < count {
        let Some(block) = stream.next_event(READ_TIMEOUT).await else {
            break;
        };
        let field = |name: &str| {
            block
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(str::to_owned)
        };
        if field("event:").as_deref() == Some("chat") {
            seen.push((field("id:").unwrap(), field("data:").unwrap()));
        }
    }
    seen
}

async fn resumed(node: SocketAddr, last_id: &str, keys: &[&str]) -> SseStream {
    let header = format!("Last-Event-ID: {last_id}");
    let mut stream = SseStream::open(node, &[&header]).await;
    let id = stream.client_id().await;
    let keys = serde_json::to_string(keys).unwrap();
    let body = format!(r#"{{"clientId":"{id}","subscriptions":{keys}}}"#);
    assert_eq!(post_realtime(node, &body, None).await.status, 204);
    stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_cut_mid_burst_resumes_on_another_node_with_every_message_once() {
    let redis = RedisServer::start();
    let (a, b) = (history_node(&redis).await, history_node(&redis).await);
    let mut on_a = subscribed_to(a.addr(), "chat").await;

    let sender = b.rt.clone();
    let burst = tokio::spawn(async move {
        for n in 0..1000_u64 {
            let sent = sender.send_to("chat", &n, everyone).unwrap();
            assert_eq!(sent.other_nodes, OtherNodes::Published);
            if n % 50 == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    });
    let before = chat_with_ids(&mut on_a, 300).await;
    drop(on_a); // the connection is cut mid-burst
    burst.await.unwrap();
    assert_eq!(before.len(), 300);
    let (last, _) = before.last().unwrap().clone();

    // It reconnects through the balancer to the other node.
    let mut on_b = resumed(b.addr(), &last, &["chat"]).await;
    let _ = b.rt.send_to("chat", &1000_u64, everyone).unwrap();
    let after = chat_with_ids(&mut on_b, 701).await;
    let all: Vec<u64> = before
        .iter()
        .chain(&after)
        .map(|(_, data)| data.parse().unwrap())
        .collect();
    assert_eq!(
        all,
        (0..=1000).collect::<Vec<_>>(),
        "every message once, in order, then live"
    );
    let positions: Vec<&str> = before
        .iter()
        .chain(&after)
        .map(|(id, _)| id.as_str())
        .collect();
    let epochs: std::collections::HashSet<_> = positions
        .iter()
        .map(|id| id.rsplit_once('-').unwrap().0)
        .collect();
    assert_eq!(
        epochs.len(),
        1,
        "one order for the whole application: {epochs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_survives_a_node_restart_and_a_lost_redis_is_a_resync() {
    let mut redis = RedisServer::start();
    let a = history_node(&redis).await;
    let mut stream = subscribed_to(a.addr(), "chat").await;
    let _ = a.rt.send_to("chat", &0_u64, everyone).unwrap();
    let (position, _) = chat_with_ids(&mut stream, 1).await.remove(0);
    drop(stream);
    for n in 1..=5_u64 {
        let _ = a.rt.send_to("chat", &n, everyone).unwrap();
    }
    // A node that starts now holds nothing of what came before: it reads it back from Redis.
    let b = history_node(&redis).await;
    let mut on_b = resumed(b.addr(), &position, &["chat"]).await;
    let replayed: Vec<String> = chat_with_ids(&mut on_b, 5)
        .await
        .into_iter()
        .map(|(_, d)| d)
        .collect();
    assert_eq!(replayed, ["1", "2", "3", "4", "5"]);

    // Redis restarted without its data: the order is a new one, the old positions mean nothing.
    redis.restart();
    // A node that has not noticed the restart yet still reports its old connection as
    // connected, so "connected" does not say it has joined the new order: a send from A
    // reaching B under a new epoch does.
    let (old_epoch, _) = position.rsplit_once('-').expect("<epoch>-<sequence>");
    let old_id = format!("id:{old_epoch}-");
    let mut probe = subscribed_to(b.addr(), "chat").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    for n in 6_u64.. {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no send of the new order reached B"
        );
        let _ = a.rt.send_to("chat", &n, everyone).unwrap();
        if let Some(block) = probe.next_event(Duration::from_millis(200)).await
            && block
                .lines()
                .any(|line| line.starts_with("id:") && !line.starts_with(&old_id))
        {
            break;
        }
    }
    let mut again = SseStream::open(b.addr(), &[&format!("Last-Event-ID: {position}")]).await;
    let id = again.client_id().await;
    let body = format!(r#"{{"clientId":"{id}","subscriptions":["chat"]}}"#);
    assert_eq!(post_realtime(b.addr(), &body, None).await.status, 204);
    let block = again.next_event(READ_TIMEOUT).await.expect("an answer");
    assert!(block.contains("event:PB_RESYNC\n"), "{block}");
    assert!(block.contains(r#"data:{"topics":["chat"]}"#), "{block}");
}
