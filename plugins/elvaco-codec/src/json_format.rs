//! Message format 02 (JSON): the energy register as text,
//! `{"E":12345678,"U":"kWh","ID":87654321}` after the format byte.
//!
//! `E` is the energy (a JSON number, or a string of decimal digits as in
//! the published example), `U` its unit (Wh, kWh, MWh, GWh, J, kJ, MJ, GJ,
//! Cal, kCal, MCal, GCal), `ID` the meter ID. An empty object (`{ }`) is the
//! module's meter communication error. The members become the same
//! [`Record`]s as an M-Bus message's, so that fields and readings are made
//! one way; their offsets are those of the JSON values.

use std::str::FromStr;

use meterhub_plugin_api::json::members;
use meterhub_plugin_api::{Decimal, DecodeError};
use serde_json::value::RawValue;

use crate::mbus::{EnergyUnit, Function, Quantity, Record, Value};
use crate::reader::Reader;

/// A JSON body: its records, or the communication error (`{ }`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonBody {
    /// The energy (and meter ID) as records.
    Records(Vec<Record>),
    /// `{ }`: the module could not read the meter.
    CommunicationError,
}

/// The unit family and decimal exponent to the meterhub unit of `unit`.
fn unit(text: &str) -> Option<(EnergyUnit, i32)> {
    Some(match text {
        "Wh" => (EnergyUnit::KWh, -3),
        "kWh" => (EnergyUnit::KWh, 0),
        "MWh" => (EnergyUnit::KWh, 3),
        "GWh" => (EnergyUnit::KWh, 6),
        "J" => (EnergyUnit::GJ, -9),
        "kJ" => (EnergyUnit::GJ, -6),
        "MJ" => (EnergyUnit::GJ, -3),
        "GJ" => (EnergyUnit::GJ, 0),
        "Cal" => (EnergyUnit::Gcal, -9),
        "kCal" => (EnergyUnit::Gcal, -6),
        "MCal" => (EnergyUnit::Gcal, -3),
        "GCal" => (EnergyUnit::Gcal, 0),
        _ => return None,
    })
}

/// The JSON text of a value: a string's content, a number's literal.
fn text_of(value: &RawValue) -> Option<String> {
    let raw = value.get();
    if raw.starts_with('"') { serde_json::from_str::<String>(raw).ok() } else { Some(raw.to_owned()) }
}

