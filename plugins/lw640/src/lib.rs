//! The `lw640` plugin: a driver taking LoRaWAN network-server events —
//! ChirpStack v4's integration (JSON or binary Protobuf), ChirpStack
//! Application Server v3's (its JSON marshalers) and The Things Stack v3's
//! webhooks and MQTT server — over the host's HTTP ingress (one request,
//! one session) or an MQTT subscription of the host (one message, one
//! session), and committing each event raw-first: one frame whose payload
//! is the request body or message payload exactly, its content type
//! naming server and encoding, and what the driver read from the envelope
//! in `lorawan.*` metadata ([`meterhub_plugin_api::lorawan`]).
//!
//! Code map, in data-flow order:
//! - [`settings`]: `server`, authentication (HTTP), the repeat window;
//! - [`sessions`]: one event per session, committed or refused, kept until
//!   the host answers the commit;
//! - [`backfill`]: the fetch session, reading The Things Stack's Storage
//!   Integration from durable per-application marks;
//! - [`request`]: one HTTP request to an envelope, then [`auth`]: the
//!   header and token check;
//! - [`message`]: one MQTT message to an envelope, with [`topic`]: the
//!   topic layouts;
//! - [`servers`]: which server sent it, and each server's reader;
//! - [`json`]: JSON read field by field, with paths and positions;
//! - [`fields`]: EUIs, base64, times;
//! - [`envelope`]: what was read, as content type and metadata;
//! - [`frame`]: the envelope to the frame to commit, with [`repeats`]: the
//!   same uplink seen again;
//! - [`http`], [`mqtt`]: what each transport's peer hears;
//! - [`error`]: every refusal, with its HTTP status.
//!
//! Architecture invariant: a server hears 200 only after the host reported
//! the event's frame committed, and the frame's payload is the request
//! body (the message payload) byte for byte.
//!
//! Architecture invariant: nothing is committed for a request that fails
//! authentication, and no message or answer shows the token. MQTT messages
//! are not authenticated by the driver: the broker is.
//!
//! Architecture invariant: an MQTT message is committed only when its
//! topic and its body name the same device (and, from The Things Stack,
//! the same kind); every refused message is a `Reject`, never a bare
//! `Close`.

use meterhub_plugin_api::{Action, Event, Plugin};

pub mod auth;
pub mod backfill;
pub mod envelope;
pub mod error;
pub mod fields;
pub mod frame;
pub mod http;
pub mod json;
pub mod message;
pub mod mqtt;
pub mod repeats;
pub mod request;
pub mod servers;
pub mod sessions;
pub mod settings;
pub mod topic;

pub use envelope::{CHIRPSTACK_V3_JSON, CHIRPSTACK_V4_JSON, CHIRPSTACK_V4_PROTOBUF, TTS_V3_JSON};
pub use message::META_MQTT_TOPIC;
pub use servers::proto;

use backfill::Backfill;
use repeats::Repeats;
use sessions::Sessions;
use settings::Lw640Settings;

/// One lw640 instance: its settings, its open sessions, the uplinks it
/// saw lately (for repeats, across its sessions), and its back-fill.
#[derive(Debug)]
pub struct Lw640 {
    settings: Lw640Settings,
    sessions: Sessions,
    repeats: Repeats,
    backfill: Backfill,
}

impl Lw640 {
    /// How many uplinks the repeat memory holds.
    pub fn remembered_uplinks(&self) -> usize {
        self.repeats.len()
    }

    /// How many sessions are open.
    pub fn open_sessions(&self) -> usize {
        self.sessions.len()
    }

    /// The back-fill mark of The Things Stack application `app`.
    pub fn backfill_mark(&self, app: &str) -> Option<i64> {
        self.backfill.mark(app)
    }
}

impl Plugin for Lw640 {
    fn init(settings_json: &str) -> Result<Self, String> {
        let settings = Lw640Settings::parse(settings_json)?;
        let repeats = Repeats::new(settings.repeat_window_ms, settings.repeat_capacity);
        let backfill = Backfill::new(&settings);
        Ok(Lw640 { settings, sessions: Sessions::default(), repeats, backfill })
    }

    fn handle(&mut self, session: u64, now_ms: i64, event: Event) -> Vec<Action> {
        if self.backfill.owns(session, &event) {
            return self.backfill.handle(&self.settings, &mut self.repeats, session, now_ms, event);
        }
        self.sessions.handle(&self.settings, &mut self.repeats, session, now_ms, event)
    }
}

meterhub_plugin_api::export_plugin!(Lw640);

#[cfg(test)]
mod tests {
    use meterhub_plugin_api::{CommitFailed, Committed, HttpRequest, Message, Role, Transport};

    use super::*;

    const NOW: i64 = 1_795_255_200_000;

    fn request(body: &str) -> Event {
        Event::Request(HttpRequest {
            method: "POST".into(),
            target: "/lw?event=join".into(),
            headers: vec![("authorization".into(), "Bearer t".into())],
            body: body.as_bytes().to_vec(),
        })
    }

    const JOIN: &str = r#"{"time":"2022-07-18T09:33:28.823500726+00:00","deviceInfo":{"devEui":"0101010101010101"}}"#;
    const UP: &str = r#"{"deviceInfo":{"devEui":"0101010101010101"},"fCnt":7,"data":"qg=="}"#;
    const UP_TOPIC: &str = "application/a/device/0101010101010101/event/up";

    fn message(topic: &str, payload: &str) -> Event {
        Event::Message(Message { topic: topic.into(), payload: payload.as_bytes().to_vec() })
    }

    fn mqtt_opened() -> Event {
        Event::Opened { transport: Transport::Mqtt, peer: "mqtts://broker.example:8883".into() }
    }

