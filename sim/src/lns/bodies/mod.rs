//! The events the simulated network server sends, byte for byte as each
//! server writes them: one file per server and encoding, and here what
//! they share: the network's names and ids ([`Network`]), the event kinds
//! counted in the report ([`Kind`]), and the rendering of each kind for
//! the configured server ([`render`]), faults included.

pub mod chirpstack_v3;
pub mod chirpstack_v4;
pub mod chirpstack_v4_proto;
pub mod tts;

use base64::Engine as _;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Serialize, Serializer};

use super::clock::{self, Stamp};
use super::devices::{self, Device, Uplink};
use super::options::{Encoding, Options, Server, Target};
use super::topics;

/// Gateways in the simulated network.
pub const GATEWAYS: usize = 3;

/// The event name of a fault of kind [`Kind::UnknownEvent`]: ChirpStack's
/// `?event=` and topic level, The Things Stack's message key and topic
/// kind (v3's legacy `rx` topic ending; no server sends it as an event).
pub const UNKNOWN_EVENT: &str = "rx";

/// What an event is, as the report counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// An uplink (ChirpStack `up`, The Things Stack `uplink_message`).
    Up,
    /// An uplink sent again: the same body (a retried push) or the same
    /// uplink as another gateway heard it, with new ids (a second event).
    Repeat,
    /// A join (ChirpStack `join`, The Things Stack `join_accept`).
    Join,
    /// A device-status answer (ChirpStack `status`: battery and margin).
    Status,
    /// Fault: an uplink body cut in half (JSON), or cut and ending in a
    /// field without its length (Protobuf).
    Malformed,
    /// Fault: a valid uplink body under an event kind no server sends
    /// ([`UNKNOWN_EVENT`]).
    UnknownEvent,
    /// Fault: an uplink whose payload field is not base64 (a `*` in it).
    BadBase64,
}

impl Kind {
    /// Every kind, in report order.
    pub const ALL: [Kind; 7] =
        [Kind::Up, Kind::Repeat, Kind::Join, Kind::Status, Kind::Malformed, Kind::UnknownEvent, Kind::BadBase64];

    /// The faults, in the order `--faults-every` cycles through them.
    pub const FAULTS: [Kind; 3] = [Kind::Malformed, Kind::UnknownEvent, Kind::BadBase64];

    /// The name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Up => "up",
            Kind::Repeat => "repeat",
            Kind::Join => "join",
            Kind::Status => "status",
            Kind::Malformed => "malformed",
            Kind::UnknownEvent => "unknown_event",
            Kind::BadBase64 => "bad_base64",
        }
    }

    /// Whether the receiver should refuse it.
    pub fn is_fault(self) -> bool {
        Kind::FAULTS.contains(&self)
    }
}

/// One event, ready for a transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// What it is.
    pub kind: Kind,
    /// The device it is about (its index).
    pub device: u32,
    /// The body (HTTP) or payload (MQTT).
    pub body: Vec<u8>,
    /// The HTTP `Content-Type`.
    pub content_type: &'static str,
    /// ChirpStack: the event name (`?event=`, the topic's last level).
    /// The Things Stack: the topic's kind (`up`, `join`).
    pub event: &'static str,
    /// The MQTT topic it is published on.
    pub topic: String,
}

/// A gateway of the simulated network.
#[derive(Debug, Clone)]
pub struct Gateway {
    /// Gateway EUI.
    pub eui: u64,
    /// The Things Stack's gateway id.
    pub id: String,
    /// ChirpStack v3's gateway name.
    pub name: String,
    /// Where it is.
    pub latitude: f64,
    /// Where it is.
    pub longitude: f64,
    /// Where it is, m.
    pub altitude: f64,
}

/// The simulated network server's names and ids, derived from the seed.
#[derive(Debug, Clone)]
pub struct Network {
    /// Which server it is.
    pub server: Server,
    /// ChirpStack v4's encoding.
    pub encoding: Encoding,
    /// ChirpStack v4: tenant id (UUID).
    pub tenant_id: String,
    /// ChirpStack v4: tenant name.
    pub tenant_name: String,
    /// ChirpStack v4: application id (UUID); v3: its number; The Things
    /// Stack: the application id.
    pub application_id: String,
    /// The application's name (ChirpStack).
    pub application_name: String,
    /// ChirpStack v4: device-profile id (UUID).
    pub profile_id: String,
    /// ChirpStack v4: the device-profile name; The Things Stack: the
    /// model id of `version_ids`.
    pub profile: String,
    /// The Things Stack: the brand id of `version_ids`.
    pub brand: String,
    /// The Things Stack: the tenant (`v3/{application}@{tenant}/...`, `network_ids.tenant_id`).
    pub tts_tenant: String,
    /// The gateways.
    pub gateways: Vec<Gateway>,
    /// Levels before ChirpStack's MQTT topics.
    pub topic_prefix: Option<String>,
}

