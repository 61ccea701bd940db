//! The client address a request is counted under: the socket peer, unless the peer is a
//! configured trusted proxy, in which case the nearest untrusted hop of `X-Forwarded-For`.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(IpAddr);

impl ClientAddr {
    /// Resolves the address from the peer and, only when the peer is trusted, the forwarding
    /// header. The header is read right to left: the hops nearest to us were added by proxies we
    /// trust, and the first untrusted one is the client as far as anyone can tell.
    pub fn resolve(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpNet]) -> Self {
        let peer = canonical(peer.ip());
        let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(&ip));
        if !is_trusted(peer) {
            return Self(peer);
        }
        let forwarded: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
            .map(canonical)
            .collect();
        let client = forwarded
            .iter()
            .rev()
            .copied()
            .find(|hop| !is_trusted(*hop));
        // All hops trusted (or none given): the leftmost is the best we know.
        Self(
            client
                .or_else(|| forwarded.first().copied())
                .unwrap_or(peer),
        )
    }

    pub fn ip(self) -> IpAddr {
        self.0
    }

    /// The key limits are counted under: IPv4 as is, IPv6 by its /64, since one subscriber
    /// usually holds a whole /64 and could otherwise rotate through 2^64 addresses.
    pub fn limiter_key(self) -> String {
        match self.0 {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => {
                let prefix = u128::from(v6) & (u128::MAX << 64);
                format!("{}/64", Ipv6Addr::from(prefix))
            }
        }
    }
}

impl fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// IPv4-mapped IPv6 (`::ffff:1.2.3.4`, as a dual-stack socket reports IPv4 peers) is IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", xff.parse().unwrap());
        headers
    }

    fn peer(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), 40000)
    }

    #[test]
    fn an_untrusted_peer_cannot_choose_its_address() {
        let client = ClientAddr::resolve(peer("203.0.113.9"), &headers("198.51.100.1"), &[]);
        assert_eq!(client.ip().to_string(), "203.0.113.9");
    }

    #[test]
    fn behind_a_trusted_proxy_the_nearest_untrusted_hop_counts() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let spoofed_then_real = headers("1.1.1.1, 198.51.100.7, 10.0.0.5");
        let client = ClientAddr::resolve(peer("10.0.0.2"), &spoofed_then_real, &trusted);
        assert_eq!(client.ip().to_string(), "198.51.100.7");
    }

    #[test]
    fn ipv6_is_counted_per_64_and_mapped_ipv4_is_ipv4() {
        let a = ClientAddr::resolve(peer("2001:db8:1:2:aaaa::1"), &HeaderMap::new(), &[]);
        let b = ClientAddr::resolve(peer("2001:db8:1:2:bbbb::2"), &HeaderMap::new(), &[]);
        assert_eq!(a.limiter_key(), b.limiter_key());
        assert_eq!(a.limiter_key(), "2001:db8:1:2::/64");
        let mapped = ClientAddr::resolve(peer("::ffff:192.0.2.1"), &HeaderMap::new(), &[]);
        assert_eq!(mapped.limiter_key(), "192.0.2.1");
    }
}
