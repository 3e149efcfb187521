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
    /// Latest device timestamp archived.
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
    /// sequence order, for the live bus.
    pub new_readings: Vec<StoredReading>,
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
