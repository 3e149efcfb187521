//! ChirpStack v4's binary Protobuf events (its HTTP integration with
//! "JSON" off, `Content-Type: application/octet-stream`; its MQTT
//! integration's default payloads): the `integration` package's messages
//! the simulator sends, declared with prost's derive.
//!
//! Field numbers and types follow chirpstack/chirpstack
//! `api/proto/integration/integration.proto` (`DeviceInfo`, `UplinkEvent`,
//! `JoinEvent`, `StatusEvent`) and `api/proto/gw/gw.proto` (`UplinkRxInfo`,
//! `UplinkTxInfo`, `Modulation`, `LoraModulationInfo`, `CodeRate`); only
//! the fields the simulator fills are declared (a reader skips none it
//! knows: the others are simply absent, as zero values are in proto3).
//! The bodies carry what the JSON form ([`super::chirpstack_v4`]) does.

use std::collections::BTreeMap;

use prost::Message;
use prost_types::Timestamp;
use rand::Rng;

use super::Network;
use crate::lns::clock::{self, Stamp};
use crate::lns::devices::{Device, FPORT, Uplink};

/// `integration.DeviceInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DeviceInfo {
    /// Tenant id (UUID).
    #[prost(string, tag = "1")]
    pub tenant_id: String,
    /// Tenant name.
    #[prost(string, tag = "2")]
    pub tenant_name: String,
    /// Application id (UUID).
    #[prost(string, tag = "3")]
    pub application_id: String,
    /// Application name.
    #[prost(string, tag = "4")]
    pub application_name: String,
    /// Device-profile id (UUID).
    #[prost(string, tag = "5")]
    pub device_profile_id: String,
    /// Device-profile name.
    #[prost(string, tag = "6")]
    pub device_profile_name: String,
    /// Device name.
    #[prost(string, tag = "7")]
    pub device_name: String,
    /// DevEUI, hex.
    #[prost(string, tag = "8")]
    pub dev_eui: String,
}

/// `gw.CodeRate` (the values used here).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum CodeRate {
    /// Undefined.
    CrUndefined = 0,
    /// LoRa 4/5.
    Cr45 = 1,
}

/// `gw.LoraModulationInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LoraModulationInfo {
    /// Bandwidth, Hz.
    #[prost(uint32, tag = "1")]
    pub bandwidth: u32,
    /// Spreading factor.
    #[prost(uint32, tag = "2")]
    pub spreading_factor: u32,
    /// Code rate.
    #[prost(enumeration = "CodeRate", tag = "5")]
    pub code_rate: i32,
}

/// `gw.Modulation` (its one-of's `lora` member, field 3, as an optional
/// message: the same bytes on the wire).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Modulation {
    /// LoRa modulation.
    #[prost(message, optional, tag = "3")]
    pub lora: Option<LoraModulationInfo>,
}

/// `gw.UplinkTxInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct UplinkTxInfo {
    /// Frequency, Hz.
    #[prost(uint32, tag = "1")]
    pub frequency: u32,
    /// Modulation.
    #[prost(message, optional, tag = "2")]
    pub modulation: Option<Modulation>,
}

/// `gw.UplinkRxInfo`: one gateway's reception.
#[derive(Clone, PartialEq, prost::Message)]
pub struct UplinkRxInfo {
    /// Gateway id, hex.
    #[prost(string, tag = "1")]
    pub gateway_id: String,
    /// Uplink id.
    #[prost(uint32, tag = "2")]
    pub uplink_id: u32,
    /// RSSI, dBm.
    #[prost(int32, tag = "6")]
    pub rssi: i32,
    /// SNR, dB.
    #[prost(float, tag = "7")]
    pub snr: f32,
    /// Gateway context.
    #[prost(bytes = "vec", tag = "13")]
    pub context: Vec<u8>,
    /// Metadata.
    #[prost(btree_map = "string, string", tag = "15")]
    pub metadata: BTreeMap<String, String>,
}

/// `integration.UplinkEvent`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct UplinkEvent {
    /// Deduplication id (UUID).
    #[prost(string, tag = "1")]
    pub deduplication_id: String,
    /// Time.
    #[prost(message, optional, tag = "2")]
    pub time: Option<Timestamp>,
    /// The device.
    #[prost(message, optional, tag = "3")]
    pub device_info: Option<DeviceInfo>,
    /// DevAddr, hex.
    #[prost(string, tag = "4")]
    pub dev_addr: String,
    /// ADR bit.
    #[prost(bool, tag = "5")]
    pub adr: bool,
    /// Data rate.
    #[prost(uint32, tag = "6")]
    pub dr: u32,
    /// Frame counter.
    #[prost(uint32, tag = "7")]
    pub f_cnt: u32,
    /// fPort.
    #[prost(uint32, tag = "8")]
    pub f_port: u32,
    /// FRMPayload.
    #[prost(bytes = "vec", tag = "10")]
    pub data: Vec<u8>,
    /// Receiving gateways.
    #[prost(message, repeated, tag = "12")]
    pub rx_info: Vec<UplinkRxInfo>,
    /// Transmission.
    #[prost(message, optional, tag = "13")]
    pub tx_info: Option<UplinkTxInfo>,
}

