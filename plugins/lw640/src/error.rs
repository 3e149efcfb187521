//! Why a request or an MQTT message is refused: one enum for every
//! refusal, with the HTTP status a request is answered with and the
//! details the JSON error body carries. Messages name what and where (the
//! header, the query parameter, the topic, the field path with its line
//! and column, the Protobuf message) and never the expected token.

use thiserror::Error;

/// A position in a JSON body, 1-based; the column counts bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Line.
    pub line: usize,
    /// Column (byte) within the line.
    pub column: usize,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {} column {}", self.line, self.column)
    }
}

/// A refused request or MQTT message. Every one is recorded by the host as
/// rejected, and a request is answered with [`Refusal::status`]; nothing of
/// it is committed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Refusal {
    /// Not a POST.
    #[error("method {method} not allowed; network servers push events with POST")]
    Method {
        /// The method, cut short.
        method: String,
    },
    /// The instance has no token to check HTTP requests against.
    #[error(
        "this instance takes no HTTP requests: settings.auth_token is not set (the exact value the server sends in the {header} header), nor allow_unauthenticated = true"
    )]
    AuthUnset {
        /// The header's name as configured.
        header: String,
    },
    /// The authentication header is absent.
    #[error("header {header}: missing; the driver expects the configured token in it")]
    AuthMissing {
        /// The header's name as configured.
        header: String,
    },
    /// The authentication header is there but not the configured value.
    #[error("header {header}: not the expected value")]
    AuthWrong {
        /// The header's name as configured.
        header: String,
    },
    /// The authentication header is given more than once.
    #[error("header {header}: given {count} times; send it once")]
    AuthRepeated {
        /// The header's name as configured.
        header: String,
        /// How many times.
        count: usize,
    },
    /// A ChirpStack request without `?event=`.
    #[error("query parameter event: missing; {server} names the event in ?event= ({expected})")]
    EventMissing {
        /// The server the body is from.
        server: &'static str,
        /// The event kinds it sends, comma-separated.
        expected: String,
    },
    /// `?event=` given twice.
    #[error("query parameter event: given more than once")]
    EventRepeated,
    /// An event kind the server does not send.
    #[error("query parameter event: unknown event {kind:?} for {server}; expected one of {expected}")]
    EventUnknown {
        /// The kind as given, cut short.
        kind: String,
        /// The server the body is from.
        server: &'static str,
        /// The event kinds it sends, comma-separated.
        expected: String,
    },
    /// `server = "auto"` and the body has none of the marker keys.
    #[error(
        "cannot tell the network server from the body: expected a top-level deviceInfo (ChirpStack v4), devEUI or applicationID (ChirpStack v3) or end_device_ids (The Things Stack v3); set the server setting to name it"
    )]
    ServerUnknown,
    /// A binary body for a server whose binary form is not read.
    #[error("content type {content_type}: {server} sends JSON here; binary Protobuf is read for ChirpStack v4 only")]
    EncodingUnsupported {
        /// The request's content type, cut short.
        content_type: String,
        /// The configured server.
        server: &'static str,
    },
    /// A JSON syntax error (or invalid UTF-8).
    #[error("invalid JSON at {at}: {message}")]
    Syntax {
        /// Where.
        at: Position,
        /// What is wrong.
        message: String,
    },
    /// A field is there but unusable.
    #[error("field {path} at {at}: {problem}")]
    Field {
        /// The field's path (`deviceInfo.devEui`, `rxInfo[0].rssi`).
        path: String,
        /// Where its value starts.
        at: Position,
        /// What is wrong.
        problem: String,
    },
    /// The body is JSON, but not an object.
    #[error("the body is not a JSON object: {got}")]
    NotObject {
        /// The body, cut short.
        got: String,
    },
    /// A required field is absent (or null).
    #[error("field {path}: missing{}", .within.map(|p| format!(" (in the object at {p})")).unwrap_or_default())]
    Missing {
        /// The field's path.
        path: String,
        /// Where the object that should hold it starts.
        within: Option<Position>,
    },
    /// A binary Protobuf body that does not decode.
    #[error("Protobuf integration.{message}: {error}")]
    Protobuf {
        /// The message type expected for the event.
        message: &'static str,
        /// prost's error, which names the field path.
        error: String,
    },
    /// A decoded Protobuf field that is unusable.
    #[error("Protobuf integration.{message} field {path}: {problem}")]
    ProtobufField {
        /// The message type.
        message: &'static str,
        /// The field's path (`device_info.dev_eui`).
        path: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// A The Things Stack body with a top-level key that is neither an
    /// envelope field nor a message kind.
    #[error("top-level key {key:?}: not a The Things Stack webhook message; expected one of {expected}")]
    TtsKeyUnknown {
        /// The key, cut short.
        key: String,
        /// The message kinds, comma-separated.
        expected: String,
    },
    /// A The Things Stack body with no message.
    #[error("no message in the body: expected one top-level key of {expected}")]
    TtsMessageMissing {
        /// The message kinds, comma-separated.
        expected: String,
    },
    /// An MQTT message without payload (what clears a retained message).
    #[error("empty payload: a network server publishes none (an empty retained message only clears its topic)")]
    PayloadEmpty,
    /// An MQTT payload that does not start with `{` where only JSON is read.
    #[error(
        "the payload does not start with {{ (after white space), so it is not a JSON object; {server} payloads are read as JSON (binary Protobuf is read for ChirpStack v4 only)"
    )]
    PayloadNotJson {
        /// The server the topic or the settings name.
        server: &'static str,
    },
    /// An MQTT topic of none of the layouts the driver knows.
    #[error(
        "topic {topic:?} matches no known layout; expected ChirpStack's .../device/{{dev_eui}}/event/{{event}} (by default application/{{application_id}}/device/{{dev_eui}}/event/{{event}}) or The Things Stack's v3/{{application_id}}[@{{tenant_id}}]/devices/{{device_id}}/{{kind}}"
    )]
    TopicUnknown {
        /// The topic, cut short.
        topic: String,
    },
    /// A ChirpStack topic whose DevEUI level is not one.
    #[error("topic {topic:?}: the DevEUI level {problem}")]
    TopicDevEui {
        /// The topic, cut short.
        topic: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A topic naming an event kind its server does not publish.
    #[error("topic {topic:?}: unknown event {kind:?} for {server}; expected one of {expected}")]
    TopicEventUnknown {
        /// The topic, cut short.
        topic: String,
        /// The kind as given, cut short.
        kind: String,
        /// The server of the topic's layout (or of the body).
        server: &'static str,
        /// The event kinds it publishes, comma-separated.
        expected: String,
    },
    /// A topic of one server's layout, and a body (or settings) of another.
    #[error("topic {topic:?} has {layout}'s layout, but {by} says {server}")]
    TopicServer {
        /// The topic, cut short.
        topic: String,
        /// Whose layout the topic has.
        layout: &'static str,
        /// What says otherwise: the body's shape or the server setting.
        by: &'static str,
        /// The server it says.
        server: &'static str,
    },
    /// The topic names another device than the body.
    #[error("topic {topic:?} names {what} {in_topic}, the body {in_body} (field {field})")]
    TopicDevice {
        /// The topic, cut short.
        topic: String,
        /// What names the device: `DevEUI` or `device id`.
        what: &'static str,
        /// The topic's, cut short.
        in_topic: String,
        /// The body's, cut short.
        in_body: String,
        /// The body's field.
        field: &'static str,
    },
    /// A The Things Stack topic whose kind is not the body's message.
    #[error("topic {topic:?} carries kind {kind:?} (message key {expected:?}), but the body's message key is {key:?}")]
    TopicKind {
        /// The topic, cut short.
        topic: String,
        /// The topic's kind (`up`, `down/ack`, ...).
        kind: &'static str,
        /// The message key that kind carries.
        expected: &'static str,
        /// The body's message key.
        key: &'static str,
    },
    /// A The Things Stack body with two messages.
    #[error("top-level keys {first:?} and {second:?}: one message per body")]
    TtsMessageTwice {
        /// The first message key.
        first: String,
        /// The second one.
        second: String,
    },
}

