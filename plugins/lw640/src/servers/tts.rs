//! The Things Stack v3 webhooks and MQTT server messages (the same JSON,
//! an `ApplicationUp`; snake_case; empty, zero and false fields are
//! omitted, so an absent number is 0). The body's one top-level message
//! key tells the kind; the others are the envelope's (`end_device_ids`,
//! `correlation_ids`, `received_at`, `simulated`). Any other top-level key
//! is refused. On MQTT the topic's last levels name the kind too
//! ([`TOPIC_KINDS`]), and the two must agree.
//!
//! | metadata | from |
//! |---|---|
//! | `lorawan.event` | the message key: `uplink_message` is `up`, `join_accept` `join`, `location_solved` `location`; the others keep their key (`downlink_ack`, `downlink_nack`, `downlink_sent`, `downlink_queued`, `downlink_failed`, `downlink_queue_invalidated`, `uplink_normalized`, `service_data`) |
//! | `lorawan.deveui` | `end_device_ids.dev_eui` (required) |
//! | `lorawan.joineui` | `end_device_ids.join_eui` |
//! | `lorawan.application` | `end_device_ids.application_ids.application_id` |
//! | `lorawan.device_name` | `end_device_ids.device_id` |
//! | `lorawan.profile` | `uplink_message.version_ids`: `brand_id/model_id` |
//! | `lorawan.ts` | `received_at`, else the message's `received_at` |
//! | `up`: fport, fcnt, frm | `f_port`, `f_cnt`, `frm_payload` (base64) of `uplink_message` |
//! | `up`: rssi, snr, gateways | `rx_metadata[].rssi` (else `channel_rssi`), `rx_metadata[].snr` |
//! | `up`: upstream | `decoded_payload` |

use crate::envelope::{Encoding, Envelope, Server, Uplink};
use crate::error::{Refusal, snippet};
use crate::fields;
use crate::json::{Number, Obj, Val};
use crate::servers::common;

/// Top-level keys of every webhook body besides its message.
const ENVELOPE_KEYS: [&str; 4] = ["end_device_ids", "correlation_ids", "received_at", "simulated"];

/// The message keys (`ApplicationUp`'s `up` one-of) and the event each is.
pub const MESSAGES: [(&str, &str); 11] = [
    ("uplink_message", "up"),
    ("uplink_normalized", "uplink_normalized"),
    ("join_accept", "join"),
    ("downlink_ack", "downlink_ack"),
    ("downlink_nack", "downlink_nack"),
    ("downlink_sent", "downlink_sent"),
    ("downlink_failed", "downlink_failed"),
    ("downlink_queued", "downlink_queued"),
    ("downlink_queue_invalidated", "downlink_queue_invalidated"),
    ("location_solved", "location"),
    ("service_data", "service_data"),
];

/// The MQTT server's topic kinds, the levels after
/// `v3/{application_id}[@{tenant_id}]/devices/{device_id}/`, and the
/// message key each carries. Source: The Things Stack's topic layout,
/// `TheThingsNetwork/lorawan-stack`, `pkg/applicationserver/io/mqtt/topics/v3.go`
/// @ `121672c5` (its documentation, `TheThingsIndustries/lorawan-stack-docs`,
/// `doc/content/integrations/other-integrations/mqtt/_index.md` @ `77ff8ec1`,
/// lists all but `down/invalidated`). There is none for
/// `uplink_normalized`, which only webhooks carry.
pub const TOPIC_KINDS: [(&str, &str); 10] = [
    ("up", "uplink_message"),
    ("join", "join_accept"),
    ("down/queued", "downlink_queued"),
    ("down/sent", "downlink_sent"),
    ("down/ack", "downlink_ack"),
    ("down/nack", "downlink_nack"),
    ("down/failed", "downlink_failed"),
    ("down/invalidated", "downlink_queue_invalidated"),
    ("service/data", "service_data"),
    ("location/solved", "location_solved"),
];

fn expected() -> String {
    MESSAGES.iter().map(|(key, _)| *key).collect::<Vec<_>>().join(", ")
}

/// The envelope of a webhook body.
pub fn read(top: &Obj<'_>) -> Result<Envelope, Refusal> {
    let (key, event) = message(top)?;
    read_message(top, key, event)
}

/// The body's message: its key and the event it is ([`MESSAGES`]); any
/// top-level key besides the envelope's and one message is refused.
pub fn message(top: &Obj<'_>) -> Result<(&'static str, &'static str), Refusal> {
    let mut message: Option<(&'static str, &'static str)> = None;
    for key in top.keys() {
        if ENVELOPE_KEYS.contains(&key) {
            continue;
        }
        let Some(&found) = MESSAGES.iter().find(|(k, _)| *k == key) else {
            return Err(Refusal::TtsKeyUnknown { key: snippet(key), expected: expected() });
        };
        if let Some((first, _)) = message {
            return Err(Refusal::TtsMessageTwice { first: first.to_owned(), second: key.to_owned() });
        }
        message = Some(found);
    }
    message.ok_or_else(|| Refusal::TtsMessageMissing { expected: expected() })
}

/// The envelope of a body whose message ([`message`]) is under `key`, the
/// event `event`.
pub fn read_message(top: &Obj<'_>, key: &str, event: &str) -> Result<Envelope, Refusal> {
    let ids = top.require("end_device_ids")?.object()?;
    let dev_eui = common::eui_hex(&ids.require("dev_eui")?)?;
    let mut envelope = Envelope::new(Server::TtsV3, Encoding::Json, event, dev_eui);
    envelope.join_eui = ids.read("join_eui", common::eui_hex)?;
    envelope.device_name = ids.text("device_id")?;
    envelope.application = match ids.read("application_ids", Val::object)? {
        Some(app) => app.text("application_id")?,
        None => None,
    };
    let body = top.require(key)?.object()?;
    let times = [top.read("received_at", common::time)?, body.read("received_at", common::time)?];
    envelope.server_ts_ms = times.into_iter().flatten().find(|ms| fields::usable_ts(*ms));
    if event == "up" {
        envelope.profile = profile(&body)?;
        envelope.uplink = Some(uplink(&body)?);
    }
    Ok(envelope)
}

/// `brand_id/model_id` of the uplink's `version_ids`, when it names both.
fn profile(up: &Obj<'_>) -> Result<Option<String>, Refusal> {
    let Some(ids) = up.read("version_ids", Val::object)? else { return Ok(None) };
    Ok(match (ids.text("brand_id")?, ids.text("model_id")?) {
        (Some(brand), Some(model)) => Some(format!("{brand}/{model}")),
        _ => None,
    })
}

fn uplink(up: &Obj<'_>) -> Result<Uplink, Refusal> {
    let mut gateways = Vec::new();
    for rx in up.read("rx_metadata", Val::array)?.unwrap_or_default() {
        let rx = rx.object()?;
        let rssi = match rx.read("rssi", Val::number)? {
            Some(rssi) => rssi,
            None => rx.read("channel_rssi", Val::number)?.unwrap_or(Number::from_f64(0.0)),
        };
        let snr = rx.read("snr", Val::number)?.unwrap_or(Number::from_f64(0.0));
        gateways.push((rssi, snr));
    }
    Ok(Uplink {
        fport: up.read("f_port", Val::u32)?.unwrap_or(0),
        fcnt: up.read("f_cnt", Val::u32)?.unwrap_or(0),
        frm: up.read("frm_payload", common::base64)?.unwrap_or_default(),
        gateways,
        upstream: up.read("decoded_payload", common::upstream)?,
    })
}