/// `integration.JoinEvent`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct JoinEvent {
    /// Deduplication id (UUID).
    #[prost(string, tag = "1")]
    pub deduplication_id: String,
    /// Time.
    #[prost(message, optional, tag = "2")]
    pub time: Option<Timestamp>,
    /// The device.
    #[prost(message, optional, tag = "3")]
    pub device_info: Option<DeviceInfo>,
    /// DevAddr, hex.
    #[prost(string, tag = "4")]
    pub dev_addr: String,
}

/// `integration.StatusEvent`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StatusEvent {
    /// Deduplication id (UUID).
    #[prost(string, tag = "1")]
    pub deduplication_id: String,
    /// Time.
    #[prost(message, optional, tag = "2")]
    pub time: Option<Timestamp>,
    /// The device.
    #[prost(message, optional, tag = "3")]
    pub device_info: Option<DeviceInfo>,
    /// Link margin, dB.
    #[prost(int32, tag = "5")]
    pub margin: i32,
    /// Battery level, %.
    #[prost(float, tag = "8")]
    pub battery_level: f32,
}

fn timestamp(at: Stamp) -> Option<Timestamp> {
    Some(Timestamp { seconds: at.secs(), nanos: i32::try_from(at.subsec_nanos()).unwrap_or(0) })
}

fn device_info(net: &Network, device: &Device) -> Option<DeviceInfo> {
    Some(DeviceInfo {
        tenant_id: net.tenant_id.clone(),
        tenant_name: net.tenant_name.clone(),
        application_id: net.application_id.clone(),
        application_name: net.application_name.clone(),
        device_profile_id: net.profile_id.clone(),
        device_profile_name: net.profile.clone(),
        device_name: device.name(),
        dev_eui: device.dev_eui_lower(),
    })
}

/// The `up` event of `uplink`.
pub fn up(net: &Network, device: &mut Device, uplink: &Uplink) -> Vec<u8> {
    let info = device_info(net, device);
    let dev_addr = format!("{:08x}", device.dev_addr);
    let rng = device.rng();
    let rx_info = uplink
        .heard_by
        .iter()
        .map(|&(gateway, rssi, snr10)| UplinkRxInfo {
            gateway_id: format!("{:016x}", net.gateways[gateway].eui),
            uplink_id: rng.random(),
            rssi: rssi.into(),
            snr: f32::from(snr10) / 10.0,
            context: rng.random::<[u8; 4]>().to_vec(),
            metadata: [("region_common_name", "EU868"), ("region_name", "eu868")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        })
        .collect();
    UplinkEvent {
        deduplication_id: clock::uuid(rng),
        time: timestamp(uplink.time),
        device_info: info,
        dev_addr,
        adr: true,
        dr: uplink.dr.into(),
        f_cnt: uplink.fcnt,
        f_port: FPORT,
        data: uplink.payload.to_vec(),
        rx_info,
        tx_info: Some(UplinkTxInfo {
            frequency: uplink.frequency,
            modulation: Some(Modulation {
                lora: Some(LoraModulationInfo {
                    bandwidth: 125_000,
                    spreading_factor: uplink.spreading_factor(),
                    code_rate: CodeRate::Cr45.into(),
                }),
            }),
        }),
    }
    .encode_to_vec()
}

/// The `join` event of the device's current session, at `time`.
pub fn join(net: &Network, device: &mut Device, time: Stamp) -> Vec<u8> {
    let info = device_info(net, device);
    let dev_addr = format!("{:08x}", device.dev_addr);
    JoinEvent { deduplication_id: clock::uuid(device.rng()), time: timestamp(time), device_info: info, dev_addr }
        .encode_to_vec()
}

/// The `status` event (battery level %, margin dB) at `time`.
pub fn status(net: &Network, device: &mut Device, time: Stamp, battery_level: f32, margin: i32) -> Vec<u8> {
    let info = device_info(net, device);
    StatusEvent {
        deduplication_id: clock::uuid(device.rng()),
        time: timestamp(time),
        device_info: info,
        margin,
        battery_level,
    }
    .encode_to_vec()
}
