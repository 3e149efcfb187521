//! ChirpStack v4's `integration` Protobuf messages, declared with prost's
//! derive: the eight events its HTTP integration posts, and what they
//! hold that the driver (or its tests) reads. Fields not declared are
//! skipped on decoding, as Protobuf wants.
//!
//! Field numbers and types mirror chirpstack/chirpstack
//! `api/proto/integration/integration.proto` (`DeviceInfo`, the events,
//! `LogLevel`, `LogCode`), `api/proto/gw/gw.proto` (`UplinkRxInfo`,
//! `UplinkTxInfo`, `DownlinkTxInfo`) and `api/proto/common/common.proto`
//! (`Location`), as published in the `chirpstack_api` 4.20.0 crate;
//! `IntegrationEvent`, which 4.20.0 no longer has, from the same file at
//! chirpstack/chirpstack commit 10b90d5d. `google.protobuf.Timestamp` and
//! `Struct` are prost-types'.

use std::collections::BTreeMap;

use prost_types::{Struct, Timestamp};

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
    /// Device profile id (UUID).
    #[prost(string, tag = "5")]
    pub device_profile_id: String,
    /// Device profile name.
    #[prost(string, tag = "6")]
    pub device_profile_name: String,
    /// Device name.
    #[prost(string, tag = "7")]
    pub device_name: String,
    /// DevEUI, hex.
    #[prost(string, tag = "8")]
    pub dev_eui: String,
    /// Device profile and device tags.
    #[prost(btree_map = "string, string", tag = "9")]
    pub tags: BTreeMap<String, String>,
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
    /// Gateway time.
    #[prost(message, optional, tag = "3")]
    pub gw_time: Option<Timestamp>,
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
    /// Network server time.
    #[prost(message, optional, tag = "17")]
    pub ns_time: Option<Timestamp>,
}

/// `gw.UplinkTxInfo` (frequency only).
#[derive(Clone, PartialEq, prost::Message)]
pub struct UplinkTxInfo {
    /// Frequency, Hz.
    #[prost(uint32, tag = "1")]
    pub frequency: u32,
}

/// `gw.DownlinkTxInfo` (without modulation and timing).
#[derive(Clone, PartialEq, prost::Message)]
pub struct DownlinkTxInfo {
    /// Frequency, Hz.
    #[prost(uint32, tag = "1")]
    pub frequency: u32,
    /// Power, dBm EIRP.
    #[prost(int32, tag = "2")]
    pub power: i32,
    /// Gateway context.
    #[prost(bytes = "vec", tag = "7")]
    pub context: Vec<u8>,
}

/// `common.Location`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Location {
    /// Latitude.
    #[prost(double, tag = "1")]
    pub latitude: f64,
    /// Longitude.
    #[prost(double, tag = "2")]
    pub longitude: f64,
    /// Altitude.
    #[prost(double, tag = "3")]
    pub altitude: f64,
    /// Accuracy.
    #[prost(float, tag = "5")]
    pub accuracy: f32,
}

/// `integration.UplinkEvent` (`?event=up`).
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
    /// Confirmed uplink.
    #[prost(bool, tag = "9")]
    pub confirmed: bool,
    /// FRMPayload.
    #[prost(bytes = "vec", tag = "10")]
    pub data: Vec<u8>,
    /// The decoded payload (a codec is configured).
    #[prost(message, optional, tag = "11")]
    pub object: Option<Struct>,
    /// Receiving gateways.
    #[prost(message, repeated, tag = "12")]
    pub rx_info: Vec<UplinkRxInfo>,
    /// Transmission.
    #[prost(message, optional, tag = "13")]
    pub tx_info: Option<UplinkTxInfo>,
    /// Region config id.
    #[prost(string, tag = "16")]
    pub region_config_id: String,
}

/// `integration.JoinEvent` (`?event=join`).
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
    /// Region config id.
    #[prost(string, tag = "7")]
    pub region_config_id: String,
}

/// `integration.AckEvent` (`?event=ack`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct AckEvent {
    /// Deduplication id (UUID).
    #[prost(string, tag = "1")]
    pub deduplication_id: String,
    /// Time.
    #[prost(message, optional, tag = "2")]
    pub time: Option<Timestamp>,
    /// The device.
    #[prost(message, optional, tag = "3")]
    pub device_info: Option<DeviceInfo>,
    /// Downlink queue item id (UUID).
    #[prost(string, tag = "4")]
    pub queue_item_id: String,
    /// Acknowledged (false: timed out).
    #[prost(bool, tag = "5")]
    pub acknowledged: bool,
    /// The downlink's frame counter.
    #[prost(uint32, tag = "6")]
    pub f_cnt_down: u32,
}

