//! The Things Stack v3's webhook bodies (also its MQTT server's payloads):
//! an `ApplicationUp` in snake_case JSON, its one message under its key
//! (`uplink_message`, `join_accept`), the envelope's `end_device_ids`
//! (`dev_eui`, `join_eui` and `dev_addr` in upper-case hex),
//! `correlation_ids` (ULIDs) and `received_at`; empty, zero and false
//! fields are left out, `frequency` is a string, times in Go's
//! `RFC3339Nano` form. The shapes follow the documented examples in
//! `vectors/tts_v3_webhook_examples.json` (`docs_examples`).
//!
//! The Things Stack has no device-status event: the simulator sends none.

use rand::Rng;
use serde::Serialize;

use super::{GoFloat64, Network, base64};
use crate::lns::clock::{self, Stamp};
use crate::lns::devices::{Device, FPORT, Uplink};

/// The JoinEUI (AppEUI) of the simulated devices: Vega's SI-12 entry
/// (`vectors/vega_appeui_models.json`, "vegasi12").
pub const JOIN_EUI: &str = "7665676173693132";

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[derive(Serialize)]
struct EndDeviceIds {
    device_id: String,
    application_ids: ApplicationIds,
    dev_eui: String,
    join_eui: &'static str,
    dev_addr: String,
}

#[derive(Serialize)]
struct ApplicationIds {
    application_id: String,
}

#[derive(Serialize)]
struct Up<'a> {
    end_device_ids: EndDeviceIds,
    correlation_ids: Vec<String>,
    received_at: String,
    uplink_message: UplinkMessage<'a>,
}

#[derive(Serialize)]
struct UplinkMessage<'a> {
    session_key_id: String,
    f_port: u32,
    #[serde(skip_serializing_if = "is_zero")]
    f_cnt: u32,
    frm_payload: &'a str,
    rx_metadata: Vec<RxMetadata>,
    settings: Settings,
    received_at: String,
    consumed_airtime: String,
    version_ids: VersionIds<'a>,
    network_ids: NetworkIds<'a>,
}

#[derive(Serialize)]
struct RxMetadata {
    gateway_ids: GatewayIds,
    time: String,
    timestamp: u32,
    rssi: i32,
    channel_rssi: i32,
    snr: GoFloat64,
    uplink_token: String,
    #[serde(skip_serializing_if = "is_zero")]
    channel_index: u32,
}

#[derive(Serialize)]
struct GatewayIds {
    gateway_id: String,
    eui: String,
}

#[derive(Serialize)]
struct Settings {
    data_rate: DataRate,
    coding_rate: &'static str,
    frequency: String,
    timestamp: u32,
    time: String,
}

#[derive(Serialize)]
struct DataRate {
    lora: Lora,
}

#[derive(Serialize)]
struct Lora {
    bandwidth: u32,
    spreading_factor: u32,
}

#[derive(Serialize)]
struct VersionIds<'a> {
    brand_id: &'a str,
    model_id: &'a str,
    band_id: &'static str,
}

#[derive(Serialize)]
struct NetworkIds<'a> {
    net_id: &'static str,
    tenant_id: &'a str,
    cluster_id: &'static str,
}

#[derive(Serialize)]
struct Join {
    end_device_ids: EndDeviceIds,
    correlation_ids: Vec<String>,
    received_at: String,
    join_accept: JoinAccept,
}

#[derive(Serialize)]
struct JoinAccept {
    session_key_id: String,
    received_at: String,
}

/// The device's id: what The Things Stack's console proposes, `eui-` and
/// the DevEUI in lower case.
pub fn device_id(device: &Device) -> String {
    format!("eui-{}", device.dev_eui_lower())
}

fn end_device_ids(net: &Network, device: &Device) -> EndDeviceIds {
    EndDeviceIds {
        device_id: device_id(device),
        application_ids: ApplicationIds { application_id: net.application_id.clone() },
        dev_eui: device.dev_eui_hex(),
        join_eui: JOIN_EUI,
        dev_addr: format!("{:08X}", device.dev_addr),
    }
}

/// The correlation ids of an event, each a prefix and a fresh ULID.
fn correlation_ids(prefixes: &[&str], at: Stamp, rng: &mut impl Rng) -> Vec<String> {
    prefixes.iter().map(|p| format!("{p}:{}", clock::ulid(at, rng))).collect()
}

