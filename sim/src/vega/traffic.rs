//! The traffic generator: which device sends when, what each uplink looks
//! like on the air, and the `rx` fan-out.
//!
//! Devices send in round robin, evenly spread: in interval mode every device
//! once per `--interval-ms`, in rate mode `--rate` data uplinks per second in
//! total. A 10 ms tick emits the uplinks due since the last one in one batch
//! under one lock. Per data uplink (fPort 2), drawn from the seed:
//! - its type: mostly `UNCONF_UP`, some `CONF_UP` (`ack` true) and
//!   `UNCONF_UP+MAC_LINKCHECK_REQ` (macData `02`);
//! - sometimes a LoRaWAN repeat right after it: same fcnt and data, type
//!   `REPEATUNCONF_UP`/`REPEATCONF_UP`, kept in the history too;
//! - sometimes the identical `rx` message pushed twice (not in the history);
//! - sometimes a `JOIN_REQ` message before it (no data, not in the history);
//! - the fPort 4 time packet `FF`+u32 device time with the device's first
//!   uplink and every 24th after (own fcnt, type `UNCONF_UP`).
//!
//! The hex case of `data` is drawn per message.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::devices::Device;
use super::history::DeviceHistory;
use super::packets::{FREQS, GATEWAYS, Kind, Packet};
use super::payloads::{self, Payload};
use super::state::{Event, Shared, Stats, World, add, lock};

/// The generator's tick.
pub const TICK: Duration = Duration::from_millis(10);
/// A time packet goes with a device's first data uplink and every this many after.
pub const TIME_PACKET_EVERY: u64 = 24;
/// Probability of a `CONF_UP` data uplink.
const CONF_P: f64 = 0.08;
/// Probability of `UNCONF_UP+MAC_LINKCHECK_REQ`.
const LINKCHECK_P: f64 = 0.05;
/// Probability of a LoRaWAN repeat after a data uplink.
const REPEAT_P: f64 = 0.03;
/// Probability of the same `rx` message pushed twice.
const DUPLICATE_P: f64 = 0.01;
/// Probability of a `JOIN_REQ` before a data uplink.
const JOIN_P: f64 = 0.005;

/// The generator's own state.
#[derive(Debug)]
pub struct Traffic {
    rng: StdRng,
    /// The next device in the round robin.
    cursor: usize,
    /// Uplinks due but not yet emitted (fractional).
    carry: f64,
}

/// What a batch produced, added to [`Stats`] at once.
#[derive(Debug, Default)]
pub struct Tally {
    data: u64,
    time: u64,
    repeats: u64,
    duplicates: u64,
    joins: u64,
}

impl Tally {
    /// Add to the counters.
    pub fn record(&self, stats: &Stats) {
        add(&stats.data_uplinks, self.data);
        add(&stats.time_uplinks, self.time);
        add(&stats.repeats, self.repeats);
        add(&stats.duplicates, self.duplicates);
        add(&stats.joins, self.joins);
    }
}

impl Traffic {
    /// The generator for a seed.
    pub fn new(seed: u64) -> Traffic {
        Traffic { rng: StdRng::seed_from_u64(seed ^ 0x5645_4741_5f54_5246), cursor: 0, carry: 0.0 }
    }

    /// One packet's radio metadata, from the device's usual values.
    fn packet(&mut self, dev: &Device, ts: i64, port: u8, kind: Kind, device_time: u32, data: Payload) -> Packet {
        let other_gateway = self.rng.random_bool(0.1);
        let gateway = if other_gateway { self.rng.random_range(0..GATEWAYS.len() as u8) } else { dev.gateway };
        Packet {
            ts,
            fcnt: dev.fcnt_up,
            device_time,
            port,
            kind,
            gateway,
            freq: self.rng.random_range(0..FREQS.len() as u8),
            dr: dev.dr,
            rssi: dev.rssi + self.rng.random_range(-4..=4),
            snr10: dev.snr10 + self.rng.random_range(-15..=15),
            pregenerated: false,
            data,
        }
    }

    /// Push the `rx` message of `packet`.
    fn rx(&mut self, dev: &Device, packet: &Packet, out: &mut Vec<Event>) {
        let text = packet.rx_text(&dev.dev_eui, dev.model.app_eui(), packet.data.as_slice(), self.rng.random_bool(0.5));
        out.push(Event::Rx { device: dev.index, text: text.into() });
    }

