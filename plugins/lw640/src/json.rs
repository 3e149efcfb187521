//! JSON bodies read field by field, each value knowing its path
//! (`rxInfo[0].rssi`) and where it starts in the body (line and column),
//! so that a refusal names both.
//!
//! Values stay raw ([`RawValue`], slices of the body) until a field is
//! read: numbers are parsed from their text, the decoded payload a server
//! sends is passed on as its own compact text, and nothing of the body is
//! re-serialized. `null` counts as absent (the Protobuf JSON mapping's
//! meaning). A key given twice in one object is refused, so a reader of
//! the raw body can never see another value than the driver did. Unknown
//! keys are fine: servers add fields from version to version.

use serde_json::value::RawValue;

pub use meterhub_plugin_api::json::Type;

use crate::error::{Position, Refusal, snippet};

/// The whole body, for positions.
#[derive(Debug, Clone, Copy)]
pub struct Doc<'a> {
    text: &'a str,
}

/// The body's top-level object, parsed from `bytes`. Invalid UTF-8, a
/// syntax error or a top-level value that is not an object is refused with
/// its line and column.
pub fn parse_object(bytes: &[u8]) -> Result<Obj<'_>, Refusal> {
    let text = std::str::from_utf8(bytes).map_err(|e| Refusal::Syntax {
        at: position_of(bytes, e.valid_up_to()),
        message: "invalid UTF-8".to_owned(),
    })?;
    let raw: &RawValue = serde_json::from_str(text).map_err(|e| {
        let full = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
        Refusal::Syntax { at: Position { line: e.line().max(1), column: e.column().max(1) }, message }
    })?;
    let body = Val { doc: Doc { text }, path: String::new(), raw };
    if body.kind() != Type::Object {
        return Err(Refusal::NotObject { got: snippet(raw.get()) });
    }
    body.object()
}

/// The position of byte `offset` of `bytes`.
fn position_of(bytes: &[u8], offset: usize) -> Position {
    let before = &bytes[..offset.min(bytes.len())];
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    Position { line, column: before.len() - line_start + 1 }
}

impl<'a> Doc<'a> {
    /// Where `raw` (a slice of this body) starts.
    fn position(&self, raw: &RawValue) -> Position {
        let start = (raw.get().as_ptr() as usize).saturating_sub(self.text.as_ptr() as usize);
        // A value of this body starts within it; anything else would be a
        // value from elsewhere, shown at the start rather than guessed.
        let start = if start <= self.text.len() { start } else { 0 };
        let skipped = raw.get().len() - raw.get().trim_start().len();
        position_of(self.text.as_bytes(), start + skipped)
    }
}

/// A number as read: its value, and its shortest decimal text (`88.3`,
/// `-7`), which is what the metadata shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Number {
    /// The value.
    pub value: f64,
    /// Its text: Rust's shortest round-trip rendering of the value.
    pub text: String,
}

impl Number {
    /// A number from a double.
    pub fn from_f64(value: f64) -> Number {
        Number { value, text: value.to_string() }
    }

    /// A number from a Protobuf `float`, written as the float's own
    /// shortest text (`88.3`, not `88.30000305175781`).
    pub fn from_f32(value: f32) -> Number {
        let text = value.to_string();
        Number { value: text.parse().unwrap_or(f64::from(value)), text }
    }
}

/// One value of the body, with its path.
#[derive(Debug, Clone)]
pub struct Val<'a> {
    doc: Doc<'a>,
    path: String,
    raw: &'a RawValue,
}

/// One object of the body, its members in input order.
#[derive(Debug, Clone)]
pub struct Obj<'a> {
    val: Val<'a>,
    members: Vec<(String, &'a RawValue)>,
}

impl<'a> Val<'a> {
    /// The field's path (empty for the body itself).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// A refusal of this value: `problem`, at its path and position.
    pub fn fail(&self, problem: impl Into<String>) -> Refusal {
        Refusal::Field { path: self.path.clone(), at: self.doc.position(self.raw), problem: problem.into() }
    }

    fn expected(&self, what: &str) -> Refusal {
        self.fail(format!("expected {what}, got {}", snippet(self.raw.get())))
    }

    /// Its JSON type.
    pub fn kind(&self) -> Type {
        Type::of(self.raw)
    }

