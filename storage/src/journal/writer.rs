//! The group-commit writer thread and the [`JournalHandle`] sessions use.
//!
//! The thread blocks for the first request, drains whatever else is queued
//! (up to `group_max_records` appends), writes the whole group with one
//! write, calls `fdatasync` once, then forwards the records to the committed
//! channel and completes every append with its [`Receipt`]. There is no timer:
//! batches grow naturally with load. A failed write or sync fails every
//! append of the group; the next group first truncates the segment back to
//! the last synced offset, so no half-written record stays in the middle.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc as tokio_mpsc, oneshot};

use super::codec::{MAX_PAYLOAD_BYTES, encode_record};
use super::entry::{Entry, JournalRecord, Receipt};
use super::error::JournalError;
use super::open::Journal;
use super::segment::{self, SegmentFile};
use super::stats::JournalStats;
use crate::health::{StoreHealth, is_disk_full};

/// The journal's name in [`StoreHealth`].
pub const STORE: &str = "journal";

/// While appends come from several sessions at once (the last group had
/// more than one), a group stays open until its first append is this old,
/// for more to join: one `fdatasync` then covers more of them. At one
/// reading per HTTP request from 50 connections, groups were of 3 or 4
/// appends, and their `fdatasync`s a tenth of the host's CPU. The age counts
/// from when the append was sent, so a group that gathered while the last
/// one was being synced is written at once; a lone writer is never kept
/// waiting.
const GATHER: Duration = Duration::from_micros(200);

type Reply = oneshot::Sender<Result<Receipt, JournalError>>;

enum Request {
    Append { entry: Entry, reply: Reply, sent: Instant },
    Release(u64),
    Shutdown(oneshot::Sender<()>),
}

/// The handle sessions append through. Cheap to clone; every clone talks to
/// the same writer thread.
#[derive(Clone, Debug)]
pub struct JournalHandle {
    requests: mpsc::Sender<Request>,
    stats: Arc<JournalStats>,
    health: Arc<StoreHealth>,
}

impl JournalHandle {
    /// Live statistics: commit latency, records, pipeline backlog.
    pub fn stats(&self) -> &Arc<JournalStats> {
        &self.stats
    }

    /// The health of the stores the data path writes: the journal reports
    /// its own; the pipeline reports the archive's here too.
    pub fn health(&self) -> &Arc<StoreHealth> {
        &self.health
    }

    /// Appends one entry. Resolves only after the record's bytes and the
    /// `fdatasync` of the group containing it completed; the [`Receipt`] is
    /// the proof. An error means nothing about the entry may be acknowledged.
    pub async fn append(&self, entry: Entry) -> Result<Receipt, JournalError> {
        let (reply, receipt) = oneshot::channel();
        let sent = Instant::now();
        self.requests.send(Request::Append { entry, reply, sent }).map_err(|_| JournalError::WriterStopped)?;
        receipt.await.map_err(|_| JournalError::WriterStopped)?
    }

    /// Declares that every record with a sequence number up to `seq` has been
    /// applied to the archive and flushed: segment files holding only such
    /// records are deleted (never the active one). Returns at once; the writer
    /// deletes between groups.
    pub fn release_through(&self, seq: u64) {
        // A stopped writer has nothing left to release.
        let _ = self.requests.send(Request::Release(seq));
    }

    /// Stops the writer once it has committed every append it already
    /// received. Appends sent afterwards (through other clones) fail with
    /// [`JournalError::WriterStopped`]. When this returns, the journal
    /// directory is unlocked.
    pub async fn shutdown(self) {
        // A writer waiting for the pipeline to make room (an archive that
        // cannot write) stops waiting: what it holds is durable already.
        self.stats.stop();
        let (done, stopped) = oneshot::channel();
        if self.requests.send(Request::Shutdown(done)).is_ok() {
            let _ = stopped.await;
        }
    }
}

/// Spawns the writer thread for `journal`.
pub(super) fn start(journal: Journal) -> (JournalHandle, tokio_mpsc::Receiver<JournalRecord>) {
    let (requests, incoming) = mpsc::channel();
    let (committed, committed_rx) = tokio_mpsc::channel(journal.config.pipeline_backlog_records.max(1));
    let dir = journal.config.dir.clone();
    let stats = Arc::new(JournalStats::default());
    let health = Arc::new(StoreHealth::default());
    let writer = Writer::new(journal, committed, stats.clone(), health.clone());
    let spawned = std::thread::Builder::new().name("meterhub-journal".into()).spawn(move || {
        let shutdown = writer.run(incoming);
        // `run` consumed the writer: files and the lock are closed by now.
        if let Some(done) = shutdown {
            let _ = done.send(());
        }
    });
    if let Err(error) = spawned {
        // The closure (and the receiver) is dropped: every append fails with
        // `WriterStopped` instead of hanging.
        tracing::error!(dir = %dir.display(), %error, "journal: could not start the writer thread");
    }
    (JournalHandle { requests, stats, health }, committed_rx)
}

