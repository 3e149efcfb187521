//! The pushes' APDUs in A-XDR (DLMS UA Blue Book 4.1.5, Green Book
//! COSEMpdu): the data-notification of a СПОДЭС-like daily push, in the
//! order of the `spodes-daily` layout that `plugins/dlms-codec` decodes
//! (its `settings.example.json`), and the COSEM date-time.
//!
//! ```text
//! 0F                          data-notification
//! 00 00 00 01                 long-invoke-id-and-priority (invoke id in bits 0-23)
//! 0C <12 bytes>               date-time present: the push's time
//! 02 09                       structure of 9 (the push object list's values):
//!   09 06 00 00 19 09 00 FF     0.0.25.9.0.255:1  the push setup's logical name
//!   09 LL <serial digits>       0.0.96.1.0.255:2  the serial number, octet-string
//!   09 0C <12 bytes>            0.0.1.0.0.255:2   the clock
//!   06 <u32> x 6                1.0.1.8.0 A+, 1.0.1.8.1 A+ T1, 1.0.1.8.2 A+ T2,
//!                               1.0.2.8.0 A-, 1.0.3.8.0 R+, 1.0.4.8.0 R-: double-long-unsigned,
//!                               Wh and varh (the layout's registers: scaler -3 in kWh, kvarh)
//! ```

use meterhub_plugin_api::time::{MAX_TS_MS, MIN_TS_MS, civil_from_days, days_from_civil, format_rfc3339_ms};

/// The tag of data-notification.
pub const DATA_NOTIFICATION: u8 = 0x0F;
/// An APDU tag no DLMS APDU has (what `--bad-tag` sends).
pub const BAD_TAG: u8 = 0x55;

/// A-XDR `Data` tags used here.
const STRUCTURE: u8 = 0x02;
const DOUBLE_LONG_UNSIGNED: u8 = 0x06;
const OCTET_STRING: u8 = 0x09;
/// The date-time's length, and its tag as an optional octet-string.
const DATE_TIME_LEN: u8 = 12;

/// The logical name of the daily push setup (`0.0.25.9.0.255`), which picks
/// the `spodes-daily` layout.
pub const PUSH_SETUP_DAILY: [u8; 6] = [0, 0, 25, 9, 0, 255];

/// The energy registers of a push, in the layout's order, with the codec's
/// channel for each.
pub const REGISTERS: [([u8; 6], &str); 6] = [
    ([1, 0, 1, 8, 0, 255], "energy-import"),
    ([1, 0, 1, 8, 1, 255], "energy-import-t1"),
    ([1, 0, 1, 8, 2, 255], "energy-import-t2"),
    ([1, 0, 2, 8, 0, 255], "energy-export"),
    ([1, 0, 3, 8, 0, 255], "reactive-energy-import"),
    ([1, 0, 4, 8, 0, 255], "reactive-energy-export"),
];

/// Readings each push gives (one per register).
pub const READINGS_PER_PUSH: u64 = REGISTERS.len() as u64;

/// A COSEM date-time (Blue Book 4.1.6.1), a plain value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    /// Unix ms (whole seconds are sent: hundredths are always 0).
    pub utc_ms: i64,
    /// The meter's offset from UTC, minutes east (+180 for Moscow). The
    /// date-time carries its Blue Book deviation, the opposite: minutes
    /// from local time to UTC (-180), as `dlms-codec` reads it.
    pub offset_minutes: i16,
}

impl DateTime {
    /// Its twelve bytes: year (u16), month, day, weekday (Monday 1), hour,
    /// minute, second, hundredths, deviation (i16), clock status (0: ok).
    pub fn bytes(self) -> [u8; 12] {
        let local_ms = self.utc_ms + i64::from(self.offset_minutes) * 60_000;
        let days = local_ms.div_euclid(86_400_000);
        let in_day = local_ms.rem_euclid(86_400_000) / 1000;
        let (year, month, day) = civil_from_days(days);
        // 1970-01-01 was a Thursday (4).
        let weekday = (days + 3).rem_euclid(7) + 1;
        let small = |v: i64| u8::try_from(v).unwrap_or(0xFF);
        let year = u16::try_from(year).unwrap_or(0xFFFF).to_be_bytes();
        let deviation = (-self.offset_minutes).to_be_bytes();
        [
            year[0],
            year[1],
            small(i64::from(month)),
            small(i64::from(day)),
            small(weekday),
            small(in_day / 3600),
            small(in_day / 60 % 60),
            small(in_day % 60),
            0,
            deviation[0],
            deviation[1],
            0x00,
        ]
    }

