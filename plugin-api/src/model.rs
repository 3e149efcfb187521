//! The data model every role shares: raw frames, readings, module telemetry.

use serde::{Deserialize, Serialize};

/// Exact decimal used for every value a bill may be computed from.
pub use rust_decimal::Decimal;

/// What a reading's value means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadingKind {
    /// A register that only grows (energy, volume); deltas are computed from it.
    Cumulative,
    /// A value at an instant (temperature, pressure, power).
    Instantaneous,
    /// A discrete state (valve open, tamper, alarm) coded as a number.
    State,
}

impl ReadingKind {
    /// The name used in JSON and configs.
    pub fn as_str(self) -> &'static str {
        match self {
            ReadingKind::Cumulative => "cumulative",
            ReadingKind::Instantaneous => "instantaneous",
            ReadingKind::State => "state",
        }
    }

    /// Parse the name used in JSON and configs.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "cumulative" => Some(ReadingKind::Cumulative),
            "instantaneous" => Some(ReadingKind::Instantaneous),
            "state" => Some(ReadingKind::State),
            _ => None,
        }
    }
}

/// One measured value of one channel of one meter.
///
/// Its natural key is `(device, channel, ts_ms)`: a repeat with the same key
/// and value is a duplicate, with another value a conflict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reading {
    /// Meter identity, unique within the installation.
    pub device: String,
    /// Channel of the meter (e.g. `volume`, `energy-t1`).
    pub channel: String,
    /// Device timestamp, milliseconds since the Unix epoch, UTC.
    pub ts_ms: i64,
    /// The value, exact.
    #[serde(with = "rust_decimal::serde::str")]
    pub value: Decimal,
    /// Unit of the value; empty when dimensionless.
    pub unit: String,
    /// What the value means.
    pub kind: ReadingKind,
}

/// Health of a communication module at a moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Telemetry {
    /// Module identity (e.g. DevEUI).
    pub module: String,
    /// When the module reported it, milliseconds since the Unix epoch, UTC.
    pub ts_ms: i64,
    /// Battery charge, percent.
    pub battery_pct: Option<u8>,
    /// Received signal strength, dBm.
    pub rssi_dbm: Option<i32>,
    /// Signal to noise ratio, dB.
    pub snr_db: Option<f32>,
    /// The module's frame counter.
    pub frame_counter: Option<u32>,
}

/// How a frame reached the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// A TCP stream accepted by the host.
    Tcp,
    /// An HTTP request to the host's ingress.
    Http,
    /// A WebSocket connection the host opened.
    Websocket,
    /// A message from an MQTT broker the host subscribed to.
    Mqtt,
    /// The instance's fetch session: HTTP requests the host makes for the
    /// driver to the upstream API configured in `[drivers.<id>.fetch]`
    /// (e.g. a network server's history, for back-fill).
    Fetch,
}

impl Transport {
    /// The name used in configs and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Http => "http",
            Transport::Websocket => "websocket",
            Transport::Mqtt => "mqtt",
            Transport::Fetch => "fetch",
        }
    }
}

/// A raw frame as committed to the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawFrame {
    /// Global journal sequence number.
    pub seq: u64,
    /// Driver instance that produced the frame.
    pub source: String,
    /// Remote peer (address or URL).
    pub peer: String,
    /// When the host received it, milliseconds since the Unix epoch, UTC.
    pub received_at_ms: i64,
    /// How it arrived.
    pub transport: Transport,
    /// Driver-defined content type.
    pub content_type: String,
    /// Driver-defined metadata.
    pub meta: Vec<(String, String)>,
    /// The bytes exactly as received.
    pub payload: Vec<u8>,
}

impl RawFrame {
    /// The value of metadata key `key`, if the driver set it.
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.meta.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// What a codec made of a frame.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Decoded {
    /// Meter readings.
    pub readings: Vec<Reading>,
    /// Communication module telemetry.
    pub telemetry: Vec<Telemetry>,
    /// The decoded fields as the device vendor names them, a JSON object
    /// text, for people checking payloads (`meterhub codec decode`); not
    /// archived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<String>,
}

/// Why a frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecodeError {
    /// Human-readable cause naming the offending field or byte.
    pub reason: String,
}

impl DecodeError {
    /// A decode error with this reason.
    pub fn new(reason: impl Into<String>) -> Self {
        DecodeError { reason: reason.into() }
    }
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for DecodeError {}
