//! ChirpStack v4 JSON events encoded as the binary Protobuf ChirpStack
//! would post for them: each JSON field (Protobuf JSON mapping, camelCase)
//! put into the driver's prost message of the event, so that the same
//! event can be played in both encodings. Fields the driver's messages do
//! not declare (modulation, timing, ...) are left out, as a decoder skips
//! them anyway.

use std::collections::BTreeMap;

use meterhub_driver_lw640::fields::decode_base64;
use meterhub_driver_lw640::proto::{
    AckEvent, DeviceInfo, DownlinkTxInfo, IntegrationEvent, JoinEvent, Location, LocationEvent, LogCode, LogEvent,
    LogLevel, StatusEvent, TxAckEvent, UplinkEvent, UplinkRxInfo, UplinkTxInfo,
};
use meterhub_plugin_api::time::parse_rfc3339_ms;
use prost::Message;
use prost_types::value::Kind;
use prost_types::{ListValue, Struct, Timestamp};
use serde_json::{Map, Value};

/// The binary Protobuf of v4 event `event` whose JSON form is `body`.
pub fn encode(event: &str, body: &Value) -> Result<Vec<u8>, String> {
    let o = body.as_object().ok_or("the body is not an object")?;
    Ok(match event {
        "up" => UplinkEvent {
            deduplication_id: string(o, "deduplicationId"),
            time: time(o)?,
            device_info: device_info(o)?,
            dev_addr: string(o, "devAddr"),
            adr: boolean(o, "adr"),
            dr: uint(o, "dr")?,
            f_cnt: uint(o, "fCnt")?,
            f_port: uint(o, "fPort")?,
            confirmed: boolean(o, "confirmed"),
            data: bytes(o, "data")?,
            object: o.get("object").and_then(Value::as_object).map(to_struct),
            rx_info: list(o, "rxInfo").iter().map(rx_info).collect::<Result<_, _>>()?,
            tx_info: object(o, "txInfo")
                .map(|t| Ok::<_, String>(UplinkTxInfo { frequency: uint(t, "frequency")? }))
                .transpose()?,
            region_config_id: string(o, "regionConfigId"),
        }
        .encode_to_vec(),
        "join" => JoinEvent {
            deduplication_id: string(o, "deduplicationId"),
            time: time(o)?,
            device_info: device_info(o)?,
            dev_addr: string(o, "devAddr"),
            region_config_id: string(o, "regionConfigId"),
        }
        .encode_to_vec(),
        "status" => StatusEvent {
            deduplication_id: string(o, "deduplicationId"),
            time: time(o)?,
            device_info: device_info(o)?,
            margin: int(o, "margin")?,
            external_power_source: boolean(o, "externalPowerSource"),
            battery_level_unavailable: boolean(o, "batteryLevelUnavailable"),
            battery_level: o.get("batteryLevel").and_then(Value::as_f64).unwrap_or(0.0) as f32,
        }
        .encode_to_vec(),
        "ack" => AckEvent {
            deduplication_id: string(o, "deduplicationId"),
            time: time(o)?,
            device_info: device_info(o)?,
            queue_item_id: string(o, "queueItemId"),
            acknowledged: boolean(o, "acknowledged"),
            f_cnt_down: uint(o, "fCntDown")?,
        }
        .encode_to_vec(),
        "txack" => TxAckEvent {
            downlink_id: uint(o, "downlinkId")?,
            time: time(o)?,
            device_info: device_info(o)?,
            queue_item_id: string(o, "queueItemId"),
            f_cnt_down: uint(o, "fCntDown")?,
            gateway_id: string(o, "gatewayId"),
            tx_info: object(o, "txInfo")
                .map(|t| {
                    Ok::<_, String>(DownlinkTxInfo {
                        frequency: uint(t, "frequency")?,
                        power: int(t, "power")?,
                        context: bytes(t, "context")?,
                    })
                })
                .transpose()?,
        }
        .encode_to_vec(),
        "log" => LogEvent {
            time: time(o)?,
            device_info: device_info(o)?,
            level: log_level(&string(o, "level"))? as i32,
            code: log_code(&string(o, "code"))? as i32,
            description: string(o, "description"),
            context: string_map(o, "context"),
        }
        .encode_to_vec(),
        "location" => LocationEvent {
            deduplication_id: string(o, "deduplicationId"),
            time: time(o)?,
            device_info: device_info(o)?,
            location: object(o, "location").map(|l| Location {
                latitude: float(l, "latitude"),
                longitude: float(l, "longitude"),
                altitude: float(l, "altitude"),
                accuracy: float(l, "accuracy") as f32,
            }),
        }
        .encode_to_vec(),
        "integration" => IntegrationEvent {
            deduplication_id: string(o, "deduplicationId"),
            time: time(o)?,
            device_info: device_info(o)?,
            integration_name: string(o, "integrationName"),
            event_type: string(o, "eventType"),
            object: o.get("object").and_then(Value::as_object).map(to_struct),
        }
        .encode_to_vec(),
        other => return Err(format!("no Protobuf message for event {other:?}")),
    })
}

type Obj = Map<String, Value>;

fn string(o: &Obj, key: &str) -> String {
    o.get(key).and_then(Value::as_str).unwrap_or_default().to_owned()
}

