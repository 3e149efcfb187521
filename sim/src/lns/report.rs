//! What the simulator did: events sent by kind, HTTP answers by status,
//! MQTT publishes the broker acknowledged, and what was not as expected
//! (an event refused or lost, a fault accepted); with The Things Stack's
//! storage, the uplinks stored, its API's answers by status and the
//! messages they served. [`Stats`] counts while it runs (shared by the
//! transports' tasks and the storage API); [`Summary`] is the final
//! account, printed as one JSON line.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::bodies::Kind;

/// The most characters of a refusal's body kept as its example.
const REFUSAL_CHARS: usize = 300;

/// Events sent, by kind (see [`Kind`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    /// Uplinks.
    pub up: u64,
    /// Uplinks sent again.
    pub repeat: u64,
    /// Joins.
    pub join: u64,
    /// Device-status events.
    pub status: u64,
    /// Faults: malformed bodies.
    pub malformed: u64,
    /// Faults: unknown event kinds.
    pub unknown_event: u64,
    /// Faults: payloads that are not base64.
    pub bad_base64: u64,
}

impl Sent {
    /// The count of `kind`.
    pub fn get(&self, kind: Kind) -> u64 {
        match kind {
            Kind::Up => self.up,
            Kind::Repeat => self.repeat,
            Kind::Join => self.join,
            Kind::Status => self.status,
            Kind::Malformed => self.malformed,
            Kind::UnknownEvent => self.unknown_event,
            Kind::BadBase64 => self.bad_base64,
        }
    }

    /// Every event.
    pub fn total(&self) -> u64 {
        Kind::ALL.iter().map(|k| self.get(*k)).sum()
    }
}

/// The final account (one JSON line on stdout from `meterhub sim lns`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// `done` when the rounds or the count ended it, `stopped` when a
    /// signal (or the caller) did.
    pub lns_sim: String,
    /// The server simulated (`chirpstack-v4`, `chirpstack-v3`, `tts-v3`).
    pub server: String,
    /// `json` or `protobuf`.
    pub encoding: String,
    /// `http`, `mqtt`, or `none` (pushed nowhere: storage only).
    pub transport: String,
    /// The URL or the broker (empty when pushed nowhere).
    pub target: String,
    /// Devices simulated.
    pub devices: u32,
    /// Rounds completed (every device sent in it).
    pub rounds: u64,
    /// Uplinks generated.
    pub uplinks: u64,
    /// Events sent (handed to the transport), all kinds.
    pub events: u64,
    /// Events sent, by kind.
    pub sent: Sent,
    /// HTTP: answers by status code.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub http_status: Option<BTreeMap<String, u64>>,
    /// HTTP: requests without an answer (the connection broke).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub http_failed: Option<u64>,
    /// HTTP: the first body answered with each status other than 2xx
    /// (cut to 300 characters).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub refusals: Option<BTreeMap<String, String>>,
    /// MQTT: messages published (QoS 1).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mqtt_published: Option<u64>,
    /// MQTT: publishes the broker acknowledged (PUBACK).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mqtt_acknowledged: Option<u64>,
    /// Storage (`--storage`): the base URL of its API, the bound address
    /// in it (`http://127.0.0.1:41234/api/v3`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub storage_url: Option<String>,
    /// Storage: uplinks stored.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub storage_stored: Option<u64>,
    /// Storage: its API's answers, by status code.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub storage_status: Option<BTreeMap<String, u64>>,
    /// Storage: messages its API's answers carried.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub storage_served: Option<u64>,
    /// Not as expected: an event other than a fault refused (not 2xx),
    /// lost (no answer) or not acknowledged by the broker, or a fault
    /// accepted (2xx). 0 when everything went as it should.
    pub unexpected: u64,
    /// The profile name meterhub's lw640 driver reads from the events
    /// (`lorawan.profile`, what a `profile` route matches); absent for
    /// ChirpStack v3, whose events name none.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub profile: Option<String>,
    /// The first uplink's simulated time, Unix ms.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub first_uplink_ms: Option<i64>,
    /// The last uplink's simulated time, Unix ms.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub last_uplink_ms: Option<i64>,
    /// Wall time of the run, ms.
    pub elapsed_ms: u64,
    /// Events per second of wall time.
    pub events_per_s: f64,
}

