//! Who is asking: the client's IP address, and whether it reached us over https, as every limit
//! keyed on "the client" must see them.
//!
//! Without `--trusted-proxy` the client is the TCP peer and forwarding headers are ignored: anyone
//! can write `X-Forwarded-For`. From a peer inside a trusted-proxy network, `X-Forwarded-For` and
//! `Forwarded` (RFC 7239) are read from the right, skipping the addresses of trusted proxies: the
//! first other address is the one the nearest proxy saw, the leftmost ones are whatever the client
//! wrote. A proxy may write one header and pass the other through from the client untouched (nginx
//! passes `Forwarded`), so when both name a client they must agree; when they don't, or when the
//! entry that matters can't be read (`unknown`, an obfuscated name), the request is keyed by the
//! proxy's own address: a forger gains no fresh allowance, only a share of the proxy's.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use ipnet::IpNet;

use crate::error::ApiError;
use crate::state::AppState;

/// Past this many hops from the right, a forwarding header is not read further.
const MAX_HOPS: usize = 20;

/// The networks of the reverse proxies in front of the relay (`--trusted-proxy`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn new(networks: Vec<IpNet>) -> Self {
        TrustedProxies(networks.into_iter().map(|n| n.trunc()).collect())
    }

    /// Parse a comma-separated list of CIDRs or addresses (`127.0.0.1, 10.0.0.0/8, fd00::/8`).
    pub fn parse(list: &str) -> Result<Self, String> {
        let networks = list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(parse_network).collect::<Result<_, _>>()?;
        Ok(Self::new(networks))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client's IP for a request from `peer` with these headers.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.contains(peer) {
            return peer;
        }
        let xff = self.read_chain(headers, "x-forwarded-for", whole_entry);
        let fwd = self.read_chain(headers, "forwarded", forwarded_for);
        match (xff, fwd) {
            (Hop::Opaque, _) | (_, Hop::Opaque) => peer,
            (Hop::Client(a), Hop::Client(b)) if a != b => peer,
            (Hop::Client(a), _) | (_, Hop::Client(a)) => a,
            (Hop::Internal(a), _) | (_, Hop::Internal(a)) => a,
            (Hop::Absent, Hop::Absent) => peer,
        }
    }

    /// Whether a trusted proxy says the client used https (`X-Forwarded-Proto: https` or
    /// `Forwarded: proto=https`). Only decides the cookie's `Secure`; a forged claim only makes
    /// the forger's own cookie stricter.
    pub fn forwarded_https(&self, peer: IpAddr, headers: &HeaderMap) -> bool {
        if !self.contains(peer) {
            return false;
        }
        let xfp = headers
            .get_all("x-forwarded-proto")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .next()
            .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"));
        xfp || headers
            .get_all("forwarded")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split([',', ';']))
            .filter_map(|pair| pair.split_once('='))
            .any(|(k, v)| k.trim().eq_ignore_ascii_case("proto") && unquote(v).eq_ignore_ascii_case("https"))
    }

    /// Walk one header's entries from the right (several header lines count as one list).
    /// `node` picks an entry's address, or `None` for an entry that names no hop.
    fn read_chain(&self, headers: &HeaderMap, name: &str, node: fn(&str) -> Option<Option<&str>>) -> Hop {
        let mut lines = Vec::new();
        for value in headers.get_all(name) {
            let Ok(line) = value.to_str() else { return Hop::Opaque };
            lines.push(line);
        }
        if lines.is_empty() {
            return Hop::Absent;
        }
        let mut leftmost = None;
        for (hop, entry) in lines.iter().rev().flat_map(|l| l.rsplit(',')).enumerate() {
            if hop == MAX_HOPS {
                return Hop::Opaque;
            }
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            let Some(node) = node(entry) else { continue };
            let Some(ip) = node.and_then(parse_node) else { return Hop::Opaque };
            if !self.contains(ip) {
                return Hop::Client(ip);
            }
            leftmost = Some(ip);
        }
        leftmost.map_or(Hop::Absent, Hop::Internal)
    }
}

