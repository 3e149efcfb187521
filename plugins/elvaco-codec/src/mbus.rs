//! M-Bus data records (EN 13757-3) as the CMi4110 sends them after its
//! message format byte: a sequence of data information blocks, each
//!
//! ```text
//! DIF [DIFE ...] VIF [VIFE] data
//! ```
//!
//! - DIF: bits 0-3 the data field (coding and length), bits 4-5 the
//!   function (instantaneous, maximum, minimum, value during error state),
//!   bit 6 the storage number's lowest bit, bit 7 "a DIFE follows";
//! - DIFE (up to ten): bits 0-3 further storage-number bits, 4-5 tariff
//!   bits, 6 a subunit bit, 7 "another DIFE follows";
//! - VIF: the quantity and its decimal exponent; `FB` and `FD` announce a
//!   VIFE from the first and second extension tables.
//!
//! Only what the CMi4110 manual and the published example uplinks use is
//! decoded: energy (Wh and J families, `FB 00/01/08/09` MWh and GJ), volume,
//! power, volume flow, flow and return temperature, date and time (type F),
//! the fabrication number (the meter ID), and the error flags (`FD 17`);
//! integer (1, 2, 3, 4, 6, 8 bytes) and BCD (2, 4, 6, 8, 12 digits) data.
//! Anything else is a [`DecodeError`] naming the record's byte offset, never
//! a guess: a payload read with the wrong layout would archive wrong values.
//!
//! Values are integer mantissas with a decimal exponent in the meterhub
//! unit of the quantity (kWh or GJ, m3, kW, m3/h, degC), so that turning
//! them into [`Decimal`] is exact.

use meterhub_plugin_api::{Decimal, DecodeError};

use crate::datetime::MeterDateTime;
use crate::reader::Reader;

/// What a record's value is (the DIF's function field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// The current (instantaneous) value.
    Instantaneous,
    /// A maximum value.
    Maximum,
    /// A minimum value.
    Minimum,
    /// A value during an error state: not valid (the CMi4110 sends its
    /// 24:00 energy so before the first midnight readout).
    ErrorState,
}

/// The unit an energy is reported in: the meter's configuration decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnergyUnit {
    /// Watt-hour family (Wh, kWh, MWh): reported in kWh.
    KWh,
    /// Joule family (J, MJ, GJ): reported in GJ.
    GJ,
    /// Calorie family (JSON format only): reported in Gcal.
    Gcal,
}

impl EnergyUnit {
    /// The meterhub unit.
    pub fn unit(self) -> &'static str {
        match self {
            EnergyUnit::KWh => "kWh",
            EnergyUnit::GJ => "GJ",
            EnergyUnit::Gcal => "Gcal",
        }
    }
}

/// The quantity of a record (its VIF).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// Heat (or cooling) energy.
    Energy(EnergyUnit),
    /// Volume, m3.
    Volume,
    /// Power, kW.
    Power,
    /// Volume flow, m3/h.
    Flow,
    /// Flow (forward) temperature, degC.
    FlowTemperature,
    /// Return temperature, degC.
    ReturnTemperature,
    /// The meter's date and time (type F).
    DateTime,
    /// The fabrication number: the meter ID.
    MeterId,
    /// The meter's error and warning flags.
    ErrorFlags,
}

impl Quantity {
    /// The meterhub unit of a measured quantity (empty for the others).
    pub fn unit(self) -> &'static str {
        match self {
            Quantity::Energy(unit) => unit.unit(),
            Quantity::Volume => "m3",
            Quantity::Power => "kW",
            Quantity::Flow => "m3/h",
            Quantity::FlowTemperature | Quantity::ReturnTemperature => "degC",
            Quantity::DateTime | Quantity::MeterId | Quantity::ErrorFlags => "",
        }
    }

    /// The field name in the decoded fields (the names of the published
    /// ThingPark decoder of the CMi4110: `energy`, `forwardTemperature`...).
    pub fn field(self) -> &'static str {
        match self {
            Quantity::Energy(_) => "energy",
            Quantity::Volume => "volume",
            Quantity::Power => "power",
            Quantity::Flow => "flow",
            Quantity::FlowTemperature => "forwardTemperature",
            Quantity::ReturnTemperature => "returnTemperature",
            Quantity::DateTime => "dateTime",
            Quantity::MeterId => "meterId",
            Quantity::ErrorFlags => "errorFlags",
        }
    }
}

