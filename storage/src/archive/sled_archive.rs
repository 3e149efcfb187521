//! [`SledArchive`]: the [`Archive`] on one sled tree (see [`super::keys`]
//! for the layout): readings in log blocks ([`super::blocks`]) and series
//! chunks with heads in memory ([`super::chunks`]), frames in frame blocks,
//! summaries beside them. Writes go through one [`Txn`] at a time and land
//! as one atomic batch; reads see the chunks and the heads together.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use meterhub_plugin_api::RawFrame;

use super::activity::ModuleActivity;

use super::apply::{Committed, QuarantineMark, Tally, Txn, checked};
use super::blocks::{self, FrameBlockHeader};
use super::chunks::{self, Heads, SeriesKey};
use super::contract::Archive;
use super::error::ArchiveError;
use super::file_sync::FileSync;
use super::keys::{self, COUNTERS, CURSOR, DEVICE, QUARANTINE, TELEMETRY};
use super::log::{LogBatch, ReadingBlock};
use super::model::{
    ApplyItem, ApplySummary, DeviceSummary, LogEntry, QuarantineEntry, ReadingQuery, RedecodeOutcome, SourceCounters,
    StoredReading, StoredRejection, UnreadableRecord, Verdict,
};
use super::value::{seal_u64, unseal_json, unseal_rejection, unseal_u64};
use crate::clock::now_ms;
use crate::journal::Entry;
use crate::seal::display_key;
use crate::sled_db::{OpenFailure, SledDb};

/// Limits of the archive's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveOptions {
    /// sled's page cache, bytes.
    pub cache_bytes: u64,
    /// Readings the series heads hold in memory before they are sealed
    /// into chunks (about 90 bytes each).
    pub head_readings: usize,
    /// How far a device clock may run ahead of the host's, ms
    /// ([`super::DEVICE_CLOCK_TOLERANCE_MS`] by default).
    pub device_clock_tolerance_ms: i64,
}

impl Default for ArchiveOptions {
    fn default() -> Self {
        ArchiveOptions {
            cache_bytes: CACHE_CAPACITY_BYTES,
            head_readings: HEAD_READINGS,
            device_clock_tolerance_ms: super::DEVICE_CLOCK_TOLERANCE_MS,
        }
    }
}

/// Default of [`ArchiveOptions::head_readings`].
pub const HEAD_READINGS: usize = 100_000;

/// Readings of the newest log blocks kept decoded for the followers (the
/// blocks just written, or read): followers that keep up read them without
/// touching the database, and share them instead of copying.
const LOG_CACHE_READINGS: usize = 16 * blocks::LOG_BLOCK_READINGS;

/// The newest decoded log blocks, oldest first.
#[derive(Debug, Default)]
struct LogCache {
    blocks: VecDeque<ReadingBlock>,
    readings: usize,
}

impl LogCache {
    /// The block holding `seq`, with its first seq.
    fn holding(&self, seq: u64) -> Option<(u64, ReadingBlock)> {
        self.blocks.iter().find_map(|block| {
            let first = block.first()?.seq;
            (first..first + block.len() as u64).contains(&seq).then(|| (first, block.clone()))
        })
    }

    /// Keeps `block` (once), dropping the oldest beyond [`LOG_CACHE_READINGS`].
    fn keep(&mut self, block: ReadingBlock) {
        let Some(first) = block.first().map(|r| r.seq) else { return };
        if self.blocks.iter().any(|b| b.first().is_some_and(|r| r.seq == first)) {
            return;
        }
        self.readings += block.len();
        self.blocks.push_back(block);
        while self.readings > LOG_CACHE_READINGS && self.blocks.len() > 1 {
            let dropped = self.blocks.pop_front().expect("more than one block");
            self.readings -= dropped.len();
        }
    }

    fn clear(&mut self) {
        self.blocks.clear();
        self.readings = 0;
    }
}

/// The sled-backed archive. `Send + Sync`: share it as `Arc<dyn Archive>`.
#[derive(Debug)]
pub struct SledArchive {
    /// The database, reopened by [`Archive::recover`].
    db: SledDb,
    options: ArchiveOptions,
    /// Serializes write transactions (and seals).
    write_lock: Mutex<()>,
    /// The series heads: readings since the last seal.
    heads: RwLock<Heads>,
    /// The newest decoded log blocks, by first seq; at most
    /// [`LOG_CACHE_READINGS`] readings (and the newest block).
    log_cache: Mutex<LogCache>,
    /// The `fsync` pass after sled's flush.
    file_sync: FileSync,
}

