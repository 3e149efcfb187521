//! The emulator's shared state: the world (devices, their history, the
//! traffic generator) behind one lock, the users and tokens, the counters,
//! and the channels that reach every session (events, drop and stall faults).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use rand::rngs::StdRng;
use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::Options;
use super::devices::{self, Device};
use super::history::DeviceHistory;
use super::payloads;
use super::traffic::Traffic;
use super::users::Users;

/// Events queued to capacity per session before it lags (and loses rx).
const EVENT_CAPACITY: usize = 1 << 16;

/// What the server pushes to sessions.
#[derive(Debug, Clone)]
pub enum Event {
    /// An `rx` message about device `device` (sent to users who see it).
    Rx {
        /// Device index.
        device: u32,
        /// The message.
        text: Utf8Bytes,
    },
    /// Send the garbage set to every session (`POST /fault/garbage`).
    Garbage,
    /// Send `alter_user_resp` to every authenticated session.
    AlterUser,
}

/// Devices, history and the generator.
#[derive(Debug)]
pub struct World {
    /// The devices, by index.
    pub devices: Vec<Device>,
    /// Their packets, by device index.
    pub history: Vec<DeviceHistory>,
    /// Draws identifiers of devices added later.
    pub device_rng: StdRng,
    /// The traffic generator.
    pub traffic: Traffic,
}

/// Counters and gauges reported by `GET /stats`.
#[derive(Debug, Default)]
pub struct Stats {
    /// Open WebSocket connections.
    pub connections: AtomicU64,
    /// WebSocket connections accepted so far.
    pub connections_total: AtomicU64,
    /// Sessions now authenticated.
    pub sessions_authenticated: AtomicU64,
    /// Successful `auth_req`.
    pub auth_ok: AtomicU64,
    /// Refused `auth_req`.
    pub auth_failed: AtomicU64,
    /// Successful `token_auth_req`.
    pub token_auth_ok: AtomicU64,
    /// Refused `token_auth_req`.
    pub token_auth_failed: AtomicU64,
    /// Requests answered.
    pub requests: AtomicU64,
    /// Received objects without a usable `cmd`, and non-JSON or binary frames.
    pub bad_requests: AtomicU64,
    /// `rx` messages sent (one per session reached).
    pub rx_sent: AtomicU64,
    /// `rx` messages a lagging session missed.
    pub rx_lagged: AtomicU64,
    /// Data uplinks generated live (fPort 2; not repeats).
    pub data_uplinks: AtomicU64,
    /// Time packets generated live (fPort 4).
    pub time_uplinks: AtomicU64,
    /// LoRaWAN repeats (`REPEAT*` types).
    pub repeats: AtomicU64,
    /// `rx` messages pushed twice, identical.
    pub duplicates: AtomicU64,
    /// `JOIN_REQ` messages.
    pub joins: AtomicU64,
    /// `get_data_req` answered.
    pub get_data_requests: AtomicU64,
    /// `send_data_req` answered.
    pub send_data_requests: AtomicU64,
    /// WebSocket ping frames sent.
    pub pings_sent: AtomicU64,
    /// Garbage frames sent.
    pub garbage_sent: AtomicU64,
    /// `POST /fault/drop` calls.
    pub drops: AtomicU64,
    /// `POST /fault/stall` calls.
    pub stalls: AtomicU64,
}

/// Add `n` to a counter.
pub fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// Subtract one from a gauge.
pub fn sub1(gauge: &AtomicU64) {
    gauge.fetch_sub(1, Ordering::Relaxed);
}

/// Everything the server, the generator and the control API share.
#[derive(Debug)]
pub struct Shared {
    /// The options it runs with.
    pub options: Options,
    /// Devices and history.
    pub world: Mutex<World>,
    /// Users and tokens.
    pub users: Mutex<Users>,
    /// Counters.
    pub stats: Stats,
    /// Events to every session.
    pub events: broadcast::Sender<Event>,
    /// Bumped to close every connection at once.
    pub drop_all: watch::Sender<u64>,
    /// Sessions send nothing until this instant.
    pub stall: watch::Sender<Option<tokio::time::Instant>>,
    /// Uplink generation paused.
    pub paused: AtomicBool,
}