/// Decode the JSON object of `r` from byte `from`.
pub fn decode(r: &Reader<'_>, from: usize) -> Result<JsonBody, DecodeError> {
    let rest = r.rest(from);
    let text = std::str::from_utf8(rest).map_err(|e| r.error_at("JSON", from + e.valid_up_to(), "not UTF-8 text"))?;
    let offset_of = |value: &RawValue| from + (value.get().as_ptr() as usize).saturating_sub(text.as_ptr() as usize);
    let object: &RawValue = serde_json::from_str(text).map_err(|e| {
        let line_start: usize = text.split_inclusive('\n').take(e.line().saturating_sub(1)).map(str::len).sum();
        r.error_at("JSON", from + line_start + e.column().saturating_sub(1), format_args!("not a JSON object: {e}"))
    })?;
    let list = members(object).map_err(|e| r.error_at("JSON", from, format_args!("not a JSON object: {e}")))?;
    if list.is_empty() {
        return Ok(JsonBody::CommunicationError);
    }
    let (mut energy, mut energy_unit, mut meter_id): (Option<&RawValue>, Option<&RawValue>, Option<&RawValue>) =
        (None, None, None);
    for (name, value) in &list {
        let slot = match name.as_str() {
            "E" => &mut energy,
            "U" => &mut energy_unit,
            "ID" => &mut meter_id,
            other => {
                return Err(r.error_at(
                    &format!("JSON member {other:?}"),
                    offset_of(value),
                    "not a member of the CMi4110 JSON format (E, U, ID)",
                ));
            }
        };
        if slot.replace(value).is_some() {
            return Err(r.error_at(&format!("JSON member {name:?}"), offset_of(value), "given twice"));
        }
    }
    let missing = |name: &str| r.error_at(&format!("JSON member {name:?}"), from, "missing");
    let energy = energy.ok_or_else(|| missing("E"))?;
    let energy_unit = energy_unit.ok_or_else(|| missing("U"))?;
    let unit_text = serde_json::from_str::<String>(energy_unit.get())
        .map_err(|_| r.error_at("JSON member \"U\"", offset_of(energy_unit), "expected a string"))?;
    let (family, exponent) = unit(&unit_text).ok_or_else(|| {
        r.error_at(
            "JSON member \"U\"",
            offset_of(energy_unit),
            format_args!("unit {unit_text:?} is not one of Wh, kWh, MWh, GWh, J, kJ, MJ, GJ, Cal, kCal, MCal, GCal"),
        )
    })?;
    let e_at = offset_of(energy);
    let e_text = text_of(energy).filter(|t| {
        let digits = t.strip_prefix('-').unwrap_or(t);
        !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && digits.bytes().filter(|&b| b == b'.').count() <= 1
    });
    let value = e_text
        .and_then(|t| Decimal::from_str(&t).ok())
        .and_then(|d| {
            Some(Value::Number {
                mantissa: i64::try_from(d.mantissa()).ok()?,
                exponent: exponent - i32::try_from(d.scale()).ok()?,
            })
        })
        .ok_or_else(|| {
            r.error_at("JSON member \"E\"", e_at, format_args!("{} is not a decimal energy", energy.get()))
        })?;
    let record = |offset, quantity, value| Record {
        offset,
        function: Function::Instantaneous,
        storage: 0,
        tariff: 0,
        subunit: 0,
        quantity,
        value,
    };
    let mut records = vec![record(e_at, Quantity::Energy(family), value)];
    if let Some(id) = meter_id {
        let digits = text_of(id)
            .filter(|t| !t.is_empty() && t.len() <= 20 && t.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| {
                r.error_at("JSON member \"ID\"", offset_of(id), format_args!("{} is not a meter ID (digits)", id.get()))
            })?;
        records.push(record(offset_of(id), Quantity::MeterId, Value::Digits(digits)));
    }
    Ok(JsonBody::Records(records))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(json: &str) -> Result<JsonBody, String> {
        let mut bytes = vec![0x02];
        bytes.extend_from_slice(json.as_bytes());
        decode(&Reader::new(&bytes, "j"), 1).map_err(|e| e.reason)
    }

    fn records(json: &str) -> Vec<Record> {
        match run(json).unwrap() {
            JsonBody::Records(r) => r,
            JsonBody::CommunicationError => panic!("{json}: communication error"),
        }
    }

    #[test]
    fn energy_as_number_or_string_in_any_listed_unit() {
        let r = records(r#"{"E":12345678,"U":"kWh","ID":87654321}"#);
        assert_eq!(r[0].value.decimal().unwrap().to_string(), "12345678");
        assert_eq!((r[0].offset, r[0].quantity), (6, Quantity::Energy(EnergyUnit::KWh)));
        assert_eq!((r[1].offset, &r[1].value), (30, &Value::Digits("87654321".into())));
        let r = records(r#"{"E":"894137","U":"kWh","ID":70969798}"#);
        assert_eq!(r[0].value.decimal().unwrap().to_string(), "894137");
        let e = |json: &str| records(json)[0].value.decimal().unwrap().to_string();
        assert_eq!(e(r#"{"E":"1234.5","U":"MWh"}"#), "1234500");
        assert_eq!(e(r#"{"E":1234,"U":"MJ"}"#), "1.234");
        assert_eq!(records(r#"{"E":1,"U":"MCal"}"#)[0].quantity, Quantity::Energy(EnergyUnit::Gcal));
    }

    #[test]
    fn an_empty_object_is_the_communication_error() {
        assert_eq!(run("{ }").unwrap(), JsonBody::CommunicationError);
        assert_eq!(run("{}").unwrap(), JsonBody::CommunicationError);
    }

    #[test]
    fn errors_name_member_and_offset() {
        let e = |json: &str| run(json).unwrap_err();
        assert_eq!(
            e(r#"{"E":1,"U":"kWh","X":2}"#),
            "j: JSON member \"X\" at offset 22: not a member of the CMi4110 JSON format (E, U, ID)"
        );
        assert_eq!(e(r#"{"E":1,"E":2,"U":"kWh"}"#), "j: JSON member \"E\" at offset 12: given twice");
        assert_eq!(e(r#"{"U":"kWh"}"#), "j: JSON member \"E\" at offset 1: missing");
        assert_eq!(
            e(r#"{"E":1,"U":"kW"}"#),
            "j: JSON member \"U\" at offset 12: unit \"kW\" is not one of Wh, kWh, MWh, GWh, J, kJ, MJ, GJ, Cal, kCal, MCal, GCal"
        );
        assert_eq!(e(r#"{"E":1e3,"U":"kWh"}"#), "j: JSON member \"E\" at offset 6: 1e3 is not a decimal energy");
        assert_eq!(e(r#"{"E":"x","U":"kWh"}"#), "j: JSON member \"E\" at offset 6: \"x\" is not a decimal energy");
        assert_eq!(
            e(r#"{"E":1,"U":"kWh","ID":"A1"}"#),
            "j: JSON member \"ID\" at offset 23: \"A1\" is not a meter ID (digits)"
        );
        assert!(
            e(r#"{"E":1,"U":"kWh""#).starts_with("j: JSON at offset 16: not a JSON object: EOF"),
            "{}",
            e(r#"{"E":1,"U":"kWh""#)
        );
        assert!(e("[1]").starts_with("j: JSON at offset 1: not a JSON object"));
        let bad_utf8 = decode(&Reader::new(&[0x02, b'{', 0xff], "j"), 1).unwrap_err().reason;
        assert_eq!(bad_utf8, "j: JSON at offset 2: not UTF-8 text");
    }
}
