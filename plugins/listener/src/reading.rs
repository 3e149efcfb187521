//! One reading object: parse and validate it into a [`Reading`], with
//! errors that name the field and what is wrong with it.
//!
//! ```json
//! {"device": "m-17", "channel": "volume", "ts": "2026-11-21T10:00:00Z",
//!  "value": 1234.567, "unit": "m3", "kind": "cumulative"}
//! ```
//!
//! Strict: unknown or repeated fields, wrong types and missing required
//! fields are errors. `value` is read exactly from its JSON text (see
//! [`crate::decimal`]); `ts` must lie in `[MIN_TS_MS, MAX_TS_MS)` and not
//! more than `max_future_ms` after the host's clock.

use std::fmt;

use meterhub_plugin_api::time::{MAX_TS_MS, MIN_TS_MS, format_rfc3339_ms as format_ms, parse_rfc3339_ms};
use meterhub_plugin_api::{Reading, ReadingKind};
use serde_json::value::RawValue;

use crate::decimal::{DecimalError, parse_exact};
use crate::json::{self, MemberError, SyntaxError, Type, snippet};

/// Content type of the frames the driver commits and the codec decodes:
/// one reading object, exactly as the device sent it.
pub const CONTENT_TYPE: &str = "application/vnd.meterhub.reading+json";

/// Content type of a frame holding a JSON array of reading objects, exactly
/// as an HTTP client POSTed it.
pub const BATCH_CONTENT_TYPE: &str = "application/vnd.meterhub.readings+json";

/// Longest `device` or `channel`, in bytes.
pub const MAX_NAME_BYTES: usize = 128;
/// Longest `unit`, in bytes.
pub const MAX_UNIT_BYTES: usize = 32;

/// The fields of a reading object, in validation order.
const FIELDS: [&str; 6] = ["device", "channel", "ts", "value", "unit", "kind"];

/// The host's clock and how far ahead of it a device timestamp may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// Host time, milliseconds since the Unix epoch.
    pub now_ms: i64,
    /// Largest accepted `ts - now_ms`.
    pub max_future_ms: i64,
}

/// Why an input is not a valid reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadingError {
    /// Not JSON (or not UTF-8).
    Syntax(SyntaxError),
    /// JSON, but not an object; holds a short rendering of the value.
    NotObject(String),
    /// A field is unknown, repeated, missing or invalid.
    Field {
        /// The field's name as given.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
}

impl ReadingError {
    /// The offending field, if the error is about one.
    pub fn field(&self) -> Option<&str> {
        match self {
            ReadingError::Field { field, .. } => Some(field),
            _ => None,
        }
    }

    fn field_problem(field: &str, problem: impl Into<String>) -> Self {
        ReadingError::Field { field: field.to_owned(), problem: problem.into() }
    }
}

impl fmt::Display for ReadingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadingError::Syntax(e) => e.fmt(f),
            ReadingError::NotObject(got) => write!(f, "expected a reading object, got {got}"),
            ReadingError::Field { field, problem } => write!(f, "field {field:?}: {problem}"),
        }
    }
}

impl std::error::Error for ReadingError {}

/// Parse `bytes` (one JSON reading object) and validate it against `clock`.
pub fn parse(bytes: &[u8], clock: Clock) -> Result<Reading, ReadingError> {
    from_raw(json::parse(bytes).map_err(ReadingError::Syntax)?, clock)
}

/// Validate an already parsed JSON value as a reading.
pub fn from_raw(raw: &RawValue, clock: Clock) -> Result<Reading, ReadingError> {
    let fields = json::members(raw, &FIELDS).map_err(|e| match e {
        MemberError::NotObject(got) => ReadingError::NotObject(got),
        MemberError::Unknown(name) => {
            ReadingError::field_problem(&name, format!("unknown field; a reading has {}", FIELDS.join(", ")))
        }
        MemberError::Duplicate(name) => ReadingError::field_problem(&name, "given more than once"),
    })?;
    from_fields(fields, clock)
}

/// The readings of a JSON array of reading objects, read in one pass;
/// `None` if `bytes` is not an array of objects whose names are all
/// fields, each once (then [`from_raw`] on each element says what is wrong).
pub fn batch(bytes: &[u8], clock: Clock) -> Option<Vec<Result<Reading, ReadingError>>> {
    let objects = json::objects(bytes, &FIELDS)?;
    Some(objects.into_iter().map(|fields| from_fields(fields, clock)).collect())
}

