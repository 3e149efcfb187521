//! `meterhub sim lns`: a LoRaWAN network-server emulator. It pushes the
//! events ChirpStack v4, ChirpStack Application Server v3 or The Things
//! Stack v3 would push for N simulated Vega SI-12 pulse counters, in each
//! server's exact format, over HTTP (its HTTP integration or webhook) or
//! MQTT (its MQTT integration or server), so that meterhub's `lw640`
//! driver and the `vega-codec` behind it can be demonstrated, tested end
//! to end and benchmarked without a network server (PROTOCOLS.md §4).
//! As The Things Stack it can also keep every uplink in its Storage
//! Integration and serve them over its HTTP API ([`storage`]).
//!
//! # Command line
//!
//! ```text
//! meterhub sim lns --server chirpstack-v4|chirpstack-v3|tts-v3 [--encoding json|protobuf]
//!     (--http http://127.0.0.1:7010/ [--auth "Bearer x"] [--auth-header Authorization] [--connections 1]
//!      | --mqtt mqtt://127.0.0.1:1883 [--topic-prefix p] [--mqtt-username u --mqtt-password p])
//!     [--storage 127.0.0.1:7011 --storage-key KEY [--hold]]         (tts-v3 only)
//!     [--devices 20] [--interval-ms 5000] [--rounds R] [--count N] [--fast]
//!     [--joins] [--repeat-every K] [--status-every K] [--faults-every K]
//!     [--profile SI-12] [--seed 1] [--connect-timeout-ms 5000] [--progress-ms 10000]
//! ```
//!
//! - Every device sends one uplink per `--interval-ms`, the devices spread
//!   evenly over it; the simulated time of an uplink is its slot's time.
//!   `--fast` sends without waiting while the simulated time still
//!   advances by `--interval-ms` per round, ending now (benchmarks).
//! - It stops after `--rounds` rounds or `--count` uplinks (whichever
//!   comes first), or at SIGINT/SIGTERM, and then prints one JSON line on
//!   stdout ([`Summary`]); progress lines and errors go to stderr. The exit
//!   code is 0 when nothing unexpected happened (`"unexpected": 0`).
//! - It fails with an error naming the option, URL or broker when the
//!   options do not fit, the URL cannot be reached or the broker refuses.
//! - `--storage ADDR --storage-key KEY` (The Things Stack only; ADDR may
//!   have port 0): the Storage Integration's API is served on ADDR, under
//!   `http://ADDR/api/v3` (the start line on stderr names the address
//!   bound, `...; storage API on http://127.0.0.1:41234/api/v3`, and so
//!   does the summary's `storage_url`). `--http` and `--mqtt` may then
//!   both be left out: nothing is pushed (the webhook is off), the
//!   uplinks only land in the storage. With `--storage`, an HTTP push
//!   that cannot connect or gets no answer within `--connect-timeout-ms`
//!   does not stop the run: it is counted (`http_failed`, and so
//!   `unexpected`) and dropped, as The Things Stack drops a webhook it
//!   cannot deliver, and the next push connects again (MQTT is as
//!   without: a broker that cannot be reached stops the run).
//! - `--hold` (with `--storage`): after a run that ended by itself (its
//!   rounds or count), the summary line is printed and flushed as ever,
//!   and the storage API is served on until SIGINT/SIGTERM; then the exit
//!   code is 0, and nothing more is printed on stdout.
//!
//! # What is sent
//!
//! - **Devices** ([`devices`]): DevEUIs from the seed
//!   ([`devices::dev_eui`]); every uplink is fPort 2, an SI-12 type 1
//!   "current values" packet whose time is the uplink's simulated time and
//!   whose four pulse counters grow. The device-profile name is `--profile`;
//!   meterhub routes it with `[[drivers.<id>.devices]] profile = "SI-12"
//!   codec = "vega-codec" model = "SI-12"` (The Things Stack: the profile
//!   lw640 reads is `brand/model` of `version_ids`, `vega-absolute/SI-12`
//!   by default, and the JoinEUI is Vega's SI-12 AppEUI; ChirpStack v3
//!   events name no profile: route by DevEUI).
//! - **Bodies** ([`bodies`]): per server, the documented shapes (field
//!   names and casing, base64 payloads, RFC 3339 times, `deviceInfo`,
//!   `end_device_ids`); ChirpStack v4 also as binary Protobuf.
//! - **Behaviours** ([`traffic`]): `--joins` (one join per device at the
//!   start), `--repeat-every K` (every K-th uplink again: alternately the
//!   same body, as a retried push, and the same uplink from a second
//!   gateway), `--status-every K` (a status event, battery and margin,
//!   after every K-th uplink of each device; not The Things Stack),
//!   `--faults-every K` (after every K-th uplink a fault, in turn: a body
//!   cut in half, an unknown event kind `rx`, a payload that is not
//!   base64 — in Protobuf mode that one is sent as JSON).
//! - **Transports** ([`http`], [`mqtt`]; topics and query in [`topics`]).
//! - **Storage** ([`storage`], The Things Stack's Storage Integration):
//!   every uplink (`uplink_message`; a repeat is the same uplink and is
//!   stored once; joins and faults are not stored) is kept when it is
//!   generated, pushed or not, its body byte for byte the webhook's, in
//!   the order of its `received_at`, and served by
//!   `GET /api/v3/as/applications/{application_id}/packages/storage/uplink_message`
//!   and `GET .../applications/{application_id}/devices/{device_id}/packages/storage/uplink_message`
//!   with `Authorization: Bearer {key}`: `200`, `text/event-stream`, one
//!   line `{"result":{webhook body}}` per message. The application id is
//!   the bodies' (`meterhub-sim` by default) or that with `@{tenant}`
//!   (`meterhub-sim@ttn`); the device ids are the bodies'
//!   (`eui-{deveui}`). Query: `limit` (at least 1), `after` and `before`
//!   (RFC 3339, strict, to the nanosecond), `order` (`received_at`, the
//!   default, or `-received_at`), `last` (a Go duration, `30m`, `1h`; not
//!   with `after`/`before`); others ignored. Refusals in The Things
//!   Stack's JSON (`code`, `message`, `details`): 401 (code 16) without
//!   the key, 404 (code 5) for another application or device, 400 (code
//!   3) for a bad value, as its server wraps them in a stream,
//!   `{"error":{...}}`; 404 for another path, 405 for another method, as
//!   its gateway gives them, bare. The summary counts the uplinks stored
//!   (`storage_stored`), the answers by status (`storage_status`) and the
//!   messages served (`storage_served`).
//!
//! # Library
//!
//! [`Lns::new`] checks an [`Options`], [`Lns::run`] (or
//! [`Lns::run_until`]) sends and returns the [`Summary`]; [`Traffic`]
//! generates the same events without sending (tests look at the bodies).
//! With storage, [`Lns::bind_storage`] listens before the run and gives
//! the [`StorageApi`] (its [`StorageApi::address`] and
//! [`StorageApi::url`]), which serves on after the run while it is held.
//!
//! # Code map
//!
//! - [`options`]: the options and their checks; [`error`]: the errors;
//! - [`devices`]: DevEUIs, sessions, counters, the SI-12 payload;
//! - [`clock`]: RFC 3339 forms, UUIDs, ULIDs;
//! - [`bodies`]: one file per server and encoding; event kinds and faults;
//! - [`topics`]: MQTT topics and ChirpStack's `?event=`;
//! - [`traffic`]: the order of events and the behaviours;
//! - [`http`], [`mqtt`]: the transports; [`report`]: counters and summary;
//! - [`storage`]: The Things Stack's Storage Integration, the store and
//!   its server; [`storage::api`] its routes, answers and refusals,
//!   [`storage::query`] its query parameters.

