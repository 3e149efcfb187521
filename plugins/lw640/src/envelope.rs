//! What the driver read from a network server's event (the envelope),
//! whatever server and encoding carried it, and how it becomes the
//! committed frame's content type and `lorawan.*` metadata
//! ([`meterhub_plugin_api::lorawan`]).

use meterhub_plugin_api::lorawan;

use crate::fields::Eui;
use crate::json::Number;

/// ChirpStack v4 event, JSON marshaler.
pub const CHIRPSTACK_V4_JSON: &str = "application/vnd.chirpstack.v4.event+json";
/// ChirpStack v4 event, binary Protobuf (a message of the `integration`
/// package; which one is told by `lorawan.event`).
pub const CHIRPSTACK_V4_PROTOBUF: &str = "application/vnd.chirpstack.v4.event+protobuf";
/// ChirpStack (Application Server) v3 event, "JSON v3" or Protobuf JSON
/// marshaler (the body's shape tells which).
pub const CHIRPSTACK_V3_JSON: &str = "application/vnd.chirpstack.v3.event+json";
/// The Things Stack v3 webhook body.
pub const TTS_V3_JSON: &str = "application/vnd.tts.v3.webhook+json";

/// A network server the driver reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    /// ChirpStack v4.
    ChirpstackV4,
    /// ChirpStack Application Server v3.
    ChirpstackV3,
    /// The Things Stack v3.
    TtsV3,
}

impl Server {
    /// Its name in settings and in `lorawan.server`.
    pub fn name(self) -> &'static str {
        match self {
            Server::ChirpstackV4 => "chirpstack-v4",
            Server::ChirpstackV3 => "chirpstack-v3",
            Server::TtsV3 => "tts-v3",
        }
    }

    /// Its name for people.
    pub fn title(self) -> &'static str {
        match self {
            Server::ChirpstackV4 => "ChirpStack v4",
            Server::ChirpstackV3 => "ChirpStack v3",
            Server::TtsV3 => "The Things Stack v3",
        }
    }
}

/// How the body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// JSON.
    Json,
    /// Binary Protobuf.
    Protobuf,
}

/// The content type of a frame from `server` in `encoding`.
pub fn content_type(server: Server, encoding: Encoding) -> &'static str {
    match (server, encoding) {
        (Server::ChirpstackV4, Encoding::Json) => CHIRPSTACK_V4_JSON,
        (Server::ChirpstackV4, Encoding::Protobuf) => CHIRPSTACK_V4_PROTOBUF,
        (Server::ChirpstackV3, _) => CHIRPSTACK_V3_JSON,
        (Server::TtsV3, _) => TTS_V3_JSON,
    }
}

/// What an uplink tells beyond the common fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Uplink {
    /// fPort (absent: 0).
    pub fport: u32,
    /// Frame counter (absent: 0).
    pub fcnt: u32,
    /// FRMPayload (absent: empty).
    pub frm: Vec<u8>,
    /// Each gateway's RSSI (dBm) and SNR (dB), in the server's order.
    pub gateways: Vec<(Number, Number)>,
    /// The payload as the server decoded it, compact JSON object text.
    pub upstream: Option<String>,
}

/// What a device status event tells.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    /// Battery charge, percent; `None` on external power or when the
    /// device could not tell.
    pub battery: Option<Number>,
    /// Link margin, dB.
    pub margin: Option<i64>,
}

/// One event as the driver read it.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// Who sent it.
    pub server: Server,
    /// How.
    pub encoding: Encoding,
    /// The event kind (`lorawan.event`).
    pub event: String,
    /// The device.
    pub dev_eui: Eui,
    /// Its JoinEUI, where the server says.
    pub join_eui: Option<Eui>,
    /// Its application's name (or id) on the server.
    pub application: Option<String>,
    /// Its name on the server.
    pub device_name: Option<String>,
    /// Its profile on the server.
    pub profile: Option<String>,
    /// The server's time of the event, when it gave one (ms since the
    /// epoch); [`crate::fields::event_ts`] decides what `lorawan.ts` says.
    pub server_ts_ms: Option<i64>,
    /// Set for uplinks.
    pub uplink: Option<Uplink>,
    /// Set for status events.
    pub status: Option<Status>,
}

