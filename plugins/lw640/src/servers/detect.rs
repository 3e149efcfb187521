//! Which reader a request or an MQTT message goes to.
//!
//! - A request: binary Protobuf (by content type) is ChirpStack v4's; a
//!   JSON body goes to the configured server, or with `server = "auto"` to
//!   the one its shape tells (`deviceInfo`: ChirpStack v4; `devEUI` or
//!   `applicationID`: ChirpStack v3; `end_device_ids`: The Things Stack).
//!   ChirpStack names the event in `?event=`; The Things Stack in the
//!   body's top-level key.
//! - An MQTT message: its topic's layout ([`crate::topic`]) says ChirpStack
//!   or The Things Stack; a ChirpStack payload is JSON when it starts with
//!   `{` (after white space), then v4 or v3 by its shape as above, and
//!   otherwise ChirpStack v4's binary Protobuf; the event is the topic's.
//!   A The Things Stack payload is JSON, its message key the one the
//!   topic's kind carries. A fixed `server` setting must agree with the
//!   topic's layout.

use crate::envelope::{Envelope, Server};
use crate::error::topic_snippet;
use crate::error::{Refusal, snippet};
use crate::json::{self, Obj};
use crate::servers::{chirpstack_v3, chirpstack_v4, chirpstack_v4_proto, tts};
use crate::settings::ServerChoice;

/// The events ChirpStack v4 posts, by `?event=`, and publishes, as the
/// topic's last level.
pub const CHIRPSTACK_V4_EVENTS: [&str; 8] = ["up", "join", "status", "ack", "txack", "log", "location", "integration"];

/// The events ChirpStack Application Server v3 posts, by `?event=`, and
/// publishes, as the topic's last level.
pub const CHIRPSTACK_V3_EVENTS: [&str; 7] = ["up", "join", "status", "ack", "txack", "error", "location"];

/// Media types read as binary Protobuf.
const PROTOBUF_TYPES: [&str; 3] = ["application/octet-stream", "application/protobuf", "application/x-protobuf"];

/// One request as the readers see it.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    /// Path and query.
    pub target: &'a str,
    /// The `content-type` header, if any.
    pub content_type: Option<&'a str>,
    /// The body.
    pub body: &'a [u8],
}

/// Read `incoming` as `choice` says.
pub fn read(choice: ServerChoice, incoming: Incoming<'_>) -> Result<Envelope, Refusal> {
    if incoming.content_type.is_some_and(is_protobuf) {
        return match choice {
            ServerChoice::Auto | ServerChoice::Fixed(Server::ChirpstackV4) => {
                let event = event_kind(Server::ChirpstackV4, incoming.target)?;
                chirpstack_v4_proto::read(event, incoming.body)
            }
            ServerChoice::Fixed(server) => Err(Refusal::EncodingUnsupported {
                content_type: snippet(incoming.content_type.unwrap_or_default()),
                server: server.title(),
            }),
        };
    }
    let top = json::parse_object(incoming.body)?;
    let server = match choice {
        ServerChoice::Auto => shape(&top)?,
        ServerChoice::Fixed(server) => server,
    };
    match server {
        Server::ChirpstackV4 => chirpstack_v4::read(event_kind(server, incoming.target)?, &top),
        Server::ChirpstackV3 => chirpstack_v3::read(event_kind(server, incoming.target)?, &top),
        Server::TtsV3 => tts::read(&top),
    }
}

