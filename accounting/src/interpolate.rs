//! The share of an increment that falls before an instant inside an interval,
//! `increment * elapsed / length`, rounded half-even to a given scale.
//!
//! The quotient is rounded once, from its exact value, in 128-bit integer
//! arithmetic. Only when that would overflow (values and intervals far
//! beyond any meter's) does it fall back to `Decimal` division, which keeps
//! 28 significant digits before the final rounding.

use rust_decimal::{Decimal, RoundingStrategy};

/// `increment * elapsed / length` rounded half-even to `scale` decimals.
/// Expects `0 <= elapsed <= length`, `length > 0`, `increment >= 0` and
/// `scale >= increment.scale()`; the result then lies in `[0, increment]` and
/// grows with `elapsed`.
pub(crate) fn share(increment: Decimal, elapsed: i64, length: i64, scale: u32) -> Decimal {
    exact_share(increment, elapsed, length, scale).unwrap_or_else(|| {
        let fraction = Decimal::from(elapsed) / Decimal::from(length);
        increment
            .checked_mul(fraction)
            .unwrap_or(increment)
            .round_dp_with_strategy(scale, RoundingStrategy::MidpointNearestEven)
    })
}

fn exact_share(increment: Decimal, elapsed: i64, length: i64, scale: u32) -> Option<Decimal> {
    let widen = 10_i128.checked_pow(scale.checked_sub(increment.scale())?)?;
    let numerator = increment.mantissa().checked_mul(i128::from(elapsed))?.checked_mul(widen)?;
    let denominator = i128::from(length);
    if denominator <= 0 || numerator < 0 {
        return None;
    }
    let (quotient, remainder) = (numerator / denominator, numerator % denominator);
    let twice = remainder * 2;
    let round_up = twice > denominator || (twice == denominator && quotient % 2 == 1);
    let rounded = if round_up { quotient + 1 } else { quotient };
    Decimal::try_from_i128_with_scale(rounded, scale).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn rounds_half_to_even_from_the_exact_quotient() {
        assert_eq!(share(dec("1"), 1, 3, 3), dec("0.333"));
        assert_eq!(share(dec("2"), 1, 3, 3), dec("0.667"));
        // 0.0125 and 0.0135 are ties: to the even neighbour.
        assert_eq!(share(dec("0.025"), 1, 2, 3), dec("0.012"));
        assert_eq!(share(dec("0.027"), 1, 2, 3), dec("0.014"));
        assert_eq!(share(dec("7.5"), 0, 9, 4), dec("0"));
        assert_eq!(share(dec("7.5"), 9, 9, 4), dec("7.5"));
    }

    #[test]
    fn falls_back_to_decimal_division_beyond_i128() {
        let big = Decimal::MAX;
        let half = share(big, 1, 2, 0);
        assert!(half > Decimal::ZERO && half < big);
    }
}
