//! The codec instance settings: a strict JSON object (an unknown key
//! anywhere is an error naming it), validated at `init` into a type that
//! cannot be invalid.
//!
//! ```json
//! { "registers": { "1.0.1.8.0.255": { "scaler": 0, "unit": "Wh" } },
//!   "channels": { "1.0.21.7.0.255": { "channel": "power-import-l1", "kind": "instantaneous", "unit": "kW" } },
//!   "push_layouts": { "daily": ["0.0.25.9.0.255:1", "0.0.1.0.0.255:2", "1.0.1.8.0.255:2"] },
//!   "utc_offset_minutes": 180 }
//! ```
//!
//! The keys are not among them: they are secrets, which the host reads
//! from the instance's secrets file (`secrets_file`) and hands over as
//! the setting `secrets`:
//!
//! ```toml
//! [devices.2F19229199164103]   # a system title: the device is known
//! ek = "<32 hex>"              # global unicast encryption key
//! ak = "<32 hex>"              # authentication key (needs ek)
//! ```
//!
//! Errors name the setting (`setting "secrets"."devices"."2F19229199164103"."ek": ...`)
//! and never quote a key's text.

use std::collections::{HashMap, HashSet};

use meterhub_plugin_api::{ReadingKind, hex};
use serde_json::{Map, Value};

use crate::axdr::MAX_ELEMENTS;
use crate::cipher::{KeyPair, Keys, SecretKey};
use crate::obis::{AttrRef, ChannelDef, Obis, default_channels};
use crate::units::{self, Unit};

/// Validated codec settings.
#[derive(Debug, Clone, PartialEq)]
pub struct CodecSettings {
    /// The global unicast keys per system title.
    pub keys: Keys,
    /// Every device of the secrets file, with keys or without: the known
    /// ones a pending frame waits for.
    pub devices: HashSet<[u8; 8]>,
    /// Scaler and unit per OBIS code, for values a push sends without them.
    pub registers: HashMap<Obis, ScalerUnit>,
    /// The channel map: the built-in one with the settings' entries over it.
    pub channels: HashMap<Obis, ChannelDef>,
    /// The push layouts, by name.
    pub push_layouts: Vec<PushLayout>,
    /// The meters' UTC offset, minutes east, for date-times whose
    /// deviation is not specified.
    pub utc_offset_minutes: Option<i32>,
}

impl Default for CodecSettings {
    fn default() -> Self {
        CodecSettings {
            keys: Keys::new(),
            devices: HashSet::new(),
            registers: HashMap::new(),
            channels: default_channels().into_iter().collect(),
            push_layouts: Vec::new(),
            utc_offset_minutes: None,
        }
    }
}

/// A scaler and unit (a register's attribute 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScalerUnit {
    /// Value × 10^scaler is in `unit`.
    pub scaler: i8,
    /// The unit.
    pub unit: Unit,
}

/// What the elements of a push body are, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushLayout {
    /// Its name in the settings.
    pub name: String,
    /// Only pushes with this invoke id (bits 0-23 of
    /// long-invoke-id-and-priority), when set.
    pub invoke_id: Option<u32>,
    /// The object attribute of each element.
    pub elements: Vec<AttrRef>,
}

impl PushLayout {
    /// What tells this layout's pushes apart: element count, invoke id,
    /// and the logical names (attribute 1) at their positions.
    fn signature(&self) -> (usize, Option<u32>, Vec<(usize, Obis)>) {
        let names = self.elements.iter().enumerate().filter(|(_, a)| a.attribute == 1).map(|(i, a)| (i, a.obis));
        (self.elements.len(), self.invoke_id, names.collect())
    }
}

fn type_name(v: &Value) -> &'static str {
    meterhub_plugin_api::json::Type::of_value(v).name()
}

/// `path` extended by member `key`.
fn member(path: &str, key: &str) -> String {
    if path.is_empty() { format!("{key:?}") } else { format!("{path}.{key:?}") }
}

/// `v` as an object, allowing only `allowed` keys (all when `None`).
fn object<'a>(v: &'a Value, path: &str, allowed: Option<&[&str]>) -> Result<&'a Map<String, Value>, String> {
    let map = v.as_object().ok_or_else(|| {
        let at = if path.is_empty() { "settings".to_owned() } else { format!("setting {path}") };
        format!("{at}: expected a JSON object, got {}", type_name(v))
    })?;
    let Some(allowed) = allowed else { return Ok(map) };
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => Err(format!("setting {}: unknown; allowed here: {}", member(path, key), allowed.join(", "))),
        None => Ok(map),
    }
}

