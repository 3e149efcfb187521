//! [`SledArchive`]: the [`Archive`] on one sled tree (see [`super::keys`]
//! for the layout). Reads go straight to sled; writes go through one
//! [`Txn`] at a time and land as one atomic batch.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use meterhub_plugin_api::RawFrame;

use super::activity::ModuleActivity;

use super::apply::{QuarantineMark, Tally, Txn, checked};
use super::contract::Archive;
use super::error::ArchiveError;
use super::keys::{self, COUNTERS, CURSOR, DEVICE, FRAME, LOG, QUARANTINE, READING, TELEMETRY};
use super::model::{
    ApplyItem, ApplySummary, DeviceSummary, LogEntry, QuarantineEntry, ReadingQuery, RedecodeOutcome, SourceCounters,
    StoredReading, StoredRejection, UnreadableRecord, Verdict,
};
use super::value::{seal_u64, unseal, unseal_frame, unseal_json, unseal_rejection, unseal_u64};
use crate::clock::now_ms;
use crate::journal::Entry;
use crate::seal::display_key;

/// The sled-backed archive. `Send + Sync`: share it as `Arc<dyn Archive>`.
#[derive(Debug)]
pub struct SledArchive {
    db: sled::Db,
    path: PathBuf,
    /// Serializes write transactions.
    write_lock: Mutex<()>,
}

fn corrupt(key: &[u8], reason: impl Into<String>) -> ArchiveError {
    ArchiveError::Corrupt { key: display_key(key), reason: reason.into() }
}

/// How long [`SledArchive::open`] waits for a lock this process may still hold.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Whether sled failed to lock the database (it reports that as a plain I/O
/// error whose message says so).
fn is_lock_error(error: &std::io::Error) -> bool {
    error.kind() == std::io::ErrorKind::WouldBlock || error.to_string().contains("could not acquire lock")
}

/// `fsync`s every regular file in `dir`, descending `depth` levels.
fn sync_files(dir: &Path, depth: usize) -> Result<(), ArchiveError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ArchiveError::Sync { path, source }
    };
    for dirent in std::fs::read_dir(dir).map_err(io(dir))? {
        let dirent = dirent.map_err(io(dir))?;
        let path = dirent.path();
        let kind = dirent.file_type().map_err(io(&path))?;
        if kind.is_file() {
            std::fs::File::open(&path).and_then(|file| file.sync_all()).map_err(io(&path))?;
        } else if kind.is_dir() && depth > 1 {
            sync_files(&path, depth - 1)?;
        }
    }
    Ok(())
}

