//! [`Journal`]: opening the journal directory (recovering a torn tail),
//! replaying what the archive has not applied, and starting the writer.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::PathBuf;

use super::codec::decode_entry;
use super::entry::JournalRecord;
use super::error::JournalError;
use super::salvage;
use super::segment::{self, SegmentFile, SeqBounds};
use super::writer::{self, JournalHandle};
use crate::integrity::Damage;

/// Default size after which the writer starts a new segment file: 64 MiB.
pub const DEFAULT_SEGMENT_MAX_BYTES: u64 = 64 * 1024 * 1024;
/// Default largest number of appends in one group commit.
pub const DEFAULT_GROUP_MAX_RECORDS: usize = 4096;
/// Default [`JournalConfig::pipeline_backlog_bytes`]: four of the
/// pipeline's batches, so decoding and applying both have work, and the
/// archive stays within about half a second of the acknowledgements under a
/// flood instead of seconds behind them.
pub const DEFAULT_PIPELINE_BACKLOG_BYTES: u64 = 8 * 1024 * 1024;
/// Default [`JournalConfig::pipeline_backlog_records`].
pub const DEFAULT_PIPELINE_BACKLOG_RECORDS: usize = 65_536;
/// Name of the lock file that keeps two processes out of one journal.
pub const LOCK_FILE_NAME: &str = "LOCK";

/// Where and how the journal writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalConfig {
    /// Directory of the segment files; created if missing.
    pub dir: PathBuf,
    /// A new segment file is started once the active one holds this many bytes.
    pub segment_max_bytes: u64,
    /// Largest number of appends committed by one write and `fdatasync`.
    pub group_max_records: usize,
    /// Most committed records waiting for the pipeline. When the archive
    /// falls this far behind, the writer waits, so acknowledgements slow down
    /// to the archive's pace instead of memory growing without bound.
    pub pipeline_backlog_records: usize,
    /// Most bytes of committed records waiting for the pipeline (see
    /// [`JournalRecord::backlog_bytes`]); the same backpressure, so a flood
    /// of large frames holds no more memory than this.
    pub pipeline_backlog_bytes: u64,
}

impl JournalConfig {
    /// A configuration for `dir` with the default limits.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        JournalConfig {
            dir: dir.into(),
            segment_max_bytes: DEFAULT_SEGMENT_MAX_BYTES,
            group_max_records: DEFAULT_GROUP_MAX_RECORDS,
            pipeline_backlog_records: DEFAULT_PIPELINE_BACKLOG_RECORDS,
            pipeline_backlog_bytes: DEFAULT_PIPELINE_BACKLOG_BYTES,
        }
    }
}

/// An opened journal, before its writer starts: replay from it, then
/// [`Journal::start`] it.
#[derive(Debug)]
pub struct Journal {
    pub(super) config: JournalConfig,
    /// Ordered by first seq; never empty; the last one is the active segment.
    pub(super) segments: Vec<SegmentFile>,
    /// Length of the intact contents of the active segment.
    pub(super) active_len: u64,
    /// The sequence number the next append gets.
    pub(super) next_seq: u64,
    /// Held (locked) for as long as the journal or its writer lives.
    pub(super) lock: File,
    /// Segments found damaged and repaired by [`Journal::open`].
    pub(super) damage: Vec<Damage>,
    /// Test hook: the number of upcoming group writes that fail.
    #[cfg(test)]
    pub(super) injected_write_faults: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Journal {
    /// Opens (creating if needed) the journal directory.
    ///
    /// `next_seq_floor` is the archive's applied-through sequence number plus
    /// one: the next assigned sequence number is the larger of it and the last
    /// sequence number in the segments plus one. Sequence numbers start at 1.
    /// A torn record at the tail of the last segment (a crash mid-write) is
    /// truncated away with a warning naming the file and offset; damage
    /// anywhere else in a segment the archive still needs is repaired and
    /// reported by [`Journal::damage`] ([`salvage`]).
    pub fn open(config: JournalConfig, next_seq_floor: u64) -> Result<Journal, JournalError> {
        let dir = config.dir.clone();
        std::fs::create_dir_all(&dir).map_err(JournalError::io(&dir, "create directory"))?;
        let lock_path = dir.join(LOCK_FILE_NAME);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(JournalError::io(&lock_path, "open"))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(JournalError::Locked { path: lock_path }),
            Err(TryLockError::Error(source)) => return Err(JournalError::Io { path: lock_path, op: "lock", source }),
        }

        let floor = next_seq_floor.max(1);
        let mut segments = segment::list_segments(&dir)?;
        let mut damage = Vec::new();
        let (active_len, next_seq) = match segments.last() {
            None => {
                let first = SegmentFile::new(&dir, floor);
                File::options()
                    .create_new(true)
                    .write(true)
                    .open(&first.path)
                    .map_err(JournalError::io(&first.path, "create"))?;
                segment::sync_dir(&dir)?;
                segments.push(first);
                (0, floor)
            }
            Some(last) => {
                let repaired = salvage::repair(&dir, &segments, floor)?;
                damage = repaired.damage;
                // An empty active segment was named after the next seq when
                // it was created, so its name is a floor too.
                let after_last = repaired.active_next_seq.unwrap_or(last.first_seq);
                (repaired.active_len, after_last.max(floor))
            }
        };
        Ok(Journal {
            config,
            segments,
            active_len,
            next_seq,
            lock,
            damage,
            #[cfg(test)]
            injected_write_faults: Default::default(),
        })
    }