/// What one forwarding header says about the client.
#[derive(Debug, PartialEq, Eq)]
enum Hop {
    Absent,
    /// The rightmost address that is not a trusted proxy.
    Client(IpAddr),
    /// Every hop is a trusted proxy (a request from inside): the leftmost.
    Internal(IpAddr),
    /// The entry that matters is unreadable.
    Opaque,
}

/// A CIDR network or a single address (`10.0.0.0/8`, `127.0.0.1`, `fd00::/8`).
pub fn parse_network(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{s:?} is not an IP address or a CIDR network (e.g. 10.0.0.0/8)"))
}

fn whole_entry(entry: &str) -> Option<Option<&str>> {
    Some(Some(entry))
}

/// The `for=` of one `Forwarded` element (`for=192.0.2.60;proto=https;by=…`); an element
/// without one (only `proto=https`) names no hop.
fn forwarded_for(element: &str) -> Option<Option<&str>> {
    let mut pairs = element.split(';').map(|pair| pair.split_once('='));
    if pairs.clone().all(|pair| pair.is_some_and(|(k, _)| !k.trim().eq_ignore_ascii_case("for"))) {
        return None;
    }
    Some(pairs.find_map(|pair| pair.filter(|(k, _)| k.trim().eq_ignore_ascii_case("for")).map(|(_, v)| v.trim())))
}

