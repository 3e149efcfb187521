//! What PostgreSQL could never store: such a record is rejected (its reason
//! names the field) and the others of the batch are written, instead of
//! the whole transaction failing on it again and again.
//!
//! - text with a NUL character (`text` and `jsonb` strings cannot hold one);
//! - a registry record that is not a JSON object, or that `jsonb` refuses
//!   (a `\u0000` escape, an unpaired surrogate escape);
//! - an archive sequence number beyond `bigint`;
//! - a timestamp out of range: a reading's device time outside meterhub's
//!   device range [`DEVICE_TS`] (every month from the earliest reading to
//!   the latest gets a partition, so one reading from year 1 would make
//!   24 000 of them), any other time outside [`SQL_TS`].

use std::ops::Range;

use meterhub_plugin_api::time::{MAX_TS_MS, MIN_TS_MS, format_rfc3339_ms};
use meterhub_plugin_api::{ArchivedReading, DeltaKey, DeltaRecord, RegistryEntry};
use serde_json::value::RawValue;

/// Device timestamps meterhub accepts (2000-01-01 inclusive to 2100-01-01
/// exclusive, as the listener enforces at ingest): a reading's `ts_ms`.
pub const DEVICE_TS: Range<i64> = MIN_TS_MS..MAX_TS_MS;

/// Other timestamps (archive time, delta bounds): years 1 to 9999, inside
/// PostgreSQL's `timestamptz` range, four-digit years in text.
pub const SQL_TS: Range<i64> = -62_135_596_800_000..253_402_300_800_000;

/// Check an archived reading.
pub fn reading(r: &ArchivedReading) -> Result<(), String> {
    bigint("seq", r.seq)?;
    text("source", &r.source)?;
    text("reading.device", &r.reading.device)?;
    text("reading.channel", &r.reading.channel)?;
    text("reading.unit", &r.reading.unit)?;
    timestamp("reading.ts_ms", r.reading.ts_ms, DEVICE_TS)?;
    timestamp("archived_at_ms", r.archived_at_ms, SQL_TS)
}

/// Check a delta.
pub fn delta(d: &DeltaRecord) -> Result<(), String> {
    key("key.", &d.key)?;
    text("label", &d.label)?;
    text("unit", &d.unit)?;
    timestamp("end_ms", d.end_ms, SQL_TS)?;
    timestamp("from_ms", d.from_ms, SQL_TS)?;
    timestamp("to_ms", d.to_ms, SQL_TS)?;
    for (i, flag) in d.flags.iter().enumerate() {
        text(&format!("flags[{i}]"), flag)?;
    }
    for (i, seq) in d.readings.iter().enumerate() {
        bigint(&format!("readings[{i}]"), *seq)?;
    }
    Ok(())
}

/// Check a delta's key; `prefix` is how the key's fields are named
/// (`key.` inside a delta, empty for a removed delta's key).
pub fn key(prefix: &str, k: &DeltaKey) -> Result<(), String> {
    text(&format!("{prefix}meter"), &k.meter)?;
    text(&format!("{prefix}channel"), &k.channel)?;
    timestamp(&format!("{prefix}start_ms"), k.start_ms, SQL_TS)
}

/// Check a meter or module; its record as JSON text to embed.
pub fn registry(e: &RegistryEntry) -> Result<&RawValue, String> {
    text("id", &e.id)?;
    let raw: &RawValue =
        serde_json::from_str(&e.json).map_err(|err| format!("field \"json\": not valid JSON: {err}"))?;
    if !raw.get().starts_with('{') {
        return Err(format!("field \"json\": expected a JSON object, got {}", snippet(raw.get())));
    }
    match jsonb_problem(raw.get()) {
        Some(problem) => Err(format!("field \"json\": {problem}, which PostgreSQL jsonb refuses")),
        None => Ok(raw),
    }
}

/// A text column's value: no NUL character.
fn text(field: &str, value: &str) -> Result<(), String> {
    match value.contains('\0') {
        true => Err(format!("field {field:?}: contains a NUL character, which PostgreSQL text cannot hold")),
        false => Ok(()),
    }
}

/// An archive sequence number: a `bigint`.
fn bigint(field: &str, value: u64) -> Result<(), String> {
    match i64::try_from(value) {
        Ok(_) => Ok(()),
        Err(_) => Err(format!("field {field:?}: {value} is beyond PostgreSQL bigint ({})", i64::MAX)),
    }
}

