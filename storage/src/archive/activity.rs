//! Module activity, kept by the archive as telemetry arrives: when a
//! communication module was first and last heard, its latest telemetry
//! (battery, signal), how many uplinks it sent, how many its frame counter
//! says were lost, and its usual period (for the "silent" state).

use meterhub_plugin_api::Telemetry;
use serde::{Deserialize, Serialize};

/// What the archive knows about one communication module (table `m`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModuleActivity {
    /// The latest telemetry by module time (battery, RSSI, SNR, counter);
    /// a figure the latest packet lacks is the last one known.
    #[serde(flatten)]
    pub latest: Telemetry,
    /// Source (driver instance) of the last frame with its telemetry.
    #[serde(default)]
    pub source: String,
    /// When the host first received a frame of it, ms since the epoch.
    #[serde(default)]
    pub first_received_at_ms: i64,
    /// When the host last received a frame of it (repeats included).
    #[serde(default)]
    pub last_received_at_ms: i64,
    /// Frames with its telemetry (repeats included).
    #[serde(default)]
    pub frames: u64,
    /// Its frame counter over time.
    #[serde(default)]
    pub counter: FrameCounts,
    /// Usual time between two of its uplinks, ms (from counter steps and
    /// module time); `None` until two consecutive uplinks were seen.
    #[serde(default)]
    pub period_ms: Option<i64>,
    /// When the host received the frame of [`ModuleActivity::latest`].
    #[serde(default)]
    pub latest_received_at_ms: i64,
    /// Module time minus host time in the frame received last, ms: how far
    /// its clock runs ahead (positive) or behind. A frame that waited on
    /// the way (a back-filled one) reads as behind.
    #[serde(default)]
    pub clock_offset_ms: Option<i64>,
    /// Estimates in a row at least [`PERIOD_SHIFT_FACTOR`] times off
    /// [`ModuleActivity::period_ms`], the same way: after
    /// [`PERIOD_SHIFT_AFTER`] of them the period has changed (a device
    /// reconfigured, history at another cadence than the live uplinks) and
    /// the estimate is taken as it is.
    #[serde(default)]
    pub period_shift: u8,
}

/// How far off the period an estimate is a sign it changed.
pub const PERIOD_SHIFT_FACTOR: i64 = 4;
/// Estimates in a row that far off, the same way, that change the period.
pub const PERIOD_SHIFT_AFTER: u8 = 3;

impl ModuleActivity {
    /// A module first heard in a frame received at `received_at_ms`.
    pub fn new(telemetry: &Telemetry, source: &str, received_at_ms: i64) -> ModuleActivity {
        let mut activity = ModuleActivity {
            latest: telemetry.clone(),
            source: source.to_owned(),
            first_received_at_ms: received_at_ms,
            last_received_at_ms: received_at_ms,
            frames: 1,
            counter: FrameCounts::default(),
            period_ms: None,
            latest_received_at_ms: received_at_ms,
            clock_offset_ms: Some(telemetry.ts_ms - received_at_ms),
            period_shift: 0,
        };
        if let Some(c) = telemetry.frame_counter {
            activity.counter.observe(c, true);
        }
        activity
    }

