//! `cargo run --release -p example-bench`: the bench server, a `realtime` broker with one extra
//! route for the load generator.
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
//! default one per core).
//!
//! It serves as an application should: `Realtime::serve` (`TCP_NODELAY`, and stalled
//! connections cut when their queue overflows), on a listener with Go's backlog (so
//! PocketBase's), from `axum_realtime::serve::bind`, rather than the 128 of `TcpListener::bind`.

use std::net::SocketAddr;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use axum_realtime::Realtime;
use example_support::cli;

const DEFAULT_QUEUE_CAPACITY: usize = 65_536;
const USAGE: &str = "usage: example-bench [--addr HOST:PORT] [--queue-capacity N] [--threads N]";

#[derive(Debug)]
struct Options {
    addr: SocketAddr,
    queue_capacity: usize,
    threads: Option<usize>,
}

fn options() -> Result<Options, String> {
    let known = ["--addr", "--queue-capacity", "--threads"];
    let mut flags = cli::flags(std::env::args().skip(1), &known, USAGE)?;
    let addr = flags
        .remove("--addr")
        .or_else(|| std::env::var("REALTIME_ADDR").ok())
        .unwrap_or_else(|| cli::DEFAULT_ADDR.to_owned());
    let capacity = flags
        .remove("--queue-capacity")
        .or_else(|| std::env::var("BENCH_QUEUE_CAPACITY").ok());
    let threads = flags.remove("--threads");
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
        addr: cli::parse_addr(&addr)?,
        queue_capacity: number("--queue-capacity", capacity)?.unwrap_or(DEFAULT_QUEUE_CAPACITY),
        threads: number("--threads", threads)?,
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
    rt.send_to(&request.topic, &request.data, axum_realtime::everyone)
        .map(|delivery| {
            Json(Reached {
                reached: delivery.reached,
            })
        })
        .map_err(|err| (StatusCode::BAD_REQUEST, err.to_string()))
}

fn main() {
    let options = match options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("example-bench: {message}");
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
            eprintln!("example-bench: cannot start the runtime: {err}");
            std::process::exit(1);
        }
    };
    if let Err(message) = runtime.block_on(serve(&options)) {
        eprintln!("example-bench: {message}");
        std::process::exit(1);
    }
}

async fn serve(options: &Options) -> Result<(), String> {
    // Every load-generator client comes from 127.0.0.1, and a burst queues far more than a
    // public server's per-client budget: lift both limits, as PocketBase has neither.
    let rt = Realtime::builder()
        .queue_capacity(options.queue_capacity)
        .queue_bytes(usize::MAX)
        .max_connections_per_ip(usize::MAX)
        .build();
    let app = rt.mount(
        Router::new()
            .route("/bench/send", post(send))
            .with_state(rt.clone()),
    );
    let listener = axum_realtime::serve::bind(options.addr)
        .map_err(|err| format!("cannot listen on {}: {err}", options.addr))?;
    println!(
        "example-bench: pid {} listening on http://{} (queue capacity {})",
        std::process::id(),
        options.addr,
        options.queue_capacity
    );
    rt.serve(listener, app).await.map_err(|err| err.to_string())
}
