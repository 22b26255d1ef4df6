//! The broker alone, in memory: what a delivery costs in user space, apart from the kernel's
//! write.
//!
//! Everything goes through the public API. [`streams`] opens event streams with in-memory
//! `GET /api/realtime` requests to the mounted router (`tower::ServiceExt::oneshot`, no socket),
//! reads each one's `PB_CONNECT` for its id, and subscribes it with an in-memory
//! `POST /api/realtime`. A measurement then sends with `Realtime::send_to` (the fan-out into
//! every subscriber's outbox) and polls each response body for its frames (the drain a
//! connection's task does before its write), either inline with a no-op waker ([`drain`]), or
//! from one task per stream on a current-thread runtime ([`tasks`]), as connections are served.

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Barrier;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, HttpBody as _};
use axum::http::{Request, StatusCode, header};
use axum_realtime::Realtime;
use axum_realtime::endpoint::PATH;
use tokio::sync::Notify;
use tower::ServiceExt as _;

use crate::sse;

/// What every send carries: a small chat message, 58 bytes of JSON.
#[derive(Debug, serde::Serialize)]
pub struct Message {
    /// Who wrote it.
    pub user: &'static str,
    /// What they wrote.
    pub text: &'static str,
}

/// The payload of the micro-benchmark's sends.
pub const PAYLOAD: Message = Message {
    user: "ada",
    text: "hello, everyone: a short chat message",
};

/// A broker whose streams need no timers and write every frame at once: no heartbeat (the
/// bodies are polled outside a runtime's timer), no frame held back for company (the path a
/// server that is not short of CPU takes; a hold would leave frames in the outbox, undrained).
#[must_use]
pub fn broker() -> Realtime {
    Realtime::builder()
        .heartbeat(None)
        .max_write_delay(Duration::ZERO)
        .build()
}

/// [`broker`], keeping the last `count` sends of every topic (for an hour): what a send costs
/// when the past is kept for reconnecting clients.
#[must_use]
pub fn broker_keeping(count: usize) -> Realtime {
    Realtime::builder()
        .heartbeat(None)
        .max_write_delay(Duration::ZERO)
        .history(count, Duration::from_hours(1))
        .build()
}

/// Polls `body` once, with a no-op waker: its next frame's bytes, `Ok(None)` when it has none
/// ready.
fn poll_once(body: &mut Body) -> Result<Option<axum::body::Bytes>, String> {
    let mut cx = Context::from_waker(Waker::noop());
    match Pin::new(body).poll_frame(&mut cx) {
        Poll::Pending => Ok(None),
        Poll::Ready(None) => Err("the stream ended".into()),
        Poll::Ready(Some(Err(err))) => Err(err.to_string()),
        Poll::Ready(Some(Ok(frame))) => frame
            .into_data()
            .map(Some)
            .map_err(|_| "a trailers frame".into()),
    }
}

/// Opens `n` event streams on `app` (a router `Realtime::mount` made), each subscribed to
/// `topic`, in memory. The `PB_CONNECT` is queued when a stream opens, so it is read without
/// waiting: a stream without one is an error, not a wait.
///
/// # Errors
///
/// When a request is refused or a stream does not start with its `PB_CONNECT`.
pub async fn streams(app: &Router, topic: &str, n: usize) -> Result<Vec<Body>, String> {
    let mut bodies = Vec::with_capacity(n);
    for _ in 0..n {
        let open = Request::get(PATH)
            .body(Body::empty())
            .map_err(|err| err.to_string())?;
        let Ok(response) = app.clone().oneshot(open).await;
        if response.status() != StatusCode::OK {
            return Err(format!("GET {PATH} answered {}", response.status()));
        }
        let mut body = response.into_body();
        let connect = poll_once(&mut body)?.ok_or("no PB_CONNECT ready")?;
        let id = sse::client_id(&connect)
            .ok_or_else(|| format!("no client id in {:?}", String::from_utf8_lossy(&connect)))?;
        let subscribe = Request::post(PATH)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(format!(
                r#"{{"clientId":"{id}","subscriptions":["{topic}"]}}"#
            )))
            .map_err(|err| err.to_string())?;
        let Ok(answer) = app.clone().oneshot(subscribe).await;
        if answer.status() != StatusCode::NO_CONTENT {
            return Err(format!("POST {PATH} answered {}", answer.status()));
        }
        bodies.push(body);
    }
    Ok(bodies)
}

