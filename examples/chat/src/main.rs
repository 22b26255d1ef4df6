//! `cargo run -p example-chat`: the chat at <http://127.0.0.1:8090> (`--addr` or
//! `REALTIME_ADDR` to move it, port 0 for any free one; `--data-dir` or `REALTIME_DATA_DIR`
//! for the database and signing key, default `./data`, which instances may share; `--redis
//! URL` or `REALTIME_REDIS_URL` to be one of several instances, joined by that Redis; behind
//! a reverse proxy, `--trusted-proxies LIST` and `--secure-cookie true`, see docs/deploy.md;
//! HTTPS and HTTP/2 without one, `--tls-cert FILE --tls-key FILE`, or `--tls-self-signed true`
//! for local use). Logs go to stderr, filtered by `RUST_LOG` (default `info`;
//! `RUST_LOG=axum_realtime=debug` shows every stream's start, subscriptions and end, `trace`
//! every send).

use std::process::ExitCode;
use std::time::Duration;

use axum_realtime::serve::Tls;
use example_chat::{AppState, Db, Deployment, app, secret};
use example_support::cli::{Options, TlsSource};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("example-chat: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    example_support::logs::init();
    // Before the broker is built, so that its first sends are timed too.
    let _ = example_chat::metrics::handle();
    let options = Options::from_env("example-chat")?;
    let db = Db::open(&options.data_dir, "chat.db")?;
    let secret = secret::load_or_create(&options.data_dir)?;
    let deployment = Deployment {
        redis: options.redis_url.clone(),
        trusted_proxies: options.trusted_proxies.clone(),
        // Served over HTTPS, the cookie is sent over HTTPS only.
        secure_cookie: options.secure_cookie || options.tls.is_some(),
    };
    let tls = options.tls.as_ref().map(certificate).transpose()?;
    let state = AppState::new(db, &secret, &deployment)?;
    let rt = state.rt.clone();
    // One of several instances listens only once it has joined the others: before that, a
    // message posted here would be stored and acknowledged but reach nobody elsewhere.
    if options.redis_url.is_some() && !rt.joined(JOIN_TIMEOUT).await {
        eprintln!(
            "example-chat: Redis is not reachable yet: serving anyway; posts are refused \
             until it is (503)"
        );
    }
    let listener = axum_realtime::serve::bind(options.addr)
        .map_err(|err| format!("cannot listen on {}: {err}", options.addr))?;
    // The bound address, which names the port when `--addr` asked for any (port 0).
    let addr = listener.local_addr().map_err(|err| err.to_string())?;
    println!(
        "chat on {}://{addr} (data in {}{})",
        if tls.is_some() { "https" } else { "http" },
        options.data_dir.display(),
        options
            .redis_url
            .as_deref()
            .map(|url| format!(", joined to the other instances by {url}"))
            .unwrap_or_default()
    );
    // On the signal, open streams end after what they have queued, and the server stops.
    let serve = rt.serve(listener, app(state));
    let serve = match tls {
        Some(tls) => serve.with_tls(tls),
        None => serve,
    };
    serve
        .with_graceful_shutdown(example_support::shutdown::signal())
        .await
        .map_err(|err| err.to_string())
}

/// How long an instance waits for Redis before it listens anyway.
const JOIN_TIMEOUT: Duration = Duration::from_secs(10);

/// The certificate the options name: read from its files, or made for local use.
fn certificate(source: &TlsSource) -> Result<Tls, String> {
    match source {
        TlsSource::Files { cert, key } => Tls::from_pem_files(cert, key),
        TlsSource::SelfSigned => Tls::self_signed(&["localhost", "127.0.0.1", "::1"]),
    }
    .map_err(|err| err.to_string())
}
