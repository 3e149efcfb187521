//! The simulated devices: Vega SI-12 pulse counters behind the network
//! server. Each has a DevEUI derived from the seed and its index, a
//! session (DevAddr, session key, frame counter), four pulse counters
//! that grow with every uplink, a battery, and a radio link to one of the
//! network's gateways.
//!
//! Every uplink is an SI-12 fPort 2 type 1 "current values" packet
//! (PROTOCOLS.md §2.3, written by [`crate::vega::payloads::si_current`]):
//! its time field is the uplink's simulated time, its counters the ones
//! after this uplink's growth.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::clock::Stamp;
use crate::vega::payloads::{self, SETTINGS_1H_OTAA_PULSE, SiCurrent};

/// The SI-12 data port.
pub const FPORT: u32 = 2;

/// The EU868 uplink channels a device hops over (Hz).
pub const CHANNELS: [u32; 8] =
    [868_100_000, 868_300_000, 868_500_000, 867_100_000, 867_300_000, 867_500_000, 867_700_000, 867_900_000];

/// A bijective mix of 64 bits (SplitMix64's finalizer): distinct inputs
/// give distinct outputs.
pub fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The DevEUI of device `index` under `seed`: depends on nothing else, and
/// two indexes under one seed never share one.
pub fn dev_eui(seed: u64, index: u32) -> u64 {
    mix(mix(seed ^ 0x4c4e_535f_5349_4d31).wrapping_add(u64::from(index)))
}

/// One simulated SI-12.
#[derive(Debug, Clone)]
pub struct Device {
    /// Position in the device list (0-based).
    pub index: u32,
    /// DevEUI.
    pub dev_eui: u64,
    /// The session's device address.
    pub dev_addr: u32,
    /// The session's key id (The Things Stack's `session_key_id`).
    pub session_key_id: [u8; 16],
    /// The next uplink's frame counter.
    pub fcnt: u32,
    /// Uplinks sent so far.
    pub uplinks: u64,
    /// Pulse counters of inputs 1–4.
    pub inputs: [u32; 4],
    /// Battery, %.
    pub battery: u8,
    /// Temperature, °C.
    pub temperature: i8,
    /// Data rate index (0 = SF12 … 5 = SF7).
    pub dr: u8,
    /// Typical RSSI, dBm.
    pub rssi: i16,
    /// Typical SNR, 0.1 dB.
    pub snr10: i16,
    /// The gateway that hears the device best (index into the network's).
    pub gateway: usize,
    rng: StdRng,
}

/// One uplink as the device sent it and the network heard it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uplink {
    /// The device's index.
    pub device: u32,
    /// Frame counter.
    pub fcnt: u32,
    /// When the network server received it (the simulated uplink time).
    pub time: Stamp,
    /// The FRMPayload: SI-12 fPort 2 type 1.
    pub payload: [u8; 24],
    /// Data rate index.
    pub dr: u8,
    /// Frequency, Hz.
    pub frequency: u32,
    /// Channel index into [`CHANNELS`].
    pub channel: usize,
    /// The gateways that heard it: (index into the network's, RSSI dBm, SNR 0.1 dB).
    pub heard_by: Vec<(usize, i16, i16)>,
}

impl Uplink {
    /// The spreading factor of the data rate (EU868: DR0 = SF12 … DR5 = SF7).
    pub fn spreading_factor(&self) -> u32 {
        12 - u32::from(self.dr.min(5))
    }
}

impl Device {
    /// Device `index` under `seed`. With `fresh_session` it is about to
    /// join (frame counter 0); otherwise its session is already open and
    /// its frame counter where a running device's might be.
    pub fn new(seed: u64, index: u32, fresh_session: bool) -> Device {
        let dev_eui = dev_eui(seed, index);
        let mut rng = StdRng::seed_from_u64(mix(dev_eui ^ seed));
        let dr = rng.random_range(0..6u8);
        let rssi = -118 + i16::from(dr) * 9 + rng.random_range(0..8i16);
        let snr10 = -150 + i16::from(dr) * 40 + rng.random_range(0..20i16);
        let mut device = Device {
            index,
            dev_eui,
            dev_addr: 0,
            session_key_id: [0; 16],
            fcnt: 0,
            uplinks: 0,
            inputs: std::array::from_fn(|_| rng.random_range(1_000..200_000)),
            battery: rng.random_range(80..=100),
            temperature: rng.random_range(15..26),
            dr,
            rssi,
            snr10,
            gateway: 0,
            rng,
        };
        device.gateway = device.rng.random_range(0..super::bodies::GATEWAYS);
        device.new_session();
        if !fresh_session {
            device.fcnt = device.rng.random_range(1..5000);
        }
        device
    }