impl Envelope {
    /// A new envelope with only the common fields, for the readers to fill.
    pub fn new(server: Server, encoding: Encoding, event: &str, dev_eui: Eui) -> Envelope {
        Envelope {
            server,
            encoding,
            event: event.to_owned(),
            dev_eui,
            join_eui: None,
            application: None,
            device_name: None,
            profile: None,
            server_ts_ms: None,
            uplink: None,
            status: None,
        }
    }

    /// The frame's metadata, `ts_ms` as `lorawan.ts`, and `lorawan.repeat`
    /// when `repeat`. Keys in a fixed order: common ones, then the
    /// uplink's, then the status's.
    pub fn meta(&self, ts_ms: i64, repeat: bool) -> Vec<(String, String)> {
        let mut meta: Vec<(&str, String)> = vec![
            (lorawan::EVENT, self.event.clone()),
            (lorawan::SERVER, self.server.name().to_owned()),
            (lorawan::DEVEUI, self.dev_eui.hex()),
            (lorawan::TS, ts_ms.to_string()),
        ];
        let optional = [
            (lorawan::JOINEUI, self.join_eui.map(|e| e.hex())),
            (lorawan::APPLICATION, self.application.clone()),
            (lorawan::DEVICE_NAME, self.device_name.clone()),
            (lorawan::PROFILE, self.profile.clone()),
        ];
        meta.extend(optional.into_iter().filter_map(|(k, v)| Some((k, v?))));
        if let Some(up) = &self.uplink {
            meta.push((lorawan::FPORT, up.fport.to_string()));
            meta.push((lorawan::FCNT, up.fcnt.to_string()));
            meta.push((lorawan::FRM, meterhub_plugin_api::hex::encode(&up.frm)));
            let best_rssi = up.gateways.iter().map(|(rssi, _)| rssi).max_by(|a, b| a.value.total_cmp(&b.value));
            if let Some(rssi) = best_rssi {
                // dBm as an integer: a float RSSI (The Things Stack's) rounds.
                meta.push((lorawan::RSSI, format!("{}", rssi.value.round() as i64)));
            }
            let best_snr = up.gateways.iter().map(|(_, snr)| snr).max_by(|a, b| a.value.total_cmp(&b.value));
            if let Some(snr) = best_snr {
                meta.push((lorawan::SNR, snr.text.clone()));
            }
            meta.push((lorawan::GATEWAYS, up.gateways.len().to_string()));
            if let Some(upstream) = &up.upstream {
                meta.push((lorawan::UPSTREAM, upstream.clone()));
            }
        }
        if let Some(status) = &self.status {
            if let Some(battery) = &status.battery {
                meta.push((lorawan::BATTERY, battery.text.clone()));
            }
            if let Some(margin) = status.margin {
                meta.push((lorawan::MARGIN, margin.to_string()));
            }
        }
        if repeat {
            meta.push((lorawan::REPEAT, "1".to_owned()));
        }
        meta.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_of_an_uplink_names_the_best_gateway_values() {
        let mut envelope = Envelope::new(Server::TtsV3, Encoding::Json, "up", Eui([1, 2, 3, 4, 5, 6, 7, 0xab]));
        envelope.uplink = Some(Uplink {
            fport: 2,
            fcnt: 7,
            frm: vec![0xde, 0xad],
            gateways: vec![
                (Number::from_f64(-110.5), Number::from_f64(-3.25)),
                (Number::from_f64(-97.4), Number::from_f64(-7.0)),
            ],
            upstream: None,
        });
        let meta = envelope.meta(1_000, true);
        let get = |k: &str| meta.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        assert_eq!(get(lorawan::DEVEUI), Some("01020304050607AB"));
        assert_eq!(get(lorawan::RSSI), Some("-97"));
        assert_eq!(get(lorawan::SNR), Some("-3.25"));
        assert_eq!(get(lorawan::GATEWAYS), Some("2"));
        assert_eq!(get(lorawan::FRM), Some("dead"));
        assert_eq!(get(lorawan::REPEAT), Some("1"));
        assert_eq!(get(lorawan::PROFILE), None);
        envelope.uplink.as_mut().unwrap().gateways.clear();
        let meta = envelope.meta(1_000, false);
        assert!(meta.iter().all(|(k, _)| k != lorawan::RSSI && k != lorawan::REPEAT));
    }
}
