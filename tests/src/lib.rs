//! Shared pieces of the test suite: a server with control endpoints for the real-client tests,
//! a raw HTTP/SSE client that sees the exact bytes on the wire, and a `redis-server` of the
//! test's own and a round-robin load balancer for the scale-out tests.

pub mod balancer;
pub mod control_app;
pub mod node;
pub mod raw_http;
pub mod redis;
pub mod server;
pub mod wait;
