//! Vega M-BUS-1 / M-BUS-2 (wired M-Bus heat meters → LoRaWAN), fPort 2
//! (§2.3), byte 0 = type:
//! - 1 current values, 38 bytes: `1` battery · `2` settings · `3–6` meter
//!   serial · `7–10` time · `11–14` energy Wh · `15–18` volume L · `19–22`
//!   operating hours · `23–24` flow temperature u16 ÷100 · `25–26` return
//!   temperature ÷100 · `27–28` flow L/h u16 · `29–32` flow L/h u32 · power
//!   W (M-BUS-1: u16 at `33–34`; M-BUS-2: u32 at `33–36`) · `37` medium;
//! - 3 raw M-Bus answer chunk, ≥ 6 bytes: `1–2` total size · `3` chunk size
//!   · `4` chunk number · `5` chunk count · `6…` data (bytes);
//! - M-BUS-1 only: 4 external power (4 bytes: `3` state), 5 alarm (6 bytes:
//!   `3` input number, `4–5` input 1/2 states), 6 output change (5 bytes:
//!   `3` output, `4` state), each with `1` battery and `2` settings.
//!
//! The settings byte is read at the positions of `mbus1_v1.js` /
//! `mbus2_v1.js` (bit 0 ABP, bit 1 confirmed, bits 2–4 period, M-BUS-1: bits
//! 5–6 input 1–2 guard, bit 7 reserved), with the period code in the
//! manual's bit order (bit 2 least significant: 0 = 5 min … 6 = 24 h), not
//! the decoders' reversed order (§2.4). Field names follow those decoders
//! (`serial` on M-BUS-1, `serialNumber` on M-BUS-2).
//!
//! Readings (meter `<DEVEUI>`): `heat-energy` kWh, `volume` m³,
//! `operating-hours` h, `flow-temperature` / `return-temperature` °C,
//! `power` W.

use meterhub_plugin_api::{DecodeError, ReadingKind};
use serde_json::{Value, json};

use super::{closure, mbus_medium, module_qty, period};
use crate::bytes::Reader;
use crate::fields::{Out, Packet, type_byte, unknown_type, what};
use crate::models::Model;

fn settings(model: Model, byte: u8) -> Value {
    let mut v = json!({
        "typeActivation": if byte & 1 != 0 { "ABP" } else { "OTAA" },
        "ack": byte & 2 != 0,
        "connectPeriodMin": period((byte >> 2) & 7),
    });
    if model == Model::Mbus1
        && let Some(map) = v.as_object_mut()
    {
        map.insert("typeInput1".into(), Value::from(if byte & 0x20 != 0 { "security" } else { "unknown" }));
        map.insert("typeInput2".into(), Value::from(if byte & 0x40 != 0 { "security" } else { "unknown" }));
        map.insert("reserve".into(), Value::from(byte >> 7));
    }
    v
}

/// Decode an M-BUS-1 or M-BUS-2 data packet.
pub fn decode(model: Model, bytes: &[u8]) -> Result<Packet, DecodeError> {
    let one = model == Model::Mbus1;
    let ty = type_byte(model, 2, bytes)?;
    let (description, len, exact) = match (ty, one) {
        (1, _) => ("current values", 38, true),
        (3, _) => ("M-Bus data", 6, false),
        (4, true) => ("external power", 4, true),
        (5, true) => ("alarm", 6, true),
        (6, true) => ("output change", 5, true),
        _ => return Err(unknown_type(model, 2, ty, if one { &[1, 3, 4, 5, 6] } else { &[1, 3] })),
    };
    let what = what(model, 2, Some(ty), description);
    let r = Reader::new(bytes, &what);
    r.expect(len, exact)?;
    let mut out = Out::new();
    if ty == 3 {
        out.put("type", "mbusData").put("sizeData", r.u16(1, "total size")?);
        out.put("sizeDataPackage", r.u8(3, "chunk size")?).put("numPackage", r.u8(4, "chunk number")?);
        out.put("countPackage", r.u8(5, "chunk count")?);
        super::chunk_data(&r, &mut out, 6);
        return Ok(Packet::new(out));
    }
    let battery = r.u8_v(1, "battery")?;
    let settings = settings(model, r.u8(2, "settings")?);
    match ty {
        1 => current(model, &r, out, battery, settings),
        4 => {
            out.put("type", "externalPowerStatus").opt("chargePercent", battery).put("currentSettings", settings);
            out.put("externalPowerState", if r.u8(3, "power state")? == 1 { "on" } else { "off" });
            Ok(Packet::new(out).battery(battery))
        }
        5 => {
            out.put("type", "danger").opt("chargePercent", battery).put("currentSettings", settings);
            out.put("danger_input", r.u8(3, "input number")?);
            out.put("input1", closure(r.u8(4, "input 1")? != 0)).put("input2", closure(r.u8(5, "input 2")? != 0));
            Ok(Packet::new(out).battery(battery))
        }
        _ => {
            out.put("type", "changesOutputs").opt("chargePercent", battery).put("currentSettings", settings);
            out.put("change_output", r.u8(3, "output number")?);
            out.put("state_output", if r.u8(4, "output state")? != 0 { "on" } else { "off" });
            Ok(Packet::new(out).battery(battery))
        }
    }
}

fn current(
    model: Model,
    r: &Reader,
    mut out: Out,
    battery: Option<u8>,
    settings: Value,
) -> Result<Packet, DecodeError> {
    let serial = r.u32_v(3, "serial")?;
    let time = r.u32_v(7, "time")?;
    let energy = r.u32_v(11, "energy")?;
    let volume = r.u32_v(15, "volume")?;
    let hours = r.u32_v(19, "operating hours")?;
    let flow_t = r.u16_v(23, "flow temperature")?;
    let return_t = r.u16_v(25, "return temperature")?;
    let power = if model == Model::Mbus1 { r.u16_v(33, "power")?.map(u32::from) } else { r.u32_v(33, "power")? };
    out.put("type", "currentValues").opt("chargePercent", battery).put("currentSettings", settings);
    out.opt(if model == Model::Mbus1 { "serial" } else { "serialNumber" }, serial).device_time(time);
    out.opt("energyConsumedWh", energy).opt("totalVolumeCoolantL", volume).opt("operatingTimeH", hours);
    out.scaled("temperatureFlow", flow_t.map(i128::from), 2);
    out.scaled("temperatureReturnLine", return_t.map(i128::from), 2);
    out.opt("currentFlowCoolantLH16", r.u16_v(27, "flow")?).opt("currentFlowCoolantLH32", r.u32_v(29, "flow")?);
    out.opt("powerW", power).put("environment", mbus_medium(r.u8(37, "medium")?));
    let (cum, inst) = (ReadingKind::Cumulative, ReadingKind::Instantaneous);
    let values: [super::Row; 6] = [
        ("heat-energy", energy.map(i128::from), 3, "kWh", cum),
        ("volume", volume.map(i128::from), 3, "m3", cum),
        ("operating-hours", hours.map(i128::from), 0, "h", cum),
        ("flow-temperature", flow_t.map(i128::from), 2, "degC", inst),
        ("return-temperature", return_t.map(i128::from), 2, "degC", inst),
        ("power", power.map(i128::from), 0, "W", inst),
    ];
    let measures = values
        .into_iter()
        .filter_map(|(channel, raw, scale, unit, kind)| raw.map(|raw| module_qty(channel, raw, scale, unit, kind)))
        .collect();
    Ok(Packet::new(out).at(time).battery(battery).measures(measures))
}
