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
}

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
        };
        if let Some(c) = telemetry.frame_counter {
            activity.counter.observe(c, true);
        }
        activity
    }

    /// Take in the telemetry of another frame.
    pub fn observe(&mut self, telemetry: &Telemetry, source: &str, received_at_ms: i64) {
        self.frames += 1;
        self.source = source.to_owned();
        self.first_received_at_ms = self.first_received_at_ms.min(received_at_ms);
        self.last_received_at_ms = self.last_received_at_ms.max(received_at_ms);
        let newer = telemetry.ts_ms >= self.latest.ts_ms;
        if let Some(c) = telemetry.frame_counter {
            let before = (self.counter.highest, self.latest.ts_ms);
            let stepped = self.counter.observe(c, newer);
            // One step forward in counter and time: an estimate of the period.
            if let Some(steps) = stepped.filter(|_| newer && telemetry.ts_ms > before.1) {
                let estimate = (telemetry.ts_ms - before.1) / i64::from(steps.max(1));
                self.period_ms = Some(match self.period_ms {
                    // A slow moving average: one odd gap does not move it much.
                    Some(p) => (p * 7 + estimate) / 8,
                    None => estimate,
                });
            }
        }
        if newer {
            // A packet without a battery or signal figure (a time packet)
            // keeps the last known one.
            let previous = std::mem::replace(&mut self.latest, telemetry.clone());
            let latest = &mut self.latest;
            latest.battery_pct = latest.battery_pct.or(previous.battery_pct);
            latest.rssi_dbm = latest.rssi_dbm.or(previous.rssi_dbm);
            latest.snr_db = latest.snr_db.or(previous.snr_db);
            latest.frame_counter = latest.frame_counter.or(previous.frame_counter);
        }
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
    fn the_period_is_learned_and_silence_is_judged_by_it() {
        let mut a = ModuleActivity::new(&telemetry(0, 1), "vega", 0);
        for (i, c) in [2, 3, 5, 6].into_iter().enumerate() {
            let ts = i64::from(c - 1) * 3_600_000;
            a.observe(&telemetry(ts, c), "vega", ts + 500 + i as i64);
        }
        assert_eq!(a.period_ms, Some(3_600_000), "a two-step gap counts as two periods");
        assert_eq!((a.frames, a.counter.lost()), (5, 1));
        let last = a.last_received_at_ms;
        assert_eq!(a.silent(last + 3 * 3_600_000, 3, None), Some(false));
        assert_eq!(a.silent(last + 3 * 3_600_000 + 1, 3, None), Some(true));
        assert_eq!(a.silent(last + 60_000, 3, Some(10_000)), Some(true), "a configured period wins");
        assert_eq!(ModuleActivity::new(&telemetry(0, 1), "vega", 0).silent(1 << 40, 3, None), None);
        let time_packet = Telemetry { module: "M".into(), ts_ms: 6 * 3_600_000, ..Telemetry::default() };
        a.observe(&time_packet, "vega", 6 * 3_600_000);
        assert_eq!((a.latest.ts_ms, a.latest.battery_pct, a.latest.frame_counter), (6 * 3_600_000, Some(90), Some(6)));
    }
}
