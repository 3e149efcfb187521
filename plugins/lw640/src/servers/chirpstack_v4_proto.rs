//! ChirpStack v4 events in binary Protobuf: the message `?event=` names
//! (declared in [`super::proto`]), decoded with prost and read like the
//! JSON form ([`super::chirpstack_v4`]): the same metadata from the same
//! fields. Protobuf has no "absent" for numbers and strings: 0 and "" are
//! the defaults, and an empty name is no name.

use prost::Message;
use prost_types::value::Kind;
use prost_types::{Struct, Timestamp};
use serde_json::Value;

use crate::envelope::{Encoding, Envelope, Server, Status, Uplink};
use crate::error::Refusal;
use crate::fields::{self, Eui};
use crate::json::Number;
use crate::servers::common;
use crate::servers::proto::{
    AckEvent, DeviceInfo, IntegrationEvent, JoinEvent, LocationEvent, LogEvent, StatusEvent, TxAckEvent, UplinkEvent,
};

/// What every event message has.
trait EventMessage: Message + Default {
    /// Its name in the `integration` package.
    const NAME: &'static str;
    /// Its device.
    fn device_info(&self) -> Option<&DeviceInfo>;
    /// Its time.
    fn time(&self) -> Option<&Timestamp>;
}

macro_rules! event_message {
    ($($message:ident),*) => {$(
        impl EventMessage for $message {
            const NAME: &'static str = stringify!($message);
            fn device_info(&self) -> Option<&DeviceInfo> {
                self.device_info.as_ref()
            }
            fn time(&self) -> Option<&Timestamp> {
                self.time.as_ref()
            }
        }
    )*};
}

event_message!(UplinkEvent, JoinEvent, AckEvent, TxAckEvent, LogEvent, StatusEvent, LocationEvent, IntegrationEvent);

/// The envelope of event `event` (one of
/// [`CHIRPSTACK_V4_EVENTS`](super::detect::CHIRPSTACK_V4_EVENTS)) from
/// its binary Protobuf `body`.
pub fn read(event: &'static str, body: &[u8]) -> Result<Envelope, Refusal> {
    match event {
        "up" => {
            let (message, mut envelope) = decode::<UplinkEvent>(event, body)?;
            envelope.uplink = Some(Uplink {
                fport: message.f_port,
                fcnt: message.f_cnt,
                gateways: message
                    .rx_info
                    .iter()
                    .map(|rx| (Number::from_f64(rx.rssi.into()), Number::from_f32(rx.snr)))
                    .collect(),
                upstream: message.object.as_ref().map(|object| struct_json(object).to_string()),
                frm: message.data,
            });
            Ok(envelope)
        }
        "status" => {
            let (message, mut envelope) = decode::<StatusEvent>(event, body)?;
            let level = Number::from_f32(message.battery_level);
            envelope.status = Some(Status {
                battery: common::battery(Some(level), message.external_power_source, message.battery_level_unavailable),
                margin: Some(message.margin.into()),
            });
            Ok(envelope)
        }
        "join" => decode::<JoinEvent>(event, body).map(|(_, e)| e),
        "ack" => decode::<AckEvent>(event, body).map(|(_, e)| e),
        "txack" => decode::<TxAckEvent>(event, body).map(|(_, e)| e),
        "log" => decode::<LogEvent>(event, body).map(|(_, e)| e),
        "location" => decode::<LocationEvent>(event, body).map(|(_, e)| e),
        _ => decode::<IntegrationEvent>(event, body).map(|(_, e)| e),
    }
}

