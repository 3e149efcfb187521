//! What an MQTT session answers: nothing to the broker, whose message the
//! host acknowledges itself, once every frame the session committed is
//! durable, or at once after a refusal. So a stored frame and a failed
//! commit are answered with no action (a failed one stays unacknowledged
//! and the broker delivers it again), and a refused message is one
//! `Reject` whose input is the payload and whose reason names the topic.

use meterhub_plugin_api::Action;

use crate::error::{Refusal, topic_snippet};

/// The frame of the session's message is stored.
pub fn stored(_seq: u64) -> Vec<Action> {
    Vec::new()
}

/// It is not; the broker will deliver the message again.
pub fn not_stored(_reason: &str) -> Vec<Action> {
    Vec::new()
}

/// The message on `topic` is refused.
pub fn refused(refusal: &Refusal, topic: &str, payload: Vec<u8>) -> Vec<Action> {
    let reason = match refusal.names_topic() {
        true => refusal.to_string(),
        false => format!("topic {:?}: {refusal}", topic_snippet(topic)),
    };
    vec![Action::Reject { reason, input: payload }]
}