fn boolean(o: &Obj, key: &str) -> bool {
    o.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn float(o: &Obj, key: &str) -> f64 {
    o.get(key).and_then(Value::as_f64).unwrap_or(0.0)
}

fn uint(o: &Obj, key: &str) -> Result<u32, String> {
    match o.get(key) {
        None => Ok(0),
        Some(v) => v.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or(format!("{key}: {v} is not a uint32")),
    }
}

fn int(o: &Obj, key: &str) -> Result<i32, String> {
    match o.get(key) {
        None => Ok(0),
        Some(v) => v.as_i64().and_then(|n| i32::try_from(n).ok()).ok_or(format!("{key}: {v} is not an int32")),
    }
}

fn bytes(o: &Obj, key: &str) -> Result<Vec<u8>, String> {
    decode_base64(&string(o, key)).map_err(|e| format!("{key}: {e}"))
}

fn object<'a>(o: &'a Obj, key: &str) -> Option<&'a Obj> {
    o.get(key).and_then(Value::as_object)
}

fn list<'a>(o: &'a Obj, key: &str) -> &'a [Value] {
    o.get(key).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn string_map(o: &Obj, key: &str) -> BTreeMap<String, String> {
    object(o, key)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect())
        .unwrap_or_default()
}

/// RFC 3339 text to a Timestamp, nanoseconds kept.
fn timestamp(text: &str) -> Result<Timestamp, String> {
    let ms = parse_rfc3339_ms(text)?;
    let fraction: String = text
        .get(20..)
        .filter(|_| text.as_bytes().get(19) == Some(&b'.'))
        .unwrap_or_default()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let nanos = format!("{fraction:0<9}").parse::<i32>().map_err(|e| e.to_string())?;
    Ok(Timestamp { seconds: ms.div_euclid(1000), nanos })
}

fn time(o: &Obj) -> Result<Option<Timestamp>, String> {
    o.get("time").and_then(Value::as_str).map(timestamp).transpose()
}

fn device_info(o: &Obj) -> Result<Option<DeviceInfo>, String> {
    let Some(d) = object(o, "deviceInfo") else { return Ok(None) };
    Ok(Some(DeviceInfo {
        tenant_id: string(d, "tenantId"),
        tenant_name: string(d, "tenantName"),
        application_id: string(d, "applicationId"),
        application_name: string(d, "applicationName"),
        device_profile_id: string(d, "deviceProfileId"),
        device_profile_name: string(d, "deviceProfileName"),
        device_name: string(d, "deviceName"),
        dev_eui: string(d, "devEui"),
        tags: string_map(d, "tags"),
    }))
}

fn rx_info(v: &Value) -> Result<UplinkRxInfo, String> {
    let rx = v.as_object().ok_or("rxInfo element is not an object")?;
    Ok(UplinkRxInfo {
        gateway_id: string(rx, "gatewayId"),
        uplink_id: uint(rx, "uplinkId")?,
        rssi: int(rx, "rssi")?,
        snr: float(rx, "snr") as f32,
        context: bytes(rx, "context")?,
        metadata: string_map(rx, "metadata"),
        gw_time: rx.get("gwTime").and_then(Value::as_str).map(timestamp).transpose()?,
        ns_time: rx.get("nsTime").and_then(Value::as_str).map(timestamp).transpose()?,
    })
}

fn to_struct(o: &Obj) -> Struct {
    Struct { fields: o.iter().map(|(k, v)| (k.clone(), to_value(v))).collect() }
}

fn to_value(v: &Value) -> prost_types::Value {
    let kind = match v {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(*b),
        Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => Kind::StringValue(s.clone()),
        Value::Array(a) => Kind::ListValue(ListValue { values: a.iter().map(to_value).collect() }),
        Value::Object(o) => Kind::StructValue(to_struct(o)),
    };
    prost_types::Value { kind: Some(kind) }
}

fn log_level(name: &str) -> Result<LogLevel, String> {
    Ok(match name {
        "" | "INFO" => LogLevel::Info,
        "WARNING" => LogLevel::Warning,
        "ERROR" => LogLevel::Error,
        other => return Err(format!("log level {other:?}")),
    })
}

fn log_code(name: &str) -> Result<LogCode, String> {
    Ok(match name {
        "" | "UNKNOWN" => LogCode::Unknown,
        "DOWNLINK_PAYLOAD_SIZE" => LogCode::DownlinkPayloadSize,
        "UPLINK_CODEC" => LogCode::UplinkCodec,
        "DOWNLINK_CODEC" => LogCode::DownlinkCodec,
        "OTAA" => LogCode::Otaa,
        "UPLINK_F_CNT_RESET" => LogCode::UplinkFCntReset,
        "UPLINK_MIC" => LogCode::UplinkMic,
        "UPLINK_F_CNT_RETRANSMISSION" => LogCode::UplinkFCntRetransmission,
        "DOWNLINK_GATEWAY" => LogCode::DownlinkGateway,
        "RELAY_NEW_END_DEVICE" => LogCode::RelayNewEndDevice,
        "F_CNT_DOWN" => LogCode::FCntDown,
        "EXPIRED" => LogCode::Expired,
        other => return Err(format!("log code {other:?}")),
    })
}

#[test]
fn timestamps_keep_their_nanoseconds() {
    let ts = timestamp("2022-07-18T09:34:15.775023242+00:00").unwrap();
    assert_eq!((ts.seconds, ts.nanos), (1_658_136_855, 775_023_242));
    let ts = timestamp("2022-07-18T09:34:15Z").unwrap();
    assert_eq!((ts.seconds, ts.nanos), (1_658_136_855, 0));
    let ts = timestamp("2022-07-18T09:34:15.5Z").unwrap();
    assert_eq!(ts.nanos, 500_000_000);
}
