//! JSON helpers plugins share: a raw value's type, an object's members.

use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// The JSON type of a raw value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool,
    /// A number.
    Number,
    /// A string.
    String,
    /// An array.
    Array,
    /// An object.
    Object,
}

impl Type {
    /// The type of `raw`, from its first byte (serde_json has validated it).
    pub fn of(raw: &RawValue) -> Type {
        match raw.get().trim_start().as_bytes().first() {
            Some(b'n') => Type::Null,
            Some(b't' | b'f') => Type::Bool,
            Some(b'"') => Type::String,
            Some(b'[') => Type::Array,
            Some(b'{') => Type::Object,
            _ => Type::Number,
        }
    }

    /// The type of a parsed `value`.
    pub fn of_value(value: &serde_json::Value) -> Type {
        match value {
            serde_json::Value::Null => Type::Null,
            serde_json::Value::Bool(_) => Type::Bool,
            serde_json::Value::Number(_) => Type::Number,
            serde_json::Value::String(_) => Type::String,
            serde_json::Value::Array(_) => Type::Array,
            serde_json::Value::Object(_) => Type::Object,
        }
    }

    /// The type as an error message names it (`a number`, `an object`).
    pub fn name(self) -> &'static str {
        match self {
            Type::Null => "null",
            Type::Bool => "a boolean",
            Type::Number => "a number",
            Type::String => "a string",
            Type::Array => "an array",
            Type::Object => "an object",
        }
    }
}

/// The members of the JSON object `object` in input order, values raw and
/// repeated names kept (serde_json's maps keep only the last), so a plugin
/// can refuse a name given twice and say where each value is.
pub fn members(object: &RawValue) -> Result<Vec<(String, &RawValue)>, serde_json::Error> {
    let Members(list) = serde_json::from_str(object.get())?;
    Ok(list)
}

struct Members<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut list = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    list.push((name, map.next_value::<&'de RawValue>()?));
                }
                Ok(Members(list))
            }
        }
        deserializer.deserialize_map(MembersVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_keep_order_and_repeats() {
        let raw: &RawValue = serde_json::from_str(r#"{"b": 1, "a": [2], "b": "3"}"#).unwrap();
        let list: Vec<(String, String)> =
            members(raw).unwrap().into_iter().map(|(k, v)| (k, v.get().to_owned())).collect();
        let want = [("b", "1"), ("a", "[2]"), ("b", "\"3\"")];
        assert_eq!(list, want.map(|(k, v)| (k.to_owned(), v.to_owned())));
        let array: &RawValue = serde_json::from_str("[1]").unwrap();
        assert!(members(array).is_err());
    }

    #[test]
    fn types_from_the_first_byte() {
        for (text, ty) in [
            ("null", Type::Null),
            (" true", Type::Bool),
            ("-1.5", Type::Number),
            ("\"x\"", Type::String),
            ("[]", Type::Array),
            ("{}", Type::Object),
        ] {
            let raw: &RawValue = serde_json::from_str(text).unwrap();
            assert_eq!(Type::of(raw), ty, "{text}");
        }
        assert_eq!(Type::Object.name(), "an object");
        assert_eq!(Type::of_value(&serde_json::json!([1])), Type::Array);
    }
}
