//! Betar-Vega household meters with an integrated Vega LoRaWAN module,
//! fPort 2 (§2.3):
//!
//! SGBM-1.6 gas meter, 12 bytes: `0` type (1 current values, 3 magnetic
//! field detected, 4 no response from metering module, 5 module error) ·
//! `1` battery · `2–5` time · `6` temperature i8 · `7–10` reading u32
//! ÷1000 m³ · `11` module reboot count. Readings: `volume` for types 1 and
//! 3 (types 4 and 5 say the reading may be stale), module `temperature`.
//!
//! SHVE / SGVE water meter, 15 bytes: `0` type = 1 · `1` battery · `2`
//! temperature i8 · `3` magnetic field flag · `4` indicator locked flag ·
//! `5–8` time · `9` leak flag · `10` breakthrough flag · `11–14` reading
//! u32 ÷10000 m³. The temperature is the manual's i8 at byte 2, not the
//! vendor decoder's i16 over bytes 2–3 (§2.4), so it stays right when the
//! magnet flag is set. Readings: `volume`, states `magnet`, `leak`,
//! `breakthrough`, module `temperature`.
//!
//! Field names follow `betar_sgbm_v1.js` and `betar_shve_v1.js`.

use meterhub_plugin_api::{DecodeError, ReadingKind};

use super::{flag, module_qty, state, temperature};
use crate::bytes::Reader;
use crate::fields::{Out, Packet, type_byte, unknown_type, what};
use crate::models::Model;

/// Decode an SGBM-1.6 data packet.
pub fn decode_sgbm(model: Model, bytes: &[u8]) -> Result<Packet, DecodeError> {
    let ty = type_byte(model, 2, bytes)?;
    let (name, description) = match ty {
        1 => ("currentValues", "current values"),
        3 => ("magneticFieldAffected", "magnetic field detected"),
        4 => ("noResponseFromModule", "no response from metering module"),
        5 => ("moduleError", "module error"),
        _ => return Err(unknown_type(model, 2, ty, &[1, 3, 4, 5])),
    };
    let what = what(model, 2, Some(ty), description);
    let r = Reader::new(bytes, &what);
    r.expect_len(12)?;
    let battery = r.u8_v(1, "battery")?;
    let time = r.u32_v(2, "time")?;
    let t = r.i8(6, "temperature")?;
    let reading = r.u32_v(7, "reading")?;
    let mut out = Out::new();
    out.put("type", name).opt("chargePercent", battery).device_time(time).put("temperature", t);
    out.scaled("consumption", reading.map(i128::from), 3).put("rebootsNumber", r.u8(11, "reboot count")?);
    let mut measures = vec![temperature(t.into(), 0)];
    if let (1 | 3, Some(reading)) = (ty, reading) {
        measures.push(module_qty("volume", reading.into(), 3, "m3", ReadingKind::Cumulative));
    }
    Ok(Packet::new(out).at(time).battery(battery).measures(measures))
}

/// Decode an SHVE / SGVE data packet.
pub fn decode_shve(model: Model, bytes: &[u8]) -> Result<Packet, DecodeError> {
    let ty = type_byte(model, 2, bytes)?;
    if ty != 1 {
        return Err(unknown_type(model, 2, ty, &[1]));
    }
    let what = what(model, 2, Some(1), "current values");
    let r = Reader::new(bytes, &what);
    r.expect_len(15)?;
    let battery = r.u8_v(1, "battery")?;
    let t = r.i8(2, "temperature")?;
    let magnet = r.u8(3, "magnetic field flag")?;
    let time = r.u32_v(5, "time")?;
    let leak = r.u8(9, "leak flag")?;
    let breakthrough = r.u8(10, "breakthrough flag")?;
    let reading = r.u32_v(11, "reading")?;
    let mut out = Out::new();
    out.put("type", "currentValues").opt("chargePercent", battery).put("temperature", t);
    out.put("isMagneticFieldEffectDetected", flag(magnet));
    out.put("isDigitalIndicatorBlocked", flag(r.u8(4, "indicator flag")?)).device_time(time);
    out.put("isLeakDetected", flag(leak)).put("isPipeBreakDetected", flag(breakthrough));
    out.scaled("consumption", reading.map(i128::from), 4);
    let mut measures = vec![temperature(t.into(), 0)];
    if let Some(reading) = reading {
        measures.push(module_qty("volume", reading.into(), 4, "m3", ReadingKind::Cumulative));
    }
    measures.extend(state("magnet", magnet));
    measures.extend(state("leak", leak));
    measures.extend(state("breakthrough", breakthrough));
    Ok(Packet::new(out).at(time).battery(battery).measures(measures))
}