    /// The segments [`Journal::open`] found damaged: each kept as found,
    /// rewritten with its intact records, and described (which sequence
    /// numbers are lost).
    pub fn damage(&self) -> &[Damage] {
        &self.damage
    }

    /// The sequence number the next append will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Every record with a sequence number above `after_seq`, in order.
    ///
    /// Damage ([`Journal::open`] repaired what it found, so this is damage
    /// since, or a record that passes its checksum but cannot be decoded) is
    /// a [`JournalError::Corrupt`] naming the file and byte offset.
    pub fn replay(&self, after_seq: u64) -> Result<Vec<JournalRecord>, JournalError> {
        let mut out = Vec::new();
        let mut last_seq = 0u64;
        for (i, seg) in self.segments.iter().enumerate() {
            let before = self.segments.get(i + 1).map(|next| next.first_seq);
            if before.is_some_and(|before| before <= after_seq.saturating_add(1)) {
                // Every record here is below `before`, so at most `after_seq`.
                continue;
            }
            let mut data = segment::read_segment(&seg.path)?;
            if before.is_none() {
                data.truncate(usize::try_from(self.active_len).unwrap_or(usize::MAX));
            }
            let bounds = SeqBounds { after: last_seq.max(seg.first_seq.saturating_sub(1)), before };
            for record in segment::scan(&seg.path, &data, bounds)? {
                last_seq = record.seq;
                if record.seq <= after_seq {
                    continue;
                }
                let mut entry = decode_entry(&data[record.payload.clone()], record.seq).map_err(|failure| {
                    JournalError::Corrupt { path: seg.path.clone(), offset: record.offset, reason: failure.0 }
                })?;
                entry.set_seq(record.seq);
                out.push(JournalRecord { seq: record.seq, entry });
            }
        }
        Ok(out)
    }

    /// At a clean stop, once the archive has flushed through
    /// `applied_through`: deletes every segment whose records are all
    /// applied, the last one included, so a stopped host keeps no journal
    /// the archive already holds. The next open starts a fresh segment at
    /// its floor (the archive's applied-through plus one). Returns the
    /// number of segments deleted.
    pub fn discard_applied(self, applied_through: u64) -> Result<usize, JournalError> {
        let mut removed = 0;
        for (i, segment) in self.segments.iter().enumerate() {
            // Its records are below the next segment's first, or the next seq.
            let end = self.segments.get(i + 1).map_or(self.next_seq, |next| next.first_seq);
            if end.saturating_sub(1) > applied_through {
                break;
            }
            std::fs::remove_file(&segment.path).map_err(JournalError::io(&segment.path, "delete"))?;
            removed += 1;
        }
        if removed > 0 {
            segment::sync_dir(&self.config.dir)?;
        }
        Ok(removed)
    }

    /// Starts the group-commit writer on a dedicated thread.
    ///
    /// Returns the handle sessions append through, and the receiver of
    /// committed records: every record arrives there after it is durable, in
    /// sequence order.
    pub fn start(self) -> (JournalHandle, tokio::sync::mpsc::Receiver<JournalRecord>) {
        writer::start(self)
    }
}
