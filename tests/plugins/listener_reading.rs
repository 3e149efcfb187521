//! Shared by the fixture codecs (`#[path]`-included): one listener JSON
//! reading (device, channel, ts as integer ms, value as string) in, one
//! reading out. The fixtures look at the device first to misbehave.

use meterhub_plugin_api::{DecodeError, Decoded, Reading, ReadingKind};

fn field<'a>(v: &'a serde_json::Value, name: &str) -> Result<&'a serde_json::Value, DecodeError> {
    v.get(name).ok_or_else(|| DecodeError::new(format!("field {name:?}: missing")))
}

/// The payload as JSON and its device.
pub fn parse(payload: &[u8]) -> Result<(serde_json::Value, String), DecodeError> {
    let v: serde_json::Value =
        serde_json::from_slice(payload).map_err(|e| DecodeError::new(format!("invalid JSON: {e}")))?;
    let device = field(&v, "device")?.as_str().unwrap_or_default().to_owned();
    Ok((v, device))
}

/// The one reading of `v`, from `device`.
pub fn decode(v: &serde_json::Value, device: String) -> Result<Decoded, DecodeError> {
    let value = field(v, "value")?
        .to_string()
        .trim_matches('"')
        .parse()
        .map_err(|e| DecodeError::new(format!("field \"value\": {e}")))?;
    let reading = Reading {
        device,
        channel: field(v, "channel")?.as_str().unwrap_or_default().to_owned(),
        ts_ms: field(v, "ts")?.as_i64().ok_or_else(|| DecodeError::new("field \"ts\": not an integer"))?,
        value,
        unit: String::new(),
        kind: ReadingKind::Instantaneous,
    };
    Ok(Decoded { readings: vec![reading], ..Decoded::default() })
}