/// What a drain took out of the bodies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drained {
    /// Body frames (one per write a connection would make).
    pub frames: u64,
    /// Their bytes.
    pub bytes: u64,
    /// The largest frame's bytes.
    pub largest: u64,
}

/// Takes every frame each body has ready, as a connection's task does once woken: until the
/// body is pending (that last, empty poll is part of a real drain too).
///
/// # Errors
///
/// When a stream ended.
pub fn drain(bodies: &mut [Body]) -> Result<Drained, String> {
    let mut drained = Drained::default();
    for body in bodies {
        while let Some(frame) = poll_once(body)? {
            drained.frames += 1;
            drained.bytes += frame.len() as u64;
            drained.largest = drained.largest.max(frame.len() as u64);
        }
    }
    Ok(drained)
}

/// Sends [`PAYLOAD`] to `topic`, checking it reached `expected` clients.
fn send(rt: &Realtime, topic: &str, expected: usize) -> Result<(), String> {
    let delivery = rt
        .send_to(topic, &PAYLOAD, axum_realtime::everyone)
        .map_err(|err| err.to_string())?;
    if delivery.reached == expected {
        Ok(())
    } else {
        Err(format!(
            "a send reached {} of {expected} subscribers",
            delivery.reached
        ))
    }
}

/// The bytes two events of a send of [`PAYLOAD`] to `topic` take at least: `id:<id>\nevent:`
/// `<topic>\ndata:<payload>\n\n` is 18 bytes besides its parts, and an id at least 10 (an
/// 8-character epoch, `-`, a sequence number) and at most 29; so a frame shorter than this
/// holds one event.
fn two_events(topic: &str) -> Result<u64, String> {
    let payload = serde_json::to_vec(&PAYLOAD).map_err(|err| err.to_string())?;
    Ok(2 * (28 + topic.len() + payload.len()) as u64)
}

/// Checks that a drain took one event from each of `bodies` bodies, each in a frame of its own.
fn check(drained: Drained, bodies: usize, two_events: u64) -> Result<(), String> {
    if drained.frames != bodies as u64 {
        Err(format!(
            "drained {} frames of {bodies} bodies",
            drained.frames
        ))
    } else if drained.largest >= two_events {
        Err(format!(
            "a frame of {} bytes holds more than one event",
            drained.largest
        ))
    } else {
        Ok(())
    }
}

/// What one sample measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Deliveries in the sample: sends × subscribers.
    pub deliveries: u64,
    /// The CPU time they took (the measuring thread's, so time spent waiting for a core while
    /// other processes ran is left out), or for [`fan_out_alone`] the wall time of the sends.
    pub elapsed: Duration,
    /// The thread's CPU time over the sample's wall time: 1 when it kept its core throughout.
    pub on_cpu: f64,
}

impl Sample {
    /// Nanoseconds per delivery.
    #[must_use]
    #[allow(clippy::cast_precision_loss, reason = "nanoseconds of a benchmark")]
    pub fn ns_per_delivery(&self) -> f64 {
        self.elapsed.as_nanos() as f64 / self.deliveries.max(1) as f64
    }
}

/// The calling thread's CPU clock: what the work costs, whatever else shares the cores.
fn cpu_clock() -> cpu_time::ThreadTime {
    cpu_time::ThreadTime::now()
}