fn corrupt(key: &[u8], reason: impl Into<String>) -> ArchiveError {
    ArchiveError::Corrupt { key: display_key(key), reason: reason.into() }
}

pub use crate::sled_db::LOCK_WAIT;

/// The error of a failed open, naming the path and what to do.
fn open_error(path: &Path, failure: OpenFailure) -> ArchiveError {
    match failure {
        OpenFailure::Engine(source) => {
            ArchiveError::Open { path: path.to_path_buf(), hint: open_hint(&source), source }
        }
        OpenFailure::Panicked(message) => ArchiveError::OpenPanicked { path: path.to_path_buf(), message },
    }
}

/// What the operator should do about an error opening the database.
fn open_hint(error: &sled::Error) -> &'static str {
    match error {
        sled::Error::Io(io) if io.kind() == std::io::ErrorKind::PermissionDenied => {
            "check that the user running meterhub may read and write that directory"
        }
        sled::Error::Io(io) if crate::sled_db::is_lock_error(io) => {
            "another process (probably another meterhub) has it open: stop it, or point archive.path elsewhere"
        }
        sled::Error::Io(_) => "check that the path is a directory on a writable, mounted file system with free space",
        sled::Error::Corruption { .. } => {
            "the database is damaged: move the directory aside (keep it for analysis) and start again; the journal \
             replays what it still holds"
        }
        sled::Error::Unsupported(_) => {
            "the directory was written by an incompatible storage version or is not an archive: point archive.path \
             elsewhere"
        }
        _ => "report this with the log; moving the directory aside and starting again recovers from the journal",
    }
}

/// sled's page cache. Its default (1 GiB) would let the host's memory grow
/// with the archive. What is read again soon is the newest log blocks (the
/// consumers' own block cache holds the one they read) and a chunk being
/// sealed; blocks and chunks are compressed, so little is gained by
/// keeping many. Measured in issue 14 at 20 k readings/s: 64 MiB held
/// 272 MiB of RSS after 5 minutes, 16 MiB 182 MiB.
pub const CACHE_CAPACITY_BYTES: u64 = 16 * 1024 * 1024;

impl SledArchive {
    /// Opens (creating if needed) the database directory `path`. Any failure,
    /// including a panic of the storage engine, is an error naming the path
    /// and what to do.
    ///
    /// A lock held by this very process (a database dropped a moment ago,
    /// whose background threads are still finishing) is waited for, up to
    /// [`LOCK_WAIT`].
    pub fn open(path: &Path) -> Result<Self, ArchiveError> {
        Self::open_with(path, ArchiveOptions::default(), LOCK_WAIT)
    }

