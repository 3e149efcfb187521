//! Layer 1: payload bytes to the vendor's decoded fields, plus the typed
//! measurements that [`crate::readings`] turns into meterhub readings.
//!
//! [`decode_fields`] gives the fields alone (a JSON object named and shaped
//! like the vendor decoder's output, without its `decoder` and
//! `statusDecode` members); [`decode_packet`] gives a [`Packet`]: the same
//! fields, the device time, the battery and the measurements with their
//! exact integer mantissas (never read back from the JSON numbers).

use meterhub_plugin_api::{Decimal, DecodeError, ReadingKind};
use serde_json::{Map, Value};

use crate::models::Model;
use crate::{devices, settings_packet, time_packet};

/// One decoded packet.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    /// The vendor-style fields.
    pub fields: Map<String, Value>,
    /// The device time of the packet (Unix seconds), when it carries one.
    pub time: Option<u32>,
    /// Battery charge in percent, when the packet carries it.
    pub battery: Option<u8>,
    /// Measurements, grouped by the time they were taken at.
    pub groups: Vec<Group>,
}

/// Measurements taken at one time.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Their device time (Unix seconds); `None`: the packet's time, or the
    /// server's when the packet has none.
    pub time: Option<u32>,
    /// The measurements.
    pub measures: Vec<Measure>,
}

/// One measured value of the packet.
#[derive(Debug, Clone, PartialEq)]
pub enum Measure {
    /// Raw pulse count of pulse input `input` (1-based).
    Pulses {
        /// Input number.
        input: u8,
        /// Cumulative pulse count.
        count: u32,
    },
    /// State of input `input` in guard (security) mode.
    Guard {
        /// Input number.
        input: u8,
        /// Closed (1) or open (0).
        closed: bool,
    },
    /// A value in engineering units.
    Quantity(Quantity),
}

/// Which meter a quantity belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Meter {
    /// The module itself (or the one meter a modem serves): `<DEVEUI>`.
    Module,
    /// A sub-meter: `<DEVEUI>.<suffix>`.
    Sub(String),
}

/// A value in engineering units: `mantissa × 10^-scale unit`.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantity {
    /// The meter.
    pub meter: Meter,
    /// The meterhub channel.
    pub channel: String,
    /// Integer mantissa.
    pub mantissa: i128,
    /// Decimal scale (digits after the point).
    pub scale: u32,
    /// Unit (`m3`, `kWh`, `degC`, ...; empty when dimensionless).
    pub unit: &'static str,
    /// What the value means.
    pub kind: ReadingKind,
}

impl Quantity {
    /// The exact value, when the mantissa fits a [`Decimal`].
    pub fn value(&self) -> Option<Decimal> {
        Decimal::try_from_i128_with_scale(self.mantissa, self.scale).ok().map(|d| d.normalize())
    }
}

impl Packet {
    /// A packet with these fields and nothing measured.
    pub fn new(fields: Out) -> Self {
        Packet { fields: fields.map, time: None, battery: None, groups: Vec::new() }
    }

    /// Set the device time.
    pub fn at(mut self, time: Option<u32>) -> Self {
        self.time = time;
        self
    }

    /// Set the battery charge.
    pub fn battery(mut self, battery: Option<u8>) -> Self {
        self.battery = battery;
        self
    }

    /// Add measurements taken at the packet's time.
    pub fn measures(mut self, measures: Vec<Measure>) -> Self {
        if !measures.is_empty() {
            self.groups.push(Group { time: None, measures });
        }
        self
    }
}

/// Builder of a fields object.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Out {
    /// The fields so far.
    pub map: Map<String, Value>,
}

impl Out {
    /// An empty object.
    pub fn new() -> Self {
        Out::default()
    }

    /// Set `key`.
    pub fn put(&mut self, key: &str, value: impl Into<Value>) -> &mut Self {
        self.map.insert(key.to_owned(), value.into());
        self
    }

    /// Set `key` to the value or `null`.
    pub fn opt<T: Into<Value>>(&mut self, key: &str, value: Option<T>) -> &mut Self {
        self.put(key, value.map_or(Value::Null, Into::into))
    }

    /// Set `key` to `raw × 10^-scale` (a JSON number; `null` for `None`).
    pub fn scaled(&mut self, key: &str, raw: Option<i128>, scale: u32) -> &mut Self {
        self.put(key, raw.map_or(Value::Null, |raw| scaled_number(raw, scale)))
    }