impl Network {
    /// The network of `options` (ids depend only on the seed).
    pub fn new(options: &Options) -> Network {
        let mut rng = StdRng::seed_from_u64(devices::mix(options.seed ^ 0x4e45_5457_4f52_4b21));
        let (brand, model) = match options.profile.split_once('/') {
            Some((brand, model)) if options.server == Server::TtsV3 => (brand.to_owned(), model.to_owned()),
            _ => ("vega-absolute".to_owned(), options.profile.clone()),
        };
        let tenant_id = clock::uuid(&mut rng);
        let application_uuid = clock::uuid(&mut rng);
        let profile_id = clock::uuid(&mut rng);
        let application_number: u32 = rng.random_range(1..200);
        let gateways = (0..GATEWAYS)
            .map(|i| Gateway {
                eui: 0x0016_c001_0000_0000 | (rng.random::<u64>() & 0xffff_ffff),
                id: format!("{}-gw-{}", options.application, i + 1),
                name: format!("gateway-{}", i + 1),
                latitude: 55.75 + 0.01 * i as f64 + f64::from(rng.random_range(0..1000u32)) / 1e6,
                longitude: 37.61 + 0.01 * i as f64 + f64::from(rng.random_range(0..1000u32)) / 1e6,
                altitude: f64::from(rng.random_range(120..220u32)),
            })
            .collect();
        Network {
            server: options.server,
            encoding: options.encoding,
            tenant_id,
            tenant_name: "ChirpStack".to_owned(),
            application_id: match options.server {
                Server::ChirpstackV4 => application_uuid,
                Server::ChirpstackV3 => application_number.to_string(),
                Server::TtsV3 => options.application.clone(),
            },
            application_name: options.application.clone(),
            profile_id,
            profile: if options.server == Server::TtsV3 { model } else { options.profile.clone() },
            brand,
            tts_tenant: options.tenant.clone(),
            gateways,
            topic_prefix: match &options.target {
                Target::Mqtt { topic_prefix, .. } => topic_prefix.clone(),
                Target::Http { .. } | Target::Off => None,
            },
        }
    }

    /// The device-profile name meterhub's lw640 driver reads from these
    /// events (`lorawan.profile`, what a `profile` route matches): the
    /// profile name from ChirpStack v4, `brand/model` from The Things
    /// Stack; none from ChirpStack v3, whose events do not name it.
    pub fn profile_seen(&self) -> Option<String> {
        match self.server {
            Server::ChirpstackV4 => Some(self.profile.clone()),
            Server::ChirpstackV3 => None,
            Server::TtsV3 => Some(format!("{}/{}", self.brand, self.profile)),
        }
    }
}

/// Bytes in standard base64 with padding (what the servers write).
pub fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A float as Go's `encoding/json` writes a `float64` (ChirpStack v3, The
/// Things Stack): shortest digits, no fraction when integral (`10`, not
/// `10.0`).
pub struct GoFloat64(pub f64);

impl Serialize for GoFloat64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.fract() == 0.0 && self.0.abs() < 1e15 {
            s.serialize_i64(self.0 as i64)
        } else {
            s.serialize_f64(self.0)
        }
    }
}

/// A float as Go's `encoding/json` writes a `float32`.
pub struct GoFloat32(pub f32);

impl Serialize for GoFloat32 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.fract() == 0.0 && self.0.abs() < 1e7 {
            s.serialize_i64(self.0 as i64)
        } else {
            s.serialize_f32(self.0)
        }
    }
}

const JSON: &str = "application/json";
const OCTET_STREAM: &str = "application/octet-stream";

/// The uplink's payload in base64 with one character made a `*` (the
/// [`Kind::BadBase64`] fault).
fn broken_base64(payload: &[u8]) -> String {
    let mut text = base64(payload);
    let middle = text.len() / 2;
    text.replace_range(middle..=middle, "*");
    text
}

