//! Two `example-chat` processes started at the same moment on one fresh data directory, as
//! two instances behind a balancer are: both come up (the SQLite store is opened for
//! concurrent processes), share the signing key (a login on one is honoured by the other)
//! and share the messages.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use realtime_tests::raw_http::{Response, request};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

/// Rounds of the race: each starts a fresh pair, so one run sees many orderings of the two
/// startups (before the fix, about one start in seven lost a process to `database is locked`).
const ROUNDS: usize = 50;

/// How long a process may take to print its address: a generous ceiling for a debug build on
/// a busy machine, which only bounds a hang.
const STARTUP: Duration = Duration::from_secs(20);

/// A running `example-chat`, killed when dropped.
struct Instance {
    child: Child,
    addr: SocketAddr,
}

/// Starts `example-chat` on any free loopback port with `dir` as its data directory.
fn spawn(dir: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_example-chat"))
        .arg("--addr")
        .arg("127.0.0.1:0")
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
    Instance { child, addr }
}

/// Logs `name` in on `instance` from its own page; answers the auth cookie.
async fn login(instance: &Instance, name: &str) -> String {
    let head = format!(
        "POST /login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nOrigin: http://{}",
        instance.addr
    );
    let response = request(instance.addr, &head, format!("username={name}").as_bytes()).await;
    assert_eq!(response.status, 200, "login: {}", response.text());
    response
        .header("set-cookie")
        .and_then(|cookie| cookie.split(';').next())
        .expect("an auth cookie")
        .to_owned()
}

/// Posts a chat message on `instance` with `cookie`, from its own page.
async fn post_chat(instance: &Instance, cookie: &str, text: &str) -> Response {
    let head = format!(
        "POST /api/chat HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nCookie: {cookie}\r\nOrigin: http://{}",
        instance.addr
    );
    request(instance.addr, &head, format!("message={text}").as_bytes()).await
}

async fn count(instance: &Instance) -> String {
    let response = request(instance.addr, "GET /api/count HTTP/1.1", b"").await;
    assert_eq!(response.status, 200);
    response.text()
}

fn fresh_dir(round: usize) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "example-chat-shared-{}-{round}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_started_together_share_the_directory_the_key_and_the_messages() {
    for round in 0..ROUNDS {
        // Not created here: the two processes race to create it too.
        let dir = fresh_dir(round);
        // Both are started before either is waited for: their startups overlap.
        let (a, b) = (spawn(&dir), spawn(&dir));
        let (mut a, mut b) = (ready(a, "A").await, ready(b, "B").await);

        // A token minted by one verifies on the other: the same key.
        let on_a = login(&a, "ann").await;
        let response = post_chat(&b, &on_a, "from-a").await;
        assert_eq!(
            response.status,
            200,
            "round {round}: B refused A's login: {}",
            response.text()
        );
        let on_b = login(&b, "bob").await;
        let response = post_chat(&a, &on_b, "from-b").await;
        assert_eq!(
            response.status,
            200,
            "round {round}: A refused B's login: {}",
            response.text()
        );
        // Each sees the message the other stored: one database.
        assert_eq!(count(&a).await, "2 messages", "round {round}");
        assert_eq!(count(&b).await, "2 messages", "round {round}");

        for instance in [&mut a, &mut b] {
            instance.child.kill().await.expect("kill example-chat");
        }
        std::fs::remove_dir_all(&dir).expect("remove the data directory");
    }
}
