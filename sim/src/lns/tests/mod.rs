//! Unit tests of the LNS simulator: the bodies read the way meterhub's
//! lw640 driver reads them ([`bodies`]), times and ids ([`clock`]), the
//! behaviours and their counts ([`traffic`]), both transports against
//! a small HTTP receiver and a small MQTT broker in the test
//! ([`transport`]), and The Things Stack's storage API over loopback
//! ([`storage`]).

mod bodies;
mod clock;
mod storage;
mod traffic;
mod transport;

use base64::Engine as _;
use serde_json::Value;

use super::{Encoding, Options, Outgoing, Server, Stamp, Target, Traffic};

/// Options for `server` with 3 devices under seed 7, joining at start
/// (so their first frame counter is 0).
fn options(server: Server) -> Options {
    Options { server, devices: 3, seed: 7, joins: true, ..Options::default() }
}

/// The events of device 0's first uplink at `at`.
fn first_uplink(options: &Options, at: Stamp) -> (Traffic, Vec<Outgoing>) {
    let mut traffic = Traffic::new(options);
    let events = traffic.slot(0, at);
    (traffic, events)
}

fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)))
}

fn unbase64(text: &Value) -> Vec<u8> {
    let text = text.as_str().unwrap_or_else(|| panic!("not a string: {text}"));
    base64::engine::general_purpose::STANDARD.decode(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn is_hex(text: &str, len: usize, upper: bool) -> bool {
    text.len() == len
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || if upper { (b'A'..=b'F').contains(&b) } else { (b'a'..=b'f').contains(&b) })
}

fn is_uuid(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && parts.iter().all(|p| is_hex(p, p.len(), false))
}

/// 2022-07-18T09:34:15.775Z, the time of ChirpStack's documented `up`.
fn documented_time() -> Stamp {
    Stamp::from_ms(1_658_136_855_775)
}

#[test]
fn options_that_cannot_work_are_refused_by_name() {
    let refused = |options: Options| super::Lns::new(options).unwrap_err().to_string();
    let e = refused(Options { encoding: Encoding::Protobuf, ..options(Server::ChirpstackV3) });
    assert_eq!(e, "option --encoding: protobuf is ChirpStack v4's only; chirpstack-v3 sends JSON");
    let e = refused(Options { status_every: 2, ..options(Server::TtsV3) });
    assert_eq!(e, "option --status-every: The Things Stack v3 has no device-status event");
    let e = refused(Options { fast: true, ..options(Server::ChirpstackV4) });
    assert!(e.starts_with("option --fast: needs --rounds or --count"), "{e}");
    let e = refused(Options { devices: 0, ..options(Server::ChirpstackV4) });
    assert_eq!(e, "option --devices: must be at least 1");
    let mqtt = |prefix: &str| Target::Mqtt {
        url: "mqtt://127.0.0.1:1883".into(),
        topic_prefix: Some(prefix.into()),
        username: None,
        password: None,
    };
    let e = refused(Options { target: mqtt("eu868"), ..options(Server::TtsV3) });
    assert!(e.starts_with("option --topic-prefix: The Things Stack's MQTT server has a fixed layout"), "{e}");
    let e = refused(Options { target: mqtt("a/+/b"), ..options(Server::ChirpstackV4) });
    assert_eq!(e, "option --topic-prefix: \"a/+/b\" is not a topic prefix");
    let http =
        |url: &str| Target::Http { url: url.into(), auth: None, auth_header: "Authorization".into(), connections: 1 };
    let e = refused(Options { target: http("https://lns.example/"), ..options(Server::ChirpstackV4) });
    assert_eq!(e, "HTTP URL \"https://lns.example/\": https is not supported by the simulator; use http://");
    let e = refused(Options { target: http("127.0.0.1:7010"), ..options(Server::ChirpstackV4) });
    assert!(e.starts_with("HTTP URL \"127.0.0.1:7010\": "), "{e}");
    let e = refused(Options {
        target: Target::Mqtt { url: "mqtts://broker:8883".into(), topic_prefix: None, username: None, password: None },
        ..options(Server::ChirpstackV4)
    });
    assert_eq!(e, "MQTT broker URL \"mqtts://broker:8883\": TLS is not supported by the simulator; use mqtt://");
    let e = refused(Options { application: "Water Meters".into(), ..options(Server::TtsV3) });
    assert!(e.starts_with("option application: \"Water Meters\" is not a The Things Stack id"), "{e}");
}