impl CodecSettings {
    /// Parse and validate `settings_json`; the error names the setting.
    pub fn parse(settings_json: &str) -> Result<Self, String> {
        let root: Value = serde_json::from_str(settings_json).map_err(|e| format!("settings: invalid JSON: {e}"))?;
        if root.get("keys").is_some() {
            return Err(
                "setting \"keys\": keys are secrets: they go in the instance's secrets file ([devices.<system title>] ek, ak), named by secrets_file in meterhub.toml".into(),
            );
        }
        let allowed = ["secrets", "registers", "channels", "push_layouts", "utc_offset_minutes"];
        let root = object(&root, "", Some(&allowed))?;
        let mut settings = CodecSettings::default();
        if let Some(v) = root.get("secrets") {
            (settings.keys, settings.devices) = secrets(v)?;
        }
        if let Some(v) = root.get("registers") {
            settings.registers = registers(v)?;
        }
        if let Some(v) = root.get("channels") {
            settings.channels.extend(channels(v)?);
            unique_channels(&settings.channels)?;
        }
        if let Some(v) = root.get("push_layouts") {
            settings.push_layouts = push_layouts(v)?;
        }
        settings.utc_offset_minutes = utc_offset(root)?;
        Ok(settings)
    }
}

/// `"secrets"` (the secrets file): `devices`, system title to `{ "ek",
/// "ak", "password" }`, each optional (`ak` needs `ek`; `password` is the
/// driver's). The keys per title, and every title.
fn secrets(v: &Value) -> Result<(Keys, HashSet<[u8; 8]>), String> {
    let mut keys = Keys::new();
    let mut devices = HashSet::new();
    let root = object(v, "\"secrets\"", Some(&["devices"]))?;
    let Some(list) = root.get("devices") else { return Ok((keys, devices)) };
    let list_path = member("\"secrets\"", "devices");
    for (title, entry) in object(list, &list_path, None)? {
        let path = member(&list_path, title);
        let bytes = hex::decode(title).ok().and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok());
        let Some(bytes) = bytes else {
            return Err(format!("setting {path}: a system title is 16 hex digits"));
        };
        if !devices.insert(bytes) {
            return Err(format!("setting {path}: system title given more than once (in another case)"));
        }
        let entry = object(entry, &path, Some(&["ek", "ak", "password"]))?;
        match (entry.get("ek"), entry.get("ak")) {
            (Some(ek), ak) => {
                let pair = KeyPair {
                    ek: key(ek, &member(&path, "ek"))?,
                    ak: ak.map(|ak| key(ak, &member(&path, "ak"))).transpose()?,
                };
                keys.insert(bytes, pair);
            }
            (None, Some(_)) => return Err(format!("setting {}: needs ek, the block cipher key", member(&path, "ak"))),
            (None, None) => {}
        }
    }
    Ok((keys, devices))
}

/// A key: 32 hex digits. The error never quotes the text.
fn key(v: &Value, path: &str) -> Result<SecretKey, String> {
    let text = v
        .as_str()
        .ok_or_else(|| format!("setting {path}: expected a string of 32 hex digits, got {}", type_name(v)))?;
    SecretKey::from_hex(text).ok_or_else(|| format!("setting {path}: expected 32 hex digits (a 128-bit key)"))
}

/// `"registers"`: OBIS to `{ "scaler", "unit" }`.
fn registers(v: &Value) -> Result<HashMap<Obis, ScalerUnit>, String> {
    let mut out = HashMap::new();
    for (code, register) in object(v, "\"registers\"", None)? {
        let path = member("\"registers\"", code);
        let obis = obis_key(code, &path)?;
        let register = object(register, &path, Some(&["scaler", "unit"]))?;
        let scaler = register.get("scaler").ok_or_else(|| format!("setting {}: missing", member(&path, "scaler")))?;
        let scaler = scaler.as_i64().and_then(|s| i8::try_from(s).ok()).ok_or_else(|| {
            format!("setting {}: expected a whole number -128 to 127, got {scaler}", member(&path, "scaler"))
        })?;
        let unit = register.get("unit").ok_or_else(|| format!("setting {}: missing", member(&path, "unit")))?;
        let unit = unit_setting(unit, &member(&path, "unit"))?;
        if out.insert(obis, ScalerUnit { scaler, unit }).is_some() {
            return Err(format!("setting {path}: OBIS code given more than once"));
        }
    }
    Ok(out)
}

