//! A minimal HTTP/1.1 client over raw TCP: keep-alive `POST`s with small bodies, and the head of
//! a `GET` stream. Enough for the two servers benchmarked, and cheap: one write per request.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn invalid(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// A response read whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

/// A response head.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Head {
    status: u16,
    /// Bytes up to and including the blank line.
    len: usize,
    content_length: Option<usize>,
    chunked: bool,
    close: bool,
}

fn parse_head(buf: &[u8]) -> io::Result<Option<Head>> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        if buf.len() > 64 * 1024 {
            return Err(invalid("response head over 64 KiB"));
        }
        return Ok(None);
    };
    let text = std::str::from_utf8(&buf[..end]).map_err(|_| invalid("non-UTF-8 response head"))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| invalid(format!("bad status line {status_line:?}")))?;
    let mut head = Head {
        status,
        len: end + 4,
        content_length: None,
        chunked: false,
        close: status_line.starts_with("HTTP/1.0"),
    };
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            head.content_length = Some(value.parse().map_err(|_| invalid("bad Content-Length"))?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            head.chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            head.close = value.eq_ignore_ascii_case("close");
        }
    }
    Ok(Some(head))
}

/// A whole chunked body at the start of `buf`: the body and how many bytes it took, or `None`
/// if more bytes are needed.
fn dechunk(buf: &[u8]) -> io::Result<Option<(Vec<u8>, usize)>> {
    let mut body = Vec::new();
    let mut at = 0;
    loop {
        let Some(eol) = buf[at..].windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let line =
            std::str::from_utf8(&buf[at..at + eol]).map_err(|_| invalid("bad chunk size"))?;
        let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| invalid("bad chunk size"))?;
        at += eol + 2;
        if size == 0 {
            // No trailers are expected: the final CRLF follows.
            return Ok((buf.len() >= at + 2).then(|| (body, at + 2)));
        }
        if buf.len() < at + size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&buf[at..at + size]);
        at += size + 2;
    }
}

/// A keep-alive connection for requests with small bodies.
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
    addr: SocketAddr,
    request: Vec<u8>,
    buf: Vec<u8>,
    closed: bool,
}

impl Conn {
    /// Connects to `addr`.
    ///
    /// # Errors
    ///
    /// When the connection fails.
    pub async fn connect(addr: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            addr,
            request: Vec::with_capacity(512),
            buf: Vec::with_capacity(4096),
            closed: false,
        })
    }

    /// Whether the server asked to close the connection: it must not be reused.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Sends `POST path` with a JSON body and reads the whole response.
    ///
    /// # Errors
    ///
    /// When the connection fails or the response is malformed.
    pub async fn post_json(&mut self, path: &str, body: &[u8]) -> io::Result<Response> {
        use std::io::Write as _;
        self.request.clear();
        write!(
            self.request,
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        )?;
        self.request.extend_from_slice(body);
        self.stream.write_all(&self.request).await?;
        self.read_response().await
    }

    async fn fill(&mut self) -> io::Result<()> {
        if self.stream.read_buf(&mut self.buf).await? == 0 {
            self.closed = true;
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        Ok(())
    }

    async fn read_response(&mut self) -> io::Result<Response> {
        let head = loop {
            if let Some(head) = parse_head(&self.buf)? {
                break head;
            }
            self.fill().await?;
        };
        self.closed |= head.close;
        let no_body = head.status == 204 || head.status == 304 || head.status < 200;
        let (body, used) = if no_body {
            (Vec::new(), head.len)
        } else if let Some(len) = head.content_length {
            while self.buf.len() < head.len + len {
                self.fill().await?;
            }
            (self.buf[head.len..head.len + len].to_vec(), head.len + len)
        } else if head.chunked {
            loop {
                if let Some((body, used)) = dechunk(&self.buf[head.len..])? {
                    break (body, head.len + used);
                }
                self.fill().await?;
            }
        } else {
            // Delimited by the end of the connection.
            while self.fill().await.is_ok() {}
            self.closed = true;
            (self.buf[head.len..].to_vec(), self.buf.len())
        };
        self.buf.drain(..used);
        Ok(Response {
            status: head.status,
            body,
        })
    }
}

/// An open `GET` event stream: the socket after the response head, and what came after it.
#[derive(Debug)]
pub struct Stream {
    /// The socket, positioned after the bytes in `rest`.
    pub socket: TcpStream,
    /// Body bytes read together with the head.
    pub rest: Vec<u8>,
    /// Whether the body is chunked.
    pub chunked: bool,
}

/// Opens `GET path` as an event stream and reads its head.
///
/// # Errors
///
/// When the connection fails, or the answer is not a 200 stream.
pub async fn open_stream(addr: SocketAddr, path: &str) -> io::Result<Stream> {
    let mut socket = TcpStream::connect(addr).await?;
    socket.set_nodelay(true)?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n");
    socket.write_all(request.as_bytes()).await?;
    let mut buf = Vec::with_capacity(1024);
    let head = loop {
        if socket.read_buf(&mut buf).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the stream before its head",
            ));
        }
        if let Some(head) = parse_head(&buf)? {
            break head;
        }
    };
    if head.status != 200 {
        return Err(invalid(format!("GET {path} answered {}", head.status)));
    }
    buf.drain(..head.len);
    Ok(Stream {
        socket,
        rest: buf,
        chunked: head.chunked,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_and_chunks() {
        let head =
            parse_head(b"HTTP/1.1 200 OK\r\ncontent-length: 13\r\nConnection: close\r\n\r\n{")
                .unwrap()
                .unwrap();
        assert_eq!(
            head,
            Head {
                status: 200,
                len: 58,
                content_length: Some(13),
                chunked: false,
                close: true
            }
        );
        assert!(parse_head(b"HTTP/1.1 200 OK\r\n").unwrap().is_none());
        assert_eq!(dechunk(b"3\r\nabc\r\n1;x\r\nd\r\n0\r\n").unwrap(), None);
        assert_eq!(
            dechunk(b"3\r\nabc\r\n1;x\r\nd\r\n0\r\n\r\nNEXT").unwrap(),
            Some((b"abcd".to_vec(), 21))
        );
    }
}
