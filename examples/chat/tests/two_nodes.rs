//! Two `example-chat` processes on one Redis and one data directory are one chat: headless
//! Chromium pages on either process, and pages behind a round-robin balancer in front of both,
//! see every message exactly once (`tests/js/browser/chat-nodes.test.mjs`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use realtime_tests::balancer::Balancer;
use realtime_tests::raw_http::{SseStream, post_realtime};
use realtime_tests::redis::RedisServer;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

/// How long a process may take to print its address, or to join the other through Redis: a
/// generous ceiling for a debug build on a busy machine, which only bounds a hang.
const STARTUP: Duration = Duration::from_secs(20);

/// A running `example-chat`, killed when dropped (`kill_on_drop`).
struct Instance {
    addr: SocketAddr,
    _child: Child,
    /// Kept open: the process's stdout must not break under it.
    _stdout: BufReader<ChildStdout>,
}

/// A fresh data directory, removed when dropped.
struct DataDir(PathBuf);

impl DataDir {
    fn fresh() -> Self {
        let dir = std::env::temp_dir().join(format!("example-chat-nodes-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Self(dir)
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts `example-chat` on any free loopback port, on `dir`, joined to the others by `redis`.
fn spawn(dir: &Path, redis: &RedisServer) -> Child {
    Command::new(env!("CARGO_BIN_EXE_example-chat"))
        .args(["--addr", "127.0.0.1:0", "--redis", &redis.url()])
        .arg("--data-dir")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run example-chat")
}

/// Waits for the line naming the bound address (`chat on http://ADDR (…)`); fails with the
/// process's error if it exits instead.
async fn ready(mut child: Child, name: &str) -> Instance {
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    let read = tokio::time::timeout(STARTUP, stdout.read_line(&mut line))
        .await
        .unwrap_or_else(|_| panic!("instance {name} printed no address within {STARTUP:?}"))
        .expect("read stdout");
    if read == 0 {
        let mut stderr = String::new();
        let mut pipe = child.stderr.take().expect("stderr");
        let _ = tokio::time::timeout(STARTUP, pipe.read_to_string(&mut stderr)).await;
        panic!("instance {name} exited at startup: {stderr}");
    }
    let addr = line
        .strip_prefix("chat on http://")
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("instance {name} printed {line:?}"));
    Instance {
        addr,
        _child: child,
        _stdout: stdout,
    }
}

/// Waits until a subscription for a stream on `owner`, sent to `via`, is carried over Redis
/// and accepted (204): both have joined (until then `via` answers 503). Leaves nothing behind
/// in the chat.
async fn joined(owner: SocketAddr, via: SocketAddr) {
    let deadline = tokio::time::Instant::now() + STARTUP;
    loop {
        let mut stream = SseStream::open(owner, &[]).await;
        let id = stream.client_id().await;
        let body = format!(r#"{{"clientId":"{id}","subscriptions":["chat"]}}"#);
        let response = post_realtime(via, &body, None).await;
        if response.status == 204 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{via} could not reach {owner} through Redis within {STARTUP:?}: {} {}",
            response.status,
            response.text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_redis_are_one_chat_in_real_browsers() {
    let redis = RedisServer::start();
    let dir = DataDir::fresh();
    // Started together, as two instances of one deployment are.
    let (a, b) = (spawn(&dir.0, &redis), spawn(&dir.0, &redis));
    let (a, b) = (ready(a, "A").await, ready(b, "B").await);
    joined(a.addr, b.addr).await;
    joined(b.addr, a.addr).await;
    let balancer = Balancer::start(vec![a.addr, b.addr]).await;

    realtime_tests::node::run_node_test(
        "browser/chat-nodes.test.mjs",
        &[
            ("NODE_URLS", format!("http://{},http://{}", a.addr, b.addr)),
            ("BALANCER_URL", balancer.url()),
        ],
        Duration::from_mins(3),
    )
    .await;
    // Before the processes go: the balancer's log shows it spread the pages' requests.
    let upstreams: Vec<usize> = balancer.forwarded().iter().map(|f| f.upstream).collect();
    assert!(
        upstreams.contains(&0) && upstreams.contains(&1),
        "the balancer used both instances: {upstreams:?}"
    );
}
