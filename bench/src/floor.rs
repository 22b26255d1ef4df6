//! The write system call's floor: what one `write` of a small frame to a loopback TCP socket
//! costs the writing thread, which is what a delivery costs the server beyond the broker.
//!
//! `pairs` loopback connections; one thread writes a frame to each in turn, round after round,
//! as a server writes one event to each subscriber, and another thread reads them. The rounds
//! follow each other at once (a burst), or with a pause between them (a fixed send rate: the
//! machine idles, and the next round finds the sockets' memory cold). On loopback
//! the receiving side's TCP processing runs in the writer's system call (the packet is handed
//! to the peer socket before `write` returns), so the writer's CPU time is what a delivery's
//! write costs this machine in all, save the reader's own `read`.

use std::io::{self, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt as _;

use crate::procfs;

/// How the reading side waits for the frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receiver {
    /// The reader reads a round only once the writer has written all of it: no reader is
    /// waiting on a socket, so no write wakes one.
    Quiet,
    /// The reader waits in `epoll` (a current-thread tokio runtime, one task per socket), as
    /// the load generator's clients do: a write may wake it.
    Waiting,
}

/// What the writing thread spent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Floor {
    /// How the reader waited.
    pub receiver: Receiver,
    /// The writer's pause between rounds.
    pub pause: Duration,
    /// Writes made (pairs × rounds).
    pub writes: u64,
    /// The writer thread's CPU time (user + system, `CLOCK_THREAD_CPUTIME_ID`).
    pub cpu: Duration,
    /// Its user time (`/proc/thread-self/stat`, 10 ms resolution).
    pub user: Duration,
    /// Its system time (the same).
    pub system: Duration,
    /// The reader thread's CPU time.
    pub reader_cpu: Duration,
    /// From the first write to the last, the pauses between rounds left out (a sleep's own
    /// overshoot, some 0.1 ms, stays in).
    pub wall: Duration,
}

impl Floor {
    /// Microseconds of the writer's CPU per write.
    #[must_use]
    pub fn cpu_us_per_write(&self) -> f64 {
        per_write(self.cpu, self.writes)
    }

    /// The same, user time only.
    #[must_use]
    pub fn user_us_per_write(&self) -> f64 {
        per_write(self.user, self.writes)
    }

    /// The same, system time only.
    #[must_use]
    pub fn system_us_per_write(&self) -> f64 {
        per_write(self.system, self.writes)
    }

    /// Microseconds of the reader's CPU per frame read.
    #[must_use]
    pub fn reader_us_per_write(&self) -> f64 {
        per_write(self.reader_cpu, self.writes)
    }
}

#[allow(clippy::cast_precision_loss, reason = "microseconds of a benchmark")]
fn per_write(time: Duration, writes: u64) -> f64 {
    time.as_secs_f64() * 1e6 / writes.max(1) as f64
}

/// `pairs` connected loopback sockets: (the server's end, with `TCP_NODELAY` as the server sets
/// it; the client's end).
fn socket_pairs(pairs: usize) -> io::Result<Vec<(TcpStream, TcpStream)>> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    (0..pairs)
        .map(|_| {
            let client = TcpStream::connect(addr)?;
            let (server, _) = listener.accept()?;
            server.set_nodelay(true)?;
            client.set_read_timeout(Some(Duration::from_secs(10)))?;
            Ok((server, client))
        })
        .collect()
}

/// The writer thread's CPU time split from `/proc/thread-self/stat`.
fn thread_user_system() -> (Duration, Duration) {
    procfs::user_system_time("thread-self").unwrap_or_default()
}

