//! The codec instance settings: a strict JSON object (an unknown key
//! anywhere is an error naming it), validated at `init`.
//!
//! ```json
//! { "model": "SI-11",
//!   "devices": { "3632333364374F18": {
//!       "model": "SI-11v2",
//!       "inputs": { "1": { "weight": "0.01", "unit": "m3", "channel": "volume" } } } } }
//! ```
//!
//! - `model`: the default model when neither a per-device model, the
//!   frame's meta `model` nor the AppEUI table decides;
//! - `devices`: per DevEUI (16 hex digits, any case): `model` overrides
//!   everything else; `inputs` configures pulse inputs `"1"`…`"4"`:
//!   `weight` (a decimal string, > 0: engineering units per pulse), `unit`
//!   (default empty), `channel` (default by unit: `m3` → `volume`, `kWh` →
//!   `energy`, `Gcal` → `heat`, otherwise `value`).

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use meterhub_plugin_api::Decimal;
use serde_json::{Map, Value};

use crate::models::Model;

/// Validated codec settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CodecSettings {
    /// Default model.
    pub model: Option<Model>,
    /// Per device, keyed by upper-case DevEUI.
    pub devices: HashMap<String, DeviceSettings>,
}

/// Settings of one device.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceSettings {
    /// Its model, overriding every other source.
    pub model: Option<Model>,
    /// Configured pulse inputs, by input number.
    pub inputs: BTreeMap<u8, InputSettings>,
}

/// Engineering-unit conversion of one pulse input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputSettings {
    /// Units per pulse, exact, > 0.
    pub weight: Decimal,
    /// Unit of the converted value.
    pub unit: String,
    /// Channel of the converted value.
    pub channel: String,
}

/// The channel a converted input gets when `channel` is not set.
pub fn default_channel(unit: &str) -> &'static str {
    match unit {
        "m3" => "volume",
        "kWh" => "energy",
        "Gcal" => "heat",
        _ => "value",
    }
}

use meterhub_plugin_api::lorawan::is_eui;

fn type_name(v: &Value) -> &'static str {
    meterhub_plugin_api::json::Type::of_value(v).name()
}

fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, String> {
    v.as_object().ok_or_else(|| format!("setting {path}: expected a JSON object, got {}", type_name(v)))
}

fn string<'a>(v: &'a Value, path: &str) -> Result<&'a str, String> {
    v.as_str().ok_or_else(|| format!("setting {path}: expected a string, got {}", type_name(v)))
}

fn only_keys(map: &Map<String, Value>, path: &str, allowed: &[&str]) -> Result<(), String> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => {
            let at = if path.is_empty() { format!("{key:?}") } else { format!("{path}.{key:?}") };
            Err(format!("setting {at}: unknown; allowed here: {}", allowed.join(", ")))
        }
        None => Ok(()),
    }
}

fn model(v: &Value, path: &str) -> Result<Model, String> {
    let name = string(v, path)?;
    Model::parse(name).ok_or_else(|| {
        let names: Vec<&str> = crate::models::ALL.iter().map(|m| m.name()).collect();
        format!("setting {path}: unknown model {name:?}; known: {}", names.join(", "))
    })
}

impl CodecSettings {
    /// Parse and validate `settings_json`; the error names the setting.
    pub fn parse(settings_json: &str) -> Result<Self, String> {
        let root: Value = serde_json::from_str(settings_json).map_err(|e| format!("settings: invalid JSON: {e}"))?;
        let root =
            root.as_object().ok_or_else(|| format!("settings: expected a JSON object, got {}", type_name(&root)))?;
        only_keys(root, "", &["model", "devices"])?;
        let mut settings = CodecSettings::default();
        if let Some(v) = root.get("model") {
            settings.model = Some(model(v, "\"model\"")?);
        }
        if let Some(devices) = root.get("devices") {
            for (eui, device) in object(devices, "\"devices\"")? {
                let path = format!("\"devices\".{eui:?}");
                if !is_eui(eui) {
                    return Err(format!("setting {path}: a DevEUI is 16 hex digits"));
                }
                let parsed = DeviceSettings::parse(device, &path)?;
                if settings.devices.insert(eui.to_ascii_uppercase(), parsed).is_some() {
                    return Err(format!("setting {path}: DevEUI given more than once (in another case)"));
                }
            }
        }
        Ok(settings)
    }

    /// The settings of device `dev_eui` (upper case).
    pub fn device(&self, dev_eui: &str) -> Option<&DeviceSettings> {
        self.devices.get(dev_eui)
    }
}

impl DeviceSettings {
    fn parse(v: &Value, path: &str) -> Result<Self, String> {
        let map = object(v, path)?;
        only_keys(map, path, &["model", "inputs"])?;
        let mut device = DeviceSettings::default();
        if let Some(v) = map.get("model") {
            device.model = Some(model(v, &format!("{path}.\"model\""))?);
        }
        if let Some(inputs) = map.get("inputs") {
            let inputs_path = format!("{path}.\"inputs\"");
            for (key, input) in object(inputs, &inputs_path)? {
                let input_path = format!("{inputs_path}.{key:?}");
                let number = match key.as_str() {
                    "1" => 1,
                    "2" => 2,
                    "3" => 3,
                    "4" => 4,
                    _ => return Err(format!("setting {input_path}: inputs are \"1\" to \"4\"")),
                };
                device.inputs.insert(number, InputSettings::parse(input, &input_path)?);
            }
        }
        Ok(device)
    }
}

