//! The keys scenario: one send to N clients that each hold K distinct keys with options
//! (`<topic>?options=<about 2.4 KB>`, as the JS SDK encodes them), so each client gets the
//! message K times, once under each key. It reports how long the send took, and how long
//! another client's subscribe took while it ran: a server that frames those keys under the lock
//! that subscribes take makes every subscribe wait for the whole send.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::histogram::Histogram;
use crate::http::{self, Conn};
use crate::loadgen::{Config, await_deliveries, parse_stamp, reached_of};
use crate::procfs::{self, StealReading};
use crate::report::{Report, Usage};
use crate::sse::{self, Parser};

/// The longest key PocketBase accepts.
const MAX_KEY: usize = 2500;
/// The idle subscribes timed before the send, for comparison.
const IDLE_PROBES: usize = 5;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Key `index` of client `client`: `bytes` long (at least its fixed part), distinct at its end,
/// so that keys share a long prefix.
fn key(topic: &str, client: usize, index: usize, bytes: usize) -> String {
    let head = format!("{topic}?options=%7B%22query%22%3A%7B%22pad%22%3A%22");
    let tail = format!("%22%2C%22k%22%3A%22{client}-{index}%22%7D%7D");
    let pad = bytes.saturating_sub(head.len() + tail.len());
    format!("{head}{}{tail}", "a".repeat(pad))
}

/// The `client-index` a key of [`key`] ends with.
fn key_of(name: &[u8]) -> Option<(usize, usize)> {
    const MARK: &[u8] = b"%22k%22%3A%22";
    const END: &[u8] = b"%22%7D%7D";
    let start = name.len().saturating_sub(64);
    let at = name[start..].windows(MARK.len()).rposition(|w| w == MARK)? + start + MARK.len();
    let pair = std::str::from_utf8(name[at..].strip_suffix(END)?).ok()?;
    let (client, index) = pair.split_once('-')?;
    Some((client.parse().ok()?, index.parse().ok()?))
}

fn subscribe_body(id: &str, keys: &[String]) -> Vec<u8> {
    let mut body = format!(r#"{{"clientId":"{id}","subscriptions":["#);
    for (i, key) in keys.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        // Keys hold only letters, digits and `%?=-_.`: nothing to escape in JSON.
        body.push('"');
        body.push_str(key);
        body.push('"');
    }
    body.push_str("]}");
    body.into_bytes()
}

/// One client's bookkeeping: which of its keys the message arrived under.
struct Tally {
    client: usize,
    topic: String,
    seen: Vec<bool>,
    received: u64,
    duplicated: u64,
    malformed: u64,
    latencies: Histogram,
    ended: Option<String>,
}

impl Tally {
    fn event(&mut self, name: &[u8], data: &[u8], now_ns: u64) {
        if !name.starts_with(self.topic.as_bytes()) {
            return;
        }
        let index = key_of(name)
            .filter(|&(client, index)| client == self.client && index < self.seen.len());
        let (Some((_, index)), Some((_, _, sent_ns))) = (index, parse_stamp(data)) else {
            self.malformed += 1;
            return;
        };
        if std::mem::replace(&mut self.seen[index], true) {
            self.duplicated += 1;
            return;
        }
        self.received += 1;
        self.latencies.record(now_ns.saturating_sub(sent_ns));
    }
}

struct Clock {
    start: Instant,
    delivered: AtomicU64,
    last_delivery_ns: AtomicU64,
}

