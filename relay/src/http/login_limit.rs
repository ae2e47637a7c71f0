//! Login rate limiting: failed logins (and wrong two-factor codes) are counted in fixed windows per
//! (client, e-mail), per client, and per account (the e-mail, from any client); a client is an IPv4
//! address or an IPv6 /64 (`ClientIp::limit_key`). Past a limit, logins answer 429 `rate_limited`
//! with `Retry-After` until the window that the first failure opened ends.
//!
//! An attempt counts before the password is hashed: [`LoginLimiter::begin`] reserves a place in
//! each count atomically, so 200 concurrent guesses are refused past the limit instead of all
//! passing a check that only the finished ones update. A failure keeps its place; a success gives
//! it back and clears the (client, e-mail) count; an attempt dropped unsettled (a store error, a
//! missing two-factor code, the client gone) gives it back.
//!
//! The account count lets no botnet spread guesses over many addresses, but it also lets anyone
//! lock an advisor out by failing on purpose. So it never applies from a client (IPv4 or /64)
//! that this account logged in from during the last 30 days (the other counts still do), it blocks
//! only until its window ends (attempts while blocked don't extend it), and its answer says when
//! to try again.
//!
//! Not governor: a GCRA cell, once taken, can't be given back, so a keyed governor limiter counts
//! every attempt, successes and in-flight ones alike, where this counts failures (boinkor-net/
//! governor#211 asks for the missing check/consume split).
//!
//! The counts live in this relay node's memory: behind a load balancer each node counts on its own,
//! and a restart forgets them. That still bounds guessing to a few passwords per window per node.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::response::Response;

use crate::http::client_ip::ClientIp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    /// Failures allowed per (client, e-mail) in one window.
    pub per_client_email: u32,
    /// Failures allowed per client (any e-mail): higher, since one office can share an address.
    pub per_client: u32,
    /// Failures allowed per e-mail from clients it has not logged in from lately.
    pub per_account: u32,
    pub window: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits { per_client_email: 5, per_client: 50, per_account: 20, window: Duration::from_secs(15 * 60) }
    }
}

/// How long a successful login exempts its client from the account count.
const KNOWN_FOR: Duration = Duration::from_secs(30 * 24 * 3600);
/// Past this many counts, expired ones are dropped; past `MAX_TRACKED` live ones, logins are
/// refused (fail closed) rather than memory growing without bound.
const PRUNE_AT: usize = 10_000;
const MAX_TRACKED: usize = 100_000;
const MAX_KNOWN: usize = 10_000;
/// What a refusal because of attempts still in flight asks the client to wait.
pub const IN_FLIGHT_WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Client(IpAddr),
    ClientEmail(IpAddr, String),
    Account(String),
}

#[derive(Debug, Clone, Copy)]
struct Window {
    /// When the window's first failure happened.
    started: Instant,
    failures: u32,
    /// Attempts being checked now.
    pending: u32,
}

impl Window {
    fn live_failures(&self, now: Instant, window: Duration) -> u32 {
        if self.failures > 0 && now < self.started + window {
            self.failures
        } else {
            0
        }
    }
}

/// Why an attempt may not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Too many failures; `account` when it is the account's count (from any client).
    Blocked { wait: Duration, account: bool },
    /// As many attempts as the limit allows are being checked right now.
    InFlight,
    /// The limiter tracks as many clients as it may.
    Full,
}

impl Refusal {
    /// What the client should wait before trying again.
    pub fn wait(&self) -> Duration {
        match self {
            Refusal::Blocked { wait, .. } => *wait,
            Refusal::InFlight => IN_FLIGHT_WAIT,
            Refusal::Full => Duration::from_secs(60),
        }
    }

    /// 429 `rate_limited` with `Retry-After`; `what` names the failures ("failed logins").
    pub fn response(&self, what: &str) -> Response {
        let message = match self {
            Refusal::Blocked { wait, account: false } => {
                format!("Too many {what}. Try again in {} minute(s).", minutes(*wait))
            }
            Refusal::Blocked { wait, account: true } => format!(
                "Too many {what} for this account. Try again in {} minute(s), or from a network you logged in from before.",
                minutes(*wait)
            ),
            Refusal::InFlight => "Too many logins at once. Try again in a few seconds.".to_owned(),
            Refusal::Full => "Logins are paused after too many failures. Try again in a minute.".to_owned(),
        };
        crate::error::rate_limited(self.wait(), message)
    }
}

fn minutes(wait: Duration) -> u64 {
    wait.as_secs().max(1).div_ceil(60)
}

#[derive(Debug, Default)]
struct Table {
    windows: HashMap<Key, Window>,
    /// (client, e-mail) → when that e-mail last logged in from that client.
    known: HashMap<(IpAddr, String), Instant>,
}

#[derive(Debug, Default)]
pub struct LoginLimiter {
    limits: LoginLimits,
    table: Mutex<Table>,
}

