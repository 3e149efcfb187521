//! The IOT Vega Server's WebSocket JSON API (PROTOCOLS.md §1.4): the
//! messages the driver reads, leniently (unknown fields are ignored, the
//! server adds them), and the requests it writes.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

/// Any message: only its command, to dispatch on.
#[derive(Debug, Deserialize)]
pub struct Envelope {
    /// `auth_resp`, `rx`, ...
    pub cmd: String,
}

/// Parse `bytes` as the JSON object `T`. serde would also read a struct
/// from an array (`["ping_req"]` as `{"cmd":"ping_req"}`); the API only
/// sends objects, so anything else is refused.
pub fn object<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, String> {
    match bytes.trim_ascii_start().first() {
        Some(b'{') => serde_json::from_slice(bytes).map_err(|e| e.to_string()),
        Some(b'[') => Err("expected a JSON object, found an array".into()),
        _ => Err("expected a JSON object".into()),
    }
}

/// `auth_resp` and `token_auth_resp`.
#[derive(Debug, Deserialize)]
pub struct AuthResp {
    /// Whether the server accepted the login.
    pub status: bool,
    /// Why not.
    #[serde(default)]
    pub err_string: Option<String>,
    /// Resumes the session on a new connection.
    #[serde(default)]
    pub token: Option<String>,
    /// The rights of the user.
    #[serde(default)]
    pub command_list: Option<Vec<String>>,
}

/// `get_devices_resp` and `get_device_appdata_resp`.
#[derive(Debug, Deserialize)]
pub struct DevicesResp {
    /// Whether the server answered.
    pub status: bool,
    /// Why not.
    #[serde(default)]
    pub err_string: Option<String>,
    /// The devices the user may see.
    #[serde(default)]
    pub devices_list: Vec<DeviceEntry>,
}

/// One device of a device list.
#[derive(Debug, Deserialize)]
pub struct DeviceEntry {
    /// DevEUI.
    #[serde(rename = "devEui")]
    pub dev_eui: String,
    /// AppEUI (`get_device_appdata_resp`).
    #[serde(rename = "appEui", default)]
    pub app_eui: Option<String>,
    /// OTAA keys (`get_devices_resp`), with the AppEUI.
    #[serde(rename = "OTAA", default)]
    pub otaa: Option<Otaa>,
}

/// The OTAA part of a `get_devices_resp` device.
#[derive(Debug, Deserialize)]
pub struct Otaa {
    /// AppEUI.
    #[serde(rename = "appEui", default)]
    pub app_eui: Option<String>,
}

/// `get_data_resp`: one page of a device's history.
#[derive(Debug, Deserialize)]
pub struct DataResp<'a> {
    /// Whether the server answered.
    pub status: bool,
    /// Why not.
    #[serde(default)]
    pub err_string: Option<String>,
    /// The device.
    #[serde(rename = "devEui", default)]
    pub dev_eui: Option<String>,
    /// Its AppEUI.
    #[serde(rename = "appEui", default)]
    pub app_eui: Option<String>,
    /// Packets matching the selection in all pages.
    #[serde(rename = "totalNum", default)]
    pub total_num: u64,
    /// This page, each packet as the server wrote it.
    #[serde(borrow, default)]
    pub data_list: Vec<&'a RawValue>,
}

/// The fields of one uplink (an `rx` message or a `data_list` item) that
/// the driver needs; the frame keeps the whole object.
#[derive(Debug, Deserialize)]
pub struct Uplink {
    /// DevEUI (in `rx` only).
    #[serde(rename = "devEui", default)]
    pub dev_eui: Option<String>,
    /// AppEUI (in `rx` only).
    #[serde(rename = "appEui", default)]
    pub app_eui: Option<String>,
    /// Server time, ms.
    pub ts: i64,
    /// Frame counter.
    #[serde(default)]
    pub fcnt: Option<u64>,
    /// fPort.
    #[serde(default)]
    pub port: Option<u32>,
    /// FRMPayload, hex.
    #[serde(default)]
    pub data: Option<String>,
    /// Packet type names joined with `+`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// RSSI of the gateway that heard it, dBm.
    #[serde(default)]
    pub rssi: Option<f64>,
    /// SNR of the gateway that heard it, dB.
    #[serde(default)]
    pub snr: Option<f64>,
}

