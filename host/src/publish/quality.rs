//! Delivery-quality control, as a client computes it (the dispatcher page
//! does the same in `ui/`; the fan-out bench uses this one): a control
//! request sent at the client's `Ts` comes back behind the data queued for
//! the client, at `Tr`. `T3 = (Tr − Ts) / 2` is the one-way delivery time
//! estimate; the answer is late when `2·T3 > Tc`, i.e. it took longer than
//! the control period.

/// One answered control request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurement {
    /// `T3`, milliseconds.
    pub t3_ms: f64,
    /// `2·T3 > Tc`: warn the dispatcher.
    pub late: bool,
}

/// The measurement of a control frame sent at `ts_ms` and received at
/// `tr_ms` (client clock both), with control period `tc_ms`. A clock that
/// stepped back counts as 0.
pub fn measure(ts_ms: i64, tr_ms: i64, tc_ms: u64) -> Measurement {
    let round_trip = tr_ms.saturating_sub(ts_ms).max(0);
    Measurement { t3_ms: round_trip as f64 / 2.0, late: round_trip.unsigned_abs() > tc_ms }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t3_is_half_the_round_trip_and_late_past_tc() {
        assert_eq!(measure(1_000, 1_040, 5_000), Measurement { t3_ms: 20.0, late: false });
        assert_eq!(measure(1_000, 1_001, 5_000).t3_ms, 0.5);
        // 2·T3 = Tc exactly is on time; a millisecond more is late.
        assert!(!measure(0, 5_000, 5_000).late);
        assert!(measure(0, 5_001, 5_000).late);
        assert_eq!(measure(10_000, 9_000, 5_000), Measurement { t3_ms: 0.0, late: false }, "clock stepped back");
    }
}
