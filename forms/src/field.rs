//! A form's fields as its HTML declares them (`<input type=... min max
//! step maxlength required>`, `<select>` with its options, `<textarea>`),
//! and the server's check of a submitted value against the same
//! constraints the browser checks, so a value that bypassed the browser is
//! refused alike.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Serialize;

/// The longest value of a text field that declares no `maxlength`.
pub const TEXT_MAX: usize = 200;
/// The longest value of a `<textarea>` that declares no `maxlength`.
pub const TEXTAREA_MAX: usize = 4000;

/// One named control of a form.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Field {
    /// Its `name`.
    pub name: String,
    /// What it holds.
    #[serde(flatten)]
    pub kind: Kind,
    /// `required`: an empty value is refused.
    pub required: bool,
}

/// What a field holds, with its constraints.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Kind {
    /// Free text (`<input type="text">`, `<textarea>`).
    Text {
        /// `minlength`, characters.
        min_len: usize,
        /// `maxlength`, characters ([`TEXT_MAX`], [`TEXTAREA_MAX`] when not declared).
        max_len: usize,
    },
    /// An exact decimal (`<input type="number">`).
    Number {
        /// `min`.
        #[serde(with = "rust_decimal::serde::str_option")]
        min: Option<Decimal>,
        /// `max`.
        #[serde(with = "rust_decimal::serde::str_option")]
        max: Option<Decimal>,
        /// `step` from `min` (or 0); `None` for `step="any"`. HTML's default is 1.
        #[serde(with = "rust_decimal::serde::str_option")]
        step: Option<Decimal>,
    },
    /// `YYYY-MM-DD`.
    Date,
    /// `HH:MM` or `HH:MM:SS`.
    Time,
    /// `YYYY-MM-DDTHH:MM` (`datetime-local`), a local time.
    DateTime,
    /// A checkbox: its `value` when checked ("on" by default), empty when not.
    Check {
        /// The value it submits when checked.
        value: String,
    },
    /// One of `options` (a `<select>`, or radio buttons sharing the name).
    Choice {
        /// The allowed values, in the document's order.
        options: Vec<String>,
    },
    /// The id of something the host knows (`data-kind` on a text input);
    /// the host checks that it exists and that the user may see it.
    Ref {
        /// What it names.
        of: RefKind,
    },
}

/// What a reference field names (`data-kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RefKind {
    /// A meter of the registry.
    Meter,
    /// A communication module.
    Module,
    /// A channel of the form's meter field.
    Channel,
    /// A meter or a module.
    Subject,
}

impl RefKind {
    /// The kind named `name` in a `data-kind` attribute.
    pub fn parse(name: &str) -> Option<RefKind> {
        Some(match name {
            "meter" => RefKind::Meter,
            "module" => RefKind::Module,
            "channel" => RefKind::Channel,
            "subject" => RefKind::Subject,
            _ => return None,
        })
    }
}

/// Why a value was refused: a code the UI words in the user's language,
/// the limit it broke, and the same in English for logs and scripts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// `required`, `too-short`, `too-long`, `not-a-number`, `below-min`,
    /// `above-max`, `step`, `not-a-date`, `not-a-time`, `not-a-datetime`,
    /// `not-an-option`, `unknown-field`, or one of the host's (`no-meter`,
    /// `not-yours`, ...).
    pub code: &'static str,
    /// The limit, when the code has one (`maxlength`, `min`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    /// In English.
    pub message: String,
}

impl Problem {
    /// A problem with `code`, its `limit` and `message`.
    pub fn new(code: &'static str, limit: Option<String>, message: impl Into<String>) -> Problem {
        Problem { code, limit, message: message.into() }
    }
}

impl Field {
    /// `raw` as stored (trimmed, except a text's inner spaces), or why not.
    /// An empty value passes unless the field is required.
    pub fn check(&self, raw: &str) -> Result<String, Problem> {
        let value = match self.kind {
            Kind::Text { .. } => raw.trim_end_matches(['\r', '\n']).to_owned(),
            _ => raw.trim().to_owned(),
        };
        if value.trim().is_empty() {
            return if self.required {
                Err(Problem::new("required", None, "a value is required"))
            } else {
                Ok(String::new())
            };
        }
        self.check_value(&value).map(|()| value)
    }

