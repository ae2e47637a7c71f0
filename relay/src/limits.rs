//! Limits on everything anonymous (docs/SECURITY.md, "Limits on everything anonymous"): what one
//! client IP (an IPv6 /64, see `ClientIp::limit_key`) or one visitor socket may do before the relay
//! refuses with `rate_limited` (and when to try again) or `quota_exceeded`. The defaults are far
//! above what a shop's real customers do — many of them share one IP behind a carrier's NAT — and
//! each is a flag.
//!
//! The rates are GCRA limiters from `governor`; the open-socket count is a plain counter with a
//! guard that gives the slot back when the socket ends. All of it is this node's memory: behind a
//! load balancer each node counts for itself (the multi-node issue shares them).

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Args;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

/// The flags (each also an environment variable).
#[derive(Debug, Clone, Args)]
pub struct LimitArgs {
    /// New visitors (a `hello` without a token) one client IP may start per minute.
    #[arg(long, env = "CONFAB_NEW_VISITORS_PER_MINUTE", default_value_t = 60, global = true)]
    pub new_visitors_per_minute: u32,
    /// Visitor sockets one client IP may have open at once.
    #[arg(long, env = "CONFAB_SOCKETS_PER_IP", default_value_t = 200, global = true)]
    pub sockets_per_ip: u32,
    /// Files one client IP may upload per hour.
    #[arg(long, env = "CONFAB_UPLOADS_PER_HOUR", default_value_t = 300, global = true)]
    pub uploads_per_hour: u32,
    /// Messages one visitor socket may send per second, on average (bursts of
    /// `--messages-burst` pass at once: a reconnect flushes its outbox).
    #[arg(long, env = "CONFAB_MESSAGES_PER_SECOND", default_value_t = 5, global = true)]
    pub messages_per_second: u32,
    #[arg(long, env = "CONFAB_MESSAGES_BURST", default_value_t = 30, global = true)]
    pub messages_burst: u32,
    /// Messages the visitor sockets of one client IP may send per minute together (as many pass
    /// at once): a script that opens many sockets, or many visitors, gets no more than one IP's share.
    #[arg(long, env = "CONFAB_MESSAGES_PER_IP_PER_MINUTE", default_value_t = 300, global = true)]
    pub messages_per_ip_per_minute: u32,
    /// Typing changes one visitor socket may send per second; beyond, they are dropped (never
    /// forwarded to advisors more often, whatever the client sends).
    #[arg(long, env = "CONFAB_TYPING_PER_SECOND", default_value_t = 4, global = true)]
    pub typing_per_second: u32,
    /// Milliseconds a new visitor socket has to send `hello` before it is closed.
    #[arg(long, env = "CONFAB_HELLO_TIMEOUT_MS", default_value_t = 10_000, global = true)]
    pub hello_timeout_ms: u64,
    /// Bytes of uploaded files not yet sent in a message that one visitor may hold.
    #[arg(long, env = "CONFAB_UNSENT_UPLOAD_BYTES_PER_VISITOR", default_value_t = 50_000_000, global = true)]
    pub unsent_upload_bytes_per_visitor: u64,
    /// Bytes of uploaded files not yet sent that all visitors of one site may hold.
    #[arg(long, env = "CONFAB_UNSENT_UPLOAD_BYTES_PER_SITE", default_value_t = 2_000_000_000, global = true)]
    pub unsent_upload_bytes_per_site: u64,
    /// Seconds after which a visitor who opened the chat and never wrote (nor sent a file, nor was
    /// identified by the site) is forgotten, with what they typed, their tokens and the bot's greeting.
    #[arg(long, env = "CONFAB_FORGET_SILENT_VISITORS_AFTER", default_value_t = 86_400, global = true)]
    pub forget_silent_visitors_after: u64,
}

impl Default for LimitArgs {
    fn default() -> Self {
        use clap::Parser;
        #[derive(Parser)]
        struct Defaults {
            #[command(flatten)]
            limits: LimitArgs,
        }
        Defaults::parse_from(["defaults"]).limits
    }
}

