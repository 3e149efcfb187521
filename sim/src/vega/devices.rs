//! The simulated devices: model, DevEUI, AppEUI, frame counters, the meter
//! registers that grow plausibly with time, and a clock that may drift.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::payloads::{self, Payload};

/// The device models the emulator can simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Model {
    /// Vega SI-11 4-input pulse counter (format v1).
    Si11,
    /// Vega SI-12 4-input pulse counter.
    Si12,
    /// Vega GM-2 modem for Elster gas meters.
    Gm2,
    /// Betar-Vega SGBM-1.6 gas meter.
    Sgbm,
    /// Betar-Vega SHVE water meter.
    Shve,
    /// SPbZIP CE2726A/CE2727A electricity meter with a Vega module.
    Spbzip,
    /// Vega TD-11 temperature sensor.
    Td11,
    /// Vega M-BUS-2 heat meter modem.
    Mbus2,
}

impl Model {
    /// Every model, in the default `--models` order.
    pub const ALL: [Model; 8] =
        [Model::Si11, Model::Si12, Model::Gm2, Model::Sgbm, Model::Shve, Model::Spbzip, Model::Td11, Model::Mbus2];

    /// The model named on the command line (`si11`, `SI-11`, `m-bus-2`, ...).
    pub fn parse(name: &str) -> Option<Model> {
        let key: String = name.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_ascii_lowercase();
        Model::ALL.into_iter().find(|m| m.cli_name() == key || (key == "sgbm16" && *m == Model::Sgbm))
    }

    /// The command-line name.
    pub fn cli_name(self) -> &'static str {
        match self {
            Model::Si11 => "si11",
            Model::Si12 => "si12",
            Model::Gm2 => "gm2",
            Model::Sgbm => "sgbm",
            Model::Shve => "shve",
            Model::Spbzip => "spbzip",
            Model::Td11 => "td11",
            Model::Mbus2 => "mbus2",
        }
    }

    /// The model's name as the vendor writes it; also the `device_type`
    /// attribute of `get_device_appdata_resp`.
    pub fn name(self) -> &'static str {
        match self {
            Model::Si11 => "SI-11",
            Model::Si12 => "SI-12",
            Model::Gm2 => "GM-2",
            Model::Sgbm => "SGBM-1.6",
            Model::Shve => "SHVE",
            Model::Spbzip => "SPbZIP",
            Model::Td11 => "TD-11",
            Model::Mbus2 => "M-BUS-2",
        }
    }

    /// The AppEUI the vendor table gives the model (`vega_appeui_models.json`);
    /// all zeros for the Betar meters, which have no entry.
    pub fn app_eui(self) -> &'static str {
        match self {
            Model::Si11 => "7665676173693131",
            Model::Si12 => "7665676173693132",
            Model::Gm2 => "76656761474D2D32",
            Model::Sgbm | Model::Shve => "0000000000000000",
            Model::Spbzip => "5350625A49503237",
            Model::Td11 => "7665676174643131",
            Model::Mbus2 => "4D2D425553203220",
        }
    }

    /// The `device_type` attribute: the model name, with a note for the models
    /// whose AppEUI does not identify them.
    pub fn device_type(self) -> String {
        match self {
            Model::Sgbm | Model::Shve => format!("{} (Betar-Vega; no AppEUI in the vendor table)", self.name()),
            _ => self.name().to_string(),
        }
    }
}

/// One simulated device.
#[derive(Debug, Clone)]
pub struct Device {
    /// Position in the device list (users' SELECTED lists refer to it).
    pub index: u32,
    /// DevEUI, 16 upper-case hex digits.
    pub dev_eui: String,
    /// The model.
    pub model: Model,
    /// OTAA AppKey (32 hex digits; never used for crypto here).
    pub app_key: String,
    /// Device address after the join.
    pub dev_addr: u32,
    /// The drift the device started with, seconds (device clock − true time).
    pub drift_s: i64,
    /// The device clock now: true time + this, seconds (drift plus corrections).
    pub clock_offset_s: i64,
    /// Uplink frame counter (the next uplink's fcnt).
    pub fcnt_up: u32,
    /// Downlink frame counter (the next downlink's fcnt).
    pub fcnt_down: u32,
    /// Data uplinks sent so far (a time packet goes with the first and every 24th after).
    pub uplinks: u64,
    /// Meter registers (meaning per model, see [`Device::payload`]).
    pub registers: [u32; 4],
    /// Fractions of register increments not yet counted.
    carry: [f64; 4],
    /// Battery, %.
    pub battery: u8,
    /// Temperature, 0.1 °C.
    pub temperature_c10: i16,
    /// Meter serial number.
    pub serial: u32,
    /// Time of the last register update, ms (server time).
    pub last_update_ms: i64,
    /// Server time of the last data uplink, ms (0 before any).
    pub last_data_ts: i64,
    /// Server time of the last join, ms.
    pub last_join_ts: i64,
    /// Radio: the gateway that hears the device best.
    pub gateway: u8,
    /// Radio: data rate index (0 = SF12 … 5 = SF7).
    pub dr: u8,
    /// Radio: typical RSSI, dBm.
    pub rssi: i16,
    /// Radio: typical SNR, 0.1 dB.
    pub snr10: i16,
    /// Radio: RSSI of the last uplink.
    pub last_rssi: i16,
    /// Radio: SNR of the last uplink, 0.1 dB.
    pub last_snr10: i16,
}

