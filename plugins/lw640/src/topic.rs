//! MQTT topics: which server's layout a topic has, and what it says of
//! the device and the event.
//!
//! - **ChirpStack v4**: `application/{application_id}/device/{dev_eui}/event/{event}`
//!   by default, the `event_topic` template of its MQTT integration, which
//!   an operator may change (`chirpstack/chirpstack`,
//!   `chirpstack/src/integration/mqtt.rs` @ `582cf9f2`, renders it with
//!   `application_id`, `dev_eui` and `event`; `chirpstack/chirpstack-docs`,
//!   `src/chirpstack/integrations/mqtt.md` @ `294ad954`, gives the default).
//!   Every event goes there; early v4 releases published `join`, `status`
//!   and `location` as retained `.../state/{state}` messages instead
//!   (`mqtt.rs` @ `0d4003a2`), which this layout does not read.
//! - **ChirpStack Application Server v3**: the same default,
//!   `event_topic_template` `application/{{ .ApplicationID }}/device/{{ .DevEUI }}/event/{{ .EventType }}`
//!   (`brocaar/chirpstack-application-server`,
//!   `cmd/chirpstack-application-server/cmd/root.go` @ `b83e65bc`; the
//!   event types in `internal/integration/mqtt/mqtt.go` @ `15d99f46`).
//!   Its older per-event templates (`.../rx`, `.../join` without
//!   `event/`) are not read.
//!
//!   So a ChirpStack topic is matched by its last four levels,
//!   `device/{dev_eui}/event/{event}`, after any prefix; v4 or v3 is told
//!   by the payload ([`crate::servers::detect`]).
//! - **The Things Stack v3** MQTT server:
//!   `v3/{application_id}@{tenant_id}/devices/{device_id}/{kind}`, without
//!   `@{tenant_id}` on The Things Stack Open Source, `kind` one of
//!   [`TOPIC_KINDS`] (sources there).
//!
//! A topic of another layout is refused, naming the layouts expected.

use crate::error::{Refusal, topic_snippet};
use crate::fields::Eui;
use crate::servers::tts::TOPIC_KINDS;

/// What a topic says, by layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic<'a> {
    /// ChirpStack (v4 or v3): `.../device/{dev_eui}/event/{event}`.
    Chirpstack {
        /// The topic's DevEUI.
        dev_eui: Eui,
        /// Its last level, as given (checked against the server's events
        /// once the payload tells v4 from v3).
        event: &'a str,
    },
    /// The Things Stack v3: `v3/{application_id}[@{tenant_id}]/devices/{device_id}/{kind}`.
    Tts {
        /// The device id level.
        device_id: &'a str,
        /// The kind (`up`, `down/ack`, ...) and the message key it carries.
        kind: (&'static str, &'static str),
    },
}

/// The layout of `topic` and what it says; a topic of no known layout, a
/// DevEUI level that is not one and an unknown The Things Stack kind are
/// refused.
pub fn parse(topic: &str) -> Result<Topic<'_>, Refusal> {
    if let Some(tts) = tts(topic)? {
        return Ok(tts);
    }
    // Levels from the end: event, "event", DevEUI, "device", then the
    // prefix (if any) as one.
    let levels: Vec<&str> = topic.rsplitn(5, '/').collect();
    match levels[..] {
        [event, "event", dev_eui, "device", ..] if !event.is_empty() => {
            let dev_eui = Eui::from_hex(dev_eui)
                .map_err(|problem| Refusal::TopicDevEui { topic: topic_snippet(topic), problem })?;
            Ok(Topic::Chirpstack { dev_eui, event })
        }
        _ => Err(Refusal::TopicUnknown { topic: topic_snippet(topic) }),
    }
}

/// A The Things Stack topic: `None` when `topic` does not have the layout.
fn tts(topic: &str) -> Result<Option<Topic<'_>>, Refusal> {
    let levels: Vec<&str> = topic.splitn(5, '/').collect();
    let ["v3", application, "devices", device_id, kind] = levels[..] else { return Ok(None) };
    if application.is_empty() || device_id.is_empty() {
        return Ok(None);
    }
    match TOPIC_KINDS.iter().find(|(k, _)| *k == kind) {
        Some(&kind) => Ok(Some(Topic::Tts { device_id, kind })),
        None => Err(Refusal::TopicEventUnknown {
            topic: topic_snippet(topic),
            kind: crate::error::snippet(kind),
            server: crate::envelope::Server::TtsV3.title(),
            expected: TOPIC_KINDS.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", "),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chirpstack(topic: &str) -> (String, &str) {
        match parse(topic) {
            Ok(Topic::Chirpstack { dev_eui, event }) => (dev_eui.hex(), event),
            other => panic!("{topic}: {other:?}"),
        }
    }

    #[test]
    fn chirpstack_topics_by_their_last_four_levels() {
        let v4 = "application/17c82e96-be03-4f38-aef3-f83d48582d97/device/0101010101010a0b/event/up";
        assert_eq!(chirpstack(v4), ("0101010101010A0B".to_owned(), "up"));
        assert_eq!(chirpstack("application/123/device/0202020202020202/event/error").1, "error");
        assert_eq!(chirpstack("eu868/lora/device/0202020202020202/event/txack").1, "txack", "a custom prefix");
        assert_eq!(chirpstack("device/0202020202020202/event/join").1, "join", "no prefix");
        assert_eq!(chirpstack("device/0202020202020202/event/foo").1, "foo", "checked later, per server");
        let e = parse("application/1/device/0202/event/up").unwrap_err();
        assert_eq!(
            e.to_string(),
            "topic \"application/1/device/0202/event/up\": the DevEUI level \"0202\" is not 16 hex digits"
        );
    }

    #[test]
    fn tts_topics_with_or_without_tenant() {
        let parsed = parse("v3/app1@ttn/devices/dev1/down/ack").unwrap();
        assert_eq!(parsed, Topic::Tts { device_id: "dev1", kind: ("down/ack", "downlink_ack") });
        let parsed = parse("v3/app1/devices/eui-70b3d57ed0000001/up").unwrap();
        assert_eq!(parsed, Topic::Tts { device_id: "eui-70b3d57ed0000001", kind: ("up", "uplink_message") });
        let e = parse("v3/app1/devices/dev1/down/push").unwrap_err().to_string();
        assert!(e.starts_with("topic \"v3/app1/devices/dev1/down/push\": unknown event \"down/push\" for The Things Stack v3; expected one of up, join, down/queued,"), "{e}");
    }

    #[test]
    fn other_layouts_are_refused_naming_the_expected_ones() {
        for topic in [
            "",
            "application/1/device/0202020202020202/event/",
            "application/1/device/0202020202020202/rx",
            "application/1/device/0202020202020202/state/status",
            "v3/app1/devices//up",
            "v3//devices/dev1/up",
            "v3/app1/device/dev1/up",
            "gateway/0016c001f153a14c/event/up",
        ] {
            let e = parse(topic).unwrap_err();
            assert!(matches!(e, Refusal::TopicUnknown { .. }), "{topic}: {e}");
            let e = e.to_string();
            assert!(e.contains(".../device/{dev_eui}/event/{event}") && e.contains("v3/{application_id}"), "{e}");
        }
    }
}
