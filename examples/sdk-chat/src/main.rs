//! `cargo run -p example-sdk-chat`: the seed's SDK chat at <http://127.0.0.1:8090> (`--addr`
//! or `REALTIME_ADDR` to move it; `--data-dir` or `REALTIME_DATA_DIR` for the database,
//! default `./data`; `--redis URL` or `REALTIME_REDIS_URL` to be one of several instances).
//! Logs go to stderr, filtered by `RUST_LOG` (default `info`).

use std::process::ExitCode;
use std::time::Duration;

use axum_realtime::Realtime;
use example_sdk_chat::{Db, app};
use example_support::cli::Options;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("example-sdk-chat: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    example_support::logs::init();
    let options = Options::from_env("example-sdk-chat")?;
    let db = Db::open_in(&options.data_dir)?;
    // `--redis URL`: one of several instances joined by that Redis; the `chat` topic keeps a
    // history, so SDK pages that load `/_realtime/pocketbase-tabs.js` resume after a drop.
    let mut builder = Realtime::builder().history_for("chat", 200, Duration::from_mins(10));
    if let Some(url) = &options.redis_url {
        builder = builder.redis(url).map_err(|err| err.to_string())?;
    }
    let rt = builder.build();
    let listener = axum_realtime::serve::bind(options.addr)
        .map_err(|err| format!("cannot listen on {}: {err}", options.addr))?;
    println!(
        "sdk-chat on http://{} (data in {})",
        options.addr,
        options
            .data_dir
            .join(example_sdk_chat::db::FILE_NAME)
            .display()
    );
    // `rt.serve` hands the endpoint each connection's peer (for PocketBase's
    // same-address check); on the signal, open streams end and the server stops.
    rt.serve(listener, app(&rt, db))
        .with_graceful_shutdown(example_support::shutdown::signal())
        .await
        .map_err(|err| err.to_string())?;
    println!("sdk-chat stopped");
    Ok(())
}