pub mod bodies;
pub mod clock;
pub mod devices;
pub mod error;
pub mod http;
pub mod mqtt;
pub mod options;
pub mod report;
pub mod storage;
pub mod topics;
pub mod traffic;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

pub use bodies::{Kind, Outgoing};
pub use clock::Stamp;
pub use error::LnsError;
pub use options::{Encoding, Options, Server, StorageOptions, Target};
pub use report::{Head, Sent, Stats, Summary};
pub use storage::StorageApi;
pub use traffic::Traffic;

/// Where events go while running.
#[derive(Debug)]
enum Sender {
    Http(http::HttpSender),
    Mqtt(mqtt::MqttSender),
    /// Nowhere (storage only).
    Off,
}

impl Sender {
    async fn send(&mut self, event: Outgoing) -> Result<(), LnsError> {
        match self {
            Sender::Http(s) => s.send(event).await,
            Sender::Mqtt(s) => s.send(event).await,
            Sender::Off => Ok(()),
        }
    }

    async fn finish(self) -> Result<(), LnsError> {
        match self {
            Sender::Http(s) => s.finish().await,
            Sender::Mqtt(s) => s.finish().await,
            Sender::Off => Ok(()),
        }
    }
}

/// A checked transport target.
#[derive(Debug, Clone)]
enum Checked {
    Http { endpoint: http::Endpoint, connections: usize },
    Mqtt { broker: mqtt::Broker, credentials: Option<(String, String)> },
    Off,
}

