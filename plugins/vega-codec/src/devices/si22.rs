//! Vega SI-22 (4 inputs, external antenna, thermistor), fPort 2 (§2.3),
//! 27 bytes, no type byte: `0` reason (0 schedule, 1–4 input n triggered,
//! 5 temperature out of range) · `1` battery · `2–5` time · `6–7`
//! temperature i16 ÷10 °C · `8–23` inputs 1–4 u32 · `24` temperature out of
//! range flag · `25` low threshold i8 · `26` high threshold i8.
//!
//! Field names follow `si22_v1.js`. The packet has no input-mode bits, so
//! every input is reported as a pulse count.

use meterhub_plugin_api::DecodeError;
use serde_json::Value;

use super::{NOT_VALID, flag, inputs, temperature, u32_inputs};
use crate::bytes::Reader;
use crate::fields::{Out, Packet, what};
use crate::models::Model;

/// Decode an SI-22 data packet.
pub fn decode(model: Model, bytes: &[u8]) -> Result<Packet, DecodeError> {
    let what = what(model, 2, None, "current values");
    let r = Reader::new(bytes, &what);
    r.expect_len(27)?;
    let reason = match r.u8(0, "reason")? {
        0 => Value::from("byTime"),
        n @ 1..=4 => Value::from(format!("bySecurityInput{n}Triggered")),
        5 => Value::from("byTemperatureOutOfRange"),
        _ => Value::from(NOT_VALID),
    };
    let battery = r.u8_v(1, "battery")?;
    let time = r.u32_v(2, "time")?;
    let t = r.i16(6, "temperature")?;
    let mut out = Out::new();
    out.put("reason", reason).opt("chargePercent", battery).device_time(time);
    out.scaled("temperature", Some(t.into()), 1);
    let names = ["input1State", "input2State", "input3State", "input4State"];
    let mut measures = inputs(&r, &mut out, &u32_inputs(names, 8, [false; 4]), false)?;
    measures.push(temperature(t.into(), 1));
    out.put("isTemperatureOutOfRange", flag(r.u8(24, "out of range flag")?));
    out.put("lowTemperature", r.i8(25, "low threshold")?).put("highTemperature", r.i8(26, "high threshold")?);
    Ok(Packet::new(out).at(time).battery(battery).measures(measures))
}