    /// DevEUI, 16 upper-case hex digits.
    pub fn dev_eui_hex(&self) -> String {
        format!("{:016X}", self.dev_eui)
    }

    /// DevEUI, 16 lower-case hex digits (as ChirpStack writes it).
    pub fn dev_eui_lower(&self) -> String {
        format!("{:016x}", self.dev_eui)
    }

    /// The device's name at the network server.
    pub fn name(&self) -> String {
        format!("meter-{:04}", self.index + 1)
    }

    /// A new session (a join): new DevAddr (in The Things Network's
    /// 0x26/0x27 range) and session key, frame counter 0.
    pub fn new_session(&mut self) {
        self.dev_addr = 0x2600_0000 | (self.rng.random::<u32>() & 0x01ff_ffff);
        self.session_key_id = self.rng.random();
        self.fcnt = 0;
    }

    /// Random bits for the ids of an event about this device.
    pub fn rng(&mut self) -> &mut StdRng {
        &mut self.rng
    }

    /// The next uplink at `time`: the counters grow (input 1 always), the
    /// temperature wanders, the battery slowly drains; the frame counter
    /// advances.
    pub fn uplink(&mut self, time: Stamp) -> Uplink {
        let growth = [self.rng.random_range(1..=20), self.rng.random_range(0..=5), self.rng.random_range(0..=2), 0];
        for (input, grow) in self.inputs.iter_mut().zip(growth) {
            *input = input.wrapping_add(grow);
        }
        if self.rng.random_bool(0.05) {
            self.inputs[3] = self.inputs[3].wrapping_add(1);
        }
        self.temperature = (self.temperature + self.rng.random_range(-1..=1)).clamp(5, 35);
        if self.rng.random_bool(0.005) {
            self.battery = self.battery.saturating_sub(1).max(5);
        }
        let payload = payloads::si_current(&SiCurrent {
            battery: self.battery,
            settings: SETTINGS_1H_OTAA_PULSE,
            time: time.unix_u32(),
            temperature: self.temperature,
            inputs: self.inputs,
        });
        let channel = self.rng.random_range(0..CHANNELS.len());
        let jitter = |rng: &mut StdRng, spread: i16| rng.random_range(-spread..=spread);
        let best = (self.gateway, self.rssi + jitter(&mut self.rng, 3), self.snr10 + jitter(&mut self.rng, 15));
        let uplink = Uplink {
            device: self.index,
            fcnt: self.fcnt,
            time,
            payload,
            dr: self.dr,
            frequency: CHANNELS[channel],
            channel,
            heard_by: vec![best],
        };
        self.fcnt = self.fcnt.wrapping_add(1);
        self.uplinks += 1;
        uplink
    }

    /// The same uplink as another gateway heard it, reported a few
    /// milliseconds later (a second copy of the event).
    pub fn heard_elsewhere(&mut self, uplink: &Uplink) -> Uplink {
        let gateway =
            (self.gateway + 1 + self.rng.random_range(0..super::bodies::GATEWAYS - 1)) % super::bodies::GATEWAYS;
        let rssi = self.rssi - self.rng.random_range(4..15i16);
        let snr10 = self.snr10 - self.rng.random_range(10..60i16);
        let later = self.rng.random_range(1_000_000..40_000_000i64);
        Uplink { time: uplink.time.plus_nanos(later), heard_by: vec![(gateway, rssi, snr10)], ..uplink.clone() }
    }

    /// A device-status answer: battery level (%, one decimal) and link
    /// margin (dB, the demodulation SNR above the floor).
    pub fn status(&mut self) -> (f32, i32) {
        let level = f32::from(self.battery) - f32::from(self.rng.random_range(0..10u8)) / 10.0;
        let margin = i32::from((self.snr10 + 200) / 10).clamp(0, 31);
        (level.max(0.0), margin)
    }
}

/// The SI-12 fields of a payload [`Device::uplink`] wrote (for checks):
/// battery, settings, time, temperature, inputs.
pub fn read_si12(payload: &[u8]) -> Option<(u8, u8, u32, i8, [u32; 4])> {
    if payload.len() != 24 || payload[0] != 0x01 {
        return None;
    }
    let u32_at = |at: usize| Some(u32::from_le_bytes(payload.get(at..at + 4)?.try_into().ok()?));
    let inputs = [u32_at(8)?, u32_at(12)?, u32_at(16)?, u32_at(20)?];
    Some((payload[1], payload[2], u32_at(3)?, i8::from_le_bytes([payload[7]]), inputs))
}