/// `integration.TxAckEvent` (`?event=txack`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TxAckEvent {
    /// Downlink id.
    #[prost(uint32, tag = "1")]
    pub downlink_id: u32,
    /// Time.
    #[prost(message, optional, tag = "2")]
    pub time: Option<Timestamp>,
    /// The device.
    #[prost(message, optional, tag = "3")]
    pub device_info: Option<DeviceInfo>,
    /// Downlink queue item id (UUID).
    #[prost(string, tag = "4")]
    pub queue_item_id: String,
    /// The downlink's frame counter.
    #[prost(uint32, tag = "5")]
    pub f_cnt_down: u32,
    /// Gateway id, hex.
    #[prost(string, tag = "6")]
    pub gateway_id: String,
    /// Transmission.
    #[prost(message, optional, tag = "7")]
    pub tx_info: Option<DownlinkTxInfo>,
}

/// `integration.LogLevel`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum LogLevel {
    /// Info.
    Info = 0,
    /// Warning.
    Warning = 1,
    /// Error.
    Error = 2,
}

/// `integration.LogCode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum LogCode {
    /// Unknown.
    Unknown = 0,
    /// Downlink payload too large.
    DownlinkPayloadSize = 1,
    /// Uplink codec error.
    UplinkCodec = 2,
    /// Downlink codec error.
    DownlinkCodec = 3,
    /// OTAA error.
    Otaa = 4,
    /// Uplink frame counter reset.
    UplinkFCntReset = 5,
    /// Uplink MIC error.
    UplinkMic = 6,
    /// Uplink frame counter retransmission.
    UplinkFCntRetransmission = 7,
    /// Downlink gateway error.
    DownlinkGateway = 8,
    /// Relay: new end device.
    RelayNewEndDevice = 9,
    /// Downlink frame counter.
    FCntDown = 10,
    /// Downlink expired.
    Expired = 11,
}

/// `integration.LogEvent` (`?event=log`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct LogEvent {
    /// Time.
    #[prost(message, optional, tag = "1")]
    pub time: Option<Timestamp>,
    /// The device.
    #[prost(message, optional, tag = "2")]
    pub device_info: Option<DeviceInfo>,
    /// Level.
    #[prost(enumeration = "LogLevel", tag = "3")]
    pub level: i32,
    /// Code.
    #[prost(enumeration = "LogCode", tag = "4")]
    pub code: i32,
    /// Description.
    #[prost(string, tag = "5")]
    pub description: String,
    /// Context.
    #[prost(btree_map = "string, string", tag = "6")]
    pub context: BTreeMap<String, String>,
}

/// `integration.StatusEvent` (`?event=status`).
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
    /// On external power.
    #[prost(bool, tag = "6")]
    pub external_power_source: bool,
    /// The device could not measure its battery.
    #[prost(bool, tag = "7")]
    pub battery_level_unavailable: bool,
    /// Battery charge, percent.
    #[prost(float, tag = "8")]
    pub battery_level: f32,
}

/// `integration.LocationEvent` (`?event=location`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct LocationEvent {
    /// Deduplication id (UUID).
    #[prost(string, tag = "1")]
    pub deduplication_id: String,
    /// Time.
    #[prost(message, optional, tag = "2")]
    pub time: Option<Timestamp>,
    /// The device.
    #[prost(message, optional, tag = "3")]
    pub device_info: Option<DeviceInfo>,
    /// Where.
    #[prost(message, optional, tag = "4")]
    pub location: Option<Location>,
}

/// `integration.IntegrationEvent` (`?event=integration`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct IntegrationEvent {
    /// Deduplication id (UUID).
    #[prost(string, tag = "1")]
    pub deduplication_id: String,
    /// Time.
    #[prost(message, optional, tag = "2")]
    pub time: Option<Timestamp>,
    /// The device.
    #[prost(message, optional, tag = "3")]
    pub device_info: Option<DeviceInfo>,
    /// Integration name.
    #[prost(string, tag = "4")]
    pub integration_name: String,
    /// Event type.
    #[prost(string, tag = "5")]
    pub event_type: String,
    /// The event's object.
    #[prost(message, optional, tag = "6")]
    pub object: Option<Struct>,
}
