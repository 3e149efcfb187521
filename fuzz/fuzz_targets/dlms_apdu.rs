//! The DLMS codec: any APDU as a committed push, with keys configured for
//! the system title the fuzzer may hit (so ciphered frames reach the
//! cipher and, rarely, the plaintext layers), self-describing or laid out.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meterhub_codec_dlms::DlmsCodec;
use meterhub_plugin_api::{Plugin, RawFrame, Transport};

const SETTINGS: &str = include_str!("../../plugins/dlms-codec/settings.example.json");

fuzz_target!(|data: &[u8]| {
    let Ok(mut codec) = DlmsCodec::init(SETTINGS) else { return };
    let frame = RawFrame {
        seq: 1,
        source: "fuzz".into(),
        peer: "fuzz".into(),
        received_at_ms: 1_763_719_200_000,
        transport: Transport::Tcp,
        content_type: "application/vnd.dlms.apdu".into(),
        meta: vec![("dlms.system_title".into(), "4D48420000000002".into())],
        payload: data.to_vec(),
    };
    let _ = codec.decode(&frame);
});
