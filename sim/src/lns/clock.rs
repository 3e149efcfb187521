//! Times and identifiers as the network servers write them: RFC 3339 in
//! ChirpStack v4's form (chrono's `to_rfc3339`: fraction of 0, 3, 6 or 9
//! digits, `+00:00`) and in Go's `RFC3339Nano` form (ChirpStack v3, The
//! Things Stack: trailing zeros trimmed, `Z`), read back to the
//! nanosecond ([`Stamp::parse_rfc3339`], for the storage), UUIDs (ChirpStack's
//! `deduplicationId`, application and profile ids) and ULIDs (The Things
//! Stack's `correlation_ids`).

use rand::Rng;

/// A UTC instant with nanoseconds (the simulated time of an event).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamp {
    secs: i64,
    nanos: u32,
}

impl Stamp {
    /// Unix milliseconds.
    pub fn from_ms(ms: i64) -> Stamp {
        Stamp { secs: ms.div_euclid(1000), nanos: u32::try_from(ms.rem_euclid(1000)).unwrap_or(0) * 1_000_000 }
    }

    /// Unix seconds and nanoseconds (`nanos` beyond a second carry over).
    pub fn from_parts(secs: i64, nanos: u32) -> Stamp {
        Stamp { secs: secs + i64::from(nanos / 1_000_000_000), nanos: nanos % 1_000_000_000 }
    }

    /// The wall clock now.
    pub fn now() -> Stamp {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        Stamp::from_parts(i64::try_from(now.as_secs()).unwrap_or(i64::MAX), now.subsec_nanos())
    }

    /// Whole Unix seconds (rounded down).
    pub fn secs(self) -> i64 {
        self.secs
    }

    /// Nanoseconds within the second.
    pub fn subsec_nanos(self) -> u32 {
        self.nanos
    }

    /// Unix milliseconds (rounded down).
    pub fn ms(self) -> i64 {
        self.secs * 1000 + i64::from(self.nanos / 1_000_000)
    }

    /// This instant moved by `ns` nanoseconds (either way).
    pub fn plus_nanos(self, ns: i64) -> Stamp {
        let total = i128::from(self.secs) * 1_000_000_000 + i128::from(self.nanos) + i128::from(ns);
        let secs = i64::try_from(total.div_euclid(1_000_000_000)).unwrap_or(i64::MAX);
        Stamp { secs, nanos: u32::try_from(total.rem_euclid(1_000_000_000)).unwrap_or(0) }
    }

    /// This instant moved by `ms` milliseconds.
    pub fn plus_ms(self, ms: i64) -> Stamp {
        self.plus_nanos(ms.saturating_mul(1_000_000))
    }

    /// The seconds as a u32 (a Vega device's clock field), clamped.
    pub fn unix_u32(self) -> u32 {
        u32::try_from(self.secs.clamp(0, i64::from(u32::MAX))).unwrap_or(u32::MAX)
    }