    /// A string's value, escapes resolved.
    pub fn string(&self) -> Result<String, Refusal> {
        match self.kind() {
            Type::String => serde_json::from_str(self.raw.get()).map_err(|e| self.fail(e.to_string())),
            _ => Err(self.expected("a string")),
        }
    }

    /// A string's value, `None` when empty (the Protobuf JSON mapping omits
    /// empty strings; some servers send them).
    pub fn text(&self) -> Result<Option<String>, Refusal> {
        self.string().map(|s| Some(s).filter(|s| !s.is_empty()))
    }

    /// An object.
    pub fn object(&self) -> Result<Obj<'a>, Refusal> {
        if self.kind() != Type::Object {
            return Err(self.expected("an object"));
        }
        let members = meterhub_plugin_api::json::members(self.raw).map_err(|e| self.fail(e.to_string()))?;
        for (i, (name, _)) in members.iter().enumerate() {
            if let Some((_, again)) = members[i + 1..].iter().find(|(other, _)| other == name) {
                let repeated = Val { doc: self.doc, path: join(&self.path, name), raw: again };
                return Err(repeated.fail("given more than once in one object"));
            }
        }
        Ok(Obj { val: self.clone(), members })
    }

    /// An array's elements, their paths `path[i]`.
    pub fn array(&self) -> Result<Vec<Val<'a>>, Refusal> {
        if self.kind() != Type::Array {
            return Err(self.expected("an array"));
        }
        let elements: Vec<&'a RawValue> = serde_json::from_str(self.raw.get()).map_err(|e| self.fail(e.to_string()))?;
        Ok(elements
            .into_iter()
            .enumerate()
            .map(|(i, raw)| Val { doc: self.doc, path: format!("{}[{i}]", self.path), raw })
            .collect())
    }

    /// The text of a number, or of a string holding one (the Protobuf
    /// JSON mapping allows both).
    fn number_text(&self) -> Option<String> {
        match self.kind() {
            Type::Number => Some(self.raw.get().trim().to_owned()),
            Type::String => serde_json::from_str::<String>(self.raw.get()).ok(),
            _ => None,
        }
    }

    /// An integer within `min..=max` (a JSON integer, or a string of one).
    pub fn integer(&self, min: i64, max: i64) -> Result<i64, Refusal> {
        let parsed = self.number_text().and_then(|t| t.parse::<i64>().ok());
        match parsed {
            Some(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(self.expected(&format!("an integer from {min} to {max}"))),
        }
    }

    /// An unsigned 32-bit integer (fPort, fCnt).
    pub fn u32(&self) -> Result<u32, Refusal> {
        let n = self.integer(0, i64::from(u32::MAX))?;
        u32::try_from(n).map_err(|_| self.expected("an integer from 0 to 4294967295"))
    }

    /// A finite number (a JSON number, or a string of one).
    pub fn number(&self) -> Result<Number, Refusal> {
        let parsed = self.number_text().and_then(|t| t.parse::<f64>().ok()).filter(|v| v.is_finite());
        parsed.map(Number::from_f64).ok_or_else(|| self.expected("a finite number"))
    }

    /// A boolean.
    pub fn boolean(&self) -> Result<bool, Refusal> {
        match self.raw.get().trim() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(self.expected("true or false")),
        }
    }

    /// The value as compact JSON text: its own text with the white space
    /// between tokens dropped; keys keep their order and numbers their
    /// digits.
    pub fn compact(&self) -> String {
        compact(self.raw.get())
    }

    /// A refusal naming this value's type when it is not the `wanted` one.
    pub fn expect_type(&self, wanted: Type) -> Result<(), Refusal> {
        match self.kind() == wanted {
            true => Ok(()),
            false => Err(self.fail(format!("expected {}, got {}", wanted.name(), self.kind().name()))),
        }
    }
}

