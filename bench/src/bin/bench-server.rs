//! `cargo run --release -p axum-realtime-bench --bin bench-server`: the bench server, a
//! `realtime` broker with one extra route for the load generator.
//!
//! `POST /bench/send` with `{"topic": "...", "data": "..."}` sends `data` (a string, so the wire
//! carries it JSON-encoded: `data:"..."`) to every subscriber of `topic` and answers
//! `{"reached": N}`, the clients reached. `bench/pb_hooks/bench.pb.js` gives PocketBase the
//! same route, so one load generator measures both; its `"keys": true` (send under every key a
//! client holds for the topic) is what this server always does, so it ignores the field.
//!
//! Flags: `--addr HOST:PORT` (or `REALTIME_ADDR`, default `127.0.0.1:8090`),
//! `--queue-capacity N` (or `BENCH_QUEUE_CAPACITY`, default 65536: messages a client may have
//! waiting before it is disconnected; bursts need room), `--threads N` (runtime worker threads,
//! default one per core), `--hold-above-cores C` (`Builder::hold_above_cores`: the CPU share
//! above which busy topics' frames are held to share writes, default the broker's), `--history COUNT` (`Builder::history`: every topic keeps its last
//! COUNT sends, for an hour; what recovery costs a live send), `--redis URL` (or
//! `REALTIME_REDIS_URL`: one node of several, joined by the Redis server at URL; without it
//! the broker is in-process, alone).
//!
//! With `--redis`, a send that did not reach the other nodes (the engine was disconnected)
//! answers 503: it reached this node's clients only. And the server waits (at most
//! [`ENGINE_READY_TIMEOUT`]) until its engine is connected before it listens, so a port that
//! answers means a node whose sends reach every node: `bench/run.sh nodes` relies on that.
//!
//! It serves as an application should: `Realtime::serve` (`TCP_NODELAY`, and stalled
//! connections cut when their queue overflows), on a listener with Go's backlog (so
//! PocketBase's), from `axum_realtime::serve::bind`, rather than the 128 of `TcpListener::bind`.
//!
//! Its flag parsing is its own, not the examples' `example-support`: that crate's build fetches
//! the browser libraries from npm and compiles SQLite, which a benchmark has no use for.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use axum_realtime::{EngineStatus, OtherNodes, Realtime};

const DEFAULT_ADDR: &str = "127.0.0.1:8090";
const DEFAULT_QUEUE_CAPACITY: usize = 65_536;
const USAGE: &str = "usage: bench-server [--addr HOST:PORT] [--queue-capacity N] [--threads N] [--hold-above-cores C] [--history COUNT] [--redis URL]";
/// How long a node waits for Redis before it gives up rather than listen unjoined.
const ENGINE_READY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, PartialEq)]
struct Options {
    addr: SocketAddr,
    queue_capacity: usize,
    threads: Option<usize>,
    /// `Builder::hold_above_cores`; `None`: the broker's default.
    hold_above_cores: Option<f64>,
    /// `Builder::history`: the sends every topic keeps (for an hour); `None`: no history.
    history: Option<usize>,
    /// The Redis server joining the nodes; `None`: in-process, alone.
    redis: Option<String>,
}

/// The environment's fallbacks for the flags.
#[derive(Default)]
struct Env {
    addr: Option<String>,
    queue_capacity: Option<String>,
    redis: Option<String>,
}

