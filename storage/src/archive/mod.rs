//! The archive: readings by natural key `(device, channel, ts_ms)`, the
//! global reading sequence that every consumer follows by a durable cursor,
//! raw frames, quarantine, per-source accounting counters and telemetry.
//!
//! The pipeline applies committed journal records with the codec's verdict
//! ([`Archive::apply`]); each call is one atomic change, and records already
//! applied are skipped, so replaying the journal after a crash is harmless.
//! The journal, not the archive, is the durability point: segments are
//! released only after [`Archive::flush`].
//!
//! Architecture invariant: per source, at rest,
//! `received = archived + duplicate + quarantined + rejected` (frames).
//! Architecture invariant: an archived reading is never overwritten; another
//! value under the same natural key is kept as a flagged conflict record.
//!
//! Files:
//! - [`contract`] holds the [`Archive`] trait, the seam to swap the engine;
//! - [`model`] holds the data types going in and out;
//! - [`sled_archive`] holds [`SledArchive`], reads and the trait implementation;
//! - [`apply`] is the write transaction: classification, counters, one atomic batch;
//! - [`blocks`] is the log blocks (the global sequence) and the frame blocks;
//! - [`chunks`] is the readings by series: chunks on disk, heads in memory, sealing;
//! - [`codec`] is the compact, compressed encoding of lists of readings;
//! - `file_sync` makes sled's files durable after its flush;
//! - [`migrate`] converts an archive of layout 1;
//! - [`keys`] is the key layout of the single sled tree;
//! - [`value`] is the archive's values in the sealed envelope;
//! - [`view`] holds the JSON shapes of its records, as the API shows them;
//! - [`error`] holds [`ArchiveError`].

pub mod activity;
mod apply;
mod blocks;
pub(crate) mod chunks;
mod codec;
pub mod contract;
pub mod error;
mod file_sync;
pub(crate) mod keys;
pub mod log;
pub mod migrate;
pub mod model;
pub mod sled_archive;
pub(crate) mod value;
pub mod view;

#[cfg(test)]
pub(crate) mod tests;

pub use activity::{FrameCounts, ModuleActivity};
pub use apply::REJECTIONS_KEPT_PER_SOURCE;
pub use contract::Archive;
pub use error::ArchiveError;
pub use log::{LogBatch, LogItem, ReadingBlock};
pub use migrate::MigrationReport;
pub use model::{
    ApplyItem, ApplySummary, DEVICE_CLOCK_TOLERANCE_MS, DeviceSummary, LogEntry, QuarantineEntry, ReadingQuery,
    RedecodeOutcome, SourceCounters, StoredReading, StoredRejection, UnreadableRecord, Verdict,
};
pub use sled_archive::{ArchiveOptions, HEAD_READINGS, SledArchive};