    /// `YYYY-MM-DDTHH:MM:SS`.
    fn date_time(self) -> String {
        let days = self.secs.div_euclid(86_400);
        let of_day = self.secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}", of_day / 3600, of_day / 60 % 60, of_day % 60)
    }

    /// ChirpStack v4's form: `2022-07-18T09:34:15.775023242+00:00` (the
    /// fraction has 9, 6, 3 or no digits, the fewest that keep it exact).
    pub fn chirpstack_v4(self) -> String {
        let fraction = match self.nanos {
            0 => String::new(),
            n if n % 1_000_000 == 0 => format!(".{:03}", n / 1_000_000),
            n if n % 1_000 == 0 => format!(".{:06}", n / 1_000),
            n => format!(".{n:09}"),
        };
        format!("{}{fraction}+00:00", self.date_time())
    }

    /// Go's `RFC3339Nano` form: `2020-02-12T15:15:45.787Z` (trailing
    /// zeros of the fraction dropped, none when it is zero).
    pub fn go(self) -> String {
        let digits = format!("{:09}", self.nanos);
        let digits = digits.trim_end_matches('0');
        if digits.is_empty() { format!("{}Z", self.date_time()) } else { format!("{}.{digits}Z", self.date_time()) }
    }

    /// The instant of RFC 3339 `text`, every form the servers write and Go
    /// reads: `2020-08-20T00:00:00Z`, `2022-07-18T09:34:15.775023242+00:00`,
    /// a fraction of any length (digits past the ninth dropped), `t`/`z`
    /// in lower case. The error says what is wrong.
    pub fn parse_rfc3339(text: &str) -> Result<Stamp, String> {
        let b = text.as_bytes();
        let number = |at: usize, len: usize| -> Result<u32, String> {
            let part = b.get(at..at + len).ok_or_else(|| format!("{text:?} is too short for RFC 3339"))?;
            if !part.iter().all(u8::is_ascii_digit) {
                return Err(format!("{text:?}: expected {len} digits at offset {at}"));
            }
            Ok(part.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
        };
        let expect = |at: usize, allowed: &[u8]| -> Result<(), String> {
            match b.get(at) {
                Some(c) if allowed.contains(c) => Ok(()),
                _ => Err(format!("{text:?}: expected {:?} at offset {at}", String::from_utf8_lossy(&allowed[..1]))),
            }
        };
        let year = number(0, 4)?;
        expect(4, b"-")?;
        let month = number(5, 2)?;
        expect(7, b"-")?;
        let day = number(8, 2)?;
        expect(10, b"Tt")?;
        let hour = number(11, 2)?;
        expect(13, b":")?;
        let minute = number(14, 2)?;
        expect(16, b":")?;
        let second = number(17, 2)?;
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        let month_days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => 0,
        };
        if day == 0 || day > month_days {
            return Err(format!("{text:?}: no such date"));
        }
        if hour > 23 || minute > 59 || second > 59 {
            return Err(format!("{text:?}: no such time of day"));
        }
        let mut at = 19;
        let mut nanos = 0u32;
        if b.get(at) == Some(&b'.') {
            let start = at + 1;
            at = start;
            while b.get(at).is_some_and(u8::is_ascii_digit) {
                if at - start < 9 {
                    nanos = nanos * 10 + u32::from(b[at] - b'0');
                }
                at += 1;
            }
            if at == start {
                return Err(format!("{text:?}: expected digits after the '.' at offset {}", start - 1));
            }
            for _ in (at - start)..9 {
                nanos *= 10;
            }
        }
        let offset_s = match b.get(at) {
            Some(b'Z' | b'z') if at + 1 == b.len() => 0,
            Some(sign @ (b'+' | b'-')) if at + 6 == b.len() => {
                let (h, m) = (number(at + 1, 2)?, number(at + 4, 2)?);
                expect(at + 3, b":")?;
                if h > 23 || m > 59 {
                    return Err(format!("{text:?}: no such time zone offset"));
                }
                let offset = i64::from(h * 3600 + m * 60);
                if *sign == b'-' { -offset } else { offset }
            }
            _ => return Err(format!("{text:?}: expected 'Z' or an offset like +03:00 at offset {at}")),
        };
        let days = meterhub_plugin_api::time::days_from_civil(i64::from(year), month, day);
        let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset_s;
        Ok(Stamp { secs, nanos })
    }
}

/// Year, month (1–12) and day (1–31) of a day count from 1970-01-01, in
/// the proleptic Gregorian calendar (eras of 400 years from March 1st).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, u32::try_from(month).unwrap_or(1), u32::try_from(day).unwrap_or(1))
}

/// A random (version 4) UUID, lower case, `8-4-4-4-12`.
pub fn uuid(rng: &mut impl Rng) -> String {
    let mut b: [u8; 16] = rng.random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = meterhub_plugin_api::hex::encode(&b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// A ULID: 48 bits of Unix milliseconds then 80 random bits, in
/// Crockford's base32 (26 characters).
pub fn ulid(at: Stamp, rng: &mut impl Rng) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let ms = u128::try_from(at.ms().max(0)).unwrap_or(0) & ((1 << 48) - 1);
    let random = rng.random::<u128>() & ((1 << 80) - 1);
    let value = (ms << 80) | random;
    (0..26).rev().map(|i| char::from(ALPHABET[usize::try_from((value >> (5 * i)) & 31).unwrap_or(0)])).collect()
}
