//! The sink's settings: a JSON object, `{}` today. The host owns the
//! connection and the schema (`search_path`), so the plugin needs none;
//! any key is refused by name, so that a setting meant for the host is not
//! silently ignored here.

use serde_json::{Map, Value};

/// Validated settings of one sink instance (none yet).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SinkSettings {}

impl SinkSettings {
    /// Parse `settings_json`, which must be a JSON object without keys. The
    /// error names the offending setting.
    pub fn parse(settings_json: &str) -> Result<SinkSettings, String> {
        let value: Value = serde_json::from_str(settings_json).map_err(|e| format!("settings: invalid JSON: {e}"))?;
        let object = match value {
            Value::Object(object) => object,
            other => return Err(format!("settings: expected a JSON object, got {}", type_name(&other))),
        };
        match first_key(&object) {
            Some(name) => Err(format!(
                "setting {name:?}: unknown; the postgres sink has no settings (the host's sink config holds the \
                 connection and the schema)"
            )),
            None => Ok(SinkSettings {}),
        }
    }
}

/// The first key of `object`, in the order JSON wrote it or sorted (either
/// is fine: every key is an error).
fn first_key(object: &Map<String, Value>) -> Option<&str> {
    object.keys().next().map(String::as_str)
}

/// How a JSON value's type is named in messages.
fn type_name(value: &Value) -> &'static str {
    meterhub_plugin_api::json::Type::of_value(value).name()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_object_is_the_settings() {
        assert_eq!(SinkSettings::parse("{}"), Ok(SinkSettings {}));
        assert_eq!(SinkSettings::parse(" { } "), Ok(SinkSettings {}));
    }

    #[test]
    fn errors_name_the_setting_or_the_problem() {
        let cases = [
            (
                r#"{"batch_size": 10}"#,
                "setting \"batch_size\": unknown; the postgres sink has no settings (the host's sink config holds \
                 the connection and the schema)",
            ),
            ("[]", "settings: expected a JSON object, got an array"),
            ("null", "settings: expected a JSON object, got null"),
        ];
        for (json, want) in cases {
            assert_eq!(SinkSettings::parse(json).unwrap_err(), want, "{json}");
        }
        let e = SinkSettings::parse("{").unwrap_err();
        assert!(e.starts_with("settings: invalid JSON: "), "{e}");
    }
}
