//! What the golden scenarios and the property tests share: computing deltas
//! from scratch, and keeping them incrementally the way a consumer following
//! the archive does.

use std::collections::BTreeMap;

use meterhub_accounting::{Delta, MeterSpec, Period, Reading, Series, deltas, touched_periods};

/// Every delta of one period length, from scratch.
pub fn full(readings: &[Reading], spec: &MeterSpec, period: Period) -> Vec<Delta> {
    deltas(&Series::new(readings.iter().cloned()), spec, period, i64::MIN, i64::MAX)
}

/// Deltas kept up to date reading by reading, in the order given: before each
/// insert ask which periods it touches, then recompute only those.
pub fn incremental(readings: &[Reading], spec: &MeterSpec, period: Period) -> Vec<Delta> {
    let mut series = Series::default();
    let mut kept: BTreeMap<i64, Delta> = BTreeMap::new();
    for reading in readings {
        let touched = touched_periods(&series, reading.ts_ms, spec, period);
        series.insert(reading.clone());
        let (Some(first), Some(last)) = (touched.first(), touched.last()) else {
            continue;
        };
        for stale in &touched {
            kept.remove(&stale.start_ms);
        }
        for fresh in deltas(&series, spec, period, first.start_ms, last.end_ms) {
            kept.insert(fresh.start_ms, fresh);
        }
    }
    kept.into_values().collect()
}

/// Where the daily deltas of a month do not add up to its delta: the months
/// whose sums differ, as `(month, month's delta, sum of its days)`.
pub fn months_not_summing(days: &[Delta], months: &[Delta]) -> Vec<(String, String, String)> {
    months
        .iter()
        .filter_map(|month| {
            let sum: meterhub_accounting::Decimal = days
                .iter()
                .filter(|day| day.start_ms >= month.start_ms && day.end_ms <= month.end_ms)
                .map(|day| day.consumption)
                .sum();
            (sum != month.consumption).then(|| (month.start.clone(), month.consumption.to_string(), sum.to_string()))
        })
        .collect()
}
