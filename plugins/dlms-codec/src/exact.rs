//! Exact arithmetic for values: a register value times 10^scaler as a
//! [`Decimal`] without rounding, and a float's binary value as its exact
//! decimal expansion (every finite binary float has one), never through
//! floating-point text.

use meterhub_plugin_api::Decimal;

/// The largest scale a [`Decimal`] carries.
const MAX_SCALE: u32 = 28;

/// `value` × 10^`exponent`, exactly; `None` when the result does not fit a
/// [`Decimal`] (96-bit mantissa, at most 28 decimal places) exactly.
pub fn scale(value: Decimal, exponent: i32) -> Option<Decimal> {
    let mut mantissa = value.mantissa();
    // The new scale: the value's less the exponent (a negative exponent adds places).
    let mut new_scale = i64::from(value.scale()) - i64::from(exponent);
    while new_scale > i64::from(MAX_SCALE) && mantissa % 10 == 0 && mantissa != 0 {
        mantissa /= 10;
        new_scale -= 1;
    }
    if new_scale > i64::from(MAX_SCALE) {
        return (mantissa == 0).then(Decimal::default);
    }
    if new_scale < 0 {
        let factor = 10i128.checked_pow(u32::try_from(-new_scale).ok()?)?;
        mantissa = mantissa.checked_mul(factor)?;
        new_scale = 0;
    }
    Decimal::try_from_i128_with_scale(mantissa, u32::try_from(new_scale).ok()?).ok()
}

/// The exact decimal expansion of a float given by its IEEE 754 binary64
/// value (a binary32 widens to binary64 exactly): `"0.100000001490116119384765625"`;
/// `"NaN"`, `"Infinity"`, `"-Infinity"` for the others.
pub fn float_text(value: f64) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let bits = value.to_bits();
    let negative = bits >> 63 == 1;
    let exponent_bits = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1 << 52) - 1);
    // value = mantissa × 2^exponent
    let (mantissa, exponent) = match exponent_bits {
        0 => (fraction, -1074),
        e => (fraction | (1 << 52), e - 1075),
    };
    let digits = if exponent >= 0 {
        Digits::from(mantissa).times(2, exponent.unsigned_abs()).text(0)
    } else {
        // m × 2^-k = m × 5^k / 10^k
        Digits::from(mantissa).times(5, exponent.unsigned_abs()).text(exponent.unsigned_abs() as usize)
    };
    let sign = if negative && mantissa != 0 { "-" } else { "" };
    format!("{sign}{digits}")
}

/// The exact [`Decimal`] of a float, when it has one within 28 places and
/// 96 bits.
pub fn float_decimal(value: f64) -> Option<Decimal> {
    value.is_finite().then(|| Decimal::from_str_exact(&float_text(value)).ok()).flatten()
}

/// A non-negative integer in base 10^9 limbs, least significant first.
struct Digits(Vec<u32>);

const LIMB: u64 = 1_000_000_000;

impl From<u64> for Digits {
    fn from(mut n: u64) -> Digits {
        let mut limbs = Vec::new();
        while n > 0 {
            limbs.push((n % LIMB) as u32);
            n /= LIMB;
        }
        Digits(limbs)
    }
}

impl Digits {
    /// This times `factor`^`count` (`factor` 2 to 10), in steps of the
    /// largest power of `factor` below 2^32 (a subnormal's 5^1074 in 83
    /// passes, not 1074).
    fn times(mut self, factor: u64, mut count: u32) -> Digits {
        while count > 0 {
            let (mut step, mut multiplier) = (0, 1u64);
            while step < count && multiplier * factor <= u64::from(u32::MAX) {
                multiplier *= factor;
                step += 1;
            }
            self.multiply(multiplier);
            count -= step;
        }
        self
    }

    /// This times `m` (below 2^32: limb × m + carry fits 64 bits).
    fn multiply(&mut self, m: u64) {
        let mut carry = 0u64;
        for limb in &mut self.0 {
            let v = u64::from(*limb) * m + carry;
            *limb = (v % LIMB) as u32;
            carry = v / LIMB;
        }
        while carry > 0 {
            self.0.push((carry % LIMB) as u32);
            carry /= LIMB;
        }
    }

