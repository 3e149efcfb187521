//! Each live register's day and month deltas in progress at its latest
//! reading ([`Progress`]), so that new readings later than that one are
//! computed from themselves alone: no window of the month is loaded, from
//! the tail or the archive, and the cost of a step no longer grows with the
//! readings a month already holds.
//!
//! A register is carried once the consumer has computed it from a window
//! that reaches its latest reading; from then on each step extends it. It
//! is carried from a reading a few before the latest ([`KEEP`]), so live
//! readings that reach the archive a little out of order are still carried.
//! A reading at or before that one (a back-fill, a repeat, a conflict), an
//! installation reading after it, or a join the engine refuses, sends the
//! register back to the window computation, which carries it again.
//! Anything that changes a meter's settings recomputes it in full and drops
//! what was carried.
//!
//! Memory: at most `cap` registers (about 2 KB each); past it, half of them
//! are dropped (and carried again after their next window computation).

use std::collections::HashMap;

use meterhub_accounting::{Delta, MeterSpec, Period, Progress, Reading, Series};

/// Readings kept after the one a register is carried from: how far out of
/// order its live readings may reach the archive and still be carried (from
/// concurrent connections, say) without a window computation.
pub const KEEP: usize = 16;

/// A register's deltas in progress at a reading `K` near its latest, and
/// the readings after `K` (at most [`KEEP`]).
#[derive(Clone, Debug)]
pub struct Carried {
    day: Progress,
    month: Progress,
    after: Vec<Reading>,
}

impl Carried {
    /// Carried from near the last reading of `series` (a window holding
    /// every reading from the last at or before its month's start).
    pub fn at_end(series: &Series, spec: &MeterSpec) -> Option<Carried> {
        let (day, after) = Progress::at_end(series, spec, Period::Day, KEEP)?;
        let (month, _) = Progress::at_end(series, spec, Period::Month, KEEP)?;
        Some(Carried { day, month, after })
    }

    /// The reading `K` it is carried from: later readings can be carried.
    pub fn at(&self) -> &Reading {
        self.day.at()
    }

    /// The latest reading it holds.
    pub fn latest(&self) -> &Reading {
        self.after.last().unwrap_or(self.day.at())
    }

    /// Extends with new `readings` (each after [`Self::at`]): per period
    /// (days, then months) the deltas from the period holding `K` to the
    /// one holding the latest reading; `None` when the engine cannot carry
    /// them.
    pub fn extend(&self, readings: &[Reading], spec: &MeterSpec) -> Option<(PeriodDeltas, Carried)> {
        let later = [self.after.as_slice(), readings].concat();
        let (days, day, after) = self.day.extend(&later, spec, KEEP)?;
        let (months, month, _) = self.month.extend(&later, spec, KEEP)?;
        Some(([(Period::Day, days), (Period::Month, months)], Carried { day, month, after }))
    }
}

/// Deltas per period length: days, then months.
pub type PeriodDeltas = [(Period, Vec<Delta>); 2];

/// The carried registers, by meter and channel.
#[derive(Debug)]
pub struct Carries {
    by_register: HashMap<(String, String), Carried>,
    cap: usize,
}

impl Carries {
    /// None yet; at most `cap` registers.
    pub fn with_cap(cap: usize) -> Carries {
        Carries { by_register: HashMap::new(), cap: cap.max(1) }
    }

    /// What is carried for a register.
    pub fn get(&self, meter: &str, channel: &str) -> Option<&Carried> {
        self.by_register.get(&(meter.to_owned(), channel.to_owned()))
    }

    /// Carries a register from now on.
    pub fn set(&mut self, meter: &str, channel: &str, carried: Carried) {
        if self.by_register.len() >= self.cap && !self.by_register.contains_key(&(meter.to_owned(), channel.to_owned()))
        {
            let mut keep = false;
            self.by_register.retain(|_, _| {
                keep = !keep;
                keep
            });
            tracing::debug!(registers = self.by_register.len(), "accounting carries over the cap; half dropped");
        }
        self.by_register.insert((meter.to_owned(), channel.to_owned()), carried);
    }

    /// Stops carrying a register.
    pub fn forget(&mut self, meter: &str, channel: &str) {
        self.by_register.remove(&(meter.to_owned(), channel.to_owned()));
    }

    /// Stops carrying every register of `meter`.
    pub fn forget_meter(&mut self, meter: &str) {
        self.by_register.retain(|(m, _), _| m != meter);
    }

    /// Stops carrying anything.
    pub fn clear(&mut self) {
        self.by_register.clear();
    }

    /// Registers carried.
    pub fn len(&self) -> usize {
        self.by_register.len()
    }

    /// Whether none is carried.
    pub fn is_empty(&self) -> bool {
        self.by_register.is_empty()
    }
}
