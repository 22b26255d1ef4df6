//! `broker-micro`: what a delivery costs in user space (the broker alone, in memory, no
//! sockets), and what the write system call it then needs costs (loopback sockets), as markdown
//! tables on stdout. `bench/run.sh micro` runs it; `broker-micro --help` lists the flags.
//!
//! The broker part opens event streams through the public API with in-memory requests
//! (`axum_realtime_bench::micro`), on a current-thread runtime; its timed loops run on plain
//! threads that poll the response bodies with a no-op waker, except the last column's, which
//! drains them from one task per stream on a current-thread runtime. Each figure is the median
//! of `--samples` samples of about `--deliveries` deliveries, in the measuring thread's CPU
//! time (the cores are shared: time spent waiting for one is left out); the publishers table
//! shows wall time too, the measure of scaling.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum_realtime::Realtime;
use axum_realtime_bench::floor::{self, Receiver};
use axum_realtime_bench::latency_floor;
use axum_realtime_bench::micro::{self, Sample, median};

const USAGE: &str = "\
usage: broker-micro [options]

options:
  --samples S          samples per figure, the median is shown (default 15)
  --deliveries D       deliveries per sample, about (default 200000)
  --subscribers LIST   subscriber counts of the fan-out table (default 1,100,10000)
  --floor-pairs P      loopback connections of the write floor (default 500)
  --floor-writes W     writes per floor measurement (default 200000)
  --frame-bytes B      bytes per write of the floor (default 100)
  --stored M           sends kept per topic when measuring the history's memory (default 100000)
  --only PARTS         a comma-separated list of broker, parallel, history, floor, latency:
                       those tables only (default: all)";

/// The tables, in the order they run.
const PARTS: [&str; 5] = ["broker", "parallel", "history", "floor", "latency"];

struct Options {
    samples: usize,
    deliveries: u64,
    subscribers: Vec<usize>,
    floor_pairs: usize,
    floor_writes: u64,
    frame_bytes: usize,
    stored: usize,
    only: Option<Vec<String>>,
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        samples: 15,
        deliveries: 200_000,
        subscribers: vec![1, 100, 10_000],
        floor_pairs: 500,
        floor_writes: 200_000,
        frame_bytes: 100,
        stored: 100_000,
        only: None,
    };
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let (key, inline) = match arg.split_once('=') {
            Some((key, value)) => (key, Some(value.to_owned())),
            None => (arg.as_str(), None),
        };
        if matches!(key, "-h" | "--help") {
            return Err(USAGE.into());
        }
        let value = inline
            .or_else(|| iter.next().cloned())
            .ok_or_else(|| format!("`{key}` needs a value\n{USAGE}"))?;
        let number = |v: &str| -> Result<u64, String> {
            v.parse::<u64>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("`{key} {value}`: a positive number, please"))
        };
        let count = |v: &str| number(v).and_then(|n| usize::try_from(n).map_err(|e| e.to_string()));
        match key {
            "--samples" => options.samples = count(&value)?,
            "--deliveries" => options.deliveries = number(&value)?,
            "--subscribers" => {
                options.subscribers = value.split(',').map(count).collect::<Result<_, _>>()?;
            }
            "--floor-pairs" => options.floor_pairs = count(&value)?,
            "--floor-writes" => options.floor_writes = number(&value)?,
            "--frame-bytes" => options.frame_bytes = count(&value)?,
            "--stored" => options.stored = count(&value)?,
            "--only" => {
                let parts: Vec<String> = value.split(',').map(str::to_owned).collect();
                if let Some(bad) = parts.iter().find(|part| !PARTS.contains(&part.as_str())) {
                    return Err(format!("`--only {bad}`: not a table\n{USAGE}"));
                }
                options.only = Some(parts);
            }
            _ => return Err(format!("unknown argument `{arg}`\n{USAGE}")),
        }
    }
    Ok(options)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse_options(&args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    if let Err(err) = run(&options) {
        eprintln!("broker-micro: {err}");
        std::process::exit(1);
    }
}

fn wants(options: &Options, part: &str) -> bool {
    options
        .only
        .as_ref()
        .is_none_or(|only| only.iter().any(|p| p == part))
}

