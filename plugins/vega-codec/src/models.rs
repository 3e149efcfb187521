//! The device models this codec decodes: canonical names, accepted aliases,
//! the fPorts each model uses, and the AppEUI → model table.
//!
//! Names are matched case-insensitively after dropping `-`, `_`, `.`, `/`
//! and spaces and an optional leading `VEGA` / `BETAR` / `BETARVEGA`, so
//! `SI-11`, `SI_11`, `si11` and `Vega SI-11` are one model. The AppEUI
//! table is the fixture `fixtures/vega_appeui_models.json`, embedded and
//! parsed at `init`; the first entry of an AppEUI wins (so
//! `7665676173693131` is SI_11, not the unreachable TC_11, §2.4).

use std::collections::HashMap;

use serde_json::Value;

/// A supported device model (and payload format).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Model {
    /// Vega SI-11 pulse counter, format v1 (type byte; the default).
    Si11,
    /// Vega SI-11 pulse counter, format v2 (no type byte, `si11_v2.js`).
    Si11V2,
    /// Vega SI-21: the SI-11 v1 layout.
    Si21,
    /// Vega SI-12 (4 inputs, 2 outputs).
    Si12,
    /// Vega SI-12 RELAY.
    Si12R,
    /// Vega SI-13; the generation follows the AppEUI (`3032676173693133` is rev2).
    Si13,
    /// Vega SI-13 rev2 (times in types 1, 2, 4; Modbus type 6).
    Si13Rev2,
    /// Vega SI-22.
    Si22,
    /// Vega SI-23.
    Si23,
    /// Vega GM-2 (modem for Elster gas meters).
    Gm2,
    /// Betar-Vega SGBM-1.6 gas meter.
    Sgbm,
    /// Betar-Vega SHVE / SGVE water meter.
    Shve,
    /// SPbZIP CE2726A / CE2727A electricity meter with Vega module.
    Spbzip,
    /// Vega M-BUS-1.
    Mbus1,
    /// Vega M-BUS-2.
    Mbus2,
    /// Vega SH-2 universal modem.
    Sh2,
    /// Vega TP-11 4–20 mA converter.
    Tp11,
    /// Vega TD-11 temperature sensor.
    Td11,
}

/// Every model, in documentation order.
pub const ALL: [Model; 18] = [
    Model::Si11,
    Model::Si11V2,
    Model::Si21,
    Model::Si12,
    Model::Si12R,
    Model::Si13,
    Model::Si13Rev2,
    Model::Si22,
    Model::Si23,
    Model::Gm2,
    Model::Sgbm,
    Model::Shve,
    Model::Spbzip,
    Model::Mbus1,
    Model::Mbus2,
    Model::Sh2,
    Model::Tp11,
    Model::Td11,
];

/// The AppEUI of SI-13 rev2 devices.
pub const SI13_REV2_APPEUI: &str = "3032676173693133";

impl Model {
    /// The canonical name (in errors, fields and the README).
    pub fn name(self) -> &'static str {
        match self {
            Model::Si11 => "SI-11",
            Model::Si11V2 => "SI-11v2",
            Model::Si21 => "SI-21",
            Model::Si12 => "SI-12",
            Model::Si12R => "SI-12R",
            Model::Si13 => "SI-13",
            Model::Si13Rev2 => "SI-13rev2",
            Model::Si22 => "SI-22",
            Model::Si23 => "SI-23",
            Model::Gm2 => "GM-2",
            Model::Sgbm => "SGBM-1.6",
            Model::Shve => "SHVE",
            Model::Spbzip => "SPBZIP",
            Model::Mbus1 => "M-BUS-1",
            Model::Mbus2 => "M-BUS-2",
            Model::Sh2 => "SH-2",
            Model::Tp11 => "TP-11",
            Model::Td11 => "TD-11",
        }
    }

    /// The accepted names, normalized (see [`normalize`]).
    fn aliases(self) -> &'static [&'static str] {
        match self {
            Model::Si11 => &["SI11", "SI11V1"],
            Model::Si11V2 => &["SI11V2"],
            Model::Si21 => &["SI21"],
            Model::Si12 => &["SI12"],
            Model::Si12R => &["SI12R", "SI12RELAY"],
            Model::Si13 => &["SI13"],
            Model::Si13Rev2 => &["SI13REV2", "SI13R2"],
            Model::Si22 => &["SI22"],
            Model::Si23 => &["SI23"],
            Model::Gm2 => &["GM2"],
            Model::Sgbm => &["SGBM16", "SGBM"],
            Model::Shve => &["SHVE", "SGVE", "SHVESGVE", "SHVESGVEWATERMETER"],
            Model::Spbzip => &[
                "SPBZIP",
                "CE2726A",
                "CE2727A",
                "CE2726",
                "CE2727",
                "SPBZIPCE2726ACE2727A",
                "SPBZIPCE2726ACE2727AELECTRICITYMETER",
            ],
            Model::Mbus1 => &["MBUS1"],
            Model::Mbus2 => &["MBUS2"],
            Model::Sh2 => &["SH2", "SH2UNIVERSALMODEM"],
            Model::Tp11 => &["TP11", "TP1142020MACONVERTER"],
            Model::Td11 => &["TD11", "TD11TEMPERATURESENSOR"],
        }
    }

    /// The model named `name` (canonical name or alias, any case).
    pub fn parse(name: &str) -> Option<Model> {
        let key = normalize(name);
        ALL.into_iter().find(|m| m.aliases().contains(&key.as_str()))
    }

    /// The uplink fPorts of the model.
    pub fn ports(self) -> &'static [u8] {
        match self {
            Model::Spbzip => &[2, 3, 4, 5],
            Model::Sh2 => &[2, 3, 4, 195],
            _ => &[2, 3, 4],
        }
    }

    /// The model to decode with for a device of this model with `app_eui`:
    /// SI-13 becomes SI-13rev2 for AppEUI `3032676173693133`.
    pub fn for_app_eui(self, app_eui: Option<&str>) -> Model {
        match (self, app_eui) {
            (Model::Si13, Some(eui)) if eui.eq_ignore_ascii_case(SI13_REV2_APPEUI) => Model::Si13Rev2,
            (model, _) => model,
        }
    }
}

