//! Who a request comes from when it reaches the server through reverse proxies: the socket
//! peer, unless that peer is a proxy the application trusts, whose forwarding header then
//! names the client. Nothing here knows about streams or connections.

mod hops;
mod network;

use std::net::IpAddr;

use http::HeaderMap;
use http::header::{FORWARDED, HeaderName};

use self::hops::{Hop, Hops};
use self::network::Network;
pub use self::network::TrustedProxyError;

/// The reverse proxies whose forwarding header names the client, set with
/// [`Builder::trusted_proxies`](crate::Builder::trusted_proxies). It decides
/// [`Client::remote_ip`](crate::Client::remote_ip), the address `POST /api/realtime` must come
/// from (PocketBase's same-address check), and the address the per-address limits count.
///
/// By default no proxy is trusted: the client is the socket peer and forwarding headers are
/// ignored. With a list, a request whose peer is not in it is still taken from the peer, and
/// its headers ignored (anyone can send them). From a listed peer, the header's hops are read
/// from the right, the end each proxy appends to, past every trusted hop: the first one that
/// is not trusted is the client, because no proxy of yours vouches for anything left of it.
/// (PocketBase's `trustedProxy` reads the rightmost address too, unless `useLeftmostIP`.)
/// When every hop is trusted, the leftmost is the client (a client inside your own network).
/// A hop that hides its address (`unknown`, `_obfuscated`), a malformed header, and a header
/// longer than 8 KiB or 64 hops before the client's hop is found all leave the request with
/// its peer.
///
/// Trust exactly the addresses your proxies connect from, and read only the one header they
/// set: a header a proxy passes through unchanged is the client's to write.
///
/// ```
/// use axum_realtime::{ForwardedHeader, Realtime, TrustedProxies};
///
/// // nginx on the same host, and a load balancer in the private network.
/// let proxies = TrustedProxies::new(["127.0.0.1", "::1", "10.0.0.0/8"])?
///     .header(ForwardedHeader::XForwardedFor);
/// let rt = Realtime::builder().trusted_proxies(proxies).build();
///
/// // The resolution itself, for routes of your own:
/// let proxies = TrustedProxies::new(["127.0.0.1"])?;
/// let mut headers = axum::http::HeaderMap::new();
/// headers.insert("x-forwarded-for", "1.2.3.4, 203.0.113.7".parse().unwrap());
/// let peer = "127.0.0.1".parse().unwrap();
/// assert_eq!(proxies.client_address(peer, &headers).to_string(), "203.0.113.7");
/// # drop(rt);
/// # Ok::<(), axum_realtime::TrustedProxyError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    networks: Vec<Network>,
    header: ForwardedHeader,
}

/// The header a trusted proxy names the client in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (nginx's `$proxy_add_x_forwarded_for`,
    /// haproxy's `option forwardfor`, most load balancers). The default.
    #[default]
    XForwardedFor,
    /// RFC 7239's `Forwarded: for=192.0.2.60;proto=https, for="[2001:db8::1]:4711"`.
    Forwarded,
    /// `X-Real-IP: client` (nginx's `proxy_set_header X-Real-IP $remote_addr`). Read as a
    /// list like the others, so a chain of proxies that each set it still resolves.
    XRealIp,
}

impl ForwardedHeader {
    fn name(self) -> HeaderName {
        match self {
            Self::XForwardedFor => HeaderName::from_static("x-forwarded-for"),
            Self::Forwarded => FORWARDED,
            Self::XRealIp => HeaderName::from_static("x-real-ip"),
        }
    }
}