impl<'a> Obj<'a> {
    /// The object as a value.
    pub fn val(&self) -> &Val<'a> {
        &self.val
    }

    /// Member `name`, `None` when absent or `null`.
    pub fn get(&self, name: &str) -> Option<Val<'a>> {
        let (_, raw) = self.members.iter().find(|(n, _)| n == name)?;
        let val = Val { doc: self.val.doc, path: join(&self.val.path, name), raw };
        (val.kind() != Type::Null).then_some(val)
    }

    /// Member `name`; absent or `null` is refused as missing.
    pub fn require(&self, name: &str) -> Result<Val<'a>, Refusal> {
        self.get(name).ok_or_else(|| Refusal::Missing {
            path: join(&self.val.path, name),
            within: Some(self.val.doc.position(self.val.raw)),
        })
    }

    /// Member `name` read by `read` when present and not `null`.
    pub fn read<T>(&self, name: &str, read: impl FnOnce(&Val<'a>) -> Result<T, Refusal>) -> Result<Option<T>, Refusal> {
        self.get(name).map(|v| read(&v)).transpose()
    }

    /// Member `name` as text (empty is absent).
    pub fn text(&self, name: &str) -> Result<Option<String>, Refusal> {
        Ok(self.read(name, Val::text)?.flatten())
    }

    /// The members' names, in input order (`null` ones too).
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.members.iter().map(|(n, _)| n.as_str())
    }

    /// Whether member `name` is present and not `null`.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

fn join(path: &str, name: &str) -> String {
    match path.is_empty() {
        true => name.to_owned(),
        false => format!("{path}.{name}"),
    }
}

/// `text` (valid JSON) without the white space between its tokens.
pub fn compact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            in_string = c == '"';
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_know_their_path_and_position() {
        let body = b"{\n  \"a\": {\"b\": [1, {\"c\": \"x\"}]},\n  \"n\": null\n}";
        let top = parse_object(body).unwrap();
        let a = top.require("a").unwrap().object().unwrap();
        let list = a.require("b").unwrap().array().unwrap();
        let c = list[1].object().unwrap().require("c").unwrap();
        assert_eq!(c.path(), "a.b[1].c");
        assert_eq!(
            c.u32().unwrap_err().to_string(),
            "field a.b[1].c at line 2 column 24: expected an integer from 0 to 4294967295, got \"x\""
        );
        assert!(top.get("n").is_none() && !top.has("n") && top.keys().any(|k| k == "n"));
        assert_eq!(top.require("n").unwrap_err().to_string(), "field n: missing (in the object at line 1 column 1)");
        let missing = a.require("z").unwrap_err();
        assert_eq!(missing.to_string(), "field a.z: missing (in the object at line 2 column 8)");
    }

    #[test]
    fn syntax_errors_and_repeated_keys_are_refused() {
        let e = parse_object(b"{\n  \"a\" 1\n}").unwrap_err();
        assert_eq!(e.to_string(), "invalid JSON at line 2 column 7: expected `:`");
        let e = parse_object(b"{\"a\":\n\"x\xffy\"}").unwrap_err();
        assert_eq!(e.to_string(), "invalid JSON at line 2 column 3: invalid UTF-8");
        let e = parse_object(b" [1]").unwrap_err();
        assert_eq!(e.to_string(), "the body is not a JSON object: [1]");
        let e = parse_object(br#"{"a": {"b": 1, "b": 2}}"#).unwrap().require("a").unwrap().object().unwrap_err();
        assert_eq!(e.to_string(), "field a.b at line 1 column 21: given more than once in one object");
    }

    #[test]
    fn numbers_from_numbers_or_strings() {
        let top =
            parse_object(br#"{"i": 7, "s": "42", "f": 88.3, "e": 1e2, "big": 4294967296, "neg": -3, "nan": "NaN"}"#)
                .unwrap();
        let get = |k: &str| top.require(k).unwrap();
        assert_eq!((get("i").u32().unwrap(), get("s").u32().unwrap()), (7, 42));
        assert_eq!(get("f").number().unwrap().text, "88.3");
        assert_eq!(get("e").number().unwrap().text, "100");
        assert!(get("big").u32().is_err() && get("neg").u32().is_err());
        assert_eq!(get("neg").integer(-10, 10).unwrap(), -3);
        assert!(get("nan").number().is_err());
        assert_eq!(Number::from_f32(88.3).text, "88.3");
        assert_eq!(Number::from_f32(88.3).value, 88.3);
    }

    #[test]
    fn compact_keeps_strings_order_and_digits() {
        let text = "{ \"b\" : [1.50, 2e3],\n \"a\": \"x y\\\" z\" }";
        assert_eq!(compact(text), "{\"b\":[1.50,2e3],\"a\":\"x y\\\" z\"}");
    }
}
