//! The listener's settings: a strict JSON object (unknown settings are
//! errors), parsed then validated into a value that cannot be invalid.
//!
//! ```json
//! {"max_line_bytes": 65536, "max_future_ms": 86400000, "validate": true}
//! ```
//!
//! `{}` gives the defaults. Errors name the setting.

use serde_json::value::RawValue;

use crate::json::{self, MemberError, Type, snippet};

/// Validated settings of one listener instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerSettings {
    /// Longest accepted line of a TCP stream or WebSocket message, in bytes,
    /// not counting its `\n` and a `\r` before it. Default 65 536; 1 to
    /// [`MAX_LINE_BYTES_LIMIT`].
    pub max_line_bytes: usize,
    /// How far a reading's timestamp may lie after the host's clock, in
    /// milliseconds. Default 86 400 000 (one day); at least 0.
    pub max_future_ms: i64,
    /// Check every reading before committing it and answer errors at once
    /// (default). `false` is raw-first pass-through: every non-blank line or
    /// element is committed and acknowledged as received, and the codec
    /// decides afterwards; what it cannot decode is quarantined with the
    /// reason, for devices that cannot handle error answers.
    pub validate: bool,
}

/// Largest `max_line_bytes` accepted: 16 MiB.
pub const MAX_LINE_BYTES_LIMIT: usize = 16 << 20;

impl Default for ListenerSettings {
    fn default() -> Self {
        ListenerSettings { max_line_bytes: 65_536, max_future_ms: 86_400_000, validate: true }
    }
}

/// Names of the settings, in the order of [`ListenerSettings`].
const NAMES: [&str; 3] = ["max_line_bytes", "max_future_ms", "validate"];

impl ListenerSettings {
    /// Parse and validate `settings_json`. The error names the setting.
    pub fn parse(settings_json: &str) -> Result<Self, String> {
        let raw = json::parse(settings_json.as_bytes()).map_err(|e| format!("settings: {e}"))?;
        let [max_line_bytes, max_future_ms, validate] = json::members(raw, &NAMES).map_err(|e| match e {
            MemberError::NotObject(got) => format!("settings: expected a JSON object, got {got}"),
            MemberError::Unknown(name) => {
                format!("setting {name:?}: unknown; the listener has {}", NAMES.join(", "))
            }
            MemberError::Duplicate(name) => format!("setting {name:?}: given more than once"),
        })?;
        let mut settings = ListenerSettings::default();
        if let Some(raw) = max_line_bytes {
            let n = integer("max_line_bytes", raw, 1, MAX_LINE_BYTES_LIMIT as i64)?;
            settings.max_line_bytes = usize::try_from(n).unwrap_or(MAX_LINE_BYTES_LIMIT);
        }
        if let Some(raw) = max_future_ms {
            settings.max_future_ms = integer("max_future_ms", raw, 0, i64::MAX)?;
        }
        if let Some(raw) = validate {
            settings.validate = match raw.get() {
                "true" => true,
                "false" => false,
                other => return Err(format!("setting \"validate\": expected true or false, got {}", snippet(other))),
            };
        }
        Ok(settings)
    }
}

/// An integer JSON number within `min..=max`.
fn integer(name: &str, raw: &RawValue, min: i64, max: i64) -> Result<i64, String> {
    let text = raw.get();
    let parsed = match Type::of(raw) {
        Type::Number if text.bytes().all(|b| b.is_ascii_digit() || b == b'-') => text.parse::<i64>().ok(),
        _ => None,
    };
    match parsed {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("setting {name:?}: expected an integer from {min} to {max}, got {}", snippet(text))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_object_gives_defaults() {
        assert_eq!(ListenerSettings::parse("{}"), Ok(ListenerSettings::default()));
        assert_eq!(
            ListenerSettings::parse(r#"{"max_line_bytes": 100, "max_future_ms": 0}"#),
            Ok(ListenerSettings { max_line_bytes: 100, max_future_ms: 0, validate: true })
        );
    }

    #[test]
    fn errors_name_the_setting() {
        let cases = [
            (r#"{"max_line_bytes": 0}"#, r#"setting "max_line_bytes": expected an integer from 1 to 16777216, got 0"#),
            (
                r#"{"max_line_bytes": "64"}"#,
                r#"setting "max_line_bytes": expected an integer from 1 to 16777216, got "64""#,
            ),
            (
                r#"{"max_future_ms": 1.5}"#,
                r#"setting "max_future_ms": expected an integer from 0 to 9223372036854775807, got 1.5"#,
            ),
            (
                r#"{"max_future_ms": -1}"#,
                r#"setting "max_future_ms": expected an integer from 0 to 9223372036854775807, got -1"#,
            ),
            (
                r#"{"max_line_byte": 10}"#,
                r#"setting "max_line_byte": unknown; the listener has max_line_bytes, max_future_ms, validate"#,
            ),
            (r#"{"max_future_ms": 1, "max_future_ms": 2}"#, r#"setting "max_future_ms": given more than once"#),
            ("[]", "settings: expected a JSON object, got []"),
            (r#"{"validate": 1}"#, r#"setting "validate": expected true or false, got 1"#),
            ("{", "settings: invalid JSON at line 1 column 1: EOF while parsing an object"),
        ];
        for (json, want) in cases {
            assert_eq!(ListenerSettings::parse(json).unwrap_err(), want, "{json}");
        }
    }
}
