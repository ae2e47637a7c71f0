//! The one outbound HTTP policy for every URL that someone other than the operator hands the relay:
//! Web Push endpoints (a visitor's browser), the bot webhook (an admin), media download links (the
//! platform). Without it the relay is a proxy into its own network: a visitor could make it POST to
//! `http://169.254.169.254/…` or to a database's admin port on localhost.
//!
//! - **https only**; `http://` only with `--outbound-allow-http` (tests and the demo).
//! - **No internal addresses**: loopback, private (RFC 1918, `fc00::/7`), link-local (incl. the cloud
//!   metadata address 169.254.169.254), CGNAT, unspecified, multicast, broadcast, reserved and
//!   documentation ranges, and IPv6 forms that embed such an IPv4 address, are refused. A literal IP
//!   is checked before the request; a host name is checked **after** DNS resolution, in the
//!   client's own resolver ([`Guard`]), so the addresses checked are the addresses connected to
//!   (no window between check and connect for a rebinding DNS to use). `--outbound-allow-net CIDR`
//!   lets chosen networks through (127.0.0.0/8 for the local stand-ins in tests and the demo, or a
//!   company's internal bot).
//! - **No redirects** (a 3xx is [`OutboundError::Redirected`]), no proxy from the environment,
//!   short timeouts, a bounded number of requests under way at once. Nobody's answer body is read
//!   but a media download's, which streams to a file capped at the attachment limit.
//!
//! Operator-configured URLs (the Graph API base, the SMTP server) do not go through here.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Connecting (TCP and TLS) may take this long.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// A whole request (and each read of a longer download) may take this long.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Outbound requests under way at once, by default.
pub const DEFAULT_MAX_REQUESTS: usize = 32;
/// A request waits this long at most for a place among those under way.
const QUEUE_WAIT: Duration = Duration::from_secs(30);

/// What the operator allows beyond the default (https to public addresses only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundConfig {
    /// Also `http://` URLs: for tests and the demo, whose stand-ins speak plain HTTP.
    pub allow_http: bool,
    /// Networks reachable although they are private or local (127.0.0.0/8 in tests and the demo).
    pub allow_nets: Vec<IpNet>,
    /// Outbound requests under way at once; more wait for a place.
    pub max_requests: usize,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        OutboundConfig { allow_http: false, allow_nets: Vec::new(), max_requests: DEFAULT_MAX_REQUESTS }
    }
}

impl OutboundConfig {
    /// For tests and the demo: plain HTTP to stand-ins on this machine (127.0.0.0/8).
    pub fn local_stand_ins() -> Self {
        OutboundConfig { allow_http: true, allow_nets: vec![loopback_v4()], ..OutboundConfig::default() }
    }

    /// Whether a request may connect to `ip`.
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.allow_nets.iter().any(|net| net.contains(&ip)) || !is_internal(ip)
    }
}

fn loopback_v4() -> IpNet {
    IpNet::V4(ipnet::Ipv4Net::new(Ipv4Addr::new(127, 0, 0, 0), 8).expect("a valid prefix"))
}

/// Why an outbound request was not made or did not succeed. The texts are plain words that
/// say nothing secret (never a URL's path or query, which may carry a token).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    #[error("it is not a URL the relay can fetch")]
    NotAUrl,
    #[error("{0}:// URLs are not fetched; only https:// is")]
    SchemeNotAllowed(String),
    #[error("it points at {0}, a private, local or reserved address, which the relay does not reach")]
    ForbiddenAddress(IpAddr),
    #[error("its host name has no address")]
    NoAddress,
    #[error("timed out")]
    Timeout,
    /// "connection failed", "network error".
    #[error("{0}")]
    Unreachable(&'static str),
    #[error("it answered with a redirect (HTTP {0}), which the relay does not follow")]
    Redirected(u16),
    #[error("too many outbound requests are under way; try again later")]
    Busy,
}

impl OutboundError {
    /// The policy refuses this URL itself: asking again will not help.
    pub fn is_refusal(&self) -> bool {
        matches!(self, OutboundError::NotAUrl | OutboundError::SchemeNotAllowed(_) | OutboundError::ForbiddenAddress(_))
    }
}

/// The policy, its HTTP client and the places for requests under way. One per relay (in `AppState`).
pub struct Outbound {
    config: Arc<OutboundConfig>,
    client: reqwest::Client,
    places: Arc<Semaphore>,
}

impl Outbound {
    pub fn new(config: OutboundConfig) -> Outbound {
        if config.allow_http || !config.allow_nets.is_empty() {
            let nets: Vec<String> = config.allow_nets.iter().map(ToString::to_string).collect();
            tracing::warn!(allow_http = config.allow_http, allow_nets = %nets.join(", "), "outbound requests for visitors, admins and platforms may reach more than public https addresses");
        }
        let config = Arc::new(config);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .https_only(!config.allow_http)
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(TIMEOUT)
            .timeout(TIMEOUT)
            .dns_resolver(Arc::new(Guard { config: config.clone() }))
            .user_agent(concat!("confab-relay/", env!("CARGO_PKG_VERSION")))
            .build()
            // Only a TLS backend that cannot start fails here; running without the policy is no option.
            .expect("the outbound HTTP client builds");
        let places = Arc::new(Semaphore::new(config.max_requests.max(1)));
        Outbound { config, client, places }
    }

