//! The newest readings of each live register, kept in memory so that a new
//! reading costs the recomputation of its day and month, not a reload of
//! the month from the archive.
//!
//! A [`Tail`] holds every version of one register's readings with a device
//! time at or after its `from_ms` that the consumer has read in the archive
//! log so far. It is made from the archive (versions up to the consumer's
//! log position) the first time the consumer computes the register, and
//! kept complete from then on by [`Tails::absorb`], which the consumer calls
//! with every log record it reads: the archive only ever adds versions, each
//! with its own sequence number, so none is counted twice. Deltas computed
//! from a tail are those of the log read so far, which is what incremental
//! computation means: a later version recomputes what it touches when the
//! log brings it. When the month moves on, the consumer trims the tail to
//! the new window's start. Readings older than a tail's start are read from
//! the archive as before.
//!
//! Memory is bounded by a cap on the readings over all registers
//! (`host.accounting_tail_readings`, [`DEFAULT_TAIL_READINGS`]): whenever a
//! new tail or a new reading takes them past it, the least recently used
//! half of the tails is dropped (and made again from the archive when
//! needed).

use std::collections::HashMap;

use meterhub_accounting::Reading;

use meterhub_storage::archive::StoredReading;

/// Default of the most readings kept over all tails (40 bytes each, plus
/// what their vectors keep spare).
pub const DEFAULT_TAIL_READINGS: usize = crate::config::load::DEFAULT_ACCOUNTING_TAIL_READINGS as usize;

/// One register's readings from `from_ms` on, by time then sequence.
#[derive(Debug)]
pub struct Tail {
    from_ms: i64,
    readings: Vec<Reading>,
    used: u64,
}

impl Tail {
    /// Whether the tail answers for instants at or after `ts_ms`.
    pub fn covers(&self, ts_ms: i64) -> bool {
        ts_ms >= self.from_ms
    }

    /// The time of the last reading before `ts_ms`, when the tail holds one.
    pub fn last_before(&self, ts_ms: i64) -> Option<i64> {
        let end = self.readings.partition_point(|r| r.ts_ms < ts_ms);
        end.checked_sub(1).map(|i| self.readings[i].ts_ms)
    }

    /// The time of the first reading at or after `ts_ms` (which the tail
    /// covers): `None` means the log read so far has none.
    pub fn first_at_or_after(&self, ts_ms: i64) -> Option<i64> {
        self.readings.get(self.readings.partition_point(|r| r.ts_ms < ts_ms)).map(|r| r.ts_ms)
    }

    /// The readings with `from_ms <= ts < to_ms` (`from_ms` covered).
    pub fn range(&self, from_ms: i64, to_ms: i64) -> Vec<Reading> {
        let lo = self.readings.partition_point(|r| r.ts_ms < from_ms);
        let hi = self.readings.partition_point(|r| r.ts_ms < to_ms).max(lo);
        self.readings[lo..hi].to_vec()
    }

    /// Forgets readings before `from_ms` when it is later than the start.
    fn trim(&mut self, from_ms: i64) -> usize {
        if from_ms <= self.from_ms {
            return 0;
        }
        let cut = self.readings.partition_point(|r| r.ts_ms < from_ms);
        self.readings.drain(..cut);
        // The cap counts readings, not the room left behind them.
        if self.readings.capacity() > 4 * self.readings.len() {
            self.readings.shrink_to(2 * self.readings.len());
        }
        self.from_ms = from_ms;
        cut
    }

    /// Adds one version unless it is before the start or already here.
    fn insert(&mut self, reading: Reading) -> bool {
        if reading.ts_ms < self.from_ms {
            return false;
        }
        let key = (reading.ts_ms, reading.seq);
        match self.readings.binary_search_by_key(&key, |r| (r.ts_ms, r.seq)) {
            Ok(_) => false,
            Err(at) => {
                self.readings.insert(at, reading);
                true
            }
        }
    }
}

