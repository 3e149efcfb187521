//! The consumption curve `U(t)`: how much went through the register since the
//! first reading, as a function of time, continuous and never decreasing.
//!
//! Its knots are the readings and the register events between the first and
//! the last reading (an event at the same instant as a reading comes first:
//! readings at `at_ms` are from after the event). A knot has the register
//! value it was reached with (`value_in`) and the one counting goes on from
//! (`value_out`): equal for a reading, `old_final`/`new_initial` for a
//! replacement, `value_before`/`value_after` for a reset. Between two knots
//! the register went from one's `value_out` to the next one's `value_in`, and
//! that step's increment is, by [`step`]:
//!
//! - an increase: `to - from`;
//! - a rollover, when `to < from`, a capacity `C` is set, `0 <= to` and
//!   `from <= C`, and the wrapped consumption `C - from + to` is less than
//!   half of `C`: that wrapped consumption;
//! - otherwise an unexplained decrease: nothing is counted (increment 0),
//!   and the register is taken to hold `from` until the knot that showed
//!   the drop. Booking `to` (as if the register restarted from zero) would
//!   bill a whole register value for a glitch or a correction; a drop that
//!   was a replacement or a reset is booked once the event is recorded.
//!
//! So no increment is negative. Between knots `U` is linear; the share of an
//! increment up to an instant is rounded half-even to the step's scale: the
//! largest scale among the step's two values (and the capacity for a
//! rollover), plus 3, at most 28. Knots are exact.

use rust_decimal::Decimal;

use crate::interpolate::share;
use crate::series::Series;
use crate::spec::{MeterSpec, RegisterEvent};

/// Digits kept beyond the inputs' own when interpolating.
const EXTRA_SCALE: u32 = 3;
/// `Decimal`'s largest scale.
const MAX_SCALE: u32 = 28;

/// How the register got from one knot to the next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Increase,
    Rollover,
    Decrease,
}

#[derive(Clone, Debug)]
pub(crate) struct Knot {
    ts_ms: i64,
    consumed: Decimal,
    value_out: Decimal,
    event: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct Segment {
    pub(crate) step: Step,
    increment: Decimal,
    scale: u32,
}

/// `U` at an instant, with the register value there.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Point {
    pub(crate) consumed: Decimal,
    pub(crate) value: Decimal,
    /// A knot sits on the instant (no interpolation).
    pub(crate) exact: bool,
}

/// The curve of one register: `segments[i]` joins `knots[i]` and
/// `knots[i + 1]`.
pub(crate) struct Curve {
    knots: Vec<Knot>,
    segments: Vec<Segment>,
    capacity: Option<Decimal>,
}

impl Curve {
    pub(crate) fn new(series: &Series, spec: &MeterSpec) -> Curve {
        let capacity = spec.capacity();
        let mut curve = Curve { knots: Vec::new(), segments: Vec::new(), capacity };
        let readings = series.readings();
        let (Some(first), Some(last)) = (readings.first(), readings.last()) else {
            return curve;
        };
        let mut events = spec.events().iter().filter(|e| e.at_ms() > first.ts_ms && e.at_ms() <= last.ts_ms).peekable();
        for reading in readings {
            while let Some(event) = events.next_if(|e| e.at_ms() <= reading.ts_ms) {
                let previous_out = curve.knots.last().map_or(Decimal::ZERO, |k| k.value_out);
                let (value_in, value_out) = match event {
                    RegisterEvent::Replacement { old_final, new_initial, .. } => (*old_final, *new_initial),
                    RegisterEvent::Reset { value_before, value_after, .. } => {
                        (value_before.unwrap_or(previous_out), *value_after)
                    }
                };
                if !curve.push(event.at_ms(), value_in, value_out, true) {
                    return curve;
                }
            }
            if !curve.push(reading.ts_ms, reading.value, reading.value, false) {
                return curve;
            }
        }
        curve
    }

    /// Appends a knot; false (and nothing appended) when `U` would leave
    /// `Decimal`'s range, which ends the curve there.
    fn push(&mut self, ts_ms: i64, value_in: Decimal, value_out: Decimal, event: bool) -> bool {
        let consumed = match self.knots.last() {
            None => Decimal::ZERO,
            Some(previous) => {
                let segment = step(previous.value_out, value_in, self.capacity);
                let Some(consumed) = previous.consumed.checked_add(segment.increment) else {
                    return false;
                };
                self.segments.push(segment);
                consumed
            }
        };
        self.knots.push(Knot { ts_ms, consumed, value_out, event });
        true
    }

    /// The first and the last knot's instants.
    pub(crate) fn span(&self) -> Option<(i64, i64)> {
        Some((self.knots.first()?.ts_ms, self.knots.last()?.ts_ms))
    }