fn run(options: &Options) -> Result<(), String> {
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "broker-micro on {} cores; load average before: {}",
        std::thread::available_parallelism().map_or(0, usize::from),
        loadavg
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let setup = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| err.to_string())?;
    if wants(options, "broker") {
        broker_table(options, &setup)?;
    }
    if wants(options, "parallel") {
        parallel_table(options, &setup)?;
    }
    if wants(options, "history") {
        history_table(options, &setup)?;
    }
    if wants(options, "floor") {
        floor_table(options)?;
    }
    if wants(options, "latency") {
        latency_floor_table(options)?;
    }
    Ok(())
}

/// Opens `n` subscribed streams on `topic` of `rt`.
fn open(
    setup: &tokio::runtime::Runtime,
    rt: &Realtime,
    topic: &str,
    n: usize,
) -> Result<Vec<Body>, String> {
    let app = rt.mount(Router::new());
    setup.block_on(async {
        tokio::time::timeout(Duration::from_mins(1), micro::streams(&app, topic, n))
            .await
            .map_err(|_| "opening the streams took over a minute".to_owned())?
    })
}

/// Samples during which the thread was off its core for more than this share of the time
/// are taken again (up to [`RETRIES`] times as many): the cores are shared.
const MIN_ON_CPU: f64 = 0.9;
const RETRIES: usize = 4;

/// The median ns/delivery of `samples` runs of `measure` (after one warm-up run), keeping
/// those that kept their core ([`MIN_ON_CPU`]) when enough did, and every one otherwise.
fn median_of(
    samples: usize,
    mut measure: impl FnMut() -> Result<Sample, String>,
) -> Result<f64, String> {
    measure()?;
    let (mut kept, mut all) = (Vec::with_capacity(samples), Vec::new());
    while kept.len() < samples && all.len() < samples * RETRIES {
        let sample = measure()?;
        all.push(sample.ns_per_delivery());
        if sample.on_cpu >= MIN_ON_CPU {
            kept.push(sample.ns_per_delivery());
        }
    }
    Ok(median(if kept.len() < samples { all } else { kept }))
}

/// A fresh broker with `n` streams subscribed to `room`: each column starts from new outboxes,
/// whose queues another column's batches have not grown.
fn fresh(setup: &tokio::runtime::Runtime, n: usize) -> Result<(Realtime, Vec<Body>), String> {
    let rt = micro::broker();
    let bodies = open(setup, &rt, "room", n)?;
    Ok((rt, bodies))
}

fn broker_table(options: &Options, setup: &tokio::runtime::Runtime) -> Result<(), String> {
    const PER_DRAIN: u64 = 16;
    let payload = serde_json::to_vec(&micro::PAYLOAD).map_err(|err| err.to_string())?;
    let clock = micro::clock_pair_cost();
    let samples = options.samples;
    let mut rows = Vec::new();
    let mut frame_bytes = 0;
    for &n in &options.subscribers {
        eprintln!("broker-micro: fan-out to {n} subscribers");
        let rounds = (options.deliveries / n as u64).max(1);
        let (rt, mut bodies) = fresh(setup, n)?;
        let whole = median_of(samples, || {
            micro::fan_out_and_drain(&rt, "room", &mut bodies, rounds)
        })?;
        // One more send, to read the size of its event.
        let _ = rt
            .send_to("room", &micro::PAYLOAD, axum_realtime::everyone)
            .map_err(|err| err.to_string())?;
        let drained = micro::drain(&mut bodies)?;
        frame_bytes = drained.bytes / drained.frames.max(1);
        drop(bodies);
        let (rt, mut bodies) = fresh(setup, n)?;
        let alone = median_of(samples, || {
            micro::fan_out_alone(&rt, "room", &mut bodies, rounds, clock)
        })?;
        drop(bodies);
        let (rt, mut bodies) = fresh(setup, n)?;
        let tasked = median_of(samples, || {
            let taken = std::mem::take(&mut bodies);
            let (sample, back) = micro::tasks(&rt, "room", taken, rounds)?;
            bodies = back;
            Ok(sample)
        })?;
        drop(bodies);
        let (rt, mut bodies) = fresh(setup, n)?;
        let batched = median_of(samples, || {
            micro::batched(
                &rt,
                "room",
                &mut bodies,
                (rounds / PER_DRAIN).max(1),
                PER_DRAIN,
            )
        })?;
        rows.push((n, alone, whole, batched, tasked));
    }
    println!();
    println!(
        "Broker alone, in memory (no sockets): ns per delivery, median of {} samples of ~{} deliveries; payload {} bytes of JSON, {frame_bytes}-byte event per delivery. \
         CPU time of the measuring thread, each column on fresh streams; samples during which it lost its core for over 10 % of the time are taken again. Fan-out: the `send_to` call alone, each timed by the wall clock (less {} ns of clock). Drain: polling every body until pending, no-op waker. \
         16 sends per drain: each body yields its 16 frames as one batch. Tasks: one tokio task per stream on a current-thread runtime takes its frame.",
        options.samples,
        options.deliveries,
        payload.len(),
        clock.as_nanos()
    );
    println!();
    println!(
        "| subscribers | fan-out (send_to) | drain | fan-out + drain | 16 sends per drain | fan-out + drain by a task per stream |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: |");
    for (n, alone, whole, batched, tasked) in rows {
        println!(
            "| {n} | {alone:.0} | {:.0} | **{whole:.0}** | {batched:.0} | {tasked:.0} |",
            (whole - alone).max(0.0)
        );
    }
    Ok(())
}

