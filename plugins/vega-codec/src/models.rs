//! The device models this codec decodes: canonical names, the names the
//! vendor gives them, the fPorts each model uses, and the AppEUI → model
//! table.
//!
//! A model name is compared after [`normalize`]: its words (runs of letters
//! and digits) upper-cased and joined, so case, spaces, `_`, `.`, `,`, `/`,
//! brackets and every kind of dash (`-`, `‐`, `‑`, `–`, `—`, `−`) do not
//! matter; Cyrillic is transliterated as the vendor writes its models in
//! Latin (`СИ` = `SI`, `ТП` = `TP`, `СХВЭ` = `SHVE`), and a Latin letter
//! that looks Cyrillic inside a Cyrillic word is read as Cyrillic (the
//! vendor's IotVegaNotifier spells SI-21 `CИ-21`, with a Latin `C`). A
//! leading maker (`Vega`, `Вега`, `Betar`, `Betar-Vega`, `Vega-Absolute`)
//! is dropped. What is left must be one of the model's designations
//! ([`Model::designations`]), alone, or followed or preceded by one of the
//! vendor's descriptions of that model ([`Model::descriptions`]): `SI-11`,
//! `si_11`, `СИ-11`, `Vega TP-11 4-20mA converter`, `Вега ТП-11 - конвертер
//! 4–20 мА`, `Electricity meter CE2726A/CE2727A` are all accepted, `TP-11
//! temperature sensor` is not. The table of every accepted key is built
//! once; a test checks that no key names two models.
//!
//! The AppEUI table is the fixture `fixtures/vega_appeui_models.json`,
//! embedded and parsed at `init`; the first entry of an AppEUI wins (so
//! `7665676173693131` is SI_11, not the unreachable TC_11, §2.4).