/// The share of the wall time since `wall` that the thread spent on a core since `cpu`.
fn on_cpu(cpu: &cpu_time::ThreadTime, wall: Instant) -> f64 {
    let wall = wall.elapsed().as_secs_f64();
    if wall > 0.0 {
        cpu.elapsed().as_secs_f64() / wall
    } else {
        1.0
    }
}

/// `rounds` × (one send, then drain every body): the whole user-space path.
///
/// # Errors
///
/// When a send misses a subscriber or a body does not yield one frame per send.
pub fn fan_out_and_drain(
    rt: &Realtime,
    topic: &str,
    bodies: &mut [Body],
    rounds: u64,
) -> Result<Sample, String> {
    let n = bodies.len();
    let two = two_events(topic)?;
    let (start, wall) = (cpu_clock(), Instant::now());
    for _ in 0..rounds {
        send(rt, topic, n)?;
        check(drain(bodies)?, n, two)?;
    }
    Ok(Sample {
        deliveries: rounds * n as u64,
        elapsed: start.elapsed(),
        on_cpu: on_cpu(&start, wall),
    })
}

/// `rounds` × (one send, timed; then drain, untimed): the fan-out alone. The CPU clock is a
/// system call (about a microsecond here), so each send is timed by the wall clock, less its
/// own cost (`clock`, from [`clock_pair_cost`]); [`Sample::on_cpu`] tells whether the thread
/// lost its core meanwhile.
///
/// # Errors
///
/// As [`fan_out_and_drain`].
pub fn fan_out_alone(
    rt: &Realtime,
    topic: &str,
    bodies: &mut [Body],
    rounds: u64,
    clock: Duration,
) -> Result<Sample, String> {
    let n = bodies.len();
    let two = two_events(topic)?;
    let (cpu, wall) = (cpu_clock(), Instant::now());
    let mut elapsed = Duration::ZERO;
    for _ in 0..rounds {
        let t0 = Instant::now();
        send(rt, topic, n)?;
        elapsed += t0.elapsed().saturating_sub(clock);
        check(drain(bodies)?, n, two)?;
    }
    Ok(Sample {
        deliveries: rounds * n as u64,
        elapsed,
        on_cpu: on_cpu(&cpu, wall),
    })
}

/// What a pair of wall-clock readings costs, to take out of per-send timings.
#[must_use]
pub fn clock_pair_cost() -> Duration {
    const PAIRS: u32 = 100_000;
    let mut spent = Duration::ZERO;
    for _ in 0..PAIRS {
        let t0 = Instant::now();
        spent += t0.elapsed();
    }
    spent / PAIRS
}

/// `rounds` × (`per_drain` sends, then drain): each body yields its queued frames as one batch
/// (one write), up to the outbox's batch size.
///
/// # Errors
///
/// When a send misses a subscriber or a body yields no frame.
pub fn batched(
    rt: &Realtime,
    topic: &str,
    bodies: &mut [Body],
    rounds: u64,
    per_drain: u64,
) -> Result<Sample, String> {
    let n = bodies.len();
    let (start, wall) = (cpu_clock(), Instant::now());
    for _ in 0..rounds {
        for _ in 0..per_drain {
            send(rt, topic, n)?;
        }
        let drained = drain(bodies)?;
        if drained.frames < n as u64 {
            return Err(format!("drained {} frames of {n} bodies", drained.frames));
        }
    }
    Ok(Sample {
        deliveries: rounds * per_drain * n as u64,
        elapsed: start.elapsed(),
        on_cpu: on_cpu(&start, wall),
    })
}

