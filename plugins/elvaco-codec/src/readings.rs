//! Layer 2: a [`Message`]'s records to meterhub readings and telemetry.
//!
//! - Device: the DevEUI (upper-case hex): one module, one meter.
//! - Time: the meter's own time when the format carries its current time
//!   (the scheduled formats), the meter marks it valid, and a UTC offset is
//!   configured for the meter's local clock; else the network server's
//!   time (meta `ts`). The 24:00 energies of the daily redundant formats
//!   are readings at the meter's midnight, so only with the meter's time.
//! - Readings come only from records that are valid current values
//!   (function instantaneous, storage 0, subunit 0): `energy` (tariff `t`:
//!   `energy-t<t>`), `volume`, `power`, `flow`, `flow-temperature`,
//!   `return-temperature`, and `error-flags` (state). Maxima, minima,
//!   values the meter marks invalid (error state), other storage numbers
//!   and the meter ID stay in the fields.
//! - Telemetry: one entry per frame, module = DevEUI, at the readings'
//!   time, with RSSI, SNR and frame counter from the envelope; the CMi4110
//!   reports no battery.

use meterhub_plugin_api::{Decimal, Reading, ReadingKind, Telemetry};

use crate::datetime::MeterDateTime;
use crate::frame::Uplink;
use crate::mbus::{Function, Quantity, Record, Value};
use crate::message::{Body, Message};

/// Which clock the readings' time comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeSource {
    /// The meter's date/time record, converted with the configured offset.
    Meter,
    /// The network server's time, and why not the meter's.
    Server(&'static str),
}

/// Readings, telemetry and the time they were stamped with.
#[derive(Debug, Clone, PartialEq)]
pub struct Built {
    /// The readings.
    pub readings: Vec<Reading>,
    /// The module telemetry.
    pub telemetry: Vec<Telemetry>,
    /// The readings' time, ms since the epoch.
    pub ts_ms: i64,
    /// Where it comes from.
    pub source: TimeSource,
}

/// The meter's current date/time record of a message, if it has one.
fn meter_time(records: &[Record]) -> Option<MeterDateTime> {
    records.iter().find_map(|r| match (&r.value, r.function, r.storage, r.tariff, r.subunit) {
        (Value::DateTime(t), Function::Instantaneous, 0, 0, 0) => Some(*t),
        _ => None,
    })
}

/// The readings and telemetry of `message`, received as `uplink`, for a
/// meter whose clock is `utc_offset_minutes` east of UTC (when known).
pub fn build(message: &Message, uplink: &Uplink, utc_offset_minutes: Option<i32>) -> Built {
    let records: &[Record] = match &message.body {
        Body::Records(records) => records,
        Body::CommunicationError => &[],
    };
    let clock = if !message.format.meter_time {
        Err("this message format carries no meter time")
    } else {
        match (meter_time(records), utc_offset_minutes) {
            (None, _) => Err("the message has no valid meter date/time"),
            (Some(_), None) => Err("no utc_offset_minutes configured for the meter's local time"),
            (Some(t), Some(offset)) => match t.utc_ms(offset) {
                Some(ms) => Ok((t, offset, ms)),
                None => Err("the meter marks its date/time invalid, or it lies outside 2000-2099"),
            },
        }
    };
    let (ts_ms, source) = match clock {
        Ok((_, _, ms)) => (ms, TimeSource::Meter),
        Err(why) => (uplink.ts_ms, TimeSource::Server(why)),
    };
    // A 24:00 value read at 00:00 has the current value's time: the current
    // value speaks for that instant.
    let midnight_ms = clock.ok().and_then(|(t, offset, _)| t.midnight_utc_ms(offset)).filter(|&m| m != ts_ms);
    let device = uplink.dev_eui.as_str();
    let mut readings = Vec::new();
    for record in records.iter().filter(|r| r.subunit == 0) {
        let reading = |channel: String, value: Decimal, kind: ReadingKind, ts_ms: i64| Reading {
            device: device.to_owned(),
            channel,
            ts_ms,
            value,
            unit: record.quantity.unit().to_owned(),
            kind,
        };
        if let (Value::Bits(bits), Quantity::ErrorFlags) = (&record.value, record.quantity) {
            if record.function == Function::Instantaneous && record.storage == 0 && record.tariff == 0 {
                readings.push(reading("error-flags".into(), Decimal::from(*bits), ReadingKind::State, ts_ms));
            }
            continue;
        }
        let Some(value) = record.value.decimal() else { continue };
        if record.function != Function::Instantaneous {
            continue;
        }
        let (channel, kind) = match (record.quantity, record.tariff) {
            (Quantity::Energy(_), 0) => ("energy".to_owned(), ReadingKind::Cumulative),
            (Quantity::Energy(_), t) => (format!("energy-t{t}"), ReadingKind::Cumulative),
            (_, 1..) => continue,
            (Quantity::Volume, _) => ("volume".to_owned(), ReadingKind::Cumulative),
            (Quantity::Power, _) => ("power".to_owned(), ReadingKind::Instantaneous),
            (Quantity::Flow, _) => ("flow".to_owned(), ReadingKind::Instantaneous),
            (Quantity::FlowTemperature, _) => ("flow-temperature".to_owned(), ReadingKind::Instantaneous),
            (Quantity::ReturnTemperature, _) => ("return-temperature".to_owned(), ReadingKind::Instantaneous),
            _ => continue,
        };
        let at = match record.storage {
            0 => Some(ts_ms),
            1 if message.format.at_24 && matches!(record.quantity, Quantity::Energy(_)) => midnight_ms,
            _ => None,
        };
        if let Some(at) = at {
            readings.push(reading(channel, value, kind, at));
        }
    }
    let telemetry = Telemetry {
        module: device.to_owned(),
        ts_ms,
        battery_pct: None,
        rssi_dbm: uplink.rssi,
        snr_db: uplink.snr,
        frame_counter: uplink.fcnt,
    };
    Built { readings, telemetry: vec![telemetry], ts_ms, source }
}
