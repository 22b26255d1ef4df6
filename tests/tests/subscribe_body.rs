//! The subscription body's bounds, measured: a `POST /api/realtime` of millions of keys is
//! refused with heap proportional to the body limit, not to the number of keys in it.
//!
//! Its own test binary, for its global allocator: it counts every allocation of the process, the
//! server's included (it runs in-process). Tests take turns, so that one test's peak is its own.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum_realtime::Realtime;
use peak_alloc::PeakAlloc;
use realtime_tests::server::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::Mutex;
use tokio::time::timeout;

#[global_allocator]
static HEAP: PeakAlloc = PeakAlloc;

static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// `realtime`'s limit on the body, pinned by `the_limit_is_4_mib`.
const BODY_LIMIT: usize = 4 * 1024 * 1024;

/// Heap that is neither the body nor what is kept of it: hyper's read buffer (about 0.5 MiB), the
/// server's tasks, the response.
const SLACK: usize = 1024 * 1024;

/// A ceiling on the heap that reading a body of the limit takes: the body; its buffer's last
/// doubling, which this allocator does by copying (the old half beside the new whole); hyper's
/// read buffers. Generous: it only has to tell a bounded read from the hundreds of megabytes of
/// a parser that keeps every key.
const READING: usize = 3 * BODY_LIMIT;

/// A bound on one exchange, reached only when a test fails: the unbounded parser this guards
/// against takes seconds over 8 million keys.
const EXCHANGE_TIMEOUT: Duration = Duration::from_mins(1);

const GENERIC: &str = "Something went wrong while processing your request.";
const TOO_LARGE: &str = r#"{"data":{},"message":"Request entity too large.","status":413}"#;