/// The tails of every register, by meter and channel.
#[derive(Debug)]
pub struct Tails {
    by_register: HashMap<(String, String), Tail>,
    readings: usize,
    cap: usize,
    clock: u64,
    /// A key reused for lookups, so a reading's names are not copied to
    /// find its register.
    lookup: (String, String),
}

impl Default for Tails {
    fn default() -> Self {
        Tails::with_cap(DEFAULT_TAIL_READINGS)
    }
}

/// The accounting engine's view of an archived version.
pub fn reading(stored: &StoredReading) -> Reading {
    Reading { ts_ms: stored.reading.ts_ms, value: stored.reading.value, seq: stored.seq, conflict: stored.conflict }
}

impl Tails {
    /// No tails yet; at most `cap` readings over all of them.
    pub fn with_cap(cap: usize) -> Self {
        Tails { by_register: HashMap::new(), readings: 0, cap, clock: 0, lookup: Default::default() }
    }

    /// The tail of a register, marked as used now.
    pub fn get(&mut self, meter: &str, channel: &str) -> Option<&Tail> {
        self.clock += 1;
        let clock = self.clock;
        let tail = self.by_register.get_mut(&(meter.to_owned(), channel.to_owned()))?;
        tail.used = clock;
        Some(tail)
    }

    /// Adds a log record to its register's tail, if it has one.
    pub fn absorb(&mut self, stored: &StoredReading) {
        self.lookup.0.clone_from(&stored.reading.device);
        self.lookup.1.clone_from(&stored.reading.channel);
        if let Some(tail) = self.by_register.get_mut(&self.lookup)
            && tail.insert(reading(stored))
        {
            self.readings += 1;
            self.evict();
        }
    }

    /// Starts the tail of a register with every version from `from_ms` on
    /// that the log has brought so far, replacing any it had.
    pub fn start(&mut self, meter: &str, channel: &str, from_ms: i64, mut readings: Vec<Reading>) {
        readings.sort_by_key(|r| (r.ts_ms, r.seq));
        readings.dedup_by_key(|r| (r.ts_ms, r.seq));
        readings.retain(|r| r.ts_ms >= from_ms);
        // What the cap counts is what the tail holds: a tail started from a
        // load that was mostly filtered out (the initial computation reads a
        // register's whole history to keep what the log brought so far) must
        // not keep the load's room (a year of 1,000 meters kept ~600 MiB).
        readings.shrink_to_fit();
        self.clock += 1;
        self.readings += readings.len();
        let tail = Tail { from_ms, readings, used: self.clock };
        if let Some(old) = self.by_register.insert((meter.to_owned(), channel.to_owned()), tail) {
            self.readings -= old.readings.len();
        }
        self.evict();
    }

    /// Trims a register's tail to start at `from_ms`.
    pub fn trim(&mut self, meter: &str, channel: &str, from_ms: i64) {
        if let Some(tail) = self.by_register.get_mut(&(meter.to_owned(), channel.to_owned())) {
            self.readings -= tail.trim(from_ms);
        }
    }

    /// Drops a register's tail (its readings will be loaded again).
    pub fn forget(&mut self, meter: &str, channel: &str) {
        if let Some(tail) = self.by_register.remove(&(meter.to_owned(), channel.to_owned())) {
            self.readings -= tail.readings.len();
        }
    }

    /// Drops every tail of `meter` (its readings will be loaded again).
    pub fn forget_meter(&mut self, meter: &str) {
        let readings = &mut self.readings;
        self.by_register.retain(|(m, _), tail| {
            let keep = m != meter;
            if !keep {
                *readings -= tail.readings.len();
            }
            keep
        });
    }

    /// Readings held over all tails.
    pub fn len(&self) -> usize {
        self.readings
    }

    /// Whether no reading is held.
    pub fn is_empty(&self) -> bool {
        self.readings == 0
    }