    /// The date-time of `bytes` (the inverse of [`DateTime::bytes`], as a
    /// meter reads a clock written to it): the local time and the Blue
    /// Book deviation (UTC minus local, minutes) give the instant; a
    /// deviation of 0x8000 (not specified) takes `offset_minutes`, the
    /// meter's own. The day of week, hundredths and clock status are not
    /// read. `None` for a field not specified (0xFF..) or out of range,
    /// a day the month lacks, a deviation beyond 14 hours, or an instant
    /// outside 2000-2099.
    pub fn from_bytes(bytes: [u8; 12], offset_minutes: i16) -> Option<DateTime> {
        let [y0, y1, month, day, _, hour, minute, second, _, d0, d1, _] = bytes;
        let year = i64::from(u16::from_be_bytes([y0, y1]));
        let deviation = i16::from_be_bytes([d0, d1]);
        let offset = if deviation == i16::MIN { offset_minutes } else { deviation.checked_neg()? };
        if !(1..=12).contains(&month) || hour > 23 || minute > 59 || second > 59 || offset.abs() > 14 * 60 {
            return None;
        }
        let days = days_from_civil(year, u32::from(month), u32::from(day));
        if civil_from_days(days) != (year, u32::from(month), u32::from(day)) {
            return None;
        }
        let local_ms = days * 86_400_000 + (i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second)) * 1000;
        let utc_ms = local_ms - i64::from(offset) * 60_000;
        (MIN_TS_MS..MAX_TS_MS).contains(&utc_ms).then_some(DateTime { utc_ms, offset_minutes: offset })
    }

    /// The instant as RFC 3339 UTC text.
    pub fn utc_text(self) -> String {
        format_rfc3339_ms(self.utc_ms)
    }
}

/// One daily push of one meter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    /// The invoke id (bits 0-23 of long-invoke-id-and-priority; higher bits
    /// are dropped, priority and service class stay 0).
    pub invoke_id: u32,
    /// The push's time: the notification's date-time and the clock's value.
    pub time: DateTime,
    /// The meter's serial number (`0.0.96.1.0.255`), sent as an
    /// octet-string of its ASCII digits.
    pub serial: String,
    /// The registers' values in [`REGISTERS`] order, Wh and varh.
    pub registers: [u32; 6],
}

/// Append an A-XDR length (X.690 definite form: one byte below 0x80, else
/// 0x81-0x84 and that many bytes).
pub fn put_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
        return;
    }
    let bytes = (len as u64).to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    out.push(0x80 | (8 - skip) as u8);
    out.extend_from_slice(&bytes[skip..]);
}

fn put_octet_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(OCTET_STRING);
    put_length(out, bytes.len());
    out.extend_from_slice(bytes);
}

/// The data-notification APDU of `push` (see the module's layout).
pub fn push_apdu(push: &Push) -> Vec<u8> {
    let time = push.time.bytes();
    let mut out = Vec::with_capacity(96);
    out.push(DATA_NOTIFICATION);
    out.extend_from_slice(&(push.invoke_id & 0x00FF_FFFF).to_be_bytes());
    out.push(DATE_TIME_LEN);
    out.extend_from_slice(&time);
    out.extend_from_slice(&[STRUCTURE, 3 + REGISTERS.len() as u8]);
    put_octet_string(&mut out, &PUSH_SETUP_DAILY);
    put_octet_string(&mut out, push.serial.as_bytes());
    put_octet_string(&mut out, &time);
    for value in push.registers {
        out.push(DOUBLE_LONG_UNSIGNED);
        out.extend_from_slice(&value.to_be_bytes());
    }
    out
}

/// `apdu` with its tag replaced by [`BAD_TAG`] (an APDU no one knows).
pub fn bad_tag(apdu: &[u8]) -> Vec<u8> {
    let mut out = apdu.to_vec();
    if let Some(tag) = out.first_mut() {
        *tag = BAD_TAG;
    }
    out
}
