//! Timestamp helpers for plugins: RFC 3339 text to Unix milliseconds.
//! Pure functions; plugins have no clock (the host passes `now_ms`).

/// Earliest device timestamp meterhub accepts: 2000-01-01T00:00:00Z.
pub const MIN_TS_MS: i64 = 946_684_800_000;
/// Latest device timestamp meterhub accepts: 2100-01-01T00:00:00Z.
pub const MAX_TS_MS: i64 = 4_102_444_800_000;

/// Days from 1970-01-01 to the civil date `y-m-d` (proleptic Gregorian).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date `(y, m, d)` of day `z` since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Unix milliseconds as RFC 3339 UTC text, with milliseconds only when
/// nonzero: `2026-11-21T10:00:00Z`, `2026-11-21T10:00:00.250Z`.
pub fn format_rfc3339_ms(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    let (h, min, s, milli) = (in_day / 3_600_000, in_day / 60_000 % 60, in_day / 1000 % 60, in_day % 1000);
    let base = format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}");
    if milli == 0 { format!("{base}Z") } else { format!("{base}.{milli:03}Z") }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Parse a timestamp written either as whole milliseconds since the epoch
/// (`1763719200000`) or as RFC 3339 text ([`parse_rfc3339_ms`]), the two
/// forms people and programs hand the host. The error says what is wrong.
pub fn parse_ms_or_rfc3339(text: &str) -> Result<i64, String> {
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    parse_rfc3339_ms(text).map_err(|e| format!("expected milliseconds since the epoch or RFC 3339 text: {e}"))
}

/// Parse an RFC 3339 timestamp (`2026-11-21T10:00:00Z`,
/// `2026-11-21T13:00:00.250+03:00`) into Unix milliseconds.
/// Fractions beyond milliseconds are truncated. The error says what is wrong.
pub fn parse_rfc3339_ms(text: &str) -> Result<i64, String> {
    let (secs, nanos) = parse_rfc3339_parts(text)?;
    Ok(secs * 1000 + i64::from(nanos / 1_000_000))
}

/// Parse an RFC 3339 timestamp into Unix seconds and the nanoseconds
/// within the second (`2022-07-18T09:34:15.775023242+00:00`; a fraction
/// of any length, digits past the ninth truncated; `t`, `z` or a space as
/// written by some servers). The error says what is wrong.
pub fn parse_rfc3339_parts(text: &str) -> Result<(i64, u32), String> {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Result<u32, String> {
        let part = b.get(range.clone()).ok_or_else(|| format!("{text:?} is too short for RFC 3339"))?;
        if !part.iter().all(u8::is_ascii_digit) {
            return Err(format!("{text:?}: expected digits at offset {}", range.start));
        }
        Ok(part.iter().fold(0, |acc, c| acc * 10 + u32::from(c - b'0')))
    };
    let expect = |at: usize, allowed: &[u8]| -> Result<(), String> {
        match b.get(at) {
            Some(c) if allowed.contains(c) => Ok(()),
            _ => Err(format!(
                "{text:?}: expected {:?} at offset {at}",
                allowed.iter().map(|&c| c as char).collect::<String>()
            )),
        }
    };
    let year = i64::from(digits(0..4)?);
    expect(4, b"-")?;
    let month = digits(5..7)?;
    expect(7, b"-")?;
    let day = digits(8..10)?;
    expect(10, b"Tt ")?;
    let hour = digits(11..13)?;
    expect(13, b":")?;
    let minute = digits(14..16)?;
    expect(16, b":")?;
    let second = digits(17..19)?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return Err(format!("{text:?}: no such date"));
    }
    if hour > 23 || minute > 59 || second > 60 {
        return Err(format!("{text:?}: no such time of day"));
    }
    let mut at = 19;
    let mut nanos = 0u32;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            if at - start < 9 {
                nanos = nanos * 10 + u32::from(b[at] - b'0');
            }
            at += 1;
        }
        if at == start {
            return Err(format!("{text:?}: expected digits after '.'"));
        }
        for _ in (at - start)..9 {
            nanos *= 10;
        }
    }
    let offset_min: i64 = match b.get(at) {
        Some(b'Z' | b'z') if at + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) if at + 6 == b.len() => {
            let h = i64::from(digits(at + 1..at + 3)?);
            expect(at + 3, b":")?;
            let m = i64::from(digits(at + 4..at + 6)?);
            if h > 23 || m > 59 {
                return Err(format!("{text:?}: no such time zone offset"));
            }
            let total = h * 60 + m;
            if *sign == b'-' { -total } else { total }
        }
        _ => return Err(format!("{text:?}: expected 'Z' or an offset like +03:00 at offset {at}")),
    };
    let days = days_from_civil(year, month, day);
    let secs =
        days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second.min(59)) - offset_min * 60;
    Ok((secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_or_rfc3339() {
        assert_eq!(parse_ms_or_rfc3339("1763719200000"), Ok(1_763_719_200_000));
        assert_eq!(parse_ms_or_rfc3339("-5"), Ok(-5));
        assert_eq!(parse_ms_or_rfc3339("2025-11-21T10:00:00Z"), Ok(1_763_719_200_000));
        let e = parse_ms_or_rfc3339("yesterday").unwrap_err();
        assert!(e.starts_with("expected milliseconds since the epoch or RFC 3339 text: "), "{e}");
    }

    #[test]
    fn nanoseconds_are_kept_to_the_ninth_digit() {
        assert_eq!(parse_rfc3339_parts("2020-08-24T10:08:44.868680817Z"), Ok((1_598_263_724, 868_680_817)));
        assert_eq!(parse_rfc3339_parts("2020-08-24T13:08:44.8686808171234+03:00"), Ok((1_598_263_724, 868_680_817)));
        assert_eq!(parse_rfc3339_parts("2020-08-24t10:08:44.5z"), Ok((1_598_263_724, 500_000_000)));
        assert_eq!(parse_rfc3339_ms("2020-08-24T10:08:44.868680817Z"), Ok(1_598_263_724_868));
    }

    #[test]
    fn parses_utc_and_offsets() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_rfc3339_ms("2000-01-01T00:00:00Z"), Ok(MIN_TS_MS));
        assert_eq!(parse_rfc3339_ms("2100-01-01T00:00:00Z"), Ok(MAX_TS_MS));
        assert_eq!(parse_rfc3339_ms("2026-11-21T13:00:00.25+03:00"), parse_rfc3339_ms("2026-11-21T10:00:00.250Z"));
        assert_eq!(parse_rfc3339_ms("2024-02-29T00:00:00.123456Z"), Ok(1_709_164_800_123));
        assert_eq!(parse_rfc3339_ms("1969-12-31T23:00:00-01:00"), Ok(0));
    }

    #[test]
    fn formats_and_parses_back() {
        for ms in [0, 1, MIN_TS_MS, MAX_TS_MS - 1, 1_709_164_800_123, -1, -86_400_001] {
            let text = format_rfc3339_ms(ms);
            assert_eq!(parse_rfc3339_ms(&text), Ok(ms), "{text}");
        }
        assert_eq!(format_rfc3339_ms(1_709_164_800_123), "2024-02-29T00:00:00.123Z");
    }

    #[test]
    fn refuses_impossible_dates_and_garbage() {
        for bad in [
            "2023-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-11-21T24:00:00Z",
            "2026-11-21T10:00:00",
            "2026-11-21T10:00:00+3:00",
            "2026-11-21",
            "yesterday",
            "2026-11-21T10:00:00.Z",
            "",
        ] {
            assert!(parse_rfc3339_ms(bad).is_err(), "{bad} accepted");
        }
    }
}
