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
    let text = raw.get().trim();
    match Type::of(raw) {
        // Valid JSON without a backslash: the text between the quotes is the value.
        Type::String => match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
            Some(plain) if !plain.contains('\\') => Some(plain.to_owned()),
            _ => serde_json::from_str(text).ok(),
        },
        _ => None,
    }
}

/// The members of each object of the JSON array `bytes` (surrounding
/// whitespace allowed), matched against `names` as [`members`] matches
/// them, in one pass over the input; `None` for anything else: not an array
/// of objects, or a refused name (then [`parse`] and [`members`] say what).
pub fn objects<'a, const N: usize>(bytes: &'a [u8], names: &[&str; N]) -> Option<Vec<[Option<&'a RawValue>; N]>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let objects = serde::Deserializer::deserialize_seq(&mut deserializer, ObjectsVisitor { names }).ok()?;
    deserializer.end().ok()?;
    Some(objects)
}

/// The objects of [`objects`].
struct ObjectsVisitor<'n, const N: usize> {
    names: &'n [&'n str; N],
}

impl<'de, const N: usize> serde::de::Visitor<'de> for ObjectsVisitor<'_, N> {
    type Value = Vec<[Option<&'de RawValue>; N]>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of objects")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut objects = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        let mut refused = None;
        while let Some(slots) = seq.next_element_seed(SlotsVisitor { names: self.names, refused: &mut refused })? {
            objects.push(slots);
        }
        Ok(objects)
    }
}

impl<'de, const N: usize> serde::de::DeserializeSeed<'de> for SlotsVisitor<'_, '_, N> {
    type Value = [Option<&'de RawValue>; N];

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
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
///
/// One pass over the object, names borrowed from the input (copied only
/// when they hold escapes or are refused): it runs for every reading.
pub fn members<'a, const N: usize>(
    raw: &'a RawValue,
    names: &[&str; N],
) -> Result<[Option<&'a RawValue>; N], MemberError> {
    if Type::of(raw) != Type::Object {
        return Err(MemberError::NotObject(snippet(raw.get())));
    }
    let mut refused = None;
    let visitor = SlotsVisitor { names, refused: &mut refused };
    let slots = serde::Deserializer::deserialize_map(&mut serde_json::Deserializer::from_str(raw.get()), visitor);
    match (slots, refused) {
        (_, Some(refused)) => Err(refused),
        (Ok(slots), None) => Ok(slots),
        // `raw` is valid JSON and an object, so this cannot happen in practice.
        (Err(e), None) => Err(MemberError::NotObject(e.to_string())),
    }
}

/// Fills the slots of [`members`], stopping at the first refused name.
struct SlotsVisitor<'n, 'r, const N: usize> {
    names: &'n [&'n str; N],
    refused: &'r mut Option<MemberError>,
}

impl<'de, const N: usize> serde::de::Visitor<'de> for SlotsVisitor<'_, '_, N> {
    type Value = [Option<&'de RawValue>; N];

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut slots = [None; N];
        while let Some(Name(name)) = map.next_key()? {
            let Some(i) = self.names.iter().position(|n| *n == name) else {
                *self.refused = Some(MemberError::Unknown(name.into_owned()));
                return Err(serde::de::Error::custom("unknown member"));
            };
            if slots[i].replace(map.next_value::<&'de RawValue>()?).is_some() {
                *self.refused = Some(MemberError::Duplicate(name.into_owned()));
                return Err(serde::de::Error::custom("repeated member"));
            }
        }
        Ok(slots)
    }
}

/// A member name, borrowed from the input unless it holds escapes.
struct Name<'de>(std::borrow::Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Name<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl<'de> serde::de::Visitor<'de> for NameVisitor {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, name: &'de str) -> Result<Self::Value, E> {
                Ok(Name(name.into()))
            }
            fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Self::Value, E> {
                Ok(Name(name.to_owned().into()))
            }
        }
        deserializer.deserialize_str(NameVisitor)
    }
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