impl InputSettings {
    fn parse(v: &Value, path: &str) -> Result<Self, String> {
        let map = object(v, path)?;
        only_keys(map, path, &["weight", "unit", "channel"])?;
        let weight_path = format!("{path}.\"weight\"");
        let text = match map.get("weight") {
            Some(Value::String(text)) => text,
            Some(other) => {
                return Err(format!(
                    "setting {weight_path}: expected a decimal string like \"0.01\" (exact), got {}",
                    type_name(other)
                ));
            }
            None => return Err(format!("setting {weight_path}: missing (units per pulse, e.g. \"0.01\")")),
        };
        let weight =
            Decimal::from_str(text).map_err(|e| format!("setting {weight_path}: {text:?} is not a decimal: {e}"))?;
        if weight <= Decimal::ZERO {
            return Err(format!("setting {weight_path}: {text:?} must be greater than 0"));
        }
        let unit = match map.get("unit") {
            Some(v) => string(v, &format!("{path}.\"unit\""))?.to_owned(),
            None => String::new(),
        };
        let channel = match map.get("channel") {
            Some(v) => {
                let channel_path = format!("{path}.\"channel\"");
                let channel = string(v, &channel_path)?;
                if channel.is_empty() || channel.chars().any(char::is_control) {
                    return Err(format!("setting {channel_path}: {channel:?} is not a channel name"));
                }
                if matches!(channel, "pulses" | "guard") {
                    return Err(format!("setting {channel_path}: {channel:?} is the input's own channel"));
                }
                channel.to_owned()
            }
            None => default_channel(&unit).to_owned(),
        };
        Ok(InputSettings { weight, unit, channel })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_defaults() {
        let s = CodecSettings::parse(
            r#"{"model":"si_11","devices":{"3632333364374f18":{"model":"SI-11v2",
                "inputs":{"1":{"weight":"0.01","unit":"m3"},"2":{"weight":"1","unit":"kWh","channel":"e"}}}}}"#,
        )
        .unwrap();
        assert_eq!(s.model, Some(Model::Si11));
        let d = s.device("3632333364374F18").unwrap();
        assert_eq!(d.model, Some(Model::Si11V2));
        assert_eq!(d.inputs[&1].channel, "volume");
        assert_eq!(d.inputs[&1].weight.to_string(), "0.01");
        assert_eq!(d.inputs[&2].channel, "e");
        assert_eq!(CodecSettings::parse("{}").unwrap(), CodecSettings::default());
    }

    #[test]
    fn strict_errors_name_the_setting() {
        let err = |json: &str| CodecSettings::parse(json).unwrap_err();
        assert_eq!(err(r#"{"modle":"SI-11"}"#), "setting \"modle\": unknown; allowed here: model, devices");
        assert!(err(r#"{"model":"XX-1"}"#).starts_with("setting \"model\": unknown model \"XX-1\"; known: SI-11,"));
        assert_eq!(
            err(r#"{"devices":{"3632333364374F18":{"inputs":{"1":{"weight":"0.01","scale":2}}}}}"#),
            "setting \"devices\".\"3632333364374F18\".\"inputs\".\"1\".\"scale\": unknown; allowed here: weight, unit, channel"
        );
        assert_eq!(
            err(r#"{"devices":{"3632333364374F18":{"inputs":{"1":{"weight":"-1"}}}}}"#),
            "setting \"devices\".\"3632333364374F18\".\"inputs\".\"1\".\"weight\": \"-1\" must be greater than 0"
        );
        assert_eq!(
            err(r#"{"devices":{"3632333364374F18":{"inputs":{"2":{"weight":"0"}}}}}"#),
            "setting \"devices\".\"3632333364374F18\".\"inputs\".\"2\".\"weight\": \"0\" must be greater than 0"
        );
        assert!(err(r#"{"devices":{"3632333364374F18":{"inputs":{"1":{"weight":"abc"}}}}}"#).starts_with(
            "setting \"devices\".\"3632333364374F18\".\"inputs\".\"1\".\"weight\": \"abc\" is not a decimal"
        ));
        assert!(err(r#"{"devices":{"3632333364374F18":{"inputs":{"1":{"weight":0.01}}}}}"#).contains("decimal string"));
        assert!(err(r#"{"devices":{"3632333364374F18":{"inputs":{"5":{"weight":"1"}}}}}"#).contains("\"1\" to \"4\""));
        assert!(err(r#"{"devices":{"36323333":{}}}"#).contains("16 hex digits"));
        assert!(err(r#"{"devices":{"3632333364374F18":{},"3632333364374f18":{}}}"#).contains("more than once"));
        assert!(
            err(r#"{"devices":{"3632333364374F18":{"inputs":{"1":{"weight":"1","channel":"pulses"}}}}}"#)
                .contains("own channel")
        );
        assert!(err("[]").contains("expected a JSON object"));
        assert!(err("{").contains("invalid JSON"));
    }
}
