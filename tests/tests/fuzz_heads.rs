//! Mutated stream request heads against a live server, a bounded number of deterministic
//! cases: framing tricks, stray bytes, truncations, duplicated and dangerous headers. Whatever
//! arrives, the server answers with well-formed HTTP or closes, opens a stream only for a
//! request it can answer as one, and leaves nothing registered.

use std::net::SocketAddr;
use std::time::Duration;

use axum_realtime::Realtime;
use realtime_tests::raw_http::{SseStream, read_until_quiet, status_lines};
use realtime_tests::server::TestServer;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const CASES: u64 = 400;
const BATCH: u64 = 16;

/// A small deterministic generator (xorshift64*), so a failing case can be replayed by number.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }
}

const BASE: &[u8] =
    b"GET /api/realtime HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n";

const DANGEROUS: &[&[u8]] = &[
    b"Content-Length: 5\r\n",
    b"Content-Length: 0\r\nContent-Length: 7\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n",
    b"Expect: 100-continue\r\n",
    b"Upgrade: h2c\r\nConnection: Upgrade\r\n",
    b"Connection: close\r\n",
    b"Origin: http://elsewhere.test\r\n",
    b"X-Very-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
    b" folded: line\r\n",
    b"GET /api/realtime HTTP/1.1\r\nHost: x\r\n\r\n",
];

const BYTES: &[u8] = b"\r\n :\0\t0aZ/?%\x7f\xff";

fn mutate(rng: &mut Rng) -> Vec<u8> {
    let mut head = BASE.to_vec();
    for _ in 0..=rng.below(3) {
        let at = rng.below(head.len() + 1);
        match rng.below(5) {
            0 if !head.is_empty() => {
                head.remove(at.min(head.len() - 1));
            }
            1 => head.insert(at, BYTES[rng.below(BYTES.len())]),
            2 => {
                // A header line just after the request line, or anywhere.
                let line = DANGEROUS[rng.below(DANGEROUS.len())];
                let at = if rng.below(2) == 0 { 28 } else { at };
                head.splice(at.min(head.len())..at.min(head.len()), line.iter().copied());
            }
            3 => head.truncate(at),
            _ => {
                let tail = head[at..].to_vec();
                head.extend_from_slice(&tail);
            }
        }
    }
    head
}

/// Sends `head`, closes the sending side, and reads what comes back until the server closes
/// or is quiet for a moment (a stream stays open: it reacts to nothing the client sends).
async fn exchange(addr: SocketAddr, head: Vec<u8>) -> (Vec<u8>, Vec<u8>) {
    let mut socket = TcpStream::connect(addr).await.unwrap();
    let _ = socket.write_all(&head).await;
    let _ = socket.shutdown().await;
    let raw = read_until_quiet(&mut socket, Duration::from_millis(300)).await;
    (head, raw)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutated_stream_requests_get_well_formed_answers_and_leave_nothing_behind() {
    for direct in [true, false] {
        fuzz(direct).await;
    }
}

async fn fuzz(direct: bool) {
    let rt = Realtime::builder()
        .request_head_timeout(Duration::from_secs(2))
        .heartbeat(Some(Duration::from_millis(500)))
        .direct_streams(direct)
        .build();
    let server = TestServer::start(&rt, rt.mount(axum::Router::new())).await;
    let mut rng = Rng(0x005E_ED0F_F022);
    let mut case = 0;
    while case < CASES {
        let mut batch = tokio::task::JoinSet::new();
        for _ in 0..BATCH {
            batch.spawn(exchange(server.addr, mutate(&mut rng)));
        }
        while let Some(exchanged) = batch.join_next().await {
            let (head, raw) = exchanged.unwrap();
            check(case, direct, &head, &raw);
            case += 1;
        }
    }
    // Every stream those requests opened ended with its connection (noticed at the latest
    // when a heartbeat cannot be written).
    for _ in 0..200 {
        if rt.client_count() == 0 && rt.open_streams() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(rt.client_count(), 0);
    assert_eq!(rt.open_streams(), 0);
    // And the server still serves.
    let mut stream = SseStream::open(server.addr, &[]).await;
    stream.client_id().await;
}

fn check(case: u64, direct: bool, head: &[u8], raw: &[u8]) {
    let shown = || {
        format!(
            "case {case} (direct: {direct}): sent {:?}, got {:?}",
            String::from_utf8_lossy(head),
            String::from_utf8_lossy(raw)
        )
    };
    if raw.is_empty() {
        return; // closed without an answer: a head hyper could not make sense of
    }
    assert!(raw.starts_with(b"HTTP/1.1 "), "{}", shown());
    let statuses = status_lines(raw);
    assert!(
        statuses.iter().all(|s| (100..600).contains(s)),
        "{}",
        shown()
    );
    if String::from_utf8_lossy(raw).contains("text/event-stream") {
        // Only a GET of the endpoint that hyper parsed whole gets a stream.
        assert!(head.starts_with(b"GET /api/realtime"), "{}", shown());
    }
}
