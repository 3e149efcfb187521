//! The bodies, read the way lw640 reads them (its README's "Frames"
//! table): the device, the time, fPort, fCnt, the payload, the gateways,
//! status numbers; the SI-12 payload inside with the uplink's time and
//! the device's counters; each server's shape and casing; the faults.

use prost::Message;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use super::{documented_time, first_uplink, is_hex, is_uuid, json, options, unbase64};
use crate::lns::bodies::chirpstack_v4_proto::{JoinEvent, StatusEvent, UplinkEvent};
use crate::lns::bodies::{Kind, UNKNOWN_EVENT};
use crate::lns::devices::read_si12;
use crate::lns::{Encoding, Options, Server, Stamp, Target, Traffic, topics};

/// The SI-12 packet in `payload`: type 1, the device's battery, settings
/// 0x06, the uplink's time, and the device's counters now.
fn check_si12(payload: &[u8], traffic: &Traffic, device: usize, time_s: i64) {
    let d = &traffic.devices()[device];
    let (battery, settings, time, temperature, inputs) = read_si12(payload).expect("an SI-12 type 1 packet");
    assert_eq!((battery, settings), (d.battery, 0x06));
    assert_eq!(i64::from(time), time_s, "the payload's time is the uplink's");
    assert_eq!(temperature, d.temperature);
    assert_eq!(inputs, d.inputs, "the counters after this uplink");
}

/// The keys of an object in the order the text gives them (a
/// `serde_json::Value` sorts them).
struct Keys(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for Keys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Keys, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = Keys;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Keys, A::Error> {
                let mut keys = Vec::new();
                while let Some(entry) = map.next_entry::<String, Box<RawValue>>()? {
                    keys.push(entry);
                }
                Ok(Keys(keys))
            }
        }
        d.deserialize_map(Visit)
    }
}

/// The keys, in order, of the object at `path` (keys from the top) in `body`.
fn keys(body: &[u8], path: &[&str]) -> Vec<String> {
    let mut text = String::from_utf8(body.to_vec()).unwrap();
    for step in path {
        let Keys(entries) = serde_json::from_str(&text).unwrap();
        text = entries.into_iter().find(|(k, _)| k == step).unwrap().1.get().to_owned();
    }
    let Keys(entries) = serde_json::from_str(&text).unwrap();
    entries.into_iter().map(|(k, _)| k).collect()
}

