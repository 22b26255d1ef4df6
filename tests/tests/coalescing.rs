//! When frames share a write: only when they are already waiting, never because a frame might
//! get company while the server has CPU to spare.

use std::time::Duration;

use axum_realtime::Realtime;
use realtime_tests::raw_http::{READ_TIMEOUT, SseStream, post_realtime, subscribed_to};
use realtime_tests::server::TestServer;

fn data_of(event: &str) -> &str {
    event
        .lines()
        .find_map(|line| line.strip_prefix("data:"))
        .expect("a data line")
}

/// Sends 8 frames 100 ms apart to one client that reads each at once, on both stream paths,
/// with holding allowed above `hold_above_cores`: a topic sent to every 100 ms counts as
/// frequent for a 10 s `max_write_delay`, so holding by pace alone would keep each frame for
/// that bound (or at least until the next send, 100 ms on). Asserts every frame arrives well
/// before that.
async fn every_frame_arrives_at_once(hold_above_cores: f64) {
    for direct in [true, false] {
        let rt = Realtime::builder()
            .max_write_delay(Duration::from_secs(10))
            .hold_above_cores(hold_above_cores)
            .direct_streams(direct)
            .build();
        let server = TestServer::start(&rt, rt.mount(axum::Router::new())).await;
        let mut stream = subscribed_to(server.addr, "ticks").await;
        for i in 0..8 {
            assert_eq!(
                rt.send_to("ticks", &i, axum_realtime::everyone)
                    .unwrap()
                    .reached,
                1
            );
            // Far less than a held frame would wait for its company.
            let event = stream
                .next_event(Duration::from_millis(60))
                .await
                .unwrap_or_else(|| panic!("frame {i} was held (direct: {direct})"));
            assert_eq!(data_of(&event), i.to_string());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A server that is not short of CPU writes each frame of a frequent topic at once (never busy
/// enough here: the policy under test, free of this machine's other load).
#[tokio::test]
async fn an_idle_server_writes_every_frame_at_once_even_on_a_busy_topic() {
    every_frame_arrives_at_once(f64::INFINITY).await;
}

/// Busy or not, a topic whose client keeps up is not held: holding a frame saves a write only
/// when the stream would otherwise queue it behind the ones it is still writing. Here the
/// server counts as busy at any load, so only whether the client is behind decides.
#[tokio::test]
async fn a_client_that_keeps_up_gets_every_frame_at_once_even_on_a_busy_server() {
    every_frame_arrives_at_once(0.0).await;
}

/// Frames that pile up while the client's socket is full go out once it drains: every one,
/// once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_queued_behind_a_full_socket_arrive_once_and_in_order() {
    let rt = Realtime::builder()
        .queue_capacity(100_000)
        .queue_bytes(usize::MAX)
        .hold_above_cores(f64::INFINITY)
        .build();
    let server = TestServer::start(&rt, rt.mount(axum::Router::new())).await;
    let mut stream = subscribed_to(server.addr, "bulk").await;
    // 600 × 16 KiB: more than the socket buffers hold while the client is not reading.
    let payload = "x".repeat(16 * 1024);
    for i in 0..600 {
        let message = format!("{i}:{payload}");
        assert_eq!(
            rt.send_to("bulk", &message, axum_realtime::everyone)
                .unwrap()
                .dropped,
            0
        );
    }
    for i in 0..600 {
        let event = stream
            .next_event(Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("message {i} never arrived"));
        let data = data_of(&event);
        assert!(
            data.starts_with(&format!("\"{i}:")),
            "message {i} out of order"
        );
    }
    assert!(
        stream
            .next_event(Duration::from_millis(200))
            .await
            .is_none(),
        "nothing twice"
    );
}

/// A frame for an idle stream is written by the send itself, before `send_to` returns: the
/// stream's own task is not needed for it. It could not run here: the runtime has one thread,
/// and the test blocks it in a plain blocking read of the client's socket.
#[tokio::test(flavor = "current_thread")]
async fn a_frame_for_an_idle_stream_is_written_by_the_send_itself() {
    use std::io::Read;
    let rt = Realtime::builder()
        .hold_above_cores(f64::INFINITY)
        .direct_streams(true)
        .build();
    let server = TestServer::start(&rt, rt.mount(axum::Router::new())).await;
    let socket = subscribed_to(server.addr, "ticks")
        .await
        .into_socket()
        .into_std()
        .unwrap();
    socket.set_nonblocking(false).unwrap();
    socket.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    // Lets the stream's task finish its own writes and wait, idle.
    tokio::time::sleep(Duration::from_millis(50)).await;
    for i in 0..3 {
        assert_eq!(
            rt.send_to("ticks", &i, axum_realtime::everyone)
                .unwrap()
                .reached,
            1
        );
        let expected = format!("event:ticks\ndata:{i}\n\n");
        let mut read = String::new();
        while !read.contains(&expected) {
            let mut buf = [0; 512];
            let n = (&socket)
                .read(&mut buf)
                .unwrap_or_else(|err| panic!("frame {i} not written by the send: {err}"));
            assert!(n > 0, "the stream ended");
            read.push_str(std::str::from_utf8(&buf[..n]).unwrap());
        }
    }
}

/// Several publishers at once, on three topics, to clients subscribed to all three: each
/// frame is written by a send (by the sender itself, or by the send's writer tasks for more
/// than a few streams) when it finds its stream idle, and by the stream's own task when it
/// finds frames queued or a write in progress. Every client still gets every message once and
/// in each publisher's order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sends_written_by_senders_and_streams_arrive_once_and_in_order() {
    const CLIENTS: usize = 40;
    const SENDS: usize = 300;
    const TOPICS: [&str; 3] = ["a", "b", "c"];
    let rt = Realtime::builder()
        .queue_capacity(100_000)
        .hold_above_cores(f64::INFINITY)
        .build();
    let server = TestServer::start(&rt, rt.mount(axum::Router::new())).await;
    let mut streams = Vec::new();
    for _ in 0..CLIENTS {
        let mut stream = SseStream::open(server.addr, &[]).await;
        let id = stream.client_id().await;
        let body = format!(r#"{{"clientId":"{id}","subscriptions":["a","b","c"]}}"#);
        assert_eq!(post_realtime(server.addr, &body, None).await.status, 204);
        streams.push(stream);
    }
    // One publisher on a thread of its own (outside the runtime, with more streams than it
    // writes itself: its frames go to the streams' tasks), two as tasks (their sends hand
    // frames for idle streams to writer tasks).
    let on_thread = {
        let rt = rt.clone();
        std::thread::spawn(move || {
            for seq in 0..SENDS {
                let sent = rt.send_to("a", &format!("a:{seq}"), axum_realtime::everyone);
                assert_eq!(sent.unwrap().reached, CLIENTS);
            }
        })
    };
    let tasks: Vec<_> = ["b", "c"]
        .into_iter()
        .map(|topic| {
            let rt = rt.clone();
            tokio::spawn(async move {
                for seq in 0..SENDS {
                    let data = format!("{topic}:{seq}");
                    let sent = rt.send_to(topic, &data, axum_realtime::everyone);
                    assert_eq!(sent.unwrap().reached, CLIENTS);
                    if seq % 8 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    for (client, stream) in streams.iter_mut().enumerate() {
        let mut next = [0usize; TOPICS.len()];
        for _ in 0..SENDS * TOPICS.len() {
            let event = stream
                .next_event(READ_TIMEOUT)
                .await
                .unwrap_or_else(|| panic!("client {client} stopped at {next:?}"));
            let data = data_of(&event).trim_matches('"');
            let (topic, seq) = data.split_once(':').expect("topic:seq");
            let topic = TOPICS.iter().position(|t| *t == topic).unwrap();
            assert_eq!(
                seq.parse::<usize>().unwrap(),
                next[topic],
                "client {client}, topic {topic}"
            );
            next[topic] += 1;
        }
        assert!(
            stream.next_event(Duration::from_millis(50)).await.is_none(),
            "client {client}: nothing twice"
        );
    }
    on_thread.join().unwrap();
    for task in tasks {
        task.await.unwrap();
    }
}