/// Sends kept per topic in the history columns: as many as a chat example keeps, so that
/// trimming the oldest is part of every send once the topic is full.
const KEPT: usize = 1000;

/// What keeping a history costs: the whole user-space path with and without it, and the
/// memory each stored send takes.
fn history_table(options: &Options, setup: &tokio::runtime::Runtime) -> Result<(), String> {
    let mut rows = Vec::new();
    for n in [1, 1000] {
        eprintln!("broker-micro: history, {n} subscribers");
        let rounds = (options.deliveries / n as u64).max(1);
        let (rt, mut bodies) = fresh(setup, n)?;
        let without = median_of(options.samples, || {
            micro::fan_out_and_drain(&rt, "room", &mut bodies, rounds)
        })?;
        drop((rt, bodies));
        let rt = micro::broker_keeping(KEPT);
        let mut bodies = open(setup, &rt, "room", n)?;
        let with = median_of(options.samples, || {
            micro::fan_out_and_drain(&rt, "room", &mut bodies, rounds)
        })?;
        rows.push((n, without, with));
    }
    let mut memory = Vec::new();
    for payload_bytes in [61, 1024] {
        eprintln!("broker-micro: history memory, {payload_bytes}-byte payloads");
        memory.push((payload_bytes, stored_bytes(options.stored, payload_bytes)?));
    }
    println!();
    println!(
        "History: the whole user-space path (fan-out + drain, ns per delivery, as above) without a history and with every topic keeping its last {KEPT} sends; then the memory a stored send takes: the process's resident memory grown by {} sends kept on one topic with no subscriber, ÷ {}.",
        options.stored, options.stored
    );
    println!();
    println!("| subscribers | without history | with history | with ÷ without |");
    println!("| ---: | ---: | ---: | ---: |");
    for (n, without, with) in rows {
        println!(
            "| {n} | {without:.0} | {with:.0} | {:.2}× |",
            with / without
        );
    }
    println!();
    println!("| payload (JSON) | resident memory per stored send |");
    println!("| ---: | ---: |");
    for (payload_bytes, per_send) in memory {
        println!("| {payload_bytes} bytes | {per_send:.0} bytes |");
    }
    Ok(())
}

/// The resident memory `count` kept sends of a `payload_bytes`-byte JSON string take, per send.
fn stored_bytes(count: usize, payload_bytes: usize) -> Result<f64, String> {
    // A JSON string of `payload_bytes` bytes, quotes included.
    let payload = "x".repeat(payload_bytes.saturating_sub(2));
    let rt = micro::broker_keeping(count);
    // One send first, so that the topic's queue and the allocator's arenas are in place.
    let send = |rt: &Realtime| {
        rt.send_to("kept", &payload, axum_realtime::everyone)
            .map(|_| ())
            .map_err(|err| err.to_string())
    };
    send(&rt)?;
    let rss = || axum_realtime_bench::procfs::rss_bytes("self").map_err(|err| err.to_string());
    let before = rss()?;
    for _ in 1..count {
        send(&rt)?;
    }
    let after = rss()?;
    drop(rt);
    #[allow(clippy::cast_precision_loss, reason = "bytes, far below 2^52")]
    Ok(after.saturating_sub(before) as f64 / (count - 1).max(1) as f64)
}