/// Time on air of an uplink of `payload_len` FRMPayload bytes (13 bytes
/// of LoRaWAN framing besides), LoRa at 125 kHz, coding rate 4/5,
/// explicit header, 8-symbol preamble, low-data-rate optimisation at SF11
/// and SF12: the formula of Semtech's AN1200.13.
pub fn airtime_s(spreading_factor: u32, payload_len: usize) -> f64 {
    let sf = f64::from(spreading_factor);
    let symbol_s = 2f64.powf(sf) / 125_000.0;
    let low_rate = if spreading_factor >= 11 { 1.0 } else { 0.0 };
    let bits = 8.0 * (13 + payload_len) as f64 - 4.0 * sf + 28.0 + 16.0;
    let payload_symbols = 8.0 + ((bits / (4.0 * (sf - 2.0 * low_rate))).ceil() * 5.0).max(0.0);
    (8.0 + 4.25 + payload_symbols) * symbol_s
}

/// The `uplink_message` webhook of `uplink`, its `frm_payload` written as
/// `frm_payload` (the base64 of the payload; a fault passes something else).
pub fn up(net: &Network, device: &mut Device, uplink: &Uplink, frm_payload: &str) -> Vec<u8> {
    let ids = end_device_ids(net, device);
    let session_key_id = base64(&device.session_key_id);
    let rng = device.rng();
    let ns_time = uplink.time.plus_nanos(-rng.random_range(200_000..5_000_000i64));
    let gateway_time = uplink.time.plus_nanos(-rng.random_range(20_000_000..60_000_000i64));
    let concentrator = u32::try_from(gateway_time.ms().rem_euclid(4_294_967) * 1000).unwrap_or(0);
    let rx_metadata = uplink
        .heard_by
        .iter()
        .map(|&(gateway, rssi, snr10)| {
            let gw = &net.gateways[gateway];
            RxMetadata {
                gateway_ids: GatewayIds { gateway_id: gw.id.clone(), eui: format!("{:016X}", gw.eui) },
                time: gateway_time.go(),
                timestamp: concentrator,
                rssi: rssi.into(),
                channel_rssi: rssi.into(),
                snr: GoFloat64(f64::from(snr10) / 10.0),
                uplink_token: base64(&rng.random::<[u8; 24]>()),
                channel_index: u32::try_from(uplink.channel).unwrap_or(0),
            }
        })
        .collect();
    let correlation_ids = correlation_ids(
        &[
            "as:up",
            "gs:conn",
            "gs:up:host",
            "gs:uplink",
            "ns:uplink",
            "rpc:/ttn.lorawan.v3.GsNs/HandleUplink",
            "rpc:/ttn.lorawan.v3.NsAs/HandleUplink",
        ],
        uplink.time,
        rng,
    );
    let event = Up {
        end_device_ids: ids,
        correlation_ids,
        received_at: uplink.time.go(),
        uplink_message: UplinkMessage {
            session_key_id,
            f_port: FPORT,
            f_cnt: uplink.fcnt,
            frm_payload,
            rx_metadata,
            settings: Settings {
                data_rate: DataRate { lora: Lora { bandwidth: 125_000, spreading_factor: uplink.spreading_factor() } },
                coding_rate: "4/5",
                frequency: uplink.frequency.to_string(),
                timestamp: concentrator,
                time: gateway_time.go(),
            },
            received_at: ns_time.go(),
            consumed_airtime: format!("{:.6}s", airtime_s(uplink.spreading_factor(), uplink.payload.len())),
            version_ids: VersionIds { brand_id: &net.brand, model_id: &net.profile, band_id: "EU_863_870" },
            network_ids: NetworkIds { net_id: "000013", tenant_id: &net.tts_tenant, cluster_id: "eu1" },
        },
    };
    serde_json::to_vec(&event).unwrap_or_default()
}

/// The `join_accept` webhook of the device's current session, at `time`.
pub fn join(net: &Network, device: &mut Device, time: Stamp) -> Vec<u8> {
    let ids = end_device_ids(net, device);
    let session_key_id = base64(&device.session_key_id);
    let rng = device.rng();
    let ns_time = time.plus_nanos(-rng.random_range(200_000..5_000_000i64));
    let correlation_ids = correlation_ids(
        &["as:up", "gs:conn", "gs:uplink", "ns:uplink", "rpc:/ttn.lorawan.v3.GsNs/HandleUplink"],
        time,
        rng,
    );
    let event = Join {
        end_device_ids: ids,
        correlation_ids,
        received_at: time.go(),
        join_accept: JoinAccept { session_key_id, received_at: ns_time.go() },
    };
    serde_json::to_vec(&event).unwrap_or_default()
}
