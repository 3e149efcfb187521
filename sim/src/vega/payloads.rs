//! Payload builders for the simulated Vega devices, one per model, written
//! from the byte layouts of PROTOCOLS.md §2.3 (not from any codec): all
//! multi-byte fields little-endian, times in u32 Unix seconds (device clock).
//!
//! | Model | fPort 2 packet | Length |
//! |---|---|---|
//! | SI-11 (format v1), SI-12 | type 1 current values | 24 |
//! | GM-2 | no type byte | 21 |
//! | Betar SGBM-1.6 | type 1 current values | 12 |
//! | Betar SHVE | type 1 | 15 |
//! | SPbZIP CE2726A/CE2727A | type 4 readings by tariff | 32 |
//! | TD-11 | type 1 | 13 |
//! | M-BUS-2 | type 1 current values | 38 |
//!
//! Every model also sends the fPort 4 time packet `FF` + u32 device time (5 bytes)
//! and accepts the fPort 4 correction `FF` + i64 seconds (9 bytes, §1.5).

/// Longest payload a simulated device sends (M-BUS-2 type 1).
pub const MAX_LEN: usize = 38;

/// A payload stored inline (no allocation per uplink).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payload {
    len: u8,
    bytes: [u8; MAX_LEN],
}

impl Payload {
    /// No bytes.
    pub const EMPTY: Payload = Payload { len: 0, bytes: [0; MAX_LEN] };

    /// A copy of `bytes`; `None` when longer than [`MAX_LEN`].
    pub fn new(bytes: &[u8]) -> Option<Self> {
        let mut p = Payload { len: 0, bytes: [0; MAX_LEN] };
        p.bytes.get_mut(..bytes.len())?.copy_from_slice(bytes);
        p.len = u8::try_from(bytes.len()).ok()?;
        Some(p)
    }

