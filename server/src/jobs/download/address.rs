//! Which addresses an output may never be fetched from: every block of IANA's IPv4 and IPv6
//! Special-Purpose Address Registries (private, loopback, link-local, shared, documentation,
//! benchmarking, reserved, protocol assignments, ...) plus multicast and broadcast. Addresses
//! that carry an IPv4 address inside (IPv4-mapped, NAT64's well-known prefix) are judged by
//! that IPv4 address; the transition prefixes that hide one (6to4, Teredo, IPv4-compatible) are
//! refused outright.
//!
//! Sources: iana.org/assignments/iana-ipv4-special-registry and iana-ipv6-special-registry.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use ipnet::{Ipv4Net, Ipv6Net};

const V4_BLOCKS: &[&str] = &[
    "0.0.0.0/8",          // "this network"
    "10.0.0.0/8",         // private
    "100.64.0.0/10",      // shared address space (carrier-grade NAT)
    "127.0.0.0/8",        // loopback
    "169.254.0.0/16",     // link-local (cloud metadata lives here)
    "172.16.0.0/12",      // private
    "192.0.0.0/24",       // IETF protocol assignments (DS-Lite, NAT64 discovery, ...)
    "192.0.2.0/24",       // documentation (TEST-NET-1)
    "192.31.196.0/24",    // AS112-v4
    "192.52.193.0/24",    // AMT
    "192.88.99.0/24",     // deprecated 6to4 relay anycast
    "192.168.0.0/16",     // private
    "192.175.48.0/24",    // direct delegation AS112
    "198.18.0.0/15",      // benchmarking
    "198.51.100.0/24",    // documentation (TEST-NET-2)
    "203.0.113.0/24",     // documentation (TEST-NET-3)
    "224.0.0.0/4",        // multicast
    "240.0.0.0/4",        // reserved for future use
    "255.255.255.255/32", // limited broadcast
];

const V6_BLOCKS: &[&str] = &[
    "::/128",            // unspecified
    "::1/128",           // loopback
    "::/96",             // IPv4-compatible (deprecated): hides an IPv4 address
    "64:ff9b:1::/48",    // local-use IPv4/IPv6 translation
    "100::/64",          // discard-only
    "100:0:0:1::/64",    // dummy prefix
    "2001::/23",         // IETF protocol assignments: Teredo, benchmarking, ORCHID, AMT, ...
    "2001:db8::/32",     // documentation
    "2002::/16",         // 6to4: hides an IPv4 address
    "2620:4f:8000::/48", // direct delegation AS112
    "3fff::/20",         // documentation
    "5f00::/16",         // SRv6 SIDs
    "fc00::/7",          // unique local
    "fe80::/10",         // link-local
    "fec0::/10",         // site-local (deprecated)
    "ff00::/8",          // multicast
];

static V4: LazyLock<Vec<Ipv4Net>> =
    LazyLock::new(|| V4_BLOCKS.iter().filter_map(|b| b.parse().ok()).collect());
static V6: LazyLock<Vec<Ipv6Net>> =
    LazyLock::new(|| V6_BLOCKS.iter().filter_map(|b| b.parse().ok()).collect());

/// NAT64's well-known prefix: the last 32 bits are the IPv4 address a translator would reach.
const NAT64: Ipv6Addr = Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0);

/// An IPv4 address carried inside an IPv6 one that reaches it: IPv4-mapped or NAT64.
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = v6.segments();
    let nat64 = NAT64.segments();
    (s[..6] == nat64[..6]).then(|| Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7])))
}

pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => V4.iter().any(|net| net.contains(&v4)),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => is_forbidden(IpAddr::V4(v4)),
            None => V6.iter().any(|net| net.contains(&v6)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forbidden(ip: &str) -> bool {
        is_forbidden(ip.parse().expect("an address"))
    }

    #[test]
    fn every_block_of_the_registries_parses() {
        assert_eq!(V4.len(), V4_BLOCKS.len());
        assert_eq!(V6.len(), V6_BLOCKS.len());
    }

    #[test]
    fn private_loopback_and_metadata_addresses_are_forbidden() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "172.16.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "fd00:ec2::254",
        ] {
            assert!(forbidden(ip), "{ip}");
        }
    }

    #[test]
    fn reserved_and_special_ipv4_ranges_are_forbidden() {
        for ip in [
            "192.0.0.170",
            "192.0.2.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "240.0.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "192.88.99.1",
        ] {
            assert!(forbidden(ip), "{ip}");
        }
    }

    #[test]
    fn an_ipv4_address_hidden_in_ipv6_is_judged_or_refused() {
        for ip in [
            "::ffff:127.0.0.1", // IPv4-mapped loopback
            "::ffff:169.254.169.254",
            "64:ff9b::7f00:1",                      // NAT64 to 127.0.0.1
            "64:ff9b::a9fe:a9fe",                   // NAT64 to 169.254.169.254
            "64:ff9b:1::1",                         // local-use NAT64
            "2002:7f00:1::1",                       // 6to4 wrapping 127.0.0.1
            "2002:5db8:d822::1",                    // 6to4 wrapping a public address: still refused
            "2001:0:4136:e378:8000:63bf:3fff:fdd2", // Teredo
            "::127.0.0.1",                          // IPv4-compatible
            "2001:db8::1",
            "3fff::1",
            "ff02::1",
        ] {
            assert!(forbidden(ip), "{ip}");
        }
    }

    #[test]
    fn public_addresses_are_allowed() {
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700::1111",
            "2a00:1450:4001::200e",
            "::ffff:93.184.216.34", // mapped public
            "64:ff9b::5db8:d822",   // NAT64 to a public address
        ] {
            assert!(!forbidden(ip), "{ip}");
        }
    }
}
