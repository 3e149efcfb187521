//! `set_clock`: write the meter's clock, the Clock (class 8)
//! `0.0.1.0.0.255`, attribute 2 (time), as a COSEM date-time, an
//! `octet-string` of 12: year (u16), month, day of month, day of week (1
//! Monday .. 7 Sunday), hour, minute, second, hundredths (0), deviation
//! (i16, minutes, UTC minus local time: -180 for UTC+3), clock status (0).
//!
//! Args `{"time"?: RFC 3339, "utc_offset_minutes"?: integer}`: `time`
//! defaults to the host's clock when the SET is sent (not when the
//! command was queued: it may wait days for the meter); the local time is
//! written at `utc_offset_minutes`, by default the instance's setting.
//! Sub-second parts are dropped (the hundredths are 0). Integer arithmetic
//! only, with the calendar of `meterhub_plugin_api::time`.

use meterhub_plugin_api::time::{MAX_TS_MS, MIN_TS_MS, civil_from_days, format_rfc3339_ms, parse_rfc3339_ms};

use super::Set;
use super::apdu::Target;
use super::args::Args;

/// The command's name.
pub const NAME: &str = "set_clock";
/// The attribute it writes: Clock `0.0.1.0.0.255`, time.
pub const CLOCK_TIME: Target = Target { class: 8, obis: [0, 0, 1, 0, 0, 255], attribute: 2 };
/// The range of `utc_offset_minutes`, the argument and the setting.
pub const OFFSETS: std::ops::RangeInclusive<i64> = -720..=840;

/// A `set_clock` command, its args read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetClock {
    /// The time to set, Unix milliseconds; the host's clock when absent.
    pub time_ms: Option<i64>,
    /// The offset of the local time to write, minutes east of UTC; the
    /// instance's `utc_offset_minutes` when absent.
    pub utc_offset_minutes: Option<i32>,
}

/// Read the args of `set_clock`.
pub fn parse(args: &str) -> Result<SetClock, String> {
    let args = Args::parse(NAME, args, &["time", "utc_offset_minutes"])?;
    let time_ms = match args.string("time")? {
        Some(text) => {
            let ms = parse_rfc3339_ms(&text).map_err(|e| args.error("time", &format!("expected RFC 3339: {e}")))?;
            in_range(ms).map_err(|why| args.error("time", &why))?;
            Some(ms)
        }
        None => None,
    };
    let utc_offset_minutes = match args.integer("utc_offset_minutes")? {
        Some(n) if OFFSETS.contains(&n) => Some(n as i32),
        Some(n) => return Err(args.error("utc_offset_minutes", &format!("expected -720 to 840, got {n}"))),
        None => None,
    };
    Ok(SetClock { time_ms, utc_offset_minutes })
}

impl SetClock {
    /// The SET at host clock `now_ms`, local time at `default_offset`
    /// unless the command says otherwise.
    pub fn set(&self, now_ms: i64, default_offset: i32) -> Result<Set, String> {
        let ms = match self.time_ms {
            Some(ms) => ms,
            None => in_range(now_ms).map(|()| now_ms).map_err(|why| format!("{NAME}: the host's clock {why}"))?,
        };
        let offset = self.utc_offset_minutes.unwrap_or(default_offset);
        let (octets, local) = date_time(ms.div_euclid(1000), offset);
        let mut data = vec![0x09, 0x0C];
        data.extend(octets);
        Ok(Set { target: CLOCK_TIME, data, answer: format!("clock set to {local}") })
    }
}

/// Whether `ms` is a time a meter's clock takes (2000 to 2099).
fn in_range(ms: i64) -> Result<(), String> {
    match (MIN_TS_MS..MAX_TS_MS).contains(&ms) {
        true => Ok(()),
        false => Err(format!(
            "{} is outside {} to {}",
            format_rfc3339_ms(ms),
            format_rfc3339_ms(MIN_TS_MS),
            format_rfc3339_ms(MAX_TS_MS)
        )),
    }
}

