//! An address or CIDR network a trusted proxy sends from (`10.0.0.0/8`, `::1`), and the error
//! of an entry that is neither.

use std::fmt;
use std::net::IpAddr;

/// One entry of a trusted-proxy list: every address whose first `prefix` bits are `addr`'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    /// Parses `10.0.0.0/8`, `2001:db8::/32`, or a bare address (a network of one). Host bits
    /// past the prefix are ignored, as Go's `netip.ParsePrefix(..).Masked()` does.
    pub(crate) fn parse(entry: &str) -> Result<Self, TrustedProxyError> {
        let error = |reason| TrustedProxyError {
            entry: entry.to_owned(),
            reason,
        };
        let trimmed = entry.trim();
        let (addr, prefix) = match trimmed.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (trimmed, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| error(Reason::Address))?;
        // A v4-mapped v6 entry means the v4 address; peers are compared in that form too.
        let addr = addr.to_canonical();
        let bits = max_prefix(addr);
        let prefix = match prefix {
            None => bits,
            // Digits only: `u8::from_str` would take a leading `+`.
            Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                digits
                    .parse::<u8>()
                    .ok()
                    .filter(|prefix| *prefix <= bits)
                    .ok_or_else(|| error(Reason::Prefix))?
            }
            Some(_) => return Err(error(Reason::Prefix)),
        };
        Ok(Self { addr, prefix })
    }

    /// Whether `ip` (v4-mapped v6 taken as v4) lies in this network.
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = mask(u32::BITS, self.prefix);
                u128::from(u32::from(net)) & mask == u128::from(u32::from(ip)) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = mask(u128::BITS, self.prefix);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

fn max_prefix(addr: IpAddr) -> u8 {
    if addr.is_ipv4() { 32 } else { 128 }
}

/// The top `prefix` bits of a `width`-bit number set.
fn mask(width: u32, prefix: u8) -> u128 {
    let all = u128::MAX >> (u128::BITS - width);
    match all.checked_shr(u32::from(prefix)) {
        Some(host) => all & !host,
        None => all,
    }
}

/// A trusted-proxy entry that is neither an address nor a CIDR network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedProxyError {
    entry: String,
    reason: Reason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    Address,
    Prefix,
}

impl TrustedProxyError {
    /// The entry as it was given.
    #[must_use]
    pub fn entry(&self) -> &str {
        &self.entry
    }
}

impl fmt::Display for TrustedProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.reason {
            Reason::Address => "not an IP address",
            Reason::Prefix => "not a prefix length of its address family",
        };
        write!(
            f,
            "trusted proxy {:?}: {what} (expected an address or a network such as 10.0.0.0/8)",
            self.entry
        )
    }
}

impl std::error::Error for TrustedProxyError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn networks_contain_their_addresses_only() {
        let net = Network::parse("10.0.0.0/8").unwrap();
        assert!(net.contains(ip("10.0.0.0")));
        assert!(net.contains(ip("10.255.255.255")));
        assert!(!net.contains(ip("11.0.0.0")));
        assert!(!net.contains(ip("9.255.255.255")));
        assert!(
            !net.contains(ip("::a00:1")),
            "no v6 address is in a v4 network"
        );

        let net = Network::parse("192.168.1.77/28").unwrap();
        assert!(net.contains(ip("192.168.1.64")) && net.contains(ip("192.168.1.79")));
        assert!(!net.contains(ip("192.168.1.80")) && !net.contains(ip("192.168.1.63")));

        let net = Network::parse("2001:db8::/32").unwrap();
        assert!(net.contains(ip("2001:db8:ffff::1")));
        assert!(!net.contains(ip("2001:db9::1")));
        assert!(!net.contains(ip("32.1.13.184")));

        let net = Network::parse("fe80::/10").unwrap();
        assert!(net.contains(ip("febf::1")) && !net.contains(ip("fec0::1")));
    }

    #[test]
    fn bare_addresses_and_extreme_prefixes() {
        let one = Network::parse(" 127.0.0.1 ").unwrap();
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        let one = Network::parse("::1").unwrap();
        assert!(one.contains(ip("::1")) && !one.contains(ip("::2")));
        assert!(!one.contains(ip("127.0.0.1")));

        let all = Network::parse("0.0.0.0/0").unwrap();
        assert!(all.contains(ip("1.2.3.4")) && all.contains(ip("255.255.255.255")));
        assert!(!all.contains(ip("::1")));
        let all = Network::parse("::/0").unwrap();
        assert!(all.contains(ip("::1")) && all.contains(ip("ffff::1")));

        let host = Network::parse("2001:db8::1/128").unwrap();
        assert!(host.contains(ip("2001:db8::1")) && !host.contains(ip("2001:db8::2")));
    }

    #[test]
    fn v4_mapped_addresses_are_their_v4_addresses() {
        let net = Network::parse("127.0.0.0/8").unwrap();
        assert!(net.contains(ip("::ffff:127.0.0.9")));
        let mapped = Network::parse("::ffff:10.1.2.3").unwrap();
        assert!(mapped.contains(ip("10.1.2.3")));
    }

    #[test]
    fn bad_entries_are_refused_by_name() {
        for entry in [
            "",
            "localhost",
            "10.0.0.0/",
            "10.0.0.0/33",
            "10.0.0.0/+8",
            "10.0.0.0/-1",
            "10.0.0.0/8/8",
            "::/129",
            "10.0.0.256",
            "[::1]",
            "10.0.0.1:80",
        ] {
            let err = Network::parse(entry).unwrap_err();
            assert_eq!(err.entry(), entry);
            assert!(err.to_string().contains(&format!("{entry:?}")), "{err}");
        }
    }
}
