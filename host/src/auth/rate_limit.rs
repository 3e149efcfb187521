//! [`LoginLimiter`]: failed logins counted per user name from one client
//! address, and per user name from anywhere; past a threshold, an
//! exponentially growing lockout (up to 15 minutes) answered with 429 and
//! `Retry-After`. Never per address alone: behind a reverse proxy (or one
//! office NAT) every user shares one address, and one user's typos must not
//! lock the others out. In memory and bounded.

use std::collections::HashMap;
use std::net::IpAddr;

/// Failures of one user name from one address before that pair is locked
/// out.
pub const USER_ADDRESS_FAILURES: u32 = 5;
/// Failures of one user name from any addresses before the name is locked
/// out everywhere (guessing spread over many addresses).
pub const USER_FAILURES: u32 = 20;
/// First lockout, milliseconds; doubled for each further failure.
pub const FIRST_LOCKOUT_MS: i64 = 30_000;
/// Longest lockout, milliseconds.
pub const MAX_LOCKOUT_MS: i64 = 15 * 60_000;
/// Most addresses and names remembered; the stalest are forgotten first.
pub const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    UserAddress(String, IpAddr),
    User(String),
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_failure_ms: i64,
    locked_until_ms: i64,
}

/// Counts failed logins; `Send`, held behind a mutex by the service.
#[derive(Debug, Default)]
pub struct LoginLimiter {
    entries: HashMap<Key, Entry>,
}

impl LoginLimiter {
    /// `Err(seconds to wait)` when `user` is locked out, from `address` or
    /// everywhere, at `now_ms`.
    pub fn check(&self, address: IpAddr, user: &str, now_ms: i64) -> Result<(), u64> {
        let wait = [Key::UserAddress(user.to_owned(), address), Key::User(user.to_owned())]
            .iter()
            .filter_map(|k| self.entries.get(k))
            .map(|e| e.locked_until_ms - now_ms)
            .max()
            .unwrap_or(0);
        if wait > 0 { Err((wait as u64).div_ceil(1000)) } else { Ok(()) }
    }

    /// Counts a failed login of `user` from `address`.
    pub fn failed(&mut self, address: IpAddr, user: &str, now_ms: i64) {
        self.forget_stale(now_ms);
        let keys = [
            (Key::UserAddress(user.to_owned(), address), USER_ADDRESS_FAILURES),
            (Key::User(user.to_owned()), USER_FAILURES),
        ];
        for (key, threshold) in keys {
            let entry =
                self.entries.entry(key).or_insert(Entry { failures: 0, last_failure_ms: now_ms, locked_until_ms: 0 });
            entry.failures = entry.failures.saturating_add(1);
            entry.last_failure_ms = now_ms;
            if entry.failures >= threshold {
                let doublings = (entry.failures - threshold).min(16);
                let lockout = (FIRST_LOCKOUT_MS << doublings).min(MAX_LOCKOUT_MS);
                entry.locked_until_ms = now_ms + lockout;
            }
        }
    }

    /// A successful login of `user` from `address`: its counts start again.
    pub fn succeeded(&mut self, address: IpAddr, user: &str) {
        self.entries.remove(&Key::User(user.to_owned()));
        self.entries.remove(&Key::UserAddress(user.to_owned(), address));
    }

    /// How many addresses and names are remembered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Forgets entries quiet for longer than the longest lockout; when still
    /// full, the stalest half.
    fn forget_stale(&mut self, now_ms: i64) {
        if self.entries.len() < MAX_ENTRIES {
            return;
        }
        self.entries.retain(|_, e| e.locked_until_ms > now_ms || now_ms - e.last_failure_ms < MAX_LOCKOUT_MS);
        if self.entries.len() >= MAX_ENTRIES {
            let mut ages: Vec<i64> = self.entries.values().map(|e| e.last_failure_ms).collect();
            ages.sort_unstable();
            let cut = ages[ages.len() / 2];
            self.entries.retain(|_, e| e.last_failure_ms > cut);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn five_failures_lock_the_name_out_from_that_address_with_growing_waits() {
        let mut limiter = LoginLimiter::default();
        let t = 1_000_000;
        for i in 0..USER_ADDRESS_FAILURES {
            assert_eq!(limiter.check(IP, "ann", t), Ok(()), "attempt {i}");
            limiter.failed(IP, "ann", t);
        }
        assert_eq!(limiter.check(IP, "ann", t), Err(30));
        assert_eq!(limiter.check(IP, "bob", t), Ok(()), "another name from the same address is not locked");
        let other: IpAddr = "10.0.0.9".parse().unwrap();
        assert_eq!(limiter.check(other, "ann", t), Ok(()), "the name from another address is not locked yet");
        assert_eq!(limiter.check(IP, "ann", t + 29_500), Err(1));
        assert_eq!(limiter.check(IP, "ann", t + 30_000), Ok(()));
        limiter.failed(IP, "ann", t + 30_000);
        assert_eq!(limiter.check(IP, "ann", t + 30_000), Err(60), "doubled");
        for _ in 0..20 {
            limiter.failed(IP, "ann", t + 30_000);
        }
        assert_eq!(limiter.check(IP, "ann", t + 30_000), Err(900), "capped at 15 minutes");
        limiter.succeeded(IP, "ann");
        assert_eq!(limiter.check(IP, "ann", t + 30_000), Ok(()), "the counts start again");
    }

    #[test]
    fn behind_one_address_many_users_failing_lock_nobody_else_out() {
        let mut limiter = LoginLimiter::default();
        for i in 0..50 * USER_ADDRESS_FAILURES {
            limiter.failed(IP, &format!("user-{}", i % 50), 0);
        }
        assert_eq!(limiter.check(IP, "fresh-name", 0), Ok(()));
        assert!(limiter.check(IP, "user-7", 0).is_err());
    }

    #[test]
    fn guessing_one_name_from_many_addresses_locks_the_name() {
        let mut limiter = LoginLimiter::default();
        for i in 0..USER_FAILURES {
            limiter.failed(IpAddr::V4(std::net::Ipv4Addr::from(i)), "ann", 0);
        }
        assert_eq!(limiter.check("192.0.2.1".parse().unwrap(), "ann", 0), Err(30));
    }

    #[test]
    fn the_map_stays_bounded() {
        let mut limiter = LoginLimiter::default();
        for i in 0..(3 * MAX_ENTRIES as i64) {
            let address = IpAddr::V4(std::net::Ipv4Addr::from(i as u32));
            limiter.failed(address, &format!("n{i}"), i);
            assert!(limiter.len() <= MAX_ENTRIES + 2, "{} entries after {i}", limiter.len());
        }
        assert!(!limiter.is_empty());
    }
}
