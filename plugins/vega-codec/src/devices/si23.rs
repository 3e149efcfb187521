//! Vega SI-23 (2 inputs + RS-485 meter interface), fPort 2 (§2.3). Byte 0
//! is the reason, which also selects the layout:
//! - 0, 1, 2, 21, 22, 30, 208, 209 (schedule, guard input, input threshold,
//!   on request, external power off/on), 16 bytes: `1–4` time · `5`
//!   temperature i8 · `6–9` input 1 · `10–13` input 2 · `14` settings
//!   (bit 0 confirmed, bits 1–2 input 1–2 mode, bits 3–5 period code
//!   0–6 = 5/15/30/60/360/720/1440 min, bits 6–7 interface mode) · `15`
//!   battery;
//! - 7 electricity meter poll, 27 bytes: `1` meter type · `2–5` serial ·
//!   `6` poll ok · `7–10` time · `11–26` tariffs 1–4 u32 ÷100 kWh;
//! - 17 extended electricity, 39 bytes: as 7 to byte 10, then i16: `11–16`
//!   U a/b/c ÷100 V · `17–22` I a/b/c ÷1000 A · `23–24` total PF ÷10 ·
//!   `25–30` PF a/b/c ÷10 · `31–36` angles ÷10 · `37–38` frequency ÷100 Hz;
//! - 8 heat meter poll, 41 bytes: `1` meter type · `2–5` serial · `6–9`
//!   time · `10–17` energy u64 ÷10 Wh · `18–21` volume L · `22–25`
//!   operating hours · `26–29` supply/return temperature u16 ÷100 · `30–31`
//!   flow i16 · `32–35` flow u32 · `36–39` power W · `40` medium;
//! - 4 / 6 Modbus data, 5 / 13 transparent channel data (6 and 5 carry a
//!   time at `1–4`): setting number, total size, chunk size, chunk number,
//!   chunk count, (Modbus: start register i16), data (bytes);
//! - 9 / 11 no answer / link restored (7 bytes): setting number, meter
//!   type, serial; 10 / 12 the same for Modbus (2 bytes): setting number.
//!
//! Field names follow `si23_v1.js` (meter type names as it prints them).
//! Not reproduced (§2.4): its fPort 3 failure and its medium decoder's
//! undefined variable — the medium here uses the M-Bus table.

use meterhub_plugin_api::{DecodeError, ReadingKind};
use serde_json::json;

use super::{inputs, sub_qty, temperature, u32_inputs};
use crate::bytes::Reader;
use crate::fields::{Out, Packet, type_byte, unknown_type, what};
use crate::models::Model;

const KNOWN: [u8; 19] = [0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 17, 21, 22, 30, 208, 209];

fn reason(code: u8) -> Option<(&'static str, &'static str)> {
    Some(match code {
        0 => ("byTime", "schedule"),
        1 => ("bySecurityInput1Triggered", "guard input 1"),
        2 => ("bySecurityInput2Triggered", "guard input 2"),
        4 => ("byModBusRtuData", "Modbus data"),
        5 => ("byTransparentChannelData", "transparent channel data with time"),
        6 => ("byModBusRtuData", "Modbus data with time"),
        7 => ("byElectricityMeterPolling", "electricity meter poll"),
        8 => ("byHeatMeterPolling", "heat meter poll"),
        9 => ("byNoAnswerFromDevice", "no answer from meter"),
        10 => ("byNoAnswerFromModBusRequest", "no answer from Modbus device"),
        11 => ("byDeviceCommunicationRestored", "meter link restored"),
        12 => ("byDeviceCommunicationModBusRestored", "Modbus link restored"),
        13 => ("byTransparentChannelData", "transparent channel data"),
        17 => ("byElectricityMeterPollingExtended", "extended electricity meter poll"),
        21 => ("byInput1ThresholdExceeded", "input 1 threshold"),
        22 => ("byInput2ThresholdExceeded", "input 2 threshold"),
        30 => ("byRequest", "on request"),
        208 => ("byExternalPowerSwitchOff", "external power off"),
        209 => ("byExternalPowerSwitchOn", "external power on"),
        _ => return None,
    })
}

fn meter_type(code: u8) -> &'static str {
    match code {
        1 => "Энергомера 102М",
        2 => "Меркурий 206",
        3 => "Пульс СТК-15",
        4 => "Меркурий 234",
        5 => "Ленэнерго",
        6 => "Пульсар",
        _ => "unknown",
    }
}

