//! Replays of DLMS pushes: the same (system title, invocation counter)
//! seen again, across the sessions of an instance. DLMS requires a sender
//! to raise its invocation counter with every ciphered APDU, so a counter
//! already seen, or too old to tell, is a repeat (a modem resending its
//! buffer after a reconnect) or a replay attack, never a new reading.
//!
//! Memory, per system title, is a window in the manner of IPsec's replay
//! window: the highest counter seen and a bitmap of the `window` counters
//! at and below it (at most 64). A counter above the highest is new; one at
//! or below the window's floor (highest − window) is a replay, whether or
//! not it was seen; one inside the window is a replay when its bit is set.
//! At most `titles` system titles are remembered, the one committed least
//! lately forgotten first (about 80 bytes each: the default 65 536 take
//! some 5 MiB).
//!
//! A counter counts as seen only once its frame is committed: the session
//! tells the window which commit carries which counter ([`Replays::expect`]),
//! [`Replays::committed`] marks it, [`Replays::failed`] forgets it. So a
//! duplicate arriving while the first arrival's commit is under way is not
//! a replay: if that commit failed, marking the duplicate would leave no
//! copy of the push that counts as new. Downstream, readings are keyed by
//! device, channel and time, so two copies committed as new count once. At
//! most [`IN_FLIGHT`] commits are followed (the oldest dropped first: its
//! counter is then never marked, so a later copy counts as new, which the
//! same keying absorbs).
//!
//! What becomes of a replay is the instance's `replay` setting: `mark`
//! (default) commits it raw-first with `dlms.replay = 1`, so that the
//! archive keeps everything that arrived and downstream counts it as a
//! duplicate, never as new readings; `reject` refuses it (recorded and
//! counted as rejected, not committed), for operators who want replays out
//! of the archive. Both are reasonable; marking loses nothing.
//!
//! The memory is the instance's, in memory only: a restarted instance
//! starts with empty windows.

use std::collections::{BTreeMap, HashMap};

use crate::dlms::SystemTitle;

/// The most commits followed at once.
pub const IN_FLIGHT: usize = 65_536;

/// What becomes of a replay (the `replay` setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayPolicy {
    /// Committed with `dlms.replay = 1`.
    Mark,
    /// Refused with a `Reject`.
    Reject,
}

/// The replay window's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplaySettings {
    /// `replay`: what becomes of a replay.
    pub policy: ReplayPolicy,
    /// `replay_window`: counters remembered below the highest, 1 to 64.
    pub window: u32,
    /// `replay_titles`: system titles remembered; 0 turns detection off.
    pub titles: usize,
}

impl Default for ReplaySettings {
    fn default() -> Self {
        ReplaySettings { policy: ReplayPolicy::Mark, window: 64, titles: 65_536 }
    }
}

/// Whether a counter was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not seen: a new push.
    New,
    /// Seen, inside the window.
    Seen,
    /// At or below the window's floor.
    BelowWindow {
        /// The floor: the highest counter seen minus the window.
        floor: u32,
    },
}

/// One system title's window.
#[derive(Debug, Clone, Copy)]
struct Window {
    highest: u32,
    /// Bit `d` set: counter `highest - d` seen.
    seen: u64,
    /// When it was last marked, for forgetting the oldest.
    serial: u64,
}

/// The replay windows of an instance; see the module documentation.
#[derive(Debug)]
pub struct Replays {
    settings: ReplaySettings,
    windows: HashMap<SystemTitle, Window>,
    /// Titles by the serial of their last mark, oldest first.
    order: BTreeMap<u64, SystemTitle>,
    next_serial: u64,
    /// Commits under way, by (session, token).
    in_flight: BTreeMap<(u64, u64), (SystemTitle, u32)>,
}

impl Replays {
    /// Empty windows with these settings.
    pub fn new(settings: ReplaySettings) -> Replays {
        Replays {
            settings,
            windows: HashMap::new(),
            order: BTreeMap::new(),
            next_serial: 0,
            in_flight: BTreeMap::new(),
        }
    }

    /// What becomes of a replay.
    pub fn policy(&self) -> ReplayPolicy {
        self.settings.policy
    }

    /// How many system titles are remembered.
    pub fn titles(&self) -> usize {
        self.windows.len()
    }

    /// How many commits are followed.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Whether `counter` of `title` was seen.
    pub fn check(&self, title: SystemTitle, counter: u32) -> Verdict {
        let Some(w) = self.windows.get(&title) else { return Verdict::New };
        if counter > w.highest {
            return Verdict::New;
        }
        let d = w.highest - counter;
        match d >= self.settings.window {
            true => Verdict::BelowWindow { floor: w.highest.saturating_sub(self.settings.window) },
            false if w.seen >> d & 1 == 1 => Verdict::Seen,
            false => Verdict::New,
        }
    }

