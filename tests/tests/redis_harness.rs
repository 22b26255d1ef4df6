//! The Redis harness the scale-out tests stand on: a `redis-server` of the test's own that
//! answers `PING`, restarts as a new, empty process on the same port, stops (its connections
//! end, new ones are refused), dies with its handle, and fails loudly when not installed.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::process::Command;
use std::time::Duration;

use realtime_tests::redis::RedisServer;

/// How long one read of a reply may wait.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

fn connect(port: u16) -> TcpStream {
    let socket = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connect to redis");
    socket.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    socket
}

/// Sends an inline command and checks the whole reply.
fn command(socket: &mut TcpStream, command: &str, reply: &str) {
    socket
        .write_all(format!("{command}\r\n").as_bytes())
        .unwrap();
    let mut answer = vec![0u8; reply.len()];
    socket.read_exact(&mut answer).expect("a reply");
    assert_eq!(
        String::from_utf8_lossy(&answer),
        reply,
        "reply to {command}"
    );
}

/// The server ended this connection (end of stream or reset), rather than staying silent.
fn assert_ended(socket: &mut TcpStream) {
    let mut byte = [0u8; 1];
    match socket.read(&mut byte) {
        Ok(0) => {}
        Err(err) if err.kind() == ErrorKind::ConnectionReset => {}
        other => panic!("the connection is still open: {other:?}"),
    }
}

fn refused(port: u16) -> bool {
    TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err()
}

#[test]
fn it_starts_restarts_on_its_port_and_stops() {
    let mut redis = RedisServer::start();
    let port = redis.port();
    assert_ne!(port, 0);
    assert_eq!(redis.url(), format!("redis://127.0.0.1:{port}"));
    assert!(redis.answers_ping());

    let mut before = connect(port);
    command(&mut before, "SET key value", "+OK\r\n");
    redis.restart();
    assert_eq!(redis.port(), port, "a restart keeps the port");
    assert!(redis.answers_ping());
    // A new process: the old one's connections ended, and nothing was saved.
    assert_ended(&mut before);
    let mut after = connect(port);
    command(&mut after, "GET key", "$-1\r\n");

    redis.stop();
    assert!(!redis.answers_ping());
    assert!(refused(port), "a stopped server refuses connections");
    assert_ended(&mut after);
    redis.stop();

    redis.restart();
    assert_eq!(redis.port(), port);
    command(&mut connect(port), "PING", "+PONG\r\n");
}

#[test]
fn dropping_it_kills_the_server() {
    let redis = RedisServer::start();
    let port = redis.port();
    drop(redis);
    assert!(refused(port));
}

#[test]
fn servers_side_by_side_have_ports_of_their_own() {
    let (a, b) = (RedisServer::start(), RedisServer::start());
    assert_ne!(a.port(), b.port());
    assert!(a.answers_ping() && b.answers_ping());
}

/// Set in the copy of this test binary that runs without `redis-server` on `PATH`.
const WITHOUT_REDIS: &str = "REDIS_HARNESS_WITHOUT_REDIS";

#[test]
fn without_redis_server_installed_a_test_fails_and_says_how_to_install_it() {
    const NAME: &str = "without_redis_server_installed_a_test_fails_and_says_how_to_install_it";
    if std::env::var_os(WITHOUT_REDIS).is_some() {
        // In the copy: this must panic.
        let _ = RedisServer::start();
        return;
    }
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", NAME, "--test-threads=1"])
        .env(WITHOUT_REDIS, "1")
        .env("PATH", "/nonexistent")
        .output()
        .expect("run this test binary again");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!output.status.success(), "it passed:\n{report}");
    assert!(
        report.contains("`redis-server` is not installed")
            && report.contains("scripts/test-all.sh")
            && report.contains("apt-get install -y redis-server"),
        "{report}"
    );
}