    /// `U` and the register value at an instant within the span. On knots it
    /// is the state after everything that happened at that instant.
    pub(crate) fn at(&self, ts_ms: i64) -> Option<Point> {
        let after = self.knots.partition_point(|k| k.ts_ms <= ts_ms);
        let before = self.knots.get(after.checked_sub(1)?)?;
        if before.ts_ms == ts_ms {
            return Some(Point { consumed: before.consumed, value: before.value_out, exact: true });
        }
        let next = self.knots.get(after)?;
        let segment = &self.segments[after - 1];
        let part = share(segment.increment, ts_ms - before.ts_ms, next.ts_ms - before.ts_ms, segment.scale);
        let value = match segment.step {
            Step::Increase => before.value_out.checked_add(part),
            Step::Rollover => before.value_out.checked_add(part).map(|value| match self.capacity {
                Some(capacity) if value >= capacity => value - capacity,
                _ => value,
            }),
            // Nothing counted; the register holds its value until the drop
            // shows.
            Step::Decrease => Some(before.value_out),
        };
        Some(Point { consumed: before.consumed + part, value: value.unwrap_or(before.value_out), exact: false })
    }

    /// The segments whose consumption counts between `from` and `to`
    /// (`from < to`, both within the span): those overlapping `(from, to)`,
    /// and those of zero length at an instant in `(from, to]`.
    pub(crate) fn segments_between(&self, from_ms: i64, to_ms: i64) -> &[Segment] {
        let first = self.knots.partition_point(|k| k.ts_ms <= from_ms).saturating_sub(1);
        let after = self.knots.partition_point(|k| k.ts_ms <= to_ms);
        let last_knot = match after.checked_sub(1).and_then(|i| self.knots.get(i)) {
            Some(knot) if knot.ts_ms == to_ms => after - 1,
            _ => after,
        };
        self.segments.get(first..last_knot).unwrap_or(&[])
    }

    /// The number of events at an instant in `(from, to]`.
    pub(crate) fn events_between(&self, from_ms: i64, to_ms: i64) -> u32 {
        let first = self.knots.partition_point(|k| k.ts_ms <= from_ms);
        let after = self.knots.partition_point(|k| k.ts_ms <= to_ms).max(first);
        let count = self.knots[first..after].iter().filter(|k| k.event).count();
        u32::try_from(count).unwrap_or(u32::MAX)
    }
}

/// The step from register value `from` to `to` (rules in the module docs).
pub(crate) fn step(from: Decimal, to: Decimal, capacity: Option<Decimal>) -> Segment {
    let scale = |values: &[Decimal]| {
        values.iter().map(|v| v.scale()).max().unwrap_or(0).saturating_add(EXTRA_SCALE).min(MAX_SCALE)
    };
    if to >= from
        && let Some(increment) = to.checked_sub(from)
    {
        return Segment { step: Step::Increase, increment, scale: scale(&[from, to, increment]) };
    }
    if let Some(capacity) = capacity
        && to < from
        && to >= Decimal::ZERO
        && from <= capacity
        && let Some(wrapped) = (capacity - from).checked_add(to)
        && wrapped.checked_mul(Decimal::TWO).is_some_and(|twice| twice < capacity)
    {
        return Segment { step: Step::Rollover, increment: wrapped, scale: scale(&[from, to, capacity, wrapped]) };
    }
    Segment { step: Step::Decrease, increment: Decimal::ZERO, scale: scale(&[from, to]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn increment(from: &str, to: &str, capacity: Option<&str>) -> (Step, Decimal) {
        let segment = step(dec(from), dec(to), capacity.map(dec));
        (segment.step, segment.increment)
    }

    #[test]
    fn classifies_steps() {
        assert_eq!(increment("10.5", "12", None), (Step::Increase, dec("1.5")));
        assert_eq!(increment("99990", "15", Some("100000")), (Step::Rollover, dec("25")));
        // Wrapping would mean 60000 units: more than half the capacity.
        assert_eq!(increment("50000", "10000", Some("100000")), (Step::Decrease, dec("0")));
        assert_eq!(increment("500", "20", None), (Step::Decrease, dec("0")));
        assert_eq!(increment("500", "-3", None), (Step::Decrease, dec("0")));
        assert_eq!(increment("120000", "10", Some("100000")), (Step::Decrease, dec("0")));
    }

    #[test]
    fn interpolation_scale_is_the_inputs_plus_three() {
        assert_eq!(step(dec("1.5"), dec("2"), None).scale, 4);
        assert_eq!(step(dec("1"), dec("2"), Some(dec("10.00"))).scale, 3);
        assert_eq!(step(dec("9.5"), dec("2"), Some(dec("10.00"))).scale, 5);
    }
}
