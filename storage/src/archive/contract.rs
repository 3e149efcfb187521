//! The [`Archive`] trait: what the rest of the host needs from storage, so
//! the engine (sled today) can be swapped.

use std::collections::BTreeMap;

use meterhub_plugin_api::RawFrame;

use super::activity::ModuleActivity;

use super::error::ArchiveError;
use super::log::LogBatch;
use super::model::{
    ApplyItem, ApplySummary, DeviceSummary, QuarantineEntry, ReadingQuery, RedecodeOutcome, SourceCounters,
    StoredReading, StoredRejection, Verdict,
};

/// Readings by natural key, the global reading sequence, raw frames,
/// quarantine, counters and consumer cursors.
///
/// Implementations are thread-safe: reads run concurrently; writes
/// (`apply`, `redecode`, `set_cursor`) are serialized internally.
pub trait Archive: Send + Sync + 'static {
    /// Highest journal sequence number applied (0 if none).
    fn applied_through(&self) -> Result<u64, ArchiveError>;

    /// Applies journal records with their verdicts as one atomic change;
    /// items with a sequence number not above [`Archive::applied_through`]
    /// are skipped, so replaying after a crash is idempotent.
    fn apply(&self, items: Vec<ApplyItem>) -> Result<ApplySummary, ArchiveError>;

    /// Flushes to disk. The journal stays the durability point: release
    /// journal segments only after this returned.
    fn flush(&self) -> Result<(), ArchiveError>;

    /// Reopens the storage engine after writes failed (a full disk): sled
    /// keeps failing every operation after one I/O error until it is
    /// reopened. What had not been flushed is gone afterwards and must be
    /// applied again (from the journal records past [`Archive::applied_through`]).
    fn recover(&self) -> Result<(), ArchiveError>;

    /// Where the archive keeps its data, for messages.
    fn location(&self) -> &std::path::Path;

    /// Damage found in its files before it was opened ([`crate::integrity`]).
    fn damage(&self) -> Option<crate::integrity::Damage>;

    /// Closes it for good at a clean stop and seals its files, so the next
    /// start can tell damage from a clean stop. Nothing may use it after.
    fn close(&self);

    /// Applies a new verdict to an archived frame (a fixed codec). A
    /// quarantined frame that now decodes leaves quarantine and its frame
    /// counters move accordingly; for other frames only the readings are
    /// applied (new, duplicate or conflict as usual).
    fn redecode(&self, frame_seq: u64, verdict: Verdict) -> Result<RedecodeOutcome, ArchiveError>;

    /// The raw frame with journal sequence number `seq`.
    fn frame(&self, seq: u64) -> Result<Option<RawFrame>, ArchiveError>;

    /// The raw frames with the journal sequence numbers `seqs` (ascending),
    /// by seq; those not held are absent. Each stored block is read once,
    /// so many frames cost about what their blocks do.
    fn frames(&self, seqs: &[u64]) -> Result<BTreeMap<u64, RawFrame>, ArchiveError>;

    /// Raw frames the host received in `[from_ms, to_ms)`, by receive time.
    fn frames_received_between(&self, from_ms: i64, to_ms: i64) -> Result<Vec<RawFrame>, ArchiveError>;

    /// Up to `limit` quarantined frames, oldest first.
    fn quarantine(&self, limit: usize) -> Result<Vec<QuarantineEntry>, ArchiveError>;

    /// Up to `limit` of the last rejected inputs of `source`, newest first.
    fn rejections(&self, source: &str, limit: usize) -> Result<Vec<StoredRejection>, ArchiveError>;

    /// Every known device, ordered by identity.
    fn devices(&self) -> Result<Vec<DeviceSummary>, ArchiveError>;

    /// One device.
    fn device(&self, device: &str) -> Result<Option<DeviceSummary>, ArchiveError>;

    /// The latest reading (by device timestamp) of each channel of `device`,
    /// ordered by channel; the original, not a conflict record; never one
    /// stamped ahead of the host's clock ([`StoredReading::stamped_ahead`])
    /// while an earlier one is not.
    fn latest(&self, device: &str) -> Result<Vec<StoredReading>, ArchiveError>;

    /// How far a device clock may run ahead of the host's before its
    /// readings are flagged, ms.
    fn device_clock_tolerance_ms(&self) -> i64;

    /// Readings matching `q`, ordered by device, channel, timestamp;
    /// conflict records included and flagged.
    fn readings(&self, q: &ReadingQuery) -> Result<Vec<StoredReading>, ArchiveError>;

    /// The activity of communication module `module`, with its latest
    /// telemetry (by module timestamp).
    fn module(&self, module: &str) -> Result<Option<ModuleActivity>, ArchiveError>;

    /// Every communication module's activity, ordered by identity.
    fn modules(&self) -> Result<Vec<ModuleActivity>, ArchiveError>;

    /// Counters of every source.
    fn counters(&self) -> Result<BTreeMap<String, SourceCounters>, ArchiveError>;

    /// Up to `limit` records of the global sequence after `after_seq`, in
    /// order, shared with the archive's cache of the newest blocks (a
    /// follower borrows them; [`LogBatch::into_entries`] copies). A record whose stored value cannot be read is an
    /// [`super::UnreadableRecord`] in its place, so one damaged value does not stop
    /// a follower; the error is for a failing scan.
    fn log_after(&self, after_seq: u64, limit: usize) -> Result<LogBatch, ArchiveError>;

    /// The highest sequence number of the global reading sequence so far
    /// (0 when nothing was archived): where a follower starting now begins.
    fn log_head(&self) -> Result<u64, ArchiveError>;

    /// The resume marks of `source`: per key, the highest `resume.mark` its
    /// driver put on a frame that was applied. Handed to new instances of
    /// the driver (see `docs/plugins.md`, "Resume marks").
    fn resume_marks(&self, source: &str) -> Result<BTreeMap<String, i64>, ArchiveError>;

    /// The position of consumer `name` in the global sequence.
    fn cursor(&self, name: &str) -> Result<Option<u64>, ArchiveError>;

    /// Moves consumer `name` to `seq` (durable after the next [`Archive::flush`]
    /// or sled's periodic flush, within about half a second).
    fn set_cursor(&self, name: &str, seq: u64) -> Result<(), ArchiveError>;
}