    /// The commit `token` of `session` carries `counter` of `title`.
    pub fn expect(&mut self, session: u64, token: u64, title: SystemTitle, counter: u32) {
        if self.settings.titles == 0 {
            return;
        }
        self.in_flight.insert((session, token), (title, counter));
        while self.in_flight.len() > IN_FLIGHT {
            self.in_flight.pop_first();
        }
    }

    /// The commit `token` of `session` is stored: its counter is seen.
    pub fn committed(&mut self, session: u64, token: u64) {
        if let Some((title, counter)) = self.in_flight.remove(&(session, token)) {
            self.mark(title, counter);
        }
    }

    /// The commit `token` of `session` failed: its counter stays unseen.
    pub fn failed(&mut self, session: u64, token: u64) {
        self.in_flight.remove(&(session, token));
    }

    /// Mark `counter` of `title` seen.
    fn mark(&mut self, title: SystemTitle, counter: u32) {
        let serial = self.next_serial;
        self.next_serial += 1;
        let w = self.windows.entry(title).or_insert(Window { highest: counter, seen: 0, serial });
        if counter > w.highest {
            let shift = counter - w.highest;
            w.seen = w.seen.checked_shl(shift).unwrap_or(0);
            w.highest = counter;
        }
        let d = w.highest - counter;
        if d < 64 {
            w.seen |= 1 << d;
        }
        let old = std::mem::replace(&mut w.serial, serial);
        self.order.remove(&old);
        self.order.insert(serial, title);
        while self.windows.len() > self.settings.titles {
            let Some((_, oldest)) = self.order.pop_first() else { break };
            self.windows.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: SystemTitle = SystemTitle([0x2F, 0x19, 0x22, 0x91, 0x99, 0x16, 0x41, 0x03]);
    const B: SystemTitle = SystemTitle([1; 8]);

    fn replays(window: u32, titles: usize) -> Replays {
        Replays::new(ReplaySettings { policy: ReplayPolicy::Mark, window, titles })
    }

    fn seen(r: &mut Replays, title: SystemTitle, counter: u32) {
        r.expect(1, u64::from(counter), title, counter);
        r.committed(1, u64::from(counter));
    }

    #[test]
    fn a_window_like_ipsec() {
        let mut r = replays(64, 10);
        assert_eq!(r.check(A, 100), Verdict::New);
        seen(&mut r, A, 100);
        assert_eq!(r.check(A, 100), Verdict::Seen);
        assert_eq!(r.check(A, 99), Verdict::New, "inside the window, not seen");
        assert_eq!(r.check(A, 101), Verdict::New);
        assert_eq!(r.check(A, 36), Verdict::BelowWindow { floor: 36 }, "at the floor");
        assert_eq!(r.check(A, 37), Verdict::New, "just above it");
        seen(&mut r, A, 99);
        seen(&mut r, A, 130);
        assert_eq!((r.check(A, 99), r.check(A, 100), r.check(A, 98)), (Verdict::Seen, Verdict::Seen, Verdict::New));
        seen(&mut r, A, 1000);
        assert_eq!(r.check(A, 130), Verdict::BelowWindow { floor: 936 }, "a jump past the window");
        assert_eq!(r.check(B, 100), Verdict::New, "titles apart");
        let mut narrow = replays(1, 10);
        seen(&mut narrow, A, 5);
        assert_eq!((narrow.check(A, 5), narrow.check(A, 4)), (Verdict::Seen, Verdict::BelowWindow { floor: 4 }));
        seen(&mut narrow, A, u32::MAX);
        assert_eq!(narrow.check(A, u32::MAX), Verdict::Seen);
    }

    #[test]
    fn only_committed_counters_are_seen() {
        let mut r = replays(64, 10);
        r.expect(7, 1, A, 5);
        assert_eq!(r.check(A, 5), Verdict::New, "under way");
        r.failed(7, 1);
        r.committed(7, 1);
        assert_eq!((r.check(A, 5), r.titles(), r.in_flight()), (Verdict::New, 0, 0), "a failed commit forgets it");
        r.expect(8, 1, A, 5);
        r.committed(8, 1);
        assert_eq!(r.check(A, 5), Verdict::Seen);
    }

    #[test]
    fn memory_is_bounded() {
        let mut r = replays(64, 2);
        seen(&mut r, A, 1);
        seen(&mut r, B, 1);
        seen(&mut r, A, 2);
        seen(&mut r, SystemTitle([2; 8]), 1);
        assert_eq!(r.titles(), 2);
        assert_eq!(
            (r.check(A, 2), r.check(B, 1)),
            (Verdict::Seen, Verdict::New),
            "the one committed least lately forgotten"
        );
        for token in 0..(IN_FLIGHT as u64 + 10) {
            r.expect(1, token, A, 3);
        }
        assert_eq!(r.in_flight(), IN_FLIGHT);
        let mut off = replays(64, 0);
        seen(&mut off, A, 1);
        assert_eq!((off.check(A, 1), off.titles(), off.in_flight()), (Verdict::New, 0, 0));
    }
}
