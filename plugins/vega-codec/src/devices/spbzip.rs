//! SPbZIP CE2726A / CE2727A electricity meters with a Vega LoRaWAN module
//! (§2.3). fPort 2, byte 0 = type, bytes `1–4` the meter serial in most
//! types, a trailing u16 `UUID` echoing a downlink request id:
//! - 1 info, 34 bytes: `5–8` time · `9` model · `10` phases · `12` relay
//!   mode · `13–16` production date · `17–20` software version ÷10 ·
//!   `21–24` total energy Wh · `25` temperature u8 · `26–29` state bits ·
//!   `30–31` reason · `32–33` UUID;
//! - 2 instant values, 43 bytes: `5–8` time · `9–14` U a/b/c u16 ÷100 V ·
//!   `15–26` I a/b/c u32 ÷1000 A · `27–32` PF a/b/c ÷1000 · `33–34` average
//!   PF · `35–36` frequency ÷100 Hz · `37–40` power W · `41–42` UUID;
//! - 3 SCADA answer chunk, ≥ 6 bytes: `1–2` total size · `3` chunk size ·
//!   `4` chunk number · `5` chunk count · `6…` data (bytes);
//! - 4 readings by tariff, 32 bytes: `5–8` time · `9` current tariff ·
//!   `10–13` total Wh · `14–29` T1–T4 Wh · `30–31` UUID;
//! - 5 half-hour power profile, 25 bytes: `5–8` penultimate half-hour ·
//!   `9` note · `10–13` power · `14–17` last half-hour · `18` note ·
//!   `19–22` power · `23–24` UUID;
//! - 6 receipt, 8 bytes: `5` request status · `6–7` UUID;
//! - 7 configuration, 30 bytes: `1–4` network address · `5–6` time zone
//!   i16 · `7` period · `8` events on · `9` half-hour on · `10` confirmed ·
//!   `11–14` power limit ÷10 · `19–27` three (period, weekday, day) triples
//!   · `28–29` UUID.
//!
//! fPort 5 type 8, 50 bytes: tariff schedule: `1` month · `2` schedule code
//! · 15 zones × (end minute, end hour, zone) · `48–49` UUID. (The vendor
//! decoder throws here, §2.4; this one decodes it.)
//!
//! Field names follow `SPBZIP_v1.js`. Readings (meter `<DEVEUI>`): type 1
//! `energy` kWh and `temperature`; type 2 `voltage-a/b/c` V, `current-a/b/c`
//! A, `frequency` Hz, `power` W; type 4 `energy`, `energy-t1`…`energy-t4` kWh.

use meterhub_plugin_api::{DecodeError, ReadingKind};
use serde_json::{Map, Value, json};

use super::{NOT_VALID, module_qty, temperature};
use crate::bytes::Reader;
use crate::fields::{Out, Packet, type_byte, unknown_type, what};
use crate::models::Model;