/// A record's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `mantissa × 10^exponent` in the quantity's meterhub unit.
    Number {
        /// Integer mantissa (BCD or binary, signed).
        mantissa: i64,
        /// Decimal exponent.
        exponent: i32,
    },
    /// A date and time.
    DateTime(MeterDateTime),
    /// Digits of an identification number, leading zeros kept.
    Digits(String),
    /// A bit field (error flags).
    Bits(u64),
}

impl Value {
    /// The exact decimal of a number (`None` for other values, or a
    /// mantissa and exponent a [`Decimal`] cannot hold).
    pub fn decimal(&self) -> Option<Decimal> {
        let Value::Number { mantissa, exponent } = *self else { return None };
        let d = if exponent >= 0 {
            let factor = 10i128.checked_pow(exponent.unsigned_abs())?;
            Decimal::try_from_i128_with_scale(i128::from(mantissa).checked_mul(factor)?, 0).ok()?
        } else {
            Decimal::try_from_i128_with_scale(i128::from(mantissa), exponent.unsigned_abs()).ok()?
        };
        Some(d.normalize())
    }
}

/// One data record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Offset of its DIF in the payload.
    pub offset: usize,
    /// Its function field.
    pub function: Function,
    /// Its storage number (0: current value).
    pub storage: u64,
    /// Its tariff (0: total).
    pub tariff: u32,
    /// Its subunit.
    pub subunit: u32,
    /// Its quantity.
    pub quantity: Quantity,
    /// Its value.
    pub value: Value,
}

/// How the data field is coded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    /// Signed binary integer of this many bytes (type B).
    Int(usize),
    /// BCD of this many bytes, two digits a byte (type A).
    Bcd(usize),
}

fn coding(data_field: u8) -> Result<Coding, &'static str> {
    Ok(match data_field {
        0x1 => Coding::Int(1),
        0x2 => Coding::Int(2),
        0x3 => Coding::Int(3),
        0x4 => Coding::Int(4),
        0x6 => Coding::Int(6),
        0x7 => Coding::Int(8),
        0x9 => Coding::Bcd(1),
        0xA => Coding::Bcd(2),
        0xB => Coding::Bcd(3),
        0xC => Coding::Bcd(4),
        0xE => Coding::Bcd(6),
        0x0 => return Err("no data"),
        0x5 => return Err("32-bit real"),
        0x8 => return Err("selection for readout"),
        0xD => return Err("variable length"),
        _ => return Err("special function"),
    })
}

/// The quantity and exponent of a VIF (with its VIFE for `FB`/`FD`), and
/// how many VIF bytes it took; the error names what is not decoded.
fn quantity(r: &Reader<'_>, at: usize) -> Result<(Quantity, i32, usize), DecodeError> {
    let vif = r.u8(at, "VIF")?;
    let n = i32::from(vif & 0x07);
    let primary = |q: Quantity, exponent: i32| Ok((q, exponent, 1));
    match vif {
        0x00..=0x07 => primary(Quantity::Energy(EnergyUnit::KWh), n - 6),
        0x08..=0x0F => primary(Quantity::Energy(EnergyUnit::GJ), n - 9),
        0x10..=0x17 => primary(Quantity::Volume, n - 6),
        0x28..=0x2F => primary(Quantity::Power, n - 6),
        0x38..=0x3F => primary(Quantity::Flow, n - 6),
        0x58..=0x5B => primary(Quantity::FlowTemperature, (n & 3) - 3),
        0x5C..=0x5F => primary(Quantity::ReturnTemperature, (n & 3) - 3),
        0x6D => primary(Quantity::DateTime, 0),
        0x78 => primary(Quantity::MeterId, 0),
        0xFB | 0xFD => {
            let vife = r.u8(at + 1, "VIFE")?;
            let found = match (vif, vife) {
                (0xFB, 0x00 | 0x01) => Some((Quantity::Energy(EnergyUnit::KWh), i32::from(vife) + 2)),
                (0xFB, 0x08 | 0x09) => Some((Quantity::Energy(EnergyUnit::GJ), i32::from(vife & 1) - 1)),
                (0xFD, 0x17) => Some((Quantity::ErrorFlags, 0)),
                _ => None,
            };
            let (q, exponent) = found.ok_or_else(|| {
                r.error_at(
                    "VIFE",
                    at + 1,
                    format_args!("VIF {vif:02X} {vife:02X} is not a quantity this codec decodes"),
                )
            })?;
            Ok((q, exponent, 2))
        }
        _ if vif & 0x80 != 0 => Err(r.error_at(
            "VIF",
            at,
            format_args!("VIF {vif:02X} announces VIF extensions (VIFE), which this codec does not decode"),
        )),
        _ => Err(r.error_at("VIF", at, format_args!("VIF {vif:02X} is not a quantity this codec decodes"))),
    }
}