impl TrustedProxies {
    /// Trusts the peers in `entries`, each an address (`127.0.0.1`, `::1`) or a CIDR network
    /// (`10.0.0.0/8`, `fd00::/8`), and reads [`ForwardedHeader::XForwardedFor`]. An
    /// IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) is matched as its IPv4 address.
    ///
    /// # Errors
    ///
    /// The first entry that is neither an address nor a network.
    pub fn new<I>(entries: I) -> Result<Self, TrustedProxyError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let networks = entries
            .into_iter()
            .map(|entry| Network::parse(entry.as_ref()))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            networks,
            header: ForwardedHeader::default(),
        })
    }

    /// Reads `header` instead of `X-Forwarded-For`.
    #[must_use]
    pub fn header(mut self, header: ForwardedHeader) -> Self {
        self.header = header;
        self
    }

    /// Whether `ip` is one of the trusted proxies.
    #[must_use]
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.networks.iter().any(|network| network.contains(ip))
    }

    /// The client's address of a request that came from the socket peer `peer` with
    /// `headers`, as described on [`TrustedProxies`].
    #[must_use]
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.is_trusted(peer) {
            return peer;
        }
        let mut leftmost_trusted = None;
        for hop in Hops::new(headers.get_all(self.header.name()).iter(), self.header) {
            match hop {
                Hop::Addr(ip) if self.is_trusted(ip) => leftmost_trusted = Some(ip),
                Hop::Addr(ip) => return ip,
                Hop::Hidden | Hop::Malformed => return peer,
            }
        }
        leftmost_trusted.unwrap_or(peer)
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn headers(name: &str, lines: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for line in lines {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(line).unwrap(),
            );
        }
        map
    }

    fn local() -> TrustedProxies {
        TrustedProxies::new(["127.0.0.1", "10.0.0.0/8"]).unwrap()
    }

    #[test]
    fn nothing_is_trusted_by_default() {
        let map = headers("x-forwarded-for", &["203.0.113.7"]);
        let none = TrustedProxies::default();
        assert_eq!(none.client_address(ip("127.0.0.1"), &map), ip("127.0.0.1"));
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_says() {
        let map = headers("x-forwarded-for", &["203.0.113.7, 127.0.0.1"]);
        assert_eq!(
            local().client_address(ip("192.0.2.1"), &map),
            ip("192.0.2.1")
        );
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let proxies = local();
        let peer = ip("127.0.0.1");
        for (line, client) in [
            ("203.0.113.7", "203.0.113.7"),
            ("203.0.113.7, 127.0.0.1", "203.0.113.7"),
            ("1.2.3.4, 203.0.113.7", "203.0.113.7"),
            ("1.2.3.4, 203.0.113.7, 10.1.1.1, 10.2.2.2", "203.0.113.7"),
            // Every hop trusted: the leftmost is a client of the private network.
            ("10.9.9.9, 10.1.1.1", "10.9.9.9"),
            // Nothing left of the trusted hops vouches for a hidden or malformed hop.
            ("1.2.3.4, unknown, 10.1.1.1", "127.0.0.1"),
            ("1.2.3.4, garbage, 10.1.1.1", "127.0.0.1"),
            ("garbage, 203.0.113.7", "203.0.113.7"),
            ("", "127.0.0.1"),
        ] {
            let map = headers("x-forwarded-for", &[line]);
            assert_eq!(proxies.client_address(peer, &map), ip(client), "{line}");
        }
        assert_eq!(
            proxies.client_address(peer, &HeaderMap::new()),
            peer,
            "no header"
        );
    }

    #[test]
    fn only_the_chosen_header_is_read() {
        let mut map = headers("x-real-ip", &["198.51.100.2"]);
        map.append(
            FORWARDED,
            HeaderValue::from_static("for=\"[2001:db8::1]:4711\""),
        );
        map.append("x-forwarded-for", HeaderValue::from_static("203.0.113.7"));
        let peer = ip("127.0.0.1");
        assert_eq!(local().client_address(peer, &map), ip("203.0.113.7"));
        let forwarded = local().header(ForwardedHeader::Forwarded);
        assert_eq!(forwarded.client_address(peer, &map), ip("2001:db8::1"));
        let real_ip = local().header(ForwardedHeader::XRealIp);
        assert_eq!(real_ip.client_address(peer, &map), ip("198.51.100.2"));
    }

    #[test]
    fn a_mapped_peer_is_matched_as_v4() {
        let map = headers("x-forwarded-for", &["203.0.113.7"]);
        assert_eq!(
            local().client_address(ip("::ffff:127.0.0.1"), &map),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn a_huge_header_is_cut_short() {
        // 1 MiB of trusted hops: the bound stops the walk long before the forged client.
        let line = format!("1.2.3.4{}", ", 10.0.0.1".repeat((1 << 20) / 10));
        let map = headers("x-forwarded-for", &[&line]);
        assert_eq!(
            local().client_address(ip("127.0.0.1"), &map),
            ip("127.0.0.1")
        );
    }
}
