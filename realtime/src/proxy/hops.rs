//! The hops a forwarding header lists, read from the right (the hop the nearest proxy added)
//! and within a bound: at most [`MAX_BYTES`] of the header and [`MAX_HOPS`] hops are looked
//! at, so a crafted header costs no more than a short one.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str;

use http::HeaderValue;
use http::header::ValueIter;

use super::ForwardedHeader;

/// How many bytes of a header (all its lines together, from the right) are looked at.
pub(crate) const MAX_BYTES: usize = 8 * 1024;
/// How many hops are looked at, from the right.
pub(crate) const MAX_HOPS: usize = 64;

/// One hop of a forwarding header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hop {
    /// The address a proxy received the request from (v4-mapped v6 taken as v4).
    Addr(IpAddr),
    /// A hop that hides its address: RFC 7239's `unknown` or an obfuscated `_name`, or a
    /// `Forwarded` element without `for=`.
    Hidden,
    /// Not a hop of this header's syntax, or past the bound: nothing further left is read.
    Malformed,
}

/// The hops of one header, rightmost first; a [`Hop::Malformed`] is the last item.
pub(crate) struct Hops<'a> {
    lines: std::iter::Rev<ValueIter<'a, HeaderValue>>,
    header: ForwardedHeader,
    /// What is left to read of the current line, and whether it was cut to the byte bound
    /// (its leftmost piece is then only part of a hop).
    line: Option<(&'a [u8], bool)>,
    remaining_bytes: usize,
    hop_budget: usize,
    done: bool,
}

impl<'a> Hops<'a> {
    /// The hops of `lines` (a header's values in the order received, joined as one list).
    pub(crate) fn new(lines: ValueIter<'a, HeaderValue>, header: ForwardedHeader) -> Self {
        Self {
            lines: lines.rev(),
            header,
            line: None,
            remaining_bytes: MAX_BYTES,
            hop_budget: MAX_HOPS,
            done: false,
        }
    }

    /// The next line from the right, within what is left of the byte bound: the line, and
    /// whether it was cut to fit.
    fn next_line(&mut self) -> Option<Result<(&'a [u8], bool), ()>> {
        let line = self.lines.next()?.as_bytes();
        if line.len() <= self.remaining_bytes {
            self.remaining_bytes -= line.len();
            return Some(Ok((line, false)));
        }
        if self.remaining_bytes == 0 {
            return Some(Err(()));
        }
        let window = &line[line.len() - self.remaining_bytes..];
        self.remaining_bytes = 0;
        Some(Ok((window, true)))
    }

    /// The next non-empty element from the right (empty list elements are ignored, as
    /// RFC 9110 §5.6.1 asks), as text, or why there is none.
    fn next_element(&mut self) -> Option<Result<&'a [u8], ()>> {
        loop {
            let (rest, cut) = match self.line.take() {
                Some(line) => line,
                None => match self.next_line()? {
                    Ok(line) => line,
                    Err(()) => return Some(Err(())),
                },
            };
            let quoted = self.header == ForwardedHeader::Forwarded;
            let Ok((before, element)) = split_last(rest, b',', quoted) else {
                return Some(Err(()));
            };
            match before {
                Some(before) => self.line = Some((before, cut)),
                // The leftmost piece of a cut line is only the end of an element.
                None if cut => return Some(Err(())),
                None => {}
            }
            let element = element.trim_ascii();
            if !element.is_empty() {
                return Some(Ok(element));
            }
        }
    }
}

impl Iterator for Hops<'_> {
    type Item = Hop;

    fn next(&mut self) -> Option<Hop> {
        if self.done {
            return None;
        }
        let hop = match self.next_element()? {
            Ok(_) if self.hop_budget == 0 => Hop::Malformed,
            Ok(element) => {
                self.hop_budget -= 1;
                match self.header {
                    ForwardedHeader::Forwarded => forwarded_element(element),
                    ForwardedHeader::XForwardedFor | ForwardedHeader::XRealIp => {
                        node(element).unwrap_or(Hop::Malformed)
                    }
                }
            }
            Err(()) => Hop::Malformed,
        };
        self.done = hop == Hop::Malformed;
        Some(hop)
    }
}

/// Splits `text` at its last `separator` outside quoted strings (when `quoted`): what is before
/// it (`None` when there is no separator) and what is after. `Err` when a quoted string is
/// not closed.
fn split_last(text: &[u8], separator: u8, quoted: bool) -> Result<(Option<&[u8]>, &[u8]), ()> {
    let mut in_quotes = false;
    for at in (0..text.len()).rev() {
        match text[at] {
            b'"' if quoted && !is_escaped(text, at) => in_quotes = !in_quotes,
            byte if byte == separator && !in_quotes => {
                return Ok((Some(&text[..at]), &text[at + 1..]));
            }
            _ => {}
        }
    }
    if in_quotes { Err(()) } else { Ok((None, text)) }
}

