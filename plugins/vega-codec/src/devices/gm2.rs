//! Vega GM-2 (modem for Elster gas meters), fPort 2 (§2.3), 21 bytes, no
//! type byte: `0` battery · `1–4` time · `5` temperature i8 · `6` reason ·
//! `7` input 1 · `8` input 2 · `9` output 1 · `10` output 2 (0/1) · `11`
//! magnetic field flag · `12` case-open flag · `13–16` reading u32 ÷100 m³ ·
//! `17–20` initial reading u32 ÷100 m³.
//!
//! Field names follow `gm2_v1.js`. Readings: `volume` (m³, the meter
//! reading at 13–16), module `temperature`, states `magnet` and `case-open`.

use meterhub_plugin_api::{DecodeError, ReadingKind};
use serde_json::Value;

use super::{NOT_VALID, closure, module_qty, state, temperature};
use crate::bytes::Reader;
use crate::fields::{Out, Packet, what};
use crate::models::Model;

fn reason(code: u8) -> Value {
    Value::from(match code {
        0 => "byTime",
        1 => "bySecurityInput1Triggered",
        2 => "bySecurityInput2Triggered",
        3 => "byOutput1StateChanged",
        4 => "byOutput2StateChanged",
        5 => "byMagneticFieldEffectDetected",
        6 => "byCaseOpened",
        _ => NOT_VALID,
    })
}

/// Decode a GM-2 data packet.
pub fn decode(model: Model, bytes: &[u8]) -> Result<Packet, DecodeError> {
    let what = what(model, 2, None, "current values");
    let r = Reader::new(bytes, &what);
    r.expect_len(21)?;
    let battery = r.u8_v(0, "battery")?;
    let time = r.u32_v(1, "time")?;
    let t = r.i8(5, "temperature")?;
    let magnet = r.u8(11, "magnetic field flag")?;
    let case_open = r.u8(12, "case flag")?;
    let reading = r.u32_v(13, "reading")?;
    let mut out = Out::new();
    out.opt("chargePercent", battery).device_time(time).put("temperature", t);
    out.put("reason", reason(r.u8(6, "reason")?));
    for (name, at) in [("input1State", 7), ("input2State", 8), ("output1State", 9), ("output2State", 10)] {
        out.put(name, closure(r.u8(at, name)? != 0));
    }
    out.put("isMagneticFieldEffectDetected", magnet != 0).put("isCaseOpened", case_open != 0);
    out.scaled("consumption", reading.map(i128::from), 2);
    out.scaled("initialConsumption", r.u32_v(17, "initial reading")?.map(i128::from), 2);
    let mut measures = vec![temperature(t.into(), 0)];
    if let Some(reading) = reading {
        measures.push(module_qty("volume", reading.into(), 2, "m3", ReadingKind::Cumulative));
    }
    measures.extend(state("magnet", magnet));
    measures.extend(state("case-open", case_open));
    Ok(Packet::new(out).at(time).battery(battery).measures(measures))
}