impl LoginLimiter {
    pub fn new(limits: LoginLimits) -> Self {
        LoginLimiter { limits, table: Mutex::default() }
    }

    fn limit(&self, key: &Key) -> u32 {
        match key {
            Key::Client(_) => self.limits.per_client,
            Key::ClientEmail(..) => self.limits.per_client_email,
            Key::Account(_) => self.limits.per_account,
        }
    }

    /// Reserve a place in every count for an attempt by `client` on `email`, or say why not.
    pub fn begin(self: &Arc<Self>, client: ClientIp, email: &str, now: Instant) -> Result<Attempt, Refusal> {
        let (net, email) = (client.limit_key(), normalize(email));
        let window = self.limits.window;
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let known = table.known.get(&(net, email.clone())).is_some_and(|at| now < *at + KNOWN_FOR);
        let mut keys = vec![Key::ClientEmail(net, email.clone()), Key::Client(net)];
        if !known {
            keys.push(Key::Account(email.clone()));
        }
        let mut blocked: Option<(Duration, bool)> = None;
        let mut in_flight = false;
        for key in &keys {
            let Some(w) = table.windows.get(key) else { continue };
            let (failures, limit) = (w.live_failures(now, window), self.limit(key));
            if failures >= limit {
                let wait = w.started + window - now;
                if blocked.is_none_or(|(longest, _)| wait > longest) {
                    blocked = Some((wait, matches!(key, Key::Account(_))));
                }
            } else if failures + w.pending >= limit {
                in_flight = true;
            }
        }
        if let Some((wait, account)) = blocked {
            return Err(Refusal::Blocked { wait, account });
        }
        if in_flight {
            return Err(Refusal::InFlight);
        }
        if table.windows.len() + keys.len() > PRUNE_AT {
            table.windows.retain(|_, w| w.pending > 0 || w.live_failures(now, window) > 0);
            if table.windows.len() + keys.len() > MAX_TRACKED {
                tracing::warn!(tracked = table.windows.len(), "login limiter full; refusing logins until counts expire");
                return Err(Refusal::Full);
            }
        }
        for key in &keys {
            let w = table.windows.entry(key.clone()).or_insert(Window { started: now, failures: 0, pending: 0 });
            w.pending += 1;
        }
        drop(table);
        Ok(Attempt { limiter: self.clone(), net, email, keys, settled: false })
    }

