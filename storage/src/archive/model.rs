//! The archive's data types: what goes in (journal records with the codec's
//! verdict) and what comes out (stored readings, devices, counters).

use meterhub_plugin_api::{Decoded, RawFrame, Reading};
use serde::{Deserialize, Serialize};

use crate::journal::{JournalRecord, Rejection};

/// What the codec made of a raw frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Readings and telemetry.
    Decoded(Decoded),
    /// The frame could not be decoded; the reason names the offending part.
    Quarantined(String),
}

/// One journal record to apply, with the codec's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplyItem {
    /// The durable journal record.
    pub record: JournalRecord,
    /// The codec's verdict for [`crate::journal::Entry::Frame`]; `None` for
    /// [`crate::journal::Entry::Rejected`]. A frame without a verdict is
    /// quarantined (so it can be re-decoded), never dropped.
    pub verdict: Option<Verdict>,
}

/// A reading as archived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredReading {
    /// Archive global sequence number, starting at 1; consumers follow it.
    pub seq: u64,
    /// Journal sequence number of the frame it was decoded from.
    pub frame_seq: u64,
    /// Source (driver instance) of that frame.
    pub source: String,
    /// The reading.
    pub reading: Reading,
    /// `true` when another value was archived first under the same natural
    /// key `(device, channel, ts_ms)`; that original stays untouched.
    pub conflict: bool,
    /// When the archive stored it, milliseconds since the Unix epoch, UTC.
    pub archived_at_ms: i64,
}

/// How far a device's clock may run ahead of the host's before the
/// readings it stamps are not trusted for "latest" values and deltas
/// (ms; `[host] device_clock_tolerance_s`).
pub const DEVICE_CLOCK_TOLERANCE_MS: i64 = 120_000;

impl StoredReading {
    /// Whether its device time was beyond the host's clock by more than
    /// `tolerance_ms` when it was archived: a device clock running ahead.
    /// Such a reading is kept and shown, flagged; it never counts as a
    /// meter's latest value nor in its deltas, so it cannot hide the newer
    /// readings that follow it.
    pub fn stamped_ahead(&self, tolerance_ms: i64) -> bool {
        self.reading.ts_ms > self.archived_at_ms.saturating_add(tolerance_ms)
    }
}

/// One record of the archive's global sequence, as [`crate::archive::Archive::log_after`]
/// reads it: the stored reading, or why it cannot be read.
pub type LogEntry = Result<StoredReading, UnreadableRecord>;

/// A record of the global sequence whose stored value cannot be read.
#[derive(Debug)]
pub struct UnreadableRecord {
    /// Its sequence number.
    pub seq: u64,
    /// The meter and channel it belongs to, when its key says so.
    pub register: Option<(String, String)>,
    /// What is wrong.
    pub error: super::ArchiveError,
}

/// A frame the codec could not decode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantineEntry {
    /// The raw frame, with its journal sequence number.
    pub frame: RawFrame,
    /// Why it could not be decoded.
    pub reason: String,
    /// When it was quarantined (or last re-decoded without success).
    pub quarantined_at_ms: i64,
}

/// What the archive knows about one meter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceSummary {
    /// Meter identity.
    pub device: String,
    /// Source of the last frame that carried a reading of it.
    pub source: String,
    /// Earliest device timestamp archived.
    pub first_ts_ms: i64,
    /// Latest device timestamp archived, of a reading not stamped ahead of
    /// the host's clock ([`StoredReading::stamped_ahead`]).
    pub last_ts_ms: i64,
    /// Latest host receive time of a frame carrying one of its readings
    /// (duplicates included: the meter was heard).
    pub last_received_at_ms: i64,
    /// Its channels, sorted.
    pub channels: Vec<String>,
    /// Number of distinct readings (natural keys) archived; conflicts are
    /// not counted.
    pub readings: u64,
    /// The communication module it is read through: the module whose
    /// telemetry came in the same frame as its latest reading.
    #[serde(default)]
    pub module: Option<String>,
    /// The model its codec reported (a `model` in the decoded fields, see
    /// `docs/plugins.md`), the latest one.
    #[serde(default)]
    pub model: Option<String>,
    /// Usual time between two of its frames carrying newer readings, ms,
    /// from the host's receive times; `None` until two were seen.
    #[serde(default)]
    pub period_ms: Option<i64>,
    /// Device time minus host time in its frame received last (the newest
    /// reading of it), ms: how far its clock runs ahead (positive) or
    /// behind; a back-filled frame reads as behind.
    #[serde(default)]
    pub clock_offset_ms: Option<i64>,
}

/// The shortest gap between two frames that teaches a meter's period, ms.
pub const MIN_PERIOD_MS: i64 = 1000;

impl DeviceSummary {
    /// Takes in a reading stamped `ts_ms` of a frame received at
    /// `received_at_ms` (before the summary's times move with it): the
    /// receive time, the period (a frame after a gap, carrying a reading
    /// newer than any before, at least [`MIN_PERIOD_MS`] after the last:
    /// back-fill and bursts teach none) and the clock offset.
    pub fn heard(&mut self, received_at_ms: i64, ts_ms: i64) {
        let offset = ts_ms - received_at_ms;
        if received_at_ms > self.last_received_at_ms {
            let gap = received_at_ms - self.last_received_at_ms;
            // Frames less than a second apart are one burst (a device sending
            // what it stored), not its period.
            if self.readings > 0 && ts_ms > self.last_ts_ms && gap >= MIN_PERIOD_MS {
                // A slow moving average: one odd gap does not move it much.
                self.period_ms = Some(self.period_ms.map_or(gap, |p| (p * 7 + gap) / 8));
            }
            self.last_received_at_ms = received_at_ms;
            self.clock_offset_ms = Some(offset);
        } else if received_at_ms == self.last_received_at_ms {
            // Another reading of the same frame: its newest counts.
            self.clock_offset_ms = Some(self.clock_offset_ms.map_or(offset, |o| o.max(offset)));
        }
    }
}

