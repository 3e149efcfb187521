//! Data packets (fPort 2, and SPbZIP fPort 5, SH-2 fPort 195), one file per
//! device family, plus the pieces they share: the "settings" bit field of
//! the SI family, input values, flags and measurement constructors.
//!
//! Every layout checks its exact length first (chunked types: a minimum),
//! then reads through [`Reader`], so no read can go out of bounds.

use meterhub_plugin_api::{DecodeError, ReadingKind};
use serde_json::Value;

use crate::bytes::Reader;
use crate::fields::{Measure, Meter, Out, Packet, Quantity};
use crate::models::Model;

pub mod betar;
pub mod gm2;
pub mod mbus;
pub mod sh2;
pub mod si11;
pub mod si12;
pub mod si13;
pub mod si22;
pub mod si23;
pub mod spbzip;
pub mod td11;
pub mod tp11;

/// Decode a data packet of `model` on `port` (never 3 or 4).
pub fn decode(model: Model, port: u8, bytes: &[u8]) -> Result<Packet, DecodeError> {
    match model {
        Model::Si11 | Model::Si21 => si11::decode_v1(model, bytes),
        Model::Si11V2 => si11::decode_v2(model, bytes),
        Model::Si12 | Model::Si12R => si12::decode(model, bytes),
        Model::Si13 | Model::Si13Rev2 => si13::decode(model, bytes),
        Model::Si22 => si22::decode(model, bytes),
        Model::Si23 => si23::decode(model, bytes),
        Model::Gm2 => gm2::decode(model, bytes),
        Model::Sgbm => betar::decode_sgbm(model, bytes),
        Model::Shve => betar::decode_shve(model, bytes),
        Model::Spbzip => spbzip::decode(model, port, bytes),
        Model::Mbus1 | Model::Mbus2 => mbus::decode(model, bytes),
        Model::Sh2 => sh2::decode(model, port, bytes),
        Model::Tp11 => tp11::decode(model, bytes),
        Model::Td11 => td11::decode(model, bytes),
    }
}

/// The vendors' value for a code or flag outside its table.
pub const NOT_VALID: &str = "notValidValue";

/// Communication period in minutes by 3-bit code, least significant bit
/// first, as the SI-11 manual (Rev 25/26) lists it: 0 = 5 min … 6 = 24 h.
pub const PERIOD_MIN: [u32; 7] = [5, 15, 30, 60, 360, 720, 1440];

/// The period of a 3-bit code (manual bit order); 7 is `notValidValue`.
pub fn period(code: u8) -> Value {
    PERIOD_MIN.get(usize::from(code)).map_or_else(|| Value::from(NOT_VALID), |&m| Value::from(m))
}

/// A guard input's state as the vendors print it.
pub fn closure(closed: bool) -> &'static str {
    if closed { "closure" } else { "unlocking" }
}

/// A 0/1 flag byte: `false`, `true`, else `notValidValue`.
pub fn flag(raw: u8) -> Value {
    match raw {
        0 => Value::Bool(false),
        1 => Value::Bool(true),
        _ => Value::from(NOT_VALID),
    }
}

/// How a model names the input modes in its settings bit field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKeys {
    /// `typeInput1` … (SI-11 v1/v2, SI-21).
    TypeInput,
    /// `input1Mode` … (SI-12, SI-12R).
    InputMode,
}

/// The "settings" bit field of SI-11 v1/v2, SI-21, SI-12, SI-12R: bit 0
/// activation (0 OTAA, 1 ABP), bits 1–3 communication period (bit 1 least
/// significant, the manual's order, for every model), bits 4–7 input 1–4
/// mode (0 pulse, 1 guard). Returns the `currentSettings` object and
/// which inputs are in guard mode.
pub fn si_settings(byte: u8, keys: InputKeys) -> (Value, [bool; 4]) {
    let guard = [byte & 0x10 != 0, byte & 0x20 != 0, byte & 0x40 != 0, byte & 0x80 != 0];
    let mut map = serde_json::Map::new();
    map.insert("typeActivation".into(), Value::from(if byte & 1 != 0 { "ABP" } else { "OTAA" }));
    map.insert("connectPeriodMin".into(), period((byte >> 1) & 7));
    for (i, g) in guard.iter().enumerate() {
        let key = match keys {
            InputKeys::TypeInput => format!("typeInput{}", i + 1),
            InputKeys::InputMode => format!("input{}Mode", i + 1),
        };
        map.insert(key, Value::from(if *g { "guard" } else { "pulse" }));
    }
    (Value::Object(map), guard)
}

/// One pulse/guard input: its field name, offset, and whether it is in
/// guard mode.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// Field name (`input1`, `input1State`, ...).
    pub name: &'a str,
    /// Offset of the u32.
    pub at: usize,
    /// In guard mode.
    pub guard: bool,
}

