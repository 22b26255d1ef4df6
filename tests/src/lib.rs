//! Shared pieces of the test suite: a server with control endpoints for the real-client tests,
//! a raw HTTP/SSE client that sees the exact bytes on the wire, and a `redis-server` of the
//! test's own for the scale-out tests.

pub mod control_app;
pub mod node;
pub mod raw_http;
pub mod redis;
pub mod server;
pub mod wait;
