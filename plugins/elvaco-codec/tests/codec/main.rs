//! The elvaco-codec tests, one binary (compile time on two cores):
//!
//! - [`fixtures`]: every uplink under `fixtures/` decoded through the
//!   `Plugin` trait and compared with its `.out.json` (rewritten with
//!   `METERHUB_BLESS=1`); the real vectors also against the decoded values
//!   their publisher printed, which no bless rewrites;
//! - [`plugin`]: identity, settings, envelope, telemetry, whose clock
//!   stamps the readings;
//! - [`robustness`]: every truncation of every vector, every single-byte
//!   change, and random payloads decode or fail with an error naming fPort
//!   and offset, never a panic.

mod fixtures;
mod plugin;
mod robustness;

use meterhub_codec_elvaco::ElvacoCodec;
use meterhub_plugin_api::lorawan::NEUTRAL_CONTENT_TYPE;
use meterhub_plugin_api::testing::FrameBuilder;
use meterhub_plugin_api::{Decoded, Plugin, RawFrame, Transport};
use serde_json::Value;

/// The test device (an illustrative DevEUI).
pub const DEV: &str = "94193A0301000001";
/// The network server's time of the test frames: 2025-10-16T09:05:00Z.
pub const SERVER_MS: i64 = 1_760_605_500_000;

/// A codec with `settings`.
pub fn codec(settings: &str) -> ElvacoCodec {
    ElvacoCodec::init(settings).unwrap_or_else(|e| panic!("settings {settings}: {e}"))
}

/// The neutral uplink frame of `payload` from [`DEV`] on `fport`,
/// received by the server at `ts_ms`, with link quality.
pub fn uplink(fport: u8, payload: &[u8], ts_ms: i64) -> RawFrame {
    FrameBuilder::new(payload)
        .source("lns")
        .peer("192.0.2.7:1700")
        .received_at_ms(ts_ms + 2_000)
        .transport(Transport::Http)
        .content_type(NEUTRAL_CONTENT_TYPE)
        .metas([
            ("deveui", DEV.to_owned()),
            ("fport", fport.to_string()),
            ("ts", ts_ms.to_string()),
            ("fcnt", "42".to_owned()),
            ("rssi", "-97".to_owned()),
            ("snr", "7.5".to_owned()),
            ("server", "chirpstack-v4".to_owned()),
        ])
        .build()
}

/// The fields object of a decoded frame.
pub fn fields(d: &Decoded) -> Value {
    serde_json::from_str(d.fields.as_deref().expect("fields are set")).expect("fields are JSON")
}

/// The readings as `"<device> <channel> <ts_ms> <value> <unit> <kind>"`.
pub fn readings(d: &Decoded) -> Vec<String> {
    d.readings
        .iter()
        .map(|r| format!("{} {} {} {} {} {}", r.device, r.channel, r.ts_ms, r.value, r.unit, r.kind.as_str()))
        .collect()
}