/// Accounting counters of one source. At rest, at frame level:
/// `received = archived + duplicate + quarantined + rejected`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceCounters {
    /// Journal records of the source (frames and rejections).
    pub received: u64,
    /// Frames with at least one new or conflicting reading, or none at all.
    pub archived: u64,
    /// Frames whose readings were all duplicates.
    pub duplicate: u64,
    /// Frames in quarantine.
    pub quarantined: u64,
    /// Rejected inputs.
    pub rejected: u64,
    /// Readings archived under a new natural key.
    pub readings_new: u64,
    /// Readings dropped as exact repeats.
    pub readings_duplicate: u64,
    /// Readings kept and flagged as conflicts.
    pub readings_conflict: u64,
    /// Telemetry records received.
    pub telemetry: u64,
    /// Frames that left quarantine through a re-decode.
    pub redecoded: u64,
}

impl SourceCounters {
    /// Whether `received = archived + duplicate + quarantined + rejected`.
    pub fn balanced(&self) -> bool {
        self.received == self.archived + self.duplicate + self.quarantined + self.rejected
    }

    /// Add `other` to these counters (totals over sources).
    pub fn add(&mut self, other: &SourceCounters) {
        self.received += other.received;
        self.archived += other.archived;
        self.duplicate += other.duplicate;
        self.quarantined += other.quarantined;
        self.rejected += other.rejected;
        self.readings_new += other.readings_new;
        self.readings_duplicate += other.readings_duplicate;
        self.readings_conflict += other.readings_conflict;
        self.telemetry += other.telemetry;
        self.redecoded += other.redecoded;
    }
}

/// A reading query. Results are ordered by device, channel, timestamp, and
/// include conflict records (flagged) right after the original.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadingQuery {
    /// Only this device.
    pub device: Option<String>,
    /// Only this channel (a scan over all devices when `device` is `None`).
    pub channel: Option<String>,
    /// Device timestamps from this one, inclusive.
    pub from_ms: Option<i64>,
    /// Device timestamps before this one (exclusive).
    pub to_ms: Option<i64>,
    /// At most this many records.
    pub limit: usize,
}

/// The result of [`crate::archive::Archive::apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplySummary {
    /// Highest journal sequence number applied, this call or before.
    pub applied_through: u64,
    /// Records this call archived (new readings and conflicts), in global
    /// sequence order, for the live bus: the log blocks as written.
    pub new_readings: Vec<super::log::ReadingBlock>,
}

impl ApplySummary {
    /// The records this call archived, in global sequence order.
    pub fn readings(&self) -> impl Iterator<Item = &StoredReading> + '_ {
        self.new_readings.iter().flat_map(|block| block.iter())
    }
}

/// The result of [`crate::archive::Archive::redecode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedecodeOutcome {
    /// The codec still cannot decode it (or its readings are unusable).
    StillQuarantined(String),
    /// Decoded: how its readings were classified.
    Decoded {
        /// Readings archived under a new natural key.
        new: usize,
        /// Exact repeats, dropped.
        duplicate: usize,
        /// Other values under an existing key, kept and flagged.
        conflict: usize,
    },
}

/// A rejected input as kept by the archive (the last
/// [`crate::archive::REJECTIONS_KEPT_PER_SOURCE`] per source).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRejection {
    /// Its journal sequence number.
    pub seq: u64,
    /// The rejection.
    pub rejection: Rejection,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> DeviceSummary {
        DeviceSummary {
            device: "m1".into(),
            source: "s".into(),
            first_ts_ms: 0,
            last_ts_ms: 0,
            last_received_at_ms: 0,
            channels: vec![],
            readings: 0,
            module: None,
            model: None,
            period_ms: None,
            clock_offset_ms: None,
        }
    }

    #[test]
    fn a_meter_learns_its_period_from_live_frames_only_and_its_clock_offset_from_the_last() {
        let mut s = summary();
        let minute = 60_000;
        // (received, stamped) per frame; the summary moves as the archive moves it.
        for (received, stamped) in [(0, -500), (minute, minute - 500), (2 * minute, 2 * minute - 400)] {
            s.heard(received, stamped);
            s.readings += 1;
            s.last_ts_ms = s.last_ts_ms.max(stamped);
        }
        assert_eq!((s.period_ms, s.clock_offset_ms), (Some(minute), Some(-400)));
        // A burst of stored frames, and a back-filled old one: no period from them.
        s.heard(2 * minute + 10, 2 * minute + 5);
        s.last_ts_ms = 2 * minute + 5;
        s.heard(3 * minute, 0);
        assert_eq!(s.period_ms, Some(minute));
        assert_eq!(s.clock_offset_ms, Some(-3 * minute), "a back-filled frame reads as behind");
        // Two readings of one frame: the newest tells the offset.
        s.heard(4 * minute, 4 * minute + 600_000);
        s.heard(4 * minute, 4 * minute - 100);
        assert_eq!(s.clock_offset_ms, Some(600_000));
    }
}