impl Refusal {
    /// The HTTP status the request is answered with: 405 for a wrong
    /// method, 401 for a failed authentication, 400 for everything else.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::Method { .. } => 405,
            Refusal::AuthUnset { .. }
            | Refusal::AuthMissing { .. }
            | Refusal::AuthWrong { .. }
            | Refusal::AuthRepeated { .. } => 401,
            _ => 400,
        }
    }

    /// The field path the refusal names, if any (JSON or Protobuf).
    pub fn field(&self) -> Option<&str> {
        match self {
            Refusal::Field { path, .. } | Refusal::Missing { path, .. } => Some(path),
            Refusal::ProtobufField { path, .. } => Some(path),
            _ => None,
        }
    }

    /// Whether the message names the MQTT topic already.
    pub fn names_topic(&self) -> bool {
        matches!(
            self,
            Refusal::TopicUnknown { .. }
                | Refusal::TopicDevEui { .. }
                | Refusal::TopicEventUnknown { .. }
                | Refusal::TopicServer { .. }
                | Refusal::TopicDevice { .. }
                | Refusal::TopicKind { .. }
        )
    }

    /// The JSON position the refusal names, if any.
    pub fn position(&self) -> Option<Position> {
        match self {
            Refusal::Syntax { at, .. } | Refusal::Field { at, .. } => Some(*at),
            Refusal::Missing { within, .. } => *within,
            _ => None,
        }
    }
}

