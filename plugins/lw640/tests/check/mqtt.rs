//! The MQTT cases: `mqtt/<name>.mqtt.json` ([`MqttOptions`]), the payload
//! in `mqtt/<name>.in` or another case's file, played as one message on a
//! new MQTT session (open, message, the commit's answer, close), and
//! checked against the driver's contract besides the transcript
//! ([`check_message_answers`]): no response, no close, nothing sent;
//! either one `Reject` whose input is the payload and whose reason names
//! the topic, and no commit; or one commit whose payload is the message
//! payload byte for byte (shown as `"= message payload"` in transcripts),
//! with the common `lorawan.*` keys and `mqtt.topic` last, answered by
//! nothing either way.

use meterhub_driver_lw640::META_MQTT_TOPIC;
use meterhub_plugin_api::testing::{Answers, Case};
use meterhub_plugin_api::{Event, Message, Transport};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Host, check_frame, fixtures_dir, new_host, protobuf, settings_of, transcript};

/// The broker the host subscribed to, as the session's peer.
pub const BROKER: &str = "mqtts://broker.example.net:8883";

/// One MQTT case.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttOptions {
    /// The topic (required).
    pub topic: String,
    /// The payload from this file under `fixtures/` (e.g. an HTTP case's
    /// body) instead of `<name>.in`.
    #[serde(rename = "in")]
    pub from: Option<String>,
    /// Re-encode the JSON payload as ChirpStack v4's binary Protobuf for
    /// the topic's event (its last level).
    pub protobuf: bool,
    /// Plugin settings (default as for HTTP cases).
    pub settings: Option<Value>,
    /// Host time (default 2026-11-21T10:00:00Z).
    pub now_ms: Option<i64>,
    /// Commits (1-based, in order) the host fails.
    pub fail_commits: Vec<usize>,
}

/// The payload of a case with `options`: its `.in` (empty if absent) or
/// the file it names, re-encoded if asked.
pub fn payload(case: &Case, options: &MqttOptions) -> Result<Vec<u8>, String> {
    let payload = match &options.from {
        Some(file) => {
            let path = fixtures_dir().join(file);
            std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => case.read_optional(".in")?.unwrap_or_default(),
    };
    if !options.protobuf {
        return Ok(payload);
    }
    let event = options.topic.rsplit('/').next().unwrap_or_default();
    let value: Value = serde_json::from_slice(&payload).map_err(|e| format!("payload to re-encode: {e}"))?;
    protobuf::encode(event, &value)
}

/// Play `payload` on `topic` as a new MQTT session of `host` and check
/// its answers against the contract.
pub fn play_message(host: &mut Host, topic: &str, payload: Vec<u8>) -> Result<(), String> {
    host.open(Transport::Mqtt, BROKER);
    let answers = host.event(Event::Message(Message { topic: topic.to_owned(), payload: payload.clone() }));
    let closed = host.close();
    if !closed.is_quiet() {
        return Err(format!("answers to the close: {closed:?}"));
    }
    check_message_answers(&answers, topic, &payload)
}

/// The contract every message's answers keep (see the module
/// documentation).
fn check_message_answers(answers: &Answers, topic: &str, payload: &[u8]) -> Result<(), String> {
    if !answers.responses.is_empty() || !answers.closes.is_empty() || !answers.sent.is_empty() {
        return Err(format!("an MQTT session answered more than commits and rejects: {answers:?}"));
    }
    match (answers.rejects.as_slice(), answers.commits.as_slice()) {
        ([(reason, input)], []) => {
            if input != payload {
                return Err(format!("a refusal {reason:?} does not keep the payload"));
            }
            if topic.len() <= 160 && !reason.contains(&format!("topic {topic:?}")) {
                return Err(format!("a refusal {reason:?} does not name the topic"));
            }
        }
        ([], [frame]) => {
            if frame.payload != payload {
                return Err("the committed payload is not the message payload".to_owned());
            }
            check_frame(frame)?;
            if frame.meta.last() != Some(&(META_MQTT_TOPIC.to_owned(), topic.to_owned())) {
                return Err(format!("{META_MQTT_TOPIC} is not the last key, or not the topic: {:?}", frame.meta));
            }
        }
        (rejects, commits) => return Err(format!("{} rejects and {} commits", rejects.len(), commits.len())),
    }
    Ok(())
}

/// Play one MQTT case.
pub fn run_mqtt(case: &Case) -> Result<Value, String> {
    let options: MqttOptions = case.options(".mqtt.json")?;
    if options.topic.is_empty() {
        return Err("no topic".to_owned());
    }
    let payload = payload(case, &options)?;
    let mut host = new_host(&settings_of(&options.settings))?;
    host.set_now_ms(options.now_ms.unwrap_or(Host::DEFAULT_NOW_MS));
    host.fail_commits(options.fail_commits.iter().copied());
    play_message(&mut host, &options.topic, payload)?;
    if host.plugin().open_sessions() != 0 {
        return Err("a session is left open".to_owned());
    }
    Ok(json!({ "transcript": transcript(&host) }))
}
