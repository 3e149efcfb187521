//! A hostile codec for isolation tests. It decodes frames of the listener
//! (one JSON reading: device, channel, ts as integer ms, value as string),
//! and misbehaves when the reading's device says so:
//!
//! - `loop`: spins forever (the host's call time limit must interrupt it);
//! - `trap`: panics (a trap in WASM; the instance must be discarded);
//! - `hog`: allocates memory until it fails (the memory cap must stop it).
//!
//! Anything else decodes normally, so tests can see the plugin recover.

use meterhub_plugin_api::{DecodeError, Decoded, Plugin, RawFrame};

#[path = "../../listener_reading.rs"]
mod listener_reading;

/// The hostile codec; it keeps no state.
pub struct Hostile;

impl Plugin for Hostile {
    fn init(_settings_json: &str) -> Result<Self, String> {
        Ok(Hostile)
    }

    fn decode(&mut self, frame: &RawFrame) -> Result<Decoded, DecodeError> {
        let (v, device) = listener_reading::parse(&frame.payload)?;
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
        listener_reading::decode(&v, device)
    }
}

meterhub_plugin_api::export_plugin!(Hostile);
