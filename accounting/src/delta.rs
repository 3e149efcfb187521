//! Consumption per calendar period: `U(end) - U(start)` on the curve, with
//! what the value rests on (the readings, estimation, partial coverage,
//! conflicts, rollovers, events, unexplained decreases).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::calendar::{Calendar, Period, Slot};
use crate::curve::{Curve, Step};
use crate::series::{Reading, Series};
use crate::spec::MeterSpec;

/// The consumption of one calendar period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delta {
    /// Day or month.
    pub period: Period,
    /// The local date naming the period: `YYYY-MM-DD` or `YYYY-MM`.
    pub start: String,
    /// The period's first instant, milliseconds since the Unix epoch.
    pub start_ms: i64,
    /// The next period's first instant (exclusive end).
    pub end_ms: i64,
    /// Where the consumption is measured from: `start_ms`, or the first
    /// reading when that is later (`partial_start`).
    pub from_ms: i64,
    /// Where the consumption is measured to: `end_ms`, or the last reading
    /// when that is earlier (`in_progress`).
    pub to_ms: i64,
    /// What went through the register from `from_ms` to `to_ms`; never
    /// negative.
    pub consumption: Decimal,
    /// The register value at `from_ms` (interpolated when `estimated`).
    pub start_value: Decimal,
    /// The register value at `to_ms` (interpolated when `estimated`). With
    /// events or rollovers in the period, `end_value - start_value` is not
    /// the consumption.
    pub end_value: Decimal,
    /// A boundary value was interpolated: no reading or event sits on it.
    pub estimated: bool,
    /// No reading at or after `end_ms` yet: measured up to the last reading,
    /// and it will grow.
    pub in_progress: bool,
    /// No reading at or before `start_ms`: measured from the first reading.
    pub partial_start: bool,
    /// A reading this delta rests on (from the start boundary's first
    /// bracketing reading to the end boundary's last) also came with another
    /// value; the first archived value was used.
    pub conflict: bool,
    /// Register rollovers in the intervals this delta uses (a rollover
    /// between two readings counts in every period that interval overlaps).
    pub rollovers: u32,
    /// Replacements and resets at an instant in `(from_ms, to_ms]`.
    pub events: u32,
    /// An interval this delta uses went down with no event to explain it and
    /// no plausible rollover; nothing was counted for it.
    pub unexplained_decrease: bool,
    /// The archive sequence numbers of the readings the boundary values come
    /// from: the one on each boundary, or the two around it; in time order.
    pub readings: Vec<u64>,
}

/// The deltas of the periods of one length that overlap `[from_ms, to_ms)`
/// and that the readings cover for some time, in calendar order. A period
/// wholly before the first reading or after the last has none.
pub fn deltas(series: &Series, spec: &MeterSpec, period: Period, from_ms: i64, to_ms: i64) -> Vec<Delta> {
    pieces(series, spec, period, from_ms, to_ms).into_iter().map(|piece| piece.delta).collect()
}

/// A delta with what joining it to the next piece of the same period needs
/// ([`crate::progress`]): its two boundaries apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Piece {
    pub(crate) delta: Delta,
    /// A knot sits on `from_ms` (no interpolation there).
    pub(crate) start_exact: bool,
    /// A knot sits on `to_ms`.
    pub(crate) end_exact: bool,
    /// The seqs of the readings the start value comes from, in time order.
    pub(crate) start_seqs: Vec<u64>,
    /// The seqs of the readings the end value comes from, in time order.
    pub(crate) end_seqs: Vec<u64>,
}

impl Piece {
    /// `self` (a period measured up to the reading `to_ms`, its series'
    /// last) followed by `after` (the same period measured from that reading
    /// on, on the series starting there): the period's delta on both
    /// series' readings together. `None` when they do not meet there or
    /// the sum leaves `Decimal`'s range.
    ///
    /// Everything a delta holds is a sum or an "any" over the intervals or
    /// the readings between its boundaries, and those split at the shared
    /// reading: `U` differences add, an interval or an event lies on one
    /// side only (an event at the reading's instant is before it, so on the
    /// first side), and the readings it rests on are the two sides' joined
    /// at that reading.
    pub(crate) fn join(&self, after: &Piece) -> Option<Piece> {
        let (a, b) = (&self.delta, &after.delta);
        let meets = a.period == b.period
            && a.start_ms == b.start_ms
            && a.in_progress
            && a.to_ms == b.from_ms
            && b.partial_start
            && self.end_exact
            && after.start_exact;
        if !meets {
            return None;
        }
        let mut readings = self.start_seqs.clone();
        for seq in &after.end_seqs {
            if readings.last() != Some(seq) {
                readings.push(*seq);
            }
        }
        let delta = Delta {
            period: a.period,
            start: a.start.clone(),
            start_ms: a.start_ms,
            end_ms: a.end_ms,
            from_ms: a.from_ms,
            to_ms: b.to_ms,
            consumption: a.consumption.checked_add(b.consumption)?,
            start_value: a.start_value,
            end_value: b.end_value,
            estimated: !(self.start_exact && after.end_exact),
            in_progress: b.in_progress,
            partial_start: a.partial_start,
            conflict: a.conflict || b.conflict,
            rollovers: a.rollovers.saturating_add(b.rollovers),
            events: a.events.saturating_add(b.events),
            unexplained_decrease: a.unexplained_decrease || b.unexplained_decrease,
            readings,
        };
        Some(Piece {
            delta,
            start_exact: self.start_exact,
            end_exact: after.end_exact,
            start_seqs: self.start_seqs.clone(),
            end_seqs: after.end_seqs.clone(),
        })
    }
}