/// A timestamp within `range`.
fn timestamp(field: &str, ms: i64, range: Range<i64>) -> Result<(), String> {
    match range.contains(&ms) {
        true => Ok(()),
        false => Err(format!(
            "field {field:?}: {ms} ({}) is outside {} to {} (exclusive)",
            format_rfc3339_ms(ms),
            format_rfc3339_ms(range.start),
            format_rfc3339_ms(range.end)
        )),
    }
}

/// The start of `text` for a message: at most 40 characters.
fn snippet(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

/// What `jsonb` would refuse in `json`, valid JSON text: a `\u0000` escape
/// (jsonb strings are text) or a surrogate escape not in a high-low pair.
/// Raw control characters cannot occur (valid JSON escapes them).
pub fn jsonb_problem(json: &str) -> Option<&'static str> {
    let mut bytes = json.bytes();
    let mut in_string = false;
    // The previous escape was a high surrogate: a low one must follow at once.
    let mut high = false;
    while let Some(b) = bytes.next() {
        if !in_string {
            in_string = b == b'"';
            continue;
        }
        let unit = match b {
            b'\\' => match bytes.next() {
                Some(b'u') => match hex4(&mut bytes) {
                    Some(unit) => Some(unit),
                    None => return Some("a malformed \\u escape"),
                },
                _ => None,
            },
            b'"' => {
                in_string = false;
                None
            }
            _ => None,
        };
        match unit {
            Some(0) => return Some("a \\u0000 escape (NUL)"),
            Some(0xD800..=0xDBFF) if !high => high = true,
            Some(0xDC00..=0xDFFF) if high => high = false,
            Some(0xD800..=0xDFFF) => return Some("an unpaired surrogate escape"),
            _ if high => return Some("an unpaired surrogate escape"),
            _ => {}
        }
    }
    None
}