#[test]
fn chirpstack_v4_up_is_what_lw640_reads() {
    let options = options(Server::ChirpstackV4);
    let (mut traffic, events) = first_uplink(&options, documented_time());
    assert_eq!(events.len(), 1);
    let up = &events[0];
    assert_eq!((up.kind, up.event, up.content_type), (Kind::Up, "up", "application/json"));
    let text = String::from_utf8(up.body.clone()).unwrap();
    assert!(text.starts_with(r#"{"deduplicationId":""#), "field order as ChirpStack writes it: {text}");
    let body = json(&up.body);
    let dr = traffic.devices()[0].dr;
    let expected =
        ["deduplicationId", "time", "deviceInfo", "devAddr", "adr", "dr", "fPort", "data", "rxInfo", "txInfo"];
    let expected: Vec<&str> = expected.into_iter().filter(|k| *k != "dr" || dr > 0).collect();
    assert_eq!(keys(&up.body, &[]), expected, "ChirpStack's order; fCnt 0 (and DR0) left out");
    assert!(is_uuid(body["deduplicationId"].as_str().unwrap()));
    let time = body["time"].as_str().unwrap();
    assert!(time.starts_with("2022-07-18T09:34:15.775") && time.ends_with("+00:00") && time.len() == 35, "{time}");
    let info = &body["deviceInfo"];
    assert_eq!(
        keys(&up.body, &["deviceInfo"]),
        [
            "tenantId",
            "tenantName",
            "applicationId",
            "applicationName",
            "deviceProfileId",
            "deviceProfileName",
            "deviceName",
            "devEui"
        ]
    );
    let dev_eui = info["devEui"].as_str().unwrap();
    assert!(is_hex(dev_eui, 16, false), "lower-case hex: {dev_eui}");
    assert_eq!(dev_eui.to_ascii_uppercase(), traffic.devices()[0].dev_eui_hex());
    assert_eq!(info["deviceProfileName"], "SI-12");
    assert_eq!(info["applicationName"], "meterhub-sim");
    assert!(is_uuid(info["applicationId"].as_str().unwrap()) && is_uuid(info["tenantId"].as_str().unwrap()));
    assert!(body.get("fCnt").is_none(), "frame counter 0 is left out, as the Protobuf JSON mapping does");
    assert_eq!(body["fPort"], 2);
    assert!(is_hex(body["devAddr"].as_str().unwrap(), 8, false));
    check_si12(&unbase64(&body["data"]), &traffic, 0, 1_658_136_855);
    let rx = &body["rxInfo"][0];
    assert!(is_hex(rx["gatewayId"].as_str().unwrap(), 16, false));
    assert!(rx["rssi"].as_i64().unwrap() < 0 && rx["snr"].is_number());
    assert_eq!(rx["metadata"]["region_common_name"], "EU868");
    let lora = &body["txInfo"]["modulation"]["lora"];
    assert!((7..=12).contains(&lora["spreadingFactor"].as_u64().unwrap()));
    assert_eq!((lora["bandwidth"].as_u64(), lora["codeRate"].as_str()), (Some(125_000), Some("CR_4_5")));
    assert!(body.get("object").is_none(), "no codec at the simulated server");

    let second = traffic.slot(0, documented_time().plus_ms(60_000));
    let body = json(&second[0].body);
    assert_eq!(body["fCnt"], 1);
    check_si12(&unbase64(&body["data"]), &traffic, 0, 1_658_136_915);
}

#[test]
fn chirpstack_v4_protobuf_carries_what_the_json_does() {
    let at = documented_time();
    let (json_traffic, json_events) = first_uplink(&options(Server::ChirpstackV4), at);
    let proto = Options { encoding: Encoding::Protobuf, ..options(Server::ChirpstackV4) };
    let (traffic, events) = first_uplink(&proto, at);
    let up = &events[0];
    assert_eq!(up.content_type, "application/octet-stream");
    assert_eq!(up.body[0], 0x0a, "field 1 (deduplication_id) first");
    let message = UplinkEvent::decode(up.body.as_slice()).unwrap();
    let body = json(&json_events[0].body);
    let info = message.device_info.as_ref().unwrap();
    assert_eq!(info.dev_eui, body["deviceInfo"]["devEui"].as_str().unwrap());
    assert_eq!(info.device_profile_name, "SI-12");
    assert!(is_uuid(&message.deduplication_id));
    let time = message.time.unwrap();
    assert_eq!(time.seconds, 1_658_136_855);
    assert_eq!(Stamp::from_parts(time.seconds, u32::try_from(time.nanos).unwrap()).chirpstack_v4(), body["time"]);
    assert_eq!((message.f_port, message.f_cnt, message.adr), (2, 0, true));
    assert_eq!(message.data, unbase64(&body["data"]));
    check_si12(&message.data, &traffic, 0, 1_658_136_855);
    assert_eq!(json_traffic.devices()[0].inputs, traffic.devices()[0].inputs, "one seed, one device");
    assert_eq!(message.rx_info.len(), 1);
    assert_eq!(message.rx_info[0].snr, body["rxInfo"][0]["snr"].as_f64().unwrap() as f32);
    let lora = message.tx_info.unwrap().modulation.unwrap().lora.unwrap();
    assert_eq!((lora.bandwidth, lora.code_rate), (125_000, 1));
}

#[test]
fn chirpstack_v3_up_is_the_json_v3_marshalers() {
    let (traffic, events) = first_uplink(&options(Server::ChirpstackV3), documented_time());
    let body = json(&events[0].body);
    assert_eq!(
        keys(&events[0].body, &[]),
        [
            "applicationID",
            "applicationName",
            "deviceName",
            "devEUI",
            "rxInfo",
            "txInfo",
            "adr",
            "fCnt",
            "fPort",
            "data"
        ]
    );
    let id = body["applicationID"].as_str().expect("the application id is a string");
    assert!(id.parse::<u32>().is_ok(), "{id}");
    let dev_eui = body["devEUI"].as_str().unwrap();
    assert!(is_hex(dev_eui, 16, false), "{dev_eui}");
    assert_eq!(body["fCnt"], 0, "Go writes zeros");
    assert_eq!(body["fPort"], 2);
    let rx = &body["rxInfo"][0];
    assert!(is_hex(rx["gatewayID"].as_str().unwrap(), 16, false));
    let time = rx["time"].as_str().unwrap();
    assert!(time.starts_with("2022-07-18T09:34:15.775") && time.ends_with('Z'), "{time}");
    assert!(rx["loRaSNR"].is_number() && rx["rssi"].is_i64());
    assert!(rx["location"]["latitude"].is_f64());
    assert!(body["txInfo"]["dr"].is_u64());
    check_si12(&unbase64(&body["data"]), &traffic, 0, 1_658_136_855);
}

#[test]
fn go_floats_have_no_fraction_when_whole() {
    use crate::lns::bodies::{GoFloat32, GoFloat64};
    assert_eq!(serde_json::to_string(&GoFloat64(10.0)).unwrap(), "10");
    assert_eq!(serde_json::to_string(&GoFloat64(-7.5)).unwrap(), "-7.5");
    assert_eq!(serde_json::to_string(&GoFloat32(88.3)).unwrap(), "88.3");
    assert_eq!(serde_json::to_string(&GoFloat32(75.0)).unwrap(), "75");
}

#[test]
fn tts_uplink_message_is_the_webhooks() {
    let (traffic, events) = first_uplink(&options(Server::TtsV3), documented_time());
    let up = &events[0];
    assert_eq!((up.event, up.content_type), ("up", "application/json"));
    let body = json(&up.body);
    assert_eq!(keys(&up.body, &[]), ["end_device_ids", "correlation_ids", "received_at", "uplink_message"]);
    let ids = &body["end_device_ids"];
    let device = &traffic.devices()[0];
    assert_eq!(ids["dev_eui"], device.dev_eui_hex().as_str(), "upper-case hex");
    assert_eq!(ids["device_id"], format!("eui-{}", device.dev_eui_lower()).as_str());
    assert_eq!(ids["join_eui"], "7665676173693132", "Vega's SI-12 AppEUI");
    assert_eq!(ids["application_ids"]["application_id"], "meterhub-sim");
    assert!(is_hex(ids["dev_addr"].as_str().unwrap(), 8, true));
    for id in body["correlation_ids"].as_array().unwrap() {
        let (_, ulid) = id.as_str().unwrap().rsplit_once(':').unwrap();
        assert_eq!(ulid.len(), 26, "{id}");
    }
    let received = body["received_at"].as_str().unwrap();
    assert!(received.starts_with("2022-07-18T09:34:15.775") && received.ends_with('Z'), "{received}");
    assert_eq!(
        keys(&events[0].body, &["uplink_message"]),
        [
            "session_key_id",
            "f_port",
            "frm_payload",
            "rx_metadata",
            "settings",
            "received_at",
            "consumed_airtime",
            "version_ids",
            "network_ids"
        ]
    );
    let up = &body["uplink_message"];
    assert_eq!(up["f_port"], 2);
    assert!(up.get("f_cnt").is_none(), "zero is left out");
    check_si12(&unbase64(&up["frm_payload"]), &traffic, 0, 1_658_136_855);
    let frequency = up["settings"]["frequency"].as_str().expect("the frequency is a string");
    assert!(frequency.parse::<u64>().unwrap() > 863_000_000);
    assert_eq!(up["settings"]["data_rate"]["lora"]["bandwidth"], 125_000);
    let rx = &up["rx_metadata"][0];
    assert!(rx["rssi"].as_i64().unwrap() < 0 && rx["snr"].is_number());
    assert!(is_hex(rx["gateway_ids"]["eui"].as_str().unwrap(), 16, true));
    assert_eq!(up["version_ids"]["brand_id"], "vega-absolute");
    assert_eq!(up["version_ids"]["model_id"], "SI-12");
    assert_eq!(traffic.network().profile_seen().as_deref(), Some("vega-absolute/SI-12"));
    assert!(up["consumed_airtime"].as_str().unwrap().ends_with('s'));
}

#[test]
fn airtime_follows_the_lora_formula() {
    use crate::lns::bodies::tts::airtime_s;
    // 37-byte PHY payload at SF7/125 kHz: 12.25 + 68 symbols of 1.024 ms.
    assert!((airtime_s(7, 24) - 0.082_176).abs() < 1e-9, "{}", airtime_s(7, 24));
    assert!(airtime_s(12, 24) > 1.0 && airtime_s(12, 24) < 2.0);
}

#[test]
fn the_profile_name_is_an_option() {
    let named = |server, profile: &str| {
        Traffic::new(&Options { profile: profile.into(), ..options(server) }).network().profile_seen()
    };
    assert_eq!(named(Server::ChirpstackV4, "Vega SI-12 counters").as_deref(), Some("Vega SI-12 counters"));
    assert_eq!(named(Server::TtsV3, "vega/si-12").as_deref(), Some("vega/si-12"));
    assert_eq!(named(Server::ChirpstackV3, "SI-12"), None, "v3 events name no profile");
    let options = Options { profile: "Water SI-12".into(), ..options(Server::ChirpstackV4) };
    let (_, events) = first_uplink(&options, documented_time());
    assert_eq!(json(&events[0].body)["deviceInfo"]["deviceProfileName"], "Water SI-12");
}

#[test]
fn joins_carry_the_new_session() {
    for server in Server::ALL {
        let mut traffic = Traffic::new(&options(server));
        let joins = traffic.joins(documented_time());
        assert_eq!(joins.len(), 3);
        let device = &traffic.devices()[1];
        let join = &joins[1];
        assert_eq!((join.kind, join.event, join.device), (Kind::Join, "join", 1));
        let body = json(&join.body);
        match server {
            Server::ChirpstackV4 => {
                assert_eq!(keys(&join.body, &[]), ["deduplicationId", "time", "deviceInfo", "devAddr"]);
                assert_eq!(body["devAddr"], format!("{:08x}", device.dev_addr).as_str());
                assert_eq!(body["time"], "2022-07-18T09:34:15.776+00:00", "device 1 a millisecond after device 0");
            }
            Server::ChirpstackV3 => {
                assert_eq!(
                    keys(&join.body, &[]),
                    ["applicationID", "applicationName", "deviceName", "devAddr", "devEUI"]
                );
                assert_eq!(body["devEUI"], device.dev_eui_lower().as_str());
            }
            Server::TtsV3 => {
                assert_eq!(keys(&join.body, &[]), ["end_device_ids", "correlation_ids", "received_at", "join_accept"]);
                assert_eq!(body["end_device_ids"]["dev_addr"], format!("{:08X}", device.dev_addr).as_str());
                assert!(body["join_accept"]["session_key_id"].is_string());
            }
        }
    }
    let proto = Options { encoding: Encoding::Protobuf, ..options(Server::ChirpstackV4) };
    let joins = Traffic::new(&proto).joins(documented_time());
    let join = JoinEvent::decode(joins[0].body.as_slice()).unwrap();
    assert!(is_hex(&join.dev_addr, 8, false) && join.time.unwrap().seconds == 1_658_136_855);
}

#[test]
fn status_events_tell_battery_and_margin() {
    let with_status = |server| Options { status_every: 1, ..options(server) };
    let (traffic, events) = first_uplink(&with_status(Server::ChirpstackV4), documented_time());
    assert_eq!(events.iter().map(|e| e.kind).collect::<Vec<_>>(), [Kind::Up, Kind::Status]);
    assert_eq!(events[1].event, "status");
    let body = json(&events[1].body);
    assert_eq!(keys(&events[1].body, &[]), ["deduplicationId", "time", "deviceInfo", "margin", "batteryLevel"]);
    let level = body["batteryLevel"].as_f64().unwrap();
    let battery = f64::from(traffic.devices()[0].battery);
    assert!(level <= battery && level > battery - 1.0, "{level} of {battery}");
    assert!((0..=31).contains(&body["margin"].as_i64().unwrap()));

    let (_, events) = first_uplink(&with_status(Server::ChirpstackV3), documented_time());
    let body = json(&events[1].body);
    let raw = body["battery"].as_u64().unwrap();
    assert!((1..=254).contains(&raw));
    let level = body["batteryLevel"].as_f64().unwrap();
    assert!((level - raw as f64 / 254.0 * 100.0).abs() < 0.01, "{level} from {raw}");
    assert_eq!(
        (body["externalPowerSource"].as_bool(), body["batteryLevelUnavailable"].as_bool()),
        (Some(false), Some(false))
    );

    let proto = Options { encoding: Encoding::Protobuf, ..with_status(Server::ChirpstackV4) };
    let (_, events) = first_uplink(&proto, documented_time());
    let status = StatusEvent::decode(events[1].body.as_slice()).unwrap();
    assert!(status.battery_level > 0.0 && status.device_info.is_some());
}

/// The faults of each server, in the order `faults_every` sends them.
fn faults(options: Options) -> Vec<crate::lns::Outgoing> {
    let mut traffic = Traffic::new(&Options { faults_every: 1, ..options });
    (0..3).flat_map(|i| traffic.slot(0, documented_time().plus_ms(i * 1000))).filter(|e| e.kind.is_fault()).collect()
}

#[test]
fn faults_are_what_lw640_refuses() {
    for server in Server::ALL {
        let faults = faults(options(server));
        assert_eq!(faults.iter().map(|e| e.kind).collect::<Vec<_>>(), Kind::FAULTS, "{server:?}");
        assert!(serde_json::from_slice::<Value>(&faults[0].body).is_err(), "malformed JSON");
        assert_eq!(faults[0].event, "up");
        let unknown = &faults[1];
        assert_eq!(unknown.event, UNKNOWN_EVENT);
        let body = json(&unknown.body);
        if server == Server::TtsV3 {
            assert!(body.get("uplink_message").is_none() && body.get("rx").is_some(), "an unknown message key");
            assert!(unknown.topic.ends_with("/rx"), "{}", unknown.topic);
        } else {
            assert!(unknown.topic.ends_with("/event/rx"), "{}", unknown.topic);
        }
        let body = json(&faults[2].body);
        let data = match server {
            Server::TtsV3 => &body["uplink_message"]["frm_payload"],
            _ => &body["data"],
        };
        let data = data.as_str().unwrap();
        assert!(data.contains('*'), "{data}");
        assert!(base64::Engine::decode(&base64::engine::general_purpose::STANDARD, data).is_err());
    }
    let proto = faults(Options { encoding: Encoding::Protobuf, ..options(Server::ChirpstackV4) });
    assert_eq!(proto[0].content_type, "application/octet-stream");
    assert!(UplinkEvent::decode(proto[0].body.as_slice()).is_err(), "malformed Protobuf");
    assert!(UplinkEvent::decode(proto[1].body.as_slice()).is_ok(), "a valid body, an unknown event");
    assert_eq!(proto[2].content_type, "application/json", "bad base64 needs JSON");
}

#[test]
fn topics_follow_each_servers_layout() {
    let mqtt = |prefix: Option<&str>| Target::Mqtt {
        url: "mqtt://127.0.0.1:1883".into(),
        topic_prefix: prefix.map(str::to_owned),
        username: None,
        password: None,
    };
    let topic_of = |options: Options| {
        let (traffic, events) = first_uplink(&options, documented_time());
        (traffic, events[0].topic.clone())
    };
    let (traffic, topic) = topic_of(Options { target: mqtt(None), ..options(Server::ChirpstackV4) });
    let app = &traffic.network().application_id;
    assert!(is_uuid(app));
    let eui = traffic.devices()[0].dev_eui_lower();
    assert_eq!(topic, format!("application/{app}/device/{eui}/event/up"));
    let (traffic, topic) = topic_of(Options { target: mqtt(Some("eu868/site-1/")), ..options(Server::ChirpstackV4) });
    let app = &traffic.network().application_id;
    assert_eq!(topic, format!("eu868/site-1/application/{app}/device/{eui}/event/up"));
    let (traffic, topic) = topic_of(Options { target: mqtt(None), ..options(Server::ChirpstackV3) });
    let app = &traffic.network().application_id;
    assert!(app.parse::<u32>().is_ok());
    assert_eq!(topic, format!("application/{app}/device/{eui}/event/up"));
    let (_, topic) = topic_of(Options { target: mqtt(None), ..options(Server::TtsV3) });
    assert_eq!(topic, format!("v3/meterhub-sim@ttn/devices/eui-{eui}/up"));
    let mut traffic = Traffic::new(&Options { target: mqtt(None), ..options(Server::TtsV3) });
    assert_eq!(traffic.joins(documented_time())[0].topic, format!("v3/meterhub-sim@ttn/devices/eui-{eui}/join"));
    let mut traffic = Traffic::new(&Options { target: mqtt(None), status_every: 1, ..options(Server::ChirpstackV3) });
    assert!(traffic.slot(0, documented_time())[1].topic.ends_with(&format!("/device/{eui}/event/status")));
}

#[test]
fn chirpstack_names_the_event_in_the_query() {
    use topics::http_target;
    assert_eq!(http_target(Server::ChirpstackV4, "/", None, "up"), "/?event=up");
    assert_eq!(http_target(Server::ChirpstackV4, "", None, "join"), "/?event=join");
    assert_eq!(http_target(Server::ChirpstackV3, "/lw", Some("token=x"), "status"), "/lw?token=x&event=status");
    assert_eq!(http_target(Server::TtsV3, "/hook", None, "up"), "/hook");
    assert_eq!(http_target(Server::TtsV3, "/hook", Some("a=1"), "up"), "/hook?a=1");
}
