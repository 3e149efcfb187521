//! The state of a meter or a communication module at a glance, from when
//! the host last heard it and the period it is expected to report at:
//! fresh, late, silent, never heard, clock ahead, on hold. Pure: what was
//! heard and the time in, a state out.

use serde::Serialize;

/// How a meter or a module stands, most urgent first in [`State::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Its deltas are held: its stored readings cannot be read.
    OnHold,
    /// Nothing heard for more than `silent_after_periods` of its periods.
    Silent,
    /// Its last frame was stamped ahead of the host's clock by more than
    /// the tolerance.
    ClockAhead,
    /// Nothing heard for more than [`LATE_AFTER_PERIODS`] of its periods.
    Late,
    /// Heard within its period.
    Fresh,
    /// Registered, but nothing heard from it yet.
    NeverHeard,
}

impl State {
    /// Every state, most urgent first.
    pub const ALL: [State; 6] =
        [State::OnHold, State::Silent, State::ClockAhead, State::Late, State::Fresh, State::NeverHeard];

    /// Its stable name in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            State::OnHold => "on_hold",
            State::Silent => "silent",
            State::ClockAhead => "clock_ahead",
            State::Late => "late",
            State::Fresh => "fresh",
            State::NeverHeard => "never_heard",
        }
    }

    /// The state named `name`.
    pub fn parse(name: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// Late after this many periods without a frame (one and a half: a frame a
/// little behind its time is not late yet).
pub const LATE_AFTER_PERIODS: (i64, i64) = (3, 2);

/// The period assumed when neither an operator nor the uplinks told one
/// (one hour, the usual LoRaWAN reporting period), ms.
pub const DEFAULT_PERIOD_MS: i64 = 3_600_000;

/// What the host knows of one meter or module.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Heard {
    /// When the host last received a frame of it; `None`: never.
    pub last_received_at_ms: Option<i64>,
    /// The period it is expected to report at: an operator's, else the
    /// learned one; `None`: not known yet.
    pub period_ms: Option<i64>,
    /// Device time minus host time in its last frame, ms.
    pub clock_offset_ms: Option<i64>,
    /// Its deltas are held.
    pub on_hold: bool,
}

/// The rules that turn [`Heard`] into a [`State`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Judge {
    /// `[accounting] silent_after_periods`.
    pub silent_after_periods: u32,
    /// `[host] device_clock_tolerance_s`, in ms.
    pub clock_tolerance_ms: i64,
}

impl Judge {
    /// The state of what was `heard`, at `now_ms`.
    pub fn state(&self, heard: &Heard, now_ms: i64) -> State {
        if heard.on_hold {
            return State::OnHold;
        }
        let Some(last) = heard.last_received_at_ms else { return State::NeverHeard };
        let period = heard.judged_period_ms();
        let age = now_ms.saturating_sub(last);
        if age > period.saturating_mul(i64::from(self.silent_after_periods)) {
            return State::Silent;
        }
        if heard.clock_offset_ms.is_some_and(|offset| offset > self.clock_tolerance_ms) {
            return State::ClockAhead;
        }
        let (times, per) = LATE_AFTER_PERIODS;
        if age > period.saturating_mul(times) / per {
            return State::Late;
        }
        State::Fresh
    }
}

impl Heard {
    /// The period it is judged by: its own, else [`DEFAULT_PERIOD_MS`].
    pub fn judged_period_ms(&self) -> i64 {
        self.period_ms.filter(|p| *p > 0).unwrap_or(DEFAULT_PERIOD_MS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JUDGE: Judge = Judge { silent_after_periods: 3, clock_tolerance_ms: 120_000 };
    const MINUTE: i64 = 60_000;

    fn heard(last: i64, period: Option<i64>) -> Heard {
        Heard { last_received_at_ms: Some(last), period_ms: period, ..Heard::default() }
    }

    #[test]
    fn age_against_the_period_makes_fresh_late_and_silent() {
        let five_minutes = Some(5 * MINUTE);
        let cases = [
            (0, State::Fresh),
            (5 * MINUTE, State::Fresh),
            (7 * MINUTE + 30_000, State::Fresh),
            (7 * MINUTE + 30_001, State::Late),
            (15 * MINUTE, State::Late),
            (15 * MINUTE + 1, State::Silent),
        ];
        for (age, want) in cases {
            assert_eq!(JUDGE.state(&heard(1_000_000, five_minutes), 1_000_000 + age), want, "age {age}");
        }
    }

    #[test]
    fn without_a_known_period_an_hour_is_assumed() {
        let h = heard(0, None);
        assert_eq!(JUDGE.state(&h, 89 * MINUTE), State::Fresh);
        assert_eq!(JUDGE.state(&h, 91 * MINUTE), State::Late);
        assert_eq!(JUDGE.state(&h, 181 * MINUTE), State::Silent);
        assert_eq!(JUDGE.state(&heard(0, Some(0)), 91 * MINUTE), State::Late, "a zero period is no period");
    }

    #[test]
    fn hold_never_heard_and_clock_ahead_come_before_age() {
        assert_eq!(JUDGE.state(&Heard::default(), 0), State::NeverHeard);
        let held = Heard { on_hold: true, ..heard(0, None) };
        assert_eq!(JUDGE.state(&held, 0), State::OnHold);
        let ahead = Heard { clock_offset_ms: Some(10 * MINUTE), ..heard(0, Some(MINUTE)) };
        assert_eq!(JUDGE.state(&ahead, 0), State::ClockAhead);
        assert_eq!(JUDGE.state(&ahead, 2 * MINUTE), State::ClockAhead, "ahead before late");
        assert_eq!(JUDGE.state(&ahead, 4 * MINUTE), State::Silent, "silent before ahead");
        let within = Heard { clock_offset_ms: Some(2 * MINUTE), ..heard(0, Some(MINUTE)) };
        assert_eq!(JUDGE.state(&within, 0), State::Fresh, "within the tolerance");
    }

    #[test]
    fn names_round_trip() {
        for s in State::ALL {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
        assert_eq!(State::parse("active"), None);
    }
}
