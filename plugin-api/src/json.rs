//! JSON helpers plugins share.

use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

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
}
