//! Shared pieces of the test suite: a server with control endpoints for the real-client tests,
//! and a raw HTTP/SSE client that sees the exact bytes on the wire.

pub mod control_app;
pub mod node;
pub mod raw_http;
pub mod server;
pub mod wait;