    /// Take in the telemetry of another frame. A frame stamped more than
    /// `clock_tolerance_ms` beyond the time it was received (a clock
    /// running ahead) is the latest only until a frame with a trustworthy
    /// time follows it, so it never freezes the module's latest telemetry.
    pub fn observe(&mut self, telemetry: &Telemetry, source: &str, received_at_ms: i64, clock_tolerance_ms: i64) {
        self.frames += 1;
        self.source = source.to_owned();
        self.first_received_at_ms = self.first_received_at_ms.min(received_at_ms);
        if received_at_ms >= self.last_received_at_ms {
            self.clock_offset_ms = Some(telemetry.ts_ms - received_at_ms);
        }
        self.last_received_at_ms = self.last_received_at_ms.max(received_at_ms);
        let ahead = |ts_ms: i64, received_at_ms: i64| ts_ms > received_at_ms.saturating_add(clock_tolerance_ms);
        let this_ahead = ahead(telemetry.ts_ms, received_at_ms);
        let latest_ahead = ahead(self.latest.ts_ms, self.latest_received_at_ms);
        let newer = telemetry.ts_ms >= self.latest.ts_ms || (latest_ahead && !this_ahead);
        if let Some(c) = telemetry.frame_counter {
            let before = (self.counter.highest, self.latest.ts_ms);
            let stepped = self.counter.observe(c, newer);
            // One step forward in counter and time, both frames stamped by
            // the same clock (both right, or both ahead by what is likely
            // the same offset, as a clock not yet corrected runs): an
            // estimate of the period. A step across a correction is not.
            let trusted = this_ahead == latest_ahead;
            if let Some(steps) = stepped.filter(|_| newer && trusted && telemetry.ts_ms > before.1) {
                let estimate = (telemetry.ts_ms - before.1) / i64::from(steps.max(1));
                self.learn_period(estimate);
            }
        }
        if newer {
            // A packet without a battery or signal figure (a time packet)
            // keeps the last known one.
            let previous = std::mem::replace(&mut self.latest, telemetry.clone());
            self.latest_received_at_ms = received_at_ms;
            let latest = &mut self.latest;
            latest.battery_pct = latest.battery_pct.or(previous.battery_pct);
            latest.rssi_dbm = latest.rssi_dbm.or(previous.rssi_dbm);
            latest.snr_db = latest.snr_db.or(previous.snr_db);
            latest.frame_counter = latest.frame_counter.or(previous.frame_counter);
        }
    }

    /// Takes in one estimate of the period: a slow moving average, so one
    /// odd gap does not move it much; but [`PERIOD_SHIFT_AFTER`] estimates
    /// in a row [`PERIOD_SHIFT_FACTOR`] times shorter (or longer) are a new
    /// period, taken at once rather than after dozens of uplinks.
    fn learn_period(&mut self, estimate: i64) {
        let Some(p) = self.period_ms else {
            self.period_ms = Some(estimate);
            return;
        };
        let shorter = estimate.saturating_mul(PERIOD_SHIFT_FACTOR) <= p;
        let longer = estimate >= p.saturating_mul(PERIOD_SHIFT_FACTOR);
        // The sign of the run: positive while shorter, negative while longer.
        let run = self.period_shift as i8;
        self.period_shift = match (shorter, longer) {
            (true, _) if run >= 0 => (run + 1) as u8,
            (true, _) => 1,
            (_, true) if run <= 0 => (run - 1) as u8,
            (_, true) => (-1i8) as u8,
            _ => 0,
        };
        if (self.period_shift as i8).unsigned_abs() >= PERIOD_SHIFT_AFTER {
            self.period_ms = Some(estimate);
            self.period_shift = 0;
        } else {
            self.period_ms = Some((p * 7 + estimate) / 8);
        }
    }

    /// Whether the frame received last was stamped more than
    /// `clock_tolerance_ms` ahead of the host's clock.
    pub fn clock_ahead(&self, clock_tolerance_ms: i64) -> bool {
        self.clock_offset_ms.is_some_and(|offset| offset > clock_tolerance_ms)
    }

    /// Whether nothing was received for more than `periods` of its usual
    /// period (`expected_ms` if given, else the estimate) at `now_ms`.
    /// `None` when no period is known.
    pub fn silent(&self, now_ms: i64, periods: u32, expected_ms: Option<i64>) -> Option<bool> {
        let period = expected_ms.or(self.period_ms).filter(|p| *p > 0)?;
        Some(now_ms - self.last_received_at_ms > period.saturating_mul(i64::from(periods)))
    }
}

/// A module's frame counter: uplinks received and lost, counter resets.
///
/// A run is the counter from one reset (join, reboot) to the next. Within a
/// run, lost = (highest - first + 1) - distinct counters seen. The last 64
/// counters below the highest are remembered, so repeats and late arrivals
/// among them are told apart; a counter older than that is taken as seen
/// (a back-filled old uplink) and only widens the run if it is below its
/// first. A counter far below the highest in a newer uplink starts a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameCounts {
    /// First counter of the run.
    pub first: u32,
    /// Highest counter of the run.
    pub highest: u32,
    /// Distinct counters seen in the run.
    pub distinct: u64,
    /// Bit `i`: counter `highest - i` was seen (`i < 64`).
    pub recent: u64,
    /// Counter resets seen.
    pub resets: u32,
    /// Uplinks lost in earlier runs.
    pub lost_before: u64,
}

