//! The benchmark's shared code: a minimal HTTP/1.1 client over raw loopback sockets, a streaming
//! Server-Sent Events parser that allocates nothing per event, a latency histogram, readings of
//! a server's CPU time and memory from `/proc`, a Redis server's command counts, the load
//! generator itself (and its keys scenario) and its report; and the micro-benchmarks: the broker alone in memory (`micro`) and the write
//! system call's floor (`floor`).
//!
//! Three binaries use it: `bench-server` (the bench server, `src/bin/bench-server.rs`),
//! `loadgen` (`src/bin/loadgen.rs`) and `broker-micro` (`src/bin/broker-micro.rs`).
//! `bench/run.sh` runs the first two against PocketBase and prints the comparison, and
//! `bench/run.sh micro` the third.

pub mod fd_limit;
pub mod floor;
pub mod histogram;
pub mod http;
mod keys;
pub mod latency_floor;
pub mod loadgen;
pub mod micro;
pub mod procfs;
pub mod redis_stats;
pub mod report;
pub mod sse;
