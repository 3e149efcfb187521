//! The Elvaco CMi4110 decoder: any FRMPayload on any fPort, as the neutral
//! LoRaWAN uplink frame the host hands a device codec.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meterhub_codec_elvaco::ElvacoCodec;
use meterhub_plugin_api::{Plugin, RawFrame, Transport, lorawan};

fuzz_target!(|data: &[u8]| {
    let [fport, bytes @ ..] = data else { return };
    let Ok(mut codec) = ElvacoCodec::init("{}") else { return };
    let frame = RawFrame {
        seq: 1,
        source: "fuzz".into(),
        peer: "fuzz".into(),
        received_at_ms: 1_763_719_200_000,
        transport: Transport::Http,
        content_type: lorawan::NEUTRAL_CONTENT_TYPE.into(),
        meta: vec![
            ("deveui".into(), "70B3D5E75E000001".into()),
            ("fport".into(), fport.to_string()),
            ("ts".into(), "1763719200000".into()),
        ],
        payload: bytes.to_vec(),
    };
    let _ = codec.decode(&frame);
});