/// Read the payload of an MQTT message on ChirpStack topic `topic`, whose
/// last level is `event`, as `choice` says.
pub fn read_chirpstack_message(
    choice: ServerChoice,
    topic: &str,
    event: &str,
    payload: &[u8],
) -> Result<Envelope, Refusal> {
    const LAYOUT: &str = "ChirpStack";
    let disagrees = |by, server: Server| Refusal::TopicServer {
        topic: topic_snippet(topic),
        layout: LAYOUT,
        by,
        server: server.title(),
    };
    if choice == ServerChoice::Fixed(Server::TtsV3) {
        return Err(disagrees(BY_SETTING, Server::TtsV3));
    }
    if !is_json_object(payload) {
        return match choice {
            ServerChoice::Fixed(Server::ChirpstackV3) => {
                Err(Refusal::PayloadNotJson { server: Server::ChirpstackV3.title() })
            }
            _ => chirpstack_v4_proto::read(topic_event(Server::ChirpstackV4, topic, event)?, payload),
        };
    }
    let top = json::parse_object(payload)?;
    let server = match choice {
        ServerChoice::Auto => shape(&top)?,
        ServerChoice::Fixed(server) => server,
    };
    match server {
        Server::ChirpstackV4 => chirpstack_v4::read(topic_event(server, topic, event)?, &top),
        Server::ChirpstackV3 => chirpstack_v3::read(topic_event(server, topic, event)?, &top),
        Server::TtsV3 => Err(disagrees(BY_SHAPE, server)),
    }
}

/// Read the payload of an MQTT message on The Things Stack topic `topic`,
/// whose kind `kind` carries message key `key`, as `choice` says.
pub fn read_tts_message(
    choice: ServerChoice,
    topic: &str,
    (kind, key): (&'static str, &'static str),
    payload: &[u8],
) -> Result<Envelope, Refusal> {
    let disagrees = |by, server: Server| Refusal::TopicServer {
        topic: topic_snippet(topic),
        layout: Server::TtsV3.title(),
        by,
        server: server.title(),
    };
    if let ServerChoice::Fixed(server @ (Server::ChirpstackV4 | Server::ChirpstackV3)) = choice {
        return Err(disagrees(BY_SETTING, server));
    }
    if !is_json_object(payload) {
        return Err(Refusal::PayloadNotJson { server: Server::TtsV3.title() });
    }
    let top = json::parse_object(payload)?;
    if choice == ServerChoice::Auto
        && let Ok(server @ (Server::ChirpstackV4 | Server::ChirpstackV3)) = shape(&top)
    {
        return Err(disagrees(BY_SHAPE, server));
    }
    let (found, event) = tts::message(&top)?;
    if found != key {
        return Err(Refusal::TopicKind { topic: topic_snippet(topic), kind, expected: key, key: found });
    }
    tts::read_message(&top, found, event)
}

/// What says which server it is, in [`Refusal::TopicServer`].
const BY_SETTING: &str = "the server setting";
/// See [`BY_SETTING`].
const BY_SHAPE: &str = "the body's shape";

/// Whether an MQTT payload is read as JSON: its first byte after JSON
/// white space is `{`. (A Protobuf message starting with `{` would open
/// with a group, which proto3 has not; ChirpStack's start with field 1,
/// byte `0x0a`, and a length far from `{`: a 36-character id or a
/// timestamp.)
pub fn is_json_object(payload: &[u8]) -> bool {
    payload.iter().find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r')) == Some(&b'{')
}

/// Whether a content type names binary Protobuf (parameters ignored).
fn is_protobuf(content_type: &str) -> bool {
    let media = content_type.split(';').next().unwrap_or_default().trim();
    PROTOBUF_TYPES.iter().any(|t| media.eq_ignore_ascii_case(t))
}

/// The server a JSON body's shape tells.
fn shape(top: &Obj<'_>) -> Result<Server, Refusal> {
    if top.has("deviceInfo") {
        Ok(Server::ChirpstackV4)
    } else if top.has("devEUI") || top.has("applicationID") {
        Ok(Server::ChirpstackV3)
    } else if top.has("end_device_ids") {
        Ok(Server::TtsV3)
    } else {
        Err(Refusal::ServerUnknown)
    }
}

/// The event kinds ChirpStack `server` sends.
fn kinds(server: Server) -> &'static [&'static str] {
    match server {
        Server::ChirpstackV3 => &CHIRPSTACK_V3_EVENTS,
        _ => &CHIRPSTACK_V4_EVENTS,
    }
}