/// Past this many tracked keys, a limiter forgets the ones whose allowance is full again.
const PRUNE_AT: usize = 10_000;

pub struct Limits {
    pub config: LimitArgs,
    new_visitors: DefaultKeyedRateLimiter<IpAddr>,
    uploads: DefaultKeyedRateLimiter<IpAddr>,
    ip_messages: DefaultKeyedRateLimiter<IpAddr>,
    sockets: Mutex<HashMap<IpAddr, u32>>,
    message_quota: Quota,
    typing_quota: Quota,
}

/// Refused: try again after this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl Limits {
    pub fn new(config: LimitArgs) -> Arc<Self> {
        let n = |v: u32| NonZeroU32::new(v.max(1)).expect("at least 1");
        Arc::new(Limits {
            new_visitors: RateLimiter::keyed(Quota::per_minute(n(config.new_visitors_per_minute))),
            uploads: RateLimiter::keyed(Quota::per_hour(n(config.uploads_per_hour))),
            ip_messages: RateLimiter::keyed(Quota::per_minute(n(config.messages_per_ip_per_minute))),
            sockets: Mutex::default(),
            message_quota: Quota::per_second(n(config.messages_per_second)).allow_burst(n(config.messages_burst)),
            typing_quota: Quota::per_second(n(config.typing_per_second)),
            config,
        })
    }

    /// A visitor socket from `ip` may open: the slot is given back when the guard is dropped.
    pub fn open_socket(self: &Arc<Self>, ip: IpAddr) -> Result<SocketSlot, RetryAfter> {
        let mut sockets = self.sockets.lock().unwrap_or_else(|p| p.into_inner());
        let open = sockets.entry(ip).or_default();
        if *open >= self.config.sockets_per_ip {
            return Err(RetryAfter(Duration::from_secs(10)));
        }
        *open += 1;
        Ok(SocketSlot { limits: self.clone(), ip })
    }

    /// `ip` starts a new visitor.
    pub fn new_visitor(&self, ip: IpAddr) -> Result<(), RetryAfter> {
        keyed(&self.new_visitors, ip)
    }

    /// A visitor socket of `ip` sends a message (after its own socket's limit let it).
    pub fn message_from(&self, ip: IpAddr) -> Result<(), RetryAfter> {
        keyed(&self.ip_messages, ip)
    }

    /// `ip` uploads a file.
    pub fn upload(&self, ip: IpAddr) -> Result<(), RetryAfter> {
        keyed(&self.uploads, ip)
    }

    /// The limits of one visitor socket.
    pub fn socket(&self) -> SocketLimits {
        SocketLimits { messages: RateLimiter::direct(self.message_quota), typing: RateLimiter::direct(self.typing_quota) }
    }

    pub fn hello_timeout(&self) -> Duration {
        Duration::from_millis(self.config.hello_timeout_ms)
    }

    /// Open visitor sockets of `ip` (for tests and metrics).
    pub fn open_sockets(&self, ip: IpAddr) -> u32 {
        self.sockets.lock().unwrap_or_else(|p| p.into_inner()).get(&ip).copied().unwrap_or(0)
    }
}

fn keyed(limiter: &DefaultKeyedRateLimiter<IpAddr>, ip: IpAddr) -> Result<(), RetryAfter> {
    if limiter.len() > PRUNE_AT {
        limiter.retain_recent();
    }
    limiter.check_key(&ip).map_err(|not_until| RetryAfter(not_until.wait_time_from(DefaultClock::default().now())))
}

