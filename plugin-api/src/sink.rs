//! The sink contract: a batch of archived readings in, a verdict out.

use crate::model::Reading;

/// A reading as the archive holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedReading {
    /// Archive sequence number.
    pub seq: u64,
    /// Driver instance it came from.
    pub source: String,
    /// The reading.
    pub reading: Reading,
    /// Same natural key as an earlier reading with another value.
    pub conflict: bool,
}

/// The verdict on a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkOutcome {
    /// Written; the cursor advances past the batch.
    Ok,
    /// Try the whole batch again later.
    Retry {
        /// Why.
        reason: String,
        /// How long to wait, milliseconds.
        after_ms: u32,
    },
    /// The batch can never be written; logged and counted.
    Reject(String),
}
