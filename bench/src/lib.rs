//! The benchmark's shared code: a minimal HTTP/1.1 client over raw loopback sockets, a streaming
//! Server-Sent Events parser that allocates nothing per event, a latency histogram, readings of
//! a server's CPU time and memory from `/proc`, the load generator itself (and its keys scenario)
//! and its report.
//!
//! Two binaries use it: `bench-server` (the bench server, `src/bin/bench-server.rs`) and
//! `loadgen` (`src/bin/loadgen.rs`). `bench/run.sh` runs both against PocketBase and prints the
//! comparison.

pub mod histogram;
pub mod http;
mod keys;
pub mod loadgen;
pub mod procfs;
pub mod report;
pub mod sse;