/// Forget visitors who opened the chat and said nothing (`Store::forget_silent_visitors`): a
/// script's `hello`s leave no rows behind. Hourly (or twice per keep time, when shorter), a bounded
/// batch at a time.
pub async fn forget_silent_visitors(state: crate::state::AppState) {
    const BATCH: usize = 1_000;
    let keep = Duration::from_secs(state.limits.config.forget_silent_visitors_after.max(1));
    let mut tick = tokio::time::interval((keep / 2).min(Duration::from_secs(3600)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = state.stopping.cancelled() => return,
            _ = tick.tick() => {}
        }
        let before = crate::now_ms() - keep.as_millis() as i64;
        let online = |conversation| state.hub.visitor_online(conversation);
        let mut forgotten = 0;
        loop {
            match state.store.forget_silent_visitors(before, BATCH, &online).await {
                Ok(n) => {
                    forgotten += n;
                    if n < BATCH as u64 || state.stopping.is_cancelled() {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not forget silent visitors");
                    break;
                }
            }
        }
        if forgotten > 0 {
            tracing::info!(forgotten, "forgot visitors who opened the chat and never wrote");
        }
    }
}

/// One open visitor socket of an IP; dropping it frees the slot.
pub struct SocketSlot {
    limits: Arc<Limits>,
    ip: IpAddr,
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut sockets = self.limits.sockets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(open) = sockets.get_mut(&self.ip) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                sockets.remove(&self.ip);
            }
        }
    }
}

/// What one visitor socket may still do.
pub struct SocketLimits {
    messages: DefaultDirectRateLimiter,
    typing: DefaultDirectRateLimiter,
}

impl SocketLimits {
    /// One more message now?
    pub fn message(&self) -> Result<(), RetryAfter> {
        self.messages.check().map_err(|not_until| RetryAfter(not_until.wait_time_from(DefaultClock::default().now())))
    }

    /// One more typing change now? (Refused ones are dropped, not answered.)
    pub fn typing(&self) -> bool {
        self.typing.check().is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(edit: impl FnOnce(&mut LimitArgs)) -> Arc<Limits> {
        let mut config = LimitArgs::default();
        edit(&mut config);
        Limits::new(config)
    }

    #[test]
    fn the_defaults_are_the_flags_defaults() {
        let d = LimitArgs::default();
        assert_eq!((d.new_visitors_per_minute, d.sockets_per_ip, d.messages_per_second, d.hello_timeout_ms), (60, 200, 5, 10_000));
    }

    #[test]
    fn socket_slots_are_counted_per_ip_and_given_back() {
        let l = limits(|c| c.sockets_per_ip = 2);
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let one = l.open_socket(a).unwrap();
        let _two = l.open_socket(a).unwrap();
        assert!(l.open_socket(a).is_err());
        assert!(l.open_socket(b).is_ok(), "another IP has its own");
        drop(one);
        assert!(l.open_socket(a).is_ok());
    }

    #[test]
    fn messages_pass_in_a_burst_then_wait() {
        let l = limits(|c| {
            c.messages_per_second = 2;
            c.messages_burst = 3;
        });
        let s = l.socket();
        assert!((0..3).all(|_| s.message().is_ok()));
        let RetryAfter(wait) = s.message().unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(500), "{wait:?}");
    }

    #[test]
    fn new_visitors_are_limited_per_ip() {
        let l = limits(|c| c.new_visitors_per_minute = 2);
        let ip: IpAddr = "2001:db8::".parse().unwrap();
        assert!(l.new_visitor(ip).is_ok() && l.new_visitor(ip).is_ok());
        let RetryAfter(wait) = l.new_visitor(ip).unwrap_err();
        assert!(wait > Duration::from_secs(1), "{wait:?}");
        assert!(l.new_visitor("2001:db8:1::".parse().unwrap()).is_ok());
    }

    #[test]
    fn the_sockets_of_one_ip_share_a_message_allowance() {
        let l = limits(|c| c.messages_per_ip_per_minute = 3);
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        assert!((0..3).all(|_| l.message_from(a).is_ok()));
        let RetryAfter(wait) = l.message_from(a).unwrap_err();
        assert!(wait > Duration::from_secs(10) && wait <= Duration::from_secs(20), "{wait:?}");
        assert!(l.message_from(b).is_ok(), "another IP has its own");
    }
}
