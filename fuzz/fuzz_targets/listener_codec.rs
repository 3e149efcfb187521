//! The listener's codec on any frame: one reading or an array of them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meterhub_driver_listener::{codec, reading};
use meterhub_plugin_api::{RawFrame, Transport};

fuzz_target!(|data: &[u8]| {
    let Some((&choice, payload)) = data.split_first() else { return };
    let content_type = if choice & 1 == 0 { reading::CONTENT_TYPE } else { reading::BATCH_CONTENT_TYPE };
    let frame = RawFrame {
        seq: 1,
        source: "fuzz".into(),
        peer: "fuzz".into(),
        received_at_ms: 1_763_719_200_000,
        transport: Transport::Http,
        content_type: content_type.into(),
        meta: Vec::new(),
        payload: payload.to_vec(),
    };
    let _ = codec::decode(&frame, 600_000);
});
