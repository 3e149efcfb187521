//! Repeats of one uplink: the same DevEUI, frame counter and FRMPayload
//! seen again within the window after its first arrival (a network server
//! retrying a push, two integrations posting the same event). A repeat is
//! still committed (raw-first) but carries `lorawan.repeat` and the first
//! arrival's `lorawan.ts`, so its readings downstream are duplicates of
//! the first's rather than new ones.
//!
//! The memory lives on the plugin instance, across its sessions, and is
//! bounded: at most `capacity` uplinks, the oldest forgotten first, and
//! those older than the window dropped as they come to the front. An
//! uplink costs about 120 bytes whatever its payload (the payload is kept
//! as a 128-bit digest), so the default 65 536 take about 8 MiB of the
//! plugin's memory (a WASM plugin's default cap is 64 MiB).
//!
//! An uplink counts as seen from the moment its first frame is committed
//! (asked), so a repeat arriving while that commit is still under way is
//! a repeat too; if the first commit fails, the uplink is forgotten again
//! (the server will retry, and the retry is then a first arrival).

use std::collections::{HashMap, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};

use crate::fields::Eui;

/// What identifies an uplink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UplinkKey {
    dev_eui: u64,
    fcnt: u32,
    frm_digest: u128,
}

impl UplinkKey {
    /// The key of the uplink `fcnt` of `dev_eui` carrying `frm`.
    pub fn new(dev_eui: Eui, fcnt: u32, frm: &[u8]) -> UplinkKey {
        UplinkKey { dev_eui: dev_eui.as_u64(), fcnt, frm_digest: digest(frm) }
    }
}

/// 128 bits of `bytes`: two SipHash runs with different prefixes. Not a
/// cryptographic digest; the key also holds DevEUI and frame counter, so
/// only one device's payloads at one counter could ever collide.
fn digest(bytes: &[u8]) -> u128 {
    let half = |salt: u8| {
        let mut h = DefaultHasher::new();
        salt.hash(&mut h);
        bytes.hash(&mut h);
        h.finish()
    };
    (u128::from(half(0)) << 64) | u128::from(half(1))
}

/// The verdict on an uplink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Its first arrival (or detection is off): remembered under this
    /// serial, to forget it if its commit fails.
    First(Option<u64>),
    /// A repeat; the first arrival's `lorawan.ts`.
    Repeat(i64),
}

#[derive(Debug, Clone, Copy)]
struct Arrival {
    ts_ms: i64,
    at_ms: i64,
    serial: u64,
}

/// The uplinks seen lately; see the module documentation.
#[derive(Debug)]
pub struct Repeats {
    window_ms: i64,
    capacity: usize,
    seen: HashMap<UplinkKey, Arrival>,
    /// Keys in order of arrival, with their serial (an entry whose serial
    /// is no longer the key's is stale).
    order: VecDeque<(u64, UplinkKey)>,
    next_serial: u64,
}

impl Repeats {
    /// Remember up to `capacity` uplinks for `window_ms` each; either 0
    /// turns detection off.
    pub fn new(window_ms: i64, capacity: usize) -> Repeats {
        Repeats { window_ms, capacity, seen: HashMap::new(), order: VecDeque::new(), next_serial: 1 }
    }

    /// How many uplinks are remembered.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// The verdict on uplink `key` with event time `ts_ms`, arriving at
    /// host time `now_ms`; a first arrival is remembered.
    pub fn check(&mut self, key: UplinkKey, ts_ms: i64, now_ms: i64) -> Seen {
        if self.window_ms == 0 || self.capacity == 0 {
            return Seen::First(None);
        }
        self.expire(now_ms);
        if let Some(first) = self.seen.get(&key)
            && now_ms.saturating_sub(first.at_ms) <= self.window_ms
        {
            return Seen::Repeat(first.ts_ms);
        }
        let serial = self.next_serial;
        self.next_serial += 1;
        self.seen.insert(key, Arrival { ts_ms, at_ms: now_ms, serial });
        self.order.push_back((serial, key));
        while self.seen.len() > self.capacity || self.order.len() > self.capacity.saturating_mul(2) {
            self.pop_front();
        }
        Seen::First(Some(serial))
    }