    /// Give back an attempt's places; `outcome` says what else it leaves behind.
    fn settle(&self, attempt: &Attempt, outcome: Outcome, now: Instant) {
        let window = self.limits.window;
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        for key in &attempt.keys {
            let Some(w) = table.windows.get_mut(key) else { continue };
            w.pending = w.pending.saturating_sub(1);
            match outcome {
                Outcome::Failed if w.live_failures(now, window) == 0 => {
                    w.started = now;
                    w.failures = 1;
                }
                Outcome::Failed => w.failures += 1,
                Outcome::Succeeded if matches!(key, Key::ClientEmail(..)) => w.failures = 0,
                Outcome::Succeeded | Outcome::Released => {}
            }
            if outcome == Outcome::Failed && w.failures == self.limit(key) {
                let scope = match key {
                    Key::Client(_) => "client",
                    Key::ClientEmail(..) => "client and e-mail",
                    Key::Account(_) => "account",
                };
                tracing::warn!(client = %attempt.net, scope, "login limit reached; logins wait until the window ends");
            }
            if w.pending == 0 && w.live_failures(now, window) == 0 {
                table.windows.remove(key);
            }
        }
        if outcome == Outcome::Succeeded {
            if table.known.len() >= MAX_KNOWN {
                table.known.retain(|_, at| now < *at + KNOWN_FOR);
            }
            if table.known.len() < MAX_KNOWN {
                table.known.insert((attempt.net, attempt.email.clone()), now);
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Failed,
    Succeeded,
    Released,
}

/// A reserved login attempt. Settle it with [`Attempt::failed`] or [`Attempt::succeeded`];
/// dropped unsettled, it gives its places back without counting.
#[derive(Debug)]
pub struct Attempt {
    limiter: Arc<LoginLimiter>,
    net: IpAddr,
    email: String,
    keys: Vec<Key>,
    settled: bool,
}

impl Attempt {
    /// A wrong password or code: it counts.
    pub fn failed(mut self) {
        self.settled = true;
        self.limiter.settle(&self, Outcome::Failed, Instant::now());
    }

    /// The right password (and code): the (client, e-mail) count starts over, and this client is
    /// exempt from the account count for a while.
    pub fn succeeded(mut self) {
        self.settled = true;
        self.limiter.settle(&self, Outcome::Succeeded, Instant::now());
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if !self.settled {
            self.limiter.settle(self, Outcome::Released, Instant::now());
        }
    }
}

/// E-mails compare without case, like the advisors table.
fn normalize(email: &str) -> String {
    email.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(ip: &str) -> ClientIp {
        ClientIp(ip.parse().unwrap())
    }

    fn limiter() -> Arc<LoginLimiter> {
        Arc::new(LoginLimiter::new(LoginLimits::default()))
    }

    fn fail(limiter: &Arc<LoginLimiter>, ip: &str, email: &str, now: Instant) {
        limiter.begin(client(ip), email, now).unwrap().failed();
    }

    #[test]
    fn the_sixth_failure_for_one_email_waits_until_the_window_ends() {
        let limiter = limiter();
        let window = LoginLimits::default().window;
        let t0 = Instant::now();
        for _ in 0..5 {
            fail(&limiter, "10.0.0.1", "a@b.c", t0);
        }
        // Failures are stamped with the real clock, a moment after t0.
        let Refusal::Blocked { wait, account: false } = limiter.begin(client("10.0.0.1"), "A@B.C", t0 + Duration::from_secs(60)).unwrap_err()
        else {
            panic!("blocked for the (IP, e-mail)")
        };
        assert!(wait >= window - Duration::from_secs(60) && wait < window - Duration::from_secs(59), "{wait:?}");
        assert!(limiter.begin(client("10.0.0.1"), "x@b.c", t0).is_ok(), "another e-mail from the same IP");
        assert!(limiter.begin(client("10.0.0.2"), "a@b.c", t0).is_ok(), "the same e-mail from another IP");
        assert!(limiter.begin(client("10.0.0.1"), "a@b.c", t0 + window + Duration::from_secs(1)).is_ok(), "after the window");
    }

    #[test]
    fn attempts_in_flight_count_before_they_finish() {
        let limiter = limiter();
        let t0 = Instant::now();
        let attempts: Vec<_> = (0..5).map(|_| limiter.begin(client("10.0.0.1"), "a@b.c", t0).unwrap()).collect();
        assert_eq!(limiter.begin(client("10.0.0.1"), "a@b.c", t0).unwrap_err(), Refusal::InFlight);
        drop(attempts);
        assert!(limiter.begin(client("10.0.0.1"), "a@b.c", t0).is_ok(), "unsettled attempts give their places back");
        assert!(limiter.table.lock().unwrap().windows.is_empty(), "and leave nothing behind");
    }

    #[test]
    fn many_emails_from_one_ip_hit_the_ip_limit_and_success_clears_only_its_email() {
        let limiter = limiter();
        let t0 = Instant::now();
        for i in 0..50 {
            fail(&limiter, "10.0.0.1", &format!("u{i}@b.c"), t0);
        }
        assert!(limiter.begin(client("10.0.0.1"), "new@b.c", t0).is_err());

        let limiter = self::limiter();
        for _ in 0..5 {
            fail(&limiter, "10.0.0.1", "a@b.c", t0);
        }
        assert!(limiter.begin(client("10.0.0.1"), "a@b.c", t0).is_err());
        let limiter = self::limiter();
        for _ in 0..4 {
            fail(&limiter, "10.0.0.1", "a@b.c", t0);
        }
        limiter.begin(client("10.0.0.1"), "a@b.c", t0).unwrap().succeeded();
        for _ in 0..5 {
            fail(&limiter, "10.0.0.1", "a@b.c", t0);
        }
        assert!(limiter.begin(client("10.0.0.1"), "a@b.c", t0).is_err());
    }

    #[test]
    fn the_account_count_spans_clients_but_spares_one_the_account_logged_in_from() {
        let limiter = limiter();
        let t0 = Instant::now();
        limiter.begin(client("192.0.2.7"), "a@b.c", t0).unwrap().succeeded();
        for i in 0..20 {
            fail(&limiter, &format!("203.0.113.{}", i / 5), "a@b.c", t0);
        }
        let refusal = limiter.begin(client("203.0.113.99"), "a@b.c", t0).unwrap_err();
        assert!(matches!(refusal, Refusal::Blocked { account: true, .. }), "{refusal:?}");
        assert!(limiter.begin(client("192.0.2.7"), "a@b.c", t0).is_ok(), "the advisor's usual client");
        assert!(limiter.begin(client("203.0.113.99"), "other@b.c", t0).is_ok(), "another account");
    }

    #[test]
    fn addresses_in_one_ipv6_64_share_their_counts() {
        let limiter = limiter();
        let t0 = Instant::now();
        for i in 1..=5 {
            fail(&limiter, &format!("2001:db8:1:2::{i}"), "a@b.c", t0);
        }
        assert!(limiter.begin(client("2001:db8:1:2:ffff::1"), "a@b.c", t0).is_err());
        assert!(limiter.begin(client("2001:db8:1:3::1"), "a@b.c", t0).is_ok());
    }
}