/// What the summary says that the counters do not know.
#[derive(Debug, Clone)]
pub struct Head {
    /// See [`Summary::lns_sim`].
    pub lns_sim: &'static str,
    /// See [`Summary::server`].
    pub server: &'static str,
    /// See [`Summary::encoding`].
    pub encoding: &'static str,
    /// See [`Summary::transport`].
    pub transport: &'static str,
    /// See [`Summary::target`].
    pub target: String,
    /// See [`Summary::devices`].
    pub devices: u32,
    /// See [`Summary::rounds`].
    pub rounds: u64,
    /// See [`Summary::uplinks`].
    pub uplinks: u64,
    /// See [`Summary::profile`].
    pub profile: Option<String>,
    /// See [`Summary::first_uplink_ms`].
    pub first_uplink_ms: Option<i64>,
    /// See [`Summary::last_uplink_ms`].
    pub last_uplink_ms: Option<i64>,
    /// See [`Summary::storage_url`]; `None` without storage.
    pub storage_url: Option<String>,
}

#[derive(Debug, Default)]
struct HttpCounts {
    statuses: BTreeMap<u16, u64>,
    failed: u64,
    refusals: BTreeMap<u16, String>,
}

#[derive(Debug, Default)]
struct StorageCounts {
    statuses: BTreeMap<u16, u64>,
    served: u64,
}

/// The counters while running.
#[derive(Debug)]
pub struct Stats {
    started: Instant,
    sent: [AtomicU64; Kind::ALL.len()],
    http: Mutex<HttpCounts>,
    mqtt_published: AtomicU64,
    mqtt_acknowledged: AtomicU64,
    unexpected: AtomicU64,
    stored: AtomicU64,
    storage: Mutex<StorageCounts>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            started: Instant::now(),
            sent: Default::default(),
            http: Mutex::default(),
            mqtt_published: AtomicU64::new(0),
            mqtt_acknowledged: AtomicU64::new(0),
            unexpected: AtomicU64::new(0),
            stored: AtomicU64::new(0),
            storage: Mutex::default(),
        }
    }
}

fn slot(kind: Kind) -> usize {
    Kind::ALL.iter().position(|k| *k == kind).unwrap_or(0)
}

impl Stats {
    fn http(&self) -> std::sync::MutexGuard<'_, HttpCounts> {
        self.http.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn storage(&self) -> std::sync::MutexGuard<'_, StorageCounts> {
        self.storage.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// An event of `kind` was handed to the transport.
    pub fn sent(&self, kind: Kind) {
        self.sent[slot(kind)].fetch_add(1, Ordering::Relaxed);
    }

    /// An event of `kind` was answered `status` with `body`.
    pub fn answered(&self, kind: Kind, status: u16, body: &[u8]) {
        let accepted = (200..300).contains(&status);
        if accepted == kind.is_fault() {
            self.unexpected.fetch_add(1, Ordering::Relaxed);
        }
        let mut http = self.http();
        *http.statuses.entry(status).or_default() += 1;
        if !accepted {
            http.refusals
                .entry(status)
                .or_insert_with(|| String::from_utf8_lossy(body).chars().take(REFUSAL_CHARS).collect());
        }
    }

    /// A request got no answer.
    pub fn failed(&self) {
        self.unexpected.fetch_add(1, Ordering::Relaxed);
        self.http().failed += 1;
    }

    /// HTTP answers so far, by status, and requests without an answer.
    pub fn http_counts(&self) -> (BTreeMap<u16, u64>, u64) {
        let http = self.http();
        (http.statuses.clone(), http.failed)
    }

    /// A message was published.
    pub fn published(&self) {
        self.mqtt_published.fetch_add(1, Ordering::Relaxed);
    }

    /// The broker acknowledged a publish.
    pub fn acknowledged(&self) {
        self.mqtt_acknowledged.fetch_add(1, Ordering::Relaxed);
    }

    /// Messages published so far and acknowledged so far.
    pub fn mqtt(&self) -> (u64, u64) {
        (self.mqtt_published.load(Ordering::Relaxed), self.mqtt_acknowledged.load(Ordering::Relaxed))
    }

    /// Publishes the broker never acknowledged count as unexpected.
    pub fn unacknowledged(&self, count: u64) {
        self.unexpected.fetch_add(count, Ordering::Relaxed);
    }

    /// An uplink was stored.
    pub fn stored(&self) {
        self.stored.fetch_add(1, Ordering::Relaxed);
    }