/// Decode `body` as `M` and read the fields every event has.
fn decode<M: EventMessage>(event: &str, body: &[u8]) -> Result<(M, Envelope), Refusal> {
    let message = M::decode(body).map_err(|e| Refusal::Protobuf { message: M::NAME, error: e.to_string() })?;
    let field = |path: &'static str, problem: String| Refusal::ProtobufField { message: M::NAME, path, problem };
    let info = message.device_info().ok_or_else(|| field("device_info", "missing".to_owned()))?;
    let dev_eui = Eui::from_hex(&info.dev_eui).map_err(|e| field("device_info.dev_eui", e))?;
    let mut envelope = Envelope::new(Server::ChirpstackV4, Encoding::Protobuf, event, dev_eui);
    let text = |s: &str| Some(s.to_owned()).filter(|s| !s.is_empty());
    envelope.application = common::name_or_id(text(&info.application_name), text(&info.application_id));
    envelope.device_name = text(&info.device_name);
    envelope.profile = text(&info.device_profile_name);
    envelope.server_ts_ms = message.time().and_then(fields::timestamp_ms);
    Ok((message, envelope))
}

/// A `google.protobuf.Struct` as the JSON object it stands for (keys in
/// order; numbers are doubles, as in ChirpStack's own JSON: `25.0`).
pub fn struct_json(object: &Struct) -> Value {
    Value::Object(object.fields.iter().map(|(k, v)| (k.clone(), value_json(v))).collect())
}

fn value_json(value: &prost_types::Value) -> Value {
    match &value.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::NumberValue(n)) => serde_json::Number::from_f64(*n).map_or(Value::Null, Value::Number),
        Some(Kind::StringValue(s)) => Value::String(s.clone()),
        Some(Kind::BoolValue(b)) => Value::Bool(*b),
        Some(Kind::StructValue(s)) => struct_json(s),
        Some(Kind::ListValue(list)) => Value::Array(list.values.iter().map(value_json).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uplink(dev_eui: &str) -> UplinkEvent {
        UplinkEvent {
            time: Some(Timestamp { seconds: 1_658_136_855, nanos: 775_023_242 }),
            device_info: Some(DeviceInfo { dev_eui: dev_eui.into(), device_name: "d".into(), ..DeviceInfo::default() }),
            f_port: 2,
            data: vec![0xaa],
            ..UplinkEvent::default()
        }
    }

    #[test]
    fn an_uplink_decodes_and_unknown_fields_are_skipped() {
        let mut body = uplink("0101010101010101").encode_to_vec();
        // Field 14 (relay_rx_info, not declared here): a length-delimited
        // message of two bytes.
        body.extend_from_slice(&[0x72, 0x02, 0x08, 0x01]);
        let envelope = read("up", &body).unwrap();
        assert_eq!(envelope.dev_eui.hex(), "0101010101010101");
        assert_eq!(envelope.server_ts_ms, Some(1_658_136_855_775));
        assert_eq!(envelope.device_name.as_deref(), Some("d"));
        assert_eq!(envelope.application, None);
        let up = envelope.uplink.unwrap();
        assert_eq!((up.fport, up.fcnt, up.frm, up.gateways.len()), (2, 0, vec![0xaa], 0));
    }

    #[test]
    fn refusals_name_the_message_and_field() {
        let e = read("up", &[0x0a, 0xff]).unwrap_err().to_string();
        assert!(e.starts_with("Protobuf integration.UplinkEvent: failed to decode Protobuf message: "), "{e}");
        let e = read("status", &[]).unwrap_err().to_string();
        assert_eq!(e, "Protobuf integration.StatusEvent field device_info: missing");
        let e = read("up", &uplink("0101").encode_to_vec()).unwrap_err().to_string();
        assert_eq!(e, "Protobuf integration.UplinkEvent field device_info.dev_eui: \"0101\" is not 16 hex digits");
    }

    #[test]
    fn structs_become_json_objects() {
        let value = |kind| prost_types::Value { kind: Some(kind) };
        let inner = Struct { fields: [("n".to_owned(), value(Kind::NumberValue(25.0)))].into() };
        let object = Struct {
            fields: [
                ("b".to_owned(), value(Kind::StructValue(inner))),
                (
                    "a".to_owned(),
                    value(Kind::ListValue(prost_types::ListValue { values: vec![value(Kind::BoolValue(true))] })),
                ),
                ("z".to_owned(), value(Kind::NumberValue(f64::NAN))),
            ]
            .into(),
        };
        assert_eq!(struct_json(&object).to_string(), r#"{"a":[true],"b":{"n":25.0},"z":null}"#);
    }
}