/// Inputs named `names`, u32 each, the first at `first`, back to back.
pub fn u32_inputs<const N: usize>(names: [&'static str; N], first: usize, guard: [bool; N]) -> [Input<'static>; N] {
    std::array::from_fn(|i| Input { name: names[i], at: first + 4 * i, guard: guard[i] })
}

/// Read u32 inputs 1…n. Fields: the count, or for a guard input
/// `closure`/`unlocking` when `show_guard` (as the vendor decoder does for
/// that packet), or `null` when all `FF`. Measures: pulses or guard state,
/// nothing for "no value".
pub fn inputs(r: &Reader, out: &mut Out, inputs: &[Input], show_guard: bool) -> Result<Vec<Measure>, DecodeError> {
    let mut measures = Vec::new();
    for (number, input) in (1u8..).zip(inputs) {
        let value = r.u32_v(input.at, input.name)?;
        match value {
            None => {
                out.put(input.name, Value::Null);
            }
            Some(v) if input.guard => {
                let closed = v != 0;
                if show_guard {
                    out.put(input.name, closure(closed));
                } else {
                    out.put(input.name, v);
                }
                measures.push(Measure::Guard { input: number, closed });
            }
            Some(v) => {
                out.put(input.name, v);
                measures.push(Measure::Pulses { input: number, count: v });
            }
        }
    }
    Ok(measures)
}

/// One optional quantity of a meter: channel, raw mantissa (`None`: no
/// value), scale, unit, kind.
pub type Row = (&'static str, Option<i128>, u32, &'static str, ReadingKind);

/// A quantity of the module (or of the one meter a modem serves).
pub fn module_qty(channel: &str, mantissa: i128, scale: u32, unit: &'static str, kind: ReadingKind) -> Measure {
    Measure::Quantity(Quantity { meter: Meter::Module, channel: channel.to_owned(), mantissa, scale, unit, kind })
}

/// A quantity of sub-meter `<DEVEUI>.<suffix>`.
pub fn sub_qty(
    suffix: &str,
    channel: &str,
    mantissa: i128,
    scale: u32,
    unit: &'static str,
    kind: ReadingKind,
) -> Measure {
    Measure::Quantity(Quantity {
        meter: Meter::Sub(suffix.to_owned()),
        channel: channel.to_owned(),
        mantissa,
        scale,
        unit,
        kind,
    })
}

/// The module temperature (°C, instantaneous) as a measure.
pub fn temperature(mantissa: i128, scale: u32) -> Measure {
    module_qty("temperature", mantissa, scale, "degC", ReadingKind::Instantaneous)
}

/// A 0/1 state of the module's meter as a measure; nothing for other values.
pub fn state(channel: &str, raw: u8) -> Option<Measure> {
    (raw <= 1).then(|| module_qty(channel, raw.into(), 0, "", ReadingKind::State))
}

/// The data of a chunked transfer (interface data, M-Bus, SCADA or Modbus
/// answers): `data`, the bytes from offset `data_at` in the order sent, as
/// an array of numbers, as the vendor's decoders give it.
pub fn chunk_data(r: &Reader, out: &mut Out, data_at: usize) {
    out.put("data", r.rest(data_at).to_vec());
}

/// The M-Bus medium names (EN 13757-3 table), as `mbus1_v1.js` prints them.
pub fn mbus_medium(code: u8) -> &'static str {
    const NAMES: [&str; 16] = [
        "other",
        "oil",
        "electricity",
        "gas",
        "heat",
        "stream",
        "hotWater",
        "water",
        "heatCostAllocator",
        "compressedAir",
        "CoolingLoadMeterOutlet",
        "CoolingLoadMeterInlet",
        "HeatInlet",
        "HeatCoolingLoadMeter",
        "BusSystem",
        "UnknownMedium",
    ];
    match code {
        0x00..=0x0f => NAMES.get(usize::from(code)).copied().unwrap_or("unknown"),
        0x10..=0x15 => "Reserved10to15",
        0x16 => "ColdWater",
        0x17 => "DualWater",
        0x18 => "Pressure",
        0x19 => "ADConverter",
        _ => "Reserved20toFF",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn period_bit_order_is_the_manuals() {
        // bits 1-3 = 0b110 -> code 6 -> 24 h (the vendor SI-12 screenshot, byte 1C).
        let (v, guard) = si_settings(0x1c, InputKeys::InputMode);
        assert_eq!(v["connectPeriodMin"], 1440);
        assert_eq!(guard, [true, false, false, false]);
        // code 1 (bit 1 set) is 15 min by the manual; the SI-11 decoder would say 360.
        assert_eq!(si_settings(0x02, InputKeys::TypeInput).0["connectPeriodMin"], 15);
        // code 4 (bit 3 set) is 6 h by the manual; the SI-11 decoder would say 15.
        assert_eq!(si_settings(0x08, InputKeys::TypeInput).0["connectPeriodMin"], 360);
        assert_eq!(si_settings(0x0e, InputKeys::TypeInput).0["connectPeriodMin"], "notValidValue");
        assert_eq!(si_settings(0xf1, InputKeys::TypeInput).0["typeInput4"], "guard");
        assert_eq!(si_settings(0xf1, InputKeys::TypeInput).0["typeActivation"], "ABP");
        assert_eq!(json!(mbus_medium(4)), json!("heat"));
        assert_eq!(mbus_medium(0x1a), "Reserved20toFF");
    }

    /// Chunk data was hex text; the vendor's decoders (`SPBZIP_v1.js`,
    /// `mbus1_v1.js`, `mbus2_v1.js`, `si23_v1.js`) give `bytes.slice(n)`,
    /// an array of byte values in the order sent.
    #[test]
    fn chunk_data_is_a_byte_array_as_the_vendor_gives_it() {
        let bytes = [3, 0, 1, 4, 1, 1, 0xde, 0xad];
        let mut out = Out::new();
        chunk_data(&Reader::new(&bytes, "test"), &mut out, 6);
        assert_eq!(out.map["data"], json!([0xde, 0xad]));
        let mut empty = Out::new();
        chunk_data(&Reader::new(&bytes[..6], "test"), &mut empty, 6);
        assert_eq!(empty.map["data"], json!([]));
    }
}
