//! A raw HTTP/1.1 client over a TCP socket, so tests see the exact bytes the server writes.
//! Every read has a timeout: a test never hangs on a quiet stream.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::timeout;

/// How long any single read may wait.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// A response read whole.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header names (lower case) and values.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header with this (lower case) name.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    #[must_use]
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request with `Connection: close` and reads the whole response.
///
/// # Panics
///
/// Panics if the server cannot be reached, answers garbage, or is slower than
/// [`READ_TIMEOUT`].
pub async fn request(addr: SocketAddr, head: &str, body: &[u8]) -> Response {
    let socket = TcpStream::connect(addr).await.expect("connect");
    exchange(socket, addr, head, body).await
}

/// Like [`request`], from another loopback address (e.g. `127.0.0.2`).
///
/// # Panics
///
/// As [`request`], or if that address cannot be bound.
pub async fn request_from(local: IpAddr, addr: SocketAddr, head: &str, body: &[u8]) -> Response {
    let socket = connect_from(local, addr).await;
    exchange(socket, addr, head, body).await
}

async fn exchange(mut socket: TcpStream, addr: SocketAddr, head: &str, body: &[u8]) -> Response {
    let request = format!(
        "{head}\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    socket
        .write_all(request.as_bytes())
        .await
        .expect("write head");
    socket.write_all(body).await.expect("write body");
    let mut raw = Vec::new();
    timeout(READ_TIMEOUT, socket.read_to_end(&mut raw))
        .await
        .expect("response timed out")
        .expect("read response");
    let (status, headers, rest) = parse_head(&raw).expect("a complete response head");
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        let mut decoder = Dechunker::default();
        decoder.feed(rest);
        decoder.body
    } else {
        rest.to_vec()
    };
    Response {
        status,
        headers,
        body,
    }
}

/// Sends a body-less `GET path` on an open keep-alive connection and reads its response (which
/// must carry a `Content-Length`), leaving the connection open for the next request.
///
/// # Panics
///
/// Panics if the server answers otherwise or is slower than [`READ_TIMEOUT`].
pub async fn keep_alive_get(socket: &mut TcpStream, addr: SocketAddr, path: &str) -> Response {
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    socket
        .write_all(request.as_bytes())
        .await
        .expect("write request");
    let mut raw = Vec::new();
    loop {
        if let Some((status, headers, rest)) = parse_head(&raw) {
            let length: usize = headers
                .iter()
                .find(|(n, _)| n == "content-length")
                .and_then(|(_, v)| v.parse().ok())
                .expect("a content-length");
            if rest.len() >= length {
                assert_eq!(rest.len(), length, "nothing after the response");
                return Response {
                    status,
                    headers,
                    body: rest.to_vec(),
                };
            }
        }
        read_more(socket, &mut raw).await;
    }
}

/// Appends what the socket has next to `raw`.
async fn read_more(socket: &mut TcpStream, raw: &mut Vec<u8>) {
    let mut buf = [0u8; 4096];
    let n = timeout(READ_TIMEOUT, socket.read(&mut buf))
        .await
        .expect("response timed out")
        .expect("read response");
    assert!(n > 0, "server closed before answering");
    raw.extend_from_slice(&buf[..n]);
}

/// `POST /api/realtime` with a JSON body and optional `Authorization`.
pub async fn post_realtime(addr: SocketAddr, json: &str, authorization: Option<&str>) -> Response {
    let auth = authorization.map_or(String::new(), |token| format!("\r\nAuthorization: {token}"));
    let head = format!("POST /api/realtime HTTP/1.1\r\nContent-Type: application/json{auth}");
    request(addr, &head, json.as_bytes()).await
}

type Head<'a> = (u16, Vec<(String, String)>, &'a [u8]);

fn parse_head(raw: &[u8]) -> Option<Head<'_>> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Some((status, headers, &raw[end + 4..]))
}

/// Decodes a chunked body incrementally.
#[derive(Default)]
struct Dechunker {
    pending: Vec<u8>,
    body: Vec<u8>,
    done: bool,
}

impl Dechunker {
    fn feed(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
        loop {
            let Some(line_end) = self.pending.windows(2).position(|w| w == b"\r\n") else {
                return;
            };
            let size_text = String::from_utf8_lossy(&self.pending[..line_end]).into_owned();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .expect("a chunk size");
            if size == 0 {
                self.done = true;
                return;
            }
            let start = line_end + 2;
            if self.pending.len() < start + size + 2 {
                return;
            }
            self.body
                .extend_from_slice(&self.pending[start..start + size]);
            self.pending.drain(..start + size + 2);
        }
    }
}

/// An open `GET /api/realtime` stream.
pub struct SseStream {
    socket: TcpStream,
    /// The response head.
    pub status: u16,
    /// Header names (lower case) and values.
    pub headers: Vec<(String, String)>,
    decoder: Dechunker,
    consumed: usize,
}

impl SseStream {
    /// Opens a stream with extra request header lines (each `Name: value`).
    ///
    /// # Panics
    ///
    /// Panics if the server cannot be reached or is slower than [`READ_TIMEOUT`].
    pub async fn open(addr: SocketAddr, extra_headers: &[&str]) -> Self {
        let socket = TcpStream::connect(addr).await.expect("connect");
        Self::open_on(socket, addr, extra_headers).await
    }

    /// Opens a stream on a connection that may have served other requests before.
    ///
    /// # Panics
    ///
    /// As [`SseStream::open`].
    pub async fn open_on(socket: TcpStream, addr: SocketAddr, extra_headers: &[&str]) -> Self {
        Self::open_path(socket, addr, "/api/realtime", extra_headers).await
    }

