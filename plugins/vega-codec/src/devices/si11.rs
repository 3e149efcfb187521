//! Vega SI-11 (4-input pulse counter) and SI-21, fPort 2 (§2.3).
//!
//! Format v1 (SI-11 default, SI-21), byte 0 = type:
//! - 1 current readings, 24 bytes: `1` battery · `2` settings · `3–6` time ·
//!   `7` temperature i8 · `8–23` inputs 1–4 u32;
//! - 2 alarm, 24 bytes: `1` battery · `2` settings · `3` input that
//!   triggered · `4–7` time · `8–23` inputs 1–4.
//!
//! Format v2 (`SI-11v2`, chosen by configuration: the two formats cannot be
//! told apart from the bytes), 24 bytes, no type byte: `0` reason · `1`
//! battery · `2–5` time · `6` temperature · `7–22` inputs 1–4 · `23`
//! settings.
//!
//! Field names follow `si11_v1.js` / `si11_v2.js` (`typeInput1`…,
//! `danger_input`, `charge` in alarms); the period bits follow the manual.

use meterhub_plugin_api::DecodeError;
use serde_json::Value;

use super::{InputKeys, NOT_VALID, inputs, si_settings, temperature, u32_inputs};
use crate::bytes::Reader;
use crate::fields::{Out, Packet, type_byte, unknown_type, what};
use crate::models::Model;

const NAMES: [&str; 4] = ["input1", "input2", "input3", "input4"];

/// Decode a v1 data packet (SI-11, SI-21).
pub fn decode_v1(model: Model, bytes: &[u8]) -> Result<Packet, DecodeError> {
    let ty = type_byte(model, 2, bytes)?;
    let what = match ty {
        1 => what(model, 2, Some(1), "current readings"),
        2 => what(model, 2, Some(2), "alarm"),
        _ => return Err(unknown_type(model, 2, ty, &[1, 2])),
    };
    let r = Reader::new(bytes, &what);
    r.expect_len(24)?;
    let battery = r.u8_v(1, "battery")?;
    let (settings, guard) = si_settings(r.u8(2, "settings")?, InputKeys::TypeInput);
    let mut out = Out::new();
    let (time, mut measures);
    if ty == 1 {
        time = r.u32_v(3, "time")?;
        out.put("type", "currentValues").opt("chargePercent", battery).put("currentSettings", settings);
        out.device_time(time).put("temperature", r.i8(7, "temperature")?);
        measures = inputs(&r, &mut out, &u32_inputs(NAMES, 8, guard), true)?;
        measures.push(temperature(r.i8(7, "temperature")?.into(), 0));
    } else {
        time = r.u32_v(4, "time")?;
        out.put("type", "danger").opt("charge", battery).put("currentSettings", settings);
        out.put("danger_input", r.u8(3, "input number")?).device_time(time);
        measures = inputs(&r, &mut out, &u32_inputs(NAMES, 8, guard), true)?;
    }
    Ok(Packet::new(out).at(time).battery(battery).measures(measures))
}

/// Decode a v2 data packet (SI-11v2).
pub fn decode_v2(model: Model, bytes: &[u8]) -> Result<Packet, DecodeError> {
    let what = what(model, 2, None, "current readings");
    let r = Reader::new(bytes, &what);
    r.expect_len(24)?;
    let reason = match r.u8(0, "reason")? {
        0 => Value::from("byTime"),
        n @ 1..=4 => Value::from(format!("bySecurityInput{n}Triggered")),
        _ => Value::from(NOT_VALID),
    };
    let battery = r.u8_v(1, "battery")?;
    let time = r.u32_v(2, "time")?;
    let t = r.i8(6, "temperature")?;
    let (settings, guard) = si_settings(r.u8(23, "settings")?, InputKeys::TypeInput);
    let mut out = Out::new();
    out.put("currentSettings", settings).put("reason", reason).opt("chargePercent", battery);
    out.device_time(time).put("temperature", t);
    let mut measures = inputs(&r, &mut out, &u32_inputs(NAMES, 7, guard), true)?;
    measures.push(temperature(t.into(), 0));
    Ok(Packet::new(out).at(time).battery(battery).measures(measures))
}
