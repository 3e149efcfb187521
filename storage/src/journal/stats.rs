//! Live journal statistics for `/metrics`: how long group commits take
//! (write + `fdatasync`), how much was committed, and how far the pipeline
//! is behind the journal.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::histogram::{HistogramSnapshot, LatencyHistogram};

/// Counters shared by the writer thread, the pipeline and the API.
#[derive(Debug, Default)]
pub struct JournalStats {
    /// Time of each group commit.
    commits: LatencyHistogram,
    records: AtomicU64,
    forwarded: AtomicU64,
    taken: AtomicU64,
    /// Appends refused because their group could not be written, per source.
    not_stored: Mutex<BTreeMap<String, u64>>,
    /// Bytes of committed records the pipeline has not taken yet.
    backlog_bytes: Mutex<u64>,
    /// Signalled when the pipeline takes records, and at shutdown.
    room: Condvar,
    /// The journal is shutting down: the writer no longer waits for room.
    stopping: AtomicBool,
}

/// A consistent-enough copy of [`JournalStats`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Time of each group commit; its count is the groups committed.
    pub commits: HistogramSnapshot,
    /// Records committed.
    pub records: u64,
    /// Committed records not yet taken by the pipeline.
    pub backlog: u64,
}

impl JournalStats {
    /// One group of `records` was written and synced in `took`.
    pub fn record_group(&self, took: Duration, records: usize) {
        self.commits.record(took);
        self.records.fetch_add(records as u64, Ordering::Relaxed);
    }

    /// Waits while the pipeline's backlog holds `limit` bytes or more (one
    /// record always passes when it is empty), then counts `bytes` in and
    /// returns `true`. Called by the writer before it hands a record over.
    /// `false` once the journal is stopping: the record is durable, and the
    /// next start applies it.
    pub fn wait_for_room(&self, bytes: u64, limit: u64) -> bool {
        let mut backlog = self.backlog_bytes.lock().unwrap_or_else(|p| p.into_inner());
        while *backlog > 0 && *backlog + bytes > limit {
            if self.stopping() {
                return false;
            }
            backlog = self.room.wait(backlog).unwrap_or_else(|p| p.into_inner());
        }
        *backlog += bytes;
        true
    }

    /// Waits until the pipeline takes records (or `timeout`, or a stop).
    pub fn wait_taken(&self, timeout: std::time::Duration) {
        let backlog = self.backlog_bytes.lock().unwrap_or_else(|p| p.into_inner());
        if !self.stopping() {
            let _ = self.room.wait_timeout(backlog, timeout).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// The journal is shutting down: a writer waiting for room stops waiting.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        let _guard = self.backlog_bytes.lock().unwrap_or_else(|p| p.into_inner());
        self.room.notify_all();
    }

    /// Whether [`JournalStats::stop`] was called.
    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// The pipeline took records weighing `bytes`.
    pub fn record_taken_bytes(&self, bytes: u64) {
        let mut backlog = self.backlog_bytes.lock().unwrap_or_else(|p| p.into_inner());
        *backlog = backlog.saturating_sub(bytes);
        self.room.notify_all();
    }

    /// Bytes of committed records waiting for the pipeline.
    pub fn backlog_bytes(&self) -> u64 {
        *self.backlog_bytes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A committed record was handed to the pipeline.
    pub fn record_forwarded(&self) {
        self.forwarded.fetch_add(1, Ordering::Relaxed);
    }

    /// The pipeline took `n` committed records.
    pub fn record_taken(&self, n: usize) {
        self.taken.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// An append of `source` was refused: its group could not be written
    /// (a full disk). Its sender heard an error, never an acknowledgement.
    pub fn record_not_stored(&self, source: &str) {
        let mut map = self.not_stored.lock().unwrap_or_else(|p| p.into_inner());
        match map.get_mut(source) {
            Some(n) => *n += 1,
            None => {
                map.insert(source.to_owned(), 1);
            }
        }
    }

    /// Appends refused because they could not be stored, per source, since the start.
    pub fn not_stored(&self) -> BTreeMap<String, u64> {
        self.not_stored.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// A copy for reporting.
    pub fn snapshot(&self) -> StatsSnapshot {
        let forwarded = self.forwarded.load(Ordering::Relaxed);
        StatsSnapshot {
            commits: self.commits.snapshot(),
            records: self.records.load(Ordering::Relaxed),
            backlog: forwarded.saturating_sub(self.taken.load(Ordering::Relaxed)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::histogram::BUCKETS_US;

    #[test]
    fn groups_land_in_cumulative_buckets_and_backlog_is_forwarded_minus_taken() {
        let stats = JournalStats::default();
        stats.record_group(Duration::from_micros(100), 3);
        stats.record_group(Duration::from_micros(700), 1);
        stats.record_group(Duration::from_secs(5), 2);
        for _ in 0..6 {
            stats.record_forwarded();
        }
        stats.record_taken(4);
        let s = stats.snapshot();
        assert_eq!(&s.commits.cumulative_buckets[..3], &[1, 1, 2], "100 us <= 250 us; 700 us <= 1 ms");
        assert_eq!(s.commits.cumulative_buckets[BUCKETS_US.len()], 3, "+Inf holds every group");
        assert_eq!((s.commits.count, s.records, s.backlog, s.commits.sum_us), (3, 6, 2, 5_000_800));
    }
}