/// Whether the byte at `at` follows an odd run of backslashes (a quoted-pair).
fn is_escaped(text: &[u8], at: usize) -> bool {
    let run = text[..at]
        .iter()
        .rev()
        .take_while(|byte| **byte == b'\\')
        .count();
    run % 2 == 1
}

/// The hop of one RFC 7239 element (`for=...;proto=...;by=...`): its `for=` node.
fn forwarded_element(element: &[u8]) -> Hop {
    let mut node_value = None;
    let mut rest = Some(element);
    while let Some(text) = rest {
        let Ok((before, pair)) = split_last(text, b';', true) else {
            return Hop::Malformed;
        };
        rest = before;
        let pair = pair.trim_ascii();
        if pair.is_empty() {
            continue;
        }
        let Some(eq) = pair.iter().position(|byte| *byte == b'=') else {
            return Hop::Malformed;
        };
        let (name, value) = (pair[..eq].trim_ascii(), pair[eq + 1..].trim_ascii());
        if name.eq_ignore_ascii_case(b"for") {
            if node_value.is_some() {
                return Hop::Malformed; // two `for=` in one element: which one is the hop?
            }
            node_value = Some(value);
        }
    }
    let Some(value) = node_value else {
        return Hop::Hidden;
    };
    let value = match value.strip_prefix(b"\"") {
        Some(inner) => match inner.strip_suffix(b"\"") {
            Some(inner) => unescape(inner),
            None => return Hop::Malformed,
        },
        None => value.to_vec(),
    };
    node(&value).unwrap_or(Hop::Malformed)
}

/// A quoted string's content without its quoted-pair backslashes.
fn unescape(inner: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(inner.len());
    let mut bytes = inner.iter();
    while let Some(&byte) = bytes.next() {
        match byte {
            b'\\' => out.extend(bytes.next()),
            _ => out.push(byte),
        }
    }
    out
}

/// A node: `unknown`, an obfuscated `_name`, or an address with an optional port (`1.2.3.4`,
/// `1.2.3.4:80`, `2001:db8::1`, `[2001:db8::1]`, `[2001:db8::1]:4711`; the port may be
/// obfuscated too). `None` when it is none of these.
fn node(text: &[u8]) -> Option<Hop> {
    let text = str::from_utf8(text).ok()?;
    if text.eq_ignore_ascii_case("unknown") || text.starts_with('_') {
        return Some(Hop::Hidden);
    }
    let addr = if let Some(bracketed) = text.strip_prefix('[') {
        let (v6, after) = bracketed.split_once(']')?;
        if !after.is_empty() {
            port(after.strip_prefix(':')?)?;
        }
        IpAddr::V6(v6.parse::<Ipv6Addr>().ok()?)
    } else if let Ok(ip) = text.parse::<IpAddr>() {
        ip
    } else {
        let (v4, after) = text.split_once(':')?;
        port(after)?;
        IpAddr::V4(v4.parse::<Ipv4Addr>().ok()?)
    };
    Some(Hop::Addr(addr.to_canonical()))
}

