//! Where a webhook may be sent: public unicast addresses only, unless private destinations are
//! allowed. Checked on the addresses a name resolves to, and only those are connected to, so a
//! name cannot pass the check and then be re-resolved elsewhere (DNS rebinding).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Whether a delivery may connect to `address`. With `allow_private`, any unicast address
/// (loopback, private, link-local included); without, only public ones.
pub fn permitted(address: IpAddr, allow_private: bool) -> bool {
    if allow_private {
        is_unicast(address)
    } else {
        is_public(address)
    }
}

fn is_unicast(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => !(v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast()),
        IpAddr::V6(v6) => !(v6.is_unspecified() || v6.is_multicast()),
    }
}

/// Reachable on the public internet: not loopback, private, shared (carrier NAT), link-local
/// (where cloud metadata services live), reserved, documentation or multicast.
pub fn is_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(address: Ipv4Addr) -> bool {
    let [a, b, c, _] = address.octets();
    let special = a == 0 // "this network", 0.0.0.0 reaching the local host
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier NAT, some metadata services)
        || (a == 169 && b == 254) // link-local, 169.254.169.254 metadata
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // documentation
        || (a == 192 && b == 168)
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // documentation
        || (a == 203 && b == 0 && c == 113) // documentation
        || a >= 224; // multicast, reserved, broadcast
    !special
}

fn is_public_v6(address: Ipv6Addr) -> bool {
    let segments = address.segments();
    // An IPv4 address carried in IPv6 (mapped, or translated by NAT64) is judged as itself.
    if let Some(v4) = address.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded_v4(address));
    }
    if segments[0] == 0x2002 {
        // 6to4: the IPv4 address of the relay follows the prefix.
        let [_, _, a, b, c, d, ..] = address.octets();
        return is_public_v4(Ipv4Addr::new(a, b, c, d));
    }
    // Global unicast is 2000::/3; everything else (loopback, unique local fc00::/7 with its
    // fd00:ec2::254 metadata, link-local fe80::/10, multicast, ...) is not public.
    let global_unicast = segments[0] & 0xe000 == 0x2000;
    let special = match segments[0] {
        // IETF protocol assignments (Teredo among them), and documentation.
        0x2001 => segments[1] < 0x0200 || segments[1] == 0x0db8,
        // Documentation (3fff::/20).
        first => first & 0xfff0 == 0x3ff0,
    };
    global_unicast && !special
}

fn embedded_v4(address: Ipv6Addr) -> Ipv4Addr {
    let [.., a, b, c, d] = address.octets();
    Ipv4Addr::new(a, b, c, d)
}

/// A receiver's name resolved only to addresses a delivery may not connect to.
#[derive(Debug, thiserror::Error)]
#[error(
    "{host} resolves only to addresses webhooks are not sent to ({addresses}); LATCHKEY_WEBHOOK_ALLOW_PRIVATE=true allows private ones"
)]
pub struct Refused {
    pub host: String,
    pub addresses: String,
}

/// The name resolver of the webhook client: the system's, keeping only permitted addresses.
pub struct CheckedResolver {
    pub allow_private: bool,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(resolve_permitted(
            name.as_str().to_owned(),
            self.allow_private,
        ))
    }
}

async fn resolve_permitted(
    host: String,
    allow_private: bool,
) -> Result<Addrs, Box<dyn std::error::Error + Send + Sync>> {
    // Port 0: the client puts the URL's port in.
    let resolved = tokio::net::lookup_host((host.as_str(), 0)).await?;
    let (kept, refused): (Vec<SocketAddr>, Vec<SocketAddr>) =
        resolved.partition(|address| permitted(address.ip(), allow_private));
    if kept.is_empty() {
        let addresses = refused
            .iter()
            .map(|address| address.ip().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(Box::new(Refused { host, addresses }));
    }
    Ok(Box::new(kept.into_iter()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(text: &str) -> bool {
        is_public(text.parse().unwrap())
    }

    #[test]
    fn loopback_private_link_local_and_metadata_addresses_are_not_public() {
        for address in [
            "127.0.0.1",
            "127.1.2.3",
            "0.0.0.0",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.100.100.200",
            "192.0.0.192",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fe80::1",
            "fc00::1",
            "fd00:ec2::254",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2002:c0a8:101::1",
            "2001:db8::1",
            "2001::1",
        ] {
            assert!(!public(address), "{address} passed as public");
        }
    }

    #[test]
    fn public_addresses_are_public() {
        for address in [
            "1.1.1.1",
            "93.184.216.34",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
            "::ffff:1.1.1.1",
            "64:ff9b::101:101",
            "2002:101:101::1",
        ] {
            assert!(public(address), "{address} refused");
        }
    }

    #[test]
    fn allowing_private_destinations_allows_any_unicast_address() {
        for address in ["127.0.0.1", "10.0.0.1", "::1", "169.254.169.254", "1.1.1.1"] {
            assert!(permitted(address.parse().unwrap(), true), "{address}");
        }
        for address in ["0.0.0.0", "255.255.255.255", "224.0.0.1", "::", "ff02::1"] {
            assert!(!permitted(address.parse().unwrap(), true), "{address}");
        }
        assert!(!permitted("127.0.0.1".parse().unwrap(), false));
    }

    #[tokio::test]
    async fn names_that_resolve_only_to_loopback_are_refused() {
        let resolver = CheckedResolver {
            allow_private: false,
        };
        let name: Name = "localhost".parse().unwrap();
        let error = resolver.resolve(name).await.err().expect("refused");
        assert!(error.downcast_ref::<Refused>().is_some(), "{error}");

        let allowing = CheckedResolver {
            allow_private: true,
        };
        let addresses: Vec<_> = allowing
            .resolve("localhost".parse().unwrap())
            .await
            .expect("allowed")
            .collect();
        assert!(addresses.iter().all(|address| address.ip().is_loopback()));
    }
}
