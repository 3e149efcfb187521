//! The COSEM date-time (Blue Book 4.1.6.1): twelve bytes, year (u16),
//! month, day of month, day of week, hour, minute, second, hundredths,
//! deviation (i16, minutes), clock status; as text for the fields and as a
//! UTC instant for the readings.
//!
//! The deviation is the Blue Book's: minutes from local time to UTC, so
//! UTC = local time + deviation (Moscow, UTC+3: -180; the public Austrian
//! example in the tests, CEST: -120). `0x8000` means "not specified": the
//! instant then needs the meters' UTC offset from the settings.

use meterhub_plugin_api::time::{MAX_TS_MS, MIN_TS_MS, days_from_civil};

/// "Not specified" of the deviation.
const DEVIATION_UNSPECIFIED: i16 = i16::MIN;

/// Clock status bits that make the value unusable as a timestamp: invalid
/// value (bit 0), doubtful value (bit 1), invalid clock status (bit 3).
const STATUS_UNUSABLE: u8 = 0x0b;

/// One COSEM date-time, as sent (not validated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CosemDateTime {
    /// Year, `0xFFFF` not specified.
    pub year: u16,
    /// Month 1-12; `0xFD`/`0xFE` daylight saving end/begin, `0xFF` not specified.
    pub month: u8,
    /// Day of month 1-31; `0xFD`/`0xFE` second last/last day, `0xFF` not specified.
    pub day: u8,
    /// Day of week 1-7 (Monday 1), `0xFF` not specified.
    pub weekday: u8,
    /// Hour 0-23, `0xFF` not specified.
    pub hour: u8,
    /// Minute 0-59, `0xFF` not specified.
    pub minute: u8,
    /// Second 0-59, `0xFF` not specified.
    pub second: u8,
    /// Hundredths of a second 0-99, `0xFF` not specified.
    pub hundredths: u8,
    /// Minutes from local time to UTC, `0x8000` not specified.
    pub deviation: i16,
    /// Clock status bits, `0xFF` not specified.
    pub status: u8,
}

impl CosemDateTime {
    /// The date-time of `b`.
    pub fn from_bytes(b: &[u8; 12]) -> CosemDateTime {
        CosemDateTime {
            year: u16::from_be_bytes([b[0], b[1]]),
            month: b[2],
            day: b[3],
            weekday: b[4],
            hour: b[5],
            minute: b[6],
            second: b[7],
            hundredths: b[8],
            deviation: i16::from_be_bytes([b[9], b[10]]),
            status: b[11],
        }
    }

    /// Local time as text, `*` for what is not specified:
    /// `2021-07-19T15:46:35.00`.
    pub fn local_text(&self) -> String {
        let field = |v: u8, width: usize| if v == 0xff { "*".repeat(width) } else { format!("{v:0width$}") };
        let year = if self.year == 0xffff { "****".to_owned() } else { format!("{:04}", self.year) };
        format!(
            "{year}-{}-{}T{}:{}:{}.{}",
            field(self.month, 2),
            field(self.day, 2),
            field(self.hour, 2),
            field(self.minute, 2),
            field(self.second, 2),
            field(self.hundredths, 2)
        )
    }

    /// The deviation in minutes, if specified.
    pub fn deviation_minutes(&self) -> Option<i16> {
        (self.deviation != DEVIATION_UNSPECIFIED).then_some(self.deviation)
    }

    /// The clock status, if specified.
    pub fn status_bits(&self) -> Option<u8> {
        (self.status != 0xff).then_some(self.status)
    }