/// A port: digits, or an obfuscated `_name` (RFC 7239 §6.3).
fn port(text: &str) -> Option<()> {
    let valid = if let Some(name) = text.strip_prefix('_') {
        !name.is_empty()
            && name
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
    } else {
        text.parse::<u16>().is_ok() && text.bytes().all(|byte| byte.is_ascii_digit())
    };
    valid.then_some(())
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;

    use super::*;

    fn hops(header: ForwardedHeader, lines: &[&str]) -> Vec<Hop> {
        let mut map = HeaderMap::new();
        for line in lines {
            map.append("x", HeaderValue::from_str(line).unwrap());
        }
        Hops::new(map.get_all("x").iter(), header).collect()
    }

    fn addr(text: &str) -> Hop {
        Hop::Addr(text.parse().unwrap())
    }

    #[test]
    fn x_forwarded_for_is_read_from_the_right_across_lines() {
        assert_eq!(
            hops(
                ForwardedHeader::XForwardedFor,
                &["1.2.3.4, 203.0.113.7", "10.0.0.1,::1"]
            ),
            [
                addr("::1"),
                addr("10.0.0.1"),
                addr("203.0.113.7"),
                addr("1.2.3.4")
            ]
        );
    }

    #[test]
    fn ports_brackets_and_mapped_addresses() {
        assert_eq!(
            hops(
                ForwardedHeader::XForwardedFor,
                &["[2001:db8::1]:4711, 192.0.2.1:80, [::1], ::ffff:192.0.2.9"]
            ),
            [
                addr("192.0.2.9"),
                addr("::1"),
                addr("192.0.2.1"),
                addr("2001:db8::1")
            ]
        );
    }

    #[test]
    fn empty_elements_are_ignored() {
        assert_eq!(
            hops(ForwardedHeader::XForwardedFor, &[" , 1.2.3.4,, ", ""]),
            [addr("1.2.3.4")]
        );
        assert_eq!(hops(ForwardedHeader::XForwardedFor, &[""]), []);
    }

    #[test]
    fn garbage_ends_the_walk() {
        for garbage in [
            "nonsense",
            "1.2.3",
            "1.2.3.4:99999",
            "1.2.3.4:",
            "[::1",
            "[::1]x",
            "::1]",
            "fe80::1%eth0",
            "1.2.3.4 5.6.7.8",
            "unknown",
        ] {
            let line = format!("9.9.9.9, {garbage}, 203.0.113.7");
            let expected = if garbage == "unknown" {
                vec![addr("203.0.113.7"), Hop::Hidden, addr("9.9.9.9")]
            } else {
                vec![addr("203.0.113.7"), Hop::Malformed]
            };
            assert_eq!(
                hops(ForwardedHeader::XForwardedFor, &[&line]),
                expected,
                "{garbage}"
            );
        }
    }

    #[test]
    fn forwarded_takes_the_for_node_of_each_element() {
        assert_eq!(
            hops(
                ForwardedHeader::Forwarded,
                &[
                    r#"for=192.0.2.60;proto=http;by=203.0.113.43, For="[2001:db8:cafe::17]:4711""#,
                    r#"proto=https;for="198.51.100.1:_abc" ; by=_hidden"#,
                ]
            ),
            [
                addr("198.51.100.1"),
                addr("2001:db8:cafe::17"),
                addr("192.0.2.60")
            ]
        );
    }

    #[test]
    fn forwarded_hidden_nodes() {
        assert_eq!(
            hops(
                ForwardedHeader::Forwarded,
                &["for=unknown, for=_gazonk, for=\"_x\", by=10.0.0.1;proto=https"]
            ),
            [Hop::Hidden, Hop::Hidden, Hop::Hidden, Hop::Hidden]
        );
    }

    #[test]
    fn forwarded_quotes_hide_separators_and_escapes_are_undone() {
        assert_eq!(
            hops(
                ForwardedHeader::Forwarded,
                &[r#"for=1.1.1.1;ext="a, b; c\" , d", for="\[::1\]""#]
            ),
            [addr("::1"), addr("1.1.1.1")]
        );
    }

    #[test]
    fn malformed_forwarded_elements() {
        for element in [
            r#"for="[::1]"#,
            r#"for=1.1.1.1;ext="open"#,
            "for",
            "for=1.1.1.1;for=2.2.2.2",
            "for=",
            "for=[::1]:port",
            r#"for=""#,
        ] {
            assert_eq!(
                hops(ForwardedHeader::Forwarded, &[element]),
                [Hop::Malformed],
                "{element}"
            );
        }
    }

    #[test]
    fn at_most_max_hops_are_read() {
        let line = vec!["10.0.0.1"; MAX_HOPS + 10].join(",");
        let read = hops(ForwardedHeader::XForwardedFor, &[&line]);
        assert_eq!(read.len(), MAX_HOPS + 1);
        assert_eq!(read[MAX_HOPS], Hop::Malformed);
        assert!(read[..MAX_HOPS].iter().all(|hop| *hop == addr("10.0.0.1")));
    }

    #[test]
    fn at_most_max_bytes_are_read() {
        // A line cut by the bound: its leftmost piece, which looks like an address, is only
        // the end of one (`21.2.3.4`), so it is not taken.
        let long = format!("21.2.3.4{}", ",".repeat(MAX_BYTES - "1.2.3.4".len()));
        assert_eq!(
            hops(ForwardedHeader::XForwardedFor, &[&long]),
            [Hop::Malformed]
        );
        // Lines past the bound are not read at all.
        let filler = ",".repeat(MAX_BYTES - "9.9.9.9".len());
        assert_eq!(
            hops(
                ForwardedHeader::XForwardedFor,
                &["1.1.1.1", &filler, "9.9.9.9"]
            ),
            [addr("9.9.9.9"), Hop::Malformed]
        );
        // Right at the bound, everything is.
        let filler = ",".repeat(MAX_BYTES - "9.9.9.9".len() - "1.1.1.1".len());
        assert_eq!(
            hops(
                ForwardedHeader::XForwardedFor,
                &["1.1.1.1", &filler, "9.9.9.9"]
            ),
            [addr("9.9.9.9"), addr("1.1.1.1")]
        );
    }
}