    /// Opens a stream at `path` (`/api/realtime?query`) on a connection.
    ///
    /// # Panics
    ///
    /// As [`SseStream::open`].
    pub async fn open_path(
        mut socket: TcpStream,
        addr: SocketAddr,
        path: &str,
        extra_headers: &[&str],
    ) -> Self {
        let mut head =
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n");
        for line in extra_headers {
            head.push_str(line);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        socket
            .write_all(head.as_bytes())
            .await
            .expect("write request");
        let mut raw = Vec::new();
        let (status, headers, rest) = loop {
            read_more(&mut socket, &mut raw).await;
            if let Some((status, headers, rest)) = parse_head(&raw) {
                break (status, headers, rest.to_vec());
            }
        };
        let mut decoder = Dechunker::default();
        decoder.feed(&rest);
        Self {
            socket,
            status,
            headers,
            decoder,
            consumed: 0,
        }
    }

    /// The first header with this (lower case) name.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The raw text of the next event or comment block (up to and including its blank line),
    /// or `None` if the stream ended or nothing came within `wait`.
    ///
    /// # Panics
    ///
    /// Panics if the socket fails.
    pub async fn next_block(&mut self, wait: Duration) -> Option<String> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let unread = &self.decoder.body[self.consumed..];
            if let Some(end) = unread.windows(2).position(|w| w == b"\n\n") {
                let block = String::from_utf8_lossy(&unread[..end + 2]).into_owned();
                self.consumed += end + 2;
                return Some(block);
            }
            if self.decoder.done {
                return None;
            }
            let mut buf = vec![0u8; 16384];
            let read = tokio::time::timeout_at(deadline, self.socket.read(&mut buf)).await;
            match read {
                Err(_) | Ok(Ok(0)) => return None,
                Ok(Ok(n)) => self.decoder.feed(&buf[..n]),
                Ok(Err(err)) => panic!("stream read failed: {err}"),
            }
        }
    }

    /// The next block that is an event (heartbeat comments skipped).
    pub async fn next_event(&mut self, wait: Duration) -> Option<String> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let block = self.next_block(left).await?;
            if !block.starts_with(':') {
                return Some(block);
            }
        }
    }

    /// The connection, once the stream is over (to send it another request).
    #[must_use]
    pub fn into_socket(self) -> TcpStream {
        self.socket
    }

    /// Whether the server ended the stream within `wait`.
    pub async fn ended_within(&mut self, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if self.decoder.done {
                return true;
            }
            let mut buf = vec![0u8; 16384];
            match tokio::time::timeout_at(deadline, self.socket.read(&mut buf)).await {
                Err(_) => return false,
                Ok(Ok(0) | Err(_)) => return true,
                Ok(Ok(n)) => self.decoder.feed(&buf[..n]),
            }
        }
    }

    /// Reads the `PB_CONNECT` event and returns the client id.
    ///
    /// # Panics
    ///
    /// Panics if the first event is not a well-formed `PB_CONNECT`.
    pub async fn client_id(&mut self) -> String {
        let block = self.next_event(READ_TIMEOUT).await.expect("PB_CONNECT");
        let id = block
            .strip_prefix("id:")
            .and_then(|rest| rest.split('\n').next())
            .expect("an id line")
            .to_owned();
        assert_eq!(
            block,
            format!("id:{id}\nevent:PB_CONNECT\ndata:{{\"clientId\":\"{id}\"}}\n\n")
        );
        id
    }
}

/// A connection from another loopback address (e.g. `127.0.0.2`), to tell clients apart by
/// address.
///
/// # Panics
///
/// If that address cannot be bound or the server cannot be reached.
pub async fn connect_from(local: IpAddr, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::new(local, 0))
        .expect("bind the local address");
    socket.connect(addr).await.expect("connect")
}

/// Everything the server writes until it closes the connection or is quiet for `quiet`.
///
/// # Panics
///
/// If the socket fails with anything but a reset.
pub async fn read_until_quiet(socket: &mut TcpStream, quiet: Duration) -> Vec<u8> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match timeout(quiet, socket.read(&mut buf)).await {
            Err(_) | Ok(Ok(0)) => return raw,
            Ok(Ok(n)) => raw.extend_from_slice(&buf[..n]),
            Ok(Err(err)) if err.kind() == std::io::ErrorKind::ConnectionReset => return raw,
            Ok(Err(err)) => panic!("read failed: {err}"),
        }
    }
}

/// Whether the server closes the connection (end of stream or reset) within `wait`, reading
/// and discarding whatever it writes meanwhile.
pub async fn closed_within(socket: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, socket.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

/// The status codes of the HTTP/1.1 response heads in `raw`, in order (interim ones too).
#[must_use]
pub fn status_lines(raw: &[u8]) -> Vec<u16> {
    let text = String::from_utf8_lossy(raw);
    text.match_indices("HTTP/1.1 ")
        .filter(|(at, _)| *at == 0 || text[..*at].ends_with('\n'))
        .filter_map(|(at, _)| text[at + 9..].get(..3)?.parse().ok())
        .collect()
}

/// A stream subscribed to `topic` alone (opened, `PB_CONNECT` read, `POST`ed).
///
/// # Panics
///
/// As [`SseStream::open`], or if the subscription is refused.
pub async fn subscribed_to(addr: SocketAddr, topic: &str) -> SseStream {
    let mut stream = SseStream::open(addr, &[]).await;
    let id = stream.client_id().await;
    let body = format!(r#"{{"clientId":"{id}","subscriptions":["{topic}"]}}"#);
    let response = post_realtime(addr, &body, None).await;
    assert_eq!(response.status, 204, "{}", response.text());
    stream
}
