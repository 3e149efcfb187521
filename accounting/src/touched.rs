//! Which periods a new reading can change, so that a consumer keeping deltas
//! recomputes only those.
//!
//! A reading at `ts` changes the curve only between its neighbours in the
//! series, the last reading before `ts` (`p`) and the first after (`n`):
//! outside `(p, n)` every knot keeps its increments and `U` moves by a
//! constant at most, which no difference sees. It also changes which readings
//! a delta rests on, and whether a period is partial or in progress, only for
//! periods reaching into `(p, n)`. Without `p` or `n` (a reading before the
//! first or after the last), `ts` stands in for the missing neighbour.
//! The periods touched are therefore those `[start, end)` with `end > p` and
//! `start < n`: every period with a boundary in `(p, n)`, the periods on both
//! sides of each such boundary, and the one period holding `(p, n)` when no
//! boundary is inside. The period ending exactly at `p` and the one starting
//! exactly at `n` keep their deltas: their boundary value is that reading.

use crate::calendar::{Calendar, CalendarPeriod, Period};
use crate::series::Series;
use crate::spec::MeterSpec;

/// The periods whose deltas can change when a reading at `new_reading_ts_ms`
/// is added to `series_before` (as a new timestamp, a duplicate, or a
/// conflicting value), in calendar order. Recompute them with [`deltas`]
/// over `[first.start_ms, last.end_ms)` on the series with the reading;
/// every other period's delta stays as it was. A touched period may end up
/// with no delta (fewer than two readings cover it).
///
/// A register event added at an instant touches the same periods as a
/// reading there would (ask with the event's `at_ms` and the series as it
/// is). A changed capacity or zone touches everything.
///
/// [`deltas`]: crate::deltas
pub fn touched_periods(
    series_before: &Series,
    new_reading_ts_ms: i64,
    spec: &MeterSpec,
    period: Period,
) -> Vec<CalendarPeriod> {
    let readings = series_before.readings();
    let after = readings.partition_point(|r| r.ts_ms <= new_reading_ts_ms);
    let before = readings.partition_point(|r| r.ts_ms < new_reading_ts_ms);
    let previous_ms = before.checked_sub(1).map_or(new_reading_ts_ms, |i| readings[i].ts_ms);
    let next_ms = readings.get(after).map_or(new_reading_ts_ms, |r| r.ts_ms);
    let calendar = Calendar::new(spec.time_zone(), period);
    let mut touched = Vec::new();
    let mut slot = calendar.containing(previous_ms);
    while let Some(current) = slot
        && current.start_ms < next_ms
    {
        touched.push(current.calendar_period());
        slot = calendar.following(&current);
    }
    touched
}