/// The value of four hex digits.
fn hex4(bytes: &mut impl Iterator<Item = u8>) -> Option<u32> {
    let mut value = 0;
    for _ in 0..4 {
        let digit = char::from(bytes.next()?).to_digit(16)?;
        value = value * 16 + digit;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use meterhub_plugin_api::{DeltaPeriod, Reading, ReadingKind};

    use super::*;

    fn archived() -> ArchivedReading {
        ArchivedReading {
            seq: 7,
            source: "listener".into(),
            reading: Reading {
                device: "m-1".into(),
                channel: "volume".into(),
                ts_ms: 1_763_719_200_000,
                value: "1".parse().unwrap(),
                unit: "m3".into(),
                kind: ReadingKind::Cumulative,
            },
            conflict: false,
            archived_at_ms: 1_763_719_200_100,
        }
    }

    fn entry(json: &str) -> RegistryEntry {
        RegistryEntry { id: "m-1".into(), json: json.into() }
    }

    #[test]
    fn a_good_reading_passes_and_each_bad_field_is_named() {
        assert_eq!(reading(&archived()), Ok(()));
        type Spoil = fn(&mut ArchivedReading);
        let cases: [(Spoil, &str); 6] = [
            (|r| r.reading.device = "a\0".into(), "field \"reading.device\": contains a NUL character"),
            (|r| r.source = "\0".into(), "field \"source\": contains a NUL"),
            (|r| r.reading.unit = "m\u{0}3".into(), "field \"reading.unit\": contains a NUL"),
            (|r| r.seq = u64::MAX, "field \"seq\": 18446744073709551615 is beyond PostgreSQL bigint"),
            (
                |r| r.reading.ts_ms = MIN_TS_MS - 1,
                "field \"reading.ts_ms\": 946684799999 (1999-12-31T23:59:59.999Z) is outside \
                 2000-01-01T00:00:00Z to 2100-01-01T00:00:00Z (exclusive)",
            ),
            (|r| r.archived_at_ms = i64::MAX, "field \"archived_at_ms\": 9223372036854775807"),
        ];
        for (spoil, want) in cases {
            let mut r = archived();
            spoil(&mut r);
            let e = reading(&r).unwrap_err();
            assert!(e.starts_with(want), "{e}");
        }
    }

    #[test]
    fn the_time_ranges_are_inclusive_then_exclusive() {
        let mut r = archived();
        for (ts, ok) in [(MIN_TS_MS, true), (MAX_TS_MS - 1, true), (MAX_TS_MS, false)] {
            r.reading.ts_ms = ts;
            assert_eq!(reading(&r).is_ok(), ok, "{ts}");
        }
        assert_eq!(format_rfc3339_ms(SQL_TS.start), "0001-01-01T00:00:00Z");
        assert_eq!(format_rfc3339_ms(SQL_TS.end - 1), "9999-12-31T23:59:59.999Z");
        assert!(timestamp("t", SQL_TS.end - 1, SQL_TS).is_ok());
        assert!(timestamp("t", SQL_TS.start - 1, SQL_TS).is_err());
    }

    #[test]
    fn a_delta_names_flags_and_readings_by_index() {
        let mut d = DeltaRecord {
            key: DeltaKey { meter: "m".into(), channel: "c".into(), period: DeltaPeriod::Day, start_ms: 0 },
            label: "1970-01-01".into(),
            end_ms: 86_400_000,
            from_ms: 0,
            to_ms: 86_400_000,
            consumption: "1".parse().unwrap(),
            start_value: "1".parse().unwrap(),
            end_value: "2".parse().unwrap(),
            unit: "m3".into(),
            flags: vec!["estimated".into()],
            readings: vec![1, 2],
        };
        assert_eq!(delta(&d), Ok(()));
        d.readings.push(1 << 63);
        assert!(delta(&d).unwrap_err().starts_with("field \"readings[2]\": 9223372036854775808 is beyond"));
        d.readings.pop();
        d.flags.push("x\0".into());
        assert!(delta(&d).unwrap_err().starts_with("field \"flags[1]\": contains a NUL"));
        d.flags.pop();
        d.key.meter = "\0".into();
        assert!(delta(&d).unwrap_err().starts_with("field \"key.meter\": "));
        assert!(key("", &d.key).unwrap_err().starts_with("field \"meter\": "));
    }

    #[test]
    fn a_registry_record_must_be_an_object_jsonb_takes() {
        assert_eq!(
            registry(&entry(r#" {"id":"m-1","unit":"é\u00e9"} "#)).unwrap().get(),
            r#"{"id":"m-1","unit":"é\u00e9"}"#
        );
        let cases = [
            ("[1]", "field \"json\": expected a JSON object, got [1]"),
            ("\"x\"", "field \"json\": expected a JSON object, got \"x\""),
            (r#"{"a":"\u0000"}"#, "field \"json\": a \\u0000 escape (NUL), which PostgreSQL jsonb refuses"),
            (r#"{"\u0000":1}"#, "field \"json\": a \\u0000 escape (NUL)"),
            (r#"{"a":"\ud800"}"#, "field \"json\": an unpaired surrogate escape"),
        ];
        for (json, want) in cases {
            let e = registry(&entry(json)).unwrap_err();
            assert!(e.starts_with(want), "{json}: {e}");
        }
        assert!(registry(&entry("{")).unwrap_err().starts_with("field \"json\": not valid JSON: "));
        let mut bad_id = entry("{}");
        bad_id.id = "m\0".into();
        assert!(registry(&bad_id).unwrap_err().starts_with("field \"id\": "));
    }

    #[test]
    fn jsonb_problems_are_found_only_in_string_escapes() {
        assert_eq!(jsonb_problem(r#"{"a":"\\u0000"}"#), None, "an escaped backslash, then text");
        assert_eq!(jsonb_problem(r#"{"a":"\ud83d\ude00","b":"\u0001\"\u0000"}"#), Some("a \\u0000 escape (NUL)"));
        assert_eq!(jsonb_problem(r#"{"a":"\ud83d\ude00"}"#), None);
        assert_eq!(jsonb_problem(r#"{"a":"\ude00"}"#), Some("an unpaired surrogate escape"));
        assert_eq!(jsonb_problem(r#"{"a":"\ud83dx"}"#), Some("an unpaired surrogate escape"));
        assert_eq!(jsonb_problem(r#"{"a":"\ud83d"}"#), Some("an unpaired surrogate escape"));
        assert_eq!(jsonb_problem(r#"{"a":"\ud83d\ud83d"}"#), Some("an unpaired surrogate escape"));
        assert_eq!(jsonb_problem(r#"{"a":"\u00"}"#), Some("a malformed \\u escape"));
    }

    #[test]
    fn snippets_are_cut_at_forty_characters() {
        assert_eq!(snippet("[1]"), "[1]");
        let long = "é".repeat(50);
        assert_eq!(snippet(&long), format!("{}...", "é".repeat(40)));
    }
}
