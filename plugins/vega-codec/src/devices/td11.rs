//! Vega TD-11 (temperature sensor), fPort 2 (§2.3), type 1, 13 bytes: `1`
//! battery · `2` out-of-range flag · `3–6` time · `7–8` temperature i16
//! ÷10 °C · `9` low threshold i8 · `10` high threshold i8 · `11` reason ·
//! `12` input bits (bit 0 guard input, bit 1 tamper, bits 2–3 Hall sensors
//! 1–2, 0 = triggered).
//!
//! Field names follow `td11_v1.js`. Reading (meter `<DEVEUI>`):
//! `temperature` °C.

use meterhub_plugin_api::DecodeError;
use serde_json::json;

use super::{NOT_VALID, closure, flag, temperature};
use crate::bytes::Reader;
use crate::fields::{Out, Packet, type_byte, unknown_type, what};
use crate::models::Model;

fn reason(code: u8) -> &'static str {
    match code {
        0 => "byTime",
        1 => "bySecurityInputTriggered",
        2 => "byTamperSensorTriggered",
        3 => "byHallSensor1Triggered",
        4 => "byHallSensor2Triggered",
        5 => "byTemperatureOutOfRange",
        _ => NOT_VALID,
    }
}

/// Decode a TD-11 data packet.
pub fn decode(model: Model, bytes: &[u8]) -> Result<Packet, DecodeError> {
    let ty = type_byte(model, 2, bytes)?;
    if ty != 1 {
        return Err(unknown_type(model, 2, ty, &[1]));
    }
    let what = what(model, 2, Some(1), "current values");
    let r = Reader::new(bytes, &what);
    r.expect_len(13)?;
    let battery = r.u8_v(1, "battery")?;
    let time = r.u32_v(3, "time")?;
    let t = r.i16(7, "temperature")?;
    let bits = r.u8(12, "inputs")?;
    let mut out = Out::new();
    out.put("type", "currentValues").opt("chargePercent", battery);
    out.put("isTemperatureOutOfRange", flag(r.u8(2, "out of range flag")?)).device_time(time);
    out.scaled("temperature", Some(t.into()), 1);
    out.put("lowTemperature", r.i8(9, "low threshold")?).put("highTemperature", r.i8(10, "high threshold")?);
    out.put("reason", reason(r.u8(11, "reason")?));
    out.put(
        "inputs",
        json!({
            "securityInputState": closure(bits & 1 != 0),
            "isCaseOpened": bits & 2 != 0,
            "isHallSensor1Triggered": bits & 4 == 0,
            "isHallSensor2Triggered": bits & 8 == 0,
        }),
    );
    Ok(Packet::new(out).at(time).battery(battery).measures(vec![temperature(t.into(), 1)]))
}