    #[test]
    fn a_session_lives_until_its_commit_is_answered() {
        let mut p = Lw640::init(r#"{"auth_token": "Bearer t"}"#).unwrap();
        let out = p.handle(1, NOW, request(JOIN));
        assert!(matches!(&out[..], [Action::Commit(c)] if c.frame.payload == JOIN.as_bytes()));
        assert!(p.handle(1, NOW, Event::Closed).is_empty());
        assert_eq!(p.open_sessions(), 1, "kept for the host's answer");
        let out = p.handle(1, NOW, Event::Committed(Committed { token: sessions::TOKEN, seq: 7 }));
        assert!(matches!(&out[..], [Action::Respond(r)] if r.status == 200 && r.body == br#"{"ok":true,"seq":7}"#));
        assert_eq!(p.open_sessions(), 0);
        assert!(p.handle(1, NOW, Event::Committed(Committed { token: sessions::TOKEN, seq: 7 })).is_empty());
    }

    #[test]
    fn an_mqtt_session_commits_and_answers_nothing() {
        let mut p = Lw640::init(r#"{"auth_token": "Bearer t"}"#).unwrap();
        assert!(p.handle(1, NOW, mqtt_opened()).is_empty());
        let out = p.handle(1, NOW, message(UP_TOPIC, UP));
        let [Action::Commit(c)] = &out[..] else { panic!("{out:?}") };
        assert_eq!(c.frame.payload, UP.as_bytes());
        assert_eq!(c.frame.meta.last(), Some(&(META_MQTT_TOPIC.to_owned(), UP_TOPIC.to_owned())));
        assert!(p.handle(1, NOW, Event::Committed(Committed { token: sessions::TOKEN, seq: 9 })).is_empty());
        assert!(p.handle(1, NOW, Event::Closed).is_empty());
        assert_eq!((p.open_sessions(), p.remembered_uplinks()), (0, 1));
    }

    #[test]
    fn a_failed_mqtt_commit_forgets_the_uplink_for_the_brokers_redelivery() {
        let mut p = Lw640::init(r#"{"auth_token": "Bearer t"}"#).unwrap();
        p.handle(1, NOW, mqtt_opened());
        p.handle(1, NOW, message(UP_TOPIC, UP));
        let failed = CommitFailed { token: sessions::TOKEN, reason: "disk full".into() };
        assert!(p.handle(1, NOW, Event::CommitFailed(failed)).is_empty());
        assert_eq!((p.open_sessions(), p.remembered_uplinks()), (0, 0));
        p.handle(2, NOW, mqtt_opened());
        let out = p.handle(2, NOW + 1, message(UP_TOPIC, UP));
        let [Action::Commit(c)] = &out[..] else { panic!("{out:?}") };
        assert!(c.frame.meta.iter().all(|(k, _)| k != meterhub_plugin_api::lorawan::REPEAT), "a first arrival");
    }

    #[test]
    fn mqtt_refusals_are_rejects_naming_the_topic() {
        let mut p = Lw640::init(r#"{"allow_unauthenticated": true}"#).unwrap();
        p.handle(1, NOW, mqtt_opened());
        let out = p.handle(1, NOW, message(UP_TOPIC, "{"));
        let [Action::Reject { reason, input }] = &out[..] else { panic!("{out:?}") };
        assert_eq!(
            reason,
            &format!("topic {UP_TOPIC:?}: invalid JSON at line 1 column 1: EOF while parsing an object")
        );
        assert_eq!(input, b"{");
        assert_eq!(p.open_sessions(), 0);
        // A second message on one session, and one on an HTTP session.
        p.handle(2, NOW, mqtt_opened());
        p.handle(2, NOW, message(UP_TOPIC, UP));
        let out = p.handle(2, NOW, message(UP_TOPIC, UP));
        assert!(matches!(&out[..], [Action::Reject { reason, .. }] if reason.contains("took one already")), "{out:?}");
        p.handle(3, NOW, Event::Opened { transport: Transport::Http, peer: "192.0.2.1:1".into() });
        let out = p.handle(3, NOW, message(UP_TOPIC, UP));
        assert!(matches!(&out[..], [Action::Reject { reason, .. }] if reason.contains("another transport")), "{out:?}");
        let out = p.handle(2, NOW, request(JOIN));
        assert!(matches!(&out[..], [Action::Close(_)]), "a request on an MQTT session: {out:?}");
    }

    #[test]
    fn other_transports_and_second_requests_are_closed() {
        let mut p = Lw640::init(r#"{"allow_unauthenticated": true}"#).unwrap();
        let opened = Event::Opened { transport: Transport::Tcp, peer: "192.0.2.1:1".into() };
        assert!(matches!(&p.handle(1, NOW, opened)[..], [Action::Close(_)]));
        p.handle(2, NOW, request(JOIN));
        assert!(matches!(&p.handle(2, NOW, request(JOIN))[..], [Action::Close(_)]));
        assert!(matches!(&p.handle(3, NOW, Event::Data(b"x".to_vec()))[..], [Action::Close(_)]));
        assert_eq!(p.open_sessions(), 1, "the committing session stays for its answer");
        assert_eq!(Lw640::info().roles, vec![Role::Driver]);
    }

    #[test]
    fn without_a_token_http_is_refused_saying_how_and_mqtt_is_taken() {
        let mut p = Lw640::init("{}").unwrap();
        let actions = p.handle(1, NOW, request(JOIN));
        let refusal = actions.iter().find_map(|a| match a {
            Action::Respond(r) => Some(r.clone()),
            _ => None,
        });
        let refusal = refusal.expect("a response");
        assert_eq!(refusal.status, 401);
        let body = String::from_utf8(refusal.body).unwrap();
        assert!(body.contains("auth_token") && body.contains("allow_unauthenticated = true"), "{body}");
    }
}