/// A unit: a Blue Book code (number) or symbol, or a meterhub unit.
fn unit_setting(v: &Value, path: &str) -> Result<Unit, String> {
    let unit = match v {
        Value::Number(n) => n.as_u64().and_then(|c| u8::try_from(c).ok()).and_then(units::by_code),
        Value::String(s) => units::by_name(s),
        _ => return Err(format!("setting {path}: expected a Blue Book unit code or symbol, got {}", type_name(v))),
    };
    unit.ok_or_else(|| {
        format!("setting {path}: {v} is not a Blue Book unit code or symbol (e.g. 30 or \"Wh\") nor one of kWh, kvarh, kVAh, kW, kvar, kVA")
    })
}

/// An OBIS code as a settings key.
fn obis_key(code: &str, path: &str) -> Result<Obis, String> {
    Obis::parse(code).ok_or_else(|| format!("setting {path}: not an OBIS code (e.g. 1.0.1.8.0.255)"))
}

/// `"channels"`: OBIS to `{ "channel", "kind", "unit" }`.
fn channels(v: &Value) -> Result<HashMap<Obis, ChannelDef>, String> {
    let mut out = HashMap::new();
    for (code, def) in object(v, "\"channels\"", None)? {
        let path = member("\"channels\"", code);
        let obis = obis_key(code, &path)?;
        let def = object(def, &path, Some(&["channel", "kind", "unit"]))?;
        let text = |key: &str| {
            def.get(key)
                .ok_or_else(|| format!("setting {}: missing", member(&path, key)))?
                .as_str()
                .ok_or_else(|| format!("setting {}: expected a string", member(&path, key)))
        };
        let channel = text("channel")?;
        if channel.is_empty() || channel.len() > 64 || channel.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("setting {}: 1 to 64 characters, no spaces", member(&path, "channel")));
        }
        let kind = ReadingKind::parse(text("kind")?)
            .ok_or_else(|| format!("setting {}: expected cumulative, instantaneous or state", member(&path, "kind")))?;
        let unit = text("unit")?;
        if !units::is_meterhub(unit) {
            return Err(format!(
                "setting {}: {unit:?} is not a unit a Blue Book unit converts to",
                member(&path, "unit")
            ));
        }
        let def = ChannelDef { channel: channel.to_owned(), kind, unit: unit.to_owned() };
        if out.insert(obis, def).is_some() {
            return Err(format!("setting {path}: OBIS code given more than once"));
        }
    }
    Ok(out)
}

/// Each channel of the map is one OBIS code's.
fn unique_channels(map: &HashMap<Obis, ChannelDef>) -> Result<(), String> {
    let mut seen: HashMap<&str, Obis> = HashMap::new();
    let mut sorted: Vec<_> = map.iter().collect();
    sorted.sort_by_key(|(obis, _)| **obis);
    for (obis, def) in sorted {
        if let Some(other) = seen.insert(&def.channel, *obis) {
            return Err(format!(
                "setting \"channels\": channel {:?} is both {other}'s and {obis}'s (one channel, one OBIS code)",
                def.channel
            ));
        }
    }
    Ok(())
}