/// `rounds` × (one send, then wait until one task per stream has taken its frame), on a
/// current-thread runtime: the drain with the scheduler's wake-ups and polls, as a server
/// serves connections (on one thread here, so no cross-core traffic). The bodies come back.
///
/// # Errors
///
/// When a send misses a subscriber or a task fails.
pub fn tasks(
    rt: &Realtime,
    topic: &str,
    bodies: Vec<Body>,
    rounds: u64,
) -> Result<(Sample, Vec<Body>), String> {
    const WARM_UP: u64 = 2;
    let subscribers = bodies.len();
    let n = subscribers as u64;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| err.to_string())?;
    runtime.block_on(async {
        let taken = Arc::new(AtomicU64::new(0));
        let round_done = Arc::new(Notify::new());
        let readers: Vec<_> = bodies
            .into_iter()
            .map(|mut body| {
                let (taken, round_done) = (Arc::clone(&taken), Arc::clone(&round_done));
                tokio::spawn(async move {
                    for _ in 0..WARM_UP + rounds {
                        match poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
                            Some(Ok(_frame)) => {}
                            _ => return Err("a stream ended".to_owned()),
                        }
                        // A round ends with its n-th frame: none of the next round's can come
                        // before the next send, which waits for this.
                        if (taken.fetch_add(1, Ordering::Relaxed) + 1).is_multiple_of(n) {
                            round_done.notify_one();
                        }
                    }
                    Ok(body)
                })
            })
            .collect();
        let (mut start, mut wall) = (cpu_clock(), Instant::now());
        for round in 0..WARM_UP + rounds {
            if round == WARM_UP {
                (start, wall) = (cpu_clock(), Instant::now());
            }
            send(rt, topic, subscribers)?;
            round_done.notified().await;
        }
        let (elapsed, on_cpu) = (start.elapsed(), on_cpu(&start, wall));
        let mut back = Vec::with_capacity(readers.len());
        for reader in readers {
            back.push(reader.await.map_err(|err| err.to_string())??);
        }
        Ok((
            Sample {
                deliveries: rounds * n,
                elapsed,
                on_cpu,
            },
            back,
        ))
    })
}

/// What several publishers, each on its own topic with its own subscribers, measured together.
#[derive(Debug, Clone, PartialEq)]
pub struct Parallel {
    /// Deliveries in all.
    pub deliveries: u64,
    /// From the moment every publisher was released to the moment the last finished.
    pub wall: Duration,
    /// Each publisher thread's CPU time.
    pub cpu: Vec<Duration>,
}

impl Parallel {
    /// Wall-clock nanoseconds per delivery, all publishers together.
    #[must_use]
    #[allow(clippy::cast_precision_loss, reason = "nanoseconds of a benchmark")]
    pub fn wall_ns_per_delivery(&self) -> f64 {
        self.wall.as_nanos() as f64 / self.deliveries.max(1) as f64
    }

    /// CPU nanoseconds per delivery, summed over the publishers' threads.
    #[must_use]
    #[allow(clippy::cast_precision_loss, reason = "nanoseconds of a benchmark")]
    pub fn cpu_ns_per_delivery(&self) -> f64 {
        self.cpu.iter().sum::<Duration>().as_nanos() as f64 / self.deliveries.max(1) as f64
    }
}

/// One thread per `(topic, bodies)` group, released together, each doing `rounds` × (send to
/// its topic, drain its bodies) (as [`fan_out_and_drain`]).
///
/// # Errors
///
/// When any publisher's sends or drains fail.
pub fn parallel(
    rt: &Realtime,
    groups: &mut [(String, Vec<Body>)],
    rounds: u64,
) -> Result<Parallel, String> {
    let start = Barrier::new(groups.len() + 1);
    let deliveries = groups.iter().map(|(_, b)| b.len() as u64).sum::<u64>() * rounds;
    std::thread::scope(|scope| {
        let threads: Vec<_> = groups
            .iter_mut()
            .map(|(topic, bodies)| {
                let start = &start;
                scope.spawn(move || {
                    start.wait();
                    let cpu = cpu_time::ThreadTime::now();
                    fan_out_and_drain(rt, topic, bodies, rounds)?;
                    Ok::<_, String>(cpu.elapsed())
                })
            })
            .collect();
        start.wait();
        let released = Instant::now();
        let mut cpu = Vec::with_capacity(threads.len());
        for thread in threads {
            cpu.push(
                thread
                    .join()
                    .map_err(|_| "a publisher panicked".to_owned())??,
            );
        }
        Ok(Parallel {
            deliveries,
            wall: released.elapsed(),
            cpu,
        })
    })
}