/// The event of a ChirpStack topic (its last level, `event`), as one of
/// `server`'s.
fn topic_event(server: Server, topic: &str, event: &str) -> Result<&'static str, Refusal> {
    let kinds = kinds(server);
    kinds.iter().find(|k| **k == event).copied().ok_or_else(|| Refusal::TopicEventUnknown {
        topic: topic_snippet(topic),
        kind: snippet(event),
        server: server.title(),
        expected: kinds.join(", "),
    })
}

/// The `?event=` kind of a ChirpStack request, as one of `server`'s.
fn event_kind(server: Server, target: &str) -> Result<&'static str, Refusal> {
    let kinds = kinds(server);
    let expected = || kinds.join(", ");
    let query = target.split_once('?').map(|(_, q)| q.split('#').next().unwrap_or_default()).unwrap_or_default();
    let mut values =
        query.split('&').filter_map(|pair| pair.strip_prefix("event=").or((pair == "event").then_some("")));
    let value = match (values.next(), values.next()) {
        (None, _) => return Err(Refusal::EventMissing { server: server.title(), expected: expected() }),
        (Some(_), Some(_)) => return Err(Refusal::EventRepeated),
        (Some(value), None) => value,
    };
    if value.is_empty() {
        return Err(Refusal::EventMissing { server: server.title(), expected: expected() });
    }
    kinds.iter().find(|k| **k == value).copied().ok_or_else(|| Refusal::EventUnknown {
        kind: snippet(value),
        server: server.title(),
        expected: expected(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_kinds_from_the_query() {
        let v4 = Server::ChirpstackV4;
        assert_eq!(event_kind(v4, "/lw?event=up"), Ok("up"));
        assert_eq!(event_kind(v4, "/lw?token=x&event=txack#frag"), Ok("txack"));
        assert_eq!(event_kind(Server::ChirpstackV3, "/?event=error"), Ok("error"));
        assert!(matches!(event_kind(v4, "/?event=error"), Err(Refusal::EventUnknown { .. })));
        assert!(matches!(event_kind(v4, "/lw"), Err(Refusal::EventMissing { .. })));
        assert!(matches!(event_kind(v4, "/lw?event="), Err(Refusal::EventMissing { .. })));
        assert!(matches!(event_kind(v4, "/lw?events=up"), Err(Refusal::EventMissing { .. })));
        assert_eq!(event_kind(v4, "/?event=up&event=up"), Err(Refusal::EventRepeated));
    }

    #[test]
    fn json_by_the_first_byte() {
        assert!(is_json_object(b"{}"));
        assert!(is_json_object(b" \r\n\t{\"a\": 1"));
        assert!(!is_json_object(b""));
        assert!(!is_json_object(b"[{}]"));
        assert!(!is_json_object(b"\xef\xbb\xbf{}"), "a byte-order mark is not JSON white space");
        assert!(!is_json_object(&[0x12, 0x22, 0x0a]));
    }

    #[test]
    fn topic_events_are_the_servers() {
        let topic = "application/1/device/0202020202020202/event/log";
        assert_eq!(topic_event(Server::ChirpstackV4, topic, "log"), Ok("log"));
        let e = topic_event(Server::ChirpstackV3, topic, "log").unwrap_err().to_string();
        assert_eq!(
            e,
            "topic \"application/1/device/0202020202020202/event/log\": unknown event \"log\" for ChirpStack v3; expected one of up, join, status, ack, txack, error, location"
        );
    }

    #[test]
    fn protobuf_by_media_type() {
        assert!(is_protobuf("application/octet-stream"));
        assert!(is_protobuf("Application/X-Protobuf; charset=binary"));
        assert!(!is_protobuf("application/json"));
        assert!(!is_protobuf(""));
    }
}
