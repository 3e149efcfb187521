//! fPort 3: the settings packet, common to every Vega model (§2.2).
//!
//! Byte 0 = `00`, then TLV items: u16 LE parameter id, u8 length, value.
//! Output as the vendor decoders do: `type` = `settings`, `settings` = an
//! object keyed by the id (as text), each item `{id, length, rawValue:
//! [bytes], name, value}`; an id this codec does not know has no `name`
//! and `value`, and a known id with a value out of its range has `value`
//! `"notValidValue"`. One table serves every model: the union of the
//! vendor decoders' parameter lists (they agree where they overlap).
//!
//! Strict: a truncated item, a value running past the end, or a known id
//! with fewer value bytes than it needs is a [`DecodeError`].

use meterhub_plugin_api::DecodeError;
use serde_json::{Map, Value, json};

use crate::bytes::Reader;
use crate::fields::{Out, Packet, scaled_number, type_byte, unknown_type, what};
use crate::models::Model;

/// How a parameter's value is read.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// u8 code → fixed value; other codes `notValidValue`.
    Codes(&'static [(u8, Code)]),
    /// u8 code → value, other codes leave the item unnamed (id 3).
    CodesOrNothing(&'static [(u8, Code)]),
    /// u8 within a range.
    U8Range(u8, u8),
    /// u8, any value.
    U8,
    /// i8 within a range.
    I8Range(i8, i8),
    /// u16 within a range.
    U16Range(u16, u16),
    /// u16, any value.
    U16,
    /// u16 within a range, shown ÷100.
    U16Hundredths(u16, u16),
    /// i16 within a range.
    I16Range(i16, i16),
    /// u32, any value.
    U32,
    /// u32 shown ÷100.
    U32Hundredths,
    /// SPbZIP collection period: u8 period, u8 weekday.
    Collection,
}

/// A decoded code: a number or a text.
#[derive(Debug, Clone, Copy)]
enum Code {
    N(u32),
    T(&'static str),
}

use Code::{N, T};

const PERIOD: &[(u8, Code)] = &[(1, N(60)), (2, N(360)), (3, N(720)), (4, N(1440)), (5, N(5)), (6, N(15)), (7, N(30))];
const PERIOD_MOVEMENT: &[(u8, Code)] =
    &[(1, N(60)), (2, N(360)), (3, N(720)), (4, N(1440)), (5, N(5)), (6, N(15)), (7, N(30)), (8, N(1))];
const INPUT_MODE: &[(u8, Code)] = &[(1, T("pulse")), (2, T("guard"))];
const ON_OPENING: &[(u8, Code)] = &[(1, T("onClose")), (2, T("onOpen")), (3, T("onCloseAndOnOpen")), (4, T("never"))];
const DISABLE_ENABLE: &[(u8, Code)] = &[(0, T("disable")), (1, T("enable"))];
const MBUS_SPEED: &[(u8, Code)] =
    &[(1, N(300)), (2, N(600)), (3, N(1200)), (4, N(2400)), (5, N(4800)), (6, N(9600)), (7, N(19200)), (8, N(38400))];
const MBUS_DEVICE: &[(u8, Code)] = &[
    (0, T("notSet")),
    (1, T("teplouchet1")),
    (2, T("ste21Berill")),
    (3, T("danfossSonometer500")),
    (4, T("elfM")),
    (5, T("weser")),
    (6, T("multical801")),
    (7, T("multical402")),
    (8, T("lamdisGyrCommon")),
    (9, T("sharky775")),
    (10, T("pulsar")),
    (11, T("sonosafe10")),
    (12, T("calecSt11")),
    (13, T("abb")),
    (14, T("sensonic11")),
    (15, T("calecSt11v2")),
    (16, T("zennerMultidataWr3")),
    (17, T("pulseStk15")),
    (18, T("hitermPutm1")),
];
const INTERFACE_SPEED: &[(u8, Code)] = &[
    (1, N(4800)),
    (2, N(9600)),
    (3, N(14400)),
    (4, N(19200)),
    (5, N(38400)),
    (6, N(57600)),
    (7, N(115200)),
    (8, N(300)),
    (9, N(600)),
    (10, N(1200)),
    (11, N(2400)),
];

/// The parameter table: id, name, how to read it.
const PARAMETERS: &[(u16, &str, Kind)] = &[
    (3, "typeActivation", Kind::CodesOrNothing(&[(1, T("OTAA")), (2, T("ABP"))])),
    (4, "confirmedUplinks", Kind::Codes(&[(1, T("confirmed")), (2, T("unconfirmed"))])),
    (5, "adr", Kind::Codes(&[(1, T("enable")), (2, T("disable"))])),
    (8, "countsUplinks", Kind::U8Range(1, 15)),
    (12, "input1Mode", Kind::Codes(INPUT_MODE)),
    (13, "input2Mode", Kind::Codes(INPUT_MODE)),
    (14, "input3Mode", Kind::Codes(INPUT_MODE)),
    (15, "input4Mode", Kind::Codes(INPUT_MODE)),
    (16, "communicationPeriodMin", Kind::Codes(PERIOD)),
    (20, "interfaceSpeed", Kind::Codes(INTERFACE_SPEED)),
    (21, "responseTimeout", Kind::U16),
    (32, "mbusInterfaceSpeed", Kind::Codes(MBUS_SPEED)),
    (33, "externalMbusDeviceType", Kind::Codes(MBUS_DEVICE)),
    (34, "dataBitsCount", Kind::Codes(&[(1, N(7)), (2, N(8))])),
    (35, "stopBitsCount", Kind::Codes(&[(1, N(1)), (2, N(2))])),
    (37, "parity", Kind::Codes(&[(1, T("none")), (2, T("even")), (3, T("odd"))])),
    (38, "sendAlarmMessageOnOpeningSensor1", Kind::Codes(ON_OPENING)),
    (39, "sendAlarmMessageOnOpeningSensor2", Kind::Codes(ON_OPENING)),
    (43, "autoArmingTimeout", Kind::U8),
    (44, "motionSensibility", Kind::Codes(&[(1, T("low")), (2, T("middle")), (3, T("high"))])),
    (46, "dataCollectionPeriodMin", Kind::Codes(PERIOD)),
    (48, "tpHeatTimeS", Kind::U8Range(1, 255)),
    (49, "dataCollectionPeriodMin", Kind::Codes(PERIOD)),
    (50, "meterInfoCollectionPeriod", Kind::Collection),
    (52, "energyConsumptionCollectionPeriod", Kind::Collection),
    (54, "password", Kind::U32),
    (55, "timeZoneMin", Kind::I16Range(-720, 840)),
    (56, "initialConsumption", Kind::U32Hundredths),
    (62, "collectionPeriodMovementMin", Kind::Codes(PERIOD_MOVEMENT)),
    (63, "transmissionPeriodMovementMin", Kind::Codes(PERIOD_MOVEMENT)),
    (71, "generateAlarmStartMovement", Kind::Codes(&[(0, T("doNotGenerate")), (1, T("generate"))])),
    (78, "collectionPeriodTemperatureOutOfRange", Kind::Codes(PERIOD)),
    (79, "sendAlarmMessageOnParametersOutOfRange", Kind::Codes(DISABLE_ENABLE)),
    (80, "lowTemperature", Kind::I8Range(-40, 85)),
    (81, "highTemperature", Kind::I8Range(-40, 85)),
    (85, "lowCurrentLimit", Kind::U16Hundredths(200, 2500)),
    (86, "highCurrentLimit", Kind::U16Hundredths(200, 2500)),
    (88, "lowHumidityPercent", Kind::U8Range(0, 100)),
    (89, "highHumidityPercent", Kind::U8Range(0, 100)),
    (115, "lowNoisedB", Kind::U8Range(40, 110)),
    (116, "highNoisedB", Kind::U8Range(40, 110)),
    (117, "lowLightLux", Kind::U16Range(0, 10000)),
    (118, "highLightLux", Kind::U16Range(0, 10000)),
    (119, "lowCO2ppm", Kind::U16Range(0, 40000)),
    (120, "highCO2ppm", Kind::U16Range(0, 40000)),
    (124, "sendUplinkOnAutoArming", Kind::Codes(DISABLE_ENABLE)),
    (126, "meterTransmissionPeriodDays", Kind::U8),
];

const NOT_VALID: &str = "notValidValue";

fn code_value(code: Code) -> Value {
    match code {
        N(n) => Value::from(n),
        T(t) => Value::from(t),
    }
}

fn lookup(codes: &[(u8, Code)], raw: u8) -> Option<Value> {
    codes.iter().find(|(c, _)| *c == raw).map(|(_, v)| code_value(*v))
}

fn in_range<T: PartialOrd + Into<Value>>(v: T, lo: T, hi: T) -> Value {
    if v >= lo && v <= hi { v.into() } else { Value::from(NOT_VALID) }
}

impl Kind {
    /// Value bytes the parameter needs.
    fn needs(self) -> usize {
        match self {
            Kind::Codes(_) | Kind::CodesOrNothing(_) | Kind::U8Range(..) | Kind::U8 | Kind::I8Range(..) => 1,
            Kind::U16Range(..) | Kind::U16 | Kind::U16Hundredths(..) | Kind::I16Range(..) | Kind::Collection => 2,
            Kind::U32 | Kind::U32Hundredths => 4,
        }
    }

    /// The decoded value; `None`: leave the item unnamed.
    fn value(self, r: &Reader) -> Result<Option<Value>, DecodeError> {
        let f = "value";
        Ok(Some(match self {
            Kind::Codes(codes) => lookup(codes, r.u8(0, f)?).unwrap_or_else(|| Value::from(NOT_VALID)),
            Kind::CodesOrNothing(codes) => return Ok(lookup(codes, r.u8(0, f)?)),
            Kind::U8Range(lo, hi) => in_range(r.u8(0, f)?, lo, hi),
            Kind::U8 => r.u8(0, f)?.into(),
            Kind::I8Range(lo, hi) => in_range(r.i8(0, f)?, lo, hi),
            Kind::U16Range(lo, hi) => in_range(r.u16(0, f)?, lo, hi),
            Kind::U16 => r.u16(0, f)?.into(),
            Kind::U16Hundredths(lo, hi) => {
                let v = r.u16(0, f)?;
                if (lo..=hi).contains(&v) { scaled_number(v.into(), 2) } else { Value::from(NOT_VALID) }
            }
            Kind::I16Range(lo, hi) => in_range(r.i16(0, f)?, lo, hi),
            Kind::U32 => r.u32(0, f)?.into(),
            Kind::U32Hundredths => scaled_number(r.u32(0, f)?.into(), 2),
            Kind::Collection => {
                let period = [
                    (0, T("unset")),
                    (1, T("1hour")),
                    (2, T("6hours")),
                    (3, T("12hours")),
                    (4, T("24hours")),
                    (5, T("1week")),
                    (6, T("1mounth")),
                ];
                let day = [
                    (0, T("unset")),
                    (1, T("Monday")),
                    (2, T("Tuesday")),
                    (3, T("Wednesday")),
                    (4, T("Thursday")),
                    (5, T("Friday")),
                    (6, T("Saturday")),
                    (7, T("Sunday")),
                ];
                let p = lookup(&period, r.u8(0, f)?).unwrap_or_else(|| Value::from(NOT_VALID));
                let d = lookup(&day, r.u8(1, f)?).unwrap_or_else(|| Value::from(NOT_VALID));
                json!({"period": p, "dayOfWeek": d})
            }
        }))
    }
}

/// Decode an fPort 3 packet of `model`.
pub fn decode(model: Model, bytes: &[u8]) -> Result<Packet, DecodeError> {
    let ty = type_byte(model, 3, bytes)?;
    if ty != 0 {
        return Err(unknown_type(model, 3, ty, &[0]));
    }
    let what = what(model, 3, Some(0), "settings");
    let r = Reader::new(bytes, &what);
    let mut settings = Map::new();
    let mut at = 1;
    while at < r.len() {
        let left = r.len() - at;
        if left < 3 {
            return Err(r.error(format!(
                "item at offset {at}: {left} byte(s) left, an item needs at least 3 (id u16, length u8)"
            )));
        }
        let id = r.u16(at, "id")?;
        let length = r.u8(at + 2, "length")?;
        let raw = r.slice(at + 3, usize::from(length), "value").map_err(|_| {
            r.error(format!(
                "setting {id} at offset {at}: length {length} runs past the end ({} byte(s) left)",
                left - 3
            ))
        })?;
        let mut item = Map::new();
        item.insert("id".into(), id.into());
        item.insert("length".into(), length.into());
        item.insert("rawValue".into(), raw.iter().map(|&b| Value::from(b)).collect());
        if let Some((_, name, kind)) = PARAMETERS.iter().find(|(pid, ..)| *pid == id) {
            if raw.len() < kind.needs() {
                return Err(r.error(format!(
                    "setting {id} ({name}) at offset {at}: length {length}, expected {}",
                    kind.needs()
                )));
            }
            let item_what = format!("{what}: setting {id} ({name})");
            if let Some(value) = kind.value(&Reader::new(raw, &item_what))? {
                item.insert("name".into(), Value::from(*name));
                item.insert("value".into(), value);
            }
        }
        settings.insert(id.to_string(), Value::Object(item));
        at += 3 + usize::from(length);
    }
    let mut out = Out::new();
    out.put("type", "settings").put("settings", settings);
    Ok(Packet::new(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_and_errors() {
        // id 55 = -60 min, id 999 unknown, id 16 code 9 invalid, id 3 code 7 unnamed.
        let p = decode(
            Model::Si11,
            &[0, 55, 0, 2, 0xc4, 0xff, 0xe7, 0x03, 1, 9, 16, 0, 1, 9, 3, 0, 1, 7, 56, 0, 4, 0x39, 0x30, 0, 0],
        )
        .unwrap();
        let s = &p.fields["settings"];
        assert_eq!(s["55"], json!({"id":55,"length":2,"rawValue":[196,255],"name":"timeZoneMin","value":-60}));
        assert_eq!(s["999"], json!({"id":999,"length":1,"rawValue":[9]}));
        assert_eq!(s["16"]["value"], "notValidValue");
        assert_eq!(s["3"], json!({"id":3,"length":1,"rawValue":[7]}));
        assert_eq!(s["56"]["value"], json!(123.45));
        assert_eq!(decode(Model::Si11, &[0]).unwrap().fields["settings"], json!({}));

        let e = decode(Model::Si12, &[0, 4, 0]).unwrap_err();
        assert_eq!(
            e.reason,
            "SI-12 fPort 3 type 0 (settings): item at offset 1: 2 byte(s) left, an item needs at least 3 (id u16, length u8)"
        );
        let e = decode(Model::Si12, &[0, 4, 0, 2, 1]).unwrap_err();
        assert_eq!(
            e.reason,
            "SI-12 fPort 3 type 0 (settings): setting 4 at offset 1: length 2 runs past the end (1 byte(s) left)"
        );
        let e = decode(Model::Si12, &[0, 55, 0, 1, 1]).unwrap_err();
        assert_eq!(
            e.reason,
            "SI-12 fPort 3 type 0 (settings): setting 55 (timeZoneMin) at offset 1: length 1, expected 2"
        );
        assert_eq!(decode(Model::Si12, &[1]).unwrap_err().reason, "SI-12 fPort 3: unknown type 1 (known: 0)");
    }
}