    fn check_value(&self, value: &str) -> Result<(), Problem> {
        match &self.kind {
            Kind::Text { min_len, max_len } => {
                let length = value.chars().count();
                if length > *max_len {
                    return Err(Problem::new(
                        "too-long",
                        Some(max_len.to_string()),
                        format!("{length} characters, at most {max_len}"),
                    ));
                }
                if length < *min_len {
                    return Err(Problem::new(
                        "too-short",
                        Some(min_len.to_string()),
                        format!("{length} characters, at least {min_len}"),
                    ));
                }
                if value.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
                    return Err(Problem::new("control-character", None, "a control character is not text"));
                }
                Ok(())
            }
            Kind::Number { min, max, step } => check_number(value, *min, *max, *step),
            Kind::Date => jiff::civil::Date::from_str(value)
                .ok()
                .filter(|_| value.len() == 10)
                .map(drop)
                .ok_or_else(|| Problem::new("not-a-date", None, format!("{value:?} is not a date (YYYY-MM-DD)"))),
            Kind::Time => parse_time(value)
                .map(drop)
                .ok_or_else(|| Problem::new("not-a-time", None, format!("{value:?} is not a time (HH:MM)"))),
            Kind::DateTime => parse_datetime(value).map(drop).ok_or_else(|| {
                Problem::new("not-a-datetime", None, format!("{value:?} is not a date and time (YYYY-MM-DDTHH:MM)"))
            }),
            Kind::Check { value: checked } => (value == checked).then_some(()).ok_or_else(|| {
                Problem::new("not-an-option", None, format!("a checkbox submits {checked:?} or nothing"))
            }),
            Kind::Choice { options } => options.iter().any(|o| o == value).then_some(()).ok_or_else(|| {
                Problem::new("not-an-option", None, format!("{value:?} is not one of {}", options.join(", ")))
            }),
            Kind::Ref { .. } => {
                if value.chars().count() > TEXT_MAX || value.chars().any(char::is_control) {
                    return Err(Problem::new("not-an-id", None, format!("{value:?} is not an id")));
                }
                Ok(())
            }
        }
    }
}

fn check_number(value: &str, min: Option<Decimal>, max: Option<Decimal>, step: Option<Decimal>) -> Result<(), Problem> {
    // HTML's number syntax: an optional minus, digits, an optional fraction
    // (no plus sign, no thousands separators; the browser sends a point).
    let syntax = value.strip_prefix('-').unwrap_or(value);
    let (whole, fraction) = syntax.split_once('.').unwrap_or((syntax, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let number = (digits(whole) && digits(fraction)).then(|| Decimal::from_str_exact(value).ok()).flatten();
    let Some(number) = number else {
        return Err(Problem::new("not-a-number", None, format!("{value:?} is not a number")));
    };
    if let Some(min) = min.filter(|m| number < *m) {
        return Err(Problem::new("below-min", Some(min.to_string()), format!("{number} is below {min}")));
    }
    if let Some(max) = max.filter(|m| number > *m) {
        return Err(Problem::new("above-max", Some(max.to_string()), format!("{number} is above {max}")));
    }
    if let Some(step) = step.filter(|s| !s.is_zero()) {
        let base = min.unwrap_or_default();
        if !((number - base) % step).is_zero() {
            return Err(Problem::new("step", Some(step.to_string()), format!("{number} is not a multiple of {step}")));
        }
    }
    Ok(())
}

/// `HH:MM` or `HH:MM:SS`.
pub fn parse_time(value: &str) -> Option<jiff::civil::Time> {
    (value.len() == 5 || value.len() == 8).then(|| jiff::civil::Time::from_str(value).ok()).flatten()
}

/// `YYYY-MM-DDTHH:MM` or `YYYY-MM-DDTHH:MM:SS`, as `datetime-local` sends it.
pub fn parse_datetime(value: &str) -> Option<jiff::civil::DateTime> {
    let (date, time) = value.split_once('T')?;
    (date.len() == 10 && parse_time(time).is_some()).then(|| jiff::civil::DateTime::from_str(value).ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(kind: Kind, required: bool) -> Field {
        Field { name: "f".into(), kind, required }
    }

    #[test]
    fn numbers_follow_html_min_max_and_step_exactly() {
        let d = |s: &str| Some(Decimal::from_str_exact(s).unwrap());
        let f = field(Kind::Number { min: d("0"), max: d("1000"), step: d("0.001") }, true);
        assert_eq!(f.check(" 12.345 "), Ok("12.345".into()));
        assert_eq!(f.check("12.3456").unwrap_err().code, "step");
        assert_eq!(f.check("-1").unwrap_err().code, "below-min");
        assert_eq!(f.check("1000.001").unwrap_err().code, "above-max");
        for bad in ["1e3", "+5", "1,5", "0x10", "NaN", "."] {
            assert_eq!(f.check(bad).unwrap_err().code, "not-a-number", "{bad}");
        }
        assert_eq!(f.check("").unwrap_err().code, "required");
        let whole = field(Kind::Number { min: None, max: None, step: d("1") }, false);
        assert_eq!(whole.check("2.5").unwrap_err().code, "step");
        assert_eq!(whole.check(""), Ok(String::new()));
    }

    #[test]
    fn dates_times_choices_and_texts_are_checked() {
        assert!(field(Kind::Date, true).check("2026-02-29").is_err());
        assert!(field(Kind::Date, true).check("2028-02-29").is_ok());
        assert!(field(Kind::Time, true).check("24:00").is_err());
        assert!(field(Kind::DateTime, true).check("2026-12-07T09:30").is_ok());
        assert!(field(Kind::DateTime, true).check("2026-12-07 09:30").is_err());
        let choice = field(Kind::Choice { options: vec!["day".into(), "month".into()] }, true);
        assert_eq!(choice.check("year").unwrap_err().code, "not-an-option");
        let text = field(Kind::Text { min_len: 2, max_len: 5 }, false);
        assert_eq!(text.check("пятьсот").unwrap_err().code, "too-long");
        assert_eq!(text.check("я").unwrap_err().code, "too-short");
        assert_eq!(text.check("a\u{0}b").unwrap_err().code, "control-character");
        assert_eq!(text.check("<b>"), Ok("<b>".into()), "markup is text; rendering escapes it");
    }
}