/// The control's steps: about as long as a sample of the publishers.
const CONTROL_STEPS: u64 = 20_000_000;

/// One sample of the publishers table: 1 then 2 publishers, each right after the control on
/// as many threads, so that both see the machine as it was then.
struct Paired {
    control: f64,
    single: micro::Parallel,
    double: micro::Parallel,
}

impl Paired {
    fn speedup(&self) -> f64 {
        self.single.wall_ns_per_delivery() / self.double.wall_ns_per_delivery()
    }
}

fn parallel_table(options: &Options, setup: &tokio::runtime::Runtime) -> Result<(), String> {
    println!();
    println!(
        "Publishers on distinct topics, each a thread sending to its own subscribers and draining them (fan-out + drain, no-op waker), all on one broker; median of {} samples. \
         Wall: all publishers' deliveries ÷ the time until the last finished; CPU: the publisher threads' CPU time ÷ deliveries (it rises if they contend). \
         Control: the same private arithmetic on 1 and 2 threads, run just before each sample: how much of two cores the machine gave then (the cores are shared). \
         The last column keeps the samples whose control scaled at least 1.8×.",
        options.samples
    );
    println!();
    println!(
        "| subscribers per topic | 1 publisher: wall ns/delivery | 2 publishers: wall ns/delivery (together) | CPU ns/delivery, 1 → 2 publishers | throughput, 2 vs 1 | control, 2 vs 1 threads | throughput, 2 vs 1, when the control scaled (samples) |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for subscribers in [1, 1000] {
        eprintln!("broker-micro: 1 and 2 publishers × {subscribers} subscribers");
        let rt = micro::broker();
        let mut groups = Vec::new();
        for p in 0..2 {
            let topic = format!("topic-{p}");
            let bodies = open(setup, &rt, &topic, subscribers)?;
            groups.push((topic, bodies));
        }
        let rounds = (options.deliveries / subscribers as u64).max(1);
        let mut samples = Vec::with_capacity(options.samples);
        for sample in 0..=options.samples {
            let one = micro::control(1, CONTROL_STEPS);
            let single = micro::parallel(&rt, &mut groups[..1], rounds)?;
            let two = micro::control(2, CONTROL_STEPS);
            let double = micro::parallel(&rt, &mut groups[..2], rounds)?;
            if sample > 0 {
                samples.push(Paired {
                    control: one.as_secs_f64() * 2.0 / two.as_secs_f64(),
                    single,
                    double,
                });
            }
        }
        let of = |f: &dyn Fn(&Paired) -> f64| median(samples.iter().map(f).collect());
        let scaled: Vec<f64> = samples
            .iter()
            .filter(|p| p.control >= 1.8)
            .map(Paired::speedup)
            .collect();
        let scaled = match scaled.len() {
            0 => "none".to_owned(),
            n => format!("{:.2}× ({n})", median(scaled)),
        };
        println!(
            "| {subscribers} | {:.0} | {:.0} | {:.0} → {:.0} | {:.2}× | {:.2}× | {scaled} |",
            of(&|p| p.single.wall_ns_per_delivery()),
            of(&|p| p.double.wall_ns_per_delivery()),
            of(&|p| p.single.cpu_ns_per_delivery()),
            of(&|p| p.double.cpu_ns_per_delivery()),
            of(&Paired::speedup),
            of(&|p| p.control),
        );
    }
    Ok(())
}