impl Clock {
    fn now_ns(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// Opens a stream and reads its `PB_CONNECT`: the socket, its parser and the client id.
async fn open(addr: std::net::SocketAddr) -> Result<(TcpStream, Parser, String), String> {
    let stream = http::open_stream(addr, "/api/realtime")
        .await
        .map_err(|err| format!("open a stream: {err}"))?;
    let mut parser = Parser::new(stream.chunked);
    let mut socket = stream.socket;
    let mut id = None;
    let mut bytes = stream.rest;
    let mut buf = vec![0; 4096];
    loop {
        parser
            .feed(&bytes, &mut |name, data| {
                if name == b"PB_CONNECT" {
                    id = sse::client_id(data).map(str::to_owned);
                }
            })
            .map_err(|err| err.to_string())?;
        if let Some(id) = id {
            return Ok((socket, parser, id));
        }
        let n = socket.read(&mut buf).await.map_err(|err| err.to_string())?;
        if n == 0 {
            return Err("the stream ended before PB_CONNECT".into());
        }
        bytes = buf[..n].to_vec();
    }
}

async fn subscribe(conn: &mut Conn, body: &[u8]) -> Result<Duration, String> {
    let clock = Instant::now();
    let response = conn
        .post_json("/api/realtime", body)
        .await
        .map_err(|err| format!("subscribe: {err}"))?;
    if response.status != 204 {
        return Err(format!(
            "subscribe answered {}: {}",
            response.status,
            String::from_utf8_lossy(&response.body)
        ));
    }
    Ok(clock.elapsed())
}

/// Reads a client's stream until it ends, tallying its events.
async fn read(
    mut socket: TcpStream,
    mut parser: Parser,
    tally: Arc<Mutex<Tally>>,
    clock: Arc<Clock>,
) {
    let mut buf = vec![0; 64 * 1024];
    loop {
        let n = match socket.read(&mut buf).await {
            Ok(0) => Err("the server closed the stream".to_owned()),
            Ok(n) => Ok(n),
            Err(err) => Err(err.to_string()),
        };
        let mut tally = lock(&tally);
        let n = match n {
            Ok(n) => n,
            Err(err) => {
                tally.ended = Some(err);
                return;
            }
        };
        let before = tally.received + tally.duplicated;
        let now_ns = clock.now_ns();
        let fed = parser.feed(&buf[..n], &mut |name, data| tally.event(name, data, now_ns));
        let delivered = tally.received + tally.duplicated - before;
        if delivered > 0 {
            clock.delivered.fetch_add(delivered, Ordering::Relaxed);
            clock.last_delivery_ns.fetch_max(now_ns, Ordering::Relaxed);
        }
        if let Err(err) = fed {
            tally.ended = Some(err.to_string());
            return;
        }
    }
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// Runs the keys scenario: `config.connections` clients of `per_client` keys of `key_bytes`.
///
/// # Errors
///
/// When clients cannot connect or subscribe, or the send fails.
#[allow(
    clippy::too_many_lines,
    clippy::cast_precision_loss,
    reason = "one sequence of phases, read top to bottom; counts far below 2^53"
)]
pub(crate) async fn run(
    config: &Config,
    per_client: usize,
    key_bytes: usize,
) -> Result<Report, String> {
    let longest = key(&config.topic, config.connections, per_client, key_bytes).len();
    if longest > MAX_KEY {
        return Err(format!(
            "keys of {longest} bytes: at most {MAX_KEY} are accepted"
        ));
    }
    let (addr, pid) = (config.addrs[0], config.server_pids.first().copied());
    let clock = Arc::new(Clock {
        start: Instant::now(),
        delivered: AtomicU64::new(0),
        last_delivery_ns: AtomicU64::new(0),
    });
    let rss_base = pid.and_then(|pid| procfs::rss_bytes(&pid.to_string()).ok());

    // Clients one at a time: each subscription body is megabytes.
    let connect_start = Instant::now();
    let mut conn = Conn::connect(addr).await.map_err(|err| err.to_string())?;
    let mut tallies = Vec::with_capacity(config.connections);
    let mut readers = Vec::with_capacity(config.connections);
    for client in 0..config.connections {
        let (socket, parser, id) = open(addr).await?;
        let keys: Vec<String> = (0..per_client)
            .map(|index| key(&config.topic, client, index, key_bytes))
            .collect();
        if conn.is_closed() {
            conn = Conn::connect(addr).await.map_err(|err| err.to_string())?;
        }
        subscribe(&mut conn, &subscribe_body(&id, &keys)).await?;
        let tally = Arc::new(Mutex::new(Tally {
            client,
            topic: format!("{}?", config.topic),
            seen: vec![false; per_client],
            received: 0,
            duplicated: 0,
            malformed: 0,
            latencies: Histogram::new(),
            ended: None,
        }));
        tallies.push(Arc::clone(&tally));
        readers.push(tokio::spawn(read(
            socket,
            parser,
            tally,
            Arc::clone(&clock),
        )));
    }
    let connect_s = connect_start.elapsed().as_secs_f64();
    drop(conn);

    // The bystander: a client of its own, whose subscribes are timed idle, then during the send.
    let (_bystander, _, bystander_id) = open(addr).await?;
    let probe = format!(r#"{{"clientId":"{bystander_id}","subscriptions":["probe"]}}"#);
    let mut probe_conn = Conn::connect(addr).await.map_err(|err| err.to_string())?;
    let mut idle = Vec::with_capacity(IDLE_PROBES);
    for _ in 0..IDLE_PROBES {
        idle.push(subscribe(&mut probe_conn, probe.as_bytes()).await?);
    }
    tokio::time::sleep(config.hold).await;
    let rss_idle = pid.and_then(|pid| procfs::rss_bytes(&pid.to_string()).ok());

    // The send, with the bystander subscribing again and again until it is answered.
    let cpu_before = pid.and_then(|pid| procfs::cpu_time(&pid.to_string()).ok());
    let own_before = procfs::cpu_time("self").ok();
    let stolen_before = StealReading::now();
    let sent_ns = clock.now_ns();
    let answered = Arc::new(AtomicBool::new(false));
    let send = tokio::spawn({
        let answered = Arc::clone(&answered);
        let body = format!(
            r#"{{"topic":"{}","data":"0:0:{sent_ns}","keys":true}}"#,
            config.topic
        );
        async move {
            let outcome = async {
                let mut conn = Conn::connect(addr).await.map_err(|err| err.to_string())?;
                let clock = Instant::now();
                let response = conn
                    .post_json("/bench/send", body.as_bytes())
                    .await
                    .map_err(|err| format!("send: {err}"))?;
                Ok::<_, String>((response, clock.elapsed()))
            }
            .await;
            answered.store(true, Ordering::SeqCst);
            outcome
        }
    });
    let mut during = Vec::new();
    while !answered.load(Ordering::SeqCst) {
        during.push(subscribe(&mut probe_conn, probe.as_bytes()).await?);
    }
    let (response, send_took) = send.await.map_err(|err| err.to_string())??;
    let mut report = Report::new(&config.label, &config.scenario);
    if response.status == 200 {
        report.reached = reached_of(&response.body).unwrap_or(0);
    } else {
        report.send_errors = 1;
        report.first_error = Some(format!(
            "send answered {}: {}",
            response.status,
            String::from_utf8_lossy(&response.body)
        ));
    }

    // Wait for every delivery, or for progress to stop.
    let expected = (config.connections * per_client) as u64;
    await_deliveries(&clock.delivered, expected, config.drain_timeout).await;
    let cpu_after = pid.and_then(|pid| procfs::cpu_time(&pid.to_string()).ok());
    let own_after = procfs::cpu_time("self").ok();
    let stolen_after = StealReading::now();

    report.mode = "keys".into();
    report.connections = config.connections;
    report.publishers = 1;
    report.messages = 1;
    report.expected = expected;
    report.delivered = clock.delivered.load(Ordering::Relaxed);
    report.connect_s = connect_s;
    let last = clock.last_delivery_ns.load(Ordering::Relaxed).max(sent_ns);
    report.duration_s = Duration::from_nanos(last - sent_ns).as_secs_f64();
    if report.duration_s > 0.0 {
        report.deliveries_per_s = report.delivered as f64 / report.duration_s;
    }
    report.keys_per_client = Some(per_client);
    report.key_bytes = Some(longest);
    report.send_ms = Some(ms(send_took));
    report.subscribe_idle_ms = Some(ms(median(idle)));
    report.subscribe_probes = Some(during.len() as u64);
    report.subscribe_wait_ms = during.iter().max().copied().map(ms);
    let mut latencies = Histogram::new();
    for tally in &tallies {
        let tally = lock(tally);
        latencies.merge(&tally.latencies);
        report.lost += tally.seen.iter().filter(|&&seen| !seen).count() as u64;
        report.duplicated += tally.duplicated;
        report.malformed += tally.malformed;
        if let Some(reason) = &tally.ended {
            report.disconnected += 1;
            report.first_error.get_or_insert_with(|| reason.clone());
        }
    }
    report.record_latencies(&latencies);
    report.record_usage(
        Usage {
            server_cpu: cpu_before.zip(cpu_after).map(|(b, a)| (vec![b], vec![a])),
            server_rss: rss_base.zip(rss_idle),
            own_cpu: own_before.zip(own_after),
            redis_cpu: None,
            stolen: stolen_before.zip(stolen_after),
        },
        config.connections,
        config.threads,
    );
    report.exactly_once_in_order = report.lost == 0
        && report.duplicated == 0
        && report.malformed == 0
        && report.disconnected == 0
        && report.send_errors == 0
        && report.reached == config.connections as u64;

    for reader in &readers {
        reader.abort();
    }
    for reader in readers {
        let _ = reader.await;
    }
    tokio::time::sleep(config.settle).await;
    report.server_rss_after_kib = pid.and_then(|pid| {
        procfs::rss_bytes(&pid.to_string())
            .ok()
            .map(|rss| rss / 1024)
    });
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_as_long_as_asked_and_say_whose_they_are() {
        let k = key("bench", 15, 999, 2400);
        assert_eq!(k.len(), 2400);
        assert!(k.starts_with("bench?options=%7B%22query%22"));
        assert_eq!(key_of(k.as_bytes()), Some((15, 999)));
        assert_eq!(key_of(b"bench"), None);
        assert_eq!(key_of(key("t", 1, 2, 0).as_bytes()), Some((1, 2)));
        let body = subscribe_body("abc", &[key("t", 0, 0, 50), key("t", 0, 1, 50)]);
        let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(parsed["subscriptions"][1], key("t", 0, 1, 50));
    }

    #[test]
    fn tallies_each_key_once_and_only_its_own() {
        let mut tally = Tally {
            client: 3,
            topic: "t?".into(),
            seen: vec![false; 2],
            received: 0,
            duplicated: 0,
            malformed: 0,
            latencies: Histogram::new(),
            ended: None,
        };
        let data = br#""0:0:10""#;
        for name in [key("t", 3, 0, 60), key("t", 3, 1, 60), key("t", 3, 1, 60)] {
            tally.event(name.as_bytes(), data, 30);
        }
        tally.event(key("t", 4, 0, 60).as_bytes(), data, 30);
        tally.event(key("t", 3, 2, 60).as_bytes(), data, 30);
        tally.event(b"PB_CONNECT", b"{}", 30);
        assert_eq!(
            (tally.received, tally.duplicated, tally.malformed),
            (2, 1, 2)
        );
        assert_eq!(tally.latencies.max(), 20);
    }
}
