//! A `redis-server` of the test's own (Debian's package), on a free loopback port, with
//! nothing saved to disk, that the test can stop and restart on the same port to play an
//! outage. Nothing is skipped when the binary is missing: the test fails and names the
//! README's test command, which installs it.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The program started: Debian's `redis-server`, found on `PATH`.
pub const REDIS_SERVER: &str = "redis-server";

const HOW_TO_INSTALL: &str = "run the README's test command, `scripts/test-all.sh`, which \
                              installs it (`apt-get install -y redis-server`)";

/// How long a start may take until the server answers `PING`: a generous ceiling for a busy
/// machine, which only bounds a server that never comes up.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one probe's connect or read may wait.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// How many fresh ports a start tries when the one it picked was taken in the meantime.
const PORT_ATTEMPTS: usize = 5;

/// Numbers the servers of this process, for their directories' names.
static SERVERS: AtomicUsize = AtomicUsize::new(0);

/// A running `redis-server` on `127.0.0.1`, killed when dropped.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    /// Its working directory (and log), removed when dropped.
    dir: PathBuf,
    /// `None` while stopped.
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a `redis-server` on a free loopback port and waits until it answers `PING`.
    ///
    /// # Panics
    ///
    /// If `redis-server` is not installed (naming the command that installs it), or the
    /// server does not answer within 10 s (with its log).
    #[must_use]
    pub fn start() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "realtime-redis-{}-{}",
            std::process::id(),
            SERVERS.fetch_add(1, Ordering::Relaxed)
        ));
        // A leftover of an earlier process with the same id.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|err| panic!("cannot create {}: {err}", dir.display()));
        let mut server = Self {
            port: 0,
            dir,
            child: None,
        };
        for _ in 0..PORT_ATTEMPTS {
            server.port = free_port();
            match server.launch() {
                Ok(()) => return server,
                // Another process took the port between our probe and the server's bind.
                Err(log) if log.contains("Address already in use") => {}
                Err(log) => panic!("redis-server did not start:\n{log}"),
            }
        }
        panic!("redis-server found no free port in {PORT_ATTEMPTS} attempts");
    }

    /// `redis://127.0.0.1:<port>`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The port it listens on (the same across [`restart`](Self::restart)s).
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether a server answers `PING` on the port now.
    #[must_use]
    pub fn answers_ping(&self) -> bool {
        ping(self.addr())
    }

    /// Kills the server and waits for it to exit: connections to it end, and new ones are
    /// refused until [`restart`](Self::restart). Does nothing if it is stopped.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // It may have exited on its own; `wait` reaps it either way.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server if it runs, starts it again on the same port (empty: nothing is
    /// saved) and waits until it answers `PING`.
    ///
    /// # Panics
    ///
    /// If it does not come back within 10 s, e.g. because another process took the port.
    pub fn restart(&mut self) {
        self.stop();
        if let Err(log) = self.launch() {
            panic!("redis-server did not restart on port {}:\n{log}", self.port);
        }
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// Runs `redis-server` on `self.port` and waits for its `PONG`; on failure, answers its
    /// log, and it is stopped.
    fn launch(&mut self) -> Result<(), String> {
        let log_path = self.dir.join("redis.log");
        let log = std::fs::File::create(&log_path)
            .unwrap_or_else(|err| panic!("cannot create {}: {err}", log_path.display()));
        let log_err = log
            .try_clone()
            .unwrap_or_else(|err| panic!("cannot share {}: {err}", log_path.display()));
        let mut child = Command::new(REDIS_SERVER)
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            // Nothing on disk, and in the foreground so that killing the child stops it.
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .unwrap_or_else(|err| match err.kind() {
                ErrorKind::NotFound => {
                    panic!("`{REDIS_SERVER}` is not installed: {HOW_TO_INSTALL}")
                }
                _ => panic!("cannot run {REDIS_SERVER} ({err}): {HOW_TO_INSTALL}"),
            });
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "it exited ({status}); its log:\n{}",
                    read_log(&log_path)
                ));
            }
            // The PONG must come from this child, not from another process that took the
            // port while this one failed to bind it.
            if ping(self.addr()) && server_pid(self.addr()) == Some(child.id()) {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "it did not answer PING within {READY_TIMEOUT:?}; its log:\n{}",
                    read_log(&log_path)
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether a server on `addr` answers an inline `PING` with `+PONG`.
fn ping(addr: SocketAddr) -> bool {
    let Ok(mut socket) = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT) else {
        return false;
    };
    if socket.set_read_timeout(Some(PROBE_TIMEOUT)).is_err()
        || socket.write_all(b"PING\r\n").is_err()
    {
        return false;
    }
    let mut answer = [0u8; 7];
    socket.read_exact(&mut answer).is_ok() && &answer == b"+PONG\r\n"
}

/// The process id the server on `addr` reports (`INFO server`'s `process_id`).
fn server_pid(addr: SocketAddr) -> Option<u32> {
    let mut socket = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT).ok()?;
    socket.set_read_timeout(Some(PROBE_TIMEOUT)).ok()?;
    socket.write_all(b"INFO server\r\n").ok()?;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&answer);
        if let Some((_, rest)) = text.split_once("\r\nprocess_id:")
            && let Some((pid, _)) = rest.split_once("\r\n")
        {
            return pid.parse().ok();
        }
        match socket.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A port that was free on `127.0.0.1` a moment ago.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|err| format!("(no log: {err})"))
}
