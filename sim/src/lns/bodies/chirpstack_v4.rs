//! ChirpStack v4's JSON events (its HTTP integration with "JSON" on, and
//! its MQTT integration's JSON payloads): the Protobuf JSON mapping,
//! camelCase, fields at their default value (0, false, empty) left out,
//! times as `2022-07-18T09:34:15.775023242+00:00`, `devEui` in lower-case
//! hex, `data` in base64. The shapes follow the documented examples
//! (`vectors/chirpstack_v4_events.json`: `up`, `join`, `status`).

use rand::Rng;
use serde::Serialize;

use super::{Network, base64};
use crate::lns::clock::{self, Stamp};
use crate::lns::devices::{Device, FPORT, Uplink};

/// `deviceInfo`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceInfo {
    tenant_id: String,
    tenant_name: String,
    application_id: String,
    application_name: String,
    device_profile_id: String,
    device_profile_name: String,
    device_name: String,
    dev_eui: String,
}

impl DeviceInfo {
    /// The device as the network names it.
    pub fn new(net: &Network, device: &Device) -> DeviceInfo {
        DeviceInfo {
            tenant_id: net.tenant_id.clone(),
            tenant_name: net.tenant_name.clone(),
            application_id: net.application_id.clone(),
            application_name: net.application_name.clone(),
            device_profile_id: net.profile_id.clone(),
            device_profile_name: net.profile.clone(),
            device_name: device.name(),
            dev_eui: device.dev_eui_lower(),
        }
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_zero_i32(n: &i32) -> bool {
    *n == 0
}

fn is_zero_f32(n: &f32) -> bool {
    *n == 0.0
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UplinkEvent<'a> {
    deduplication_id: String,
    time: String,
    device_info: &'a DeviceInfo,
    dev_addr: String,
    #[serde(skip_serializing_if = "is_false")]
    adr: bool,
    #[serde(skip_serializing_if = "is_zero")]
    dr: u32,
    #[serde(skip_serializing_if = "is_zero")]
    f_cnt: u32,
    #[serde(skip_serializing_if = "is_zero")]
    f_port: u32,
    data: &'a str,
    rx_info: Vec<RxInfo>,
    tx_info: TxInfo,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RxInfo {
    gateway_id: String,
    uplink_id: u32,
    #[serde(skip_serializing_if = "is_zero_i32")]
    rssi: i32,
    #[serde(skip_serializing_if = "is_zero_f32")]
    snr: f32,
    context: String,
    metadata: Metadata,
}

/// `rxInfo[].metadata` (a map; these two keys are what the example shows).
#[derive(Serialize)]
struct Metadata {
    region_name: &'static str,
    region_common_name: &'static str,
}

#[derive(Serialize)]
struct TxInfo {
    frequency: u32,
    modulation: Modulation,
}

#[derive(Serialize)]
struct Modulation {
    lora: Lora,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Lora {
    bandwidth: u32,
    spreading_factor: u32,
    code_rate: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JoinEvent<'a> {
    deduplication_id: String,
    time: String,
    device_info: &'a DeviceInfo,
    dev_addr: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusEvent<'a> {
    deduplication_id: String,
    time: String,
    device_info: &'a DeviceInfo,
    #[serde(skip_serializing_if = "is_zero_i32")]
    margin: i32,
    #[serde(skip_serializing_if = "is_zero_f32")]
    battery_level: f32,
}

/// The `up` event of `uplink`, its `data` written as `data` (the base64
/// of the payload; a fault passes something else).
pub fn up(net: &Network, device: &mut Device, uplink: &Uplink, data: &str) -> Vec<u8> {
    let info = DeviceInfo::new(net, device);
    let dev_addr = format!("{:08x}", device.dev_addr);
    let rng = device.rng();
    let rx_info = uplink
        .heard_by
        .iter()
        .map(|&(gateway, rssi, snr10)| RxInfo {
            gateway_id: format!("{:016x}", net.gateways[gateway].eui),
            uplink_id: rng.random(),
            rssi: rssi.into(),
            snr: f32::from(snr10) / 10.0,
            context: base64(&rng.random::<[u8; 4]>()),
            metadata: Metadata { region_name: "eu868", region_common_name: "EU868" },
        })
        .collect();
    let event = UplinkEvent {
        deduplication_id: clock::uuid(rng),
        time: uplink.time.chirpstack_v4(),
        device_info: &info,
        dev_addr,
        adr: true,
        dr: uplink.dr.into(),
        f_cnt: uplink.fcnt,
        f_port: FPORT,
        data,
        rx_info,
        tx_info: TxInfo {
            frequency: uplink.frequency,
            modulation: Modulation {
                lora: Lora { bandwidth: 125_000, spreading_factor: uplink.spreading_factor(), code_rate: "CR_4_5" },
            },
        },
    };
    serde_json::to_vec(&event).unwrap_or_default()
}

/// The `join` event of the device's current session, at `time`.
pub fn join(net: &Network, device: &mut Device, time: Stamp) -> Vec<u8> {
    let info = DeviceInfo::new(net, device);
    let dev_addr = format!("{:08x}", device.dev_addr);
    let event = JoinEvent {
        deduplication_id: clock::uuid(device.rng()),
        time: time.chirpstack_v4(),
        device_info: &info,
        dev_addr,
    };
    serde_json::to_vec(&event).unwrap_or_default()
}

/// The `status` event (battery level %, margin dB) at `time`.
pub fn status(net: &Network, device: &mut Device, time: Stamp, battery_level: f32, margin: i32) -> Vec<u8> {
    let info = DeviceInfo::new(net, device);
    let event = StatusEvent {
        deduplication_id: clock::uuid(device.rng()),
        time: time.chirpstack_v4(),
        device_info: &info,
        margin,
        battery_level,
    };
    serde_json::to_vec(&event).unwrap_or_default()
}
