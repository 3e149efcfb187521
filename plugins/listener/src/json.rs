//! JSON plumbing shared by readings and settings: syntax errors with line
//! and column, strict objects of raw member values (unknown and duplicate
//! names are errors), and short renderings of offending values.
//!
//! Values stay raw ([`RawValue`]) until a field validator looks at them, so
//! numbers are never routed through `f64`.

use std::fmt;

use serde_json::value::RawValue;

/// A JSON syntax error, positioned within the parsed input (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Line of the error within the input.
    pub line: usize,
    /// Column (byte) of the error within its line.
    pub column: usize,
    /// What is wrong, without the position.
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid JSON at line {} column {}: {}", self.line, self.column, self.message)
    }
}

impl SyntaxError {
    fn from_serde(e: &serde_json::Error) -> Self {
        let full = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
        SyntaxError { line: e.line().max(1), column: e.column().max(1), message }
    }
}

/// Parse `bytes` as exactly one JSON value (surrounding whitespace allowed),
/// kept raw. Invalid UTF-8 is a syntax error at the offending byte.
pub fn parse(bytes: &[u8]) -> Result<&RawValue, SyntaxError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let valid = &bytes[..e.valid_up_to()];
        let line = 1 + valid.iter().filter(|&&b| b == b'\n').count();
        let line_start = valid.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        SyntaxError { line, column: valid.len() - line_start + 1, message: "invalid UTF-8".to_owned() }
    })?;
    serde_json::from_str(text).map_err(|e| SyntaxError::from_serde(&e))
}

pub use meterhub_plugin_api::json::Type;

/// The value of a raw JSON string, escapes resolved; `None` if `raw` is
/// not a string.
pub fn string(raw: &RawValue) -> Option<String> {
    match Type::of(raw) {
        Type::String => serde_json::from_str(raw.get()).ok(),
        _ => None,
    }
}

/// `value` as compact JSON. Serializing the plain structs of this crate
/// cannot fail; if it ever did, the answer would be empty rather than a panic.
pub fn to_bytes<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// Longest rendering of a value in an error message, in bytes.
const SNIPPET_BYTES: usize = 40;

/// `text` cut to a short prefix (on a character boundary) for error
/// messages, with `...` when cut.
pub fn snippet(text: &str) -> String {
    if text.len() <= SNIPPET_BYTES {
        return text.to_owned();
    }
    let mut end = SNIPPET_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

/// A member of an object that the object's schema refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberError {
    /// The value is not an object; holds a short rendering of it.
    NotObject(String),
    /// A name the schema does not know.
    Unknown(String),
    /// A name given more than once.
    Duplicate(String),
}

/// The members of the JSON object `raw` matched against `names`: slot `i` holds the value of member `names[i]`, if given.
/// The first unknown or repeated name, in input order, is an error.
pub fn members<'a, const N: usize>(
    raw: &'a RawValue,
    names: &[&str; N],
) -> Result<[Option<&'a RawValue>; N], MemberError> {
    if Type::of(raw) != Type::Object {
        return Err(MemberError::NotObject(snippet(raw.get())));
    }
    // `raw` is valid JSON and an object, so this cannot fail in practice.
    let list = meterhub_plugin_api::json::members(raw).map_err(|e| MemberError::NotObject(e.to_string()))?;
    let mut slots = [None; N];
    for (name, value) in list {
        let Some(i) = names.iter().position(|n| *n == name) else {
            return Err(MemberError::Unknown(name));
        };
        if slots[i].replace(value).is_some() {
            return Err(MemberError::Duplicate(name));
        }
    }
    Ok(slots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_name_line_and_column() {
        let e = parse(b"{\n  \"a\": 1,\n  \"b\" 2\n}").unwrap_err();
        assert_eq!((e.line, e.column), (3, 7));
        assert_eq!(e.to_string(), "invalid JSON at line 3 column 7: expected `:`");
        let e = parse(b"{\"a\":\n\"x\xffy\"}").unwrap_err();
        assert_eq!(e.to_string(), "invalid JSON at line 2 column 3: invalid UTF-8");
        assert!(parse(b"{} x").unwrap_err().to_string().starts_with("invalid JSON at line 1 column 4: trailing"));
    }

    #[test]
    fn members_refuse_unknown_and_duplicate_names() {
        let raw = parse(br#"{"b": [1, {"x": 2}], "a": "s"}"#).unwrap();
        let [a, b] = members(raw, &["a", "b"]).unwrap();
        assert_eq!((a.unwrap().get(), b.unwrap().get()), ("\"s\"", "[1, {\"x\": 2}]"));
        let raw = parse(br#"{"a": 1, "c": 2}"#).unwrap();
        assert_eq!(members(raw, &["a", "b"]).err(), Some(MemberError::Unknown("c".into())));
        let raw = parse(br#"{"a": 1, "\u0061": 2}"#).unwrap();
        assert_eq!(members(raw, &["a", "b"]).err(), Some(MemberError::Duplicate("a".into())));
        let raw = parse(b"[1]").unwrap();
        assert_eq!(members(raw, &["a"]).err(), Some(MemberError::NotObject("[1]".into())));
    }

    #[test]
    fn snippets_are_short_and_cut_on_char_boundaries() {
        assert_eq!(snippet(" 12"), " 12");
        let long = "ä".repeat(30);
        let s = snippet(&long);
        assert!(s.ends_with("...") && s.len() <= SNIPPET_BYTES + 3, "{s}");
    }
}
