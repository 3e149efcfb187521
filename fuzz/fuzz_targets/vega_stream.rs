//! The Vega driver's JSON stream re-assembly and message parsing: bytes in
//! WebSocket frames of any size.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meterhub_driver_vega::json_stream::{JsonStream, Piece};
use meterhub_driver_vega::protocol;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, rest)) = data.split_first() else { return };
    let mut stream = JsonStream::default();
    for piece in rest.chunks(usize::from(chunk % 128) + 1) {
        for cut in stream.push(piece, 64 * 1024) {
            if let Piece::Value(bytes) = cut {
                let _ = protocol::object::<protocol::Envelope>(&bytes);
            }
        }
    }
});
