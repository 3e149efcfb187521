//! Deltas carried forward from a reading near a register's latest, so a
//! consumer following live readings computes from the new readings (and a
//! few recent ones) alone, not from the whole period they fall in.
//!
//! [`Progress`] is the delta of the period holding a reading `K`, measured
//! up to `K`, with its boundaries apart. The readings after `K` are handed
//! back beside it (at most `keep` of them): live readings of one meter may
//! reach the archive a little out of order, and any later reading after `K`
//! can still be carried. [`Progress::extend`] computes the deltas on the
//! series starting at `K` and joins the first to the one in progress: every
//! figure of a delta is a sum or an "any" over what lies between its
//! boundaries, and those split at `K` (see `Piece::join`). The result equals
//! the computation from all readings (property-tested), as long as the
//! curve stays within `Decimal`'s range; when it cannot join, it says so and
//! the caller computes from the readings.

use crate::calendar::{Period, period_at};
use crate::delta::{Delta, Piece, pieces};
use crate::series::{Reading, Series};
use crate::spec::MeterSpec;

/// One period length's delta in progress at a register's reading `K`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    period: Period,
    at: Reading,
    /// The delta of the period holding `at`, up to it; `None` when nothing
    /// of that period lies before `at` (it starts there, or `at` is the
    /// register's first reading).
    piece: Option<Piece>,
}

impl Progress {
    /// The progress at the reading `keep` readings before the last of
    /// `series` (at the second when there are fewer), and the readings
    /// after it. `series` must hold every reading
    /// from the last one at or before the start of the period holding that
    /// reading (a window as [`crate::period_at`] gives). `None` for an empty
    /// series, or when the curve does not reach that reading (`Decimal`'s
    /// range ended it).
    pub fn at_end(series: &Series, spec: &MeterSpec, period: Period, keep: usize) -> Option<(Progress, Vec<Reading>)> {
        let readings = series.readings();
        // Never the first of several: the period holding it may reach
        // before the window.
        let at = readings.len().checked_sub(1)?.saturating_sub(keep).max(usize::from(readings.len() > 1));
        let piece = piece_up_to(&readings[..=at], spec, period, None)?;
        Some((Progress { period, at: readings[at].clone(), piece }, readings[at + 1..].to_vec()))
    }

    /// The reading `K` the progress is at; readings after it can be carried.
    pub fn at(&self) -> &Reading {
        &self.at
    }

    /// The deltas once `later` readings (each after [`Self::at`]: those
    /// handed back last time and the new ones) are added: those of every
    /// period from the one holding `K` to the one holding the latest of
    /// `later`, exactly as computed from all readings; and the progress at
    /// the reading `keep` before the latest, with the readings after it.
    /// `None` when a reading is not after `K`, or the pieces do not join
    /// (`Decimal`'s range): compute from the readings then.
    pub fn extend(
        &self,
        later: &[Reading],
        spec: &MeterSpec,
        keep: usize,
    ) -> Option<(Vec<Delta>, Progress, Vec<Reading>)> {
        if later.is_empty() || later.iter().any(|r| r.ts_ms <= self.at.ts_ms) {
            return None;
        }
        let series = Series::new(std::iter::once(self.at.clone()).chain(later.iter().cloned()));
        let readings = series.readings();
        let last = readings.last()?;
        let first_slot = period_at(spec, self.period, self.at.ts_ms)?;
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
        let at = (readings.len() - 1).saturating_sub(keep);
        let piece =
            if at == 0 { self.piece.clone() } else { piece_up_to(&readings[..=at], spec, self.period, Some(self))? };
        let progress = Progress { period: self.period, at: readings[at].clone(), piece };
        Some((found.into_iter().map(|p| p.delta).collect(), progress, readings[at + 1..].to_vec()))
    }
}

/// The piece of the period holding the last of `readings`, measured up to
/// it; `Some(None)` when nothing of the period lies before it. `readings`
/// start at `from`'s reading when given (its piece is joined on), else hold
/// every reading from the last at or before the period's start. `None` when
/// the curve does not reach the last reading or the pieces do not join.
fn piece_up_to(
    readings: &[Reading],
    spec: &MeterSpec,
    period: Period,
    from: Option<&Progress>,
) -> Option<Option<Piece>> {
    let last = readings.last()?;
    let slot = period_at(spec, period, last.ts_ms)?;
    let series = Series::new(readings.iter().cloned());
    let piece = pieces(&series, spec, period, slot.start_ms, slot.end_ms).into_iter().next();
    let piece = match piece {
        Some(piece) if piece.delta.start_ms != slot.start_ms || piece.delta.to_ms != last.ts_ms => return None,
        Some(piece) => match from.and_then(|f| f.piece.as_ref()) {
            Some(before) if before.delta.start_ms == slot.start_ms => Some(before.join(&piece)?),
            _ => Some(piece),
        },
        // Nothing of the period before `last`: it starts there, or `last`
        // is the first reading (of the register, or after `from`'s reading
        // when that period starts after it).
        None if last.ts_ms == slot.start_ms || readings.len() == 1 => None,
        None => return None,
    };
    Some(piece)
}
