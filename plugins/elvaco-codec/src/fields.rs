//! The decoded fields (`Decoded::fields`): a message as the CMi4110's
//! published decoder names it, for people checking payloads.
//!
//! Names follow the ThingPark CMi41xx decoder, whose output the published
//! example uplinks carry: `messageFormat` (two hex digits),
//! `messageFormatInfo` (`[module, format, meter make]`), `energy`,
//! `volume`, `power`, `flow`, `forwardTemperature`, `returnTemperature`,
//! `meterId`, `errorFlags`, each measured value with its unit in
//! `<name>Unit`. A record other than a current total gets its name from
//! the M-Bus fields that set it apart, in this order: tariff
//! (`energyTariff1`), subunit (`…Subunit1`), storage (`energyAt24` for the
//! 24:00 value of the daily redundant formats, else `…Storage2`), then the
//! function as a prefix (`maxFlowStorage2`, `minPower`,
//! `errorStateEnergyAt24` for a value the meter marks invalid).
//!
//! Values: registers and other measured values as exact decimal strings in
//! the meterhub unit (kWh or GJ, m3, kW, m3/h, degC), the meter ID as its
//! digits, the error flags as a number, the meter's date/time as local
//! time text with `<name>SummerTime` / `<name>Invalid` when those bits are
//! set.

use serde_json::{Map, Value as Json};

use crate::formats::{Format, METER_MAKE, MODEL};
use crate::mbus::{Function, Record, Value};
use crate::message::{Body, Message};

/// The field name of `record` in a message of `format`.
pub fn field_name(record: &Record, format: &Format) -> String {
    let mut name = record.quantity.field().to_owned();
    if record.tariff > 0 {
        name += &format!("Tariff{}", record.tariff);
    }
    if record.subunit > 0 {
        name += &format!("Subunit{}", record.subunit);
    }
    match record.storage {
        0 => {}
        1 if format.at_24 => name += "At24",
        n => name += &format!("Storage{n}"),
    }
    let prefix = match record.function {
        Function::Instantaneous => return name,
        Function::Maximum => "max",
        Function::Minimum => "min",
        Function::ErrorState => "errorState",
    };
    let mut chars = name.chars();
    let first = chars.next().map(|c| c.to_ascii_uppercase()).into_iter();
    format!("{prefix}{}", first.chain(chars).collect::<String>())
}

/// The fields of `message`, beginning with `model`.
pub fn fields(message: &Message) -> Map<String, Json> {
    let format = message.format;
    let mut out = Map::new();
    out.insert("model".into(), MODEL.into());
    out.insert("messageFormat".into(), format!("{:02x}", format.id).into());
    out.insert("messageFormatInfo".into(), Json::from(vec![MODEL, format.name, METER_MAKE]));
    let records = match &message.body {
        Body::Records(records) => records,
        Body::CommunicationError => {
            out.insert("error".into(), "meter communication error: the module could not read the meter".into());
            return out;
        }
    };
    for record in records {
        let name = field_name(record, format);
        match &record.value {
            Value::Number { .. } => {
                let text = record.value.decimal().map_or_else(|| "out of range".to_owned(), |d| d.to_string());
                out.insert(name.clone(), text.into());
                out.insert(format!("{name}Unit"), record.quantity.unit().into());
            }
            Value::DateTime(t) => {
                out.insert(name.clone(), t.local_text().into());
                if t.summer {
                    out.insert(format!("{name}SummerTime"), true.into());
                }
                if t.invalid {
                    out.insert(format!("{name}Invalid"), true.into());
                }
            }
            Value::Digits(digits) => {
                out.insert(name, digits.clone().into());
            }
            Value::Bits(bits) => {
                out.insert(name, (*bits).into());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::lookup;
    use crate::mbus::{EnergyUnit, Quantity};

    fn rec(function: Function, storage: u64, tariff: u32, subunit: u32, quantity: Quantity) -> Record {
        Record { offset: 1, function, storage, tariff, subunit, quantity, value: Value::Bits(0) }
    }

    #[test]
    fn names_from_tariff_subunit_storage_function() {
        let daily = lookup(0x03).unwrap();
        let standard = lookup(0x00).unwrap();
        let energy = Quantity::Energy(EnergyUnit::KWh);
        let name = |r: Record, f| field_name(&r, f);
        assert_eq!(name(rec(Function::Instantaneous, 0, 0, 0, energy), standard), "energy");
        assert_eq!(name(rec(Function::ErrorState, 1, 0, 0, energy), daily), "errorStateEnergyAt24");
        assert_eq!(name(rec(Function::Instantaneous, 1, 2, 0, energy), daily), "energyTariff2At24");
        assert_eq!(name(rec(Function::Instantaneous, 1, 0, 0, energy), standard), "energyStorage1");
        assert_eq!(name(rec(Function::Maximum, 2, 0, 0, Quantity::Flow), standard), "maxFlowStorage2");
        assert_eq!(name(rec(Function::Minimum, 0, 0, 1, Quantity::Power), standard), "minPowerSubunit1");
        assert_eq!(
            name(rec(Function::Instantaneous, 0, 0, 0, Quantity::FlowTemperature), standard),
            "forwardTemperature"
        );
    }
}
