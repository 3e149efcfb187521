//! ChirpStack Application Server v3's events from its "JSON v3"
//! marshaler (HTTP integration and MQTT): Go structs marshaled with
//! `encoding/json`, so every field is written (no omission of zeros, but
//! `tags` when there are none), `applicationID` as a string, `devEUI`,
//! `gatewayID` and `devAddr` in lower-case hex, `data` in base64, times in
//! Go's `RFC3339Nano` form and integral floats without a fraction
//! (`"loRaSNR": 10`). The shapes follow `vectors/chirpstack_v3_events.json`
//! (`uplink_json_v3`, `status_json_v3`, `join_json_v3`).

use serde::Serialize;

use super::{GoFloat32, GoFloat64, Network};
use crate::lns::devices::{Device, FPORT, Uplink};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DataUp<'a> {
    #[serde(rename = "applicationID")]
    application_id: &'a str,
    application_name: &'a str,
    device_name: String,
    #[serde(rename = "devEUI")]
    dev_eui: String,
    rx_info: Vec<RxInfo<'a>>,
    tx_info: TxInfo,
    adr: bool,
    f_cnt: u32,
    f_port: u32,
    data: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RxInfo<'a> {
    #[serde(rename = "gatewayID")]
    gateway_id: String,
    name: &'a str,
    time: String,
    rssi: i32,
    #[serde(rename = "loRaSNR")]
    lora_snr: GoFloat64,
    location: Location,
}

#[derive(Serialize)]
struct Location {
    latitude: GoFloat64,
    longitude: GoFloat64,
    altitude: GoFloat64,
}

#[derive(Serialize)]
struct TxInfo {
    frequency: u32,
    dr: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Join<'a> {
    #[serde(rename = "applicationID")]
    application_id: &'a str,
    application_name: &'a str,
    device_name: String,
    dev_addr: String,
    #[serde(rename = "devEUI")]
    dev_eui: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Status<'a> {
    #[serde(rename = "applicationID")]
    application_id: &'a str,
    application_name: &'a str,
    device_name: String,
    #[serde(rename = "devEUI")]
    dev_eui: String,
    battery: u32,
    margin: i32,
    external_power_source: bool,
    battery_level_unavailable: bool,
    battery_level: GoFloat32,
}

/// The `up` event of `uplink`, its `data` written as `data` (the base64
/// of the payload; a fault passes something else).
pub fn up(net: &Network, device: &Device, uplink: &Uplink, data: &str) -> Vec<u8> {
    let rx_info = uplink
        .heard_by
        .iter()
        .map(|&(gateway, rssi, snr10)| {
            let gw = &net.gateways[gateway];
            RxInfo {
                gateway_id: format!("{:016x}", gw.eui),
                name: &gw.name,
                time: uplink.time.go(),
                rssi: rssi.into(),
                lora_snr: GoFloat64(f64::from(snr10) / 10.0),
                location: Location {
                    latitude: GoFloat64(gw.latitude),
                    longitude: GoFloat64(gw.longitude),
                    altitude: GoFloat64(gw.altitude),
                },
            }
        })
        .collect();
    let event = DataUp {
        application_id: &net.application_id,
        application_name: &net.application_name,
        device_name: device.name(),
        dev_eui: device.dev_eui_lower(),
        rx_info,
        tx_info: TxInfo { frequency: uplink.frequency, dr: uplink.dr.into() },
        adr: true,
        f_cnt: uplink.fcnt,
        f_port: FPORT,
        data,
    };
    serde_json::to_vec(&event).unwrap_or_default()
}

/// The `join` event of the device's current session.
pub fn join(net: &Network, device: &Device) -> Vec<u8> {
    let event = Join {
        application_id: &net.application_id,
        application_name: &net.application_name,
        device_name: device.name(),
        dev_addr: format!("{:08x}", device.dev_addr),
        dev_eui: device.dev_eui_lower(),
    };
    serde_json::to_vec(&event).unwrap_or_default()
}

/// The `status` event: `battery` as the device answered it (1–254 for
/// 0–100 %) and `batteryLevel` in % computed from it, rounded to two
/// decimals, as the application server does.
pub fn status(net: &Network, device: &Device, battery_level: f32, margin: i32) -> Vec<u8> {
    let battery = (f64::from(battery_level.clamp(0.0, 100.0)) * 254.0 / 100.0).round().clamp(1.0, 254.0);
    let battery_level = ((battery / 254.0 * 100.0 * 100.0).round() / 100.0) as f32;
    let event = Status {
        application_id: &net.application_id,
        application_name: &net.application_name,
        device_name: device.name(),
        dev_eui: device.dev_eui_lower(),
        battery: battery as u32,
        margin,
        external_power_source: false,
        battery_level_unavailable: false,
        battery_level: GoFloat32(battery_level),
    };
    serde_json::to_vec(&event).unwrap_or_default()
}