    pub fn config(&self) -> &OutboundConfig {
        &self.config
    }

    /// Whether the policy could ever fetch `url`: its scheme, and its host when that is a literal
    /// IP. Host names are checked at each request, after resolution.
    pub fn check_url(&self, url: &str) -> Result<url::Url, OutboundError> {
        let url = url::Url::parse(url).map_err(|_| OutboundError::NotAUrl)?;
        match url.scheme() {
            "https" => {}
            "http" if self.config.allow_http => {}
            other => return Err(OutboundError::SchemeNotAllowed(other.to_owned())),
        }
        let ip = match url.host() {
            None => return Err(OutboundError::NotAUrl),
            Some(url::Host::Domain(_)) => None,
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        };
        match ip {
            Some(ip) if !self.config.allows(ip) => Err(OutboundError::ForbiddenAddress(ip)),
            _ => Ok(url),
        }
    }

    /// Make one request under the policy. `build` adds headers, a body, or a longer total timeout
    /// for a large download. A 3xx answer is [`OutboundError::Redirected`].
    pub async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<Response, OutboundError> {
        let url = self.check_url(url)?;
        let place = match tokio::time::timeout(QUEUE_WAIT, self.places.clone().acquire_owned()).await {
            Ok(Ok(place)) => place,
            _ => return Err(OutboundError::Busy),
        };
        let response = build(self.client.request(method, url)).send().await.map_err(|e| classify(&e))?;
        let status = response.status();
        if status.is_redirection() {
            return Err(OutboundError::Redirected(status.as_u16()));
        }
        Ok(Response { inner: response, _place: place })
    }
}

/// An answer; the request's place is held until the body is read or dropped.
pub struct Response {
    inner: reqwest::Response,
    _place: OwnedSemaphorePermit,
}

impl Response {
    pub fn status(&self) -> reqwest::StatusCode {
        self.inner.status()
    }

    pub fn content_length(&self) -> Option<u64> {
        self.inner.content_length()
    }

    /// The next piece of the body (None at its end); the caller counts what it keeps.
    pub async fn chunk(&mut self) -> Result<Option<axum::body::Bytes>, OutboundError> {
        self.inner.chunk().await.map_err(|e| classify(&e))
    }
}

/// What went wrong, from reqwest's error: the policy's own refusal when the resolver gave one.
fn classify(e: &reqwest::Error) -> OutboundError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(refusal) = err.downcast_ref::<OutboundError>() {
            return refusal.clone();
        }
        source = err.source();
    }
    if e.is_timeout() {
        OutboundError::Timeout
    } else if e.is_connect() {
        OutboundError::Unreachable("connection failed")
    } else {
        OutboundError::Unreachable("network error")
    }
}

/// The client's DNS resolver: resolves with the system's, then keeps only addresses the policy
/// allows. The connector connects to exactly what this returns.
struct Guard {
    config: Arc<OutboundConfig>,
}

impl reqwest::dns::Resolve for Guard {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let config = self.config.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = match tokio::net::lookup_host((host.as_str(), 0)).await {
                Ok(found) => found.collect(),
                Err(_) => return Err(Box::new(OutboundError::NoAddress) as Box<dyn std::error::Error + Send + Sync>),
            };
            let refused = found.iter().map(|a| a.ip()).find(|ip| !config.allows(*ip));
            let allowed: Vec<SocketAddr> = found.into_iter().filter(|a| config.allows(a.ip())).collect();
            if allowed.is_empty() {
                let why = refused.map_or(OutboundError::NoAddress, OutboundError::ForbiddenAddress);
                return Err(Box::new(why) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Whether `ip` is on a network the relay must not reach for someone else: anything but a public
/// unicast address.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_internal_v4(ip),
        IpAddr::V6(ip) => is_internal_v6(ip),
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    a == 0 // "this network", incl. 0.0.0.0
        || a == 10 // private
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
        || a == 127 // loopback
        || (a == 169 && b == 254) // link-local, incl. the metadata address 169.254.169.254
        || (a == 172 && (16..32).contains(&b)) // private
        || (a == 192 && b == 0 && (c == 0 || c == 2)) // IETF protocol assignments, TEST-NET-1
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 192 && b == 168) // private
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || a >= 224 // multicast, reserved, broadcast
}

fn is_internal_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // IPv4-mapped (::ffff:a.b.c.d) and the IPv4-translated NAT64 prefix (64:ff9b::/96) reach the
    // embedded IPv4 address: judge that.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_internal_v4(v4);
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_internal_v4(Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8));
    }
    // 6to4 (2002::/16) embeds one in bits 16..48.
    if s[0] == 0x2002 {
        return is_internal_v4(Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8));
    }
    s[..6] == [0; 6] // ::, ::1 and the deprecated IPv4-compatible ::a.b.c.d
        || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1) // local-use NAT64 64:ff9b:1::/48
        || (s[0] == 0x100 && s[1..4] == [0, 0, 0]) // discard-only 100::/64
        || (s[0] == 0x2001 && s[1] == 0) // Teredo 2001::/32 (embeds an obfuscated IPv4 address)
        || (s[0] == 0x2001 && s[1] == 0xdb8) // documentation
        || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated)
        || (s[0] & 0xff00) == 0xff00 // multicast
}