impl Uplink {
    /// Whether the packet carries meter data: its type names include
    /// `UNCONF_UP` or `CONF_UP` (the vendor's rule; `REPEAT*` variants are
    /// repeats that deduplicate downstream, so they count too). A packet
    /// without a type is taken as data.
    pub fn is_data(&self) -> bool {
        self.kind.as_deref().is_none_or(|kind| {
            kind.split('+')
                .map(str::trim)
                .any(|name| matches!(name, "UNCONF_UP" | "CONF_UP" | "REPEATUNCONF_UP" | "REPEATCONF_UP"))
        })
    }
}

/// A DevEUI or AppEUI in canonical form (16 upper-case hex digits).
pub fn eui(text: &str) -> Result<String, String> {
    if meterhub_plugin_api::lorawan::is_eui(text) {
        Ok(text.to_ascii_uppercase())
    } else {
        Err(format!("{text:?} is not 16 hex digits"))
    }
}

/// Bytes of a hex string (either case).
pub fn hex_bytes(text: &str) -> Result<Vec<u8>, String> {
    if let Some(bad) = text.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(format!("hex data {text:?}: {bad:?} is not a hex digit"));
    }
    if !text.len().is_multiple_of(2) {
        return Err(format!("hex data {text:?} has an odd number of digits"));
    }
    // Only ASCII hex digits from here: byte offsets are char offsets.
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).map_err(|e| e.to_string())).collect()
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    meterhub_plugin_api::hex::encode(bytes)
}

/// Requests the driver sends.
pub mod request {
    use super::*;

    fn text(v: Value) -> Vec<u8> {
        v.to_string().into_bytes()
    }

    /// `auth_req`.
    pub fn auth(login: &str, password: &str) -> Vec<u8> {
        text(json!({"cmd": "auth_req", "login": login, "password": password}))
    }

    /// `token_auth_req`.
    pub fn token_auth(token: &str) -> Vec<u8> {
        text(json!({"cmd": "token_auth_req", "token": token}))
    }

    /// `ping_req`.
    pub fn ping() -> Vec<u8> {
        text(json!({"cmd": "ping_req"}))
    }

    /// `get_devices_req` for every device the user may see.
    pub fn devices() -> Vec<u8> {
        text(json!({"cmd": "get_devices_req"}))
    }

    /// `get_device_appdata_req` with the vendor apps' keyword.
    pub fn device_appdata() -> Vec<u8> {
        text(json!({"cmd": "get_device_appdata_req", "keyword": ["add_data_info"]}))
    }

    /// `get_data_req`: uplinks of `dev_eui` from `date_from` (server ms), page
    /// at `begin_index`.
    pub fn data(dev_eui: &str, date_from: i64, begin_index: u64, limit: u32) -> Vec<u8> {
        text(json!({
            "cmd": "get_data_req",
            "devEui": dev_eui,
            "select": {"date_from": date_from, "begin_index": begin_index, "limit": limit, "direction": "UPLINK"}
        }))
    }

    /// `send_data_req` of one unconfirmed downlink.
    pub fn send_data(dev_eui: &str, port: u32, data: &[u8]) -> Vec<u8> {
        text(
            json!({"cmd": "send_data_req", "data_list": [{"devEui": dev_eui, "data": hex(data), "port": port, "ack": false}]}),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_types_follow_the_vendor_rule() {
        let up = |kind: &str| Uplink {
            dev_eui: None,
            app_eui: None,
            ts: 0,
            fcnt: None,
            port: None,
            data: None,
            kind: Some(kind.into()),
            rssi: None,
            snr: None,
        };
        for kind in ["UNCONF_UP", "CONF_UP", "UNCONF_UP+MAC_LINKCHECK_REQ", "MAC_STATUS_ANS+CONF_UP", "REPEATUNCONF_UP"]
        {
            assert!(up(kind).is_data(), "{kind}");
        }
        for kind in ["JOIN_REQ", "UNCONF_DOWN", "CONF_DOWN", "MAC_LINKCHECK_REQ", "UNCONF_UPX"] {
            assert!(!up(kind).is_data(), "{kind}");
        }
    }

    #[test]
    fn euis_and_hex_are_checked() {
        assert_eq!(eui("3632333364374f18").as_deref(), Ok("3632333364374F18"));
        assert!(eui("ZZ32333364374F18").is_err());
        assert!(eui("3632").is_err());
        assert_eq!(hex_bytes("FFe3352862"), Ok(vec![0xff, 0xe3, 0x35, 0x28, 0x62]));
        assert!(hex_bytes("abc").unwrap_err().contains("odd"));
        assert!(hex_bytes("xyz1").unwrap_err().contains("'x' is not a hex digit"));
        assert!(hex_bytes("aé").is_err());
    }
}
