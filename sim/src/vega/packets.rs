//! One LoRaWAN packet as the server records it (uplink or downlink, radio
//! metadata, LoRaWAN `type`), and its two JSON renderings: the unsolicited
//! `rx` message and a `get_data_resp` row (PROTOCOLS.md §1.4).

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::payloads::{Payload, push_hex};

/// The simulated gateways (`gatewayId`).
pub const GATEWAYS: [&str; 3] = ["00006CC3743ED46A", "00006CC3743ED47B", "00006CC3743E0C11"];

/// RU864 channel frequencies, Hz.
pub const FREQS: [u32; 7] = [868_900_000, 869_100_000, 864_100_000, 864_300_000, 864_500_000, 864_700_000, 864_900_000];

/// Data-rate strings by index (the real format is unknown, §1.4: LORIOT style).
pub const DRS: [&str; 6] =
    ["SF12 BW125 4/5", "SF11 BW125 4/5", "SF10 BW125 4/5", "SF9 BW125 4/5", "SF8 BW125 4/5", "SF7 BW125 4/5"];

/// The `packetStatus` the emulator sends (real values were not found, §1.4).
pub const PACKET_STATUS: &str = "";

/// The LoRaWAN `type` of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `UNCONF_UP`.
    UnconfUp,
    /// `CONF_UP` (acknowledged: `ack` true).
    ConfUp,
    /// `UNCONF_UP+MAC_LINKCHECK_REQ` (macData `02`).
    UnconfUpLinkCheck,
    /// `REPEATUNCONF_UP`: the same fcnt and data again.
    RepeatUnconfUp,
    /// `REPEATCONF_UP`: the same fcnt and data again.
    RepeatConfUp,
    /// `JOIN_REQ` (no data).
    JoinReq,
    /// `UNCONF_DOWN`: a downlink sent to the device.
    UnconfDown,
    /// `CONF_DOWN`: a confirmed downlink.
    ConfDown,
}

impl Kind {
    /// The `type` string.
    pub fn type_name(self) -> &'static str {
        match self {
            Kind::UnconfUp => "UNCONF_UP",
            Kind::ConfUp => "CONF_UP",
            Kind::UnconfUpLinkCheck => "UNCONF_UP+MAC_LINKCHECK_REQ",
            Kind::RepeatUnconfUp => "REPEATUNCONF_UP",
            Kind::RepeatConfUp => "REPEATCONF_UP",
            Kind::JoinReq => "JOIN_REQ",
            Kind::UnconfDown => "UNCONF_DOWN",
            Kind::ConfDown => "CONF_DOWN",
        }
    }

    /// The `macData` hex (LinkCheckReq is CID 0x02).
    pub fn mac_data(self) -> &'static str {
        if self == Kind::UnconfUpLinkCheck { "02" } else { "" }
    }

    /// The repeat of a packet of this kind.
    pub fn repeat(self) -> Kind {
        if self == Kind::ConfUp { Kind::RepeatConfUp } else { Kind::RepeatUnconfUp }
    }

    /// Whether the packet is an original data uplink (what a client should archive).
    pub fn is_data_up(self) -> bool {
        matches!(self, Kind::UnconfUp | Kind::ConfUp | Kind::UnconfUpLinkCheck)
    }

    /// Whether the packet went to the device.
    pub fn is_down(self) -> bool {
        matches!(self, Kind::UnconfDown | Kind::ConfDown)
    }

    /// The `ack` field: confirmed packets.
    pub fn ack(self) -> bool {
        matches!(self, Kind::ConfUp | Kind::RepeatConfUp | Kind::ConfDown)
    }
}

/// One packet as recorded by the server.
#[derive(Debug, Clone, Copy)]
pub struct Packet {
    /// Server time of reception (uplink) or queueing (downlink), ms.
    pub ts: i64,
    /// Frame counter (`fcnt_up` or `fcnt_down`).
    pub fcnt: u32,
    /// Device time in the packet (data and time uplinks), seconds; 0 otherwise.
    pub device_time: u32,
    /// fPort.
    pub port: u8,
    /// The LoRaWAN type.
    pub kind: Kind,
    /// Gateway index into [`GATEWAYS`].
    pub gateway: u8,
    /// Frequency index into [`FREQS`].
    pub freq: u8,
    /// Data-rate index into [`DRS`].
    pub dr: u8,
    /// RSSI, dBm.
    pub rssi: i16,
    /// SNR, 0.1 dB.
    pub snr10: i16,
    /// Generated before serving (`--history-hours`), not sent live.
    pub pregenerated: bool,
    /// The FRMPayload of an uplink (downlinks keep theirs beside the packet).
    pub data: Payload,
}

impl Packet {
    /// The `rx` message for this packet of device `dev_eui`/`app_eui`
    /// carrying `data`, with hex in upper or lower case.
    pub fn rx_text(&self, dev_eui: &str, app_eui: &str, data: &[u8], upper: bool) -> String {
        let mut s = String::with_capacity(360);
        let _ = write!(
            s,
            r#"{{"cmd":"rx","devEui":"{dev_eui}","appEui":"{app_eui}","ts":{},"gatewayId":"{}","ack":{},"fcnt":{},"port":{},"data":""#,
            self.ts,
            GATEWAYS[usize::from(self.gateway) % GATEWAYS.len()],
            self.kind.ack(),
            self.fcnt,
            self.port,
        );
        push_hex(&mut s, data, upper);
        let _ = write!(
            s,
            r#"","macData":"{}","freq":{},"dr":"{}","rssi":{},"snr":{},"type":"{}","packetStatus":"{PACKET_STATUS}"}}"#,
            self.kind.mac_data(),
            FREQS[usize::from(self.freq) % FREQS.len()],
            DRS[usize::from(self.dr) % DRS.len()],
            self.rssi,
            Snr(self.snr10),
            self.kind.type_name(),
        );
        s
    }

    /// A `get_data_resp` `data_list` row; `data` as a hex string (a downlink's
    /// bytes may be longer than a [`Payload`]).
    pub fn row(&self, data: String) -> Value {
        json!({
            "ts": self.ts,
            "gatewayId": GATEWAYS[usize::from(self.gateway) % GATEWAYS.len()],
            "ack": self.kind.ack(),
            "fcnt": self.fcnt,
            "port": self.port,
            "data": data,
            "macData": self.kind.mac_data(),
            "freq": FREQS[usize::from(self.freq) % FREQS.len()],
            "dr": DRS[usize::from(self.dr) % DRS.len()],
            "rssi": self.rssi,
            "snr": f64::from(self.snr10) / 10.0,
            "type": self.kind.type_name(),
            "packetStatus": PACKET_STATUS,
        })
    }
}

/// SNR tenths printed as a JSON number with one decimal (`-7.5`, `6.0`).
pub struct Snr(pub i16);

impl std::fmt::Display for Snr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{}", abs / 10, abs % 10)
    }
}