/// Reads `--name value` and `--name=value` (a later one wins); a flag beats the environment.
fn parse_options(args: impl IntoIterator<Item = String>, env: Env) -> Result<Options, String> {
    let (mut addr, mut capacity, mut threads, mut redis) =
        (env.addr, env.queue_capacity, None, env.redis);
    let (mut hold, mut history) = (None, None);
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (key, inline) = match arg.split_once('=') {
            Some((key, value)) => (key.to_owned(), Some(value.to_owned())),
            None => (arg.clone(), None),
        };
        let slot = match key.as_str() {
            "-h" | "--help" => return Err(USAGE.to_owned()),
            "--addr" => &mut addr,
            "--queue-capacity" => &mut capacity,
            "--threads" => &mut threads,
            "--hold-above-cores" => &mut hold,
            "--history" => &mut history,
            "--redis" => &mut redis,
            _ => return Err(format!("unknown argument `{arg}`; {USAGE}")),
        };
        let value = inline
            .or_else(|| args.next())
            .ok_or_else(|| format!("`{key}` needs a value; {USAGE}"))?;
        *slot = Some(value);
    }
    let addr = addr.unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    let number = |name: &str, value: Option<String>| -> Result<Option<usize>, String> {
        value
            .map(|v| {
                v.parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| format!("`{name}` wants a positive number, not `{v}`"))
            })
            .transpose()
    };
    Ok(Options {
        addr: addr.parse().map_err(|err| {
            format!("invalid address `{addr}` ({err}); expected HOST:PORT, e.g. {DEFAULT_ADDR}")
        })?,
        queue_capacity: number("--queue-capacity", capacity)?.unwrap_or(DEFAULT_QUEUE_CAPACITY),
        threads: number("--threads", threads)?,
        hold_above_cores: hold
            .map(|v| {
                v.parse::<f64>()
                    .ok()
                    .filter(|c| *c >= 0.0)
                    .ok_or_else(|| format!("`--hold-above-cores` wants cores ≥ 0, not `{v}`"))
            })
            .transpose()?,
        history: number("--history", history)?,
        redis: redis.filter(|url| !url.is_empty()),
    })
}

#[derive(serde::Deserialize)]
struct SendRequest {
    topic: String,
    data: String,
}

#[derive(serde::Serialize)]
struct Reached {
    reached: usize,
}

async fn send(
    State(rt): State<Realtime>,
    Json(request): Json<SendRequest>,
) -> Result<Json<Reached>, (StatusCode, String)> {
    let delivery = rt
        .send_to(&request.topic, &request.data, axum_realtime::everyone)
        .map_err(|err| (StatusCode::BAD_REQUEST, err.to_string()))?;
    if delivery.other_nodes == OtherNodes::Unreached {
        // The load generator counts it as a failed send: the other nodes' clients miss it.
        return Err((
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "reached {} client(s) of this node only: the Redis engine is disconnected",
                delivery.reached
            ),
        ));
    }
    Ok(Json(Reached {
        reached: delivery.reached,
    }))
}

fn main() {
    let env = Env {
        addr: std::env::var("REALTIME_ADDR").ok(),
        queue_capacity: std::env::var("BENCH_QUEUE_CAPACITY").ok(),
        redis: std::env::var("REALTIME_REDIS_URL").ok(),
    };
    let options = match parse_options(std::env::args().skip(1), env) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("bench-server: {message}");
            std::process::exit(2);
        }
    };
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = options.threads {
        runtime.worker_threads(threads);
    }
    let runtime = match runtime.enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("bench-server: cannot start the runtime: {err}");
            std::process::exit(1);
        }
    };
    if let Err(message) = runtime.block_on(serve(&options)) {
        eprintln!("bench-server: {message}");
        std::process::exit(1);
    }
}

async fn serve(options: &Options) -> Result<(), String> {
    // Every load-generator client comes from 127.0.0.1, and a burst queues far more than a
    // public server's per-client budget: lift both limits, as PocketBase has neither.
    let mut builder = Realtime::builder()
        .queue_capacity(options.queue_capacity)
        .queue_bytes(usize::MAX)
        .max_connections_per_ip(usize::MAX);
    if let Some(cores) = options.hold_above_cores {
        builder = builder.hold_above_cores(cores);
    }
    if let Some(count) = options.history {
        builder = builder.history(count, Duration::from_hours(1));
    }
    if let Some(url) = &options.redis {
        builder = builder.redis(url).map_err(|err| err.to_string())?;
    }
    let rt = builder.build();
    if let Some(url) = &options.redis {
        await_engine(&rt, url).await?;
    }
    let app = rt.mount(
        Router::new()
            .route("/bench/send", post(send))
            .with_state(rt.clone()),
    );
    let listener = axum_realtime::serve::bind(options.addr)
        .map_err(|err| format!("cannot listen on {}: {err}", options.addr))?;
    println!(
        "bench-server: pid {} listening on http://{} (queue capacity {}; {})",
        std::process::id(),
        options.addr,
        options.queue_capacity,
        options
            .redis
            .as_ref()
            .map_or_else(|| "in-process".to_owned(), |url| format!("a node of {url}"))
    );
    rt.serve(listener, app).await.map_err(|err| err.to_string())
}

