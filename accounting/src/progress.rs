//! Deltas carried forward from a register's latest reading, so a consumer
//! following live readings (each later than the last) computes from the new
//! readings alone, not from the whole period they fall in.
//!
//! [`Progress`] is the delta of the period in progress at the latest reading
//! `K` (measured up to `K`), with its boundaries apart. [`Progress::extend`]
//! computes the deltas on the series starting at `K` and joins the first to
//! the one in progress: every figure of a delta is a sum or an "any" over
//! what lies between its boundaries, and those split at `K` (see
//! `Piece::join`). The result equals the computation from all readings
//! (property-tested), as long as the curve stays within `Decimal`'s range;
//! when it cannot join, it says so and the caller computes from the readings.

use crate::calendar::{Period, period_at};
use crate::delta::{Delta, Piece, pieces};
use crate::series::{Reading, Series};
use crate::spec::MeterSpec;

/// One period length's delta in progress at a register's latest reading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    period: Period,
    last: Reading,
    /// The delta of the period holding `last`, up to it; `None` when
    /// nothing of that period lies before `last` (it starts there, or
    /// `last` is the register's first reading).
    piece: Option<Piece>,
}

impl Progress {
    /// The progress at the last reading of `series`, which must hold every
    /// reading from the last one at or before the start of the period
    /// holding its last reading (a window as [`crate::period_at`] gives).
    /// `None` for an empty series, or when the curve does not reach the last
    /// reading (`Decimal`'s range ended it).
    pub fn at_end(series: &Series, spec: &MeterSpec, period: Period) -> Option<Progress> {
        let readings = series.readings();
        let last = readings.last()?.clone();
        let slot = period_at(spec, period, last.ts_ms)?;
        let piece = pieces(series, spec, period, slot.start_ms, slot.end_ms).into_iter().next();
        match &piece {
            Some(piece) if piece.delta.start_ms != slot.start_ms || piece.delta.to_ms != last.ts_ms => return None,
            Some(_) => {}
            // Nothing of the period before `last`: it starts there, or `last` is the first reading.
            None if last.ts_ms == slot.start_ms || readings.len() == 1 => {}
            None => return None,
        }
        Some(Progress { period, last, piece })
    }

    /// The latest reading.
    pub fn last(&self) -> &Reading {
        &self.last
    }

    /// The deltas once `later` readings (each after [`Self::last`]) are
    /// added: those of every period from the one holding the last reading
    /// to the one holding the latest of `later`, exactly as computed from
    /// all readings; and the progress at the new latest reading. `None`
    /// when a reading is not later, or the pieces do not join (`Decimal`'s
    /// range): compute from the readings then.
    pub fn extend(&self, later: &[Reading], spec: &MeterSpec) -> Option<(Vec<Delta>, Progress)> {
        if later.is_empty() || later.iter().any(|r| r.ts_ms <= self.last.ts_ms) {
            return None;
        }
        let series = Series::new(std::iter::once(self.last.clone()).chain(later.iter().cloned()));
        let last = series.readings().last()?.clone();
        let first_slot = period_at(spec, self.period, self.last.ts_ms)?;
        let last_slot = period_at(spec, self.period, last.ts_ms)?;
        let mut found = pieces(&series, spec, self.period, first_slot.start_ms, last_slot.end_ms);
        if found.last()?.delta.to_ms != last.ts_ms {
            return None;
        }
        if let Some(before) = &self.piece {
            let first = found.first_mut()?;
            if first.delta.start_ms != before.delta.start_ms {
                return None;
            }
            *first = before.join(first)?;
        }
        let piece = found.last().filter(|p| p.delta.start_ms == last_slot.start_ms).cloned();
        let progress = Progress { period: self.period, last, piece };
        Some((found.into_iter().map(|p| p.delta).collect(), progress))
    }
}
