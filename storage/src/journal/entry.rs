//! What the journal records: committed raw frames and rejected inputs, and
//! the [`Receipt`] that proves a record is durable.

use meterhub_plugin_api::{RawFrame, Transport};
use serde::{Deserialize, Serialize};

/// The most input bytes a [`Rejection`] keeps; longer input is cut on append.
pub const REJECTION_INPUT_MAX_BYTES: usize = 4096;

/// Input the host or a driver refused (malformed, unauthorized, oversized),
/// journaled so that it is counted and can be inspected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// Driver instance (source) the input was meant for.
    pub source: String,
    /// Remote peer (address or URL).
    pub peer: String,
    /// When the host received it, milliseconds since the Unix epoch, UTC.
    pub received_at_ms: i64,
    /// How it arrived.
    pub transport: Transport,
    /// Why it was refused, naming the offending part.
    pub reason: String,
    /// The offending input; at most [`REJECTION_INPUT_MAX_BYTES`] are kept.
    pub input: Vec<u8>,
}

/// One journaled entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A raw frame to decode and archive. Its `seq` is ignored on append and
    /// set to the assigned sequence number on replay and forwarding.
    Frame(RawFrame),
    /// Input that was refused; counted as `rejected` for its source.
    Rejected(Rejection),
}

impl Entry {
    /// The source (driver instance) the entry belongs to.
    pub fn source(&self) -> &str {
        match self {
            Entry::Frame(frame) => &frame.source,
            Entry::Rejected(rejection) => &rejection.source,
        }
    }

    /// Sets the journal sequence number where the entry carries one.
    pub(crate) fn set_seq(&mut self, seq: u64) {
        if let Entry::Frame(frame) = self {
            frame.seq = seq;
        }
    }
}

/// A durable journal record: an entry and the sequence number it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalRecord {
    /// Global journal sequence number, starting at 1, strictly increasing.
    pub seq: u64,
    /// The entry; for [`Entry::Frame`] the frame's `seq` equals `self.seq`.
    pub entry: Entry,
}

impl JournalRecord {
    /// What the record weighs in the pipeline's backlog: its payload (the
    /// frame's bytes or the rejected input) and a fixed overhead. The
    /// journal adds it when it hands the record over and the pipeline takes
    /// the same amount off.
    pub fn backlog_bytes(&self) -> u64 {
        let payload = match &self.entry {
            Entry::Frame(frame) => frame.payload.len(),
            Entry::Rejected(rejection) => rejection.input.len(),
        };
        payload as u64 + 256
    }
}

/// Proof that a record is on stable storage: its bytes were written and the
/// `fdatasync` of its group completed. Only the journal constructs one.
///
/// A driver reply that acknowledges data may only be sent once a `Receipt`
/// for that data exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Receipt {
    seq: u64,
}

impl Receipt {
    /// Only the journal's writer creates receipts, after the group's sync.
    pub(super) fn new(seq: u64) -> Self {
        Receipt { seq }
    }

    /// The sequence number of the durable record.
    pub fn seq(&self) -> u64 {
        self.seq
    }
}