    /// The number divided by 10^`places` as decimal text, without
    /// trailing fractional zeros.
    fn text(&self, places: usize) -> String {
        let mut all = String::new();
        for (i, limb) in self.0.iter().rev().enumerate() {
            all += &if i == 0 { limb.to_string() } else { format!("{limb:09}") };
        }
        if all.is_empty() {
            all.push('0');
        }
        if places == 0 {
            return all;
        }
        if all.len() <= places {
            all = "0".repeat(places + 1 - all.len()) + &all;
        }
        let (int, frac) = all.split_at(all.len() - places);
        let frac = frac.trim_end_matches('0');
        if frac.is_empty() { int.to_owned() } else { format!("{int}.{frac}") }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn d(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    #[test]
    fn scaling_is_exact() {
        assert_eq!(scale(d("123456"), -3).unwrap().to_string(), "123.456");
        assert_eq!(scale(d("2308"), -1).unwrap().to_string(), "230.8");
        assert_eq!(scale(d("0"), -2).unwrap().to_string(), "0.00");
        assert_eq!(scale(d("12"), 3).unwrap().to_string(), "12000");
        assert_eq!(scale(d("1.5"), 2).unwrap().to_string(), "150");
        assert_eq!(scale(d("-7"), -28).unwrap().to_string(), "-0.0000000000000000000000000007");
        assert_eq!(scale(d("1200"), -30).unwrap().to_string(), "0.0000000000000000000000000012");
        assert_eq!(scale(d("7"), -29), None, "29 places do not fit");
        assert_eq!(scale(d("1"), 29), None, "10^29 exceeds 96 bits");
        assert_eq!(scale(Decimal::from(u64::MAX), 1).unwrap().to_string(), "184467440737095516150");
        assert_eq!(scale(d("0"), -100).unwrap(), Decimal::ZERO);
        assert_eq!(scale(d("1"), 127), None);
        assert_eq!(scale(d("1"), -128), None);
    }

    #[test]
    fn floats_expand_exactly() {
        assert_eq!(float_text(f64::from(0.1f32)), "0.100000001490116119384765625");
        assert_eq!(float_text(0.1), "0.1000000000000000055511151231257827021181583404541015625");
        assert_eq!(float_text(230.5), "230.5");
        assert_eq!(float_text(-2.0), "-2");
        assert_eq!(float_text(0.0), "0");
        assert_eq!(float_text(-0.0), "0");
        assert_eq!(float_text(1e20), "100000000000000000000");
        assert_eq!(float_text(f64::MIN_POSITIVE * 0.5).len(), 1025, "a subnormal, 2^-1023: \"0.\" and 1023 places");
        assert_eq!(float_text(f64::from_bits(1)).len(), 1076, "the least subnormal, 2^-1074: 1074 places");
        assert!(float_text(f64::MAX).starts_with("17976931348623157"));
        // Checked against Python's exact `decimal.Decimal(float)`.
        assert_eq!(float_text(1e-5), "0.000010000000000000000818030539140313095458623138256371021270751953125");
        assert_eq!(float_text(f64::from(f32::MAX)), "340282346638528859811704183484516925440");
        assert_eq!(float_text(-123.456), "-123.4560000000000030695446184836328029632568359375");
        assert!(float_text(f64::from_bits(1)).ends_with("538682506419718265533447265625"));
        assert_eq!(float_text(f64::NAN), "NaN");
        assert_eq!(float_text(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(float_decimal(230.25), Some(d("230.25")));
        assert_eq!(float_decimal(f64::from(0.1f32)), Some(d("0.100000001490116119384765625")));
        assert_eq!(float_decimal(0.1), None, "55 places do not fit a Decimal");
        assert_eq!(float_decimal(f64::INFINITY), None);
    }
}