/// The COSEM date-time of `utc_s` (Unix seconds) as local time at
/// `offset` minutes east of UTC, and that local time as RFC 3339 text
/// (`2026-12-06T13:00:00+03:00`). `utc_s` is within 2000 to 2099.
pub fn date_time(utc_s: i64, offset: i32) -> ([u8; 12], String) {
    let local = utc_s + i64::from(offset) * 60;
    let (days, in_day) = (local.div_euclid(86_400), local.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    // 1970-01-01 was a Thursday (4).
    let weekday = (days + 3).rem_euclid(7) + 1;
    let (hour, minute, second) = (in_day / 3600, in_day / 60 % 60, in_day % 60);
    let [y1, y2] = (year as u16).to_be_bytes();
    let [d1, d2] = (-offset as i16).to_be_bytes();
    let octets = [y1, y2, month as u8, day as u8, weekday as u8, hour as u8, minute as u8, second as u8, 0, d1, d2, 0];
    let sign = if offset < 0 { '-' } else { '+' };
    let (oh, om) = (offset.unsigned_abs() / 60, offset.unsigned_abs() % 60);
    let text = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{sign}{oh:02}:{om:02}");
    (octets, text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::testing::unhex;

    /// 2026-12-06T10:00:00Z.
    const SPEC_MS: i64 = 1_796_551_200_000;

    #[test]
    fn the_spec_s_example() {
        assert_eq!(parse_rfc3339_ms("2026-12-06T10:00:00Z"), Ok(SPEC_MS));
        let set = parse(r#"{"time": "2026-12-06T10:00:00Z"}"#).unwrap().set(0, 180).unwrap();
        assert_eq!(set.answer, "clock set to 2026-12-06T13:00:00+03:00");
        // 2026-12-06 is a Sunday (7); deviation -180 is 0xFF4C.
        assert_eq!(set.data, unhex("09 0C 07EA 0C 06 07 0D 00 00 00 FF4C 00"));
        assert_eq!(set.target, CLOCK_TIME);
    }

    #[test]
    fn offsets_days_of_week_and_the_host_s_clock() {
        // The same instant, written in another zone's local time.
        let (octets, text) = date_time(SPEC_MS / 1000, -300);
        assert_eq!(text, "2026-12-06T05:00:00-05:00");
        assert_eq!(octets, [0x07, 0xEA, 12, 6, 7, 5, 0, 0, 0, 0x01, 0x2C, 0]);
        // Across midnight and a year, at UTC+14: 2026-12-31T23:30:59.999Z.
        let clock = parse(r#"{"time": "2026-12-31T23:30:59.999Z", "utc_offset_minutes": 840}"#).unwrap();
        let set = clock.set(0, 180).unwrap();
        assert_eq!(set.answer, "clock set to 2027-01-01T13:30:59+14:00");
        assert_eq!(set.data[2..11], [0x07, 0xEB, 1, 1, 5, 13, 30, 59, 0], "a Friday, hundredths 0");
        assert_eq!(set.data[11..], [0xFC, 0xB8, 0], "deviation -840");
        // An offset of zero and of -12:00; Monday 2000-01-03.
        assert_eq!(date_time(946_857_600, 0).1, "2000-01-03T00:00:00+00:00");
        assert_eq!(date_time(946_857_600, 0).0[4], 1);
        assert_eq!(date_time(946_857_600, -720).1, "2000-01-02T12:00:00-12:00");
        // No time: the host's clock when the SET is made.
        let now = parse("{}").unwrap().set(SPEC_MS + 1_500, 180).unwrap();
        assert_eq!(now.answer, "clock set to 2026-12-06T13:00:01+03:00");
        assert_eq!(
            parse("").unwrap().set(0, 180).unwrap_err(),
            "set_clock: the host's clock 1970-01-01T00:00:00Z is outside 2000-01-01T00:00:00Z to 2100-01-01T00:00:00Z"
        );
    }

    #[test]
    fn bad_args_name_the_command_and_the_problem() {
        let cases = [
            (
                r#"{"time": "yesterday"}"#,
                r#"set_clock: argument "time": expected RFC 3339: "yesterday": expected digits at offset 0"#,
            ),
            (r#"{"time": 1796551200000}"#, r#"set_clock: argument "time": expected a string, got 1796551200000"#),
            (
                r#"{"time": "1999-12-31T23:59:59Z"}"#,
                r#"set_clock: argument "time": 1999-12-31T23:59:59Z is outside 2000-01-01T00:00:00Z to 2100-01-01T00:00:00Z"#,
            ),
            (
                r#"{"utc_offset_minutes": 841}"#,
                r#"set_clock: argument "utc_offset_minutes": expected -720 to 840, got 841"#,
            ),
            (
                r#"{"utc_offset_minutes": "+03:00"}"#,
                r#"set_clock: argument "utc_offset_minutes": expected an integer, got "+03:00""#,
            ),
            (
                r#"{"zone": "Europe/Moscow"}"#,
                r#"set_clock: argument "zone": unknown; set_clock takes "time", "utc_offset_minutes""#,
            ),
        ];
        for (args, want) in cases {
            assert_eq!(parse(args).unwrap_err(), want, "{args}");
        }
    }
}
