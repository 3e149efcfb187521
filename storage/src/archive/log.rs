//! The archive's global sequence as its followers read it: blocks of
//! consecutive readings shared between the writer, the block cache, the
//! live bus and every follower, so a reading is not copied once per reader.

use std::ops::Range;
use std::sync::Arc;

use super::model::{LogEntry, StoredReading, UnreadableRecord};

/// Consecutive readings of the global sequence (a log block or a part of
/// one), shared: cloning it clones a pointer.
pub type ReadingBlock = Arc<[StoredReading]>;

/// One record of a [`LogBatch`]: the stored reading, or why it cannot be read.
pub type LogItem<'a> = Result<&'a StoredReading, &'a UnreadableRecord>;

/// A stretch of the global sequence, in order, as
/// [`crate::archive::Archive::log_after`] reads it.
#[derive(Debug, Default)]
pub struct LogBatch {
    parts: Vec<Part>,
    len: usize,
}

#[derive(Debug)]
enum Part {
    /// `block[range]`, readable.
    Shared(ReadingBlock, Range<usize>),
    /// Records read one by one (a damaged block's rebuilt readings and what
    /// could not be found again).
    Owned(Vec<LogEntry>),
}

impl LogBatch {
    /// Appends `block[range]`.
    pub(crate) fn push_shared(&mut self, block: ReadingBlock, range: Range<usize>) {
        if range.is_empty() {
            return;
        }
        self.len += range.len();
        self.parts.push(Part::Shared(block, range));
    }

    /// Appends records read one by one.
    pub(crate) fn push_owned(&mut self, entries: Vec<LogEntry>) {
        if entries.is_empty() {
            return;
        }
        self.len += entries.len();
        self.parts.push(Part::Owned(entries));
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds no record.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The records, in sequence order, borrowed.
    pub fn iter(&self) -> impl Iterator<Item = LogItem<'_>> + '_ {
        self.parts.iter().flat_map(|part| -> Box<dyn Iterator<Item = LogItem<'_>> + '_> {
            match part {
                Part::Shared(block, range) => Box::new(block[range.clone()].iter().map(Ok)),
                Part::Owned(entries) => Box::new(entries.iter().map(Result::as_ref)),
            }
        })
    }

    /// The readable records, in sequence order, borrowed.
    pub fn readings(&self) -> impl Iterator<Item = &StoredReading> + '_ {
        self.iter().filter_map(Result::ok)
    }

    /// The sequence number of its last record: where a follower's cursor
    /// goes once it has taken the batch.
    pub fn last_seq(&self) -> Option<u64> {
        match self.parts.last()? {
            Part::Shared(block, range) => Some(block[range.end - 1].seq),
            Part::Owned(entries) => entries.last().map(|e| e.as_ref().map_or_else(|u| u.seq, |r| r.seq)),
        }
    }

    /// The records as owned values (the readable ones copied), for a
    /// follower that keeps them.
    pub fn into_entries(self) -> Vec<LogEntry> {
        let mut out = Vec::with_capacity(self.len);
        for part in self.parts {
            match part {
                Part::Shared(block, range) => out.extend(block[range].iter().cloned().map(Ok)),
                Part::Owned(entries) => out.extend(entries),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::ArchiveError;
    use meterhub_plugin_api::{Reading, ReadingKind};

    fn stored(seq: u64) -> StoredReading {
        StoredReading {
            seq,
            frame_seq: seq,
            source: "s".into(),
            reading: Reading {
                device: "d".into(),
                channel: "c".into(),
                ts_ms: seq as i64,
                value: seq.into(),
                unit: String::new(),
                kind: ReadingKind::Instantaneous,
            },
            conflict: false,
            archived_at_ms: 0,
        }
    }

    #[test]
    fn a_batch_reads_its_shared_and_owned_parts_in_order_and_skips_empty_ones() {
        let block: ReadingBlock = (1..=4).map(stored).collect();
        let mut batch = LogBatch::default();
        assert_eq!((batch.len(), batch.last_seq()), (0, None));
        batch.push_shared(block.clone(), 1..3);
        batch.push_shared(block, 3..3);
        batch.push_owned(vec![
            Ok(stored(4)),
            Err(UnreadableRecord {
                seq: 5,
                register: None,
                error: ArchiveError::Corrupt { key: "k".into(), reason: "r".into() },
            }),
        ]);
        batch.push_owned(Vec::new());
        let seqs: Vec<u64> = batch.iter().map(|e| e.map_or_else(|u| u.seq, |r| r.seq)).collect();
        assert_eq!(seqs, vec![2, 3, 4, 5]);
        assert_eq!(batch.readings().map(|r| r.seq).collect::<Vec<_>>(), vec![2, 3, 4]);
        assert_eq!((batch.len(), batch.last_seq()), (4, Some(5)));
        let owned = batch.into_entries();
        assert_eq!(owned.len(), 4);
        assert!(owned[3].is_err());
    }
}
