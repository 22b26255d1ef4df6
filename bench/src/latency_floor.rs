//! The latency floor of a fixed-rate row: the median and 99th percentile a server with no
//! overhead at all could reach on this machine, with a reader like the load generator's.
//!
//! `pairs` loopback connections. Each round (one send), `writers` threads write one frame to
//! each socket, the sockets split between them in equal shares, as a server's writers would;
//! the frame carries the moment its writer started the round. A tokio runtime of `readers` threads (a current-thread
//! one for a single reader, as the load generator's default) reads every socket, a task per
//! socket as the load generator's clients do, and records for each frame the time from its
//! round's start to its read. Rounds follow each other at the row's interval. What is left is
//! the write and read system calls, the wake-ups, and the two sides sharing the cores: no
//! broker, no HTTP, no parsing. A server's p50 at that row cannot be lower than this one's
//! (the load generator's reader does more per frame, not less).

use std::io::{self, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Barrier, mpsc};
use std::time::{Duration, Instant};

use crate::floor::read_frames;
use crate::histogram::Histogram;

/// The frame's first eight bytes: nanoseconds from `base` to its writer's start of the round.
const STAMP: usize = 8;

/// What the rounds measured.
#[derive(Debug, Clone)]
pub struct LatencyFloor {
    /// Connections written each round.
    pub pairs: usize,
    /// Threads writing them.
    pub writers: usize,
    /// Threads reading them.
    pub readers: usize,
    /// Rounds measured.
    pub rounds: u64,
    /// Time from a round's start to each frame's read.
    pub latencies: Histogram,
}

/// Runs `rounds` rounds `interval` apart: `writers` threads write a `frame_bytes` frame to
/// each of `pairs` sockets per round, `readers` threads read them; returns the latency of
/// every frame.
///
/// # Errors
///
/// When the sockets cannot be made, a write or read fails, or a read waits over 10 s.
///
/// # Panics
///
/// When `frame_bytes` is too small for the stamp (8 bytes).
pub fn measure(
    pairs: usize,
    writers: usize,
    readers: usize,
    frame_bytes: usize,
    rounds: u64,
    interval: Duration,
) -> io::Result<LatencyFloor> {
    assert!(frame_bytes >= STAMP, "a frame holds its 8-byte stamp");
    let writers = writers.clamp(1, pairs.max(1));
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let mut servers = Vec::with_capacity(pairs);
    let mut clients = Vec::with_capacity(pairs);
    for _ in 0..pairs {
        let client = TcpStream::connect(addr)?;
        let (server, _) = listener.accept()?;
        server.set_nodelay(true)?;
        client.set_nonblocking(true)?;
        servers.push(server);
        clients.push(client);
    }
    let base = Instant::now();
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    std::thread::scope(|scope| {
        let reader =
            scope.spawn(move || read_all(clients, readers, frame_bytes, rounds, base, &ready_tx));
        if ready_rx.recv().is_err() {
            // The reader failed before it was ready; its error says why.
            reader
                .join()
                .map_err(|_| io::Error::other("the reader panicked"))??;
            return Err(io::Error::other("the reader stopped before it was ready"));
        }
        let start = Instant::now() + interval;
        let barrier = Arc::new(Barrier::new(writers));
        let share = pairs.div_ceil(writers);
        let mut handles = Vec::with_capacity(writers);
        for chunk in servers.chunks_mut(share) {
            let barrier = Arc::clone(&barrier);
            handles.push(scope.spawn(move || -> io::Result<()> {
                let mut frame = vec![b'x'; frame_bytes];
                for round in 0..rounds {
                    let due = start + interval * u32::try_from(round).unwrap_or(u32::MAX);
                    // Every writer starts its round at the same moment, as a send's writers do.
                    barrier.wait();
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    // Stamped once awake, as a send's time is taken when it is made: a sleep's
                    // overshoot is no delivery's latency.
                    let stamp = u64::try_from(base.elapsed().as_nanos()).unwrap_or(0);
                    frame[..STAMP].copy_from_slice(&stamp.to_le_bytes());
                    for server in chunk.iter_mut() {
                        server.write_all(&frame)?;
                    }
                }
                Ok(())
            }));
        }
        for handle in handles {
            handle
                .join()
                .map_err(|_| io::Error::other("a writer panicked"))??;
        }
        let latencies = reader
            .join()
            .map_err(|_| io::Error::other("the reader panicked"))??;
        Ok(LatencyFloor {
            pairs,
            writers,
            readers,
            rounds,
            latencies,
        })
    })
}

/// Reads every frame of every round, one task per socket; returns each frame's latency.
fn read_all(
    clients: Vec<TcpStream>,
    reader_threads: usize,
    frame_bytes: usize,
    rounds: u64,
    base: Instant,
    ready: &mpsc::Sender<()>,
) -> io::Result<Histogram> {
    let runtime = if reader_threads > 1 {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(reader_threads)
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    };
    runtime.block_on(async {
        let mut readers = Vec::with_capacity(clients.len());
        for client in clients {
            let mut client = tokio::net::TcpStream::from_std(client)?;
            readers.push(tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(usize::try_from(rounds).unwrap_or(0));
                let mut buf = vec![0; 64 * 1024];
                let mut pending = Vec::with_capacity(frame_bytes);
                let mut got = 0;
                while got < rounds {
                    let read = read_frames(&mut client, &mut buf).await?;
                    let now = u64::try_from(base.elapsed().as_nanos()).unwrap_or(u64::MAX);
                    pending.extend_from_slice(&buf[..read]);
                    let whole = pending.len() / frame_bytes * frame_bytes;
                    for frame in pending[..whole].chunks_exact(frame_bytes) {
                        let mut stamp = [0; STAMP];
                        stamp.copy_from_slice(&frame[..STAMP]);
                        let sent = u64::from_le_bytes(stamp);
                        latencies.push(now.saturating_sub(sent));
                        got += 1;
                    }
                    pending.drain(..whole);
                }
                Ok::<_, io::Error>(latencies)
            }));
        }
        // Time for each task's first poll to register its socket with epoll before the writers
        // start (a frame that came first would only be read later, and counted late).
        tokio::time::sleep(Duration::from_millis(50)).await;
        let _ = ready.send(());
        let mut histogram = Histogram::new();
        for reader in readers {
            for latency in reader.await.map_err(io::Error::other)?? {
                histogram.record(latency);
            }
        }
        Ok(histogram)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every frame of every round is read and timed, with one writer and reader or several.
    #[test]
    fn every_frame_is_timed() {
        for (writers, readers) in [(1, 1), (3, 2)] {
            let floor = measure(7, writers, readers, 100, 4, Duration::from_millis(5)).unwrap();
            assert_eq!(floor.latencies.count(), 28);
            assert!(floor.latencies.max() > 0);
            assert!(floor.latencies.max() < 10_000_000_000);
        }
    }
}
