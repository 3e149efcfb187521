//! The rbgu driver: any byte stream on a TCP session under each framing
//! profile, cut into chunks where the input says, with every commit it
//! asks for answered and the peer hanging up at the end.
//!
//! Input: a profile byte, a chunk-size byte, then the stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meterhub_driver_rbgu::Rbgu;
use meterhub_plugin_api::{Action, Committed, Event, Plugin, Transport};

const NOW: i64 = 1_795_255_200_000;
const PROFILES: [&str; 4] = [
    r#"{"framing": "wrapper"}"#,
    r#"{"framing": "hdlc"}"#,
    r#"{"framing": "stuffed"}"#,
    r#"{"framing": "stuffed", "stuffed_start": 192, "stuffed_end": 194, "stuffed_escaped_start": 222, "max_frame_bytes": 64}"#,
];

fn answer(plugin: &mut Rbgu, actions: Vec<Action>, seq: &mut u64) {
    let mut queue = actions;
    while let Some(action) = queue.pop() {
        if let Action::Commit(commit) = action {
            *seq += 1;
            queue.extend(plugin.handle(1, NOW, Event::Committed(Committed { token: commit.token, seq: *seq })));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let [profile, chunk, stream @ ..] = data else { return };
    let Ok(mut p) = Rbgu::init(PROFILES[usize::from(*profile) % PROFILES.len()]) else { return };
    let mut seq = 0;
    let opened = p.handle(1, NOW, Event::Opened { transport: Transport::Tcp, peer: "192.0.2.1:1".into() });
    answer(&mut p, opened, &mut seq);
    for piece in stream.chunks(usize::from(*chunk).max(1)) {
        let actions = p.handle(1, NOW, Event::Data(piece.to_vec()));
        answer(&mut p, actions, &mut seq);
    }
    let _ = p.handle(1, NOW, Event::Closed);
});
