//! One MQTT message, from its topic to the frame to commit: the topic's
//! layout ([`crate::topic`]), the server's reader, the topic and the body
//! agreeing on the device (and, for The Things Stack, on the kind), then
//! [`frame::build`] with the topic as [`META_MQTT_TOPIC`]. Either a frame
//! whose payload is exactly the message payload, or a [`Refusal`].
//!
//! There is no authentication here: the host subscribed to the broker
//! with its own credentials, and the broker decides who may publish.

use meterhub_plugin_api::Message;

use crate::envelope::{Encoding, Envelope, Server};
use crate::error::{Refusal, snippet, topic_snippet};
use crate::frame::{self, Accepted};
use crate::repeats::Repeats;
use crate::servers::detect;
use crate::settings::Lw640Settings;
use crate::topic::{self, Topic};

/// Frame metadata: the MQTT topic the message came on.
pub const META_MQTT_TOPIC: &str = "mqtt.topic";

/// Take `message` arriving at host time `now_ms`, or refuse it.
pub fn accept(
    settings: &Lw640Settings,
    repeats: &mut Repeats,
    now_ms: i64,
    message: &Message,
) -> Result<Accepted, Refusal> {
    let layout = topic::parse(&message.topic)?;
    if message.payload.is_empty() {
        return Err(Refusal::PayloadEmpty);
    }
    let envelope = match layout {
        Topic::Chirpstack { dev_eui, event } => {
            let envelope = detect::read_chirpstack_message(settings.server, &message.topic, event, &message.payload)?;
            if envelope.dev_eui != dev_eui {
                return Err(Refusal::TopicDevice {
                    topic: topic_snippet(&message.topic),
                    what: "DevEUI",
                    in_topic: dev_eui.hex(),
                    in_body: envelope.dev_eui.hex(),
                    field: dev_eui_field(&envelope),
                });
            }
            envelope
        }
        Topic::Tts { device_id, kind } => {
            let envelope = detect::read_tts_message(settings.server, &message.topic, kind, &message.payload)?;
            if let Some(in_body) = envelope.device_name.as_deref().filter(|name| *name != device_id) {
                return Err(Refusal::TopicDevice {
                    topic: topic_snippet(&message.topic),
                    what: "device id",
                    in_topic: snippet(device_id),
                    in_body: snippet(in_body),
                    field: "end_device_ids.device_id",
                });
            }
            envelope
        }
    };
    let extra = vec![(META_MQTT_TOPIC.to_owned(), message.topic.clone())];
    Ok(frame::build(&envelope, &message.payload, repeats, now_ms, extra))
}

/// Where the body of `envelope` gave its DevEUI.
fn dev_eui_field(envelope: &Envelope) -> &'static str {
    match (envelope.server, envelope.encoding) {
        (Server::ChirpstackV4, Encoding::Json) => "deviceInfo.devEui",
        (Server::ChirpstackV4, Encoding::Protobuf) => "device_info.dev_eui",
        (Server::ChirpstackV3, _) => "devEUI",
        (Server::TtsV3, _) => "end_device_ids.dev_eui",
    }
}