/// Validate the raw values of a reading object's fields, in [`FIELDS`] order.
fn from_fields(fields: [Option<&RawValue>; FIELDS.len()], clock: Clock) -> Result<Reading, ReadingError> {
    let [device, channel, ts, value, unit, kind] = fields;
    fn field<T>(name: &str, result: Result<T, String>) -> Result<T, ReadingError> {
        result.map_err(|problem| ReadingError::field_problem(name, problem))
    }
    fn required<'a>(name: &str, raw: Option<&'a RawValue>) -> Result<&'a RawValue, ReadingError> {
        raw.ok_or_else(|| ReadingError::field_problem(name, "missing"))
    }

    let device = field("device", text(required("device", device)?, MAX_NAME_BYTES, false))?;
    let channel = field("channel", text(required("channel", channel)?, MAX_NAME_BYTES, false))?;
    let ts_ms = field("ts", timestamp(required("ts", ts)?, clock))?;
    let value = field("value", decimal(required("value", value)?))?;
    let unit = match unit {
        Some(raw) => field("unit", text(raw, MAX_UNIT_BYTES, true))?,
        None => String::new(),
    };
    let kind = match kind {
        Some(raw) => field("kind", reading_kind(raw))?,
        None => ReadingKind::Instantaneous,
    };
    Ok(Reading { device, channel, ts_ms, value, unit, kind })
}

/// A string of at most `max_bytes` bytes without control characters.
fn text(raw: &RawValue, max_bytes: usize, may_be_empty: bool) -> Result<String, String> {
    let Some(s) = json::string(raw) else {
        return Err(format!("expected a string, got {}", snippet(raw.get())));
    };
    if s.is_empty() && !may_be_empty {
        return Err("must not be empty".to_owned());
    }
    if s.len() > max_bytes {
        return Err(format!("longer than {max_bytes} bytes ({} bytes)", s.len()));
    }
    if let Some((at, c)) = s.char_indices().find(|(_, c)| c.is_control()) {
        return Err(format!("contains control character U+{:04X} at byte {at}", u32::from(c)));
    }
    Ok(s)
}

/// Longest RFC 3339 text worth parsing; longer strings are refused unread.
const MAX_TS_TEXT: usize = 64;

/// Integer milliseconds or RFC 3339 text, within the accepted range.
fn timestamp(raw: &RawValue, clock: Clock) -> Result<i64, String> {
    let (ms, text) = match Type::of(raw) {
        Type::Number if raw.get().bytes().all(|b| b.is_ascii_digit() || b == b'-') => {
            let ms: i64 = raw.get().parse().map_err(|_| format!("{} is out of range", snippet(raw.get())))?;
            (ms, None)
        }
        Type::String => {
            let s = json::string(raw).unwrap_or_default();
            if s.len() > MAX_TS_TEXT {
                return Err(format!("{:?} is not an RFC 3339 timestamp (too long)", snippet(&s)));
            }
            (parse_rfc3339_ms(&s)?, Some(s))
        }
        _ => return Err(format!("expected integer milliseconds or an RFC 3339 string, got {}", snippet(raw.get()))),
    };
    // Rendered only for an error: formatting a date costs more than parsing one.
    let shown = || text.clone().unwrap_or_else(|| format!("{ms} ({})", format_ms(ms)));
    if ms < MIN_TS_MS {
        return Err(format!("{} is before {}", shown(), &format_ms(MIN_TS_MS)[..10]));
    }
    if ms >= MAX_TS_MS {
        return Err(format!("{} is not before {}", shown(), &format_ms(MAX_TS_MS)[..10]));
    }
    if ms > clock.now_ms.saturating_add(clock.max_future_ms) {
        return Err(format!(
            "{} is more than {} ms after the host's time {}",
            shown(),
            clock.max_future_ms,
            format_ms(clock.now_ms)
        ));
    }
    Ok(ms)
}

/// A JSON number or a decimal string, exact.
fn decimal(raw: &RawValue) -> Result<meterhub_plugin_api::Decimal, String> {
    let string;
    let (text, quoted) = match Type::of(raw) {
        Type::Number => (raw.get(), false),
        Type::String => {
            string = json::string(raw).unwrap_or_default();
            (string.as_str(), true)
        }
        _ => return Err(format!("expected a number or decimal string, got {}", snippet(raw.get()))),
    };
    parse_exact(text).map_err(|e| {
        let shown = if quoted { format!("{:?}", snippet(text)) } else { snippet(text) };
        match e {
            DecimalError::NotANumber => format!("{shown} is not a decimal number"),
            DecimalError::OutOfRange => format!(
                "{shown} is out of range for an exact decimal (at most 28 digits after the point, magnitude below 7.9e28)"
            ),
        }
    })
}

/// One of the [`ReadingKind`] names.
fn reading_kind(raw: &RawValue) -> Result<ReadingKind, String> {
    json::string(raw)
        .and_then(|s| ReadingKind::parse(&s))
        .ok_or_else(|| format!("expected \"cumulative\", \"instantaneous\" or \"state\", got {}", snippet(raw.get())))
}

#[cfg(test)]
mod tests {
    use meterhub_plugin_api::Decimal;

    use super::*;

    /// 2026-11-21T10:00:00Z.
    const NOW: i64 = 1_795_255_200_000;
    const CLOCK: Clock = Clock { now_ms: NOW, max_future_ms: 86_400_000 };

    fn ok(json: &str) -> Reading {
        parse(json.as_bytes(), CLOCK).unwrap_or_else(|e| panic!("{json}: {e}"))
    }