/// The medium names as `si23_v1.js` means to print them: the M-Bus table
/// ([`super::mbus_medium`]) with an upper-case first letter.
fn medium(code: u8) -> String {
    let name = super::mbus_medium(code);
    let mut chars = name.chars();
    chars.next().map(|first| first.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
}

/// Decode an SI-23 data packet.
pub fn decode(model: Model, bytes: &[u8]) -> Result<Packet, DecodeError> {
    let code = type_byte(model, 2, bytes)?;
    let Some((reason, description)) = reason(code) else {
        return Err(unknown_type(model, 2, code, &KNOWN));
    };
    let what = what(model, 2, Some(code), description);
    let r = Reader::new(bytes, &what);
    let mut out = Out::new();
    out.put("reason", reason);
    match code {
        7 => {
            r.expect_len(27)?;
            electricity(&r, out)
        }
        17 => {
            r.expect_len(39)?;
            electricity_extended(&r, out)
        }
        8 => {
            r.expect_len(41)?;
            heat(&r, out)
        }
        4 | 5 | 6 | 13 => {
            // (time at 1-4?, then setting, sizes, (register?), data)
            let timed = matches!(code, 5 | 6);
            let modbus = matches!(code, 4 | 6);
            let head = if timed { 5 } else { 1 };
            let data_at = head + 6 + if modbus { 2 } else { 0 };
            r.expect_min_len(data_at)?;
            let time = if timed { r.u32_v(1, "time")? } else { None };
            if timed {
                out.device_time(time);
            }
            out.put("settingNumber", r.u8(head, "setting number")?);
            out.put("totalSize", r.u16(head + 1, "total size")?).put("packetSize", r.u8(head + 3, "chunk size")?);
            out.put("sequenceNumber", r.u8(head + 4, "chunk number")?);
            out.put("packetCount", r.u8(head + 5, "chunk count")?);
            if modbus {
                out.put("startRegisterAddr", r.i16(head + 6, "start register")?);
            }
            super::chunk_data(&r, &mut out, data_at);
            Ok(Packet::new(out).at(time))
        }
        9 | 11 => {
            r.expect_len(7)?;
            out.put("settingNumber", r.u8(1, "setting number")?).put("meterType", meter_type(r.u8(2, "meter type")?));
            out.opt("serial", r.u32_v(3, "serial")?);
            Ok(Packet::new(out))
        }
        10 | 12 => {
            r.expect_len(2)?;
            out.put("settingNumber", r.u8(1, "setting number")?);
            Ok(Packet::new(out))
        }
        _ => {
            r.expect_len(16)?;
            inputs_packet(&r, out)
        }
    }
}

/// The pulse-counter layout (reasons 0, 1, 2, 21, 22, 30, 208, 209).
fn inputs_packet(r: &Reader, mut out: Out) -> Result<Packet, DecodeError> {
    let time = r.u32_v(1, "time")?;
    let t = r.i8(5, "temperature")?;
    let byte = r.u8(14, "settings")?;
    let guard = [byte & 0x02 != 0, byte & 0x04 != 0];
    let period = super::PERIOD_MIN.get(usize::from((byte >> 3) & 7)).copied().unwrap_or(0);
    let interface = ["transparent", "metering", "modbus", "custom"].get(usize::from(byte >> 6)).copied();
    let battery = r.u8_v(15, "battery")?;
    out.device_time(time).put("temperature", t);
    let names = ["input1State", "input2State"];
    let mut measures = inputs(r, &mut out, &u32_inputs(names, 6, guard), false)?;
    measures.push(temperature(t.into(), 0));
    out.put(
        "settings",
        json!({
            "ack": byte & 1 != 0,
            "input1Mode": u8::from(guard[0]),
            "input2Mode": u8::from(guard[1]),
            "period": period,
            "interfaceMode": interface.unwrap_or("unknown"),
        }),
    );
    out.opt("chargePercent", battery);
    Ok(Packet::new(out).at(time).battery(battery).measures(measures))
}

/// Reason 7: electricity meter tariffs.
fn electricity(r: &Reader, mut out: Out) -> Result<Packet, DecodeError> {
    let serial = r.u32_v(2, "serial")?;
    let ok = r.u8(6, "poll result")? != 0;
    let time = r.u32_v(7, "time")?;
    out.put("meterType", meter_type(r.u8(1, "meter type")?)).opt("serialNumber", serial);
    out.put("isPollSuccess", ok).device_time(time);
    let mut measures = Vec::new();
    for (n, at) in (1..=4).zip([11, 15, 19, 23]) {
        let raw = r.u32_v(at, "tariff")?;
        out.scaled(&format!("tariff{n}Reading"), raw.map(i128::from), 2);
        if let (true, Some(serial), Some(raw)) = (ok, serial, raw) {
            let channel = format!("energy-t{n}");
            measures.push(sub_qty(&format!("meter-{serial}"), &channel, raw.into(), 2, "kWh", ReadingKind::Cumulative));
        }
    }
    Ok(Packet::new(out).at(time).measures(measures))
}

/// A field of reason 17: name, offset, scale, (reading channel, unit).
type ExtendedField = (&'static str, usize, u32, Option<(&'static str, &'static str)>);

/// Reason 17: electricity meter instant values.
fn electricity_extended(r: &Reader, mut out: Out) -> Result<Packet, DecodeError> {
    let serial = r.u32_v(2, "serial")?;
    let ok = r.u8(6, "poll result")? != 0;
    let time = r.u32_v(7, "time")?;
    out.put("meterType", meter_type(r.u8(1, "meter type")?)).opt("serial", serial);
    out.put("isPollSuccess", ok).device_time(time);
    let mut measures = Vec::new();
    let fields: [ExtendedField; 14] = [
        ("phaseAVoltage", 11, 2, Some(("voltage-a", "V"))),
        ("phaseBVoltage", 13, 2, Some(("voltage-b", "V"))),
        ("phaseCVoltage", 15, 2, Some(("voltage-c", "V"))),
        ("phaseACurrent", 17, 3, Some(("current-a", "A"))),
        ("phaseBCurrent", 19, 3, Some(("current-b", "A"))),
        ("phaseCCurrent", 21, 3, Some(("current-c", "A"))),
        ("phasePowerFactorSum", 23, 1, None),
        ("phaseAPowerFactor", 25, 1, None),
        ("phaseBPowerFactor", 27, 1, None),
        ("phaseCPowerFactor", 29, 1, None),
        ("phaseAAngle", 31, 1, None),
        ("phaseBAngle", 33, 1, None),
        ("phaseCAngle", 35, 1, None),
        ("frequency", 37, 2, Some(("frequency", "Hz"))),
    ];
    for (name, at, scale, reading) in fields {
        let raw = r.i16(at, name)?;
        out.scaled(name, Some(raw.into()), scale);
        if let (true, Some(serial), Some((channel, unit))) = (ok, serial, reading) {
            let suffix = format!("meter-{serial}");
            measures.push(sub_qty(&suffix, channel, raw.into(), scale, unit, ReadingKind::Instantaneous));
        }
    }
    Ok(Packet::new(out).at(time).measures(measures))
}

/// Reason 8: heat meter.
fn heat(r: &Reader, mut out: Out) -> Result<Packet, DecodeError> {
    let serial = r.u32_v(2, "serial")?;
    let time = r.u32_v(6, "time")?;
    let energy = r.u64_v(10, "energy")?;
    let volume = r.u32_v(18, "volume")?;
    let hours = r.u32_v(22, "operating time")?;
    let supply = r.u16_v(26, "supply temperature")?;
    let ret = r.u16_v(28, "return temperature")?;
    let power = r.u32_v(36, "power")?;
    out.put("meterType", meter_type(r.u8(1, "meter type")?)).opt("serial", serial).device_time(time);
    out.scaled("energyConsumed", energy.map(i128::from), 1).opt("totalVolumeCoolant", volume);
    out.opt("operatingTime", hours);
    out.scaled("temperatureSupply", supply.map(i128::from), 2);
    out.scaled("temperatureReturn", ret.map(i128::from), 2);
    out.put("currentFlowCoolant", r.i16(30, "flow")?).opt("currentFlowCoolant32", r.u32_v(32, "flow")?);
    out.opt("power", power).put("environment", medium(r.u8(40, "medium")?));
    let mut measures = Vec::new();
    if let Some(serial) = serial {
        let suffix = format!("meter-{serial}");
        let (cum, inst) = (ReadingKind::Cumulative, ReadingKind::Instantaneous);
        let values: [super::Row; 6] = [
            // energy: raw = Wh × 10, so kWh = raw ÷ 10 000
            ("heat-energy", energy.map(i128::from), 4, "kWh", cum),
            ("volume", volume.map(i128::from), 3, "m3", cum),
            ("operating-hours", hours.map(i128::from), 0, "h", cum),
            ("flow-temperature", supply.map(i128::from), 2, "degC", inst),
            ("return-temperature", ret.map(i128::from), 2, "degC", inst),
            ("power", power.map(i128::from), 0, "W", inst),
        ];
        for (channel, raw, scale, unit, kind) in values {
            if let Some(raw) = raw {
                measures.push(sub_qty(&suffix, channel, raw, scale, unit, kind));
            }
        }
    }
    Ok(Packet::new(out).at(time).measures(measures))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_reason_has_a_name() {
        for code in KNOWN {
            assert!(reason(code).is_some(), "{code}");
        }
        assert_eq!(medium(4), "Heat");
    }
}