use std::collections::HashMap;
use std::sync::LazyLock;

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

    /// The model's designations as the vendor and its tools write them
    /// (compared after [`normalize`], so `SI_11` and `СИ-11` need no entry
    /// of their own). The first is the canonical [`Model::name`].
    pub fn designations(self) -> &'static [&'static str] {
        match self {
            Model::Si11 => &["SI-11", "SI-11v1"],
            Model::Si11V2 => &["SI-11v2"],
            Model::Si21 => &["SI-21"],
            Model::Si12 => &["SI-12"],
            Model::Si12R => &["SI-12R", "SI-12 RELAY", "SI-12 Реле"],
            Model::Si13 => &["SI-13"],
            Model::Si13Rev2 => &["SI-13rev2", "SI-13r2"],
            Model::Si22 => &["SI-22"],
            Model::Si23 => &["SI-23"],
            Model::Gm2 => &["GM-2"],
            Model::Sgbm => &["SGBM-1.6", "SGBM"],
            Model::Shve => &["SHVE", "SGVE", "SHVE/SGVE"],
            Model::Spbzip => &[
                "SPBZIP",
                "SPbZIP CE2726A/CE2727A",
                "SPbZIP CE2726/CE2727",
                "SPbZIP CE 2726A",
                "SPbZIP CE 2727A",
                "CE2726A/CE2727A",
                "CE2726/CE2727",
                "CE2726A",
                "CE2727A",
                "CE2726",
                "CE2727",
                // The vendor's Russian title, maker last.
                "Счетчик электрической энергии ООО «Спб ЗИП»",
            ],
            Model::Mbus1 => &["M-BUS-1"],
            Model::Mbus2 => &["M-BUS-2"],
            Model::Sh2 => &["SH-2"],
            Model::Tp11 => &["TP-11"],
            Model::Td11 => &["TD-11"],
        }
    }

    /// The vendor's descriptions of the model, which may follow or precede
    /// a designation: the device lists of `VegaAbsolute/IoTVegaParser` (in
    /// English and Russian), the device names of its published vectors
    /// (`fixtures/vega_uplinks.jsonl`), IotVegaTimeCorrector's SPbZIP name.
    pub fn descriptions(self) -> &'static [&'static str] {
        const PULSE_COUNTER: [&str; 2] = ["pulse counter", "счётчик импульсов"];
        match self {
            Model::Si11 | Model::Si11V2 => &["pulse counter", "счётчик импульсов", "4-input pulse counter"],
            Model::Si21 | Model::Si13 | Model::Si13Rev2 => &PULSE_COUNTER,
            Model::Si12 => &[
                "pulse counter with two outputs",
                "счётчик импульсов с двумя выходами",
                "pulse counter",
                "счётчик импульсов",
            ],
            Model::Si12R => &["pulse counter with built-in relay", "счетчик импульсов со встроенным реле"],
            Model::Si22 => &["pulse counter with external antenna", "счётчик импульсов с внешней антенной"],
            Model::Si23 => {
                &["pulse counter & RS-232/RS-485 to LoRaWAN® converter", "pulse counter", "счётчик импульсов"]
            }
            Model::Gm2 => &["modem for Elster gas meters", "модем для счетчиков газа Elster"],
            Model::Sgbm => &["small-sized household gas meter", "household gas meter", "gas meter"],
            Model::Shve => &["electronic water meter", "water meter", "счетчик воды крыльчатый электронный"],
            Model::Spbzip => {
                &["electricity meter", "electricity meter with Vega LoRaWAN module", "счетчик электрической энергии"]
            }
            Model::Mbus1 | Model::Mbus2 => &["M-BUS converter", "конвертер M-BUS"],
            Model::Sh2 => &["universal modem", "универсальный модем"],
            Model::Tp11 => &["4-20 mA converter", "конвертер 4-20 мА"],
            Model::Td11 => &["temperature sensor", "температурный датчик"],
        }
    }

    /// The model named `name`: a designation, alone or with one of the
    /// vendor's descriptions, in any spelling [`normalize`] forgives.
    pub fn parse(name: &str) -> Option<Model> {
        static NAMES: LazyLock<HashMap<String, Model>> = LazyLock::new(|| {
            let mut names = HashMap::new();
            for (key, model) in accepted_keys() {
                names.entry(key).or_insert(model);
            }
            names
        });
        NAMES.get(&normalize(name)).copied()
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

/// Every normalized name the models accept, with its model: each
/// designation alone, followed by and preceded by each description.
fn accepted_keys() -> Vec<(String, Model)> {
    let mut keys = Vec::new();
    for model in ALL {
        for designation in model.designations() {
            let designation = normalize(designation);
            keys.push((designation.clone(), model));
            for description in model.descriptions() {
                let description = normalize(description);
                keys.push((format!("{designation}{description}"), model));
                keys.push((format!("{description}{designation}"), model));
            }
        }
    }
    keys
}

/// Makers that may lead a name, longest first (after normalizing).
const MAKERS: [&str; 4] = ["BETARVEGA", "VEGAABSOLUTE", "BETAR", "VEGA"];

/// A name reduced to what identifies it: the words (runs of letters and
/// digits; every other character separates) upper-cased, Cyrillic
/// transliterated ([`latin`]), joined, without a leading maker.
/// `Вега ТП-11 – конвертер 4–20 мА` becomes `TP11KONVERTER420MA`.
pub fn normalize(name: &str) -> String {
    let mut key = String::with_capacity(name.len());
    for word in name.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        let cyrillic_word = word.chars().any(is_cyrillic);
        for c in word.chars().flat_map(char::to_uppercase) {
            let c = if cyrillic_word { cyrillic_lookalike(c) } else { c };
            match latin(c) {
                Some(text) => key.push_str(text),
                None => key.push(c),
            }
        }
    }
    match MAKERS.iter().find_map(|maker| key.strip_prefix(maker)) {
        Some(rest) => rest.to_owned(),
        None => key,
    }
}

/// Whether `c` is a Cyrillic letter.
fn is_cyrillic(c: char) -> bool {
    ('\u{0400}'..='\u{04FF}').contains(&c)
}

/// The Cyrillic capital an upper-case Latin letter looks like (`C` → `С`),
/// else the letter itself.
fn cyrillic_lookalike(c: char) -> char {
    match c {
        'A' => 'А',
        'B' => 'В',
        'C' => 'С',
        'E' => 'Е',
        'H' => 'Н',
        'K' => 'К',
        'M' => 'М',
        'O' => 'О',
        'P' => 'Р',
        'T' => 'Т',
        'X' => 'Х',
        'Y' => 'У',
        other => other,
    }
}

