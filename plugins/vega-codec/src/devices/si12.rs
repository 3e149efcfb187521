//! Vega SI-12 (4 inputs, 2 outputs) and SI-12 RELAY, fPort 2 (§2.3),
//! byte 0 = type:
//! - 1 current values, 24 bytes: as SI-11 v1 type 1;
//! - 2 alarm, 24 bytes: as SI-11 v1 type 2;
//! - 4 power state change (SI-12), 8 bytes: `1` battery · `2` settings ·
//!   `3` power state (0 off, 1 on) · `4–7` time;
//! - 5 output change, 9 bytes: `1` battery · `2` settings · `3` output
//!   number · `4` new state · `5–8` time;
//! - 6 inputs state (SI-12), 26 bytes: `1–4` time · `5–6` input modes u16 ·
//!   `7–8` output states u16 · `9–24` inputs 1–4 u32 · `25` power state.
//!
//! Field names follow `si12_v1.js` / `si12r_v1.js`: SI-12 RELAY does not
//! output byte 1 (the battery); the alarm packet keeps guard inputs as
//! numbers, as the vendor decoder does (its readings are still guard
//! states).

use meterhub_plugin_api::DecodeError;
use serde_json::{Value, json};

use super::{InputKeys, NOT_VALID, closure, inputs, si_settings, temperature, u32_inputs};
use crate::bytes::Reader;
use crate::fields::{Out, Packet, type_byte, unknown_type, what};
use crate::models::Model;

const NAMES: [&str; 4] = ["input1", "input2", "input3", "input4"];

fn power_state(raw: u8) -> Value {
    match raw {
        0 => "Off".into(),
        1 => "On".into(),
        _ => NOT_VALID.into(),
    }
}

/// Decode a data packet of SI-12 or SI-12R.
pub fn decode(model: Model, bytes: &[u8]) -> Result<Packet, DecodeError> {
    let relay = model == Model::Si12R;
    let ty = type_byte(model, 2, bytes)?;
    let (description, len) = match (ty, relay) {
        (1, _) => ("current values", 24),
        (2, _) => ("alarm", 24),
        (4, false) => ("power state", 8),
        (5, _) => ("output change", 9),
        (6, false) => ("inputs state", 26),
        _ => return Err(unknown_type(model, 2, ty, if relay { &[1, 2, 5] } else { &[1, 2, 4, 5, 6] })),
    };
    let what = what(model, 2, Some(ty), description);
    let r = Reader::new(bytes, &what);
    r.expect_len(len)?;
    if ty == 6 {
        return inputs_state(&r);
    }
    // Byte 1 is the battery on SI-12; SI-12 RELAY's decoder leaves it out.
    let battery = if relay { None } else { r.u8_v(1, "battery")? };
    let (settings, guard) = si_settings(r.u8(2, "settings")?, InputKeys::InputMode);
    let mut out = Out::new();
    let mut measures = Vec::new();
    let time;
    match ty {
        1 => {
            time = r.u32_v(3, "time")?;
            out.put("type", "currentValues");
            if !relay {
                out.opt("chargePercent", battery);
            }
            out.put("currentSettings", settings).device_time(time);
            let t = r.i8(7, "temperature")?;
            out.put("temperature", t);
            measures = inputs(&r, &mut out, &u32_inputs(NAMES, 8, guard), true)?;
            measures.push(temperature(t.into(), 0));
        }
        2 => {
            time = r.u32_v(4, "time")?;
            out.put("type", "danger");
            if !relay {
                out.opt("charge", battery);
            }
            out.put("currentSettings", settings).put("dangerInputNumber", r.u8(3, "input number")?);
            out.device_time(time);
            measures = inputs(&r, &mut out, &u32_inputs(NAMES, 8, guard), false)?;
        }
        4 => {
            time = r.u32_v(4, "time")?;
            out.put("type", "powerStateChanged").opt("charge", battery).put("currentSettings", settings);
            out.put("powerState", power_state(r.u8(3, "power state")?)).device_time(time);
        }
        _ => {
            time = r.u32_v(5, "time")?;
            out.put("type", "outputsStateChanged");
            if !relay {
                out.opt("charge", battery);
            }
            out.put("currentSettings", settings);
            out.put("changedOutputNumber", r.u8(3, "output number")?);
            out.put("changedOutputState", r.u8(4, "output state")?).device_time(time);
        }
    }
    Ok(Packet::new(out).at(time).battery(battery).measures(measures))
}

/// Type 6: the state of every input and output.
fn inputs_state(r: &Reader) -> Result<Packet, DecodeError> {
    let time = r.u32_v(1, "time")?;
    let modes = r.u16(5, "input modes")?;
    let outputs = r.u16(7, "output states")?;
    let guard = [modes & 1 != 0, modes & 2 != 0, modes & 4 != 0, modes & 8 != 0];
    let mode = |g: bool| if g { "guard" } else { "pulse" };
    let mut out = Out::new();
    out.put("type", "inputsStateChanged").device_time(time);
    out.put(
        "inputsMode",
        json!({"input1Mode": mode(guard[0]), "input2Mode": mode(guard[1]),
               "input3Mode": mode(guard[2]), "input4Mode": mode(guard[3])}),
    );
    out.put(
        "outputsState",
        json!({"output1State": closure(outputs & 1 != 0), "output2State": closure(outputs & 2 != 0)}),
    );
    let names = ["input1State", "input2State", "input3State", "input4State"];
    let measures = inputs(r, &mut out, &u32_inputs(names, 9, guard), false)?;
    out.put("powerState", power_state(r.u8(25, "power state")?));
    Ok(Packet::new(out).at(time).measures(measures))
}