/// [`deltas`] with each delta's boundaries apart.
pub(crate) fn pieces(series: &Series, spec: &MeterSpec, period: Period, from_ms: i64, to_ms: i64) -> Vec<Piece> {
    let curve = Curve::new(series, spec);
    let Some((first_ms, last_ms)) = curve.span() else {
        return Vec::new();
    };
    let (low_ms, high_ms) = (from_ms.max(first_ms), to_ms.min(last_ms));
    if low_ms >= high_ms {
        return Vec::new();
    }
    let calendar = Calendar::new(spec.time_zone(), period);
    let mut found = Vec::new();
    let mut slot = calendar.containing(low_ms);
    while let Some(current) = slot
        && current.start_ms < high_ms
    {
        found.push(delta(&curve, series.readings(), &current, first_ms, last_ms));
        slot = calendar.following(&current);
    }
    found
}

/// One period's delta; the period overlaps the span `(first_ms, last_ms)`.
fn delta(curve: &Curve, readings: &[Reading], slot: &Slot, first_ms: i64, last_ms: i64) -> Piece {
    let period = slot.calendar_period();
    let (from_ms, to_ms) = (slot.start_ms.max(first_ms), slot.end_ms.min(last_ms));
    let zero = crate::curve::Point { consumed: Decimal::ZERO, value: Decimal::ZERO, exact: false };
    let start = curve.at(from_ms).unwrap_or(zero);
    let end = curve.at(to_ms).unwrap_or(zero);
    let segments = curve.segments_between(from_ms, to_ms);
    let (start_low, start_high) = around(readings, from_ms);
    let (end_low, end_high) = around(readings, to_ms);
    let mut used: Vec<usize> = [start_low, start_high, end_low, end_high].into_iter().flatten().collect();
    used.sort_unstable();
    used.dedup();
    let rests_on = match (start_low.or(start_high), end_high.or(end_low)) {
        (Some(low), Some(high)) if low <= high => &readings[low..=high],
        _ => &[],
    };
    let seqs = |(low, high): (Option<usize>, Option<usize>)| {
        let mut seqs: Vec<u64> = [low, high].into_iter().flatten().map(|i| readings[i].seq).collect();
        seqs.dedup();
        seqs
    };
    let rollovers = segments.iter().filter(|s| s.step == Step::Rollover).count();
    let delta = Delta {
        period: period.period,
        start: period.start,
        start_ms: period.start_ms,
        end_ms: period.end_ms,
        from_ms,
        to_ms,
        consumption: end.consumed - start.consumed,
        start_value: start.value,
        end_value: end.value,
        estimated: !(start.exact && end.exact),
        in_progress: slot.end_ms > last_ms,
        partial_start: slot.start_ms < first_ms,
        conflict: rests_on.iter().any(|r| r.conflict),
        rollovers: u32::try_from(rollovers).unwrap_or(u32::MAX),
        events: curve.events_between(from_ms, to_ms),
        unexplained_decrease: segments.iter().any(|s| s.step == Step::Decrease),
        readings: used.into_iter().map(|i| readings[i].seq).collect(),
    };
    Piece {
        delta,
        start_exact: start.exact,
        end_exact: end.exact,
        start_seqs: seqs((start_low, start_high)),
        end_seqs: seqs((end_low, end_high)),
    }
}

/// The readings a boundary value comes from: the reading on the instant
/// (twice), or the last one before and the first one after.
fn around(readings: &[Reading], ts_ms: i64) -> (Option<usize>, Option<usize>) {
    let after = readings.partition_point(|r| r.ts_ms <= ts_ms);
    match after.checked_sub(1) {
        Some(on) if readings[on].ts_ms == ts_ms => (Some(on), Some(on)),
        before => (before, (after < readings.len()).then_some(after)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_decimals_as_strings_and_periods_in_lowercase() {
        let series = Series::new([
            Reading { ts_ms: 0, value: "100.0".parse().unwrap(), seq: 1, conflict: false },
            Reading { ts_ms: 86_400_000, value: "112.5".parse().unwrap(), seq: 2, conflict: false },
        ]);
        let spec = MeterSpec::new("UTC", None, vec![]).unwrap();
        let day = deltas(&series, &spec, Period::Day, 0, 1).remove(0);
        let json = serde_json::to_value(&day).unwrap();
        assert_eq!(json["period"], "day");
        assert_eq!(json["start"], "1970-01-01");
        assert_eq!(json["consumption"], "12.5");
        assert_eq!(json["readings"], serde_json::json!([1, 2]));
        assert_eq!(serde_json::from_value::<Delta>(json).unwrap(), day);
    }

    #[test]
    fn values_beyond_decimal_range_end_the_curve_without_panicking() {
        let day = 86_400_000;
        let reading = |n: i64, value: Decimal| Reading { ts_ms: n * day, value, seq: n as u64, conflict: false };
        let series = Series::new([
            reading(0, Decimal::MIN),
            reading(1, Decimal::MAX),
            reading(2, Decimal::ZERO),
            reading(3, Decimal::MAX),
            reading(4, Decimal::ZERO),
            reading(5, Decimal::MAX),
        ]);
        for capacity in [None, Some(Decimal::MAX)] {
            let spec = MeterSpec::new("UTC", capacity, vec![]).unwrap();
            let days = deltas(&series, &spec, Period::Day, i64::MIN, i64::MAX);
            assert!(days.iter().all(|d| d.consumption >= Decimal::ZERO));
            // MIN -> MAX leaves the range: an unexplained decrease, nothing
            // counted. 0 -> MAX uses up the whole range; the second time the
            // total would leave it, so the curve ends at the reading of day 4.
            assert!(days[0].unexplained_decrease && days[0].consumption == Decimal::ZERO, "{days:?}");
            assert_eq!(days[2].consumption, Decimal::MAX);
            assert_eq!(days.len(), 4, "{days:?}");
        }
    }
}