/// `"push_layouts"`: name to a list of `<OBIS>:<attribute>`, or to
/// `{ "elements": [...], "invoke_id": n }`.
fn push_layouts(v: &Value) -> Result<Vec<PushLayout>, String> {
    let mut out = Vec::new();
    for (name, layout) in object(v, "\"push_layouts\"", None)? {
        let path = member("\"push_layouts\"", name);
        let (elements, invoke_id) = match layout {
            Value::Array(_) => (layout, None),
            _ => {
                let layout = object(layout, &path, Some(&["elements", "invoke_id"]))?;
                let elements =
                    layout.get("elements").ok_or_else(|| format!("setting {}: missing", member(&path, "elements")))?;
                (
                    elements,
                    layout.get("invoke_id").map(|id| invoke_id_setting(id, &member(&path, "invoke_id"))).transpose()?,
                )
            }
        };
        out.push(PushLayout { name: name.clone(), invoke_id, elements: layout_elements(elements, &path)? });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    distinguishable(&out)?;
    Ok(out)
}

/// The element list of a layout.
fn layout_elements(v: &Value, path: &str) -> Result<Vec<AttrRef>, String> {
    let list = v
        .as_array()
        .ok_or_else(|| format!("setting {path}: expected a list of \"<OBIS>:<attribute>\", got {}", type_name(v)))?;
    if list.is_empty() || list.len() > MAX_ELEMENTS {
        return Err(format!("setting {path}: 1 to {MAX_ELEMENTS} elements"));
    }
    let parse = |(i, item): (usize, &Value)| {
        item.as_str().and_then(AttrRef::parse).ok_or_else(|| {
            format!("setting {path}[{i}]: {item} is not \"<OBIS>:<attribute>\" (e.g. \"1.0.1.8.0.255:2\")")
        })
    };
    list.iter().enumerate().map(parse).collect()
}

/// An invoke id: 0 to 0xFFFFFF.
fn invoke_id_setting(v: &Value, path: &str) -> Result<u32, String> {
    v.as_u64().and_then(|id| u32::try_from(id).ok()).filter(|id| *id <= 0x00ff_ffff).ok_or_else(|| {
        format!(
            "setting {path}: expected a whole number 0 to 16777215 (bits 0-23 of long-invoke-id-and-priority), got {v}"
        )
    })
}

/// No two layouts match the same pushes.
fn distinguishable(layouts: &[PushLayout]) -> Result<(), String> {
    for (i, a) in layouts.iter().enumerate() {
        if let Some(b) = layouts[i + 1..].iter().find(|b| b.signature() == a.signature()) {
            return Err(format!(
                "setting \"push_layouts\": {:?} and {:?} cannot be told apart (same element count, invoke_id and logical names); give one an \"invoke_id\" or a logical name element (\"<push setup OBIS>:1\")",
                a.name, b.name
            ));
        }
    }
    Ok(())
}

/// `"utc_offset_minutes"`, if set: whole minutes, -720 to 840.
fn utc_offset(root: &Map<String, Value>) -> Result<Option<i32>, String> {
    let Some(v) = root.get("utc_offset_minutes") else { return Ok(None) };
    match v.as_i64() {
        Some(n) if (-720..=840).contains(&n) => Ok(i32::try_from(n).ok()),
        Some(n) => Err(format!("setting \"utc_offset_minutes\": {n} is not a UTC offset (-720 to 840 minutes)")),
        None => Err(format!("setting \"utc_offset_minutes\": expected whole minutes east of UTC (e.g. 180), got {v}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EK: &str = "000102030405060708090A0B0C0D0E0F";

    fn err(json: &str) -> String {
        CodecSettings::parse(json).unwrap_err()
    }

    #[test]
    fn parses_every_setting() {
        let s = CodecSettings::parse(&format!(
            r#"{{"secrets": {{"devices": {{"2f19229199164103": {{"ek": "{EK}", "ak": "{EK}"}}, "4B464D1010000023": {{"ek": "{EK}"}}, "4B464D1010000024": {{}}}}}},
                "registers": {{"1.0.1.8.0.255": {{"scaler": -3, "unit": "kWh"}}, "1-0:32.7.0*255": {{"scaler": -1, "unit": 35}}}},
                "channels": {{"1.0.21.7.0.255": {{"channel": "power-import-l1", "kind": "instantaneous", "unit": "kW"}},
                              "1.0.1.8.0.255": {{"channel": "a-plus", "kind": "cumulative", "unit": "kWh"}}}},
                "push_layouts": {{"b": ["0.0.25.9.0.255:1", "1.0.1.8.0.255:2"], "a": {{"elements": ["1.0.1.8.0.255:2"], "invoke_id": 475}}}},
                "utc_offset_minutes": 180}}"#
        ))
        .unwrap();
        let title = [0x2f, 0x19, 0x22, 0x91, 0x99, 0x16, 0x41, 0x03];
        assert!(s.keys[&title].ak.is_some() && s.keys[&[0x4b, 0x46, 0x4d, 0x10, 0x10, 0, 0, 0x23]].ak.is_none());
        assert_eq!((s.keys.len(), s.devices.len()), (2, 3), "a device without keys is known, with no keys");
        let energy = Obis([1, 0, 1, 8, 0, 255]);
        assert_eq!((s.registers[&energy].scaler, s.registers[&energy].unit.meterhub), (-3, "kWh"));
        assert_eq!(s.registers[&Obis([1, 0, 32, 7, 0, 255])].unit.symbol, "V");
        assert_eq!(s.channels[&energy].channel, "a-plus", "the settings override the built-in map");
        assert_eq!(s.channels[&Obis([1, 0, 21, 7, 0, 255])].kind, ReadingKind::Instantaneous);
        assert_eq!(s.channels.len(), default_channels().len() + 1);
        let names: Vec<_> = s.push_layouts.iter().map(|l| (l.name.as_str(), l.invoke_id, l.elements.len())).collect();
        assert_eq!(names, [("a", Some(475), 1), ("b", None, 2)]);
        assert_eq!(s.utc_offset_minutes, Some(180));
        assert_eq!(CodecSettings::parse("{}").unwrap(), CodecSettings::default());
    }

    #[test]
    fn strict_errors_name_the_setting() {
        assert_eq!(
            err(r#"{"key": {}}"#),
            "setting \"key\": unknown; allowed here: secrets, registers, channels, push_layouts, utc_offset_minutes"
        );
        assert!(err(r#"{"keys": {}}"#).contains("keys are secrets: they go in the instance's secrets file"));
        assert_eq!(err("[]"), "settings: expected a JSON object, got an array");
        assert!(err("{").starts_with("settings: invalid JSON"));
        let devices = |inner: &str| format!(r#"{{"secrets": {{"devices": {inner}}}}}"#);
        assert_eq!(
            err(&devices(r#"{"2F1922": {}}"#)),
            "setting \"secrets\".\"devices\".\"2F1922\": a system title is 16 hex digits"
        );
        assert_eq!(
            err(&devices(r#"{"2F19229199164103": {"ek": "00", "gk": "00"}}"#)),
            "setting \"secrets\".\"devices\".\"2F19229199164103\".\"gk\": unknown; allowed here: ek, ak, password"
        );
        assert_eq!(
            err(&devices(&format!(r#"{{"2F19229199164103": {{"ak": "{EK}"}}}}"#))),
            "setting \"secrets\".\"devices\".\"2F19229199164103\".\"ak\": needs ek, the block cipher key"
        );
        assert_eq!(err(r#"{"secrets": {"keys": {}}}"#), "setting \"secrets\".\"keys\": unknown; allowed here: devices");
        assert!(
            err(&devices(&format!(
                r#"{{"2F19229199164103": {{"ek": "{EK}"}}, "2f19229199164103": {{"ek": "{EK}"}}}}"#
            )))
            .contains("more than once")
        );
        assert_eq!(
            err(r#"{"registers": {"1.0.1.8.0": {}}}"#),
            "setting \"registers\".\"1.0.1.8.0\": not an OBIS code (e.g. 1.0.1.8.0.255)"
        );
        assert_eq!(
            err(r#"{"registers": {"1.0.1.8.0.255": {"scaler": 200, "unit": 30}}}"#),
            "setting \"registers\".\"1.0.1.8.0.255\".\"scaler\": expected a whole number -128 to 127, got 200"
        );
        assert_eq!(
            err(r#"{"registers": {"1.0.1.8.0.255": {"scaler": 0, "unit": "MWh"}}}"#),
            "setting \"registers\".\"1.0.1.8.0.255\".\"unit\": \"MWh\" is not a Blue Book unit code or symbol (e.g. 30 or \"Wh\") nor one of kWh, kvarh, kVAh, kW, kvar, kVA"
        );
        assert!(
            err(r#"{"registers": {"1.0.1.8.0.255": {"scaler": 0, "unit": 0}}}"#).contains("0 is not a Blue Book unit")
        );
        assert_eq!(
            err(r#"{"registers": {"1.0.1.8.0.255": {"unit": 30}}}"#),
            "setting \"registers\".\"1.0.1.8.0.255\".\"scaler\": missing"
        );
        assert_eq!(
            err(r#"{"channels": {"1.0.21.7.0.255": {"channel": "p1", "kind": "rate", "unit": "kW"}}}"#),
            "setting \"channels\".\"1.0.21.7.0.255\".\"kind\": expected cumulative, instantaneous or state"
        );
        assert_eq!(
            err(r#"{"channels": {"1.0.21.7.0.255": {"channel": "p1", "kind": "state", "unit": "W"}}}"#),
            "setting \"channels\".\"1.0.21.7.0.255\".\"unit\": \"W\" is not a unit a Blue Book unit converts to"
        );
        assert_eq!(
            err(r#"{"channels": {"1.0.21.7.0.255": {"channel": "power l1", "kind": "state", "unit": "kW"}}}"#),
            "setting \"channels\".\"1.0.21.7.0.255\".\"channel\": 1 to 64 characters, no spaces"
        );
        assert_eq!(
            err(r#"{"channels": {"1.0.21.7.0.255": {"channel": "power", "kind": "instantaneous", "unit": "kW"}}}"#),
            "setting \"channels\": channel \"power\" is both 1.0.16.7.0.255's and 1.0.21.7.0.255's (one channel, one OBIS code)"
        );
        assert_eq!(
            err(r#"{"push_layouts": {"d": ["1.0.1.8.0.255"]}}"#),
            "setting \"push_layouts\".\"d\"[0]: \"1.0.1.8.0.255\" is not \"<OBIS>:<attribute>\" (e.g. \"1.0.1.8.0.255:2\")"
        );
        assert_eq!(err(r#"{"push_layouts": {"d": []}}"#), "setting \"push_layouts\".\"d\": 1 to 4096 elements");
        assert_eq!(
            err(r#"{"push_layouts": {"d": {"elements": ["1.0.1.8.0.255:2"], "invoke_id": 16777216}}}"#),
            "setting \"push_layouts\".\"d\".\"invoke_id\": expected a whole number 0 to 16777215 (bits 0-23 of long-invoke-id-and-priority), got 16777216"
        );
        assert_eq!(
            err(r#"{"push_layouts": {"d": {"element": []}}}"#),
            "setting \"push_layouts\".\"d\".\"element\": unknown; allowed here: elements, invoke_id"
        );
        assert_eq!(
            err(r#"{"utc_offset_minutes": 900}"#),
            "setting \"utc_offset_minutes\": 900 is not a UTC offset (-720 to 840 minutes)"
        );
    }

    #[test]
    fn layouts_that_match_the_same_pushes_are_refused() {
        let e = err(r#"{"push_layouts": {"x": ["1.0.1.8.0.255:2"], "y": ["1.0.2.8.0.255:2"]}}"#);
        assert!(e.starts_with("setting \"push_layouts\": \"x\" and \"y\" cannot be told apart"), "{e}");
        let told_apart = r#"{"push_layouts": {"x": ["0.0.25.9.0.255:1", "1.0.1.8.0.255:2"], "y": ["0.0.25.9.1.255:1", "1.0.1.8.0.255:2"],
            "z": {"elements": ["1.0.1.8.0.255:2"], "invoke_id": 1}, "w": ["1.0.1.8.0.255:2"]}}"#;
        assert_eq!(CodecSettings::parse(told_apart).unwrap().push_layouts.len(), 4);
    }

    #[test]
    fn a_key_never_shows_in_an_error_or_debug() {
        let secret = "0123456789ABCDEF0123456789ABCDEX";
        let e = err(&format!(r#"{{"secrets": {{"devices": {{"2F19229199164103": {{"ek": "{secret}"}}}}}}}}"#));
        assert_eq!(
            e,
            "setting \"secrets\".\"devices\".\"2F19229199164103\".\"ek\": expected 32 hex digits (a 128-bit key)"
        );
        let good = "0123456789ABCDEF0123456789ABCDEF";
        let s =
            CodecSettings::parse(&format!(r#"{{"secrets": {{"devices": {{"2F19229199164103": {{"ek": "{good}", "ak": "{good}", "password": "{good}"}}}}}}}}"#))
                .unwrap();
        let shown = format!("{s:?}").to_ascii_uppercase();
        assert!(!shown.contains("0123456789ABCDEF") && !shown.contains("[1, 35, 69"), "{shown}");
        assert!(
            err(r#"{"secrets": {"devices": {"2F19229199164103": {"ek": 5}}}}"#)
                .ends_with("expected a string of 32 hex digits, got a number")
        );
    }
}