/// The JSON uplink body of `uplink` for `net`'s server, its payload
/// field written as `data`.
fn up_json(net: &Network, device: &mut Device, uplink: &Uplink, data: &str) -> Vec<u8> {
    match net.server {
        Server::ChirpstackV4 => chirpstack_v4::up(net, device, uplink, data),
        Server::ChirpstackV3 => chirpstack_v3::up(net, device, uplink, data),
        Server::TtsV3 => tts::up(net, device, uplink, data),
    }
}

/// The uplink body of `uplink` in the network's encoding.
fn up_body(net: &Network, device: &mut Device, uplink: &Uplink) -> (Vec<u8>, &'static str) {
    if net.server == Server::ChirpstackV4 && net.encoding == Encoding::Protobuf {
        return (chirpstack_v4_proto::up(net, device, uplink), OCTET_STREAM);
    }
    (up_json(net, device, uplink, &base64(&uplink.payload)), JSON)
}

/// Event `kind` about `uplink` of `device`: the uplink itself, sent
/// again, a fault made of it, or the device's join or status event at
/// the uplink's time. `None` when the server has no such event (a status
/// from The Things Stack).
pub fn render(net: &Network, device: &mut Device, uplink: &Uplink, kind: Kind) -> Option<Outgoing> {
    let (body, content_type, event) = match kind {
        Kind::Up | Kind::Repeat => {
            let (body, content_type) = up_body(net, device, uplink);
            (body, content_type, "up")
        }
        Kind::Join => return Some(join(net, device, uplink.time)),
        Kind::Status => return status(net, device, uplink.time),
        Kind::Malformed => {
            let (mut body, content_type) = up_body(net, device, uplink);
            body.truncate(body.len() / 2);
            if content_type == OCTET_STREAM {
                // Field 1 (length-delimited) with its length missing.
                body.push(0x0a);
            }
            (body, content_type, "up")
        }
        Kind::UnknownEvent => {
            let (mut body, content_type) = up_body(net, device, uplink);
            if net.server == Server::TtsV3 {
                let text = String::from_utf8_lossy(&body).replacen("\"uplink_message\":", "\"rx\":", 1);
                body = text.into_bytes();
            }
            (body, content_type, UNKNOWN_EVENT)
        }
        Kind::BadBase64 => (up_json(net, device, uplink, &broken_base64(&uplink.payload)), JSON, "up"),
    };
    let topic = topics::topic(net, device, event);
    Some(Outgoing { kind, device: device.index, body, content_type, event, topic })
}

/// The join event of the device's current session, at `at`.
pub fn join(net: &Network, device: &mut Device, at: Stamp) -> Outgoing {
    let (body, content_type) = match (net.server, net.encoding) {
        (Server::ChirpstackV4, Encoding::Protobuf) => (chirpstack_v4_proto::join(net, device, at), OCTET_STREAM),
        (Server::ChirpstackV4, Encoding::Json) => (chirpstack_v4::join(net, device, at), JSON),
        (Server::ChirpstackV3, _) => (chirpstack_v3::join(net, device), JSON),
        (Server::TtsV3, _) => (tts::join(net, device, at), JSON),
    };
    let topic = topics::topic(net, device, "join");
    Outgoing { kind: Kind::Join, device: device.index, body, content_type, event: "join", topic }
}

/// The device-status event of `device` at `at`; `None` from The Things
/// Stack, which has none.
fn status(net: &Network, device: &mut Device, at: Stamp) -> Option<Outgoing> {
    let (level, margin) = device.status();
    let (body, content_type) = match (net.server, net.encoding) {
        (Server::ChirpstackV4, Encoding::Protobuf) => {
            (chirpstack_v4_proto::status(net, device, at, level, margin), OCTET_STREAM)
        }
        (Server::ChirpstackV4, Encoding::Json) => (chirpstack_v4::status(net, device, at, level, margin), JSON),
        (Server::ChirpstackV3, _) => (chirpstack_v3::status(net, device, level, margin), JSON),
        (Server::TtsV3, _) => return None,
    };
    let topic = topics::topic(net, device, "status");
    Some(Outgoing { kind: Kind::Status, device: device.index, body, content_type, event: "status", topic })
}