    /// The storage API answered `status`, with `messages` messages.
    pub fn storage_answered(&self, status: u16, messages: u64) {
        let mut storage = self.storage();
        *storage.statuses.entry(status).or_default() += 1;
        storage.served += messages;
    }

    /// Uplinks stored so far, storage API requests answered so far and
    /// the messages they served.
    pub fn storage_counts(&self) -> (u64, u64, u64) {
        let storage = self.storage();
        (self.stored.load(Ordering::Relaxed), storage.statuses.values().sum(), storage.served)
    }

    /// Events sent so far, by kind.
    pub fn sent_counts(&self) -> Sent {
        let get = |kind| self.sent[slot(kind)].load(Ordering::Relaxed);
        Sent {
            up: get(Kind::Up),
            repeat: get(Kind::Repeat),
            join: get(Kind::Join),
            status: get(Kind::Status),
            malformed: get(Kind::Malformed),
            unknown_event: get(Kind::UnknownEvent),
            bad_base64: get(Kind::BadBase64),
        }
    }

    /// A progress line: events by kind and what became of them over
    /// `transport` (`http`, `mqtt`, `none`), and the storage's counts
    /// when `storage` is on.
    pub fn progress(&self, transport: &str, storage: bool) -> String {
        let sent = self.sent_counts();
        let kinds: Vec<String> =
            Kind::ALL.iter().filter(|k| sent.get(**k) > 0).map(|k| format!("{} {}", k.name(), sent.get(*k))).collect();
        let mut outcome = match transport {
            "http" => {
                let http = self.http();
                let statuses: Vec<String> = http.statuses.iter().map(|(s, n)| format!("{s}: {n}")).collect();
                format!("HTTP {}; {} without answer", statuses.join(", "), http.failed)
            }
            "mqtt" => {
                let (published, acknowledged) = self.mqtt();
                format!("MQTT {published} published, {acknowledged} acknowledged")
            }
            _ => "pushed nowhere".to_owned(),
        };
        if storage {
            let (stored, requests, served) = self.storage_counts();
            outcome.push_str(&format!("; storage {stored} stored, {requests} requests served {served} messages"));
        }
        format!(
            "lns-sim: {} events ({}); {outcome}; {} unexpected",
            sent.total(),
            kinds.join(", "),
            self.unexpected.load(Ordering::Relaxed)
        )
    }

    /// The final account; `head` gives what the counters do not know.
    pub fn summary(&self, head: Head) -> Summary {
        let sent = self.sent_counts();
        let elapsed = self.started.elapsed();
        let events = sent.total();
        let is_http = head.transport == "http";
        let is_mqtt = head.transport == "mqtt";
        let has_storage = head.storage_url.is_some();
        let (published, acknowledged) = self.mqtt();
        let http = self.http();
        let storage = self.storage();
        Summary {
            lns_sim: head.lns_sim.to_owned(),
            server: head.server.to_owned(),
            encoding: head.encoding.to_owned(),
            transport: head.transport.to_owned(),
            target: head.target,
            devices: head.devices,
            rounds: head.rounds,
            uplinks: head.uplinks,
            events,
            sent,
            http_status: is_http.then(|| http.statuses.iter().map(|(s, n)| (s.to_string(), *n)).collect()),
            http_failed: is_http.then_some(http.failed),
            refusals: is_http.then(|| http.refusals.iter().map(|(s, b)| (s.to_string(), b.clone())).collect()),
            mqtt_published: is_mqtt.then_some(published),
            mqtt_acknowledged: is_mqtt.then_some(acknowledged),
            storage_url: head.storage_url,
            storage_stored: has_storage.then(|| self.stored.load(Ordering::Relaxed)),
            storage_status: has_storage.then(|| storage.statuses.iter().map(|(s, n)| (s.to_string(), *n)).collect()),
            storage_served: has_storage.then_some(storage.served),
            unexpected: self.unexpected.load(Ordering::Relaxed),
            profile: head.profile,
            first_uplink_ms: head.first_uplink_ms,
            last_uplink_ms: head.last_uplink_ms,
            elapsed_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
            events_per_s: if elapsed.as_secs_f64() > 0.0 {
                (events as f64 / elapsed.as_secs_f64() * 10.0).round() / 10.0
            } else {
                0.0
            },
        }
    }
}