/// Longest rendering of an input value in a message, in bytes.
const SNIPPET_BYTES: usize = 40;

/// Longest rendering of an MQTT topic in a message, in bytes: the
/// servers' topics (a UUID, a DevEUI, ids of up to 36 characters) fit.
const TOPIC_BYTES: usize = 160;

/// `text` cut to a short prefix (on a character boundary) for messages,
/// with `...` when cut.
pub fn snippet(text: &str) -> String {
    cut(text, SNIPPET_BYTES)
}

/// An MQTT topic cut short for messages, with `...` when cut.
pub fn topic_snippet(topic: &str) -> String {
    cut(topic, TOPIC_BYTES)
}

fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_messages() {
        let at = Position { line: 3, column: 9 };
        let field = Refusal::Field { path: "deviceInfo.devEui".into(), at, problem: "bad".into() };
        assert_eq!(field.to_string(), "field deviceInfo.devEui at line 3 column 9: bad");
        assert_eq!((field.status(), field.field(), field.position()), (400, Some("deviceInfo.devEui"), Some(at)));
        let missing = Refusal::Missing { path: "time".into(), within: Some(Position { line: 1, column: 1 }) };
        assert_eq!(missing.to_string(), "field time: missing (in the object at line 1 column 1)");
        assert_eq!(Refusal::Missing { path: "x".into(), within: None }.to_string(), "field x: missing");
        assert_eq!(Refusal::AuthWrong { header: "X-Key".into() }.status(), 401);
        assert_eq!(Refusal::Method { method: "GET".into() }.status(), 405);
        let long = "ä".repeat(30);
        let s = snippet(&long);
        assert!(s.ends_with("...") && s.len() <= SNIPPET_BYTES + 3, "{s}");
        let topic = format!("application/{}/device/0101010101010101/event/up", "ä".repeat(100));
        let t = topic_snippet(&topic);
        assert!(t.starts_with("application/ä") && t.ends_with("...") && t.len() <= TOPIC_BYTES + 3, "{t}");
        assert_eq!(topic_snippet("v3/app/devices/dev/up"), "v3/app/devices/dev/up");
    }
}