/// `{"clientId":"x","subscriptions":["a","a",…]}`: 4 bytes a key.
fn one_char_keys(count: usize) -> Vec<u8> {
    let mut body = br#"{"clientId":"x","subscriptions":["#.to_vec();
    body.reserve_exact(count * 4 + 2);
    for i in 0..count {
        body.extend_from_slice(if i == 0 { br#""a""# } else { br#","a""# });
    }
    body.extend_from_slice(b"]}");
    body
}

fn too_many_keys() -> String {
    format!(
        r#"{{"data":{{"subscriptions":{{"code":"validation_length_too_long","message":"The length must be no more than 1000.","params":{{"max":1000,"min":0}}}}}},"message":"{GENERIC}","status":400}}"#
    )
}

async fn serve(rt: &Realtime) -> TestServer {
    TestServer::start(rt, rt.mount(axum::Router::new())).await
}

#[derive(Clone, Copy)]
enum Framing {
    ContentLength,
    Chunked,
}

/// `POST /api/realtime` with a JSON `body`, written while the answer is read: the server may
/// answer, and close, before it has read the body, and the rest of the write then fails.
/// Returns the status and the response body.
async fn post(addr: SocketAddr, body: Arc<Vec<u8>>, framing: Framing) -> (u16, String) {
    let socket = TcpStream::connect(addr).await.expect("connect");
    let (mut reader, writer) = socket.into_split();
    let writing = tokio::spawn(write_request(writer, addr, body, framing));
    let mut raw = Vec::new();
    let read = timeout(EXCHANGE_TIMEOUT, async {
        let mut buf = [0u8; 4096];
        while response_len(&raw).is_none_or(|len| raw.len() < len) {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    writing.abort();
    read.expect("the response timed out");
    let len = response_len(&raw).unwrap_or_else(|| {
        panic!(
            "a complete response head: {:?}",
            String::from_utf8_lossy(&raw)
        )
    });
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text[9..12].parse().expect("a status");
    let head_end = text.find("\r\n\r\n").expect("a head") + 4;
    (status, text[head_end..len].to_owned())
}

/// Writes the request, then keeps the socket's write side open until aborted: hyper drops a
/// connection whose client half-closes it.
async fn write_request(
    writer: OwnedWriteHalf,
    addr: SocketAddr,
    body: Arc<Vec<u8>>,
    framing: Framing,
) {
    let mut writer = writer;
    // The server may close before the whole body is written: the answer tells what it did.
    let _ = write(&mut writer, addr, &body, framing).await;
    std::future::pending::<()>().await;
}

async fn write(
    writer: &mut OwnedWriteHalf,
    addr: SocketAddr,
    body: &[u8],
    framing: Framing,
) -> std::io::Result<()> {
    let framing_header = match framing {
        Framing::ContentLength => format!("Content-Length: {}", body.len()),
        Framing::Chunked => "Transfer-Encoding: chunked".to_owned(),
    };
    let head = format!(
        "POST /api/realtime HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n{framing_header}\r\nConnection: close\r\n\r\n"
    );
    writer.write_all(head.as_bytes()).await?;
    match framing {
        Framing::ContentLength => writer.write_all(body).await?,
        Framing::Chunked => {
            for chunk in body.chunks(64 * 1024) {
                writer
                    .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                    .await?;
                writer.write_all(chunk).await?;
                writer.write_all(b"\r\n").await?;
            }
            writer.write_all(b"0\r\n\r\n").await?;
        }
    }
    writer.flush().await
}

/// The length of the whole response, once its head (which must carry a `Content-Length`) is in.
fn response_len(raw: &[u8]) -> Option<usize> {
    let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&raw[..head_end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))?
        .trim()
        .parse::<usize>()
        .ok()?;
    Some(head_end + length)
}

/// Posts `body` `times` times at once; returns each answer and the peak heap the exchanges
/// added to what the process held before them (the bodies included).
async fn measure(
    addr: SocketAddr,
    body: Vec<u8>,
    framing: Framing,
    times: usize,
) -> (Vec<(u16, String)>, usize) {
    let body = Arc::new(body);
    let before = HEAP.current_usage();
    HEAP.reset_peak_usage();
    let posts: Vec<_> = (0..times)
        .map(|_| tokio::spawn(post(addr, body.clone(), framing)))
        .collect();
    let mut answers = Vec::new();
    for post in posts {
        answers.push(post.await.expect("the post"));
    }
    let peak = HEAP.peak_usage().saturating_sub(before);
    (answers, peak)
}

fn mib(bytes: usize) -> String {
    let kib = u32::try_from(bytes / 1024).unwrap_or(u32::MAX);
    format!("{:.1} MiB", f64::from(kib) / 1024.0)
}

#[tokio::test]
async fn a_declared_32_mib_body_of_8_million_keys_is_refused_unread() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let rt = Realtime::new();
    let server = serve(&rt).await;
    let body = one_char_keys(8_000_000);
    assert!(body.len() > 30 * 1024 * 1024);
    let (answers, peak) = measure(server.addr, body, Framing::ContentLength, 1).await;
    assert!(
        peak <= SLACK,
        "refused by its declared length, yet {} of heap",
        mib(peak)
    );
    assert_eq!(answers, [(413, TOO_LARGE.to_owned())]);
}

#[tokio::test]
async fn a_chunked_32_mib_body_of_8_million_keys_is_refused_at_the_limit() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let rt = Realtime::new();
    let server = serve(&rt).await;
    let body = one_char_keys(8_000_000);
    let (answers, peak) = measure(server.addr, body, Framing::Chunked, 1).await;
    assert!(
        peak < READING,
        "{} of heap for a body read only up to the limit",
        mib(peak)
    );
    assert_eq!(answers, [(413, TOO_LARGE.to_owned())]);
}

/// `{"clientId":"x","subscriptions":[]}` and spaces, `len` bytes: the body's size, no keys.
fn no_keys(len: usize) -> Vec<u8> {
    let mut body = br#"{"clientId":"x","subscriptions":[]}"#.to_vec();
    body.resize(len, b' ');
    body
}

fn missing_client() -> (u16, String) {
    let body = r#"{"data":{},"message":"Missing or invalid client id.","status":404}"#;
    (404, body.to_owned())
}

#[tokio::test]
async fn a_million_keys_just_under_the_limit_cost_what_spaces_cost() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let rt = Realtime::new();
    let server = serve(&rt).await;
    let keys = one_char_keys((BODY_LIMIT - 64) / 4);
    assert!(keys.len() <= BODY_LIMIT && keys.len() > BODY_LIMIT - 128);
    let len = keys.len();
    let (answers, spaces_peak) =
        measure(server.addr, no_keys(len), Framing::ContentLength, 1).await;
    assert_eq!(answers, [missing_client()]);
    let (answers, keys_peak) = measure(server.addr, keys, Framing::ContentLength, 1).await;
    // All that is kept of the keys is 1000 one-byte strings; the rest of either peak is reading
    // the body, which varies a little with how hyper's reads fall.
    assert!(
        keys_peak < spaces_peak + SLACK,
        "a million keys took {} of heap, as many spaces {}",
        mib(keys_peak),
        mib(spaces_peak)
    );
    assert!(
        keys_peak < READING,
        "{} of heap for a {} body",
        mib(keys_peak),
        mib(len)
    );
    assert_eq!(answers, [(400, too_many_keys())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_chunked_32_mib_bodies_at_once_cost_four_reads_to_the_limit() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let rt = Realtime::new();
    let server = serve(&rt).await;
    let body = one_char_keys(8_000_000);
    let (answers, peak) = measure(server.addr, body, Framing::Chunked, 4).await;
    assert!(
        peak < 4 * READING,
        "{} of heap for four bodies read only up to the limit",
        mib(peak)
    );
    assert_eq!(answers, vec![(413, TOO_LARGE.to_owned()); 4]);
}

#[tokio::test]
async fn the_limit_is_4_mib() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let rt = Realtime::new();
    let server = serve(&rt).await;
    for framing in [Framing::ContentLength, Framing::Chunked] {
        assert_eq!(
            post(server.addr, Arc::new(no_keys(BODY_LIMIT)), framing).await,
            missing_client(),
            "a body of the limit is read"
        );
        assert_eq!(
            post(server.addr, Arc::new(no_keys(BODY_LIMIT + 1)), framing).await,
            (413, TOO_LARGE.to_owned()),
            "one byte more is not"
        );
    }
}
