//! Login rate limiting: failed logins are counted per (client IP, e-mail) and per client IP in
//! fixed windows; past the limit, logins answer 429 `rate_limited` with `Retry-After` until the
//! window ends. A successful login clears its (IP, e-mail) count.
//!
//! The counts live in this relay node's memory: behind a load balancer each node counts on its own,
//! and a restart forgets them. That still bounds guessing to a few passwords per minute per node.
//! The client IP is the TCP peer's: behind a reverse proxy, every client shares the proxy's address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed logins allowed per (IP, e-mail) in one window.
pub const PER_EMAIL: u32 = 5;
/// Failed logins allowed per IP (any e-mail) in one window: higher, since one office can share an IP.
pub const PER_IP: u32 = 50;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Past this many tracked keys, expired ones are dropped on the next failure.
const PRUNE_AT: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Ip(IpAddr),
    IpEmail(IpAddr, String),
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

#[derive(Debug, Default)]
pub struct LoginLimiter {
    windows: Mutex<HashMap<Key, Window>>,
}

impl LoginLimiter {
    pub fn new() -> Self {
        Self::default()
    }

    /// `Err(wait)` when this IP, or this IP for this e-mail, has failed too often lately.
    pub fn check(&self, ip: IpAddr, email: &str, now: Instant) -> Result<(), Duration> {
        let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let mut wait = Duration::ZERO;
        for (key, limit) in [(Key::IpEmail(ip, normalize(email)), PER_EMAIL), (Key::Ip(ip), PER_IP)] {
            if let Some(w) = windows.get(&key) {
                let ends = w.started + WINDOW;
                if w.failures >= limit && ends > now {
                    wait = wait.max(ends - now);
                }
            }
        }
        if wait.is_zero() {
            Ok(())
        } else {
            Err(wait)
        }
    }

    pub fn failed(&self, ip: IpAddr, email: &str, now: Instant) {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() >= PRUNE_AT {
            windows.retain(|_, w| w.started + WINDOW > now);
        }
        for key in [Key::IpEmail(ip, normalize(email)), Key::Ip(ip)] {
            let w = windows.entry(key).or_insert(Window { started: now, failures: 0 });
            if w.started + WINDOW <= now {
                *w = Window { started: now, failures: 0 };
            }
            w.failures += 1;
        }
    }

    pub fn succeeded(&self, ip: IpAddr, email: &str) {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        windows.remove(&Key::IpEmail(ip, normalize(email)));
    }
}

/// E-mails compare without case, like the advisors table.
fn normalize(email: &str) -> String {
    email.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sixth_failure_for_one_email_waits_until_the_window_ends() {
        let limiter = LoginLimiter::new();
        let (ip, other_ip) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let t0 = Instant::now();
        for _ in 0..PER_EMAIL {
            assert!(limiter.check(ip, "a@b.c", t0).is_ok());
            limiter.failed(ip, "a@b.c", t0);
        }
        let wait = limiter.check(ip, "A@B.C", t0 + Duration::from_secs(60)).unwrap_err();
        assert_eq!(wait, WINDOW - Duration::from_secs(60));
        assert!(limiter.check(ip, "x@b.c", t0).is_ok(), "another e-mail from the same IP");
        assert!(limiter.check(other_ip, "a@b.c", t0).is_ok(), "the same e-mail from another IP");
        assert!(limiter.check(ip, "a@b.c", t0 + WINDOW).is_ok(), "after the window");
    }

    #[test]
    fn many_emails_from_one_ip_hit_the_ip_limit_and_success_clears_only_its_email() {
        let limiter = LoginLimiter::new();
        let ip = "10.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        for i in 0..PER_IP {
            limiter.failed(ip, &format!("u{i}@b.c"), t0);
        }
        assert!(limiter.check(ip, "new@b.c", t0).is_err());

        let limiter = LoginLimiter::new();
        for _ in 0..PER_EMAIL {
            limiter.failed(ip, "a@b.c", t0);
        }
        limiter.succeeded(ip, "a@b.c");
        assert!(limiter.check(ip, "a@b.c", t0).is_ok());
    }
}