/// The drift of a drifting device (`--drift-every`), seconds.
pub const DRIFT_S: i64 = 600;

/// Hourly growth of each register, per model.
fn rates_per_hour(model: Model) -> [f64; 4] {
    match model {
        // Pulses: water 10 L/pulse, a busier and two quiet inputs.
        Model::Si11 | Model::Si12 => [40.0, 12.0, 3.0, 0.5],
        // 0.01 m³ units: 0.15 m³/h; register 1 is the constant initial reading.
        Model::Gm2 => [15.0, 0.0, 0.0, 0.0],
        // 0.001 m³ units: 0.12 m³/h.
        Model::Sgbm => [120.0, 0.0, 0.0, 0.0],
        // 0.0001 m³ units: 0.02 m³/h.
        Model::Shve => [200.0, 0.0, 0.0, 0.0],
        // Wh per tariff; the current tariff gets all of it (see `advance`).
        Model::Spbzip => [450.0, 0.0, 0.0, 0.0],
        Model::Td11 => [0.0; 4],
        // Energy Wh, volume L, (unused), operating seconds.
        Model::Mbus2 => [6000.0, 110.0, 0.0, 3600.0],
    }
}

/// The SPbZIP tariff at a UTC time (two-zone: day 07–23 h is T1, night T2).
pub fn tariff_at(ms: i64) -> u8 {
    let hour = ms.div_euclid(3_600_000).rem_euclid(24);
    if (7..23).contains(&hour) { 1 } else { 2 }
}

impl Device {
    /// Device `index`, its identifiers drawn from `rng` (deterministic for a seed).
    pub fn new(index: u32, model: Model, drifts: bool, now_ms: i64, rng: &mut StdRng) -> Device {
        let eui: u64 = rng.random();
        let mut key = String::new();
        payloads::push_hex(&mut key, &rng.random::<[u8; 16]>(), true);
        let registers = match model {
            Model::Si11 | Model::Si12 => std::array::from_fn(|_| rng.random_range(1_000..200_000)),
            Model::Gm2 => {
                let initial = rng.random_range(10_000..500_000);
                [initial + rng.random_range(0..10_000), initial, 0, 0]
            }
            Model::Sgbm => [rng.random_range(100_000..5_000_000), 0, 0, 0],
            Model::Shve => [rng.random_range(1_000_000..50_000_000), 0, 0, 0],
            Model::Spbzip => [rng.random_range(1_000_000..9_000_000), rng.random_range(500_000..4_000_000), 0, 0],
            Model::Td11 => [0; 4],
            Model::Mbus2 => [rng.random_range(1_000_000..90_000_000), rng.random_range(10_000..900_000), 0, 0],
        };
        let dr = rng.random_range(0..6u8);
        let rssi = -118 + i16::from(dr) * 9 + rng.random_range(0..8i16);
        let snr10 = -150 + i16::from(dr) * 40 + rng.random_range(0..20i16);
        let drift_s = if drifts { DRIFT_S } else { 0 };
        Device {
            index,
            dev_eui: format!("{eui:016X}"),
            model,
            app_key: key,
            dev_addr: rng.random(),
            drift_s,
            clock_offset_s: drift_s,
            fcnt_up: 0,
            fcnt_down: 0,
            uplinks: 0,
            registers,
            carry: [0.0; 4],
            battery: rng.random_range(90..=100),
            temperature_c10: rng.random_range(150..260),
            serial: rng.random_range(10_000_000..99_999_999),
            last_update_ms: now_ms,
            last_data_ts: 0,
            last_join_ts: now_ms - rng.random_range(86_400_000..30 * 86_400_000),
            gateway: rng.random_range(0..3),
            dr,
            rssi,
            snr10,
            last_rssi: rssi,
            last_snr10: snr10,
        }
    }