fn named(table: &[(u8, &'static str)], code: u8) -> &'static str {
    table.iter().find(|(c, _)| *c == code).map_or(NOT_VALID, |(_, name)| name)
}

const REASONS: [(u16, &str); 11] = [
    (1, "byTime"),
    (2, "byTerminalOpening"),
    (3, "byCaseOpening"),
    (7, "byPowerLimitRelayOperation"),
    (8, "byOvervoltage"),
    (11, "byPowerLimitExceeding"),
    (18, "byElectricityPowerOff"),
    (19, "byRequest"),
    (20, "byElectricityPowerOn"),
    (21, "byVoltageDip"),
    (24, "byFrequencyDeviation"),
];

/// Decode an SPbZIP packet on fPort 2 or 5.
pub fn decode(model: Model, port: u8, bytes: &[u8]) -> Result<Packet, DecodeError> {
    let ty = type_byte(model, port, bytes)?;
    let (description, len, exact) = match (port, ty) {
        (2, 1) => ("info", 34, true),
        (2, 2) => ("instant values", 43, true),
        (2, 3) => ("SCADA answer", 6, false),
        (2, 4) => ("readings by tariff", 32, true),
        (2, 5) => ("half-hour power profile", 25, true),
        (2, 6) => ("receipt", 8, true),
        (2, 7) => ("configuration", 30, true),
        (5, 8) => ("tariff schedule", 50, true),
        (5, _) => return Err(unknown_type(model, port, ty, &[8])),
        _ => return Err(unknown_type(model, port, ty, &[1, 2, 3, 4, 5, 6, 7])),
    };
    let what = what(model, port, Some(ty), description);
    let r = Reader::new(bytes, &what);
    r.expect(len, exact)?;
    let mut out = Out::new();
    match ty {
        1 => info(&r, out),
        2 => instant(&r, out),
        3 => {
            out.put("type", "scadaResponse").put("dataSize", r.u16(1, "total size")?);
            out.put("packetSize", r.u8(3, "chunk size")?).put("packetNumber", r.u8(4, "chunk number")?);
            out.put("packetsNumber", r.u8(5, "chunk count")?);
            super::chunk_data(&r, &mut out, 6);
            Ok(Packet::new(out))
        }
        4 => tariffs(&r, out),
        5 => profile(&r, out),
        6 => {
            let status = named(&[(0, "error"), (1, "completed"), (2, "notSupportedByMeter")], r.u8(5, "status")?);
            out.put("type", "receiptResponse").opt("serialNumber", r.u32_v(1, "serial")?);
            out.put("requestStatus", status).put("UUID", r.u16(6, "UUID")?);
            Ok(Packet::new(out))
        }
        7 => configuration(&r, out),
        _ => schedule(&r, out),
    }
}

fn info(r: &Reader, mut out: Out) -> Result<Packet, DecodeError> {
    let time = r.u32_v(5, "time")?;
    let energy = r.u32_v(21, "energy")?;
    let t = r.u8_v(25, "temperature")?;
    let state = r.u32(26, "state")?;
    let reason = r.u16(30, "reason")?;
    out.put("type", "info").opt("serialNumber", r.u32_v(1, "serial")?).device_time(time);
    out.put("model", named(&[(1, "SPBZIP CE 2726A"), (2, "SPBZIP CE 2727A")], r.u8(9, "model")?));
    out.put("phasesNumber", r.u8(10, "phases")?);
    out.put("powerLimitRelayMode", named(&[(0, "off"), (1, "on")], r.u8(12, "relay mode")?));
    out.time("productionDate", "productionDateStringISO", r.u32_v(13, "production date")?);
    out.scaled("swVer", r.u32_v(17, "software version")?.map(i128::from), 1);
    out.opt("meterReadingWh", energy).opt("temperature", t);
    // The decoder reports "opened" when the bit is 0.
    out.put(
        "state",
        json!({
            "isTerminalOpened": state & 1 == 0,
            "isCaseOpened": state & 2 == 0,
            "powerLimitRelayState": if state & 4 == 0 { "powerSupplyIsLimited" } else { "powerSupplyIsUnlimited" },
        }),
    );
    out.put("reason", REASONS.iter().find(|(c, _)| *c == reason).map_or(NOT_VALID, |(_, n)| n));
    out.put("UUID", r.u16(32, "UUID")?);
    let mut measures = Vec::new();
    if let Some(energy) = energy {
        measures.push(module_qty("energy", energy.into(), 3, "kWh", ReadingKind::Cumulative));
    }
    if let Some(t) = t {
        measures.push(temperature(t.into(), 0));
    }
    Ok(Packet::new(out).at(time).measures(measures))
}

fn instant(r: &Reader, mut out: Out) -> Result<Packet, DecodeError> {
    let time = r.u32_v(5, "time")?;
    out.put("type", "currentValues_1").opt("serialNumber", r.u32_v(1, "serial")?).device_time(time);
    let inst = ReadingKind::Instantaneous;
    let mut measures = Vec::new();
    for (name, at, channel) in
        [("phaseAVoltage", 9, "voltage-a"), ("phaseBVoltage", 11, "voltage-b"), ("phaseCVoltage", 13, "voltage-c")]
    {
        let raw = r.u16_v(at, name)?.map(i128::from);
        out.scaled(name, raw, 2);
        measures.extend(raw.map(|raw| module_qty(channel, raw, 2, "V", inst)));
    }
    for (name, at, channel) in
        [("phaseACurrent", 15, "current-a"), ("phaseBCurrent", 19, "current-b"), ("phaseCCurrent", 23, "current-c")]
    {
        let raw = r.u32_v(at, name)?.map(i128::from);
        out.scaled(name, raw, 3);
        measures.extend(raw.map(|raw| module_qty(channel, raw, 3, "A", inst)));
    }
    for (name, at) in
        [("phaseAPowerFactor", 27), ("phaseBPowerFactor", 29), ("phaseCPowerFactor", 31), ("averagePowerFactor", 33)]
    {
        out.scaled(name, r.u16_v(at, name)?.map(i128::from), 3);
    }
    let frequency = r.u16_v(35, "frequency")?.map(i128::from);
    out.scaled("frequency", frequency, 2);
    measures.extend(frequency.map(|raw| module_qty("frequency", raw, 2, "Hz", inst)));
    let power = r.u32_v(37, "power")?;
    out.opt("power", power).put("UUID", r.u16(41, "UUID")?);
    measures.extend(power.map(|raw| module_qty("power", raw.into(), 0, "W", inst)));
    Ok(Packet::new(out).at(time).measures(measures))
}

fn tariffs(r: &Reader, mut out: Out) -> Result<Packet, DecodeError> {
    let time = r.u32_v(5, "time")?;
    out.put("type", "currentValuesExtendedByTariffs").opt("serialNumber", r.u32_v(1, "serial")?);
    out.device_time(time).put("tariff", r.u8(9, "current tariff")?);
    let mut measures = Vec::new();
    let registers = [
        ("meterReadingWh", 10, "energy"),
        ("tariff1ReadingWh", 14, "energy-t1"),
        ("tariff2ReadingWh", 18, "energy-t2"),
        ("tariff3ReadingWh", 22, "energy-t3"),
        ("tariff4ReadingWh", 26, "energy-t4"),
    ];
    for (name, at, channel) in registers {
        let wh = r.u32_v(at, name)?;
        out.opt(name, wh);
        measures.extend(wh.map(|wh| module_qty(channel, wh.into(), 3, "kWh", ReadingKind::Cumulative)));
    }
    out.put("UUID", r.u16(30, "UUID")?);
    Ok(Packet::new(out).at(time).measures(measures))
}

/// A half-hour profile note byte.
fn note(raw: u8) -> Value {
    json!({
        "isDataExist": raw & 0x01 != 0,
        "isIncompleteDataSlice": raw & 0x02 != 0,
        "isTimeChangeCommandHaveBeenExecuted": raw & 0x04 != 0,
        "season": if raw & 0x08 == 0 { "summer" } else { "winter" },
        "isSeasonSwitchingAllow": raw & 0x10 != 0,
        "isTimeCorrectionHaveBenOperated": raw & 0x20 != 0,
    })
}

fn profile(r: &Reader, mut out: Out) -> Result<Packet, DecodeError> {
    let last = r.u32_v(14, "last half-hour time")?;
    out.put("type", "powerProfile").opt("serialNumber", r.u32_v(1, "serial")?);
    out.time("penultHalfHourTime", "penultHalfHourTimeStringISO", r.u32_v(5, "penultimate half-hour time")?);
    out.put("penultHalfHourNote", note(r.u8(9, "note")?)).opt("penultHalfHourPower", r.u32_v(10, "power")?);
    out.time("lastHalfHourTime", "lastHalfHourTimeStringISO", last);
    out.put("lastHalfHourNote", note(r.u8(18, "note")?)).opt("lastHalfHourPower", r.u32_v(19, "power")?);
    out.put("UUID", r.u16(23, "UUID")?);
    Ok(Packet::new(out).at(last))
}

fn collection(r: &Reader, at: usize) -> Result<Value, DecodeError> {
    let period = [(0, "1hour"), (1, "6hours"), (2, "12hours"), (3, "24hours"), (5, "1week"), (6, "1mounth")];
    let week = [
        (0, "noWeeklyPolls"),
        (1, "Monday"),
        (2, "Tuesday"),
        (3, "Wednesday"),
        (4, "Thursday"),
        (5, "Friday"),
        (6, "Saturday"),
        (7, "Sunday"),
    ];
    // The vendor's day-of-month parser forgets to return 1..=28; we return it.
    let day = match r.u8(at + 2, "day of month")? {
        0 => Value::from("noMonthlyPolls"),
        d @ 1..=28 => Value::from(d),
        _ => Value::from(NOT_VALID),
    };
    Ok(json!({
        "period": named(&period, r.u8(at, "period")?),
        "dayOfWeek": named(&week, r.u8(at + 1, "day of week")?),
        "dayOfMonth": day,
    }))
}

fn configuration(r: &Reader, mut out: Out) -> Result<Packet, DecodeError> {
    out.put("type", "currentConfiguration").put("networkAddress", r.u32(1, "network address")?);
    out.put("timeZone", r.i16(5, "time zone")?).put("connectionPeriod", r.u8(7, "period")?);
    out.put("isEventsTransmissionEnable", r.u8(8, "events")? != 0);
    out.put("isHalfHourTransmissionEnable", r.u8(9, "half-hour")? != 0);
    out.put("confirmedUplinks", r.u8(10, "confirmed")? != 0);
    out.scaled("powerLimit", r.u32_v(11, "power limit")?.map(i128::from), 1);
    out.put("infoCollection", collection(r, 19)?);
    out.put("energyConsumptionCollection", collection(r, 22)?);
    out.put("currentValuesCollection", collection(r, 25)?);
    out.put("UUID", r.u16(28, "UUID")?);
    Ok(Packet::new(out))
}

fn schedule(r: &Reader, mut out: Out) -> Result<Packet, DecodeError> {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let month = MONTHS.get(usize::from(r.u8(1, "month")?)).copied().unwrap_or(NOT_VALID);
    let code = named(&[(0, "holiday"), (1, "Saturday"), (2, "Sunday"), (3, "workday")], r.u8(2, "schedule code")?);
    let mut zones = Map::new();
    for i in 0..15 {
        let at = 3 + 3 * i;
        zones.insert(
            (i + 1).to_string(),
            json!({
                "endMinute": r.u8(at, "end minute")?,
                "endHour": r.u8(at + 1, "end hour")?,
                "zoneNumber": r.u8(at + 2, "zone")?,
            }),
        );
    }
    out.put("type", "tariffSchedule").put("month", month).put("tariffScheduleCode", code);
    out.put("zones", zones).put("UUID", r.u16(48, "UUID")?);
    Ok(Packet::new(out))
}