    /// The payload bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// The "settings" byte of SI-11 v1, SI-12 and M-BUS (§2.3): OTAA (bit 0 = 0),
/// communication period 1 h, every input in pulse mode (bits 4–7 = 0).
///
/// The period code is 3 in the manual's bit order (bit 1 least significant)
/// and 6 = 60 min in the reversed order some vendor decoders use, so both
/// readings agree on this value: bits 1–3 = `011`, i.e. `0x06`.
pub const SETTINGS_1H_OTAA_PULSE: u8 = 0x06;

/// Fields of the SI-11 v1 / SI-12 type 1 "current values" packet.
#[derive(Debug, Clone, Copy)]
pub struct SiCurrent {
    /// Battery, %.
    pub battery: u8,
    /// Settings bit field.
    pub settings: u8,
    /// Reading time, device clock.
    pub time: u32,
    /// Temperature, °C.
    pub temperature: i8,
    /// Inputs 1–4: pulse counts.
    pub inputs: [u32; 4],
}

/// SI-11 v1 / SI-12 fPort 2 type 1, 24 bytes: `0` type=01 · `1` battery ·
/// `2` settings · `3–6` time · `7` temperature i8 · `8–23` inputs 1–4 u32.
pub fn si_current(f: &SiCurrent) -> [u8; 24] {
    let mut p = [0u8; 24];
    p[0] = 0x01;
    p[1] = f.battery;
    p[2] = f.settings;
    p[3..7].copy_from_slice(&f.time.to_le_bytes());
    p[7] = f.temperature.to_le_bytes()[0];
    for (i, v) in f.inputs.iter().enumerate() {
        p[8 + 4 * i..12 + 4 * i].copy_from_slice(&v.to_le_bytes());
    }
    p
}

/// Fields of the GM-2 packet.
#[derive(Debug, Clone, Copy)]
pub struct Gm2 {
    /// Battery, %.
    pub battery: u8,
    /// Reading time, device clock.
    pub time: u32,
    /// Temperature, °C.
    pub temperature: i8,
    /// Reason: 0 schedule.
    pub reason: u8,
    /// Reading, 0.01 m³.
    pub reading: u32,
    /// Initial reading, 0.01 m³.
    pub initial: u32,
}

/// GM-2 fPort 2, no type byte, 21 bytes: `0` battery · `1–4` time · `5` temperature ·
/// `6` reason · `7–10` inputs/outputs (0) · `11` magnet (0) · `12` case open (0) ·
/// `13–16` reading u32 ÷100 · `17–20` initial reading u32 ÷100.
pub fn gm2(f: &Gm2) -> [u8; 21] {
    let mut p = [0u8; 21];
    p[0] = f.battery;
    p[1..5].copy_from_slice(&f.time.to_le_bytes());
    p[5] = f.temperature.to_le_bytes()[0];
    p[6] = f.reason;
    p[13..17].copy_from_slice(&f.reading.to_le_bytes());
    p[17..21].copy_from_slice(&f.initial.to_le_bytes());
    p
}

/// Fields of the Betar SGBM-1.6 packet.
#[derive(Debug, Clone, Copy)]
pub struct Sgbm {
    /// Battery, %.
    pub battery: u8,
    /// Reading time, device clock.
    pub time: u32,
    /// Temperature, °C.
    pub temperature: i8,
    /// Reading, 0.001 m³.
    pub reading: u32,
    /// Module reboot count.
    pub reboots: u8,
}

/// SGBM-1.6 fPort 2, 12 bytes: `0` type=01 · `1` battery · `2–5` time ·
/// `6` temperature · `7–10` reading u32 ÷1000 · `11` reboot count.
pub fn sgbm(f: &Sgbm) -> [u8; 12] {
    let mut p = [0u8; 12];
    p[0] = 0x01;
    p[1] = f.battery;
    p[2..6].copy_from_slice(&f.time.to_le_bytes());
    p[6] = f.temperature.to_le_bytes()[0];
    p[7..11].copy_from_slice(&f.reading.to_le_bytes());
    p[11] = f.reboots;
    p
}

/// Fields of the Betar SHVE packet.
#[derive(Debug, Clone, Copy)]
pub struct Shve {
    /// Battery, %.
    pub battery: u8,
    /// Temperature, °C.
    pub temperature: i8,
    /// Reading time, device clock.
    pub time: u32,
    /// Reading, 0.0001 m³.
    pub reading: u32,
}

/// SHVE fPort 2, 15 bytes: `0` type=01 · `1` battery · `2` temperature i8 ·
/// `3` magnet (0) · `4` indicator locked (0) · `5–8` time · `9` leak (0) ·
/// `10` breakthrough (0) · `11–14` reading u32 ÷10000.
pub fn shve(f: &Shve) -> [u8; 15] {
    let mut p = [0u8; 15];
    p[0] = 0x01;
    p[1] = f.battery;
    p[2] = f.temperature.to_le_bytes()[0];
    p[5..9].copy_from_slice(&f.time.to_le_bytes());
    p[11..15].copy_from_slice(&f.reading.to_le_bytes());
    p
}

/// Fields of the SPbZIP type 4 packet.
#[derive(Debug, Clone, Copy)]
pub struct SpbzipTariffs {
    /// Meter serial.
    pub serial: u32,
    /// Reading time, device clock.
    pub time: u32,
    /// Current tariff (1–4).
    pub tariff: u8,
    /// T1–T4, Wh (the total is their sum).
    pub tariffs: [u32; 4],
    /// Request id echoed (0 for a scheduled packet).
    pub uuid: u16,
}

/// SPbZIP fPort 2 type 4 "readings by tariff", 32 bytes: `0` type=04 ·
/// `1–4` serial · `5–8` time · `9` current tariff · `10–13` total Wh ·
/// `14–29` T1–T4 Wh u32 · `30–31` UUID.
pub fn spbzip_tariffs(f: &SpbzipTariffs) -> [u8; 32] {
    let mut p = [0u8; 32];
    p[0] = 0x04;
    p[1..5].copy_from_slice(&f.serial.to_le_bytes());
    p[5..9].copy_from_slice(&f.time.to_le_bytes());
    p[9] = f.tariff;
    let total = f.tariffs.iter().fold(0u32, |a, t| a.wrapping_add(*t));
    p[10..14].copy_from_slice(&total.to_le_bytes());
    for (i, v) in f.tariffs.iter().enumerate() {
        p[14 + 4 * i..18 + 4 * i].copy_from_slice(&v.to_le_bytes());
    }
    p[30..32].copy_from_slice(&f.uuid.to_le_bytes());
    p
}

/// Fields of the TD-11 type 1 packet.
#[derive(Debug, Clone, Copy)]
pub struct Td11 {
    /// Battery, %.
    pub battery: u8,
    /// Reading time, device clock.
    pub time: u32,
    /// Temperature, 0.1 °C.
    pub temperature_c10: i16,
    /// Low limit, °C.
    pub low: i8,
    /// High limit, °C.
    pub high: i8,
}

/// TD-11 fPort 2 type 1, 13 bytes: `0` type=01 · `1` battery · `2` out-of-range flag ·
/// `3–6` time · `7–8` temperature i16 ÷10 · `9` low i8 · `10` high i8 · `11` reason (0) ·
/// `12` input bits (0).
pub fn td11(f: &Td11) -> [u8; 13] {
    let mut p = [0u8; 13];
    p[0] = 0x01;
    p[1] = f.battery;
    let celsius = f.temperature_c10 / 10;
    p[2] = u8::from(celsius < i16::from(f.low) || celsius > i16::from(f.high));
    p[3..7].copy_from_slice(&f.time.to_le_bytes());
    p[7..9].copy_from_slice(&f.temperature_c10.to_le_bytes());
    p[9] = f.low.to_le_bytes()[0];
    p[10] = f.high.to_le_bytes()[0];
    p
}

/// Fields of the M-BUS-2 type 1 packet.
#[derive(Debug, Clone, Copy)]
pub struct Mbus2 {
    /// Battery, %.
    pub battery: u8,
    /// Settings bit field.
    pub settings: u8,
    /// Meter serial.
    pub serial: u32,
    /// Reading time, device clock.
    pub time: u32,
    /// Energy, Wh.
    pub energy_wh: u32,
    /// Coolant volume, L.
    pub volume_l: u32,
    /// Operating hours.
    pub hours: u32,
    /// Flow temperature, 0.01 °C.
    pub flow_c100: u16,
    /// Return temperature, 0.01 °C.
    pub return_c100: u16,
    /// Flow, L/h.
    pub flow_lh: u32,
    /// Power, W.
    pub power_w: u32,
}

/// M-Bus medium code "heat (outlet)".
pub const MEDIUM_HEAT: u8 = 0x04;

/// M-BUS-2 fPort 2 type 1, 38 bytes: `0` type=01 · `1` battery · `2` settings ·
/// `3–6` serial · `7–10` time · `11–14` energy Wh · `15–18` volume L ·
/// `19–22` operating hours · `23–24` flow temperature u16 ÷100 · `25–26` return
/// temperature ÷100 · `27–28` flow L/h u16 · `29–32` flow L/h u32 · `33–36` power W u32 ·
/// `37` medium.
pub fn mbus2(f: &Mbus2) -> [u8; 38] {
    let mut p = [0u8; 38];
    p[0] = 0x01;
    p[1] = f.battery;
    p[2] = f.settings;
    p[3..7].copy_from_slice(&f.serial.to_le_bytes());
    p[7..11].copy_from_slice(&f.time.to_le_bytes());
    p[11..15].copy_from_slice(&f.energy_wh.to_le_bytes());
    p[15..19].copy_from_slice(&f.volume_l.to_le_bytes());
    p[19..23].copy_from_slice(&f.hours.to_le_bytes());
    p[23..25].copy_from_slice(&f.flow_c100.to_le_bytes());
    p[25..27].copy_from_slice(&f.return_c100.to_le_bytes());
    let flow16 = u16::try_from(f.flow_lh).unwrap_or(u16::MAX);
    p[27..29].copy_from_slice(&flow16.to_le_bytes());
    p[29..33].copy_from_slice(&f.flow_lh.to_le_bytes());
    p[33..37].copy_from_slice(&f.power_w.to_le_bytes());
    p[37] = MEDIUM_HEAT;
    p
}

/// fPort 4 time packet: `FF` + u32 device time.
pub fn time_packet(device_time: u32) -> [u8; 5] {
    let mut p = [0xFFu8; 5];
    p[1..5].copy_from_slice(&device_time.to_le_bytes());
    p
}

/// The correction in seconds of an fPort 4 downlink `FF` + i64 LE (§1.5);
/// `None` for anything else.
pub fn time_correction(data: &[u8]) -> Option<i64> {
    match data {
        [0xFF, rest @ ..] => rest.try_into().ok().map(i64::from_le_bytes),
        _ => None,
    }
}

/// Appends `bytes` as hex to `out`.
pub fn push_hex(out: &mut String, bytes: &[u8], upper: bool) {
    out.push_str(&hex(bytes, upper));
}

/// `bytes` as hex.
pub fn hex(bytes: &[u8], upper: bool) -> String {
    if upper { meterhub_plugin_api::hex::encode_upper(bytes) } else { meterhub_plugin_api::hex::encode(bytes) }
}

/// Decode a hex string (either case); `None` when it is not hex.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    meterhub_plugin_api::hex::decode(text).ok()
}