fn floor_table(options: &Options) -> Result<(), String> {
    axum_realtime_bench::fd_limit::raise_fd_limit(2 * options.floor_pairs as u64 + 64);
    let rounds = (options.floor_writes / options.floor_pairs as u64).max(1);
    // Paced: as a send every 20 ms (50 sends/s), a tenth of the rounds (the pauses take time).
    let pace = Duration::from_millis(20);
    let paced_rounds = (rounds / 10).max(2);
    let mut rows = Vec::new();
    for (receiver, pause, rounds) in [
        (Receiver::Quiet, Duration::ZERO, rounds),
        (Receiver::Waiting, Duration::ZERO, rounds),
        (Receiver::Waiting, pace, paced_rounds),
    ] {
        eprintln!("broker-micro: the write floor, {receiver:?} reader, {pause:?} between rounds");
        let floor = floor::measure(
            options.floor_pairs,
            options.frame_bytes,
            rounds,
            receiver,
            pause,
        )
        .map_err(|err| format!("the write floor: {err}"))?;
        rows.push(floor);
    }
    println!();
    println!(
        "The write system call's floor: one thread writes a {}-byte frame to each of {} loopback TCP connections (TCP_NODELAY) in turn, {rounds} rounds; \
         its CPU time (user + system) per write. On loopback the receiver's TCP processing runs inside the writer's call. \
         Quiet: the reader reads a round after it is written (no reader waiting). Waiting: the reader waits in epoll (one tokio task per socket), as clients do. \
         Paced: the writer sleeps {} ms between rounds ({paced_rounds} rounds), as a server between sends at a fixed rate: the machine idles, and each round finds the sockets cold.",
        options.frame_bytes,
        options.floor_pairs,
        pace.as_millis()
    );
    println!();
    println!(
        "| reader | writes | writer CPU µs/write | user µs | system µs | wall µs/write | reader CPU µs/frame |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for floor in rows {
        #[allow(clippy::cast_precision_loss, reason = "microseconds of a benchmark")]
        let wall = floor.wall.as_secs_f64() * 1e6 / floor.writes.max(1) as f64;
        let reader = match (floor.receiver, floor.pause.is_zero()) {
            (Receiver::Quiet, _) => "quiet".to_owned(),
            (Receiver::Waiting, true) => "waiting (epoll)".to_owned(),
            (Receiver::Waiting, false) => {
                format!(
                    "waiting, paced ({} ms between rounds)",
                    floor.pause.as_millis()
                )
            }
        };
        println!(
            "| {reader} | {} | **{:.2}** | {:.2} | {:.2} | {wall:.2} | {:.2} |",
            floor.writes,
            floor.cpu_us_per_write(),
            floor.user_us_per_write(),
            floor.system_us_per_write(),
            floor.reader_us_per_write()
        );
    }
    Ok(())
}

/// The rate sweep's heaviest rows, replayed with nothing but the write and read calls.
fn latency_floor_table(options: &Options) -> Result<(), String> {
    // (subscribers, sends per second, rounds): the sweep's rows with most subscribers, and its
    // slowest rate, where a send finds every thread asleep.
    const ROWS: [(usize, u32, u64); 4] = [
        (100, 10, 50),
        (500, 40, 100),
        (1000, 20, 60),
        (5000, 10, 30),
    ];
    axum_realtime_bench::fd_limit::raise_fd_limit(2 * 5000 + 64);
    println!();
    println!(
        "The latency floor of the rate sweep's largest fan-outs and slowest rate: at the row's send rate, one or two threads write a {}-byte frame \
         to each of its loopback TCP connections (TCP_NODELAY; two threads take half each, as the server's writers do), and one \
         tokio runtime of one or two threads reads them (a task per socket, as the load generator's clients), timing each frame \
         from the moment its writer started the round. No broker, no HTTP, no SSE parsing: what a server without overhead could reach here, its writes \
         sharing the two cores with a reader like the load generator.",
        options.frame_bytes
    );
    println!();
    println!(
        "| subscribers | sends/s | writer threads | reader threads | frames | p50 µs | p99 µs |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (pairs, rate, rounds) in ROWS {
        for (writers, readers) in [(1, 1), (2, 1), (2, 2)] {
            eprintln!(
                "broker-micro: the latency floor, {pairs} sockets at {rate}/s, {writers} writer(s)"
            );
            let interval = Duration::from_secs(1) / rate;
            let floor = latency_floor::measure(
                pairs,
                writers,
                readers,
                options.frame_bytes,
                rounds,
                interval,
            )
            .map_err(|err| format!("the latency floor: {err}"))?;
            println!(
                "| {pairs} | {rate} | {writers} | {readers} | {} | {} | {} |",
                floor.latencies.count(),
                floor.latencies.quantile(0.5) / 1000,
                floor.latencies.quantile(0.99) / 1000,
            );
        }
    }
    Ok(())
}