    /// The newest original reading of `series` before `before_ms` that was
    /// not stamped ahead of the host's clock, looking back a day, then a
    /// month, then everything (a reading stamped ahead is rare, and the one
    /// before it usually minutes older).
    fn latest_trusted(&self, series: &SeriesKey, before_ms: i64) -> Result<Option<StoredReading>, ArchiveError> {
        const DAY_MS: i64 = 86_400_000;
        let tolerance = self.options.device_clock_tolerance_ms;
        // A trusted reading is stamped at most `tolerance` past the host's clock.
        let to_ms = before_ms.min(now_ms().saturating_add(tolerance).saturating_add(1));
        for back_ms in [DAY_MS, 32 * DAY_MS, i64::MAX] {
            let q = ReadingQuery {
                device: Some(series.0.clone()),
                channel: Some(series.1.clone()),
                from_ms: Some(to_ms.saturating_sub(back_ms)),
                to_ms: Some(to_ms),
                limit: usize::MAX,
            };
            let found = self.readings(&q)?.into_iter().rev().find(|r| !r.conflict && !r.stamped_ahead(tolerance));
            if found.is_some() || back_ms == i64::MAX {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// [`SledArchive::open`], waiting at most `lock_wait` for a lock.
    pub fn open_waiting(path: &Path, lock_wait: std::time::Duration) -> Result<Self, ArchiveError> {
        Self::open_with(path, ArchiveOptions::default(), lock_wait)
    }

    /// [`SledArchive::open`] with `options`, waiting at most `lock_wait` for
    /// a lock. A database of an earlier layout is converted first
    /// ([`super::migrate`]); the series heads are rebuilt from the log.
    pub fn open_with(
        path: &Path,
        options: ArchiveOptions,
        lock_wait: std::time::Duration,
    ) -> Result<Self, ArchiveError> {
        let db = Self::open_db(path, options.cache_bytes, lock_wait)?;
        let archive = SledArchive {
            db,
            options,
            write_lock: Mutex::new(()),
            heads: RwLock::new(Heads::default()),
            log_cache: Mutex::new(LogCache::default()),
            file_sync: FileSync::default(),
        };
        // Fail at start-up, not on the first write, if the markers are damaged.
        archive.applied_through()?;
        if let Some(report) = super::migrate::to_current(&*archive.db()?)? {
            tracing::info!(path = %path.display(), ?report, "archive converted to the current layout");
            archive.flush()?;
        }
        archive.rebuild_heads()?;
        Ok(archive)
    }

    fn open_db(path: &Path, cache_bytes: u64, lock_wait: std::time::Duration) -> Result<SledDb, ArchiveError> {
        SledDb::open(path, cache_bytes, lock_wait).map_err(|failure| open_error(path, failure))
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        self.db.path()
    }

    fn write_guard(&self) -> std::sync::MutexGuard<'_, ()> {
        // The guarded data is `()`: a panic elsewhere cannot leave it inconsistent.
        self.write_lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    // The heads are only changed by the writer after a committed batch: a
    // panic in between leaves them as they were, so a poisoned lock is safe.
    fn heads(&self) -> RwLockReadGuard<'_, Heads> {
        self.heads.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn heads_mut(&self) -> RwLockWriteGuard<'_, Heads> {
        self.heads.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The database (a cheap handle), unless it is being reopened.
    fn db(&self) -> Result<sled::Db, ArchiveError> {
        self.db.get().map_err(ArchiveError::storage("open"))
    }

    fn get(&self, key: &[u8]) -> Result<Option<sled::IVec>, ArchiveError> {
        self.db()?.get(key).map_err(ArchiveError::storage("read"))
    }

    fn scan(
        &self,
        prefix: &[u8],
    ) -> Result<impl DoubleEndedIterator<Item = Result<(sled::IVec, sled::IVec), ArchiveError>>, ArchiveError> {
        Ok(self.db()?.scan_prefix(prefix).map(|item| item.map_err(ArchiveError::storage("scan"))))
    }

    /// Direct access to the tree, for tests that damage stored values.
    #[cfg(any(test, feature = "testing"))]
    pub fn tree(&self) -> sled::Db {
        self.db().expect("the archive is open")
    }

    /// Readings the series heads hold in memory now.
    pub fn head_readings(&self) -> usize {
        self.heads().len
    }

    /// Seals the series heads into chunks now (the archive does it by itself
    /// when the heads are full; a clean shutdown does it so the next start
    /// has less to rebuild).
    pub fn seal(&self) -> Result<(), ArchiveError> {
        let _writing = self.write_guard();
        let mut heads = self.heads_mut();
        self.seal_locked(&mut heads)
    }

    fn seal_locked(&self, heads: &mut Heads) -> Result<(), ArchiveError> {
        if heads.len == 0 {
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        let db = self.db()?;
        let chunks = chunks::seal_heads(&db, heads, &mut batch)?;
        let through = self.log_head()?;
        batch.insert(keys::CHUNKED_THROUGH, seal_u64(keys::CHUNKED_THROUGH, through));
        db.apply_batch(batch).map_err(ArchiveError::storage("write chunks"))?;
        tracing::debug!(readings = heads.len, chunks, through, "series heads sealed");
        heads.clear();
        Ok(())
    }

    /// Fills the heads from the log past the `chunked_through` mark.
    fn rebuild_heads(&self) -> Result<(), ArchiveError> {
        let through = super::apply::read_u64(&*self.db()?, keys::CHUNKED_THROUGH)?.unwrap_or(0);
        let mut after = through;
        loop {
            // Read without the heads' lock: a damaged block is looked for in them.
            let entries = self.log_after(after, 65_536)?;
            let Some(last) = entries.last_seq() else { break };
            after = last;
            for unreadable in entries.iter().filter_map(Result::err) {
                tracing::error!(path = %self.db.path().display(), seq = unreadable.seq, error = %unreadable.error,
                    "an archived reading not yet in its series' chunks cannot be read");
            }
            self.heads_mut().absorb(entries.readings());
        }
        Ok(())
    }

    /// After a committed transaction: the heads take its readings, and are
    /// sealed when full; its log blocks go to the followers' cache.
    fn absorb(&self, committed: Committed) -> Vec<ReadingBlock> {
        let mut heads = self.heads_mut();
        heads.learn(committed.sealed_max);
        heads.absorb(committed.blocks.iter().flat_map(|block| block.iter()));
        if heads.len >= self.options.head_readings
            && let Err(error) = self.seal_locked(&mut heads)
        {
            // The readings stay in the heads and the log; the next apply tries again.
            tracing::error!(path = %self.db.path().display(), %error, "sealing the series heads failed");
        }
        drop(heads);
        let mut cache = self.log_cache();
        for block in &committed.blocks {
            cache.keep(block.clone());
        }
        committed.blocks
    }

    fn log_cache(&self) -> std::sync::MutexGuard<'_, LogCache> {
        // Whole blocks go in and out under the lock: a panic cannot leave it half changed.
        self.log_cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The log block holding `seq`, or the first one after it.
    fn log_blocks_from(
        &self,
        seq: u64,
    ) -> Result<impl Iterator<Item = Result<(sled::IVec, sled::IVec), ArchiveError>>, ArchiveError> {
        let db = self.db()?;
        let at = keys::seq_key(keys::LOG_BLOCK, seq);
        let start = match db.range(vec![keys::LOG_BLOCK]..=at.clone()).next_back() {
            Some(Ok((key, _))) => key.to_vec(),
            _ => at,
        };
        Ok(db.range(start..vec![keys::LOG_BLOCK + 1]).map(|item| item.map_err(ArchiveError::storage("scan log"))))
    }

    /// The readings of a log block, from the cache or decoded; a damaged
    /// block's records one by one.
    fn log_block(&self, first: u64, key: &[u8], value: &[u8], end: u64) -> Result<ReadingBlock, Vec<LogEntry>> {
        if let Some((_, block)) = self.log_cache().holding(first) {
            return Ok(block);
        }
        match blocks::decode_log_block(key, value) {
            Ok(readings) => {
                let block: ReadingBlock = readings.into();
                self.log_cache().keep(block.clone());
                Ok(block)
            }
            Err(damaged) => Err(self.rebuilt_log_block(first, end, damaged)),
        }
    }

    /// The readings `[first, end)` of a log block whose body is damaged,
    /// found again in the chunks and heads of the registers its directory
    /// names; what cannot be found is unreadable.
    fn rebuilt_log_block(&self, first: u64, end: u64, damaged: blocks::DamagedBody) -> Vec<LogEntry> {
        tracing::error!(path = %self.db.path().display(), first, error = %damaged.error,
            "a log block is damaged; looking for its readings in the series chunks");
        let mut found: BTreeMap<u64, StoredReading> = BTreeMap::new();
        for (device, channel) in damaged.registers.iter().flatten() {
            let series = (device.clone(), channel.clone());
            if let Ok(readings) = self.series_readings(&series, None, None, usize::MAX) {
                found.extend(readings.into_iter().filter(|r| (first..end).contains(&r.seq)).map(|r| (r.seq, r)));
            }
        }
        let register = match damaged.registers.as_deref() {
            Some([one]) => Some(one.clone()),
            _ => None,
        };
        let mut out = Vec::new();
        for seq in first..end {
            out.push(match found.remove(&seq) {
                Some(stored) => Ok(stored),
                None => Err(UnreadableRecord {
                    seq,
                    register: register.clone(),
                    error: ArchiveError::Corrupt {
                        key: crate::seal::display_key(&keys::seq_key(keys::LOG_BLOCK, first)),
                        reason: format!("{}; reading {seq} is not in its series' chunks either", damaged.error),
                    },
                }),
            });
        }
        out
    }

    /// The readings of `series` in `[from, to)`, sorted by timestamp then
    /// seq, at most `limit`: chunks and head together.
    fn series_readings(
        &self,
        series: &SeriesKey,
        from: Option<i64>,
        to: Option<i64>,
        limit: usize,
    ) -> Result<Vec<StoredReading>, ArchiveError> {
        let heads = self.heads();
        let in_range = |ts: i64| from.is_none_or(|f| ts >= f) && to.is_none_or(|t| ts < t);
        let mut out = Vec::new();
        let db = self.db()?;
        for chunk in chunks::chunks_between(&db, series, from, to) {
            let mut chunk = chunk?;
            out.extend(chunk.readings(series)?.iter().filter(|r| in_range(r.reading.ts_ms)).cloned());
            // Chunks do not overlap: later ones hold only later timestamps.
            if out.len() >= limit {
                break;
            }
        }
        if let Some(state) = heads.get(series) {
            out.extend(state.between(series, from, to));
        }
        drop(heads);
        out.sort_by_key(|r| (r.reading.ts_ms, r.seq));
        out.truncate(limit);
        Ok(out)
    }

    /// The frame block that may hold frame `seq`.
    fn frame_block_of(&self, seq: u64) -> Result<Option<FrameBlockHeader>, ArchiveError> {
        let at = keys::seq_key(keys::FRAME_INDEX, seq);
        match self.db()?.range(vec![keys::FRAME_INDEX]..=at).next_back() {
            Some(item) => {
                let (key, value) = item.map_err(ArchiveError::storage("scan frame index"))?;
                let header = FrameBlockHeader::decode(&key, &value)?;
                Ok((header.last_seq >= seq).then_some(header))
            }
            None => Ok(None),
        }
    }

    fn frame_block(&self, header: &FrameBlockHeader) -> Result<Vec<RawFrame>, ArchiveError> {
        let key = keys::seq_key(keys::FRAME_BLOCK, header.first_seq);
        let value = self.get(&key)?.ok_or_else(|| {
            corrupt(&keys::seq_key(keys::FRAME_INDEX, header.first_seq), "indexes a frame block that is missing")
        })?;
        blocks::decode_frame_block(&key, &value)
    }

    /// The frames with these seqs (each block read once), by seq.
    fn frames_by_seq(&self, seqs: &[u64]) -> Result<BTreeMap<u64, RawFrame>, ArchiveError> {
        let mut out = BTreeMap::new();
        let mut block: Option<(FrameBlockHeader, Vec<RawFrame>)> = None;
        for &seq in seqs {
            if !block.as_ref().is_some_and(|(h, _)| (h.first_seq..=h.last_seq).contains(&seq)) {
                block = match self.frame_block_of(seq)? {
                    Some(header) => Some((header, self.frame_block(&header)?)),
                    None => None,
                };
            }
            // A block's frames are in seq order (one apply's, appended);
            // a scan if one were not.
            let found = block.as_ref().and_then(|(_, frames)| {
                let at = frames.binary_search_by_key(&seq, |f| f.seq).ok();
                at.or_else(|| frames.iter().position(|f| f.seq == seq)).map(|i| &frames[i])
            });
            if let Some(frame) = found {
                out.insert(seq, frame.clone());
            }
        }
        Ok(out)
    }
}

impl Archive for SledArchive {
    fn applied_through(&self) -> Result<u64, ArchiveError> {
        Ok(super::apply::read_u64(&*self.db()?, keys::APPLIED_THROUGH)?.unwrap_or(0))
    }

    fn log_head(&self) -> Result<u64, ArchiveError> {
        let next = super::apply::read_u64(&*self.db()?, keys::NEXT_READING_SEQ)?.unwrap_or(1);
        Ok(next.saturating_sub(1))
    }

    fn apply(&self, items: Vec<ApplyItem>) -> Result<ApplySummary, ArchiveError> {
        let _writing = self.write_guard();
        let db = self.db()?;
        let heads = self.heads();
        let mut txn = Txn::begin(&db, &heads, now_ms(), self.options.device_clock_tolerance_ms)?;
        for item in items {
            let seq = item.record.seq;
            if seq <= txn.applied_through {
                continue;
            }
            txn.applied_through = seq;
            match item.record.entry {
                Entry::Frame(mut frame) => {
                    frame.seq = seq;
                    txn.apply_frame(frame, item.verdict)?;
                }
                Entry::Rejected(rejection) => txn.apply_rejection(seq, rejection)?,
            }
        }
        let applied_through = txn.applied_through;
        let committed = txn.commit()?;
        drop(heads);
        let new_readings = self.absorb(committed);
        Ok(ApplySummary { applied_through, new_readings })
    }

    fn recover(&self) -> Result<(), ArchiveError> {
        let _writing = self.write_guard();
        self.heads_mut().clear();
        self.log_cache().clear();
        self.db.reopen().map_err(|failure| open_error(self.db.path(), failure))?;
        self.rebuild_heads()?;
        tracing::info!(path = %self.db.path().display(), applied_through = self.applied_through()?, "archive reopened");
        Ok(())
    }

    fn location(&self) -> &Path {
        self.db.path()
    }

    fn damage(&self) -> Option<crate::integrity::Damage> {
        self.db.damage().cloned()
    }

    fn close(&self) {
        // Sealed heads make the next start quicker; the seal of the files follows.
        if let Err(error) = self.seal() {
            tracing::warn!(path = %self.db.path().display(), %error, "sealing the series heads at close failed");
        }
        let _writing = self.write_guard();
        self.db.close();
    }

    fn flush(&self) -> Result<(), ArchiveError> {
        self.db()?.flush().map_err(ArchiveError::storage("flush"))?;
        // sled's flush is not enough on its own (see `file_sync`): fsync the
        // files for real before the caller releases journal segments.
        self.file_sync.sync(self.db.path())
    }

    fn redecode(&self, frame_seq: u64, verdict: Verdict) -> Result<RedecodeOutcome, ArchiveError> {
        let _writing = self.write_guard();
        let Some(frame) = self.frame(frame_seq)? else { return Err(ArchiveError::UnknownFrame { seq: frame_seq }) };
        let db = self.db()?;
        let heads = self.heads();
        let mut txn = Txn::begin(&db, &heads, now_ms(), self.options.device_clock_tolerance_ms)?;
        let quarantine_key = keys::seq_key(QUARANTINE, frame_seq);
        let was_quarantined = txn.get(&quarantine_key)?.is_some();
        let outcome = match checked(verdict) {
            Verdict::Quarantined(reason) => {
                if was_quarantined {
                    txn.quarantine(frame_seq, reason.clone())?;
                }
                RedecodeOutcome::StillQuarantined(reason)
            }
            Verdict::Decoded(decoded) => {
                let tally: Tally = txn.apply_decoded(&frame, decoded)?;
                if was_quarantined {
                    txn.remove(quarantine_key);
                    let counters = txn.counters(&frame.source)?;
                    counters.quarantined = counters.quarantined.saturating_sub(1);
                    if tally.frame_archived() {
                        counters.archived += 1;
                    } else {
                        counters.duplicate += 1;
                    }
                    counters.redecoded += 1;
                }
                RedecodeOutcome::Decoded { new: tally.new, duplicate: tally.duplicate, conflict: tally.conflict }
            }
        };
        let committed = txn.commit()?;
        drop(heads);
        self.absorb(committed);
        Ok(outcome)
    }

    fn frame(&self, seq: u64) -> Result<Option<RawFrame>, ArchiveError> {
        Ok(self.frames_by_seq(&[seq])?.remove(&seq))
    }

    fn frames(&self, seqs: &[u64]) -> Result<BTreeMap<u64, RawFrame>, ArchiveError> {
        self.frames_by_seq(seqs)
    }

    fn frames_received_between(&self, from_ms: i64, to_ms: i64) -> Result<Vec<RawFrame>, ArchiveError> {
        if from_ms >= to_ms {
            return Ok(Vec::new());
        }
        let mut frames = Vec::new();
        for item in self.scan(&[keys::FRAME_INDEX])? {
            let (key, value) = item?;
            let header = FrameBlockHeader::decode(&key, &value)?;
            if header.max_received_ms < from_ms || header.min_received_ms >= to_ms {
                continue;
            }
            frames.extend(
                self.frame_block(&header)?.into_iter().filter(|f| (from_ms..to_ms).contains(&f.received_at_ms)),
            );
        }
        frames.sort_by_key(|f| (f.received_at_ms, f.seq));
        Ok(frames)
    }

    fn quarantine(&self, limit: usize) -> Result<Vec<QuarantineEntry>, ArchiveError> {
        let mut marks = Vec::new();
        for item in self.scan(&[QUARANTINE])?.take(limit) {
            let (key, value) = item?;
            let mark: QuarantineMark = unseal_json(&key, &value)?;
            let seq = keys::trailing_seq(&key).ok_or_else(|| corrupt(&key, "malformed quarantine key"))?;
            marks.push((key, seq, mark));
        }
        let seqs: Vec<u64> = marks.iter().map(|(_, seq, _)| *seq).collect();
        let mut frames = self.frames_by_seq(&seqs)?;
        marks
            .into_iter()
            .map(|(key, seq, mark)| {
                let frame = frames
                    .remove(&seq)
                    .ok_or_else(|| corrupt(&key, format!("quarantines frame {seq}, which is missing")))?;
                Ok(QuarantineEntry { frame, reason: mark.reason, quarantined_at_ms: mark.quarantined_at_ms })
            })
            .collect()
    }

    fn rejections(&self, source: &str, limit: usize) -> Result<Vec<StoredRejection>, ArchiveError> {
        let mut out = Vec::new();
        for item in self.scan(&keys::rejection_prefix(source))?.rev().take(limit) {
            let (key, value) = item?;
            let seq = keys::trailing_seq(&key).ok_or_else(|| corrupt(&key, "malformed rejection key"))?;
            out.push(StoredRejection { seq, rejection: unseal_rejection(&key, &value)? });
        }
        Ok(out)
    }

    fn devices(&self) -> Result<Vec<DeviceSummary>, ArchiveError> {
        self.scan(&[DEVICE])?.map(|item| item.and_then(|(key, value)| unseal_json(&key, &value))).collect()
    }

    fn device(&self, device: &str) -> Result<Option<DeviceSummary>, ArchiveError> {
        let key = keys::name_key(DEVICE, device);
        self.get(&key)?.map(|value| unseal_json(&key, &value)).transpose()
    }

    fn latest(&self, device: &str) -> Result<Vec<StoredReading>, ArchiveError> {
        let Some(summary) = self.device(device)? else { return Ok(Vec::new()) };
        let mut latest = Vec::with_capacity(summary.channels.len());
        for channel in &summary.channels {
            if keys::check_component("channel", channel).is_err() {
                return Err(corrupt(&keys::name_key(DEVICE, device), format!("lists an invalid channel {channel:?}")));
            }
            let series = (device.to_owned(), channel.clone());
            let heads = self.heads();
            let in_head = heads.get(&series).and_then(chunks::Series::newest_ts);
            let db = self.db()?;
            let sealed = chunks::last_chunk(&db, &series)?;
            let newest = match (in_head, sealed) {
                (Some(head_ts), Some(chunk)) if chunk.max_ts > head_ts => Err(chunk),
                (Some(head_ts), _) => Ok(head_ts),
                (None, Some(chunk)) => Err(chunk),
                (None, None) => continue,
            };
            let original = match newest {
                Ok(ts) => {
                    // The head's versions at its newest timestamp, with any sealed ones.
                    let mut versions: Vec<StoredReading> =
                        heads.get(&series).map(|s| s.at(&series, ts).collect()).unwrap_or_default();
                    if let Some(mut chunk) = chunks::chunk_holding(&db, &series, ts)? {
                        versions.extend(chunk.readings(&series)?.iter().filter(|r| r.reading.ts_ms == ts).cloned());
                    }
                    versions.into_iter().min_by_key(|r| r.seq)
                }
                Err(mut chunk) => {
                    let max = chunk.max_ts;
                    chunk.readings(&series)?.iter().find(|r| r.reading.ts_ms == max).cloned()
                }
            };
            match original {
                Some(newest) if newest.stamped_ahead(self.options.device_clock_tolerance_ms) => {
                    latest.extend(self.latest_trusted(&series, newest.reading.ts_ms)?);
                }
                newest => latest.extend(newest),
            }
        }
        Ok(latest)
    }

    fn device_clock_tolerance_ms(&self) -> i64 {
        self.options.device_clock_tolerance_ms
    }

    fn readings(&self, q: &ReadingQuery) -> Result<Vec<StoredReading>, ArchiveError> {
        // Keys cannot hold such names, so nothing matches them.
        let unkeyable = |what, value: &Option<String>| {
            value.as_deref().is_some_and(|value| keys::check_component(what, value).is_err())
        };
        if q.limit == 0 || unkeyable("device", &q.device) || unkeyable("channel", &q.channel) {
            return Ok(Vec::new());
        }
        if q.from_ms.zip(q.to_ms).is_some_and(|(from, to)| from >= to) {
            return Ok(Vec::new());
        }
        let devices = match &q.device {
            Some(device) => self.device(device)?.into_iter().collect(),
            None => self.devices()?,
        };
        let mut out = Vec::new();
        for summary in devices {
            for channel in &summary.channels {
                if q.channel.as_ref().is_some_and(|c| c != channel) {
                    continue;
                }
                let series = (summary.device.clone(), channel.clone());
                out.extend(self.series_readings(&series, q.from_ms, q.to_ms, q.limit - out.len())?);
                if out.len() >= q.limit {
                    return Ok(out);
                }
            }
        }
        Ok(out)
    }

    fn module(&self, module: &str) -> Result<Option<ModuleActivity>, ArchiveError> {
        let key = keys::name_key(TELEMETRY, module);
        self.get(&key)?.map(|value| unseal_json(&key, &value)).transpose()
    }

    fn modules(&self) -> Result<Vec<ModuleActivity>, ArchiveError> {
        self.scan(&[TELEMETRY])?.map(|item| item.and_then(|(key, value)| unseal_json(&key, &value))).collect()
    }

    fn counters(&self) -> Result<BTreeMap<String, SourceCounters>, ArchiveError> {
        let mut all = BTreeMap::new();
        for item in self.scan(&[COUNTERS])? {
            let (key, value) = item?;
            let source =
                std::str::from_utf8(&key[1..]).map_err(|_| corrupt(&key, "source name is not UTF-8"))?.to_string();
            all.insert(source, unseal_json(&key, &value)?);
        }
        Ok(all)
    }

    fn log_after(&self, after_seq: u64, limit: usize) -> Result<LogBatch, ArchiveError> {
        let mut out = LogBatch::default();
        let Some(mut next) = after_seq.checked_add(1) else { return Ok(out) };
        let head = self.log_head()?;
        // The newest blocks are in the cache: a follower that keeps up
        // never reads the database.
        while next <= head && out.len() < limit {
            let Some((first, block)) = self.log_cache().holding(next) else { break };
            let from = (next - first) as usize;
            let to = block.len().min(from + (limit - out.len()));
            out.push_shared(block, from..to);
            next = first + to as u64;
        }
        if next > head || out.len() >= limit {
            return Ok(out);
        }
        let mut blocks = self.log_blocks_from(next)?.peekable();
        while let Some(item) = blocks.next() {
            if out.len() >= limit {
                break;
            }
            let (key, value) = item?;
            let first = keys::trailing_seq(&key).ok_or_else(|| corrupt(&key, "malformed log block key"))?;
            // Seqs are consecutive: a block ends where the next one starts.
            let end = match blocks.peek() {
                Some(Ok((next, _))) => keys::trailing_seq(next).unwrap_or(head + 1),
                _ => head + 1,
            };
            match self.log_block(first, &key, &value, end) {
                Ok(block) => {
                    let from = next.saturating_sub(first) as usize;
                    let to = block.len().min(from + (limit - out.len()));
                    if from < to {
                        out.push_shared(block, from..to);
                        next = first + to as u64;
                    }
                }
                Err(entries) => {
                    let wanted: Vec<LogEntry> = entries
                        .into_iter()
                        .filter(|e| e.as_ref().map_or_else(|u| u.seq, |r| r.seq) >= next)
                        .take(limit - out.len())
                        .collect();
                    if let Some(last) = wanted.last() {
                        next = last.as_ref().map_or_else(|u| u.seq, |r| r.seq) + 1;
                    }
                    out.push_owned(wanted);
                }
            }
        }
        Ok(out)
    }

    fn resume_marks(&self, source: &str) -> Result<BTreeMap<String, i64>, ArchiveError> {
        let prefix = keys::resume_prefix(source);
        let mut marks = BTreeMap::new();
        for entry in self.db()?.scan_prefix(&prefix) {
            let (key, value) = entry.map_err(ArchiveError::storage("read resume marks"))?;
            let name = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
            marks.insert(name, keys::mark_from_u64(unseal_u64(&key, &value)?));
        }
        Ok(marks)
    }

    fn cursor(&self, name: &str) -> Result<Option<u64>, ArchiveError> {
        let key = keys::name_key(CURSOR, name);
        self.get(&key)?.map(|value| unseal_u64(&key, &value)).transpose()
    }

    fn set_cursor(&self, name: &str, seq: u64) -> Result<(), ArchiveError> {
        let key = keys::name_key(CURSOR, name);
        let value = seal_u64(&key, seq);
        self.db()?.insert(key, value).map(|_| ()).map_err(ArchiveError::storage("write cursor"))
    }
}
