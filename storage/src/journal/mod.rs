//! The journal: the raw-first commit point of the data path.
//!
//! Every frame a driver hands over (and every input the host rejected) is
//! appended here, in a directory of append-only segment files, before anything
//! is acknowledged to a device or upstream server. A dedicated writer thread
//! batches whatever appends are queued into one group, writes the group with
//! one buffered write, calls `fdatasync` once, and only then completes each
//! append with a [`Receipt`] and forwards the records to the pipeline, which
//! decodes them and applies them to the archive. On start-up the host replays
//! whatever the archive has not applied yet.
//!
//! Architecture invariant: a [`Receipt`] exists only for a record whose bytes
//! and the `fdatasync` of its group completed; it is the only proof a driver
//! session may use to acknowledge data.
//!
//! Files, in data-flow order:
//! - [`entry`] holds what is journaled ([`Entry`], [`Rejection`], [`JournalRecord`], [`Receipt`]);
//! - [`codec`] holds the on-disk record framing and the binary encoding of entries;
//! - [`segment`] handles segment files: naming, listing, scanning;
//! - [`salvage`] repairs damaged segments at open and reports what was lost;
//! - [`open`] holds [`Journal`]: open, replay, start;
//! - [`writer`] is the group-commit writer thread and its [`JournalHandle`];
//! - [`stats`] holds commit latency and backlog counters for `/metrics`;
//! - [`error`] holds [`JournalError`].

pub mod codec;
pub mod entry;
pub mod error;
pub mod open;
pub mod salvage;
pub mod segment;
pub mod stats;
pub mod writer;

#[cfg(test)]
mod tests;

pub use entry::{Entry, JournalRecord, Receipt, Rejection};
pub use error::JournalError;
pub use open::{Journal, JournalConfig};
pub use stats::{JournalStats, StatsSnapshot};
pub use writer::JournalHandle;