    /// Past the cap, drops the least recently used half of the tails.
    fn evict(&mut self) {
        if self.readings <= self.cap {
            return;
        }
        let mut uses: Vec<u64> = self.by_register.values().map(|t| t.used).collect();
        uses.sort_unstable();
        let threshold = uses[uses.len() / 2];
        let readings = &mut self.readings;
        self.by_register.retain(|_, tail| {
            let keep = tail.used > threshold;
            if !keep {
                *readings -= tail.readings.len();
            }
            keep
        });
        tracing::debug!(readings = self.readings, "accounting tails over the cap; the least used dropped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(ts_ms: i64, seq: u64) -> Reading {
        Reading { ts_ms, value: meterhub_accounting::Decimal::from(ts_ms), seq, conflict: false }
    }

    fn stored(meter: &str, ts_ms: i64, seq: u64) -> StoredReading {
        StoredReading {
            seq,
            reading: meterhub_plugin_api::Reading {
                device: meter.into(),
                channel: "c".into(),
                ts_ms,
                value: meterhub_accounting::Decimal::ONE,
                unit: String::new(),
                kind: meterhub_plugin_api::ReadingKind::Cumulative,
            },
            source: "s".into(),
            frame_seq: 0,
            conflict: false,
            archived_at_ms: 0,
        }
    }

    #[test]
    fn a_tail_keeps_no_more_room_than_its_readings_need() {
        let mut tails = Tails::with_cap(1_000_000);
        let mut load = Vec::with_capacity(100_000);
        load.extend((0..10).map(|i| r(i, i as u64)));
        tails.start("a", "c", 0, load);
        assert_eq!(tails.by_register[&("a".to_owned(), "c".to_owned())].readings.capacity(), 10);

        tails.start("b", "c", 0, (0..10_000).map(|i| r(i, i as u64)).collect());
        tails.trim("b", "c", 9_990);
        let tail = &tails.by_register[&("b".to_owned(), "c".to_owned())];
        assert_eq!(tail.readings.len(), 10);
        assert!(tail.readings.capacity() <= 20, "{}", tail.readings.capacity());
    }

    #[test]
    fn live_readings_never_take_the_tails_past_their_cap() {
        let mut tails = Tails::with_cap(1_000);
        for meter in ["a", "b", "c", "d"] {
            tails.start(meter, "c", 0, vec![r(0, 0)]);
        }
        let mut seq = 1;
        for ts in 1..2_000 {
            for meter in ["a", "b", "c", "d"] {
                tails.absorb(&stored(meter, ts, seq));
                seq += 1;
                assert!(tails.len() <= 1_000, "{} readings held", tails.len());
            }
        }
        assert!(tails.get("a", "c").is_none(), "the least recently used tail went first");
    }

    #[test]
    fn a_tail_answers_from_its_start_and_counts_a_version_once() {
        let mut tails = Tails::default();
        tails.start("m", "c", 100, vec![r(90, 1), r(100, 2), r(200, 3), r(200, 3)]);
        assert_eq!(tails.len(), 2, "before the start and the repeated version are not kept");
        let stored = |ts_ms, seq| stored("m", ts_ms, seq);
        tails.absorb(&stored(200, 3));
        tails.absorb(&stored(300, 4));
        tails.absorb(&stored(50, 5));
        assert_eq!(tails.len(), 3);
        let tail = tails.get("m", "c").unwrap();
        assert!(tail.covers(100) && !tail.covers(99));
        assert_eq!(tail.last_before(300), Some(200));
        assert_eq!(tail.last_before(100), None, "nothing before the start is known here");
        assert_eq!(tail.first_at_or_after(201), Some(300));
        assert_eq!(tail.first_at_or_after(301), None);
        assert_eq!(tail.range(100, 300).iter().map(|r| r.seq).collect::<Vec<_>>(), vec![2, 3]);
        tails.trim("m", "c", 250);
        assert_eq!(tails.len(), 1);
        assert!(tails.get("m", "x").is_none());
        tails.forget_meter("m");
        assert!(tails.is_empty());
    }
}
