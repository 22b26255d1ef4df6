//! `cargo run -p example-chat`: the chat at <http://127.0.0.1:8090> (or `--addr`, or
//! `REALTIME_ADDR`).

use std::net::SocketAddr;

use realtime::Realtime;

const DEFAULT_ADDR: &str = "127.0.0.1:8090";

fn listen_addr() -> Result<SocketAddr, String> {
    let mut args = std::env::args().skip(1);
    let mut addr = std::env::var("REALTIME_ADDR").ok();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => {
                addr = Some(
                    args.next()
                        .ok_or("--addr needs a value, e.g. 127.0.0.1:8090")?,
                );
            }
            other => match other.strip_prefix("--addr=") {
                Some(value) => addr = Some(value.to_owned()),
                None => {
                    return Err(format!(
                        "unknown argument `{other}`; usage: example-chat [--addr HOST:PORT]"
                    ));
                }
            },
        }
    }
    let addr = addr.unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    addr.parse()
        .map_err(|err| format!("invalid address `{addr}`: {err}"))
}

#[tokio::main]
async fn main() {
    let addr = match listen_addr() {
        Ok(addr) => addr,
        Err(message) => {
            eprintln!("example-chat: {message}");
            std::process::exit(2);
        }
    };
    let rt = Realtime::new();
    let app = example_chat::app(&rt);
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("example-chat: cannot listen on {addr}: {err}");
            std::process::exit(1);
        }
    };
    println!("chat on http://{addr}");
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = tokio::signal::ctrl_c().await;
        rt.disconnect_all();
    });
    if let Err(err) = server.await {
        eprintln!("example-chat: {err}");
        std::process::exit(1);
    }
}