/// The control for [`parallel`]: `threads` threads released together, each doing the same
/// private arithmetic (`steps` steps, no shared memory); the wall time until the last
/// finished. Its scaling from 1 to 2 threads is what the machine gives two threads at that
/// moment: the figure to read [`parallel`]'s against.
#[must_use]
pub fn control(threads: usize, steps: u64) -> Duration {
    let start = Barrier::new(threads + 1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|seed| {
                let start = &start;
                scope.spawn(move || {
                    start.wait();
                    let mut x = seed as u64 + 1;
                    for _ in 0..steps {
                        // xorshift: a dependent chain the compiler cannot fold.
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                    }
                    std::hint::black_box(x)
                })
            })
            .collect();
        start.wait();
        let released = Instant::now();
        for worker in workers {
            let _ = worker.join();
        }
        released.elapsed()
    })
}

/// The median of `values` (the upper one of an even count); 0 for none.
#[must_use]
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The harness must see every delivery: a body per subscriber, one frame per send (or one
    /// batch per drain), and the PAYLOAD in it.
    #[test]
    fn every_subscriber_gets_each_send_once() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let rt = broker();
        let app = rt.mount(Router::new());
        let mut bodies = runtime
            .block_on(async {
                tokio::time::timeout(Duration::from_secs(10), streams(&app, "room", 3)).await
            })
            .unwrap()
            .unwrap();
        let mut others = runtime
            .block_on(async {
                tokio::time::timeout(Duration::from_secs(10), streams(&app, "other", 2)).await
            })
            .unwrap()
            .unwrap();
        assert_eq!(rt.subscribers("room").len(), 3);

        send(&rt, "room", 3).unwrap();
        let frames: Vec<_> = bodies
            .iter_mut()
            .map(|body| poll_once(body).unwrap().expect("a frame"))
            .collect();
        for frame in &frames {
            let text = std::str::from_utf8(frame).unwrap();
            assert!(text.contains("event:room\n"), "{text}");
            assert!(text.contains(r#""text":"hello, everyone"#), "{text}");
        }
        assert_eq!(drain(&mut bodies).unwrap(), Drained::default());
        assert_eq!(drain(&mut others).unwrap(), Drained::default());

        let sample = fan_out_and_drain(&rt, "room", &mut bodies, 5).unwrap();
        assert_eq!(sample.deliveries, 15);
        let sample = fan_out_alone(&rt, "room", &mut bodies, 5, Duration::ZERO).unwrap();
        assert_eq!(sample.deliveries, 15);
        let sample = batched(&rt, "room", &mut bodies, 2, 4).unwrap();
        assert_eq!(sample.deliveries, 24);
        let (sample, back) = tasks(&rt, "room", bodies, 4).unwrap();
        assert_eq!((sample.deliveries, back.len()), (12, 3));
        let mut groups = vec![("room".to_owned(), back), ("other".to_owned(), others)];
        let run = parallel(&rt, &mut groups, 3).unwrap();
        assert_eq!((run.deliveries, run.cpu.len()), (15, 2));
        assert_eq!(drain(&mut groups[0].1).unwrap(), Drained::default());

        // A send the harness does not drain shows up as a miscount, not as a silent pass.
        send(&rt, "room", 3).unwrap();
        assert!(fan_out_and_drain(&rt, "room", &mut groups[0].1, 1).is_err());
        assert!(send(&rt, "room", 4).is_err());
    }

    #[test]
    fn the_control_runs_every_thread() {
        assert!(control(2, 1000) > Duration::ZERO);
    }

    #[test]
    fn medians() {
        assert!((median(vec![3.0, 1.0, 2.0]) - 2.0).abs() < f64::EPSILON);
        assert!((median(Vec::new())).abs() < f64::EPSILON);
    }
}