    /// Forget the first arrival remembered as `serial` (its commit failed).
    pub fn forget(&mut self, key: UplinkKey, serial: u64) {
        if self.seen.get(&key).is_some_and(|a| a.serial == serial) {
            self.seen.remove(&key);
        }
    }

    /// Drop the arrivals older than the window from the front.
    fn expire(&mut self, now_ms: i64) {
        while let Some(&(serial, key)) = self.order.front() {
            let live = self.seen.get(&key).filter(|a| a.serial == serial);
            match live {
                Some(a) if now_ms.saturating_sub(a.at_ms) <= self.window_ms => break,
                _ => self.pop_front(),
            }
        }
    }

    fn pop_front(&mut self) {
        if let Some((serial, key)) = self.order.pop_front()
            && self.seen.get(&key).is_some_and(|a| a.serial == serial)
        {
            self.seen.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EUI: Eui = Eui([1; 8]);

    #[test]
    fn a_repeat_within_the_window_gets_the_first_time() {
        let mut r = Repeats::new(1000, 10);
        let key = UplinkKey::new(EUI, 7, b"ab");
        assert!(matches!(r.check(key, 500, 10_000), Seen::First(Some(_))));
        assert_eq!(r.check(key, 900, 10_999), Seen::Repeat(500));
        assert_eq!(r.check(key, 900, 11_000), Seen::Repeat(500), "the window's end is in it");
        assert!(matches!(r.check(key, 950, 11_001), Seen::First(_)), "from the first arrival, not the last");
        assert!(matches!(r.check(UplinkKey::new(EUI, 8, b"ab"), 1, 11_001), Seen::First(_)));
        assert!(matches!(r.check(UplinkKey::new(EUI, 7, b"ac"), 1, 11_001), Seen::First(_)));
        assert!(matches!(r.check(UplinkKey::new(Eui([2; 8]), 7, b"ab"), 1, 11_001), Seen::First(_)));
    }

    #[test]
    fn memory_is_bounded_oldest_first() {
        let mut r = Repeats::new(1_000_000, 3);
        let keys: Vec<_> = (0..5).map(|i| UplinkKey::new(EUI, i, b"")).collect();
        for (i, key) in keys.iter().enumerate() {
            r.check(*key, i as i64, 0);
        }
        assert_eq!(r.len(), 3);
        assert!(matches!(r.check(keys[0], 0, 0), Seen::First(_)), "evicted");
        assert_eq!(r.check(keys[4], 0, 0), Seen::Repeat(4));
        for round in 0..1000 {
            r.check(UplinkKey::new(EUI, 100 + round, b"x"), 0, 0);
            assert!(r.len() <= 3 && r.order.len() <= 6);
        }
    }

    #[test]
    fn expired_arrivals_leave_and_a_failed_first_is_forgotten() {
        let mut r = Repeats::new(10, 100);
        for i in 0..50 {
            r.check(UplinkKey::new(EUI, i, b""), 0, i64::from(i));
        }
        r.check(UplinkKey::new(EUI, 999, b""), 0, 100);
        assert_eq!(r.len(), 1);
        let key = UplinkKey::new(EUI, 1, b"z");
        let Seen::First(Some(serial)) = r.check(key, 5, 200) else { panic!("first") };
        r.forget(key, serial + 1);
        assert_eq!(r.check(key, 6, 201), Seen::Repeat(5), "another serial: kept");
        r.forget(key, serial);
        assert!(matches!(r.check(key, 7, 202), Seen::First(_)));
    }

    #[test]
    fn off_when_window_or_capacity_is_zero() {
        for (window, capacity) in [(0, 10), (10, 0)] {
            let mut r = Repeats::new(window, capacity);
            let key = UplinkKey::new(EUI, 1, b"");
            assert_eq!(r.check(key, 1, 1), Seen::First(None));
            assert_eq!(r.check(key, 1, 1), Seen::First(None));
            assert!(r.is_empty());
        }
    }
}
