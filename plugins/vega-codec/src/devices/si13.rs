//! Vega SI-13 (2 pulse inputs + RS-485, reads Mercury meters), fPort 2
//! (§2.3; only the vendor's 2019 IotVegaLora2MQTT parser documents it, so
//! the field names are ours, in the style of the other models). Two
//! generations: the old one (AppEUI `…vegasi13`) and rev2 (AppEUI
//! `3032676173693133`), which adds times. Byte 0 = type:
//! - 1 current values, 16 bytes: `2` settings · rev2: `3–6` time ·
//!   `7` temperature i8 · `8–11` input 1 · `12–15` input 2;
//! - 2 alarm, 12 bytes (rev2 16): `2` settings · `3` input number ·
//!   `4–7` input 1 · `8–11` input 2 · rev2: `12–15` time;
//! - 3 interface data chunk, ≥ 6 bytes: `1–2` total size · `3` chunk size ·
//!   `4` chunk number · `5` chunk count · `6…` data (bytes);
//! - 4 Mercury meter readings, 22 bytes (rev2 26): `1–4` meter address ·
//!   `5` poll ok · `6–21` tariffs 1–4 u32 ÷1000 kWh · rev2: `22–25` time;
//! - 5 command confirmation, 3 bytes: `1` command code · `2` result (1 ok);
//! - 6 (rev2) Modbus data, ≥ 5 bytes: `1–4` time · `5…` data (bytes);
//! - 255 time, 5 bytes (as fPort 4).
//!
//! Chunk data is an array of byte values, as the other models' decoders
//! give it (the 2019 parser printed it as hex text).
//!
//! The settings byte differs from the SI-11 one: bit 0 ABP, bit 1 confirmed
//! uplinks, bits 2–3 period (bit 2 least significant: 1, 6, 12, 24 h), bits
//! 4–5 input 1–2 mode. Byte 1 is not documented and not decoded.

use meterhub_plugin_api::{DecodeError, ReadingKind};
use serde_json::{Value, json};

use super::{inputs, sub_qty, temperature, u32_inputs};
use crate::bytes::Reader;
use crate::fields::{Out, Packet, type_byte, unknown_type, what};
use crate::models::Model;
use crate::time_packet;

const NAMES: [&str; 2] = ["input1", "input2"];

/// The SI-13 settings byte; returns `currentSettings` and the guard inputs.
fn settings(byte: u8) -> (Value, [bool; 2]) {
    let guard = [byte & 0x10 != 0, byte & 0x20 != 0];
    let period = [60, 360, 720, 1440].get(usize::from((byte >> 2) & 3)).copied().unwrap_or(0);
    let mode = |g: bool| if g { "guard" } else { "pulse" };
    let value = json!({
        "typeActivation": if byte & 1 != 0 { "ABP" } else { "OTAA" },
        "confirmedUplinks": if byte & 2 != 0 { "confirmed" } else { "unconfirmed" },
        "connectPeriodMin": period,
        "input1Mode": mode(guard[0]),
        "input2Mode": mode(guard[1]),
    });
    (value, guard)
}

/// Decode a data packet of SI-13 (old) or SI-13rev2.
pub fn decode(model: Model, bytes: &[u8]) -> Result<Packet, DecodeError> {
    let rev2 = model == Model::Si13Rev2;
    let ty = type_byte(model, 2, bytes)?;
    let (description, len, exact) = match (ty, rev2) {
        (1, _) => ("current values", 16, true),
        (2, false) => ("alarm", 12, true),
        (2, true) => ("alarm", 16, true),
        (3, _) => ("interface data", 6, false),
        (4, false) => ("Mercury meter readings", 22, true),
        (4, true) => ("Mercury meter readings", 26, true),
        (5, _) => ("command confirmation", 3, true),
        (6, true) => ("Modbus data", 5, false),
        (255, _) => return time_packet::decode_time(model, 2, bytes),
        _ => {
            return Err(unknown_type(
                model,
                2,
                ty,
                if rev2 { &[1, 2, 3, 4, 5, 6, 255] } else { &[1, 2, 3, 4, 5, 255] },
            ));
        }
    };
    let what = what(model, 2, Some(ty), description);
    let r = Reader::new(bytes, &what);
    r.expect(len, exact)?;
    let mut out = Out::new();
    let mut measures = Vec::new();
    let mut time = None;
    match ty {
        1 => {
            let (settings, guard) = settings(r.u8(2, "settings")?);
            out.put("type", "currentValues").put("currentSettings", settings);
            if rev2 {
                time = r.u32_v(3, "time")?;
                out.device_time(time);
            }
            let t = r.i8(7, "temperature")?;
            out.put("temperature", t);
            measures = inputs(&r, &mut out, &u32_inputs(NAMES, 8, guard), true)?;
            measures.push(temperature(t.into(), 0));
        }
        2 => {
            let (settings, guard) = settings(r.u8(2, "settings")?);
            out.put("type", "danger").put("currentSettings", settings);
            out.put("dangerInputNumber", r.u8(3, "input number")?);
            measures = inputs(&r, &mut out, &u32_inputs(NAMES, 4, guard), true)?;
            if rev2 {
                time = r.u32_v(12, "time")?;
                out.device_time(time);
            }
        }
        3 => {
            out.put("type", "interfaceData").put("dataSize", r.u16(1, "total size")?);
            out.put("packetSize", r.u8(3, "chunk size")?).put("packetNumber", r.u8(4, "chunk number")?);
            out.put("packetsNumber", r.u8(5, "chunk count")?);
            super::chunk_data(&r, &mut out, 6);
        }
        4 => {
            let address = r.u32_v(1, "meter address")?;
            let ok = r.u8(5, "poll result")? != 0;
            out.put("type", "mercuryReadings").opt("address", address).put("isPollSuccess", ok);
            for (n, at) in (1..=4).zip([6, 10, 14, 18]) {
                let raw = r.u32_v(at, "tariff")?;
                out.scaled(&format!("tariff{n}Reading"), raw.map(i128::from), 3);
                if let (true, Some(address), Some(raw)) = (ok, address, raw) {
                    let suffix = format!("meter-{address}");
                    let channel = format!("energy-t{n}");
                    measures.push(sub_qty(&suffix, &channel, raw.into(), 3, "kWh", ReadingKind::Cumulative));
                }
            }
            if rev2 {
                time = r.u32_v(22, "time")?;
                out.device_time(time);
            }
        }
        5 => {
            out.put("type", "commandConfirmation").put("commandCode", r.u8(1, "command code")?);
            out.put("result", if r.u8(2, "result")? == 1 { "success" } else { "error" });
        }
        _ => {
            time = r.u32_v(1, "time")?;
            out.put("type", "modbusData").device_time(time);
            super::chunk_data(&r, &mut out, 5);
        }
    }
    Ok(Packet::new(out).at(time).measures(measures))
}