impl Checked {
    /// The transport's name and target in the summary.
    fn named(&self) -> (&'static str, String) {
        match self {
            Checked::Http { endpoint, .. } => ("http", endpoint.url().to_owned()),
            Checked::Mqtt { broker, .. } => ("mqtt", broker.url().to_owned()),
            Checked::Off => ("none", String::new()),
        }
    }
}

/// The simulator, its options checked.
#[derive(Debug)]
pub struct Lns {
    options: Options,
    target: Checked,
    traffic: Traffic,
    stats: Arc<Stats>,
    storage: Option<storage::Storage>,
}

impl Lns {
    /// Check `options` (and parse the URL) and build the devices.
    pub fn new(options: Options) -> Result<Lns, LnsError> {
        options.check()?;
        let target = match &options.target {
            Target::Http { url, auth, auth_header, connections } => Checked::Http {
                endpoint: http::Endpoint::parse(url, auth_header, auth.as_deref())?,
                connections: *connections,
            },
            Target::Mqtt { url, username, password, .. } => Checked::Mqtt {
                broker: mqtt::Broker::parse(url)?,
                credentials: username.clone().map(|u| (u, password.clone().unwrap_or_default())),
            },
            Target::Off => Checked::Off,
        };
        let traffic = Traffic::new(&options);
        let stats = Arc::new(Stats::default());
        let storage = options.storage.as_ref().map(|s| storage::Storage::new(s, &traffic, stats.clone()));
        Ok(Lns { options, target, traffic, stats, storage })
    }

    /// With `--storage`: listen on its address and serve the storage API
    /// (once; a later call gives the same server). It serves while the
    /// [`StorageApi`] (or a clone) lives, the run's end notwithstanding;
    /// [`Lns::run_until`] binds it itself when this was not called, and
    /// then serves it only while it runs. `None` without `--storage`.
    pub async fn bind_storage(&mut self) -> Result<Option<StorageApi>, LnsError> {
        match &mut self.storage {
            Some(storage) => storage.bind().await.map(Some),
            None => Ok(None),
        }
    }

    /// The devices and network (before the run: as they start).
    pub fn traffic(&self) -> &Traffic {
        &self.traffic
    }

    /// The live counters (they keep counting while [`Lns::run`] runs).
    pub fn stats(&self) -> Arc<Stats> {
        self.stats.clone()
    }

    /// The rounds the run will make, when it ends by itself.
    fn planned_rounds(&self) -> Option<u64> {
        let devices = u64::from(self.options.devices.max(1));
        let by_count = self.options.count.map(|c| c.div_ceil(devices));
        match (self.options.rounds, by_count) {
            (Some(r), Some(c)) => Some(r.min(c)),
            (r, c) => r.or(c),
        }
    }

