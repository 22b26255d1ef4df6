//! Event streams written without hyper. Once the application's router accepted a stream
//! request (see `http1`), the connection writes the head the router answered with and then the
//! frames (already HTTP chunks, built once per send) straight to the socket: no per-connection
//! HTTP buffers stay allocated for the stream's lifetime, and a delivery costs at most one
//! write, shared with whatever else was queued for the client. A plain TCP socket is lent to
//! the fan-out's writers, which write frames for the stream while it is idle (see
//! `broker::writers`); the stream takes it back to write its end.

use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::Poll;
use std::time::SystemTime;

use bytes::Bytes;
use http::HeaderMap;
use http::header::{CONNECTION, CONTENT_LENGTH, DATE, TRANSFER_ENCODING};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

use tracing::Instrument;

use super::connection::Connection;
use crate::broker::outbox::MAX_BATCH;
use crate::broker::stats::StreamPath;
use crate::http::stream::EventStream;
use crate::wire::sse;

/// Serves `body` on `conn` with the response head `headers` (status 200) until the stream ends
/// or the client leaves, in the stream's span.
pub(crate) async fn serve(conn: Connection, mut body: EventStream, headers: HeaderMap) {
    body.start(StreamPath::Direct);
    let span = body.span().clone();
    write_stream(conn, body, headers).instrument(span).await;
}

async fn write_stream(conn: Connection, mut body: EventStream, headers: HeaderMap) {
    let (mut conn, socket) = conn.write_directly();
    let head = head(&headers);
    drop(headers);
    if conn.write_all(&head).await.is_err() || conn.flush().await.is_err() {
        return;
    }
    drop(head);
    // From here the fan-out's writers may write frames while the stream is idle.
    if let Some(socket) = socket {
        body.lend_socket(socket);
    }
    let mut probe = [0u8; 64];
    let mut frames: [Option<Bytes>; MAX_BATCH] = Default::default();
    loop {
        let next = poll_fn(|cx| {
            if let ready @ Poll::Ready(_) = body.poll_frames(cx, &mut frames) {
                return ready;
            }
            // A client sends nothing after its request: a read that completes means it left.
            // Looked at only when there is nothing to write (once per delivery, not twice):
            // while frames flow, a client that left fails the next write instead.
            let mut buf = ReadBuf::new(&mut probe);
            match Pin::new(&mut conn).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if buf.filled().is_empty() => Poll::Ready(None),
                Poll::Ready(Err(_)) => Poll::Ready(None),
                Poll::Ready(Ok(())) | Poll::Pending => Poll::Pending,
            }
        })
        .await;
        let Some(count) = next else {
            poll_fn(|cx| body.poll_take_socket_back(cx)).await;
            let _ = conn.write_all(b"0\r\n\r\n").await;
            let _ = conn.shutdown().await;
            return;
        };
        let events = frames[..count]
            .iter()
            .flatten()
            .map(|frame| sse::event_in(frame).len())
            .sum();
        let written = write_frames(&mut conn, &frames[..count]).await;
        frames[..count].fill(None);
        if written.is_err() {
            return;
        }
        body.note_written(events);
    }
}

/// The response head as hyper would write it for these headers: names in lower case, in the
/// order the application set them, then the framing and the date. Framing headers the
/// application set are left out (the stream is chunked).
fn head(headers: &HeaderMap) -> Vec<u8> {
    let mut head = Vec::with_capacity(256);
    head.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    for (name, value) in headers {
        if [CONTENT_LENGTH, TRANSFER_ENCODING, CONNECTION, DATE].contains(name) {
            continue;
        }
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"transfer-encoding: chunked\r\ndate: ");
    head.extend_from_slice(httpdate::fmt_http_date(SystemTime::now()).as_bytes());
    head.extend_from_slice(b"\r\n\r\n");
    head
}

/// Writes `frames` (chunks, at most [`MAX_BATCH`]) in one write when the socket
/// takes them all, and flushes: a TLS session holds what it is given until then (a TCP
/// socket's flush costs nothing). Nothing is allocated: this runs once per delivery.
async fn write_frames(conn: &mut Connection, frames: &[Option<Bytes>]) -> io::Result<()> {
    write_all_frames(conn, frames).await?;
    conn.flush().await
}

async fn write_all_frames(conn: &mut Connection, frames: &[Option<Bytes>]) -> io::Result<()> {
    if let [Some(frame)] = frames {
        return conn.write_all(frame).await;
    }
    let mut parts = [IoSlice::new(&[]); MAX_BATCH];
    for (part, frame) in parts.iter_mut().zip(frames.iter().flatten()) {
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
    use http::HeaderValue;

    #[test]
    fn the_head_is_the_applications_headers_then_chunked_framing_and_the_date() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "content-type",
            HeaderValue::from_static("text/event-stream"),
        );
        headers.insert("x-app", HeaderValue::from_static("1"));
        headers.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
        let head = String::from_utf8(head(&headers)).unwrap();
        let (before, date) = head.split_once("date: ").unwrap();
        assert_eq!(
            before,
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nx-app: 1\r\n\
             transfer-encoding: chunked\r\n"
        );
        assert!(date.ends_with(" GMT\r\n\r\n"), "{date:?}");
    }
}