fn unquote(v: &str) -> &str {
    let v = v.trim();
    v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v)
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`,
/// `[2001:db8::1]:4711`, quoted or not. `None` for `unknown` and obfuscated names.
fn parse_node(node: &str) -> Option<IpAddr> {
    let node = unquote(node);
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Some(rest) = node.strip_prefix('[') {
        let (ip, _port) = rest.split_once(']')?;
        return ip.parse::<Ipv6Addr>().ok().map(|ip| IpAddr::V6(ip).to_canonical());
    }
    node.parse::<SocketAddr>().ok().map(|a| a.ip().to_canonical())
}

/// Extractor: the client's IP address (see the module's doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl ClientIp {
    /// The key a per-client limit counts under: an IPv4 address, or an IPv6 address's /64 (one
    /// subscriber gets a whole /64, so counting single IPv6 addresses would give a fresh allowance
    /// per address).
    pub fn limit_key(self) -> IpAddr {
        match self.0.to_canonical() {
            IpAddr::V6(v6) => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(bits))
            }
            v4 => v4,
        }
    }
}

fn peer(parts: &Parts) -> Result<IpAddr, ApiError> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
        .ok_or_else(|| ApiError::internal("client address", "the relay was served without connect info"))
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(state.config.trusted_proxies.client_ip(peer(parts)?, &parts.headers)))
    }
}

/// Extractor: whether the browser reached the relay over https, as far as the relay can tell
/// (an https `--public-url`, or a trusted proxy's `X-Forwarded-Proto`): session cookies get
/// `Secure` then.
#[derive(Debug, Clone, Copy)]
pub struct ViaHttps(pub bool);

impl FromRequestParts<AppState> for ViaHttps {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let forwarded = state.config.trusted_proxies.forwarded_https(peer(parts)?, &parts.headers);
        Ok(ViaHttps(state.config.secure_cookies() || forwarded))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_the_headers_say() {
        let none = TrustedProxies::default();
        let h = headers(&[("x-forwarded-for", "203.0.113.9"), ("forwarded", "for=203.0.113.9;proto=https")]);
        assert_eq!(none.client_ip(ip("127.0.0.1"), &h), ip("127.0.0.1"));
        assert!(!none.forwarded_https(ip("127.0.0.1"), &h));
        let proxies = TrustedProxies::parse("10.0.0.0/8").unwrap();
        assert_eq!(proxies.client_ip(ip("192.0.2.1"), &h), ip("192.0.2.1"), "an untrusted peer");
    }

    #[test]
    fn the_rightmost_address_that_is_not_a_trusted_proxy_is_the_client() {
        let proxies = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8").unwrap();
        let peer = ip("127.0.0.1");
        let client = |v: &str| proxies.client_ip(peer, &headers(&[("x-forwarded-for", v)]));
        assert_eq!(client("203.0.113.9"), ip("203.0.113.9"));
        assert_eq!(client("6.6.6.6, 203.0.113.9, 10.1.2.3"), ip("203.0.113.9"), "spoofed left entries and a second proxy");
        assert_eq!(client("203.0.113.9:5555"), ip("203.0.113.9"));
        assert_eq!(client("[2001:db8::7]:443"), ip("2001:db8::7"));
        assert_eq!(client("10.9.9.9, 10.1.2.3"), ip("10.9.9.9"), "all trusted: the request came from inside");
        assert_eq!(client("203.0.113.9, garbage"), peer, "an unreadable nearest entry");
        let two_lines = headers(&[("x-forwarded-for", "6.6.6.6"), ("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(proxies.client_ip(peer, &two_lines), ip("203.0.113.9"));
        let long = vec!["10.0.0.1"; MAX_HOPS + 1].join(",");
        assert_eq!(client(&long), peer, "a chain too long to read");
        assert_eq!(proxies.client_ip(peer, &HeaderMap::new()), peer);
    }

    #[test]
    fn forwarded_is_read_like_x_forwarded_for_and_the_two_must_agree() {
        let proxies = TrustedProxies::parse("127.0.0.1").unwrap();
        let peer = ip("127.0.0.1");
        let client = |pairs: &[(&str, &str)]| proxies.client_ip(peer, &headers(pairs));
        assert_eq!(client(&[("forwarded", "for=6.6.6.6, for=\"[2001:db8:cafe::17]:4711\";proto=https")]), ip("2001:db8:cafe::17"));
        assert_eq!(client(&[("forwarded", "for=unknown")]), peer);
        assert_eq!(client(&[("forwarded", "garbage")]), peer);
        assert_eq!(client(&[("x-forwarded-for", "203.0.113.9"), ("forwarded", "proto=https")]), ip("203.0.113.9"), "no for=: no hop");
        // nginx appends to X-Forwarded-For and passes a client's Forwarded through.
        assert_eq!(client(&[("x-forwarded-for", "203.0.113.9"), ("forwarded", "for=6.6.6.6")]), peer);
        assert_eq!(client(&[("x-forwarded-for", "203.0.113.9"), ("forwarded", "for=203.0.113.9")]), ip("203.0.113.9"));
        assert_eq!(client(&[("x-forwarded-for", "203.0.113.9"), ("forwarded", "for=127.0.0.1")]), ip("203.0.113.9"));
    }

    #[test]
    fn https_is_believed_only_from_a_trusted_proxy() {
        let proxies = TrustedProxies::parse("127.0.0.1").unwrap();
        assert!(proxies.forwarded_https(ip("127.0.0.1"), &headers(&[("x-forwarded-proto", "https")])));
        assert!(proxies.forwarded_https(ip("127.0.0.1"), &headers(&[("forwarded", "for=192.0.2.1;proto=\"https\"")])));
        assert!(!proxies.forwarded_https(ip("127.0.0.1"), &headers(&[("x-forwarded-proto", "http")])));
        assert!(!proxies.forwarded_https(ip("127.0.0.2"), &headers(&[("x-forwarded-proto", "https")])));
    }

    #[test]
    fn ipv6_clients_are_limited_by_their_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(ClientIp(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")).limit_key(), ip("2001:db8:1:2::"));
        assert_eq!(ClientIp(ip("::ffff:192.0.2.1")).limit_key(), ip("192.0.2.1"));
        assert_eq!(ClientIp(ip("192.0.2.1")).limit_key(), ip("192.0.2.1"));
    }

    #[test]
    fn trusted_proxies_parse_cidrs_and_bare_addresses() {
        let p = TrustedProxies::parse(" 10.1.2.3/8 ,::1").unwrap();
        assert!(p.contains(ip("10.200.0.1")));
        assert!(p.contains(ip("::1")));
        assert!(p.contains(ip("::ffff:10.0.0.1")), "a mapped IPv4 peer");
        assert!(!p.contains(ip("11.0.0.1")));
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.example").is_err());
    }
}
