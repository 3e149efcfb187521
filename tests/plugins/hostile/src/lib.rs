//! A hostile codec for isolation tests. It decodes frames of the listener
//! (one JSON reading: device, channel, ts as integer ms, value as string),
//! and misbehaves when the reading's device says so:
//!
//! - `loop`: spins forever (the host's call time limit must interrupt it);
//! - `trap`: panics (a trap in WASM; the instance must be discarded);
//! - `hog`: allocates memory until it fails (the memory cap must stop it).
//!
//! Anything else decodes normally, so tests can see the plugin recover.

use meterhub_plugin_api::{DecodeError, Decoded, Plugin, PluginInfo, RawFrame, Reading, ReadingKind, Role};

/// The hostile codec; it keeps no state.
pub struct Hostile;

fn field<'a>(v: &'a serde_json::Value, name: &str) -> Result<&'a serde_json::Value, DecodeError> {
    v.get(name).ok_or_else(|| DecodeError::new(format!("field {name:?}: missing")))
}

impl Plugin for Hostile {
    fn info() -> PluginInfo {
        PluginInfo { id: "hostile".into(), version: env!("CARGO_PKG_VERSION").into(), roles: vec![Role::Codec] }
    }

    fn init(_settings_json: &str) -> Result<Self, String> {
        Ok(Hostile)
    }

    fn decode(&mut self, frame: &RawFrame) -> Result<Decoded, DecodeError> {
        let v: serde_json::Value =
            serde_json::from_slice(&frame.payload).map_err(|e| DecodeError::new(format!("invalid JSON: {e}")))?;
        let device = field(&v, "device")?.as_str().unwrap_or_default().to_owned();
        match device.as_str() {
            "loop" => {
                let mut spins: u64 = 0;
                loop {
                    spins = std::hint::black_box(spins.wrapping_add(1));
                }
            }
            "trap" => panic!("hostile codec: trap on purpose"),
            "hog" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            _ => {}
        }
        let value = field(&v, "value")?
            .to_string()
            .trim_matches('"')
            .parse()
            .map_err(|e| DecodeError::new(format!("field \"value\": {e}")))?;
        let reading = Reading {
            device,
            channel: field(&v, "channel")?.as_str().unwrap_or_default().to_owned(),
            ts_ms: field(&v, "ts")?.as_i64().ok_or_else(|| DecodeError::new("field \"ts\": not an integer"))?,
            value,
            unit: String::new(),
            kind: ReadingKind::Instantaneous,
        };
        Ok(Decoded { readings: vec![reading], telemetry: Vec::new() })
    }
}

meterhub_plugin_api::export_plugin!(Hostile);
