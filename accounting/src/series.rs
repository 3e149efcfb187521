//! The input: readings of one cumulative register, normalised into a series
//! with one reading per device timestamp.
//!
//! The archive keys a reading by `(device, channel, ts_ms)`: a repeat is a
//! duplicate and the same key with another value is a conflict. A [`Series`]
//! applies the same rule to whatever it is given, in any order: of the
//! readings sharing a timestamp the first archived one (lowest `seq`) is kept,
//! and it is flagged `conflict` when any of them was flagged or their values
//! differ. So inserting readings in any order, or twice, gives the same series.
//!
//! Readings timestamped outside the calendar this crate supports (years -9999
//! to 9999) cannot be real and are left out.

use jiff::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// One reading of a cumulative register, as archived.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reading {
    /// Device timestamp, milliseconds since the Unix epoch (UTC).
    pub ts_ms: i64,
    /// The register value (a decimal string in JSON).
    pub value: Decimal,
    /// The archive's global sequence number: lower means archived first.
    pub seq: u64,
    /// The archive also received a different value for this reading's key.
    #[serde(default)]
    pub conflict: bool,
}

/// The readings of one register, ordered by timestamp, one per timestamp.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Series {
    readings: Vec<Reading>,
}

impl Series {
    /// A series from readings in any order, duplicates and conflicting values
    /// included (see the module rules: the lowest `seq` wins a timestamp).
    pub fn new(readings: impl IntoIterator<Item = Reading>) -> Series {
        let mut all: Vec<Reading> = readings.into_iter().filter(supported).collect();
        all.sort_by_key(|r| r.ts_ms);
        let mut kept: Vec<Reading> = Vec::with_capacity(all.len());
        for reading in all {
            match kept.last_mut() {
                Some(last) if last.ts_ms == reading.ts_ms => absorb(last, reading),
                _ => kept.push(reading),
            }
        }
        Series { readings: kept }
    }

    /// Adds one reading, exactly as if the series had been built with it.
    pub fn insert(&mut self, reading: Reading) {
        if !supported(&reading) {
            return;
        }
        let at = self.readings.partition_point(|r| r.ts_ms < reading.ts_ms);
        match self.readings.get_mut(at) {
            Some(kept) if kept.ts_ms == reading.ts_ms => absorb(kept, reading),
            _ => self.readings.insert(at, reading),
        }
    }

    /// The kept readings, ordered by timestamp, timestamps unique.
    pub fn readings(&self) -> &[Reading] {
        &self.readings
    }

    /// The number of distinct timestamps.
    pub fn len(&self) -> usize {
        self.readings.len()
    }

    /// True when the series has no reading.
    pub fn is_empty(&self) -> bool {
        self.readings.is_empty()
    }
}

/// Whether the reading's instant is within the supported calendar.
fn supported(reading: &Reading) -> bool {
    Timestamp::from_millisecond(reading.ts_ms).is_ok()
}

/// Merges `other` into `kept` (same timestamp). The winner is the least by
/// `(seq, value, scale)`, a total order, so the result does not depend on the
/// order of arrival; `conflict` is "some flag set, or not all values equal",
/// which is also order-free: the winner is one of the values.
fn absorb(kept: &mut Reading, other: Reading) {
    let conflict = kept.conflict || other.conflict || kept.value != other.value;
    let rank = |r: &Reading| (r.seq, r.value, r.value.scale());
    if rank(&other) < rank(kept) {
        *kept = other;
    }
    kept.conflict = conflict;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(ts_ms: i64, value: &str, seq: u64) -> Reading {
        Reading { ts_ms, value: value.parse().unwrap(), seq, conflict: false }
    }

    #[test]
    fn first_archived_value_wins_and_is_flagged() {
        let a = reading(10, "5", 1);
        let b = reading(10, "6", 2);
        for order in [vec![a.clone(), b.clone()], vec![b.clone(), a.clone()]] {
            let series = Series::new(order);
            assert_eq!(series.readings(), &[Reading { conflict: true, ..a.clone() }]);
        }
        let mut incremental = Series::new([b]);
        incremental.insert(a.clone());
        assert_eq!(incremental.readings(), &[Reading { conflict: true, ..a }]);
    }

    #[test]
    fn leaves_out_instants_beyond_the_calendar() {
        let mut series = Series::new([reading(i64::MIN, "1", 1), reading(0, "2", 2), reading(i64::MAX, "3", 3)]);
        series.insert(reading(i64::MAX - 1, "4", 4));
        assert_eq!(series.readings(), &[reading(0, "2", 2)]);
    }

    #[test]
    fn a_duplicate_changes_nothing() {
        let a = reading(10, "5.0", 1);
        let series = Series::new([a.clone(), reading(10, "5.00", 7), a.clone()]);
        assert_eq!(series.readings(), &[a]);
    }
}
