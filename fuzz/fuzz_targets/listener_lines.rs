//! The listener's line sessions: bytes in chunks of any size, as a TCP
//! stream or as WebSocket messages.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meterhub_driver_listener::lines::{Framing, LineLimits, LineSession};
use meterhub_driver_listener::reading::Clock;
use meterhub_plugin_api::Event;

fuzz_target!(|data: &[u8]| {
    let [framing, chunk, rest @ ..] = data else { return };
    let framing = if framing & 1 == 0 { Framing::Stream } else { Framing::Messages };
    let limits = LineLimits {
        clock: Clock { now_ms: 1_763_719_200_000, max_future_ms: 600_000 },
        max_line_bytes: 4096,
        validate: true,
    };
    let mut session = LineSession::new(framing);
    for piece in rest.chunks(usize::from(*chunk % 64) + 1) {
        let _ = session.handle(Event::Data(piece.to_vec()), limits);
    }
    let _ = session.handle(Event::Closed, limits);
});