/// The records of `r` from byte `from` to the end.
pub fn records(r: &Reader<'_>, from: usize) -> Result<Vec<Record>, DecodeError> {
    let mut records = Vec::new();
    let mut at = from;
    while at < r.len() {
        let (record, next) = record(r, at)?;
        records.push(record);
        at = next;
    }
    Ok(records)
}

/// The record whose DIF is at `at`, and the offset after it.
fn record(r: &Reader<'_>, at: usize) -> Result<(Record, usize), DecodeError> {
    let start = at;
    let dif = r.u8(at, "DIF")?;
    match dif {
        0x0F | 0x1F => {
            return Err(r.error_at(
                "DIF",
                at,
                format_args!("DIF {dif:02X}: manufacturer specific data is not decoded"),
            ));
        }
        0x2F => return Err(r.error_at("DIF", at, "DIF 2F: idle filler is not expected in a CMi4110 message")),
        _ => {}
    }
    let coding = coding(dif & 0x0F).map_err(|what| {
        r.error_at("DIF", at, format_args!("DIF {dif:02X}: data field {:X} ({what}) is not decoded", dif & 0x0F))
    })?;
    let function = match (dif >> 4) & 0x3 {
        0 => Function::Instantaneous,
        1 => Function::Maximum,
        2 => Function::Minimum,
        _ => Function::ErrorState,
    };
    let mut storage = u64::from((dif >> 6) & 1);
    let (mut tariff, mut subunit) = (0u32, 0u32);
    let mut more = dif & 0x80 != 0;
    let mut at = at + 1;
    let mut n = 0;
    while more {
        if n == 10 {
            return Err(r.error_at("DIFE", at, "more than 10 DIFEs in one record"));
        }
        let dife = r.u8(at, "DIFE")?;
        storage |= u64::from(dife & 0x0F) << (1 + 4 * n);
        tariff |= u32::from((dife >> 4) & 0x3) << (2 * n);
        subunit |= u32::from((dife >> 6) & 1) << n;
        more = dife & 0x80 != 0;
        at += 1;
        n += 1;
    }
    let (quantity, exponent, vif_len) = quantity(r, at)?;
    at += vif_len;
    let field = quantity.field();
    let (len, is_bcd) = match coding {
        Coding::Int(len) => (len, false),
        Coding::Bcd(len) => (len, true),
    };
    let data = r.slice(at, len, field)?;
    let value = match (quantity, coding) {
        (Quantity::DateTime, Coding::Int(4)) => {
            let bytes = [data[0], data[1], data[2], data[3]];
            let t = MeterDateTime::from_type_f(bytes);
            if !t.invalid
                && let Some(problem) = t.calendar_problem()
            {
                return Err(r.error_at(field, at, format_args!("meter date/time {}: {problem}", t.local_text())));
            }
            Value::DateTime(t)
        }
        (Quantity::DateTime, _) => {
            return Err(r.error_at(
                "DIF",
                start,
                format_args!("DIF {dif:02X}: date/time (type F) needs data field 4 (32-bit integer)"),
            ));
        }
        (Quantity::MeterId, Coding::Bcd(_)) => Value::Digits(bcd_digits(r, data, at, field)?),
        (Quantity::MeterId, Coding::Int(_)) => Value::Digits(unsigned(data).to_string()),
        (Quantity::ErrorFlags, Coding::Int(_)) => Value::Bits(unsigned(data)),
        (Quantity::ErrorFlags, Coding::Bcd(_)) => {
            return Err(r.error_at("DIF", start, format_args!("DIF {dif:02X}: error flags need binary data, not BCD")));
        }
        _ if is_bcd => Value::Number { mantissa: bcd(r, data, at, field)?, exponent },
        _ => Value::Number { mantissa: signed(data), exponent },
    };
    let record = Record { offset: start, function, storage, tariff, subunit, quantity, value };
    Ok((record, at + len))
}

/// Little-endian unsigned integer of up to 8 bytes.
fn unsigned(data: &[u8]) -> u64 {
    data.iter().rev().fold(0, |acc, &b| acc << 8 | u64::from(b))
}

/// Little-endian two's complement integer of 1 to 8 bytes.
fn signed(data: &[u8]) -> i64 {
    let bits = 8 * data.len() as u32;
    let v = unsigned(data);
    if bits < 64 && v & (1 << (bits - 1)) != 0 { (v | (u64::MAX << bits)) as i64 } else { v as i64 }
}