/// Upper case without `-`, `_`, `.`, `/`, spaces, and without a leading
/// `VEGA`, `BETAR` or `BETARVEGA`.
fn normalize(name: &str) -> String {
    let key: String = name
        .chars()
        .filter(|c| !matches!(c, '-' | '_' | '.' | '/' | ' ' | '\t'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let key = key.strip_prefix("BETAR").unwrap_or(&key);
    key.strip_prefix("VEGA").unwrap_or(key).to_owned()
}

/// What the AppEUI table says about one AppEUI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableEntry {
    /// A model this codec decodes.
    Supported(Model),
    /// A Vega model this codec does not decode (its table name).
    Unsupported(String),
}

/// AppEUI (upper-case hex) → model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppEuiTable {
    entries: HashMap<String, TableEntry>,
}

/// The embedded table data (the fixture copy of `vega_appeui_models.json`).
pub const APPEUI_JSON: &str = include_str!("../fixtures/vega_appeui_models.json");

impl AppEuiTable {
    /// The embedded table.
    pub fn embedded() -> Result<Self, String> {
        Self::parse(APPEUI_JSON)
    }

    /// Parse the table from the JSON of `vega_appeui_models.json`:
    /// `from_IotVegaLora2MQTT.entries[]` (`appEui`, `model`; first entry of
    /// an AppEUI wins) and `from_IotVegaTimeCorrector.entries[]` (SPbZIP).
    pub fn parse(json: &str) -> Result<Self, String> {
        let root: Value = serde_json::from_str(json).map_err(|e| format!("AppEUI table: {e}"))?;
        let mut table = AppEuiTable::default();
        let sources = [("from_IotVegaLora2MQTT", false), ("from_IotVegaTimeCorrector", true)];
        for (source, spbzip) in sources {
            let entries = root
                .get(source)
                .and_then(|s| s.get("entries"))
                .and_then(Value::as_array)
                .ok_or_else(|| format!("AppEUI table: no {source}.entries array"))?;
            for (i, entry) in entries.iter().enumerate() {
                let field = |name: &str| {
                    entry
                        .get(name)
                        .and_then(Value::as_str)
                        .ok_or_else(|| format!("AppEUI table: {source}.entries[{i}] has no string {name:?}"))
                };
                let eui = field("appEui")?.to_ascii_uppercase();
                let model_name = field("model")?;
                let entry = if spbzip {
                    TableEntry::Supported(Model::Spbzip)
                } else {
                    Model::parse(model_name)
                        .map_or_else(|| TableEntry::Unsupported(model_name.to_owned()), TableEntry::Supported)
                };
                table.entries.entry(eui).or_insert(entry);
            }
        }
        Ok(table)
    }

    /// The entry for `app_eui` (any case).
    pub fn get(&self, app_eui: &str) -> Option<&TableEntry> {
        self.entries.get(&app_eui.to_ascii_uppercase())
    }

    /// Number of AppEUIs in the table.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases() {
        for model in ALL {
            assert_eq!(Model::parse(model.name()), Some(model), "{}", model.name());
        }
        for (name, model) in [
            ("SI_11", Model::Si11),
            ("si11", Model::Si11),
            ("SI-11V2", Model::Si11V2),
            ("SI-12 RELAY", Model::Si12R),
            ("Vega SI-12 RELAY", Model::Si12R),
            ("sgbm-1.6", Model::Sgbm),
            ("SGVE", Model::Shve),
            ("Betar-Vega SHVE/SGVE water meter", Model::Shve),
            ("CE2727A", Model::Spbzip),
            ("m_bus_2", Model::Mbus2),
            ("SI-13rev2", Model::Si13Rev2),
        ] {
            assert_eq!(Model::parse(name), Some(model), "{name}");
        }
        assert_eq!(Model::parse("TL-11"), None);
        assert_eq!(Model::parse(""), None);
    }

    #[test]
    fn embedded_table() {
        let t = AppEuiTable::embedded().unwrap();
        assert_eq!(t.get("7665676173693131"), Some(&TableEntry::Supported(Model::Si11)));
        assert_eq!(t.get("76656761474d2d32"), Some(&TableEntry::Supported(Model::Gm2)));
        assert_eq!(t.get("5350625A49503237"), Some(&TableEntry::Supported(Model::Spbzip)));
        assert_eq!(t.get("3032425553203220"), Some(&TableEntry::Supported(Model::Mbus2)));
        assert_eq!(t.get("76656761544C3131"), Some(&TableEntry::Unsupported("TL_11".into())));
        assert_eq!(t.get("3032676173693133"), Some(&TableEntry::Supported(Model::Si13)));
        assert_eq!(Model::Si13.for_app_eui(Some("3032676173693133")), Model::Si13Rev2);
        assert_eq!(Model::Si13.for_app_eui(Some("7665676173693133")), Model::Si13);
        assert_eq!(t.get("0000000000000000"), None);
        assert_eq!(t.len(), 31);
    }
}