    /// Model name and ordinal, e.g. `SI-11 #3`.
    pub fn name(&self) -> String {
        format!("{} #{}", self.model.name(), self.index + 1)
    }

    /// The device clock at server time `ms`, u32 seconds.
    pub fn device_time(&self, ms: i64) -> u32 {
        let s = ms.div_euclid(1000).saturating_add(self.clock_offset_s);
        u32::try_from(s.clamp(0, i64::from(u32::MAX))).unwrap_or(u32::MAX)
    }

    /// Grow the registers and wander the temperature up to server time `ms`.
    pub fn advance(&mut self, ms: i64, rng: &mut StdRng) {
        let hours = (ms - self.last_update_ms).max(0) as f64 / 3_600_000.0;
        self.last_update_ms = self.last_update_ms.max(ms);
        let rates = rates_per_hour(self.model);
        for (i, rate) in rates.iter().enumerate() {
            let expected = rate * hours * rng.random_range(0.5..1.5) + self.carry[i];
            let whole = expected.floor();
            self.carry[i] = expected - whole;
            let slot = if self.model == Model::Spbzip && i == 0 { usize::from(tariff_at(ms) - 1) } else { i };
            self.registers[slot] = self.registers[slot].wrapping_add(whole as u32);
        }
        let (low, high) = if self.model == Model::Td11 { (-200, 400) } else { (120, 300) };
        self.temperature_c10 = (self.temperature_c10 + rng.random_range(-6..=6)).clamp(low, high);
        if rng.random_bool(0.002) {
            self.battery = self.battery.saturating_sub(1).max(5);
        }
    }

    /// The fPort 2 data packet with the current registers, stamped `time`
    /// (device clock).
    pub fn payload(&self, time: u32) -> Payload {
        let battery = self.battery;
        let temperature = i8::try_from(self.temperature_c10 / 10).unwrap_or(i8::MAX);
        let r = self.registers;
        let bytes: &[u8] = match self.model {
            Model::Si11 | Model::Si12 => &payloads::si_current(&payloads::SiCurrent {
                battery,
                settings: payloads::SETTINGS_1H_OTAA_PULSE,
                time,
                temperature,
                inputs: r,
            }),
            Model::Gm2 => {
                &payloads::gm2(&payloads::Gm2 { battery, time, temperature, reason: 0, reading: r[0], initial: r[1] })
            }
            Model::Sgbm => &payloads::sgbm(&payloads::Sgbm { battery, time, temperature, reading: r[0], reboots: 1 }),
            Model::Shve => &payloads::shve(&payloads::Shve { battery, temperature, time, reading: r[0] }),
            Model::Spbzip => &payloads::spbzip_tariffs(&payloads::SpbzipTariffs {
                serial: self.serial,
                time,
                tariff: tariff_at(self.last_update_ms),
                tariffs: r,
                uuid: 0,
            }),
            Model::Td11 => &payloads::td11(&payloads::Td11 {
                battery,
                time,
                temperature_c10: self.temperature_c10,
                low: -10,
                high: 35,
            }),
            Model::Mbus2 => {
                let flow = 700 + (self.temperature_c10 % 50).unsigned_abs();
                &payloads::mbus2(&payloads::Mbus2 {
                    battery,
                    settings: payloads::SETTINGS_1H_OTAA_PULSE,
                    serial: self.serial,
                    time,
                    energy_wh: r[0],
                    volume_l: r[1],
                    hours: r[3] / 3600,
                    flow_c100: 7000 + flow,
                    return_c100: 4500 + flow,
                    flow_lh: 110,
                    power_w: 6000,
                })
            }
        };
        Payload::new(bytes).unwrap_or(Payload::EMPTY)
    }
}

/// `count` devices numbered from `first`, models cycled over `models`; every
/// `drift_every`-th device (1-based; 0 = none) drifts by [`DRIFT_S`].
pub fn create(
    first: u32,
    count: u32,
    models: &[Model],
    drift_every: u32,
    now_ms: i64,
    rng: &mut StdRng,
) -> Vec<Device> {
    let models = if models.is_empty() { &Model::ALL[..] } else { models };
    (first..first + count)
        .map(|i| {
            let model = models[i as usize % models.len()];
            let drifts = drift_every > 0 && (i + 1).is_multiple_of(drift_every);
            Device::new(i, model, drifts, now_ms, rng)
        })
        .collect()
}

/// The device RNG of a seed (DevEUIs and keys depend only on the seed).
pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed ^ 0x5645_4741_5f44_4556)
}