    /// Run until the rounds or the count are done (forever without them).
    pub async fn run(self) -> Result<Summary, LnsError> {
        self.run_until(std::future::pending()).await
    }

    /// Run until the rounds or the count are done or `stop` completes.
    pub async fn run_until(mut self, stop: impl Future<Output = ()>) -> Result<Summary, LnsError> {
        let timeout = Duration::from_millis(self.options.connect_timeout_ms);
        self.bind_storage().await?;
        let delivery = if self.storage.is_some() { http::Delivery::Drop } else { http::Delivery::Required };
        let mut sender = match &self.target {
            Checked::Http { endpoint, connections } => Sender::Http(
                http::HttpSender::start(
                    endpoint.clone(),
                    self.options.server,
                    *connections,
                    self.stats.clone(),
                    timeout,
                    delivery,
                )
                .await?,
            ),
            Checked::Mqtt { broker, credentials } => {
                let client_id = format!("meterhub-sim-lns-{}-{}", self.options.seed, std::process::id());
                Sender::Mqtt(
                    mqtt::MqttSender::start(broker, client_id, credentials.clone(), self.stats.clone(), timeout)
                        .await?,
                )
            }
            Checked::Off => Sender::Off,
        };
        let (done, rounds, first, last) = self.send_all(&mut sender, stop).await?;
        sender.finish().await?;
        let (transport, target) = self.target.named();
        Ok(self.stats.summary(Head {
            lns_sim: if done { "done" } else { "stopped" },
            server: self.options.server.name(),
            encoding: self.options.encoding.name(),
            transport,
            target,
            devices: self.options.devices,
            rounds,
            uplinks: self.traffic.uplinks(),
            profile: self.traffic.network().profile_seen(),
            first_uplink_ms: first,
            last_uplink_ms: last,
            storage_url: self.storage.as_ref().and_then(storage::Storage::url),
        }))
    }

    /// The sending loop: joins, then round after round of slots. Gives
    /// whether it ended by itself, the rounds completed, and the first and
    /// last uplink's simulated time.
    async fn send_all(
        &mut self,
        sender: &mut Sender,
        stop: impl Future<Output = ()>,
    ) -> Result<(bool, u64, Option<i64>, Option<i64>), LnsError> {
        let options = self.options.clone();
        let interval = u128::from(options.interval_ms);
        let devices = u128::from(options.devices);
        let span = self.planned_rounds().map_or(0, |r| u128::from(r) * interval);
        let now = Stamp::now();
        let start = if options.fast { now.plus_ms(-i64::try_from(span).unwrap_or(i64::MAX)) } else { now };
        let started = tokio::time::Instant::now();
        let progress = Duration::from_millis(options.progress_ms);
        let mut last_progress = started;
        let (transport, _) = self.target.named();
        tokio::pin!(stop);
        if options.joins {
            for event in self.traffic.joins(start) {
                self.stats.sent(event.kind);
                sender.send(event).await?;
            }
        }
        let (mut first, mut last) = (None, None);
        let mut round = 0u64;
        loop {
            if options.rounds.is_some_and(|r| round >= r) {
                return Ok((true, round, first, last));
            }
            for index in 0..options.devices {
                if options.count.is_some_and(|c| self.traffic.uplinks() >= c) {
                    return Ok((true, round, first, last));
                }
                let offset = u128::from(round) * interval + u128::from(index) * interval / devices;
                let offset_ms = u64::try_from(offset).unwrap_or(u64::MAX);
                let due = started + Duration::from_millis(offset_ms);
                let stopped = if options.fast {
                    tokio::select! {
                        biased;
                        () = &mut stop => true,
                        () = std::future::ready(()) => false,
                    }
                } else {
                    tokio::select! {
                        () = &mut stop => true,
                        () = tokio::time::sleep_until(due) => false,
                    }
                };
                if stopped {
                    return Ok((false, round, first, last));
                }
                let at = start.plus_ms(i64::try_from(offset_ms).unwrap_or(i64::MAX));
                first.get_or_insert(at.ms());
                last = Some(at.ms());
                for event in self.traffic.slot(index, at) {
                    if event.kind == Kind::Up
                        && let Some(storage) = &self.storage
                    {
                        storage.keep(&event.body)?;
                    }
                    self.stats.sent(event.kind);
                    sender.send(event).await?;
                }
                if !progress.is_zero() && last_progress.elapsed() >= progress {
                    eprintln!("{}", self.stats.progress(transport, self.storage.is_some()));
                    last_progress = tokio::time::Instant::now();
                }
            }
            round += 1;
        }
    }
}

