//! `meterhub sim lns`: a LoRaWAN network-server emulator. It pushes the
//! events ChirpStack v4, ChirpStack Application Server v3 or The Things
//! Stack v3 would push for N simulated Vega SI-12 pulse counters, in each
//! server's exact format, over HTTP (its HTTP integration or webhook) or
//! MQTT (its MQTT integration or server), so that meterhub's `lw640`
//! driver and the `vega-codec` behind it can be demonstrated, tested end
//! to end and benchmarked without a network server (PROTOCOLS.md §4).
//!
//! # Command line
//!
//! ```text
//! meterhub sim lns --server chirpstack-v4|chirpstack-v3|tts-v3 [--encoding json|protobuf]
//!     (--http http://127.0.0.1:7010/ [--auth "Bearer x"] [--auth-header Authorization] [--connections 1]
//!      | --mqtt mqtt://127.0.0.1:1883 [--topic-prefix p] [--mqtt-username u --mqtt-password p])
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
//!
//! # Library
//!
//! [`Lns::new`] checks an [`Options`], [`Lns::run`] (or
//! [`Lns::run_until`]) sends and returns the [`Summary`]; [`Traffic`]
//! generates the same events without sending (tests look at the bodies).
//!
//! # Code map
//!
//! - [`options`]: the options and their checks; [`error`]: the errors;
//! - [`devices`]: DevEUIs, sessions, counters, the SI-12 payload;
//! - [`clock`]: RFC 3339 forms, UUIDs, ULIDs;
//! - [`bodies`]: one file per server and encoding; event kinds and faults;
//! - [`topics`]: MQTT topics and ChirpStack's `?event=`;
//! - [`traffic`]: the order of events and the behaviours;
//! - [`http`], [`mqtt`]: the transports; [`report`]: counters and summary.

pub mod bodies;
pub mod clock;
pub mod devices;
pub mod error;
pub mod http;
pub mod mqtt;
pub mod options;
pub mod report;
pub mod topics;
pub mod traffic;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

pub use bodies::{Kind, Outgoing};
pub use clock::Stamp;
pub use error::LnsError;
pub use options::{Encoding, Options, Server, Target};
pub use report::{Head, Sent, Stats, Summary};
pub use traffic::Traffic;

/// Where events go while running.
#[derive(Debug)]
enum Sender {
    Http(http::HttpSender),
    Mqtt(mqtt::MqttSender),
}

impl Sender {
    async fn send(&mut self, event: Outgoing) -> Result<(), LnsError> {
        match self {
            Sender::Http(s) => s.send(event).await,
            Sender::Mqtt(s) => s.send(event).await,
        }
    }

    async fn finish(self) -> Result<(), LnsError> {
        match self {
            Sender::Http(s) => s.finish().await,
            Sender::Mqtt(s) => s.finish().await,
        }
    }
}

/// A checked transport target.
#[derive(Debug, Clone)]
enum Checked {
    Http { endpoint: http::Endpoint, connections: usize },
    Mqtt { broker: mqtt::Broker, credentials: Option<(String, String)> },
}

/// The simulator, its options checked.
#[derive(Debug)]
pub struct Lns {
    options: Options,
    target: Checked,
    traffic: Traffic,
    stats: Arc<Stats>,
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
        };
        let traffic = Traffic::new(&options);
        Ok(Lns { options, target, traffic, stats: Arc::new(Stats::default()) })
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
        let mut sender = match &self.target {
            Checked::Http { endpoint, connections } => Sender::Http(
                http::HttpSender::start(
                    endpoint.clone(),
                    self.options.server,
                    *connections,
                    self.stats.clone(),
                    timeout,
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
        };
        let (done, rounds, first, last) = self.send_all(&mut sender, stop).await?;
        sender.finish().await?;
        let (transport, target) = match &self.target {
            Checked::Http { endpoint, .. } => ("http", endpoint.url().to_owned()),
            Checked::Mqtt { broker, .. } => ("mqtt", broker.url().to_owned()),
        };
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
        let is_http = matches!(self.target, Checked::Http { .. });
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
                    self.stats.sent(event.kind);
                    sender.send(event).await?;
                }
                if !progress.is_zero() && last_progress.elapsed() >= progress {
                    eprintln!("{}", self.stats.progress(is_http));
                    last_progress = tokio::time::Instant::now();
                }
            }
            round += 1;
        }
    }
}

/// Run the simulator (the command line): one line on stderr when it
/// starts, progress lines, the summary as one JSON line on stdout.
pub fn run(options: Options) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lns-sim: {}", LnsError::Runtime(e));
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let lns = match Lns::new(options) {
            Ok(lns) => lns,
            Err(e) => {
                eprintln!("lns-sim: {e}");
                return ExitCode::FAILURE;
            }
        };
        eprintln!("{}", start_line(&lns));
        match lns.run_until(stopped()).await {
            Ok(summary) => {
                println!("{}", serde_json::to_string(&summary).unwrap_or_default());
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
fn start_line(lns: &Lns) -> String {
    let o = &lns.options;
    let devices = lns.traffic.devices();
    let euis = match devices {
        [] => String::new(),
        [one] => one.dev_eui_hex(),
        [first, .., last] => format!("{}..{}", first.dev_eui_hex(), last.dev_eui_hex()),
    };
    let target = match &lns.target {
        Checked::Http { endpoint, .. } => format!("POST {}", endpoint.url()),
        Checked::Mqtt { broker, .. } => format!("MQTT {}", broker.url()),
    };
    let profile = match lns.traffic.network().profile_seen() {
        Some(p) => format!("profile {p:?}"),
        None => "no profile in the events (route by DevEUI)".to_owned(),
    };
    format!(
        "lns-sim: {} {} to {target}: {} SI-12 devices (DevEUIs {euis}), {profile}, one uplink each per {} ms{}",
        o.server.name(),
        o.encoding.name(),
        o.devices,
        o.interval_ms,
        if o.fast { " of simulated time, sent without waiting" } else { "" }
    )
}

/// Wait for SIGINT or SIGTERM.
async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