/// The BCD digits of `data` (least significant byte first), most
/// significant first; every nibble must be 0-9.
fn bcd_digits(r: &Reader<'_>, data: &[u8], at: usize, field: &str) -> Result<String, DecodeError> {
    let mut digits = String::with_capacity(2 * data.len());
    for (i, &b) in data.iter().enumerate().rev() {
        for nibble in [b >> 4, b & 0x0F] {
            if nibble > 9 {
                return Err(r.error_at(field, at + i, format_args!("byte {b:02X} is not BCD")));
            }
            digits.push(char::from(b'0' + nibble));
        }
    }
    Ok(digits)
}

/// A BCD number: a most significant nibble `F` makes it negative
/// (EN 13757-3 type A); every other nibble must be 0-9.
fn bcd(r: &Reader<'_>, data: &[u8], at: usize, field: &str) -> Result<i64, DecodeError> {
    let last = data.len() - 1;
    let negative = data[last] >> 4 == 0xF;
    let mut value: i64 = 0;
    for (i, &b) in data.iter().enumerate().rev() {
        let high = if i == last && negative { 0 } else { b >> 4 };
        for nibble in [high, b & 0x0F] {
            if nibble > 9 {
                return Err(r.error_at(field, at + i, format_args!("byte {b:02X} is not BCD")));
            }
            value = value * 10 + i64::from(nibble);
        }
    }
    Ok(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<Vec<Record>, String> {
        records(&Reader::new(bytes, "t"), 0).map_err(|e| e.reason)
    }

    fn one(bytes: &[u8]) -> Record {
        let mut all = parse(bytes).unwrap();
        assert_eq!(all.len(), 1);
        all.remove(0)
    }

    #[test]
    fn bcd_energy_volume_power_flow_temperatures() {
        let num = |bytes: &[u8]| one(bytes).value.decimal().unwrap().to_string();
        assert_eq!(num(&[0x0c, 0x06, 0x35, 0x41, 0x89, 0x00]), "894135");
        assert_eq!(num(&[0x0c, 0x07, 0x35, 0x41, 0x89, 0x00]), "8941350", "MWh with 2 decimals, in kWh");
        assert_eq!(num(&[0x0c, 0xfb, 0x01, 0x12, 0, 0, 0]), "12000", "12 MWh");
        assert_eq!(num(&[0x0c, 0x0e, 0x12, 0x34, 0, 0]), "3.412", "GJ with 3 decimals");
        assert_eq!(num(&[0x0c, 0xfb, 0x08, 0x12, 0, 0, 0]), "1.2", "GJ with 1 decimal");
        assert_eq!(num(&[0x0c, 0x14, 0x95, 0x15, 0x60, 0x02]), "26015.95");
        assert_eq!(num(&[0x0b, 0x2d, 0x24, 0x02, 0x00]), "22.4");
        assert_eq!(num(&[0x0b, 0x3b, 0x51, 0x06, 0x00]), "0.651");
        assert_eq!(num(&[0x0a, 0x5a, 0x07, 0x08]), "80.7");
        assert_eq!(num(&[0x0a, 0x5e, 0x07, 0x05]), "50.7");
        assert_eq!(num(&[0x0a, 0x5e, 0x07, 0xf0]), "-0.7", "negative BCD");
        assert_eq!(num(&[0x02, 0x5b, 0xfe, 0xff]), "-2", "signed binary");
        assert_eq!(num(&[0x04, 0x13, 0x10, 0x27, 0, 0]), "10", "binary litres");
        let r = one(&[0x0c, 0x06, 0x35, 0x41, 0x89, 0x00]);
        assert_eq!(
            (r.function, r.storage, r.tariff, r.subunit, r.quantity),
            (Function::Instantaneous, 0, 0, 0, Quantity::Energy(EnergyUnit::KWh))
        );
    }

    #[test]
    fn difes_carry_storage_tariff_subunit_and_functions() {
        // 8C 01 06: storage 2; 9B 01 3B: maximum flow, storage 2.
        let r = one(&[0x8c, 0x01, 0x06, 0x16, 0x58, 0x88, 0x00]);
        assert_eq!((r.storage, r.tariff, r.function), (2, 0, Function::Instantaneous));
        let r = one(&[0x9b, 0x01, 0x3b, 0x48, 0x06, 0x00]);
        assert_eq!(
            (r.storage, r.function, r.value.decimal().unwrap().to_string()),
            (2, Function::Maximum, "0.648".into())
        );
        // BC 10 06: tariff 1, error state; FC 20 06: storage 1, tariff 2, error state; 7C 06: storage 1.
        let r = one(&[0xbc, 0x10, 0x06, 0, 0, 0, 0]);
        assert_eq!((r.storage, r.tariff, r.function), (0, 1, Function::ErrorState));
        let r = one(&[0xfc, 0x20, 0x06, 0, 0, 0, 0]);
        assert_eq!((r.storage, r.tariff, r.function), (1, 2, Function::ErrorState));
        let r = one(&[0x7c, 0x06, 0, 0, 0, 0]);
        assert_eq!((r.storage, r.tariff, r.function), (1, 0, Function::ErrorState));
        let r = one(&[0x8c, 0xc0, 0x01, 0x06, 0, 0, 0, 0]);
        assert_eq!((r.storage, r.tariff, r.subunit), (32, 0, 1));
    }

    #[test]
    fn ids_flags_and_dates() {
        assert_eq!(one(&[0x0c, 0x78, 0x98, 0x97, 0x96, 0x70]).value, Value::Digits("70969798".into()));
        assert_eq!(one(&[0x0c, 0x78, 0x01, 0, 0, 0]).value, Value::Digits("00000001".into()));
        assert_eq!(one(&[0x04, 0x78, 0x01, 0x01, 0, 0]).value, Value::Digits("257".into()));
        assert_eq!(one(&[0x02, 0xfd, 0x17, 0x01, 0x80]).value, Value::Bits(0x8001));
        let Value::DateTime(t) = one(&[0x04, 0x6d, 0x39, 0x2b, 0x30, 0x3a]).value else { panic!() };
        assert_eq!(t.local_text(), "2025-10-16T11:57");
        let r = one(&[0x34, 0x6d, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(r.function, Function::ErrorState, "an invalid date/time is not checked as a calendar date");
    }

    #[test]
    fn what_is_not_decoded_is_an_error_naming_the_offset() {
        let e = |bytes: &[u8]| parse(bytes).unwrap_err();
        assert_eq!(e(&[0x0c]), "t: VIF at offset 1: needs 1 byte(s), the payload has 1");
        assert_eq!(e(&[0x0c, 0x06, 0x35]), "t: energy at offset 2: needs 4 byte(s), the payload has 3");
        assert_eq!(e(&[0x0c, 0x06, 0x3a, 0, 0, 0]), "t: energy at offset 2: byte 3A is not BCD");
        assert_eq!(
            e(&[0x05, 0x06, 0, 0, 0, 0]),
            "t: DIF at offset 0: DIF 05: data field 5 (32-bit real) is not decoded"
        );
        assert_eq!(e(&[0x0d, 0x06, 0]), "t: DIF at offset 0: DIF 0D: data field D (variable length) is not decoded");
        assert_eq!(e(&[0x0f, 1, 2]), "t: DIF at offset 0: DIF 0F: manufacturer specific data is not decoded");
        assert_eq!(e(&[0x04, 0x22, 0, 0, 0, 0]), "t: VIF at offset 1: VIF 22 is not a quantity this codec decodes");
        assert_eq!(
            e(&[0x04, 0x86, 0x3c, 0, 0, 0, 0]),
            "t: VIF at offset 1: VIF 86 announces VIF extensions (VIFE), which this codec does not decode"
        );
        assert_eq!(e(&[0x02, 0xfd, 0x18, 0, 0]), "t: VIFE at offset 2: VIF FD 18 is not a quantity this codec decodes");
        assert_eq!(e(&[0x02, 0xfd, 0x97, 0, 0]), "t: VIFE at offset 2: VIF FD 97 is not a quantity this codec decodes");
        assert_eq!(
            e(&[0x0c, 0x6d, 0, 0, 0, 0]),
            "t: DIF at offset 0: DIF 0C: date/time (type F) needs data field 4 (32-bit integer)"
        );
        assert_eq!(
            e(&[0x04, 0x6d, 0x00, 0x01, 0x21, 0x3d]),
            "t: dateTime at offset 2: meter date/time 2025-13-01T01:00: month 13 is not 1-12"
        );
        assert_eq!(e(&[0x0a, 0xfd, 0x17, 0, 0]), "t: DIF at offset 0: DIF 0A: error flags need binary data, not BCD");
        let mut many = vec![0x84];
        many.extend([0x80; 10]);
        many.extend([0x00, 0x06, 0, 0, 0, 0]);
        assert_eq!(e(&many), "t: DIFE at offset 11: more than 10 DIFEs in one record");
    }
}