    fn err(json: &str) -> String {
        match parse(json.as_bytes(), CLOCK) {
            Ok(r) => panic!("{json} accepted as {r:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn with_value(value: &str) -> String {
        format!(r#"{{"device":"d","channel":"c","ts":1795255200000,"value":{value}}}"#)
    }

    #[test]
    fn reads_a_full_reading() {
        let r = ok(
            r#"{"device":"m-17","channel":"volume","ts":"2026-11-21T13:00:00.250+03:00","value":1234.567,"unit":"m3","kind":"cumulative"}"#,
        );
        assert_eq!(
            r,
            Reading {
                device: "m-17".into(),
                channel: "volume".into(),
                ts_ms: NOW + 250,
                value: Decimal::new(1_234_567, 3),
                unit: "m3".into(),
                kind: ReadingKind::Cumulative,
            }
        );
        let r = ok(r#"{"channel":"t","device":"d","value":"-4.50","ts":1795255200000}"#);
        assert_eq!((r.unit.as_str(), r.kind, r.value.to_string()), ("", ReadingKind::Instantaneous, "-4.50".into()));
    }

    #[test]
    fn values_are_exact() {
        let value = |v: &str| ok(&with_value(v)).value.to_string();
        assert_eq!(value("0.1"), "0.1");
        assert_eq!(ok(&with_value("0.1")).value, Decimal::new(1, 1));
        assert_eq!(value("1e-3"), "0.001");
        assert_eq!(value("123456789012345678901234.5678"), "123456789012345678901234.5678");
        assert_eq!(value("\"123456789012345678901234.5678\""), "123456789012345678901234.5678");
        assert_eq!(value("\"12.50\""), "12.50");
    }

    #[test]
    fn bad_values_name_the_field() {
        let cases = [
            ("true", r#"field "value": expected a number or decimal string, got true"#),
            ("null", r#"field "value": expected a number or decimal string, got null"#),
            ("\"NaN\"", r#"field "value": "NaN" is not a decimal number"#),
            ("\"\"", r#"field "value": "" is not a decimal number"#),
            ("1e40", r#"field "value": 1e40 is out of range for an exact decimal"#),
            ("\"1e40\"", r#"field "value": "1e40" is out of range for an exact decimal"#),
        ];
        for (value, want) in cases {
            let got = err(&with_value(value));
            assert!(got.starts_with(want), "{value}: {got}");
        }
    }

    #[test]
    fn timestamps_are_checked() {
        let with_ts = |ts: &str| format!(r#"{{"device":"d","channel":"c","ts":{ts},"value":1}}"#);
        assert_eq!(
            err(&with_ts("\"1999-12-31T00:00:00Z\"")),
            r#"field "ts": 1999-12-31T00:00:00Z is before 2000-01-01"#
        );
        assert_eq!(
            err(&with_ts("946684799999")),
            r#"field "ts": 946684799999 (1999-12-31T23:59:59.999Z) is before 2000-01-01"#
        );
        assert_eq!(
            err(&with_ts("\"2100-01-01T00:00:00Z\"")),
            r#"field "ts": 2100-01-01T00:00:00Z is not before 2100-01-01"#
        );
        assert_eq!(
            err(&with_ts("1795341600001")),
            r#"field "ts": 1795341600001 (2026-11-22T10:00:00.001Z) is more than 86400000 ms after the host's time 2026-11-21T10:00:00Z"#
        );
        assert_eq!(ok(&with_ts("1795341600000")).ts_ms, NOW + 86_400_000);
        assert_eq!(err(&with_ts("1.5")), r#"field "ts": expected integer milliseconds or an RFC 3339 string, got 1.5"#);
        assert_eq!(err(&with_ts("99999999999999999999")), r#"field "ts": 99999999999999999999 is out of range"#);
        assert_eq!(err(&with_ts("\"yesterday\"")), r#"field "ts": "yesterday": expected digits at offset 0"#);
    }

    #[test]
    fn shape_errors_name_the_field() {
        assert_eq!(err(r#"{"device":"d"}"#), r#"field "channel": missing"#);
        assert_eq!(
            err(r#"{"device":"d","colour":1}"#),
            r#"field "colour": unknown field; a reading has device, channel, ts, value, unit, kind"#
        );
        assert_eq!(err(r#"{"device":"d","device":"e"}"#), r#"field "device": given more than once"#);
        assert_eq!(err("[1,2]"), "expected a reading object, got [1,2]");
        assert_eq!(err(r#"{"device":"a\u0000b"}"#), r#"field "device": contains control character U+0000 at byte 1"#);
        assert_eq!(err(r#"{"device":""}"#), r#"field "device": must not be empty"#);
        assert_eq!(err(r#"{"device":1}"#), r#"field "device": expected a string, got 1"#);
        assert_eq!(err(r#"{"device":"d""#), "invalid JSON at line 1 column 13: EOF while parsing an object");
    }

    #[test]
    fn formats_timestamps() {
        for text in ["2000-01-01T00:00:00Z", "2024-02-29T23:59:59.999Z", "1969-12-31T23:59:59Z", "2100-01-01T00:00:00Z"]
        {
            assert_eq!(format_ms(parse_rfc3339_ms(text).unwrap()), text);
        }
        assert_eq!(format_ms(NOW), "2026-11-21T10:00:00Z");
    }
}
