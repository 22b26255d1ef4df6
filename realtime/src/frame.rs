//! Server-Sent Events framing, exactly as PocketBase writes it.
//!
//! Every event is `id:<id>\nevent:<name>\ndata:<data>\n\n`: no space after the colons and a
//! single `data:` line. Callers guarantee that `name` and `data` hold no CR or LF
//! ([`is_valid_event_name`] and JSON encoding do).

use bytes::{BufMut, Bytes, BytesMut};

/// The heartbeat: an SSE comment, ignored by every client, that keeps proxies from cutting a
/// quiet stream and lets the server notice a dead peer.
pub(crate) const HEARTBEAT: &[u8] = b":\n\n";

/// Frames one event.
pub(crate) fn event(id: &str, name: &str, data: &[u8]) -> Bytes {
    let mut buf = BytesMut::with_capacity(id.len() + name.len() + data.len() + 17);
    buf.put_slice(b"id:");
    buf.put_slice(id.as_bytes());
    buf.put_slice(b"\nevent:");
    buf.put_slice(name.as_bytes());
    buf.put_slice(b"\ndata:");
    buf.put_slice(data);
    buf.put_slice(b"\n\n");
    buf.freeze()
}

/// The first event of every stream: it tells the client its id, both in `id:` (read by the JS
/// SDK) and in the JSON data (read by the HTMX extension).
pub(crate) fn connect(client_id: &str) -> Bytes {
    let data = format!(r#"{{"clientId":"{client_id}"}}"#);
    event(client_id, "PB_CONNECT", data.as_bytes())
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
        assert_eq!(
            &event("abc", "chat", br#"{"a":1}"#)[..],
            b"id:abc\nevent:chat\ndata:{\"a\":1}\n\n"
        );
        assert_eq!(
            &connect("XYZ")[..],
            b"id:XYZ\nevent:PB_CONNECT\ndata:{\"clientId\":\"XYZ\"}\n\n"
        );
    }

    #[test]
    fn event_names_refuse_line_breaks() {
        assert!(is_valid_event_name("chat?options=%7B%7D"));
        for bad in ["", "a\nb", "a\rb", "a\0b"] {
            assert!(!is_valid_event_name(bad), "{bad:?}");
        }
    }
}
