//! How many commands a Redis server has run, from `INFO commandstats`, read over a raw TCP
//! connection: one inline command and its bulk reply, no client crate.
//!
//! The load generator reads it before and after the sends, so a run can say how many
//! `PUBLISH`es (and commands in all) each send cost.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The reply's longest accepted size: commandstats is a few KiB.
const MAX_REPLY: usize = 1 << 20;

/// How long one reading may take: Redis answers INFO in microseconds.
const TIMEOUT: Duration = Duration::from_secs(5);

fn invalid(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// Calls per command name (`publish`, `subscribe`, `client|setname`…) of `INFO commandstats`.
pub type Calls = BTreeMap<String, u64>;

/// The calls per command of the Redis server at `addr`, as `INFO commandstats` tells them.
/// The `INFO` itself is counted in the next reading, not this one.
///
/// # Errors
///
/// When Redis cannot be reached within 5 s, or answers with an error or something that is not
/// a bulk reply.
pub async fn command_calls(addr: SocketAddr) -> io::Result<Calls> {
    let reply = tokio::time::timeout(TIMEOUT, info_commandstats(addr))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "Redis did not answer INFO"))??;
    Ok(parse_commandstats(&reply))
}

async fn info_commandstats(addr: SocketAddr) -> io::Result<String> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(b"INFO commandstats\r\n").await?;
    let mut buf = Vec::with_capacity(4096);
    loop {
        if let Some(body) = bulk_reply(&buf)? {
            return String::from_utf8(body.to_vec()).map_err(|_| invalid("non-UTF-8 INFO"));
        }
        if buf.len() > MAX_REPLY {
            return Err(invalid("an INFO reply over 1 MiB"));
        }
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(invalid(
                "Redis closed the connection before the reply ended",
            ));
        }
    }
}

/// The body of the RESP bulk string (`$<len>\r\n<body>\r\n`) at the start of `buf`, or `None`
/// if more bytes are needed.
fn bulk_reply(buf: &[u8]) -> io::Result<Option<&[u8]>> {
    let Some(eol) = buf.windows(2).position(|w| w == b"\r\n") else {
        return Ok(None);
    };
    let header = std::str::from_utf8(&buf[..eol]).map_err(|_| invalid("a non-UTF-8 reply"))?;
    if let Some(error) = header.strip_prefix('-') {
        return Err(invalid(format!("Redis answered: {error}")));
    }
    let len: usize = header
        .strip_prefix('$')
        .and_then(|len| len.parse().ok())
        .ok_or_else(|| invalid(format!("not a bulk reply: {header:?}")))?;
    let start = eol + 2;
    if buf.len() < start + len + 2 {
        return Ok(None);
    }
    Ok(Some(&buf[start..start + len]))
}

/// The calls of every `cmdstat_<name>:calls=<n>,...` line; other lines are skipped.
#[must_use]
pub fn parse_commandstats(info: &str) -> Calls {
    info.lines()
        .filter_map(|line| {
            let (name, fields) = line.trim_end().strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = fields
                .split(',')
                .find_map(|field| field.strip_prefix("calls="))?
                .parse()
                .ok()?;
            Some((name.to_owned(), calls))
        })
        .collect()
}

/// What the sends cost Redis between two readings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PerSend {
    /// `PUBLISH` calls per send.
    pub publishes: f64,
    /// Every command per send, less the `INFO` that took the first reading.
    pub commands: f64,
}

/// The commands Redis ran from `before` to `after`, per send of `sends`; `None` without sends.
#[must_use]
pub fn per_send(before: &Calls, after: &Calls, sends: u64) -> Option<PerSend> {
    if sends == 0 {
        return None;
    }
    let delta = |name: &str| {
        after
            .get(name)
            .copied()
            .unwrap_or(0)
            .saturating_sub(before.get(name).copied().unwrap_or(0))
    };
    let total: u64 = after.keys().map(|name| delta(name)).sum();
    // The first reading's own INFO shows in the second; ours, not the sends'.
    let commands = total.saturating_sub(1);
    #[allow(clippy::cast_precision_loss, reason = "command counts far below 2^53")]
    let per = |count: u64| count as f64 / sends as f64;
    Some(PerSend {
        publishes: per(delta("publish")),
        commands: per(commands),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "# Commandstats\r\n\
        cmdstat_publish:calls=1003,usec=4012,usec_per_call=4.00,rejected_calls=0,failed_calls=0\r\n\
        cmdstat_client|setname:calls=4,usec=3,usec_per_call=0.75,rejected_calls=0,failed_calls=0\r\n\
        cmdstat_info:calls=2,usec=80,usec_per_call=40.00,rejected_calls=0,failed_calls=0\r\n\
        cmdstat_broken:usec=1\r\n\
        cmdstat_nan:calls=x,usec=1\r\n\
        used_cpu_sys:1.5\r\n";

    #[test]
    fn reads_every_command_and_its_calls() {
        let calls = parse_commandstats(INFO);
        assert_eq!(calls.len(), 3, "{calls:?}");
        assert_eq!(calls["publish"], 1003);
        assert_eq!(calls["client|setname"], 4);
        assert_eq!(calls["info"], 2);
    }

    #[test]
    fn bulk_replies_whole_partial_and_refused() {
        let reply = b"$5\r\nhello\r\n";
        assert_eq!(bulk_reply(reply).unwrap(), Some(&b"hello"[..]));
        assert_eq!(bulk_reply(&reply[..9]).unwrap(), None);
        assert_eq!(bulk_reply(b"$5").unwrap(), None);
        assert!(bulk_reply(b"-ERR unknown command\r\n").is_err());
        assert!(bulk_reply(b"+OK\r\n").is_err());
        assert_eq!(bulk_reply(b"$0\r\n\r\n").unwrap(), Some(&b""[..]));
    }

    #[test]
    fn per_send_counts_the_difference_less_our_info() {
        let before = parse_commandstats(
            "cmdstat_publish:calls=3,usec=1\r\ncmdstat_subscribe:calls=2,usec=1\r\n",
        );
        // 1,000 sends: 1,000 publishes, one INFO (the first reading), 10 pings.
        let after = parse_commandstats(
            "cmdstat_publish:calls=1003,usec=1\r\ncmdstat_subscribe:calls=2,usec=1\r\n\
             cmdstat_info:calls=1,usec=1\r\ncmdstat_ping:calls=10,usec=1\r\n",
        );
        let cost = per_send(&before, &after, 1000).unwrap();
        assert!((cost.publishes - 1.0).abs() < 1e-9, "{cost:?}");
        assert!((cost.commands - 1.01).abs() < 1e-9, "{cost:?}");
        assert_eq!(per_send(&before, &after, 0), None);
    }

    /// A real round trip over a socket: the reply arrives in pieces, as a slow server's would.
    #[tokio::test]
    async fn reads_a_reply_in_pieces() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0; 19];
            socket.read_exact(&mut request).await.unwrap();
            assert_eq!(&request, b"INFO commandstats\r\n");
            let reply = format!("${}\r\n{INFO}\r\n", INFO.len());
            let (head, tail) = reply.as_bytes().split_at(40);
            socket.write_all(head).await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
            socket.write_all(tail).await.unwrap();
        });
        let calls = command_calls(addr).await.unwrap();
        assert_eq!(calls["publish"], 1003);
        server.await.unwrap();
    }
}