/// A counter this far below the highest, in a newer uplink, is a reset.
const RESET_DROP: u32 = 64;

impl FrameCounts {
    /// Uplinks lost so far.
    pub fn lost(&self) -> u64 {
        if self.distinct == 0 {
            return self.lost_before;
        }
        let span = u64::from(self.highest - self.first) + 1;
        self.lost_before + span.saturating_sub(self.distinct)
    }

    /// Take in counter `c` of an uplink; `newer`: its module time is not
    /// older than the latest. Returns the steps the highest moved forward.
    pub fn observe(&mut self, c: u32, newer: bool) -> Option<u32> {
        if self.distinct == 0 {
            *self = FrameCounts { first: c, highest: c, distinct: 1, recent: 1, ..self.clone() };
            return None;
        }
        if c > self.highest {
            let steps = c - self.highest;
            self.recent = if steps >= 64 { 0 } else { self.recent << steps };
            self.recent |= 1;
            self.highest = c;
            self.distinct += 1;
            return Some(steps);
        }
        let below = self.highest - c;
        if below >= RESET_DROP && newer {
            let lost = self.lost();
            *self = FrameCounts {
                first: c,
                highest: c,
                distinct: 1,
                recent: 1,
                resets: self.resets + 1,
                lost_before: lost,
            };
            return None;
        }
        if below < 64 {
            let bit = 1u64 << below;
            if self.recent & bit == 0 {
                self.recent |= bit;
                self.distinct += 1;
                self.first = self.first.min(c);
            }
        } else if c < self.first {
            self.first = c;
            self.distinct += 1;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(seq: &[u32]) -> FrameCounts {
        let mut f = FrameCounts::default();
        for &c in seq {
            f.observe(c, true);
        }
        f
    }

    #[test]
    fn gaps_are_lost_uplinks_and_repeats_are_not() {
        assert_eq!(counts(&[1, 2, 3, 4]).lost(), 0);
        assert_eq!(counts(&[1, 2, 5, 6]).lost(), 2);
        assert_eq!(counts(&[1, 2, 2, 2, 3]).lost(), 0, "repeats");
        assert_eq!(counts(&[1, 4, 3, 2]).lost(), 0, "late arrivals fill the gap");
        assert_eq!(counts(&[10]).lost(), 0);
    }

    #[test]
    fn a_reset_starts_a_run_and_keeps_what_was_lost() {
        let f = counts(&[100, 101, 103, 200, 201, 0, 1, 3]);
        assert_eq!(f.resets, 1);
        // 100..=201 with 5 seen, then 0..=3 with 3 seen.
        assert_eq!(f.lost(), (102 - 5) + 1, "{f:?}");
        // An old uplink back-filled after newer ones is not a reset.
        let mut f = counts(&[500, 501]);
        f.observe(400, false);
        assert_eq!((f.resets, f.first, f.lost()), (0, 400, 100 - 1));
    }

    const TOLERANCE: i64 = 120_000;

    #[test]
    fn a_frame_from_a_clock_ahead_never_freezes_the_latest_telemetry() {
        let minute = 60_000;
        let mut a = ModuleActivity::new(&telemetry(0, 1), "vega", 0);
        // Received at minute 1, stamped minute 11: the clock runs ten minutes ahead.
        let mut ahead = telemetry(11 * minute, 2);
        ahead.battery_pct = Some(50);
        a.observe(&ahead, "vega", minute, TOLERANCE);
        assert!(a.clock_ahead(TOLERANCE));
        assert_eq!(a.latest.battery_pct, Some(50), "its figures are the newest there are");
        // The clock is corrected: the next frames are stamped right.
        for (c, at) in [(3, 2), (4, 3)] {
            let mut right = telemetry(at * minute, c);
            right.battery_pct = Some(49);
            a.observe(&right, "vega", at * minute + 300, TOLERANCE);
        }
        assert!(!a.clock_ahead(TOLERANCE));
        assert_eq!((a.latest.ts_ms, a.latest.frame_counter), (3 * minute, Some(4)), "newer frames are seen");
        assert_eq!(a.latest_received_at_ms, 3 * minute + 300);
        assert_eq!(a.period_ms, Some(minute), "the frame stamped ahead taught no period");
        // Within the tolerance a clock is trusted.
        a.observe(&telemetry(4 * minute + TOLERANCE, 5), "vega", 4 * minute, TOLERANCE);
        assert!(!a.clock_ahead(TOLERANCE));
        assert_eq!(a.clock_offset_ms, Some(TOLERANCE));
    }

    #[test]
    fn a_clock_ahead_all_along_still_teaches_the_period() {
        let minute = 60_000;
        let ten = 10 * minute;
        let mut a = ModuleActivity::new(&telemetry(ten, 1), "vega", 0);
        for c in 2..=4 {
            let at = i64::from(c - 1) * minute;
            a.observe(&telemetry(at + ten, c), "vega", at, TOLERANCE);
        }
        assert!(a.clock_ahead(TOLERANCE));
        assert_eq!(a.period_ms, Some(minute));
    }

    fn telemetry(ts_ms: i64, counter: u32) -> Telemetry {
        Telemetry {
            module: "M".into(),
            ts_ms,
            frame_counter: Some(counter),
            battery_pct: Some(90),
            ..Telemetry::default()
        }
    }

    #[test]
    fn a_period_that_changes_is_taken_after_three_uplinks_at_the_new_cadence() {
        // Hourly history, then live uplinks every 5 s.
        let mut a = ModuleActivity::new(&telemetry(0, 1), "vega", 0);
        let hour = 3_600_000;
        for c in 2..=5u32 {
            let ts = i64::from(c - 1) * hour;
            a.observe(&telemetry(ts, c), "vega", ts + 500, TOLERANCE);
        }
        assert_eq!(a.period_ms, Some(hour));
        let live = 4 * hour;
        for (i, c) in (6..=8u32).enumerate() {
            let ts = live + (i as i64 + 1) * 5000;
            a.observe(&telemetry(ts, c), "vega", ts + 500, TOLERANCE);
        }
        assert_eq!(a.period_ms, Some(5000), "three uplinks 5 s apart: the period is 5 s");
        // One odd gap is averaged, not taken.
        a.observe(&telemetry(live + 15_000 + hour, 9), "vega", live + 15_500 + hour, TOLERANCE);
        assert_eq!(a.period_ms, Some((5000 * 7 + hour) / 8));
        // A record written before the field existed reads as no run.
        let old = serde_json::to_value(&a).unwrap();
        let mut old = old.as_object().unwrap().clone();
        old.remove("period_shift");
        let read: ModuleActivity = serde_json::from_value(serde_json::Value::Object(old)).unwrap();
        assert_eq!(read.period_shift, 0);
    }

    #[test]
    fn the_period_is_learned_and_silence_is_judged_by_it() {
        let mut a = ModuleActivity::new(&telemetry(0, 1), "vega", 0);
        for (i, c) in [2, 3, 5, 6].into_iter().enumerate() {
            let ts = i64::from(c - 1) * 3_600_000;
            a.observe(&telemetry(ts, c), "vega", ts + 500 + i as i64, TOLERANCE);
        }
        assert_eq!(a.period_ms, Some(3_600_000), "a two-step gap counts as two periods");
        assert_eq!((a.frames, a.counter.lost()), (5, 1));
        let last = a.last_received_at_ms;
        assert_eq!(a.silent(last + 3 * 3_600_000, 3, None), Some(false));
        assert_eq!(a.silent(last + 3 * 3_600_000 + 1, 3, None), Some(true));
        assert_eq!(a.silent(last + 60_000, 3, Some(10_000)), Some(true), "a configured period wins");
        assert_eq!(ModuleActivity::new(&telemetry(0, 1), "vega", 0).silent(1 << 40, 3, None), None);
        let time_packet = Telemetry { module: "M".into(), ts_ms: 6 * 3_600_000, ..Telemetry::default() };
        a.observe(&time_packet, "vega", 6 * 3_600_000, TOLERANCE);
        assert_eq!((a.latest.ts_ms, a.latest.battery_pct, a.latest.frame_counter), (6 * 3_600_000, Some(90), Some(6)));
    }
}