/// Waits until the Redis engine is connected (and subscribed), at most
/// [`ENGINE_READY_TIMEOUT`].
async fn await_engine(rt: &Realtime, url: &str) -> Result<(), String> {
    let start = Instant::now();
    while rt.engine_status() != EngineStatus::Connected {
        if start.elapsed() > ENGINE_READY_TIMEOUT {
            return Err(format!(
                "the Redis engine did not connect to {url} within {} s",
                ENGINE_READY_TIMEOUT.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: Env) -> Result<Options, String> {
        parse_options(args.iter().map(|s| (*s).to_owned()), env)
    }

    fn env_addr(addr: &str) -> Env {
        Env {
            addr: Some(addr.to_owned()),
            ..Env::default()
        }
    }

    #[test]
    fn defaults_without_flags_or_environment() {
        let options = parse(&[], Env::default()).unwrap();
        assert_eq!(options.addr.to_string(), DEFAULT_ADDR);
        assert_eq!(options.queue_capacity, DEFAULT_QUEUE_CAPACITY);
        assert_eq!(options.threads, None);
        assert_eq!(options.redis, None);
        assert_eq!(options.hold_above_cores, None);
    }

    #[test]
    fn redis_from_the_flag_or_the_environment() {
        let url = "redis://127.0.0.1:6379";
        let from_env = Env {
            redis: Some(url.to_owned()),
            ..Env::default()
        };
        assert_eq!(parse(&[], from_env).unwrap().redis.as_deref(), Some(url));
        let flagged = Env {
            redis: Some(url.to_owned()),
            ..Env::default()
        };
        let options = parse(&["--redis=redis://127.0.0.1:7"], flagged).unwrap();
        assert_eq!(options.redis.as_deref(), Some("redis://127.0.0.1:7"));
        // An empty variable is no Redis, as unset.
        let empty = Env {
            redis: Some(String::new()),
            ..Env::default()
        };
        assert_eq!(parse(&[], empty).unwrap().redis, None);
    }

    #[test]
    fn flags_override_the_environment() {
        assert_eq!(parse(&[], env_addr("127.0.0.1:9")).unwrap().addr.port(), 9);
        let flagged = parse(&["--addr", "127.0.0.1:7"], env_addr("127.0.0.1:9")).unwrap();
        assert_eq!(flagged.addr.port(), 7);
        let capacity = Env {
            queue_capacity: Some("5".to_owned()),
            ..Env::default()
        };
        assert_eq!(parse(&[], capacity).unwrap().queue_capacity, 5);
        let capacity = Env {
            queue_capacity: Some("5".to_owned()),
            ..Env::default()
        };
        let flagged = parse(&["--queue-capacity=6"], capacity).unwrap();
        assert_eq!(flagged.queue_capacity, 6);
    }

    #[test]
    fn both_flag_spellings_and_the_last_wins() {
        let options = parse(
            &["--addr=127.0.0.1:6", "--threads", "3", "--threads=4"],
            Env::default(),
        )
        .unwrap();
        assert_eq!(options.addr.port(), 6);
        assert_eq!(options.threads, Some(4));
        let history = parse(&["--history", "1000"], Env::default()).unwrap();
        assert_eq!(history.history, Some(1000));
        let hold = parse(&["--hold-above-cores=0.2"], Env::default()).unwrap();
        assert_eq!(hold.hold_above_cores, Some(0.2));
    }

    #[test]
    fn refuses_what_it_cannot_use() {
        let error = |args: &[&str]| parse(args, Env::default()).unwrap_err();
        assert!(error(&["--addr"]).contains("needs a value"));
        assert!(error(&["--port", "1"]).contains("unknown argument"));
        assert!(error(&["--addr", "nope"]).contains("invalid address"));
        assert!(error(&["--threads", "0"]).contains("positive number"));
        assert!(error(&["--hold-above-cores", "-1"]).contains("cores ≥ 0"));
        assert!(error(&["--hold-above-cores", "x"]).contains("cores ≥ 0"));
        assert!(error(&["--history", "0"]).contains("positive number"));
        assert!(error(&["--queue-capacity", "x"]).contains("positive number"));
        assert!(error(&["--help"]).starts_with("usage:"));
    }
}
