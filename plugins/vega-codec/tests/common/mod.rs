//! Helpers shared by the integration tests: a byte builder for hand-made
//! packets and a codec run through the `Plugin` trait.

#![allow(dead_code)]

use meterhub_codec_vega::VegaCodec;
use meterhub_plugin_api::testing::FrameBuilder;
use meterhub_plugin_api::{Decoded, Plugin, RawFrame, ReadingKind, Transport};
use serde_json::Value;

/// The test device.
pub const DEV: &str = "3632333364374F18";
/// The server time every test frame carries (2023-11-14T22:13:20Z).
pub const SERVER_MS: i64 = 1_700_000_000_000;
/// A device time distinct from the server's: 2023-11-14T22:15:23Z.
pub const T: u32 = 1_700_000_123;
/// [`T`] as `toISOString` prints it.
pub const T_ISO: &str = "2023-11-14T22:15:23.000Z";

/// Little-endian packet builder.
#[derive(Debug, Default, Clone)]
pub struct B(pub Vec<u8>);

impl B {
    pub fn new() -> Self {
        B(Vec::new())
    }
    pub fn u8(mut self, v: u8) -> Self {
        self.0.push(v);
        self
    }
    pub fn i8(self, v: i8) -> Self {
        self.u8(v as u8)
    }
    pub fn u16(mut self, v: u16) -> Self {
        self.0.extend(v.to_le_bytes());
        self
    }
    pub fn i16(mut self, v: i16) -> Self {
        self.0.extend(v.to_le_bytes());
        self
    }
    pub fn u32(mut self, v: u32) -> Self {
        self.0.extend(v.to_le_bytes());
        self
    }
    pub fn u64(mut self, v: u64) -> Self {
        self.0.extend(v.to_le_bytes());
        self
    }
    pub fn bytes(mut self, v: &[u8]) -> Self {
        self.0.extend_from_slice(v);
        self
    }
    pub fn build(self) -> Vec<u8> {
        self.0
    }
}

/// A codec with these settings.
pub fn codec(settings: &str) -> VegaCodec {
    VegaCodec::init(settings).unwrap_or_else(|e| panic!("init {settings}: {e}"))
}

/// A raw FRMPayload frame of [`DEV`] with meta `model`, `fport`, `ts`.
pub fn raw_frame(model: Option<&str>, port: u8, bytes: &[u8]) -> RawFrame {
    let frame = FrameBuilder::new(bytes)
        .source("vega")
        .peer("ws://vega.example")
        .received_at_ms(SERVER_MS + 5_000)
        .transport(Transport::Websocket)
        .content_type("application/octet-stream")
        .meta("fport", port.to_string())
        .meta("deveui", DEV.to_lowercase())
        .meta("ts", SERVER_MS.to_string());
    match model {
        Some(model) => frame.meta("model", model).build(),
        None => frame.build(),
    }
}

/// Decode `bytes` of `model` on `port` with `settings`.
pub fn run_with(settings: &str, model: &str, port: u8, bytes: &[u8]) -> Result<Decoded, String> {
    codec(settings).decode(&raw_frame(Some(model), port, bytes)).map_err(|e| e.reason)
}

/// Decode `bytes` of `model` on `port` with no settings.
pub fn run(model: &str, port: u8, bytes: &[u8]) -> Decoded {
    run_with("{}", model, port, bytes).unwrap_or_else(|e| panic!("{model} fPort {port}: {e}"))
}

/// The decode error for `bytes` of `model` on `port`.
pub fn fail(model: &str, port: u8, bytes: &[u8]) -> String {
    match run_with("{}", model, port, bytes) {
        Ok(d) => panic!("{model} fPort {port} {bytes:02x?} decoded: {:?}", d.fields),
        Err(e) => e,
    }
}

/// The fields object of a decoded frame.
pub fn fields(d: &Decoded) -> Value {
    serde_json::from_str(d.fields.as_deref().expect("fields are set")).expect("fields are JSON")
}

/// The readings as `"<device> <channel> <ts_ms> <value> <unit> <kind>"`
/// lines, for exact comparison.
pub fn readings(d: &Decoded) -> Vec<String> {
    d.readings
        .iter()
        .map(|r| {
            let kind = match r.kind {
                ReadingKind::Cumulative => "cumulative",
                ReadingKind::Instantaneous => "instantaneous",
                ReadingKind::State => "state",
            };
            format!("{} {} {} {} {} {kind}", r.device, r.channel, r.ts_ms, r.value, r.unit)
        })
        .collect()
}

/// One expected reading line (see [`readings`]).
pub fn line(device: &str, channel: &str, ts_ms: i64, value: &str, unit: &str, kind: &str) -> String {
    format!("{device} {channel} {ts_ms} {value} {unit} {kind}")
}

/// `DEV` with a suffix.
pub fn dev(suffix: &str) -> String {
    if suffix.is_empty() { DEV.to_owned() } else { format!("{DEV}.{suffix}") }
}

/// The device time [`T`] in ms.
pub const T_MS: i64 = T as i64 * 1000;
