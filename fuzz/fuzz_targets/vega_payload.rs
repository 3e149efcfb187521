//! The Vega device decoders: any payload on any port for every model, and
//! the uplink envelope.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meterhub_codec_vega::{fields, frame, models, settings_packet, time_packet};
use meterhub_plugin_api::{RawFrame, Transport};

fuzz_target!(|data: &[u8]| {
    let [model, fport, bytes @ ..] = data else { return };
    let model = models::ALL[usize::from(*model) % models::ALL.len()];
    let _ = fields::decode_packet(model, *fport, bytes);
    let _ = settings_packet::decode(model, bytes);
    let _ = time_packet::decode(model, bytes);
    let envelope = RawFrame {
        seq: 1,
        source: "fuzz".into(),
        peer: "fuzz".into(),
        received_at_ms: 1_763_719_200_000,
        transport: Transport::Websocket,
        content_type: frame::VEGA_UPLINK_JSON.into(),
        meta: Vec::new(),
        payload: bytes.to_vec(),
    };
    let _ = frame::parse(&envelope);
});
