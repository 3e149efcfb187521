//! Layer 2: a decoded [`Packet`] to meterhub readings and telemetry.
//!
//! - Timestamp: the in-payload device time (seconds × 1000); a packet
//!   without one (or with an all-`FF` one) uses the envelope's server time.
//! - Devices: DevEUI in upper-case hex. A pulse or guard input is its own
//!   meter `<DEVEUI>.<n>`; a module's own values (temperature) and the
//!   meter a modem serves are `<DEVEUI>`; meters read over RS-485 (SI-13,
//!   SI-23) are `<DEVEUI>.meter-<serial or address>`, SH-2 1-Wire sensors
//!   `<DEVEUI>.1wire<n>`.
//! - Pulse inputs: channel `pulses`, unit `""`, cumulative, the raw count;
//!   with an input configured in the settings also `count × weight` (exact)
//!   on the configured channel and unit, cumulative. Guard inputs: channel
//!   `guard`, state 0 (open) / 1 (closed).
//! - Telemetry: one entry per frame: module = DevEUI, the packet's device
//!   time (else server time), battery when the packet has it, RSSI, SNR
//!   and frame counter from the envelope.

use meterhub_plugin_api::{Decimal, Reading, ReadingKind, Telemetry};

use crate::fields::{Measure, Meter, Packet};
use crate::frame::Uplink;
use crate::settings::DeviceSettings;

/// Readings and telemetry of one packet.
pub fn build(packet: &Packet, uplink: &Uplink, device: Option<&DeviceSettings>) -> (Vec<Reading>, Vec<Telemetry>) {
    let ms = |secs: Option<u32>| secs.map(|s| i64::from(s) * 1000);
    let packet_ts = ms(packet.time).unwrap_or(uplink.ts_ms);
    let dev = uplink.dev_eui.as_str();
    let mut readings = Vec::new();
    for group in &packet.groups {
        let ts_ms = ms(group.time).unwrap_or(packet_ts);
        for measure in &group.measures {
            let reading = |device: String, channel: &str, value: Decimal, unit: &str, kind: ReadingKind| Reading {
                device,
                channel: channel.to_owned(),
                ts_ms,
                value,
                unit: unit.to_owned(),
                kind,
            };
            match measure {
                Measure::Pulses { input, count } => {
                    let meter = format!("{dev}.{input}");
                    let count = Decimal::from(*count);
                    readings.push(reading(meter.clone(), "pulses", count, "", ReadingKind::Cumulative));
                    let conversion = device.and_then(|d| d.inputs.get(input));
                    if let Some(value) = conversion.and_then(|c| count.checked_mul(c.weight).map(|v| (c, v))) {
                        let (c, v) = value;
                        readings.push(reading(meter, &c.channel, v.normalize(), &c.unit, ReadingKind::Cumulative));
                    }
                }
                Measure::Guard { input, closed } => {
                    let value = Decimal::from(u8::from(*closed));
                    readings.push(reading(format!("{dev}.{input}"), "guard", value, "", ReadingKind::State));
                }
                Measure::Quantity(q) => {
                    let Some(value) = q.value() else { continue };
                    let meter = match &q.meter {
                        Meter::Module => dev.to_owned(),
                        Meter::Sub(suffix) => format!("{dev}.{suffix}"),
                    };
                    readings.push(reading(meter, &q.channel, value, q.unit, q.kind));
                }
            }
        }
    }
    let telemetry = Telemetry {
        module: dev.to_owned(),
        ts_ms: packet_ts,
        battery_pct: packet.battery,
        rssi_dbm: uplink.rssi,
        snr_db: uplink.snr,
        frame_counter: uplink.fcnt,
    };
    (readings, vec![telemetry])
}
