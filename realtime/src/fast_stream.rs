//! Event streams served without hyper. A plain `GET /api/realtime` (HTTP/1.1, no body, same
//! origin or none) that opens a connection, or that follows requests the router served on it
//! (see `serve::Connection`), is answered here, writing the frames (already HTTP chunks, built
//! once per send) straight to the socket: no per-connection HTTP buffers stay allocated for the
//! stream's lifetime, and a delivery costs at most one write, shared with whatever else was
//! queued for the client. Every other connection goes to the router unchanged, with the bytes
//! read so far put back in front.

use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::broker::Realtime;
use crate::endpoint::PATH;
use crate::outbox::MAX_BATCH;
use crate::serve::Connection;
use crate::stream::EventStream;

/// The longest request head read before handing the connection to the router.
const MAX_HEAD: usize = 16 * 1024;

/// How long a client may take to send its request head before it goes to the router (whose
/// own handling then applies).
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// What to do with a new connection.
pub(crate) enum Route {
    /// Serve the event stream here.
    Stream,
    /// Hand it to the router, with these bytes already read.
    Router(Bytes),
    /// The client left before sending anything.
    Gone,
}

/// Reads the first request head and decides who serves the connection.
pub(crate) async fn route(conn: &mut Connection) -> Route {
    let mut head = BytesMut::with_capacity(1024);
    let read = tokio::time::timeout(HEAD_TIMEOUT, async {
        loop {
            if head.len() >= MAX_HEAD || head.windows(4).any(|w| w == b"\r\n\r\n") {
                return Ok::<(), io::Error>(());
            }
            let mut chunk = [0u8; 2048];
            let n = tokio::io::AsyncReadExt::read(conn, &mut chunk).await?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            head.extend_from_slice(&chunk[..n]);
        }
    })
    .await;
    match read {
        Ok(Err(_)) if head.is_empty() => Route::Gone,
        Ok(Ok(())) if is_plain_stream_request(&head) => Route::Stream,
        _ => Route::Router(head.freeze()),
    }
}

/// A `GET /api/realtime` this module can answer exactly as the router would: HTTP/1.1, the
/// whole request read and nothing after it, no body, no upgrade, and no cross-origin `Origin`
/// (cross-origin streams go to the router, where the application's CORS layer applies).
pub(crate) fn is_plain_stream_request(head: &[u8]) -> bool {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut headers);
    let Ok(httparse::Status::Complete(len)) = request.parse(head) else {
        return false;
    };
    let path = request.path.unwrap_or_default();
    let path = path.split_once('?').map_or(path, |(path, _)| path);
    if len != head.len()
        || request.method != Some("GET")
        || request.version != Some(1)
        || path != PATH
    {
        return false;
    }
    let header = |name: &str| {
        request
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    };
    let has_body = header("transfer-encoding").is_some()
        || header("content-length").is_some_and(|len| len != b"0");
    let upgrade = header("upgrade").is_some();
    let same_origin = header("origin").is_none_or(|origin| {
        let host = origin
            .windows(3)
            .position(|w| w == b"://")
            .map(|i| &origin[i + 3..]);
        host.is_some() && host == header("host")
    });
    !has_body && !upgrade && same_origin
}

/// Serves the event stream on `conn` until it ends or the client leaves.
pub(crate) async fn serve_stream(mut conn: Connection, addr: SocketAddr, rt: Realtime) {
    let shared = rt.shared_arc();
    let client = shared.connect(Some(addr.ip()), Some(conn.abort()));
    let mut body = EventStream::new(client, Arc::downgrade(&shared), &shared.config);
    drop(shared);
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-store\r\n\
         x-accel-buffering: no\r\ntransfer-encoding: chunked\r\ndate: {}\r\n\r\n",
        httpdate::fmt_http_date(SystemTime::now())
    );
    if conn.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let mut probe = [0u8; 64];
    let mut frames: [Bytes; MAX_BATCH] = Default::default();
    loop {
        let next = poll_fn(|cx| {
            // A client sends nothing after its request: a read that completes means it left.
            let mut buf = ReadBuf::new(&mut probe);
            match Pin::new(&mut conn).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if buf.filled().is_empty() => return Poll::Ready(None),
                Poll::Ready(Err(_)) => return Poll::Ready(None),
                Poll::Ready(Ok(())) | Poll::Pending => {}
            }
            body.poll_frames(cx, &mut frames)
        })
        .await;
        let Some(count) = next else {
            let _ = conn.write_all(b"0\r\n\r\n").await;
            let _ = conn.shutdown().await;
            return;
        };
        let written = write_frames(&mut conn, &frames[..count]).await;
        frames[..count].fill(Bytes::new());
        if written.is_err() {
            return;
        }
    }
}

/// Writes `frames` (chunks, at most [`MAX_BATCH`]) in one write when the socket
/// takes them all. Nothing is allocated: this runs once per delivery.
async fn write_frames(conn: &mut Connection, frames: &[Bytes]) -> io::Result<()> {
    if let [frame] = frames {
        return conn.write_all(frame).await;
    }
    let mut parts = [IoSlice::new(&[]); MAX_BATCH];
    for (part, frame) in parts.iter_mut().zip(frames) {
        *part = IoSlice::new(frame);
    }
    let mut parts = &mut parts[..frames.len()];
    while !parts.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut *conn).poll_write_vectored(cx, parts)).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut parts, n);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_same_origin_stream_requests_take_the_fast_path() {
        let ok = |head: &str| is_plain_stream_request(head.as_bytes());
        assert!(ok(
            "GET /api/realtime HTTP/1.1\r\nHost: a:1\r\nAccept: text/event-stream\r\n\r\n"
        ));
        assert!(ok(
            "GET /api/realtime?x=1 HTTP/1.1\r\nHost: a:1\r\nOrigin: http://a:1\r\n\r\n"
        ));
        assert!(!ok(
            "GET /api/realtime HTTP/1.1\r\nHost: a:1\r\nOrigin: http://b:1\r\n\r\n"
        ));
        assert!(!ok("GET /api/realtime HTTP/1.0\r\nHost: a:1\r\n\r\n"));
        assert!(!ok(
            "POST /api/realtime HTTP/1.1\r\nHost: a:1\r\nContent-Length: 2\r\n\r\n{}"
        ));
        assert!(!ok("GET / HTTP/1.1\r\nHost: a:1\r\n\r\n"));
        assert!(!ok(
            "GET /api/realtime HTTP/1.1\r\nHost: a:1\r\n\r\nGET / HTTP/1.1\r\n\r\n"
        ));
        assert!(!ok(
            "GET /api/realtime HTTP/1.1\r\nHost: a:1\r\nContent-Length: 3\r\n\r\n"
        ));
        assert!(!ok("GET /api/realtime HTTP/1.1\r\nHost: a:1\r\n"));
    }
}
