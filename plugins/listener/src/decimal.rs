//! Exact decimal parsing: the text of a JSON number (or a decimal string)
//! to a [`Decimal`] without ever passing through binary floating point.
//!
//! Grammar: an optional `-` or `+`, one or more digits, optionally `.` and
//! one or more digits, optionally `e`/`E`, an optional sign and one or more
//! digits. The value must be representable exactly: a 96-bit mantissa and
//! at most 28 digits after the point (trailing zeros are dropped only when
//! needed to fit, so `12.50` keeps its scale). Anything else is refused,
//! never rounded.

use meterhub_plugin_api::Decimal;

/// Why a text is not an exact decimal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalError {
    /// Not in the grammar (`NaN`, `Infinity`, empty, `1.`, `0x10`, ...).
    NotANumber,
    /// A number, but not representable exactly.
    OutOfRange,
}

/// Most digits after the point a [`Decimal`] holds.
const MAX_SCALE: i64 = 28;
/// Largest mantissa a [`Decimal`] holds: 2^96 - 1.
const MAX_MANTISSA: u128 = (1 << 96) - 1;
/// Most digits of [`MAX_MANTISSA`].
const MAX_DIGITS: usize = 29;
/// Exponents are clamped to this magnitude before arithmetic; any nonzero
/// value beyond it is out of range anyway.
const EXP_CLAMP: i64 = 1 << 40;

/// Parse `text` exactly. See the module docs for the grammar.
pub fn parse_exact(text: &str) -> Result<Decimal, DecimalError> {
    let b = text.as_bytes();
    let mut at = 0;
    // An optional sign at `at`; true when it is '-'.
    let sign = |at: &mut usize| match b.get(*at) {
        Some(&c @ (b'-' | b'+')) => {
            *at += 1;
            c == b'-'
        }
        _ => false,
    };
    let negative = sign(&mut at);
    let digits_from = |at: &mut usize| {
        let start = *at;
        while b.get(*at).is_some_and(u8::is_ascii_digit) {
            *at += 1;
        }
        &b[start..*at]
    };
    let int = digits_from(&mut at);
    if int.is_empty() {
        return Err(DecimalError::NotANumber);
    }
    let mut frac: &[u8] = &[];
    if b.get(at) == Some(&b'.') {
        at += 1;
        frac = digits_from(&mut at);
        if frac.is_empty() {
            return Err(DecimalError::NotANumber);
        }
    }
    let mut exp: i64 = 0;
    if matches!(b.get(at), Some(b'e' | b'E')) {
        at += 1;
        let exp_negative = sign(&mut at);
        let digits = digits_from(&mut at);
        if digits.is_empty() {
            return Err(DecimalError::NotANumber);
        }
        exp = digits.iter().fold(0i64, |acc, d| (acc * 10 + i64::from(d - b'0')).min(EXP_CLAMP));
        if exp_negative {
            exp = -exp;
        }
    }
    if at != b.len() {
        return Err(DecimalError::NotANumber);
    }

    // value = digits * 10^-scale, digits without leading zeros.
    let mut digits: Vec<u8> = int.iter().chain(frac).copied().skip_while(|&d| d == b'0').collect();
    let mut scale = i64::try_from(frac.len()).unwrap_or(i64::MAX) - exp;
    if digits.is_empty() {
        // Zero keeps its written scale as far as a Decimal can, and no sign.
        return Ok(Decimal::new(0, scale.clamp(0, MAX_SCALE) as u32));
    }
    let trailing_zeros = digits.iter().rev().take_while(|&&d| d == b'0').count() as i64;
    if scale < 0 {
        if digits.len() as i64 - scale > MAX_DIGITS as i64 {
            return Err(DecimalError::OutOfRange);
        }
        digits.resize(digits.len() + (-scale) as usize, b'0');
        scale = 0;
    }
    // Drop trailing zeros after the point only as far as needed to fit.
    let mut droppable = trailing_zeros.min(scale);
    let drop = (scale - MAX_SCALE).max(0).max(digits.len() as i64 - MAX_DIGITS as i64);
    if drop > droppable {
        return Err(DecimalError::OutOfRange);
    }
    digits.truncate(digits.len() - drop as usize);
    scale -= drop;
    droppable -= drop;
    let mut mantissa = digits.iter().fold(0u128, |acc, d| acc * 10 + u128::from(d - b'0'));
    while mantissa > MAX_MANTISSA && droppable > 0 {
        mantissa /= 10;
        scale -= 1;
        droppable -= 1;
    }
    if mantissa > MAX_MANTISSA {
        return Err(DecimalError::OutOfRange);
    }
    let signed = if negative { -(mantissa as i128) } else { mantissa as i128 };
    Decimal::try_from_i128_with_scale(signed, scale as u32).map_err(|_| DecimalError::OutOfRange)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(text: &str) -> String {
        parse_exact(text).unwrap_or_else(|e| panic!("{text}: {e:?}")).to_string()
    }

    #[test]
    fn keeps_values_exact() {
        assert_eq!(parse_exact("0.1"), Ok(Decimal::new(1, 1)));
        assert_eq!(exact("0.1"), "0.1");
        assert_eq!(exact("1e-3"), "0.001");
        assert_eq!(exact("123456789012345678901234.5678"), "123456789012345678901234.5678");
        assert_eq!(exact("12.50"), "12.50");
        assert_eq!(exact("-12.5"), "-12.5");
        assert_eq!(exact("+7"), "7");
        assert_eq!(exact("1.5E+3"), "1500");
        assert_eq!(exact("2.5e-1"), "0.25");
        assert_eq!(exact("0"), "0");
        assert_eq!(exact("-0.00"), "0.00");
        assert_eq!(exact("0e-99"), "0.0000000000000000000000000000");
        assert_eq!(exact("0e999999999999999999999"), "0");
        assert_eq!(exact("007"), "7");
        assert_eq!(exact("79228162514264337593543950335"), "79228162514264337593543950335");
        assert_eq!(exact("-79228162514264337593543950335"), "-79228162514264337593543950335");
        assert_eq!(exact("1e-28"), "0.0000000000000000000000000001");
        assert_eq!(exact("1e28"), "10000000000000000000000000000");
    }

    #[test]
    fn drops_trailing_zeros_only_to_fit() {
        assert_eq!(exact("0.100000000000000000000000000000000"), "0.1000000000000000000000000000");
        assert_eq!(exact("79228162514264337593543950335.000"), "79228162514264337593543950335");
        assert_eq!(exact("1.50e-27"), "0.0000000000000000000000000015");
    }

    #[test]
    fn refuses_what_does_not_fit() {
        for text in [
            "1e40",
            "1e29",
            "79228162514264337593543950336",
            "1e-29",
            "0.00000000000000000000000000001",
            "123456789012345678901234567890.1",
            "1e999999999999999999999",
            "1e-999999999999999999999",
        ] {
            assert_eq!(parse_exact(text), Err(DecimalError::OutOfRange), "{text}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_number() {
        for text in [
            "",
            "NaN",
            "nan",
            "Infinity",
            "-Infinity",
            "inf",
            "1.",
            ".5",
            "-",
            "1e",
            "1e+",
            "0x10",
            " 1",
            "1 ",
            "1,5",
            "--1",
            "1e5.5",
        ] {
            assert_eq!(parse_exact(text), Err(DecimalError::NotANumber), "{text:?}");
        }
    }
}