/// Run the simulator (the command line): one line on stderr when it
/// starts, progress lines, the summary as one JSON line on stdout. With
/// `--hold`, a run that ended by itself keeps serving the storage API
/// after its summary, until SIGINT/SIGTERM, and then exits 0.
pub fn run(options: Options) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lns-sim: {}", LnsError::Runtime(e));
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        // Listening from the start: a signal that comes between the run's
        // end and the hold is not lost.
        let mut signals = Signals::new();
        let mut lns = match Lns::new(options) {
            Ok(lns) => lns,
            Err(e) => {
                eprintln!("lns-sim: {e}");
                return ExitCode::FAILURE;
            }
        };
        let storage = match lns.bind_storage().await {
            Ok(storage) => storage,
            Err(e) => {
                eprintln!("lns-sim: {e}");
                return ExitCode::FAILURE;
            }
        };
        eprintln!("{}", start_line(&lns, storage.as_ref()));
        let hold = lns.options.hold;
        match lns.run_until(signals.next()).await {
            Ok(summary) => {
                println!("{}", serde_json::to_string(&summary).unwrap_or_default());
                let _ = std::io::stdout().flush();
                if let Some(storage) = storage.filter(|_| hold && summary.lns_sim == "done") {
                    eprintln!("lns-sim: done; the storage API on {} serves until SIGINT/SIGTERM", storage.url());
                    signals.next().await;
                    return ExitCode::SUCCESS;
                }
                if summary.unexpected == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
            }
            Err(e) => {
                eprintln!("lns-sim: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// What the simulator is about to do, in one line.
fn start_line(lns: &Lns, storage: Option<&StorageApi>) -> String {
    let o = &lns.options;
    let devices = lns.traffic.devices();
    let euis = match devices {
        [] => String::new(),
        [one] => one.dev_eui_hex(),
        [first, .., last] => format!("{}..{}", first.dev_eui_hex(), last.dev_eui_hex()),
    };
    let target = match &lns.target {
        Checked::Http { endpoint, .. } => format!("to POST {}", endpoint.url()),
        Checked::Mqtt { broker, .. } => format!("to MQTT {}", broker.url()),
        Checked::Off => "pushed nowhere".to_owned(),
    };
    let storage = match storage {
        Some(api) => format!("; storage API on {}", api.url()),
        None => String::new(),
    };
    let profile = match lns.traffic.network().profile_seen() {
        Some(p) => format!("profile {p:?}"),
        None => "no profile in the events (route by DevEUI)".to_owned(),
    };
    format!(
        "lns-sim: {} {} {target}: {} SI-12 devices (DevEUIs {euis}), {profile}, one uplink each per {} ms{}{storage}",
        o.server.name(),
        o.encoding.name(),
        o.devices,
        o.interval_ms,
        if o.fast { " of simulated time, sent without waiting" } else { "" }
    )
}

/// SIGINT and SIGTERM, listened to from its creation on: one that comes
/// while nothing waits is kept for the next wait.
struct Signals {
    #[cfg(unix)]
    unix: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    /// Start listening (within the runtime).
    fn new() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let unix = signal(SignalKind::interrupt()).and_then(|i| Ok((i, signal(SignalKind::terminate())?)));
            Signals { unix: unix.ok() }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// Wait for the next SIGINT or SIGTERM.
    async fn next(&mut self) {
        #[cfg(unix)]
        if let Some((interrupt, terminate)) = &mut self.unix {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}
