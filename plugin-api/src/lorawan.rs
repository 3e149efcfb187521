//! LoRaWAN: the network server's envelope and the device's payload, apart.
//!
//! A LoRaWAN driver (the Vega driver, `lw640`) commits what the network
//! server sent, exactly as it arrived (raw-first), and writes what it read
//! from the envelope into the frame's metadata under the keys below. The
//! host then builds the **neutral uplink frame** from that metadata and
//! hands it to the device codec the operator mapped the device to (by
//! DevEUI, by profile, or the driver's default codec), whatever server
//! carried it:
//!
//! - content type [`NEUTRAL_CONTENT_TYPE`];
//! - payload: the FRMPayload bytes;
//! - meta: [`DEVEUI`], [`FPORT`], [`TS`], and where known [`JOINEUI`]
//!   (also as `appeui`, its LoRaWAN 1.0 name), [`FCNT`], [`RSSI`], [`SNR`],
//!   [`GATEWAYS`], [`PROFILE`], [`APPLICATION`], [`DEVICE_NAME`],
//!   [`SERVER`], and [`MODEL`] when the mapping names a model; keys without
//!   the `lorawan.` prefix;
//! - `seq`, `source`, `peer`, `received-at-ms`, `transport`: the committed
//!   frame's.
//!
//! A frame that is not an uplink (join, status, acknowledgements, logs)
//! carries [`EVENT`] and what it tells about the module ([`BATTERY`],
//! [`MARGIN`], link quality); the host turns it into module telemetry
//! without a codec.

/// Whether `text` is an EUI (DevEUI, JoinEUI): 16 hex digits, either case.
pub fn is_eui(text: &str) -> bool {
    text.len() == 16 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Content type of the neutral uplink frame a device codec receives.
pub const NEUTRAL_CONTENT_TYPE: &str = "application/vnd.meterhub.lorawan-uplink";

/// Prefix of every key below in a committed frame's metadata.
pub const PREFIX: &str = "lorawan.";

/// The event: [`EVENT_UP`], [`EVENT_JOIN`], [`EVENT_STATUS`], or another the
/// server names (`ack`, `txack`, `log`, `location`, ...). Its presence
/// marks a frame as a LoRaWAN driver's.
pub const EVENT: &str = "lorawan.event";
/// An uplink: the frame carries [`FRM`] and [`FPORT`].
pub const EVENT_UP: &str = "up";
/// A device (re)joined the network.
pub const EVENT_JOIN: &str = "join";
/// A device status answer: battery and link margin.
pub const EVENT_STATUS: &str = "status";

/// DevEUI, 16 upper-case hex digits.
pub const DEVEUI: &str = "lorawan.deveui";
/// JoinEUI (AppEUI in LoRaWAN 1.0), 16 upper-case hex digits.
pub const JOINEUI: &str = "lorawan.joineui";
/// fPort, decimal.
pub const FPORT: &str = "lorawan.fport";
/// Uplink frame counter, decimal.
pub const FCNT: &str = "lorawan.fcnt";
/// FRMPayload, lower-case hex (empty for an empty payload).
pub const FRM: &str = "lorawan.frm";
/// When the network server received the event, milliseconds since the Unix
/// epoch, UTC. Repeats of one uplink carry the first arrival's time, so
/// their readings are duplicates, not new readings.
pub const TS: &str = "lorawan.ts";
/// The best RSSI over the gateways that heard it, dBm, integer.
pub const RSSI: &str = "lorawan.rssi";
/// The best SNR over the gateways that heard it, dB.
pub const SNR: &str = "lorawan.snr";
/// How many gateways heard it, decimal.
pub const GATEWAYS: &str = "lorawan.gateways";
/// The device profile the server names (ChirpStack's device profile name,
/// The Things Stack's `brand/model` of its version ids).
pub const PROFILE: &str = "lorawan.profile";
/// The application the device belongs to on the server.
pub const APPLICATION: &str = "lorawan.application";
/// The device's name on the server.
pub const DEVICE_NAME: &str = "lorawan.device_name";
/// Which server sent it: `vega`, `chirpstack-v4`, `chirpstack-v3`, `tts-v3`.
pub const SERVER: &str = "lorawan.server";
/// The payload as the server decoded it (ChirpStack `object`, TTS
/// `decoded_payload`), a compact JSON object text.
pub const UPSTREAM: &str = "lorawan.upstream";
/// Battery charge, percent (status events).
pub const BATTERY: &str = "lorawan.battery";
/// Link margin, dB (status events).
pub const MARGIN: &str = "lorawan.margin";
/// `1` when the driver saw the same uplink before (same DevEUI, fCnt and
/// payload) and gave it the first arrival's [`TS`].
pub const REPEAT: &str = "lorawan.repeat";

/// The device model the operator's mapping names, on the neutral frame only.
pub const MODEL: &str = "model";
