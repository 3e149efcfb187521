//! The dlms-codec tests, one binary (compile time on two cores):
//!
//! - [`fixtures`]: every APDU under `fixtures/` decoded through the
//!   `Plugin` trait and compared with its `.out.json` (rewritten with
//!   `METERHUB_BLESS=1`): the public vectors and hand-made pushes;
//! - [`plugin`]: identity, the example settings, the envelope, the
//!   public vectors' parts named in the task;
//! - [`ciphered`]: pushes this test seals itself with known keys (every
//!   protection, readings exact), the public Austrian example's plaintext;
//! - [`robustness`]: every truncation, every changed byte of a ciphered
//!   push (never accepted), random payloads: an error naming an offset or
//!   the system title, never a panic.

mod ciphered;
mod fixtures;
mod plugin;
mod robustness;

use meterhub_codec_dlms::DlmsCodec;
use meterhub_codec_dlms::frame::META_SYSTEM_TITLE;
use meterhub_plugin_api::testing::FrameBuilder;
use meterhub_plugin_api::{Decoded, Plugin, RawFrame};
use serde_json::Value;

/// The test meter's system title (illustrative: "MHB" and a serial).
pub const TITLE: &str = "4D48420000000001";
/// When the host received the test frames: 2026-03-01T00:05:00Z.
pub const RECEIVED_MS: i64 = 1_772_323_500_000;

/// A codec with `settings`.
pub fn codec(settings: &str) -> DlmsCodec {
    DlmsCodec::init(settings).unwrap_or_else(|e| panic!("settings {settings}: {e}"))
}

/// The frame of `payload`, with meta `dlms.system_title` = `title` when given.
pub fn frame(payload: &[u8], title: Option<&str>) -> RawFrame {
    let builder = FrameBuilder::new(payload).source("meters").peer("192.0.2.9:4059").received_at_ms(RECEIVED_MS);
    match title {
        Some(title) => builder.meta(META_SYSTEM_TITLE, title).build(),
        None => builder.build(),
    }
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