struct Writer {
    dir: PathBuf,
    segment_max_bytes: u64,
    group_max_records: usize,
    /// Never empty; the last one is the active segment.
    segments: Vec<SegmentFile>,
    /// The active segment, open for writing; `None` until first needed and
    /// after a failure (then it is reopened and truncated to `good_len`).
    file: Option<File>,
    /// Bytes of the active segment that are written and synced.
    good_len: u64,
    next_seq: u64,
    committed: tokio_mpsc::Sender<JournalRecord>,
    stats: Arc<JournalStats>,
    health: Arc<StoreHealth>,
    pipeline_backlog_bytes: u64,
    committed_closed_logged: bool,
    buf: Vec<u8>,
    _lock: File,
    #[cfg(test)]
    injected_write_faults: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Writer {
    fn new(
        journal: Journal,
        committed: tokio_mpsc::Sender<JournalRecord>,
        stats: Arc<JournalStats>,
        health: Arc<StoreHealth>,
    ) -> Writer {
        Writer {
            dir: journal.config.dir,
            segment_max_bytes: journal.config.segment_max_bytes,
            group_max_records: journal.config.group_max_records.max(1),
            segments: journal.segments,
            file: None,
            good_len: journal.active_len,
            next_seq: journal.next_seq,
            committed,
            stats,
            health,
            pipeline_backlog_bytes: journal.config.pipeline_backlog_bytes,
            committed_closed_logged: false,
            buf: Vec::new(),
            _lock: journal.lock,
            #[cfg(test)]
            injected_write_faults: journal.injected_write_faults,
        }
    }

    /// Serves requests until shutdown (returned) or until every handle is gone.
    fn run(mut self, incoming: mpsc::Receiver<Request>) -> Option<oneshot::Sender<()>> {
        let mut group: Vec<(Entry, Reply)> = Vec::new();
        let mut concurrent = false;
        loop {
            let Ok(first) = incoming.recv() else { return None };
            let gather_until = match &first {
                Request::Append { sent, .. } => *sent + GATHER,
                Request::Release(_) | Request::Shutdown(_) => Instant::now() + GATHER,
            };
            let mut release = None;
            let mut shutdown = None;
            let mut next = Some(first);
            while let Some(request) = next.take() {
                match request {
                    Request::Append { entry, reply, .. } => group.push((entry, reply)),
                    Request::Release(seq) => release = release.max(Some(seq)),
                    Request::Shutdown(done) => {
                        shutdown = Some(done);
                        break;
                    }
                }
                if group.len() < self.group_max_records {
                    next = incoming.try_recv().ok().or_else(|| {
                        let left = gather_until.saturating_duration_since(Instant::now());
                        (concurrent && !left.is_zero()).then(|| incoming.recv_timeout(left).ok()).flatten()
                    });
                }
            }
            concurrent = group.len() > 1;
            // Releasing first means that once an append sent after a release
            // resolves, the release is done too.
            if let Some(seq) = release {
                self.release_through(seq);
            }
            self.commit(&mut group);
            if shutdown.is_some() {
                tracing::debug!(dir = %self.dir.display(), next_seq = self.next_seq, "journal: writer stopped");
                return shutdown;
            }
        }
    }

    fn active_path(&self) -> PathBuf {
        self.segments.last().map(|s| s.path.clone()).unwrap_or_else(|| self.dir.clone())
    }

    /// Commits `group` (leaving it empty): one write, one `fdatasync`.
    fn commit(&mut self, group: &mut Vec<(Entry, Reply)>) {
        if group.is_empty() {
            return;
        }
        if let Err(error) = self.prepare() {
            let disk_full = matches!(&error, JournalError::Io { source, .. } if is_disk_full(source));
            self.health.failed(STORE, &self.active_path(), &error, disk_full);
            for (entry, _) in group.iter() {
                self.stats.record_not_stored(entry.source());
            }
            fail_all(group, &self.active_path(), &error.to_string());
            return;
        }

        self.buf.clear();
        let mut accepted: Vec<(u64, Entry, Reply)> = Vec::with_capacity(group.len());
        for (entry, reply) in group.drain(..) {
            let seq = self.next_seq + accepted.len() as u64;
            match encode_record(seq, &entry, &mut self.buf) {
                Ok(()) => accepted.push((seq, entry, reply)),
                Err(bytes) => {
                    let source_name = entry.source().to_string();
                    let _ = reply.send(Err(JournalError::TooLarge { source_name, bytes, max: MAX_PAYLOAD_BYTES }));
                }
            }
        }
        if accepted.is_empty() {
            return;
        }

        let path = self.active_path();
        let started = Instant::now();
        if let Err(error) = self.write_and_sync() {
            // Nothing of this group counts; its seqs are given out again
            // after the segment is truncated back to `good_len`.
            self.file = None;
            // Logged once per change of state, not per group (see `StoreHealth`).
            self.health.failed(STORE, &path, &error, is_disk_full(&error));
            let reason = error.to_string();
            for (_, entry, reply) in accepted {
                self.stats.record_not_stored(entry.source());
                let _ = reply.send(Err(JournalError::CommitFailed { path: path.clone(), reason: reason.clone() }));
            }
            return;
        }
        self.health.succeeded(STORE);
        self.stats.record_group(started.elapsed(), accepted.len());
        self.good_len += self.buf.len() as u64;
        self.next_seq += accepted.len() as u64;

        for (seq, mut entry, reply) in accepted {
            entry.set_seq(seq);
            // Waits while the pipeline is `pipeline_backlog_records` or
            // `pipeline_backlog_bytes` behind: backpressure from the archive
            // to the acknowledgements.
            let record = JournalRecord { seq, entry };
            let forwarded = !self.committed.is_closed()
                && self.stats.wait_for_room(record.backlog_bytes(), self.pipeline_backlog_bytes)
                && self.send_committed(record);
            if forwarded {
                self.stats.record_forwarded();
            } else if !self.committed_closed_logged {
                self.committed_closed_logged = true;
                tracing::warn!(
                    dir = %self.dir.display(),
                    "journal: committed records are no longer handed to the pipeline (stopping); the next start applies them"
                );
            }
            // Durable either way: the receipt is owed.
            let _ = reply.send(Ok(Receipt::new(seq)));
        }
    }

    /// Hands `record` to the pipeline, waiting while its channel is full
    /// (`pipeline_backlog_records`), unless the journal is stopping. The
    /// writer is the channel's only sender, so room it sees stays its own.
    fn send_committed(&self, record: JournalRecord) -> bool {
        while self.committed.capacity() == 0 {
            if self.stats.stopping() || self.committed.is_closed() {
                return false;
            }
            // Woken when the pipeline takes records; the timeout covers a
            // wake-up that came between the check and the wait.
            self.stats.wait_taken(Duration::from_millis(10));
        }
        self.committed.blocking_send(record).is_ok()
    }

    /// Makes sure the active segment is open, intact up to `good_len` (after
    /// a failed write), and not over its size limit.
    fn prepare(&mut self) -> Result<(), JournalError> {
        if self.file.is_none() {
            let path = self.active_path();
            let file = OpenOptions::new().write(true).open(&path).map_err(JournalError::io(&path, "open"))?;
            // Drops whatever a failed write may have left past the last sync.
            let len = file.metadata().map_err(JournalError::io(&path, "stat"))?.len();
            if len != self.good_len {
                tracing::warn!(file = %path.display(), offset = self.good_len, len, "journal: truncating after a failed write");
                file.set_len(self.good_len).map_err(JournalError::io(&path, "truncate"))?;
                file.sync_all().map_err(JournalError::io(&path, "fsync"))?;
            }
            self.file = Some(file);
        }
        if self.good_len >= self.segment_max_bytes && self.good_len > 0 {
            self.rotate()?;
        }
        Ok(())
    }

    /// Starts a new segment named after the next sequence number.
    fn rotate(&mut self) -> Result<(), JournalError> {
        let next = SegmentFile::new(&self.dir, self.next_seq);
        // Only a rotation that failed before can have left a file of this
        // name (every record on disk is below `next_seq`): it is empty.
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&next.path)
            .map_err(JournalError::io(&next.path, "create"))?;
        segment::sync_dir(&self.dir)?;
        tracing::debug!(file = %next.path.display(), "journal: started a new segment");
        self.segments.push(next);
        self.file = Some(file);
        self.good_len = 0;
        Ok(())
    }