/// Measures `rounds` rounds of one `frame_bytes` write to each of `pairs` sockets, the writer
/// sleeping `pause` between rounds (not counted: CPU time only).
///
/// # Errors
///
/// When the sockets cannot be made, a write or read fails, or a read times out (10 s).
pub fn measure(
    pairs: usize,
    frame_bytes: usize,
    rounds: u64,
    receiver: Receiver,
    pause: Duration,
) -> io::Result<Floor> {
    let (servers, clients): (Vec<_>, Vec<_>) = socket_pairs(pairs)?.into_iter().unzip();
    let frame = vec![b'x'; frame_bytes];
    let (round_written, written) = mpsc::channel::<()>();
    let (round_read, read) = mpsc::channel::<()>();
    let (ready, reader_ready) = mpsc::channel::<()>();
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || match receiver {
            Receiver::Quiet => {
                read_quietly(clients, frame_bytes, rounds, &ready, &written, &round_read)
            }
            Receiver::Waiting => read_waiting(clients, frame_bytes, rounds, &ready),
        });
        let writer = scope.spawn(move || -> io::Result<Floor> {
            let mut servers = servers;
            reader_ready
                .recv()
                .map_err(|_| io::Error::other("the reader stopped"))?;
            let (user0, system0) = thread_user_system();
            let cpu = cpu_time::ThreadTime::now();
            let start = Instant::now();
            for round in 0..rounds {
                if round > 0 && !pause.is_zero() {
                    std::thread::sleep(pause);
                }
                for server in &mut servers {
                    server.write_all(&frame)?;
                }
                if receiver == Receiver::Quiet {
                    round_written
                        .send(())
                        .map_err(|_| io::Error::other("the reader stopped"))?;
                    read.recv()
                        .map_err(|_| io::Error::other("the reader stopped"))?;
                }
            }
            let paused = pause * u32::try_from(rounds.saturating_sub(1)).unwrap_or(u32::MAX);
            let (wall, cpu) = (start.elapsed().saturating_sub(paused), cpu.elapsed());
            let (user1, system1) = thread_user_system();
            Ok(Floor {
                receiver,
                pause,
                writes: rounds * servers.len() as u64,
                cpu,
                user: user1.saturating_sub(user0),
                system: system1.saturating_sub(system0),
                reader_cpu: Duration::ZERO,
                wall,
            })
        });
        let floor = writer
            .join()
            .map_err(|_| io::Error::other("the writer panicked"))?;
        let reader_cpu = reader
            .join()
            .map_err(|_| io::Error::other("the reader panicked"))??;
        Ok(Floor {
            reader_cpu,
            ..floor?
        })
    })
}

/// Reads each round once the writer says it is written; returns the reader's CPU time.
fn read_quietly(
    mut clients: Vec<TcpStream>,
    frame_bytes: usize,
    rounds: u64,
    ready: &mpsc::Sender<()>,
    written: &mpsc::Receiver<()>,
    round_read: &mpsc::Sender<()>,
) -> io::Result<Duration> {
    let cpu = cpu_time::ThreadTime::now();
    let mut buf = vec![0; frame_bytes];
    let _ = ready.send(());
    for _ in 0..rounds {
        if written.recv().is_err() {
            break; // the writer failed; it says why
        }
        for client in &mut clients {
            client.read_exact(&mut buf)?;
        }
        let _ = round_read.send(());
    }
    Ok(cpu.elapsed())
}

/// Reads every frame from one task per socket on a current-thread runtime (`epoll`); returns
/// the reader's CPU time.
fn read_waiting(
    clients: Vec<TcpStream>,
    frame_bytes: usize,
    rounds: u64,
    ready: &mpsc::Sender<()>,
) -> io::Result<Duration> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let cpu = cpu_time::ThreadTime::now();
    runtime.block_on(async {
        let expected = rounds * frame_bytes as u64;
        let mut readers = Vec::with_capacity(clients.len());
        for client in clients {
            client.set_nonblocking(true)?;
            let mut client = tokio::net::TcpStream::from_std(client)?;
            readers.push(tokio::spawn(async move {
                let mut buf = vec![0; 64 * 1024];
                let mut got = 0;
                while got < expected {
                    got += read_frames(&mut client, &mut buf).await? as u64;
                }
                Ok::<_, io::Error>(())
            }));
        }
        // Each task's first poll registers its socket with epoll before the writer starts.
        tokio::task::yield_now().await;
        let _ = ready.send(());
        for reader in readers {
            reader.await.map_err(io::Error::other)??;
        }
        Ok::<_, io::Error>(())
    })?;
    Ok(cpu.elapsed())
}

/// One read from a reader's socket: what it got, at most 10 s on; an end of stream is an
/// error, since the writer closes nothing before every frame is read.
pub(crate) async fn read_frames(
    client: &mut tokio::net::TcpStream,
    buf: &mut [u8],
) -> io::Result<usize> {
    let read = tokio::time::timeout(Duration::from_secs(10), client.read(buf))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no frame for 10 s"))??;
    if read == 0 {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed"));
    }
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both ways of reading see every byte written (a short read would time out, not pass).
    #[test]
    fn every_frame_is_read() {
        for receiver in [Receiver::Quiet, Receiver::Waiting] {
            let floor = measure(4, 100, 3, receiver, Duration::ZERO).unwrap();
            assert_eq!(floor.writes, 12);
            assert!(floor.cpu > Duration::ZERO);
        }
        let paced = measure(4, 100, 3, Receiver::Waiting, Duration::from_millis(20)).unwrap();
        assert_eq!(paced.writes, 12);
        assert!(
            paced.wall < Duration::from_millis(40),
            "pauses left out: {paced:?}"
        );
    }
}
