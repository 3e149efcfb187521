//! The meter's date and time: M-Bus data type F (EN 13757-3, annex A), the
//! four bytes after DIF/VIF `04 6D` in the CMi4110's messages.
//!
//! Bits of the 32-bit little-endian value, as the CMi4110 manual lists them:
//! minute 0-5, reserved 6, invalid (IV) 7, hour 8-12, hundred-year 13-14,
//! summer time (SU) 15, day 16-20, year-low 21-23, month 24-27, year-high
//! 28-31; the year of the century is `year-high << 3 | year-low`.
//!
//! The time is the meter's local time: the telegram has no UTC offset, so
//! turning it into an instant needs the offset the operator configures
//! (`utc_offset_minutes`); with the SU bit set the meter keeps summer time,
//! one hour ahead of that (standard-time) offset.

use meterhub_plugin_api::time::{MAX_TS_MS, MIN_TS_MS, days_from_civil};

/// A type F date and time as the meter sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeterDateTime {
    /// Year (four digits).
    pub year: i64,
    /// Month, 1-12 when valid.
    pub month: u32,
    /// Day of month, 1-31 when valid.
    pub day: u32,
    /// Hour, 0-23 when valid.
    pub hour: u32,
    /// Minute, 0-59 when valid.
    pub minute: u32,
    /// SU: the meter keeps summer (daylight-saving) time.
    pub summer: bool,
    /// IV: the meter says the time is not valid.
    pub invalid: bool,
}

impl MeterDateTime {
    /// Decode the four data bytes. Hundred-year bits 0 with a year below 81
    /// read as 20xx: meters that do not set the hundred-year bits count a
    /// two-digit year, and EN 13757-3 recommends reading such years as
    /// 1981-2080.
    pub fn from_type_f(bytes: [u8; 4]) -> Self {
        let v = u32::from_le_bytes(bytes);
        let bits = |shift: u32, width: u32| (v >> shift) & ((1 << width) - 1);
        let year_of_century = i64::from(bits(28, 4) << 3 | bits(21, 3));
        let hundred = i64::from(bits(13, 2));
        let year = if hundred == 0 && year_of_century < 81 {
            2000 + year_of_century
        } else {
            1900 + 100 * hundred + year_of_century
        };
        MeterDateTime {
            year,
            month: bits(24, 4),
            day: bits(16, 5),
            hour: bits(8, 5),
            minute: bits(0, 6),
            summer: bits(15, 1) == 1,
            invalid: bits(7, 1) == 1,
        }
    }

    /// What is wrong with the calendar fields, if anything (the IV bit
    /// aside): month 1-12, day in the month, hour 0-23, minute 0-59.
    pub fn calendar_problem(&self) -> Option<String> {
        let days = days_in_month(self.year, self.month);
        if !(1..=12).contains(&self.month) {
            Some(format!("month {} is not 1-12", self.month))
        } else if !(1..=days).contains(&self.day) {
            Some(format!("day {} is not 1-{days} of {:04}-{:02}", self.day, self.year, self.month))
        } else if self.hour > 23 {
            Some(format!("hour {} is not 0-23", self.hour))
        } else if self.minute > 59 {
            Some(format!("minute {} is not 0-59", self.minute))
        } else {
            None
        }
    }

    /// The local time as text, `2025-10-16T11:57` (no zone: it has none).
    pub fn local_text(&self) -> String {
        format!("{:04}-{:02}-{:02}T{:02}:{:02}", self.year, self.month, self.day, self.hour, self.minute)
    }

    /// The instant, ms since the epoch, of this local time under a
    /// standard-time UTC offset (minutes east of UTC); `None` when the
    /// meter marks it invalid or it lies outside the timestamps meterhub
    /// accepts.
    pub fn utc_ms(&self, utc_offset_minutes: i32) -> Option<i64> {
        self.local_utc_ms(self.hour, self.minute, utc_offset_minutes)
    }

    /// The instant of 00:00 local time of this date (the meter's midnight
    /// before this time), under the same rules as [`Self::utc_ms`].
    pub fn midnight_utc_ms(&self, utc_offset_minutes: i32) -> Option<i64> {
        self.local_utc_ms(0, 0, utc_offset_minutes)
    }

    fn local_utc_ms(&self, hour: u32, minute: u32, utc_offset_minutes: i32) -> Option<i64> {
        if self.invalid || self.calendar_problem().is_some() {
            return None;
        }
        let offset = i64::from(utc_offset_minutes) + if self.summer { 60 } else { 0 };
        let minutes = days_from_civil(self.year, self.month, self.day) * 1440 + i64::from(hour * 60 + minute) - offset;
        let ms = minutes * 60_000;
        (MIN_TS_MS..MAX_TS_MS).contains(&ms).then_some(ms)
    }
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_f_fields_and_century() {
        // 39 2B 30 3A: 2025-10-16 11:57, hundred-year bits 01.
        let t = MeterDateTime::from_type_f([0x39, 0x2b, 0x30, 0x3a]);
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.minute, t.summer, t.invalid),
            (2025, 10, 16, 11, 57, false, false)
        );
        assert_eq!(t.local_text(), "2025-10-16T11:57");
        // 00 01 21 39: hundred-year bits 00, year 25 -> 2025-09-01 01:00.
        let t = MeterDateTime::from_type_f([0x00, 0x01, 0x21, 0x39]);
        assert_eq!((t.year, t.month, t.day, t.hour, t.minute), (2025, 9, 1, 1, 0));
        // Year 99 without hundred-year bits is 1999.
        assert_eq!(MeterDateTime::from_type_f([0, 0, 0x61, 0xc1]).year, 1999);
    }

    #[test]
    fn instants_need_a_valid_time_and_apply_offset_and_summer_time() {
        let t = MeterDateTime::from_type_f([0x39, 0x2b, 0x30, 0x3a]);
        // 2025-10-16T11:57 at UTC+3 is 08:57Z.
        assert_eq!(t.utc_ms(180), Some(1_760_605_020_000));
        assert_eq!(t.midnight_utc_ms(180), Some(1_760_562_000_000));
        let summer = MeterDateTime { summer: true, ..t };
        assert_eq!(summer.utc_ms(60), t.utc_ms(120));
        assert_eq!(MeterDateTime { invalid: true, ..t }.utc_ms(0), None);
        assert_eq!(MeterDateTime { month: 13, ..t }.utc_ms(0), None);
        assert_eq!(MeterDateTime { year: 1999, ..t }.utc_ms(0), None, "before 2000 is outside meterhub's range");
    }

    #[test]
    fn calendar_problems_are_named() {
        let t = MeterDateTime::from_type_f([0x39, 0x2b, 0x30, 0x3a]);
        assert_eq!(t.calendar_problem(), None);
        assert_eq!(MeterDateTime { month: 0, ..t }.calendar_problem().unwrap(), "month 0 is not 1-12");
        assert_eq!(
            MeterDateTime { month: 2, day: 29, ..t }.calendar_problem().unwrap(),
            "day 29 is not 1-28 of 2025-02"
        );
        assert_eq!(MeterDateTime { hour: 24, ..t }.calendar_problem().unwrap(), "hour 24 is not 0-23");
        assert_eq!(MeterDateTime { minute: 60, ..t }.calendar_problem().unwrap(), "minute 60 is not 0-59");
    }
}