    /// One data uplink of `dev` at server time `ts` or later (with its
    /// repeat, join and time packet as drawn); `out` is `None` when
    /// pre-generating history.
    fn uplink(
        &mut self,
        dev: &mut Device,
        history: &mut DeviceHistory,
        ts: i64,
        keep: usize,
        mut out: Option<&mut Vec<Event>>,
        tally: &mut Tally,
    ) {
        let live = out.is_some();
        let mut ts = ts.max(history.last_ts() + 1);
        if let Some(out) = out.as_deref_mut()
            && self.rng.random_bool(JOIN_P)
        {
            let mut join = self.packet(dev, ts, 0, Kind::JoinReq, 0, Payload::EMPTY);
            join.fcnt = 0;
            self.rx(dev, &join, out);
            tally.joins += 1;
        }
        dev.advance(ts, &mut self.rng);
        let time = dev.device_time(ts);
        let kind = if self.rng.random_bool(CONF_P) {
            Kind::ConfUp
        } else if self.rng.random_bool(LINKCHECK_P) {
            Kind::UnconfUpLinkCheck
        } else {
            Kind::UnconfUp
        };
        let mut packet = self.packet(dev, ts, 2, kind, time, dev.payload(time));
        packet.pregenerated = !live;
        dev.fcnt_up = dev.fcnt_up.wrapping_add(1);
        dev.last_data_ts = ts;
        dev.last_rssi = packet.rssi;
        dev.last_snr10 = packet.snr10;
        history.push_up(packet, keep);
        if live {
            tally.data += 1;
        }
        if let Some(out) = out.as_deref_mut() {
            self.rx(dev, &packet, out);
        }
        if self.rng.random_bool(REPEAT_P) {
            ts += 1;
            let repeat = Packet { ts, kind: kind.repeat(), rssi: packet.rssi - 2, ..packet };
            history.push_up(repeat, keep);
            if let Some(out) = out.as_deref_mut() {
                self.rx(dev, &repeat, out);
                tally.repeats += 1;
            }
        } else if let Some(out) = out.as_deref_mut()
            && self.rng.random_bool(DUPLICATE_P)
            && let Some(Event::Rx { device, text }) = out.last().cloned()
        {
            out.push(Event::Rx { device, text });
            tally.duplicates += 1;
        }
        if dev.uplinks.is_multiple_of(TIME_PACKET_EVERY) {
            ts += 1;
            let time = dev.device_time(ts);
            let data = Payload::new(&payloads::time_packet(time)).unwrap_or(Payload::EMPTY);
            let mut packet = self.packet(dev, ts, 4, Kind::UnconfUp, time, data);
            packet.pregenerated = !live;
            dev.fcnt_up = dev.fcnt_up.wrapping_add(1);
            history.push_up(packet, keep);
            if let Some(out) = out {
                self.rx(dev, &packet, out);
                tally.time += 1;
            }
        }
        dev.uplinks += 1;
    }
}

impl World {
    /// Emit up to `count` data uplinks at server time `now_ms`, round robin;
    /// their messages go to `out`. With `spacing_ms`, a device whose last
    /// data uplink is less than that old has its turn skipped (a device
    /// sends once a second at most: its clock counts seconds); `tally.data`
    /// says how many were sent.
    pub fn emit(
        &mut self,
        count: usize,
        now_ms: i64,
        keep: usize,
        spacing_ms: Option<i64>,
        out: &mut Vec<Event>,
    ) -> Tally {
        let mut tally = Tally::default();
        let World { devices, history, traffic, .. } = self;
        if devices.is_empty() {
            return tally;
        }
        for _ in 0..count {
            let i = traffic.cursor % devices.len();
            traffic.cursor = i + 1;
            if spacing_ms.is_some_and(|spacing| devices[i].last_data_ts > now_ms - spacing) {
                continue;
            }
            traffic.uplink(&mut devices[i], &mut history[i], now_ms, keep, Some(out), &mut tally);
        }
        tally
    }

    /// Fill `--history-hours` of history per device, one data uplink every
    /// `--history-interval-min`, devices spread over the interval, ending
    /// before `now_ms`.
    pub fn pregenerate(&mut self, options: &super::Options, now_ms: i64) {
        let span = (options.history_hours * 3_600_000.0) as i64;
        let step = i64::from(options.history_interval_min.max(1)) * 60_000;
        if span <= 0 || self.devices.is_empty() {
            return;
        }
        let n = self.devices.len() as i64;
        let mut tally = Tally::default();
        let World { devices, history, traffic, .. } = self;
        for (dev, hist) in devices.iter_mut().zip(history.iter_mut()) {
            let start = now_ms - span + i64::from(dev.index) * step / n;
            dev.last_update_ms = start - step;
            hist.up.reserve(usize::try_from(span / step + 2).unwrap_or(0) * 26 / 24);
            let mut ts = start;
            while ts < now_ms {
                traffic.uplink(dev, hist, ts, options.history_limit, None, &mut tally);
                ts += step;
            }
        }
    }
}

/// Shortest time between two data uplinks of one device in live traffic, ms.
const MIN_DATA_SPACING_MS: i64 = 1000;

/// Uplinks per second in total: `--rate`, or every device once per interval.
pub fn rate(options: &super::Options, devices: usize) -> f64 {
    options.rate.unwrap_or_else(|| devices as f64 * 1000.0 / options.interval_ms.max(1) as f64)
}

/// Generate traffic until the task is aborted.
pub async fn run(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = tokio::time::Instant::now();
    let mut out = Vec::new();
    loop {
        tick.tick().await;
        let now = tokio::time::Instant::now();
        let elapsed = now.duration_since(last).as_secs_f64();
        last = now;
        if shared.paused.load(Ordering::Relaxed) {
            continue;
        }
        let tally = {
            let mut world = lock(&shared.world);
            let per_second = rate(&shared.options, world.devices.len());
            // At most two seconds of backlog: a stopped process does not burst.
            let carry = (world.traffic.carry + elapsed * per_second).min(per_second * 2.0 + 1.0);
            let due = carry.floor();
            let keep = shared.options.history_limit;
            let tally = world.emit(due as usize, super::state::now_ms(), keep, Some(MIN_DATA_SPACING_MS), &mut out);
            // Turns skipped (a device that sent less than a second ago) stay due.
            world.traffic.carry = carry - tally.data as f64;
            tally
        };
        tally.record(&shared.stats);
        for event in out.drain(..) {
            let _ = shared.events.send(event);
        }
    }
}
