//! A streaming reader of an HTTP/1.1 chunked body carrying Server-Sent Events.
//!
//! Bytes go in as they come off the socket, cut anywhere; complete events come out through a
//! callback as `(name, data)` slices. Nothing is allocated per event: each stream keeps three
//! small buffers (a partial line, the current event's name and data) that grow once and are
//! reused.

use std::fmt;

/// What went wrong in a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A chunk-size line that is not hexadecimal, or a chunk not followed by CRLF.
    BadChunk,
    /// The body ended (the last, empty chunk arrived).
    Ended,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadChunk => f.write_str("malformed chunked encoding"),
            Self::Ended => f.write_str("the server ended the stream"),
        }
    }
}

impl std::error::Error for Error {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Not chunked: every byte is body.
    Identity,
    /// Reading a chunk-size line.
    Size { value: usize, digits: bool },
    /// After `;` on a chunk-size line: extensions, ignored up to LF.
    Extension { value: usize },
    /// Inside a chunk: this many bytes of body left.
    Data(usize),
    /// After a chunk's body: expecting CR, then LF.
    DataEnd { cr: bool },
    /// The last chunk arrived.
    Done,
}

/// The parser of one stream.
#[derive(Debug)]
pub struct Parser {
    chunk: Chunk,
    line: Vec<u8>,
    name: Vec<u8>,
    data: Vec<u8>,
    has_data: bool,
}

impl Parser {
    /// A parser for a chunked body (`Transfer-Encoding: chunked`), or for raw bytes.
    #[must_use]
    pub fn new(chunked: bool) -> Self {
        Self {
            chunk: if chunked {
                Chunk::Size {
                    value: 0,
                    digits: false,
                }
            } else {
                Chunk::Identity
            },
            line: Vec::new(),
            name: Vec::new(),
            data: Vec::new(),
            has_data: false,
        }
    }

    /// Feeds bytes read from the socket; calls `on_event(name, data)` for each complete event
    /// (comments and events without data are skipped, as `EventSource` does).
    ///
    /// # Errors
    ///
    /// [`Error::BadChunk`] on malformed framing, [`Error::Ended`] once the body's last chunk
    /// has arrived (events before it were delivered).
    pub fn feed(
        &mut self,
        mut bytes: &[u8],
        on_event: &mut impl FnMut(&[u8], &[u8]),
    ) -> Result<(), Error> {
        while !bytes.is_empty() {
            match self.chunk {
                Chunk::Identity => {
                    self.body(bytes, on_event);
                    return Ok(());
                }
                Chunk::Data(left) => {
                    let take = left.min(bytes.len());
                    self.body(&bytes[..take], on_event);
                    bytes = &bytes[take..];
                    self.chunk = if take == left {
                        Chunk::DataEnd { cr: false }
                    } else {
                        Chunk::Data(left - take)
                    };
                }
                Chunk::Done => return Err(Error::Ended),
                state => {
                    self.chunk = framing(state, bytes[0])?;
                    bytes = &bytes[1..];
                }
            }
        }
        if self.chunk == Chunk::Done {
            return Err(Error::Ended);
        }
        Ok(())
    }

    /// De-chunked body bytes: split into lines, carrying a partial line to the next call.
    fn body(&mut self, mut bytes: &[u8], on_event: &mut impl FnMut(&[u8], &[u8])) {
        // memchr: with 8 KB events, a byte-at-a-time search was most of the load generator's time.
        while let Some(end) = memchr::memchr(b'\n', bytes) {
            let (line, rest) = (&bytes[..end], &bytes[end + 1..]);
            if self.line.is_empty() {
                self.line_done(line, on_event);
            } else {
                let mut carried = std::mem::take(&mut self.line);
                carried.extend_from_slice(line);
                self.line_done(&carried, on_event);
                carried.clear();
                self.line = carried;
            }
            bytes = rest;
        }
        self.line.extend_from_slice(bytes);
    }

    fn line_done(&mut self, line: &[u8], on_event: &mut impl FnMut(&[u8], &[u8])) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            if self.has_data {
                on_event(&self.name, &self.data);
            }
            self.name.clear();
            self.data.clear();
            self.has_data = false;
            return;
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(0) => return, // a comment (heartbeat)
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"event" => {
                self.name.clear();
                self.name.extend_from_slice(value);
            }
            b"data" => {
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
            }
            _ => {}
        }
    }
}