/// Milliseconds since the Unix epoch (the host's clock).
pub use meterhub_storage::clock::now_ms;

/// Lock, going on with the data when a holder panicked.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    /// The state for `options`, history pre-generated up to `now_ms`.
    pub fn new(options: Options, now_ms: i64) -> Arc<Shared> {
        let mut device_rng = devices::rng(options.seed);
        let devs = devices::create(0, options.devices, &options.models, options.drift_every, now_ms, &mut device_rng);
        let specs = if options.users.is_empty() { vec![super::users::UserSpec::root()] } else { options.users.clone() };
        let users = Users::new(&specs, &devs);
        let mut world = World {
            history: devs.iter().map(|_| DeviceHistory::default()).collect(),
            devices: devs,
            device_rng,
            traffic: Traffic::new(options.seed),
        };
        world.pregenerate(&options, now_ms);
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        Arc::new(Shared {
            paused: AtomicBool::new(options.start_paused),
            options,
            world: Mutex::new(world),
            users: Mutex::new(users),
            stats: Stats::default(),
            events,
            drop_all: watch::Sender::new(0),
            stall: watch::Sender::new(None),
        })
    }

    /// Generate `count` data uplinks now (round robin over the devices) and
    /// push their `rx` messages.
    pub fn generate(&self, count: usize) {
        let mut out = Vec::new();
        // Exactly `count`, as asked, whatever the devices sent last.
        let tally = lock(&self.world).emit(count, now_ms(), self.options.history_limit, None, &mut out);
        tally.record(&self.stats);
        for event in out {
            let _ = self.events.send(event);
        }
    }

    /// Add `count` devices (identifiers continue the seed's sequence).
    pub fn add_devices(&self, count: u32) {
        let mut world = lock(&self.world);
        let first = u32::try_from(world.devices.len()).unwrap_or(u32::MAX);
        let World { devices, history, device_rng, .. } = &mut *world;
        let new = devices::create(first, count, &self.options.models, self.options.drift_every, now_ms(), device_rng);
        history.extend(new.iter().map(|_| DeviceHistory::default()));
        devices.extend(new);
    }

    /// The `GET /stats` object.
    pub fn stats_json(&self) -> Value {
        let s = &self.stats;
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let world = lock(&self.world);
        let mut downlinks: Vec<(i64, Value)> = world
            .history
            .iter()
            .zip(&world.devices)
            .flat_map(|(h, d)| {
                h.down.iter().map(move |dl| {
                    (
                        dl.packet.ts,
                        json!({
                            "devEui": d.dev_eui,
                            "ts": dl.packet.ts,
                            "fcnt": dl.packet.fcnt,
                            "port": dl.packet.port,
                            "ack": dl.packet.kind.ack(),
                            "data": payloads::hex(&dl.bytes, false),
                            "correction_s": dl.correction_s,
                        }),
                    )
                })
            })
            .collect();
        downlinks.sort_by_key(|(ts, _)| *ts);
        json!({
            "connections": g(&s.connections),
            "connections_total": g(&s.connections_total),
            "sessions_authenticated": g(&s.sessions_authenticated),
            "auth_ok": g(&s.auth_ok),
            "auth_failed": g(&s.auth_failed),
            "token_auth_ok": g(&s.token_auth_ok),
            "token_auth_failed": g(&s.token_auth_failed),
            "requests": g(&s.requests),
            "bad_requests": g(&s.bad_requests),
            "rx_sent": g(&s.rx_sent),
            "rx_lagged": g(&s.rx_lagged),
            "data_uplinks": g(&s.data_uplinks),
            "time_uplinks": g(&s.time_uplinks),
            "repeats": g(&s.repeats),
            "duplicates": g(&s.duplicates),
            "joins": g(&s.joins),
            "get_data_requests": g(&s.get_data_requests),
            "send_data_requests": g(&s.send_data_requests),
            "pings_sent": g(&s.pings_sent),
            "garbage_sent": g(&s.garbage_sent),
            "drops": g(&s.drops),
            "stalls": g(&s.stalls),
            "paused": self.paused.load(Ordering::Relaxed),
            "devices": world.devices.len(),
            "downlinks": downlinks.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
        })
    }
}