/// What the operator should do about an error opening the database.
fn open_hint(error: &sled::Error) -> &'static str {
    match error {
        sled::Error::Io(io) if io.kind() == std::io::ErrorKind::PermissionDenied => {
            "check that the user running meterhub may read and write that directory"
        }
        sled::Error::Io(io) if is_lock_error(io) => {
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
/// with the archive; recent data is what the pipeline and the API read.
pub const CACHE_CAPACITY_BYTES: u64 = 64 * 1024 * 1024;

impl SledArchive {
    /// Opens (creating if needed) the database directory `path`. Any failure,
    /// including a panic of the storage engine, is an error naming the path
    /// and what to do.
    ///
    /// A lock held by this very process (a database dropped a moment ago,
    /// whose background threads are still finishing) is waited for, up to
    /// [`LOCK_WAIT`].
    pub fn open(path: &Path) -> Result<Self, ArchiveError> {
        Self::open_waiting(path, LOCK_WAIT)
    }

    /// [`SledArchive::open`], waiting at most `lock_wait` for a lock.
    pub fn open_waiting(path: &Path, lock_wait: std::time::Duration) -> Result<Self, ArchiveError> {
        let deadline = std::time::Instant::now() + lock_wait;
        let db = loop {
            match Self::open_db(path) {
                Err(ArchiveError::Open { source: sled::Error::Io(io), .. })
                    if is_lock_error(&io) && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                other => break other?,
            }
        };
        let archive = SledArchive { db, path: path.to_path_buf(), write_lock: Mutex::new(()) };
        // Fail at start-up, not on the first write, if the markers are damaged.
        archive.applied_through()?;
        Ok(archive)
    }

    fn open_db(path: &Path) -> Result<sled::Db, ArchiveError> {
        let opened =
            std::panic::catch_unwind(|| sled::Config::new().path(path).cache_capacity(CACHE_CAPACITY_BYTES).open());
        match opened {
            Ok(Ok(db)) => Ok(db),
            Ok(Err(source)) => Err(ArchiveError::Open { path: path.to_path_buf(), hint: open_hint(&source), source }),
            Err(panic) => {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown panic".to_string());
                Err(ArchiveError::OpenPanicked { path: path.to_path_buf(), message })
            }
        }
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write_guard(&self) -> std::sync::MutexGuard<'_, ()> {
        // The guarded data is `()`: a panic elsewhere cannot leave it inconsistent.
        self.write_lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn get(&self, key: &[u8]) -> Result<Option<sled::IVec>, ArchiveError> {
        self.db.get(key).map_err(ArchiveError::storage("read"))
    }

    fn versions(&self, key: &[u8]) -> Result<Option<Vec<StoredReading>>, ArchiveError> {
        self.get(key)?.map(|value| unseal_json(key, &value)).transpose()
    }

    fn scan(&self, prefix: &[u8]) -> impl DoubleEndedIterator<Item = Result<(sled::IVec, sled::IVec), ArchiveError>> {
        self.db.scan_prefix(prefix).map(|item| item.map_err(ArchiveError::storage("scan")))
    }

    /// Direct access to the tree, for tests that damage stored values.
    #[cfg(any(test, feature = "testing"))]
    pub fn tree(&self) -> &sled::Db {
        &self.db
    }
}

impl Archive for SledArchive {
    fn applied_through(&self) -> Result<u64, ArchiveError> {
        Ok(super::apply::read_u64(&self.db, keys::APPLIED_THROUGH)?.unwrap_or(0))
    }

    fn log_head(&self) -> Result<u64, ArchiveError> {
        let next = super::apply::read_u64(&self.db, keys::NEXT_READING_SEQ)?.unwrap_or(1);
        Ok(next.saturating_sub(1))
    }

    fn apply(&self, items: Vec<ApplyItem>) -> Result<ApplySummary, ArchiveError> {
        let _writing = self.write_guard();
        let mut txn = Txn::begin(&self.db, now_ms())?;
        let mut new_readings = Vec::new();
        for item in items {
            let seq = item.record.seq;
            if seq <= txn.applied_through {
                continue;
            }
            txn.applied_through = seq;
            match item.record.entry {
                Entry::Frame(mut frame) => {
                    frame.seq = seq;
                    txn.apply_frame(frame, item.verdict, &mut new_readings)?;
                }
                Entry::Rejected(rejection) => txn.apply_rejection(seq, rejection)?,
            }
        }
        let applied_through = txn.applied_through;
        txn.commit()?;
        Ok(ApplySummary { applied_through, new_readings })
    }

    fn flush(&self) -> Result<(), ArchiveError> {
        self.db.flush().map_err(ArchiveError::storage("flush"))?;
        // sled 0.34 makes its log stable with `sync_file_range`, which
        // neither flushes the drive cache nor the file's metadata: fsync the
        // files for real before the caller releases journal segments.
        sync_files(&self.path, 2)
    }

    fn redecode(&self, frame_seq: u64, verdict: Verdict) -> Result<RedecodeOutcome, ArchiveError> {
        let _writing = self.write_guard();
        let mut txn = Txn::begin(&self.db, now_ms())?;
        let frame_key = keys::seq_key(FRAME, frame_seq);
        let frame = match txn.get(&frame_key)? {
            Some(value) => unseal_frame(&frame_key, &value)?,
            None => return Err(ArchiveError::UnknownFrame { seq: frame_seq }),
        };
        let quarantine_key = keys::seq_key(QUARANTINE, frame_seq);
        let was_quarantined = txn.get(&quarantine_key)?.is_some();
        match checked(verdict) {
            Verdict::Quarantined(reason) => {
                if was_quarantined {
                    txn.quarantine(frame_seq, reason.clone())?;
                    txn.commit()?;
                }
                Ok(RedecodeOutcome::StillQuarantined(reason))
            }
            Verdict::Decoded(decoded) => {
                let mut new_readings = Vec::new();
                let tally: Tally = txn.apply_decoded(&frame, &decoded, &mut new_readings)?;
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
                txn.commit()?;
                Ok(RedecodeOutcome::Decoded { new: tally.new, duplicate: tally.duplicate, conflict: tally.conflict })
            }
        }
    }

    fn frame(&self, seq: u64) -> Result<Option<RawFrame>, ArchiveError> {
        let key = keys::seq_key(FRAME, seq);
        self.get(&key)?.map(|value| unseal_frame(&key, &value)).transpose()
    }

    fn frames_received_between(&self, from_ms: i64, to_ms: i64) -> Result<Vec<RawFrame>, ArchiveError> {
        if from_ms >= to_ms {
            return Ok(Vec::new());
        }
        let mut frames = Vec::new();
        for item in self.db.range(keys::received_bound(from_ms)..keys::received_bound(to_ms)) {
            let (key, value) = item.map_err(ArchiveError::storage("scan"))?;
            unseal(&key, &value)?;
            let seq = keys::trailing_seq(&key).ok_or_else(|| corrupt(&key, "malformed receive-time index key"))?;
            let frame =
                self.frame(seq)?.ok_or_else(|| corrupt(&key, format!("indexes frame {seq}, which is missing")))?;
            frames.push(frame);
        }
        Ok(frames)
    }

    fn quarantine(&self, limit: usize) -> Result<Vec<QuarantineEntry>, ArchiveError> {
        let mut entries = Vec::new();
        for item in self.scan(&[QUARANTINE]).take(limit) {
            let (key, value) = item?;
            let mark: QuarantineMark = unseal_json(&key, &value)?;
            let seq = keys::trailing_seq(&key).ok_or_else(|| corrupt(&key, "malformed quarantine key"))?;
            let frame =
                self.frame(seq)?.ok_or_else(|| corrupt(&key, format!("quarantines frame {seq}, which is missing")))?;
            entries.push(QuarantineEntry { frame, reason: mark.reason, quarantined_at_ms: mark.quarantined_at_ms });
        }
        Ok(entries)
    }

    fn rejections(&self, source: &str, limit: usize) -> Result<Vec<StoredRejection>, ArchiveError> {
        let mut out = Vec::new();
        for item in self.scan(&keys::rejection_prefix(source)).rev().take(limit) {
            let (key, value) = item?;
            let seq = keys::trailing_seq(&key).ok_or_else(|| corrupt(&key, "malformed rejection key"))?;
            out.push(StoredRejection { seq, rejection: unseal_rejection(&key, &value)? });
        }
        Ok(out)
    }

    fn devices(&self) -> Result<Vec<DeviceSummary>, ArchiveError> {
        self.scan(&[DEVICE]).map(|item| item.and_then(|(key, value)| unseal_json(&key, &value))).collect()
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
            let prefix = keys::channel_readings_prefix(device, channel);
            if let Some(item) = self.scan(&prefix).next_back() {
                let (key, value) = item?;
                let versions: Vec<StoredReading> = unseal_json(&key, &value)?;
                latest.extend(versions.into_iter().next());
            }
        }
        Ok(latest)
    }

    fn readings(&self, q: &ReadingQuery) -> Result<Vec<StoredReading>, ArchiveError> {
        // Keys cannot hold such names, so nothing matches them.
        let unkeyable = |what, value: &Option<String>| {
            value.as_deref().is_some_and(|value| keys::check_component(what, value).is_err())
        };
        if q.limit == 0 || unkeyable("device", &q.device) || unkeyable("channel", &q.channel) {
            return Ok(Vec::new());
        }
        let (start, end) = match (&q.device, &q.channel) {
            (Some(device), Some(channel)) => {
                let prefix = keys::channel_readings_prefix(device, channel);
                let bound = |ts: i64| [prefix.as_slice(), &keys::ts_bytes(ts)].concat();
                (
                    q.from_ms.map_or_else(|| prefix.clone(), bound),
                    q.to_ms.map_or_else(|| keys::after_prefix(&prefix), bound),
                )
            }
            (Some(device), None) => {
                let prefix = keys::device_readings_prefix(device);
                let end = keys::after_prefix(&prefix);
                (prefix, end)
            }
            (None, _) => (vec![READING], vec![READING + 1]),
        };
        if start >= end {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for item in self.db.range(start..end) {
            let (key, value) = item.map_err(ArchiveError::storage("scan"))?;
            let (_, channel, ts_ms) =
                keys::parse_reading_key(&key).ok_or_else(|| corrupt(&key, "malformed reading key"))?;
            let wanted = q.channel.as_deref().is_none_or(|c| c == channel)
                && q.from_ms.is_none_or(|from| ts_ms >= from)
                && q.to_ms.is_none_or(|to| ts_ms < to);
            if !wanted {
                continue;
            }
            let versions: Vec<StoredReading> = unseal_json(&key, &value)?;
            for stored in versions {
                out.push(stored);
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
        self.scan(&[TELEMETRY]).map(|item| item.and_then(|(key, value)| unseal_json(&key, &value))).collect()
    }

    fn counters(&self) -> Result<BTreeMap<String, SourceCounters>, ArchiveError> {
        let mut all = BTreeMap::new();
        for item in self.scan(&[COUNTERS]) {
            let (key, value) = item?;
            let source =
                std::str::from_utf8(&key[1..]).map_err(|_| corrupt(&key, "source name is not UTF-8"))?.to_string();
            all.insert(source, unseal_json(&key, &value)?);
        }
        Ok(all)
    }

    fn log_after(&self, after_seq: u64, limit: usize) -> Result<Vec<LogEntry>, ArchiveError> {
        let Some(first) = after_seq.checked_add(1) else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for item in self.db.range(keys::seq_key(LOG, first)..vec![LOG + 1]).take(limit) {
            let (key, value) = item.map_err(ArchiveError::storage("scan"))?;
            let seq = keys::trailing_seq(&key).ok_or_else(|| corrupt(&key, "malformed log key"))?;
            let unreadable = |register: Option<(&str, &str, i64)>, error| UnreadableRecord {
                seq,
                register: register.map(|(device, channel, _)| (device.to_owned(), channel.to_owned())),
                error,
            };
            let reading_key = match unseal(&key, &value) {
                Ok(k) => k,
                Err(error) => {
                    out.push(Err(unreadable(None, error)));
                    continue;
                }
            };
            let register = keys::parse_reading_key(reading_key);
            let entry = match self.versions(reading_key) {
                Ok(versions) => {
                    versions.and_then(|v| v.into_iter().find(|stored| stored.seq == seq)).ok_or_else(|| {
                        let error =
                            corrupt(&key, format!("points to a record missing under key {}", display_key(reading_key)));
                        unreadable(register, error)
                    })
                }
                Err(error) => Err(unreadable(register, error)),
            };
            out.push(entry);
        }
        Ok(out)
    }

    fn resume_marks(&self, source: &str) -> Result<BTreeMap<String, i64>, ArchiveError> {
        let prefix = keys::resume_prefix(source);
        let mut marks = BTreeMap::new();
        for entry in self.db.scan_prefix(&prefix) {
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
        self.db.insert(key, value).map(|_| ()).map_err(ArchiveError::storage("write cursor"))
    }
}
