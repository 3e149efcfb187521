//! The lw640 driver: any body on any ChirpStack or The Things Stack HTTP
//! target, any MQTT message on any topic layout, and any answer of The
//! Things Stack's Storage Integration on the back-fill's fetch session;
//! every commit it asks for is answered, as the host does.
//!
//! Input: a mode byte (HTTP, MQTT, storage), a byte choosing the target or
//! topic, then the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meterhub_driver_lw640::Lw640;
use meterhub_plugin_api::{
    Action, Committed, Event, Fetched, HttpRequest, HttpResponse, Message, Plugin, Transport,
};

const NOW: i64 = 1_795_255_200_000;
const TARGETS: [&str; 6] = ["/?event=up", "/?event=join", "/?event=status", "/?event=txack", "/tts", "/?event=rx"];
const TOPICS: [&str; 5] = [
    "application/17c82e96-be03-4f38-aef3-f83d48582d97/device/0101010101010101/event/up",
    "application/1/device/0101010101010101/event/status",
    "v3/app1@ttn/devices/dev1/up",
    "v3/app1/devices/dev1/join",
    "eu868/gateway/0016c001f153a14c/event/up",
];

/// Answer every commit among `actions` as stored, and what that brings.
fn settle(plugin: &mut Lw640, session: u64, actions: Vec<Action>) {
    let mut queue = actions;
    let mut seq = 1;
    while let Some(action) = queue.pop() {
        if let Action::Commit(commit) = action {
            seq += 1;
            queue.extend(plugin.handle(session, NOW, Event::Committed(Committed { token: commit.token, seq })));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let [mode, choice, body @ ..] = data else { return };
    match mode % 3 {
        0 => {
            let Ok(mut p) = Lw640::init(r#"{"allow_unauthenticated": true}"#) else { return };
            p.handle(1, NOW, Event::Opened { transport: Transport::Http, peer: "192.0.2.1:1".into() });
            let target = TARGETS[usize::from(*choice) % TARGETS.len()];
            let request =
                HttpRequest { method: "POST".into(), target: target.into(), headers: Vec::new(), body: body.to_vec() };
            let actions = p.handle(1, NOW, Event::Request(request));
            settle(&mut p, 1, actions);
        }
        1 => {
            let Ok(mut p) = Lw640::init("{}") else { return };
            p.handle(1, NOW, Event::Opened { transport: Transport::Mqtt, peer: "mqtt://broker".into() });
            let topic = TOPICS[usize::from(*choice) % TOPICS.len()];
            let actions = p.handle(1, NOW, Event::Message(Message { topic: topic.into(), payload: body.to_vec() }));
            settle(&mut p, 1, actions);
        }
        _ => {
            let settings = r#"{"server": "tts-v3", "backfill_applications": ["app1"], "backfill_page": 2}"#;
            let Ok(mut p) = Lw640::init(settings) else { return };
            let opened = p.handle(1, NOW, Event::Opened { transport: Transport::Fetch, peer: "https://tts".into() });
            let Some(id) = opened.iter().find_map(|a| match a {
                Action::Fetch(f) => Some(f.id),
                _ => None,
            }) else {
                return;
            };
            let status = if *choice < 250 { 200 } else { 400 + u16::from(*choice) };
            let response = HttpResponse { status, content_type: "text/event-stream".into(), body: body.to_vec() };
            let actions = p.handle(1, NOW, Event::Fetched(Fetched { id, response: Ok(response) }));
            settle(&mut p, 1, actions);
        }
    }
});
