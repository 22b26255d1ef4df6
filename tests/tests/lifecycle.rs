//! Clients come and go: the registry forgets them, slow ones are cut off, and the broker stays
//! consistent while sends race connects, subscribes and disconnects.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum_realtime::{Client, Realtime, filter};
use realtime_tests::raw_http::{READ_TIMEOUT, SseStream, post_realtime};
use realtime_tests::server::TestServer;
use realtime_tests::wait::eventually;

async fn serve(rt: &Realtime) -> TestServer {
    TestServer::start(rt, rt.mount(axum::Router::new())).await
}

/// The client with this id.
#[filter]
fn the_client(client: &Client, id: &str) -> bool {
    client.id().as_str() == id
}

#[tokio::test]
async fn a_closed_stream_leaves_nothing_registered() {
    let disconnects = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&disconnects);
    let rt = Realtime::builder()
        .on_disconnect(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .build();
    let server = serve(&rt).await;
    let mut stream = SseStream::open(server.addr, &[]).await;
    let id = stream.client_id().await;
    let body = format!(r#"{{"clientId":"{id}","subscriptions":["chat"]}}"#);
    assert_eq!(post_realtime(server.addr, &body, None).await.status, 204);
    assert_eq!(rt.subscribers("chat").len(), 1);
    drop(stream);
    eventually("the client is unregistered", || rt.client_count() == 0).await;
    assert!(rt.subscribers("chat").is_empty());
    assert_eq!(
        disconnects.load(Ordering::SeqCst),
        1,
        "the hook runs exactly once"
    );
    let response = post_realtime(server.addr, &body, None).await;
    assert_eq!(
        response.status, 404,
        "a gone client cannot be subscribed again"
    );
}

#[tokio::test]
async fn disconnect_all_ends_every_stream() {
    let rt = Realtime::new();
    let server = serve(&rt).await;
    let mut streams = Vec::new();
    for _ in 0..3 {
        let mut stream = SseStream::open(server.addr, &[]).await;
        stream.client_id().await;
        streams.push(stream);
    }
    assert_eq!(rt.disconnect_all(), 3);
    assert_eq!(rt.client_count(), 0);
    for stream in &mut streams {
        assert!(stream.ended_within(READ_TIMEOUT).await);
    }
}

// One thread: the sends below run back to back, with no chance for the stream's task to
// drain. The slow client reads nothing, and the messages are large enough to fill its
// socket: the first is written in part (by the send itself, the stream being idle), and the
// rest queue up behind it.
#[tokio::test(flavor = "current_thread")]
async fn a_full_queue_disconnects_only_that_client() {
    let rt = Realtime::builder().queue_capacity(4).build();
    let server = serve(&rt).await;
    let mut slow = SseStream::open(server.addr, &[]).await;
    let slow_id = slow.client_id().await;
    let mut fast = SseStream::open(server.addr, &[]).await;
    let fast_id = fast.client_id().await;
    for id in [&slow_id, &fast_id] {
        let body = format!(r#"{{"clientId":"{id}","subscriptions":["chat"]}}"#);
        assert_eq!(post_realtime(server.addr, &body, None).await.status, 204);
    }
    // Only the fast client's stream gets to drain between sends.
    let fast_client = rt.client(&fast_id).unwrap();
    let mut dropped = 0;
    let large = "x".repeat(8 << 20);
    for _ in 0..6 {
        let delivery = rt.send_to("chat", &large, the_client(&slow_id)).unwrap();
        dropped += delivery.dropped;
    }
    assert_eq!(dropped, 1, "the slow client overflowed once");
    assert!(rt.client(&slow_id).is_none());
    assert!(slow.ended_within(READ_TIMEOUT).await);
    let delivery = rt
        .send_to("chat", &"still here", axum_realtime::everyone)
        .unwrap();
    assert_eq!((delivery.reached, delivery.dropped), (1, 0));
    let event = fast.next_event(READ_TIMEOUT).await.unwrap();
    assert!(event.ends_with("data:\"still here\"\n\n"), "{event}");
    assert!(!fast_client.is_closed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_racing_connects_subscribes_and_disconnects_stay_consistent() {
    let rt = Realtime::new();
    let server = Arc::new(serve(&rt).await);
    let sender = {
        let rt = rt.clone();
        tokio::spawn(async move {
            let mut sent = 0u32;
            for n in 0..2000u32 {
                let _ = rt.send_to("chat", &n, axum_realtime::everyone).unwrap();
                sent += 1;
                if n % 20 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            sent
        })
    };
    let mut churners = Vec::new();
    for worker in 0..4 {
        let server = Arc::clone(&server);
        churners.push(tokio::spawn(async move {
            for round in 0..15 {
                let mut stream = SseStream::open(server.addr, &[]).await;
                let id = stream.client_id().await;
                let keys = if (worker + round) % 2 == 0 {
                    r#"["chat","news"]"#
                } else {
                    r#"["chat?options=%7B%7D"]"#
                };
                let body = format!(r#"{{"clientId":"{id}","subscriptions":{keys}}}"#);
                let response = post_realtime(server.addr, &body, None).await;
                assert_eq!(response.status, 204, "{}", response.text());
                // Read a little, so some streams end mid-delivery.
                let _ = stream.next_event(Duration::from_millis(5)).await;
            }
        }));
    }
    for churner in churners {
        churner.await.unwrap();
    }
    assert_eq!(sender.await.unwrap(), 2000);
    eventually("every stream is unregistered", || rt.client_count() == 0).await;
    assert!(rt.subscribers("chat").is_empty());
    assert!(rt.subscribers("news").is_empty());
}

/// A client that stops reading clogs its socket; the broker cuts the connection once its queue
/// overflows, so neither the registry nor the socket keeps its memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_reader_is_cut_off_and_forgotten() {
    let rt = Realtime::builder().queue_capacity(8).build();
    let server = serve(&rt).await;
    let mut stalled = SseStream::open(server.addr, &[]).await;
    let id = stalled.client_id().await;
    let body = format!(r#"{{"clientId":"{id}","subscriptions":["big"]}}"#);
    assert_eq!(post_realtime(server.addr, &body, None).await.status, 204);

    // 64 KiB per message: hyper's buffer and both kernel socket buffers fill within a few
    // hundred messages, then the queue of 8 overflows. Bounded at 4000 messages.
    let payload = "x".repeat(64 * 1024);
    let mut dropped = 0;
    for _ in 0..4000 {
        dropped += rt
            .send_to("big", &payload, axum_realtime::everyone)
            .unwrap()
            .dropped;
        if dropped > 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(dropped, 1, "the stalled client overflowed");
    assert!(rt.client(&id).is_none());
    // Without reading a byte: the clogged connection is aborted, so its stream is dropped.
    eventually("the stalled stream is gone", || rt.open_streams() == 0).await;
    drop(stalled);
}

/// Clients that connect and disconnect continuously during a broadcast storm receive, while
/// connected, every message sent after their subscription took effect, once and in order; and
/// they leave nothing behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churning_clients_lose_nothing_while_connected() {
    use std::sync::atomic::{AtomicBool, AtomicU64};

    let rt = Realtime::builder().queue_capacity(1_000_000).build();
    let server = Arc::new(serve(&rt).await);
    let next = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let sender = {
        let (rt, next, stop) = (rt.clone(), Arc::clone(&next), Arc::clone(&stop));
        tokio::spawn(async move {
            // Bounded: at most 200,000 messages, whatever happens to the churners.
            for n in 0..200_000u64 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let _ = rt.send_to("storm", &n, axum_realtime::everyone).unwrap();
                next.store(n + 1, Ordering::SeqCst);
                if n % 8 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        })
    };
    let mut churners = Vec::new();
    for _ in 0..3 {
        let (server, next) = (Arc::clone(&server), Arc::clone(&next));
        churners.push(tokio::spawn(async move {
            for _ in 0..8 {
                let mut stream = SseStream::open(server.addr, &[]).await;
                let id = stream.client_id().await;
                let body = format!(r#"{{"clientId":"{id}","subscriptions":["storm"]}}"#);
                assert_eq!(post_realtime(server.addr, &body, None).await.status, 204);
                // Message `floor` may be mid-send and have missed the subscription; every later
                // one started after it took effect and must arrive.
                let floor = next.load(Ordering::SeqCst) + 1;
                let mut received = Vec::new();
                let deadline = tokio::time::Instant::now() + Duration::from_millis(40);
                while tokio::time::Instant::now() < deadline {
                    let Some(event) = stream.next_event(Duration::from_millis(40)).await else {
                        break;
                    };
                    let data = event.rsplit("data:").next().unwrap().trim_end();
                    received.push(data.parse::<u64>().unwrap());
                }
                assert!(!received.is_empty(), "the storm reached a subscriber");
                assert!(received[0] <= floor, "missed {}..{floor}", received[0]);
                for pair in received.windows(2) {
                    assert_eq!(pair[1], pair[0] + 1, "a gap or a reorder: {received:?}");
                }
            }
        }));
    }
    for churner in churners {
        churner.await.unwrap();
    }
    stop.store(true, Ordering::SeqCst);
    sender.await.unwrap();
    eventually("every churned client is gone", || {
        rt.client_count() == 0 && rt.open_streams() == 0
    })
    .await;
    assert!(rt.subscribers("storm").is_empty());
}

/// Clients that subscribe with keys of their own (so each gets its own copy of every frame)
/// and stop reading are cut once their backlog passes the byte budget (1 MiB by default), long
/// before the message count (1024 by default) would cut them; a client that reads keeps
/// receiving every message meanwhile, and nothing of the others is left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_readers_of_large_messages_are_cut_by_the_byte_budget() {
    const STALLED: usize = 20;
    // The kernel takes the first messages: the server's send buffer grows up to
    // `net.ipv4.tcp_wmem`'s maximum (4 MiB by default), the stalled clients' receive buffers
    // are kept small. Then 1 MiB queues: 16 KB messages cut them within about 320 sends, where
    // the message count alone would take over 1024. A ceiling that bounds the test, not a
    // timing: sends that never cut anyone end here.
    const MAX_SENDS: usize = 600;
    // Default queue bounds; no holding, or the reader's reads would pace the sends at the hold.
    let rt = Realtime::builder().max_write_delay(Duration::ZERO).build();
    let server = serve(&rt).await;
    let key = |name: &str| format!("chat?options=%7B%22query%22%3A%7B%22n%22%3A%22{name}%22%7D%7D");
    let subscribe = |id: String, key: String| async move {
        let body = format!(r#"{{"clientId":"{id}","subscriptions":["{key}"]}}"#);
        assert_eq!(post_realtime(server.addr, &body, None).await.status, 204);
    };
    let mut stalled = Vec::new();
    for n in 0..STALLED {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let socket = socket.connect(server.addr).await.unwrap();
        let mut stream = SseStream::open_on(socket, server.addr, &[]).await;
        subscribe(stream.client_id().await, key(&n.to_string())).await;
        stalled.push(stream); // and never read again
    }
    let mut reader = SseStream::open(server.addr, &[]).await;
    let reader_key = key("reader");
    subscribe(reader.client_id().await, reader_key.clone()).await;

    let filler = "x".repeat(16 * 1024);
    let mut dropped = 0;
    let mut sends = 0;
    while dropped < STALLED && sends < MAX_SENDS {
        sends += 1;
        let delivery = rt
            .send_to(
                "chat",
                &format!("{sends:04}{filler}"),
                axum_realtime::everyone,
            )
            .unwrap();
        dropped += delivery.dropped;
        let event = reader.next_event(READ_TIMEOUT).await;
        let event = event.expect("the reader gets every message");
        let head = format!("\nevent:{reader_key}\ndata:\"{sends:04}x");
        assert!(event.contains(&head), "not message {sends}: {event:.200}");
    }
    assert_eq!(
        dropped, STALLED,
        "every stalled reader cut within {sends} sends"
    );
    assert_eq!(rt.client_count(), 1, "only the reader is left");
    let delivery = rt
        .send_to("chat", &"after", axum_realtime::everyone)
        .unwrap();
    assert_eq!((delivery.reached, delivery.dropped), (1, 0));
    let event = reader.next_event(READ_TIMEOUT).await.unwrap();
    assert!(event.ends_with("data:\"after\"\n\n"), "{event}");
    // Without a byte read from them, the stalled connections are aborted.
    eventually("the stalled streams are gone", || rt.open_streams() == 1).await;
    drop(reader);
    eventually("the registry is empty", || {
        rt.client_count() == 0 && rt.open_streams() == 0
    })
    .await;
    assert!(rt.subscribers("chat").is_empty());
    drop(stalled);
}