    fn write_and_sync(&mut self) -> std::io::Result<()> {
        let file = self.file.as_ref().ok_or_else(|| std::io::Error::other("active segment is not open"))?;
        #[cfg(test)]
        if self
            .injected_write_faults
            .fetch_update(std::sync::atomic::Ordering::SeqCst, std::sync::atomic::Ordering::SeqCst, |n| {
                n.checked_sub(1)
            })
            .is_ok()
        {
            // A partial write, as a full disk would leave it.
            file.write_all_at(&self.buf[..self.buf.len() / 2], self.good_len)?;
            return Err(std::io::Error::other("injected write fault"));
        }
        file.write_all_at(&self.buf, self.good_len)?;
        file.sync_data()
    }

    /// Deletes the leading non-active segments whose records are all `<= seq`.
    fn release_through(&mut self, seq: u64) {
        let mut removed = 0usize;
        while self.segments.len() > 1 && self.segments[1].first_seq <= seq.saturating_add(1) {
            let path = &self.segments[0].path;
            if let Err(error) = std::fs::remove_file(path) {
                tracing::warn!(file = %path.display(), %error, "journal: could not delete a released segment");
                break;
            }
            tracing::debug!(file = %path.display(), "journal: deleted a released segment");
            self.segments.remove(0);
            removed += 1;
        }
        if removed > 0
            && let Err(error) = segment::sync_dir(&self.dir)
        {
            tracing::warn!(%error, "journal: could not sync the directory after deleting segments");
        }
    }
}

fn fail_all(group: &mut Vec<(Entry, Reply)>, path: &std::path::Path, reason: &str) {
    for (_, reply) in group.drain(..) {
        let _ = reply.send(Err(JournalError::CommitFailed { path: path.to_path_buf(), reason: reason.to_string() }));
    }
}
