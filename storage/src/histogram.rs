//! A latency histogram with fixed buckets, shared between threads without a
//! lock, in the shape Prometheus wants (`/metrics`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, microseconds (the last bucket is `+Inf`).
pub const BUCKETS_US: [u64; 11] = [250, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 250_000, 1_000_000];

/// Counts of durations per bucket, their sum and their number.
#[derive(Debug, Default)]
pub struct LatencyHistogram {
    /// Samples per bucket (not cumulative); the last one is `+Inf`.
    buckets: [AtomicU64; BUCKETS_US.len() + 1],
    sum_us: AtomicU64,
    count: AtomicU64,
}

/// A copy of a [`LatencyHistogram`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistogramSnapshot {
    /// Cumulative counts per bucket of [`BUCKETS_US`], then `+Inf`.
    pub cumulative_buckets: Vec<u64>,
    /// Sum of the samples, microseconds.
    pub sum_us: u64,
    /// Number of samples.
    pub count: u64,
}

impl LatencyHistogram {
    /// An empty histogram (usable in a `static`).
    pub const fn new() -> LatencyHistogram {
        LatencyHistogram {
            buckets: [const { AtomicU64::new(0) }; BUCKETS_US.len() + 1],
            sum_us: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    /// Count one sample.
    pub fn record(&self, took: Duration) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let bucket = BUCKETS_US.iter().position(|&bound| us <= bound).unwrap_or(BUCKETS_US.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// A copy for reporting.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut running = 0;
        let cumulative_buckets = self
            .buckets
            .iter()
            .map(|b| {
                running += b.load(Ordering::Relaxed);
                running
            })
            .collect();
        HistogramSnapshot {
            cumulative_buckets,
            sum_us: self.sum_us.load(Ordering::Relaxed),
            count: self.count.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_land_in_their_bucket_and_add_up() {
        let h = LatencyHistogram::new();
        h.record(Duration::from_micros(250));
        h.record(Duration::from_micros(251));
        h.record(Duration::from_secs(5));
        let s = h.snapshot();
        assert_eq!(s.cumulative_buckets[0], 1);
        assert_eq!(s.cumulative_buckets[1], 2);
        assert_eq!(s.cumulative_buckets[BUCKETS_US.len() - 1], 2);
        assert_eq!(s.cumulative_buckets[BUCKETS_US.len()], 3);
        assert_eq!((s.count, s.sum_us), (3, 5_000_501));
    }
}
