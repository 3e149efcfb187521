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
    /// reads, to the nanosecond
    /// ([`meterhub_plugin_api::time::parse_rfc3339_parts`]).
    pub fn parse_rfc3339(text: &str) -> Result<Stamp, String> {
        let (secs, nanos) = meterhub_plugin_api::time::parse_rfc3339_parts(text)?;
        Ok(Stamp::from_parts(secs, nanos))
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
