//! The codec instance settings: a strict JSON object (an unknown key
//! anywhere is an error naming it), validated at `init`.
//!
//! ```json
//! { "utc_offset_minutes": 180,
//!   "devices": { "94193A0301000001": { "utc_offset_minutes": 60 } } }
//! ```
//!
//! The CMi4110 sends the meter's date and time as local time without an
//! offset. With an offset configured (for the device, else the default),
//! the scheduled formats' readings carry the meter's own time and their
//! 24:00 energies become readings at the meter's midnight; without one,
//! readings carry the network server's time and the 24:00 energies stay in
//! the fields.

use std::collections::HashMap;

use serde_json::{Map, Value};

/// Validated codec settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CodecSettings {
    /// Default standard-time UTC offset of the meters' clocks, minutes east
    /// of UTC (Moscow: 180).
    pub utc_offset_minutes: Option<i32>,
    /// Per upper-case DevEUI.
    pub devices: HashMap<String, DeviceSettings>,
}

/// Settings of one device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceSettings {
    /// This meter's standard-time UTC offset, minutes east of UTC,
    /// overriding the default.
    pub utc_offset_minutes: Option<i32>,
}

use meterhub_plugin_api::lorawan::is_eui;

fn type_name(v: &Value) -> &'static str {
    meterhub_plugin_api::json::Type::of_value(v).name()
}

/// `v` as an object allowing only `allowed` keys.
fn object<'a>(v: &'a Value, path: &str, allowed: &[&str]) -> Result<&'a Map<String, Value>, String> {
    let map = v.as_object().ok_or_else(|| {
        let at = if path.is_empty() { "settings".to_owned() } else { format!("setting {path}") };
        format!("{at}: expected a JSON object, got {}", type_name(v))
    })?;
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => {
            let at = if path.is_empty() { format!("{key:?}") } else { format!("{path}.{key:?}") };
            Err(format!("setting {at}: unknown; allowed here: {}", allowed.join(", ")))
        }
        None => Ok(map),
    }
}

/// The UTC offset at `key` of `map`, if set: whole minutes, -720 to 840.
fn offset(map: &Map<String, Value>, key: &str, path: &str) -> Result<Option<i32>, String> {
    let Some(v) = map.get(key) else { return Ok(None) };
    let path = if path.is_empty() { format!("{key:?}") } else { format!("{path}.{key:?}") };
    match v.as_i64() {
        Some(n) if (-720..=840).contains(&n) => Ok(i32::try_from(n).ok()),
        Some(n) => Err(format!("setting {path}: {n} is not a UTC offset (-720 to 840 minutes)")),
        None => Err(format!("setting {path}: expected whole minutes east of UTC (e.g. 180), got {v}")),
    }
}

impl CodecSettings {
    /// Parse and validate `settings_json`; the error names the setting.
    pub fn parse(settings_json: &str) -> Result<Self, String> {
        let root: Value = serde_json::from_str(settings_json).map_err(|e| format!("settings: invalid JSON: {e}"))?;
        let root = object(&root, "", &["utc_offset_minutes", "devices"])?;
        let mut settings =
            CodecSettings { utc_offset_minutes: offset(root, "utc_offset_minutes", "")?, ..Default::default() };
        if let Some(devices) = root.get("devices") {
            let devices = devices
                .as_object()
                .ok_or_else(|| format!("setting \"devices\": expected a JSON object, got {}", type_name(devices)))?;
            for (eui, device) in devices {
                let path = format!("\"devices\".{eui:?}");
                if !is_eui(eui) {
                    return Err(format!("setting {path}: a DevEUI is 16 hex digits"));
                }
                let device = object(device, &path, &["utc_offset_minutes"])?;
                let parsed = DeviceSettings { utc_offset_minutes: offset(device, "utc_offset_minutes", &path)? };
                if settings.devices.insert(eui.to_ascii_uppercase(), parsed).is_some() {
                    return Err(format!("setting {path}: DevEUI given more than once (in another case)"));
                }
            }
        }
        Ok(settings)
    }

    /// The UTC offset of device `dev_eui` (upper case): its own, else the
    /// default.
    pub fn utc_offset_minutes(&self, dev_eui: &str) -> Option<i32> {
        self.devices.get(dev_eui).and_then(|d| d.utc_offset_minutes).or(self.utc_offset_minutes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_resolves_offsets() {
        let s = CodecSettings::parse(
            r#"{"utc_offset_minutes":180,"devices":{"94193a0301000001":{"utc_offset_minutes":60},"94193A0301000002":{}}}"#,
        )
        .unwrap();
        assert_eq!(s.utc_offset_minutes("94193A0301000001"), Some(60));
        assert_eq!(s.utc_offset_minutes("94193A0301000002"), Some(180));
        assert_eq!(s.utc_offset_minutes("0000000000000000"), Some(180));
        assert_eq!(CodecSettings::parse("{}").unwrap(), CodecSettings::default());
        assert_eq!(CodecSettings::parse("{}").unwrap().utc_offset_minutes("94193A0301000001"), None);
    }

    #[test]
    fn strict_errors_name_the_setting() {
        let err = |json: &str| CodecSettings::parse(json).unwrap_err();
        assert_eq!(
            err(r#"{"utc_offset":180}"#),
            "setting \"utc_offset\": unknown; allowed here: utc_offset_minutes, devices"
        );
        assert_eq!(
            err(r#"{"devices":{"94193A0301000001":{"offset":1}}}"#),
            "setting \"devices\".\"94193A0301000001\".\"offset\": unknown; allowed here: utc_offset_minutes"
        );
        assert_eq!(
            err(r#"{"utc_offset_minutes":"180"}"#),
            "setting \"utc_offset_minutes\": expected whole minutes east of UTC (e.g. 180), got \"180\""
        );
        assert!(err(r#"{"utc_offset_minutes":1.5}"#).ends_with("got 1.5"));
        assert_eq!(
            err(r#"{"utc_offset_minutes":900}"#),
            "setting \"utc_offset_minutes\": 900 is not a UTC offset (-720 to 840 minutes)"
        );
        assert_eq!(
            err(r#"{"devices":{"94193A0301000001":{"utc_offset_minutes":-721}}}"#),
            "setting \"devices\".\"94193A0301000001\".\"utc_offset_minutes\": -721 is not a UTC offset (-720 to 840 minutes)"
        );
        assert_eq!(
            err(r#"{"devices":{"94193A03":{}}}"#),
            "setting \"devices\".\"94193A03\": a DevEUI is 16 hex digits"
        );
        assert!(err(r#"{"devices":{"94193A0301000001":{},"94193a0301000001":{}}}"#).contains("more than once"));
        assert_eq!(
            err(r#"{"devices":{"94193A0301000001":[60]}}"#),
            "setting \"devices\".\"94193A0301000001\": expected a JSON object, got an array"
        );
        assert_eq!(err(r#"{"devices":[]}"#), "setting \"devices\": expected a JSON object, got an array");
        assert_eq!(err("[]"), "settings: expected a JSON object, got an array");
        assert!(err("{").starts_with("settings: invalid JSON"));
    }
}
