//! Vega TP-11 (4–20 mA converter, e.g. for pressure transducers), fPort 2
//! (§2.3), byte 0 = type:
//! - 1 current values, 16 bytes: `1` battery · `2` limits exceeded flag ·
//!   `3–6` time · `7` temperature i8 · `8–9` low limit u16 ÷100 mA ·
//!   `10–11` high limit ÷100 · `12` reason · `13` inputs/outputs bits ·
//!   `14–15` current u16 ÷100 mA;
//! - 5 output change, 8 bytes: `1` battery · `2` output number · `3` new
//!   state · `4–7` time.
//!
//! Field names follow `tp11_v1.js` (reason 2 is input 2, where the vendor
//! decoder repeats input 1). Readings (meter `<DEVEUI>`): `current` mA,
//! module `temperature`.

use meterhub_plugin_api::{DecodeError, ReadingKind};
use serde_json::json;

use super::{NOT_VALID, closure, flag, module_qty, temperature};
use crate::bytes::Reader;
use crate::fields::{Out, Packet, type_byte, unknown_type, what};
use crate::models::Model;

fn reason(code: u8) -> &'static str {
    match code {
        0 => "byTime",
        1 => "bySecurityInput1Triggered",
        2 => "bySecurityInput2Triggered",
        3 => "byExternalPowerStateChanged",
        4 => "byLimitsExceeding",
        5 => "byRequest",
        _ => NOT_VALID,
    }
}

/// Decode a TP-11 data packet.
pub fn decode(model: Model, bytes: &[u8]) -> Result<Packet, DecodeError> {
    let ty = type_byte(model, 2, bytes)?;
    let (description, len) = match ty {
        1 => ("current values", 16),
        5 => ("output change", 8),
        _ => return Err(unknown_type(model, 2, ty, &[1, 5])),
    };
    let what = what(model, 2, Some(ty), description);
    let r = Reader::new(bytes, &what);
    r.expect_len(len)?;
    let battery = r.u8_v(1, "battery")?;
    let mut out = Out::new();
    if ty == 5 {
        let time = r.u32_v(4, "time")?;
        out.put("type", "outputsStateChanged").opt("charge", battery);
        out.put("changedOutputNumber", r.u8(2, "output number")?);
        out.put("changedOutputState", r.u8(3, "output state")?).device_time(time);
        return Ok(Packet::new(out).at(time).battery(battery));
    }
    let time = r.u32_v(3, "time")?;
    let t = r.i8(7, "temperature")?;
    let bits = r.u8(13, "inputs/outputs")?;
    let current = r.u16_v(14, "current")?;
    out.put("type", "currentValues").opt("chargePercent", battery);
    out.put("isLimitsExceeding", flag(r.u8(2, "limits flag")?)).device_time(time).put("temperature", t);
    out.scaled("lowLimit", r.u16_v(8, "low limit")?.map(i128::from), 2);
    out.scaled("highLimit", r.u16_v(10, "high limit")?.map(i128::from), 2);
    out.put("reason", reason(r.u8(12, "reason")?));
    out.put(
        "inputsOutputs",
        json!({
            "powerState": if bits & 1 != 0 { "external" } else { "battery" },
            "securityInput1State": closure(bits & 2 != 0),
            "securityInput2State": closure(bits & 4 != 0),
            "output1State": closure(bits & 8 != 0),
            "output2State": closure(bits & 16 != 0),
        }),
    );
    out.scaled("current", current.map(i128::from), 2);
    let mut measures = vec![temperature(t.into(), 0)];
    measures.extend(current.map(|c| module_qty("current", c.into(), 2, "mA", ReadingKind::Instantaneous)));
    Ok(Packet::new(out).at(time).battery(battery).measures(measures))
}
