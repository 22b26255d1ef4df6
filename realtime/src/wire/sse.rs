//! Server-Sent Events framing, exactly as PocketBase writes it.
//!
//! Every event is `id:<id>\nevent:<name>\ndata:<data>\n\n`: no space after the colons and a
//! single `data:` line. Callers guarantee that `name` and `data` hold no CR or LF
//! ([`is_valid_event_name`] and JSON encoding do).
//!
//! An event is built once per send and kept as the HTTP/1.1 chunk that carries it
//! (`<hex length>\r\n<event>\r\n`; the "frames" queued for clients): streams served without
//! hyper write it as it is, with no framing work per recipient; hyper's path takes the event
//! back out with [`into_event`] (or reads it in place with [`event_in`]).

use bytes::{Buf as _, BufMut, Bytes, BytesMut};

/// The heartbeat, as a chunk: an SSE comment (`:\n\n`), ignored by every client, that keeps
/// proxies from cutting a quiet stream and lets the server notice a dead peer.
pub(crate) const HEARTBEAT: &[u8] = b"3\r\n:\n\n\r\n";

/// What an event's `id:` holds: text (a client id), or a value that writes itself into the
/// frame without being made into a `String` first (a message's position).
pub(crate) trait EventId {
    /// Its length in bytes.
    fn text_len(&self) -> usize;
    /// Appends it to `buf`.
    fn put(&self, buf: &mut BytesMut);
}

impl<T: AsRef<str> + ?Sized> EventId for T {
    fn text_len(&self) -> usize {
        self.as_ref().len()
    }

    fn put(&self, buf: &mut BytesMut) {
        buf.put_slice(self.as_ref().as_bytes());
    }
}

/// Frames one event, as a chunk.
pub(crate) fn event(id: &(impl EventId + ?Sized), name: &str, data: &[u8]) -> Bytes {
    let len = id.text_len() + name.len() + data.len() + 18;
    let mut digits = [0; 16];
    let size = hex(len, &mut digits);
    let mut buf = BytesMut::with_capacity(size.len() + 2 + len + 2);
    buf.put_slice(size);
    buf.put_slice(b"\r\nid:");
    id.put(&mut buf);
    buf.put_slice(b"\nevent:");
    buf.put_slice(name.as_bytes());
    buf.put_slice(b"\ndata:");
    buf.put_slice(data);
    buf.put_slice(b"\n\n\r\n");
    debug_assert_eq!(
        buf.len(),
        size.len() + 2 + len + 2,
        "the chunk length is the event's"
    );
    // Split off, the buffer is shared at once (the allocation its first clone would make
    // anyway), so that [`into_event`] can trim each recipient's copy in place: a `Bytes`
    // still in its first form must clone to be trimmed at its end.
    buf.split().freeze()
}

/// `n` in lower-case hex (a chunk's size line), written at the end of `buf`, without `fmt`:
/// this runs once per send.
fn hex(mut n: usize, buf: &mut [u8; 16]) -> &[u8] {
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b"0123456789abcdef"[n & 0xf];
        n >>= 4;
        if n == 0 {
            return &buf[start..];
        }
    }
}

/// Where the event lies inside a chunk built here.
fn event_range(chunk: &[u8]) -> std::ops::Range<usize> {
    let end = chunk.len().saturating_sub(2);
    let start = chunk
        .iter()
        .position(|&b| b == b'\n')
        .map_or(chunk.len(), |i| i + 1);
    start.min(end)..end
}

/// The event inside a chunk built here, in place (for a writer that does its own chunking).
pub(crate) fn event_in(chunk: &[u8]) -> &[u8] {
    &chunk[event_range(chunk)]
}

/// The event inside a chunk built here, cut out of it without touching its reference count:
/// this runs once per delivery on hyper's path.
pub(crate) fn into_event(mut chunk: Bytes) -> Bytes {
    let range = event_range(&chunk);
    chunk.truncate(range.end);
    chunk.advance(range.start);
    chunk
}

/// The name of every stream's first event, which carries the client's id.
pub(crate) const CONNECT_EVENT: &str = "PB_CONNECT";

/// The name of the event that tells a client some topics' past is lost: reload their state.
pub(crate) const RESYNC_EVENT: &str = "PB_RESYNC";

/// The first event of every stream: it tells the client its id, both in `id:` (read by the JS
/// SDK) and in the JSON data (read by the HTMX extension).
pub(crate) fn connect(client_id: &str) -> Bytes {
    let data = format!(r#"{{"clientId":"{client_id}"}}"#);
    event(client_id, CONNECT_EVENT, data.as_bytes())
}

/// Whether `name` can stand in an `event:` line: SSE ends a field at CR or LF, and NUL is
/// refused by some clients.
pub(crate) fn is_valid_event_name(name: &str) -> bool {
    !name.is_empty() && !name.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_byte_for_byte() {
        let chat = event("abc", "chat", br#"{"a":1}"#);
        assert_eq!(
            &chat[..],
            b"20\r\nid:abc\nevent:chat\ndata:{\"a\":1}\n\n\r\n"
        );
        assert_eq!(event_in(&chat), b"id:abc\nevent:chat\ndata:{\"a\":1}\n\n");
        assert_eq!(
            &into_event(chat.clone())[..],
            b"id:abc\nevent:chat\ndata:{\"a\":1}\n\n"
        );
        assert_eq!(
            &into_event(connect("XYZ"))[..],
            b"id:XYZ\nevent:PB_CONNECT\ndata:{\"clientId\":\"XYZ\"}\n\n"
        );
        assert_eq!(&into_event(Bytes::from_static(HEARTBEAT))[..], b":\n\n");
        assert_eq!(event_in(HEARTBEAT), b":\n\n");
        // Trimming one recipient's copy leaves the others' whole.
        assert_eq!(
            &chat[..],
            b"20\r\nid:abc\nevent:chat\ndata:{\"a\":1}\n\n\r\n"
        );
    }

    #[test]
    fn sizes_in_hex() {
        for n in [0, 1, 9, 10, 15, 16, 0x2f, 255, 256, 0xabc_def, usize::MAX] {
            assert_eq!(hex(n, &mut [0; 16]), format!("{n:x}").as_bytes());
        }
    }

    #[test]
    fn chunk_lengths_are_the_events_length_in_hex() {
        let data = vec![b'x'; 300];
        let chunk = event("1-1", "t", &data);
        let event = event_in(&chunk);
        assert!(chunk.starts_with(format!("{:x}\r\n", event.len()).as_bytes()));
        assert!(chunk.ends_with(b"\n\n\r\n"));
    }

    #[test]
    fn event_names_refuse_line_breaks() {
        assert!(is_valid_event_name("chat?options=%7B%7D"));
        for bad in ["", "a\nb", "a\rb", "a\0b"] {
            assert!(!is_valid_event_name(bad), "{bad:?}");
        }
    }
}