/// The Latin spelling of a Cyrillic capital, as the vendor transliterates
/// its model names (`С` `S`, `Х` `H`, `Э` `E`); `None` for other letters.
fn latin(c: char) -> Option<&'static str> {
    Some(match c {
        'А' => "A",
        'Б' => "B",
        'В' => "V",
        'Г' => "G",
        'Д' => "D",
        'Е' | 'Ё' | 'Э' => "E",
        'Ж' => "ZH",
        'З' => "Z",
        'И' => "I",
        'Й' | 'Ы' => "Y",
        'К' => "K",
        'Л' => "L",
        'М' => "M",
        'Н' => "N",
        'О' => "O",
        'П' => "P",
        'Р' => "R",
        'С' => "S",
        'Т' => "T",
        'У' => "U",
        'Ф' => "F",
        'Х' => "H",
        'Ц' => "TS",
        'Ч' => "CH",
        'Ш' => "SH",
        'Щ' => "SCH",
        'Ъ' | 'Ь' => "",
        'Ю' => "YU",
        'Я' => "YA",
        _ => return None,
    })
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
            assert_eq!(model.designations()[0], model.name(), "the first designation is the canonical name");
        }
        for (name, model) in [
            ("SI_11", Model::Si11),
            ("si11", Model::Si11),
            ("SI-11V2", Model::Si11V2),
            ("SI-11 v2", Model::Si11V2),
            ("SI-12 RELAY", Model::Si12R),
            ("Vega SI-12 RELAY", Model::Si12R),
            ("sgbm-1.6", Model::Sgbm),
            ("SGVE", Model::Shve),
            ("Betar-Vega SHVE/SGVE water meter", Model::Shve),
            ("CE2727A", Model::Spbzip),
            ("m_bus_2", Model::Mbus2),
            ("SI-13rev2", Model::Si13Rev2),
            ("Vega-Absolute SH-2", Model::Sh2),
        ] {
            assert_eq!(Model::parse(name), Some(model), "{name}");
        }
        for name in ["TL-11", "", "  ", "Vega", "SI-110", "SI-1", "TP-11 temperature sensor", "Электросчетчик"]
        {
            assert_eq!(Model::parse(name), None, "{name:?}");
        }
    }

    /// The bug: `--model "Vega TP-11 4-20mA converter"` (the vendor's own
    /// name) was an unknown model, and so was any other dash or spacing.
    #[test]
    fn vega_tp11_4_20ma_converter_is_a_known_model() {
        for name in [
            "Vega TP-11 4-20mA converter",
            "Vega TP-11 - 4-20 mA converter",
            "Vega TP-11 4–20 mA converter",
            "Vega TP‑11 4—20mA converter",
            "Vega TP−11 4‐20 mA converter",
            "VEGA TP11 4-20MA CONVERTER",
            "vega\u{a0}tp-11   4 - 20 ma converter",
            "Вега ТП-11 - конвертер 4-20мА",
            "ТП-11",
        ] {
            assert_eq!(Model::parse(name), Some(Model::Tp11), "{name:?}");
        }
    }

    /// Every device name of the vendor's published vectors (the `device`
    /// of each line of `fixtures/vega_uplinks.jsonl`) is the model its
    /// decoder is for.
    #[test]
    fn every_vector_device_name_is_its_model() {
        let decoders = [
            ("vega_si_12_v1", Model::Si12),
            ("vega_si_12r_v1", Model::Si12R),
            ("vega_si_22_v1", Model::Si22),
            ("vega_gm2_v1", Model::Gm2),
            ("vega_betar_v1", Model::Shve),
            ("vega_SPBZIP_v1", Model::Spbzip),
            ("vega_sh_2_v1", Model::Sh2),
            ("vega_mbus_2_v1", Model::Mbus2),
            ("vega_tp11_v1", Model::Tp11),
            ("vega_td11_v1", Model::Td11),
        ];
        let vectors = include_str!("../fixtures/vega_uplinks.jsonl");
        let mut count = 0;
        for line in vectors.lines().filter(|l| !l.trim().is_empty()) {
            let v: Value = serde_json::from_str(line).unwrap();
            let (device, decoder) = (v["device"].as_str().unwrap(), v["decoder"].as_str().unwrap());
            let want = decoders.iter().find(|(d, _)| *d == decoder).map(|(_, m)| *m);
            assert!(want.is_some(), "decoder {decoder} has no model in this test");
            assert_eq!(Model::parse(device), want, "{device:?}");
            count += 1;
        }
        assert_eq!(count, 17);
    }

    /// The names in the vendor's own device lists: IoTVegaParser's (English
    /// and Russian) and the IotVegaNotifier / IotVegaLora2MQTT /
    /// IotVegaTimeCorrector names in `fixtures/vega_appeui_models.json`.
    #[test]
    fn every_vendor_name_of_a_supported_model_is_accepted() {
        for (name, model) in [
            ("Betar-Vega SGBM-1.6 - small-sized household gas meter", Model::Sgbm),
            ("Betar-Vega SHVE/SGVE - electronic water meter", Model::Shve),
            ("Vega GM-2 - modem for Elster gas meters", Model::Gm2),
            ("Vega M-BUS-1 - M-BUS converter", Model::Mbus1),
            ("Vega M-BUS-2 - M-BUS converter", Model::Mbus2),
            ("Vega SH-2 - universal modem", Model::Sh2),
            ("Vega SI-11 - pulse counter", Model::Si11),
            ("Vega SI-12 - pulse counter with two outputs", Model::Si12),
            ("Vega SI-12 RELAY - pulse counter with built-in relay", Model::Si12R),
            ("Vega SI-22 - pulse counter with external antenna", Model::Si22),
            ("Vega SI-23 - pulse counter & RS-232/RS-485 to LoRaWAN® converter", Model::Si23),
            ("Vega TD-11 - temperature sensor", Model::Td11),
            ("Vega TP-11 - 4-20 mA converter", Model::Tp11),
            ("Electricity meter CE2726A/CE2727A", Model::Spbzip),
            ("Бетар-Вега СХВЭ/СГВЭ - счетчик воды крыльчатый электронный", Model::Shve),
            ("Вега GM-2 - модем для счетчиков газа Elster", Model::Gm2),
            ("Вега M-BUS-1 - конвертер M-BUS", Model::Mbus1),
            ("Вега SH-2 - Универсальный модем", Model::Sh2),
            ("Вега СИ-11 - счётчик импульсов", Model::Si11),
            ("Вега СИ-12 - счётчик импульсов с двумя выходами", Model::Si12),
            ("Вега СИ-12 Реле - счетчик импульсов со встроенным реле", Model::Si12R),
            ("Вега СИ-22 - счётчик импульсов с внешней антенной", Model::Si22),
            ("Вега ТД-11 - температурный датчик", Model::Td11),
            ("Вега ТП-11 - конвертер 4-20мА", Model::Tp11),
            ("Счетчик электрической энергии ООО «Спб ЗИП»", Model::Spbzip),
            ("SPbZIP CE 2726A", Model::Spbzip),
        ] {
            assert_eq!(Model::parse(name), Some(model), "{name:?}");
        }
        let table: Value = serde_json::from_str(APPEUI_JSON).unwrap();
        let names = |source: &str, key: &str| -> Vec<String> {
            table[source]["entries"].as_array().unwrap().iter().map(|e| e[key].as_str().unwrap().to_owned()).collect()
        };
        let notifier = [
            ("СИ-11", Model::Si11),
            ("СИ-12", Model::Si12),
            ("СИ-13", Model::Si13),
            ("ТД-11", Model::Td11),
            ("ТП-11", Model::Tp11),
            ("CИ-21", Model::Si21),
            ("GM-2", Model::Gm2),
            ("СИ-22", Model::Si22),
            ("M-BUS-1", Model::Mbus1),
            ("M-BUS-2", Model::Mbus2),
        ];
        let lora2mqtt = [
            ("SI_22", Model::Si22),
            ("SI_12", Model::Si12),
            ("SI_11", Model::Si11),
            ("SI_13", Model::Si13),
            ("SI_21", Model::Si21),
            ("M_BUS_1", Model::Mbus1),
            ("M_BUS_2", Model::Mbus2),
            ("TP_11", Model::Tp11),
            ("TD_11", Model::Td11),
            ("GM_2", Model::Gm2),
        ];
        let spbzip = [("SPbZIP CE2726/CE2727 electricity meter with Vega LoRaWAN module", Model::Spbzip)];
        for (source, key, known) in [
            ("from_IotVegaNotifier", "name", &notifier[..]),
            ("from_IotVegaLora2MQTT", "model", &lora2mqtt[..]),
            ("from_IotVegaTimeCorrector", "model", &spbzip[..]),
        ] {
            for name in names(source, key) {
                // A name not listed above is a model this codec does not decode.
                let want = known.iter().find(|(n, _)| *n == name).map(|(_, m)| *m);
                assert_eq!(Model::parse(&name), want, "{source}: {name:?}");
            }
        }
    }

    #[test]
    fn no_name_is_two_models() {
        let mut seen: HashMap<String, Model> = HashMap::new();
        for (key, model) in accepted_keys() {
            let first = *seen.entry(key.clone()).or_insert(model);
            assert_eq!(first, model, "{key} names both {} and {}", first.name(), model.name());
        }
    }

    #[test]
    fn normalize_spellings() {
        assert_eq!(normalize("Вега ТП-11 – конвертер 4–20 мА"), "TP11KONVERTER420MA");
        assert_eq!(normalize("CИ-21"), "SI21", "Latin C inside a Cyrillic word");
        assert_eq!(normalize("Betar-Vega SGBM-1,6"), "SGBM16");
        assert_eq!(normalize("Vega\u{2011}SI\u{2212}11\u{202f}v2"), "SI11V2");
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