    /// The instant, ms since the epoch, UTC; a local time without a
    /// deviation is taken `utc_offset_minutes` east of UTC when given. The
    /// error says why the value is not one instant.
    pub fn utc_ms(&self, utc_offset_minutes: Option<i32>) -> Result<i64, String> {
        if let Some(status) = self.status_bits().filter(|s| s & STATUS_UNUSABLE != 0) {
            return Err(format!("clock status 0x{status:02X} marks it invalid or doubtful"));
        }
        let local_ms = self.local_ms()?;
        let to_utc_minutes = match (self.deviation_minutes(), utc_offset_minutes) {
            (Some(d), _) if (-840..=840).contains(&d) => i64::from(d),
            (Some(d), _) => return Err(format!("deviation {d} is not -840 to 840 minutes")),
            (None, Some(offset)) => -i64::from(offset),
            (None, None) => return Err("its deviation is not specified and no utc_offset_minutes is set".into()),
        };
        let ms = local_ms + to_utc_minutes * 60_000;
        if !(MIN_TS_MS..MAX_TS_MS).contains(&ms) {
            return Err(format!("{} lies outside 2000-2099", self.local_text()));
        }
        Ok(ms)
    }

    /// The local time as ms since the epoch, if every part is a plain value.
    fn local_ms(&self) -> Result<i64, String> {
        let text = self.local_text();
        let bad = |what: &str| Err(format!("{text}: {what} is not a plain value"));
        if self.year == 0xffff {
            return bad("the year");
        }
        if !(1..=12).contains(&self.month) {
            return bad("the month");
        }
        if self.day == 0 || self.day > days_in_month(i64::from(self.year), self.month) {
            return bad("the day");
        }
        if self.hour > 23 || self.minute > 59 || self.second > 59 {
            return bad("the time of day");
        }
        let hundredths = match self.hundredths {
            0xff => 0,
            h if h <= 99 => i64::from(h),
            _ => return bad("the hundredths"),
        };
        let days = days_from_civil(i64::from(self.year), u32::from(self.month), u32::from(self.day));
        let seconds = i64::from(self.hour) * 3600 + i64::from(self.minute) * 60 + i64::from(self.second);
        Ok(days * 86_400_000 + seconds * 1000 + hundredths * 10)
    }
}

fn days_in_month(year: i64, month: u8) -> u8 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(hex: &str) -> CosemDateTime {
        let bytes = meterhub_plugin_api::hex::decode(hex).unwrap();
        CosemDateTime::from_bytes(&bytes.try_into().unwrap())
    }

    #[test]
    fn deviation_is_local_to_utc() {
        // 2021-07-19 15:46:35 CEST, deviation -120, DST bit: 13:46:35Z.
        let t = dt("07e50713010f2e2300ff8880");
        assert_eq!(t.local_text(), "2021-07-19T15:46:35.00");
        assert_eq!(t.utc_ms(None), Ok(1_626_702_395_000));
        // 2024-01-01 03:00 Moscow, deviation -180 (0xFF4C): midnight UTC.
        assert_eq!(dt("07e801010103000000ff4c00").utc_ms(None), Ok(1_704_067_200_000));
    }

    #[test]
    fn unspecified_parts_and_status() {
        let no_deviation = dt("07e8010101030000008000ff");
        assert_eq!(no_deviation.deviation_minutes(), None);
        assert!(no_deviation.utc_ms(None).unwrap_err().contains("no utc_offset_minutes"));
        // 2024-01-01 03:00 local, UTC+3: midnight UTC.
        assert_eq!(no_deviation.utc_ms(Some(180)), Ok(1_704_067_200_000));
        let invalid = dt("07e801010103000000000001");
        assert_eq!(invalid.utc_ms(None).unwrap_err(), "clock status 0x01 marks it invalid or doubtful");
        let wildcard = dt("ffffffffffffffffff8000ff");
        assert_eq!(wildcard.local_text(), "****-**-**T**:**:**.**");
        assert_eq!(wildcard.utc_ms(Some(0)).unwrap_err(), "****-**-**T**:**:**.**: the year is not a plain value");
        assert!(dt("07e8021e01000000000000ff").utc_ms(None).unwrap_err().contains("the day"));
        assert!(dt("07e80101010000000000b400").utc_ms(None).is_ok(), "deviation +180 is a number too");
        assert!(dt("07e8010101000000007fff00").utc_ms(None).unwrap_err().contains("deviation 32767"));
        assert!(dt("0bb8010101000000000000ff").utc_ms(None).unwrap_err().contains("outside 2000-2099"));
    }
}