    /// Set a time pair: `key` = Unix seconds, `iso_key` = the same as ISO
    /// text with milliseconds (`2022-03-09T07:06:15.000Z`); `null`s when
    /// the time is "no value".
    pub fn time(&mut self, key: &str, iso_key: &str, secs: Option<u32>) -> &mut Self {
        self.opt(key, secs);
        self.opt(iso_key, secs.map(iso))
    }

    /// Set `time` and `timeStringISO`.
    pub fn device_time(&mut self, secs: Option<u32>) -> &mut Self {
        self.time("time", "timeStringISO", secs)
    }
}

/// `raw × 10^-scale` as a JSON number: an integer when the value is whole
/// (as JavaScript prints it), otherwise the double nearest to the exact
/// decimal, which is what the vendor's `raw / 10^scale` gives.
pub fn scaled_number(raw: i128, scale: u32) -> Value {
    let Some(d) = Decimal::try_from_i128_with_scale(raw, scale).ok().map(|d| d.normalize()) else {
        return Value::Null;
    };
    if d.scale() == 0
        && let Ok(whole) = i64::try_from(raw / 10i128.pow(scale))
    {
        return Value::from(whole);
    }
    d.to_string().parse::<f64>().ok().and_then(serde_json::Number::from_f64).map_or(Value::Null, Value::Number)
}

/// Unix seconds as ISO 8601 UTC text with milliseconds, as JavaScript's
/// `toISOString` prints it.
pub fn iso(secs: u32) -> String {
    let secs = i64::from(secs);
    let (y, m, d) = meterhub_plugin_api::time::civil_from_days(secs.div_euclid(86_400));
    let in_day = secs.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.000Z", in_day / 3600, in_day / 60 % 60, in_day % 60)
}

/// `"<model> fPort <port> type <type> (<description>)"`, the prefix of every
/// error about a packet.
pub fn what(model: Model, port: u8, ty: Option<u8>, description: &str) -> String {
    match ty {
        Some(ty) => format!("{} fPort {port} type {ty} ({description})", model.name()),
        None => format!("{} fPort {port} ({description})", model.name()),
    }
}

/// The error for a type byte the model does not send on `port`.
pub fn unknown_type(model: Model, port: u8, ty: u8, known: &[u8]) -> DecodeError {
    let known: Vec<String> = known.iter().map(u8::to_string).collect();
    DecodeError::new(format!("{} fPort {port}: unknown type {ty} (known: {})", model.name(), known.join(", ")))
}

/// The first byte of a packet that starts with a type byte.
pub fn type_byte(model: Model, port: u8, bytes: &[u8]) -> Result<u8, DecodeError> {
    bytes.first().copied().ok_or_else(|| DecodeError::new(format!("{} fPort {port}: empty packet", model.name())))
}

/// Decode one payload of `model` received on `fport` into the vendor's
/// fields (a JSON object).
pub fn decode_fields(model: Model, fport: u8, bytes: &[u8]) -> Result<Value, DecodeError> {
    decode_packet(model, fport, bytes).map(|p| Value::Object(p.fields))
}

/// Decode one payload of `model` received on `fport`.
pub fn decode_packet(model: Model, fport: u8, bytes: &[u8]) -> Result<Packet, DecodeError> {
    let ports = model.ports();
    if !ports.contains(&fport) {
        let known: Vec<String> = ports.iter().map(u8::to_string).collect();
        return Err(DecodeError::new(format!(
            "{} fPort {fport}: unknown port (known: {})",
            model.name(),
            known.join(", ")
        )));
    }
    match fport {
        3 => settings_packet::decode(model, bytes),
        4 => time_packet::decode(model, bytes),
        _ => devices::decode(model, fport, bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_like_javascript() {
        assert_eq!(scaled_number(23217, 2).to_string(), "232.17");
        assert_eq!(scaled_number(1000, 3).to_string(), "1");
        assert_eq!(scaled_number(0, 3).to_string(), "0");
        assert_eq!(scaled_number(-5, 1).to_string(), "-0.5");
        assert_eq!(scaled_number(12, 1).to_string(), "1.2");
    }

    #[test]
    fn iso_matches_to_iso_string() {
        assert_eq!(iso(1_646_809_575), "2022-03-09T07:06:15.000Z");
        assert_eq!(iso(2_594_640_737), "2052-03-21T13:32:17.000Z");
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
    }
}