/// `--outbound-allow-net`: a CIDR (`127.0.0.0/8`, `fd00::/8`) or a single address.
pub fn parse_net(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("\"{text}\" is not a network (like 127.0.0.0/8) or an address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn internal(text: &str) -> bool {
        is_internal(text.parse().unwrap())
    }

    #[test]
    fn internal_and_reserved_addresses_are_recognised() {
        for ip in [
            "127.0.0.1", "127.255.0.9", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254",
            "169.254.0.1", "100.64.0.1", "100.127.255.255", "0.0.0.0", "0.1.2.3", "224.0.0.1", "239.255.255.250",
            "255.255.255.255", "240.0.0.1", "192.0.2.7", "198.18.0.1", "198.51.100.1", "203.0.113.9", "192.0.0.8",
            "::", "::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1", "::127.0.0.1",
            "64:ff9b::a9fe:a9fe", "64:ff9b:1::1", "2002:7f00:1::1", "2002:c0a8:101::1", "fc00::1", "fd12:3456::1",
            "fe80::1", "febf::1", "fec0::1", "ff02::1", "ff05::2", "2001:db8::1", "2001:0:4136:e378::1", "100::1",
        ] {
            assert!(internal(ip), "{ip} is internal");
        }
        for ip in [
            "8.8.8.8", "1.1.1.1", "172.15.255.255", "172.32.0.1", "100.63.255.255", "100.128.0.1", "169.253.1.1",
            "192.167.1.1", "11.0.0.1", "142.250.74.110", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1",
            "2606:4700:4700::1111", "2a00:1450:4007:80f::200a", "2001:4860::8888",
        ] {
            assert!(!internal(ip), "{ip} is public");
        }
    }

    #[test]
    fn only_https_to_public_addresses_by_default() {
        let strict = Outbound::new(OutboundConfig::default());
        assert!(strict.check_url("https://fcm.googleapis.com/fcm/send/abc").is_ok());
        assert!(strict.check_url("https://localhost:8443/x").is_ok(), "host names are judged after resolution");
        assert_eq!(strict.check_url("http://push.example/x"), Err(OutboundError::SchemeNotAllowed("http".into())));
        assert_eq!(strict.check_url("ftp://push.example/x"), Err(OutboundError::SchemeNotAllowed("ftp".into())));
        assert_eq!(strict.check_url("not a url"), Err(OutboundError::NotAUrl));
        let metadata: IpAddr = "169.254.169.254".parse().unwrap();
        assert_eq!(strict.check_url("https://169.254.169.254/latest/meta-data"), Err(OutboundError::ForbiddenAddress(metadata)));
        // Other spellings of an IPv4 address are still that address.
        assert_eq!(strict.check_url("https://2852039166/"), Err(OutboundError::ForbiddenAddress(metadata)));
        assert_eq!(strict.check_url("https://0xa9.0xfe.0xa9.0xfe/"), Err(OutboundError::ForbiddenAddress(metadata)));
        assert!(matches!(strict.check_url("https://[::ffff:7f00:1]/"), Err(OutboundError::ForbiddenAddress(_))));
        assert!(matches!(strict.check_url("https://[fd00::5]:8080/"), Err(OutboundError::ForbiddenAddress(_))));
        assert!(matches!(strict.check_url("https://10.0.0.8/hook"), Err(OutboundError::ForbiddenAddress(_))));
    }

    #[test]
    fn the_operator_lets_chosen_networks_through() {
        let local = Outbound::new(OutboundConfig::local_stand_ins());
        assert!(local.check_url("http://127.0.0.1:9000/push/1").is_ok());
        assert!(matches!(local.check_url("http://10.0.0.1/"), Err(OutboundError::ForbiddenAddress(_))), "only 127.0.0.0/8");
        let company = OutboundConfig { allow_nets: vec![parse_net("10.1.2.0/24").unwrap()], ..OutboundConfig::default() };
        assert!(company.allows("10.1.2.9".parse().unwrap()));
        assert!(!company.allows("10.1.3.9".parse().unwrap()));
        assert_eq!(parse_net("192.168.0.7").unwrap().to_string(), "192.168.0.7/32");
        assert!(parse_net("nonsense").unwrap_err().contains("nonsense"));
    }

    #[tokio::test]
    async fn a_host_name_that_resolves_to_loopback_is_refused_before_connecting() {
        let strict = Outbound::new(OutboundConfig { allow_http: true, ..OutboundConfig::default() });
        let refused = strict.send(reqwest::Method::GET, "http://localhost:9/", |r| r).await.err().expect("refused");
        assert!(matches!(refused, OutboundError::ForbiddenAddress(ip) if ip.is_loopback()), "{refused:?}");
        assert!(refused.is_refusal());
    }
}