/// One byte of a chunk-size line or of the CRLF after a chunk.
fn framing(state: Chunk, byte: u8) -> Result<Chunk, Error> {
    Ok(match state {
        Chunk::Size { value, digits } => match byte {
            b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                let digit = usize::from(match byte {
                    b'0'..=b'9' => byte - b'0',
                    b'a'..=b'f' => byte - b'a' + 10,
                    _ => byte - b'A' + 10,
                });
                let value = value
                    .checked_mul(16)
                    .and_then(|v| v.checked_add(digit))
                    .ok_or(Error::BadChunk)?;
                Chunk::Size {
                    value,
                    digits: true,
                }
            }
            b';' | b' ' | b'\t' if digits => Chunk::Extension { value },
            b'\r' if digits => Chunk::Size { value, digits },
            b'\n' if digits => size_done(value),
            _ => return Err(Error::BadChunk),
        },
        Chunk::Extension { value } => match byte {
            b'\n' => size_done(value),
            _ => Chunk::Extension { value },
        },
        Chunk::DataEnd { cr: false } if byte == b'\r' => Chunk::DataEnd { cr: true },
        Chunk::DataEnd { .. } if byte == b'\n' => Chunk::Size {
            value: 0,
            digits: false,
        },
        _ => return Err(Error::BadChunk),
    })
}

fn size_done(value: usize) -> Chunk {
    if value == 0 {
        Chunk::Done
    } else {
        Chunk::Data(value)
    }
}

/// The client id in a `PB_CONNECT` event's data (`{"clientId":"..."}`).
#[must_use]
pub fn client_id(data: &[u8]) -> Option<&str> {
    const KEY: &[u8] = b"\"clientId\":\"";
    let start = data.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let len = data[start..].iter().position(|&b| b == b'"')?;
    std::str::from_utf8(&data[start..start + len]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunked(body: &[u8], sizes: &[usize]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = body;
        for &size in sizes {
            let (chunk, tail) = rest.split_at(size.min(rest.len()));
            out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            out.extend_from_slice(chunk);
            out.extend_from_slice(b"\r\n");
            rest = tail;
        }
        if !rest.is_empty() {
            out.extend_from_slice(format!("{:X};ext=1\r\n", rest.len()).as_bytes());
            out.extend_from_slice(rest);
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    fn events(
        parser: &mut Parser,
        bytes: &[u8],
        step: usize,
    ) -> (Vec<(String, String)>, Result<(), Error>) {
        let mut seen = Vec::new();
        let mut result = Ok(());
        for piece in bytes.chunks(step) {
            result = parser.feed(piece, &mut |name, data| {
                seen.push((
                    String::from_utf8_lossy(name).into_owned(),
                    String::from_utf8_lossy(data).into_owned(),
                ));
            });
            if result.is_err() {
                break;
            }
        }
        (seen, result)
    }

    const BODY: &[u8] = b"id:abc\nevent:PB_CONNECT\ndata:{\"clientId\":\"abc\"}\n\n:\n\nid:1\r\nevent:chat\r\ndata:\"0:1:2\"\r\n\r\nevent: x\ndata\n\nevent:empty\n\n";

    #[test]
    fn events_survive_any_cut() {
        let expected = vec![
            ("PB_CONNECT".to_owned(), r#"{"clientId":"abc"}"#.to_owned()),
            ("chat".to_owned(), r#""0:1:2""#.to_owned()),
            ("x".to_owned(), String::new()),
        ];
        for sizes in [&[1000][..], &[3, 5, 7, 11], &[1; 40]] {
            let wire = chunked(BODY, sizes);
            for step in [1, 2, 3, 7, 64, 4096] {
                let (seen, result) = events(&mut Parser::new(true), &wire, step);
                assert_eq!(result, Ok(()));
                assert_eq!(seen, expected, "sizes {sizes:?}, step {step}");
            }
        }
        let (seen, result) = events(&mut Parser::new(false), BODY, 5);
        assert_eq!((seen, result), (expected, Ok(())));
        assert_eq!(client_id(br#"{"clientId":"abc"}"#), Some("abc"));
    }

    #[test]
    fn framing_errors_and_the_end() {
        let (_, result) = events(&mut Parser::new(true), b"zz\r\n", 1);
        assert_eq!(result, Err(Error::BadChunk));
        let (_, result) = events(&mut Parser::new(true), b"2\r\nabX\r\n", 1);
        assert_eq!(result, Err(Error::BadChunk));
        let (seen, result) = events(&mut Parser::new(true), b"8\r\ndata:1\n\n\r\n0\r\n\r\n", 100);
        assert_eq!(seen.len(), 1);
        assert_eq!(result, Err(Error::Ended));
    }
}
