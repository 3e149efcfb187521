//! The simulator's options (the command line's flags, or a test's or a
//! bench's struct), with their defaults and the checks [`super::Lns::new`]
//! makes before anything is sent.

use super::error::LnsError;

/// Which network server the simulator is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Server {
    /// ChirpStack v4 (HTTP integration, MQTT integration).
    ChirpstackV4,
    /// ChirpStack Application Server v3 ("JSON v3" marshaler).
    ChirpstackV3,
    /// The Things Stack v3 (webhooks, MQTT server).
    TtsV3,
}

impl Server {
    /// Every server.
    pub const ALL: [Server; 3] = [Server::ChirpstackV4, Server::ChirpstackV3, Server::TtsV3];

    /// Its name on the command line and in the report (as lw640's
    /// `server` setting and `lorawan.server` say it).
    pub fn name(self) -> &'static str {
        match self {
            Server::ChirpstackV4 => "chirpstack-v4",
            Server::ChirpstackV3 => "chirpstack-v3",
            Server::TtsV3 => "tts-v3",
        }
    }

    /// The server named `name`.
    pub fn parse(name: &str) -> Option<Server> {
        Server::ALL.into_iter().find(|s| s.name() == name)
    }

    fn is_chirpstack(self) -> bool {
        self != Server::TtsV3
    }
}

/// How ChirpStack v4 encodes its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// JSON (the HTTP integration's "JSON" switch on).
    Json,
    /// Binary Protobuf (the switch off; the MQTT integration's default).
    Protobuf,
}

impl Encoding {
    /// Its name on the command line and in the report.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Json => "json",
            Encoding::Protobuf => "protobuf",
        }
    }
}

/// Where the events go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// POSTed to an HTTP endpoint, as ChirpStack's HTTP integration or a
    /// The Things Stack webhook does.
    Http {
        /// The endpoint, `http://host:port/path` (ChirpStack adds `?event=`).
        url: String,
        /// The authentication header's value (e.g. `Bearer s3cret`), if any.
        auth: Option<String>,
        /// The authentication header's name.
        auth_header: String,
        /// Connections used at once; device `i` always goes over connection
        /// `i % connections`, so a device's events keep their order.
        connections: usize,
    },
    /// Published at QoS 1 to an MQTT broker, on the server's topics.
    Mqtt {
        /// The broker, `mqtt://host[:port]` (port 1883 by default).
        url: String,
        /// Levels put before ChirpStack's topics (`{prefix}/application/...`).
        topic_prefix: Option<String>,
        /// The broker user name, if it asks for one.
        username: Option<String>,
        /// The broker password.
        password: Option<String>,
    },
    /// Pushed nowhere (the integration's webhook is off): the uplinks
    /// only land in The Things Stack's storage ([`Options::storage`],
    /// which this needs).
    Off,
}

/// The Things Stack's Storage Integration, emulated: every uplink kept
/// and served over HTTP on `listen` (see [`super::storage`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageOptions {
    /// Where its API listens, `host:port` (port 0: any free port; the
    /// bound address is what [`super::Lns::bind_storage`] gives).
    pub listen: String,
    /// The API key every request must carry as `Authorization: Bearer {key}`.
    pub key: String,
}

/// Options of the simulator.
#[derive(Debug, Clone)]
pub struct Options {
    /// The server whose events are sent.
    pub server: Server,
    /// ChirpStack v4's encoding (JSON for the others).
    pub encoding: Encoding,
    /// Where they go.
    pub target: Target,
    /// Number of devices.
    pub devices: u32,
    /// Every device sends one uplink per this many milliseconds, the
    /// devices spread evenly over it; the simulated time advances by it
    /// per round.
    pub interval_ms: u64,
    /// Stop after this many rounds (one uplink per device each).
    pub rounds: Option<u64>,
    /// Stop after this many uplinks in all (repeats, joins, status events
    /// and faults not counted).
    pub count: Option<u64>,
    /// Send without waiting: the simulated time still advances by
    /// `interval_ms` per round, starting that far in the past that the
    /// last round is now (needs `rounds` or `count`).
    pub fast: bool,
    /// A join event per device at the start (their sessions start at
    /// frame counter 0).
    pub joins: bool,
    /// Every K-th uplink, counted over all devices, is sent again (0: never).
    pub repeat_every: u64,
    /// Every device sends a status event after every K-th of its uplinks (0: never).
    pub status_every: u64,
    /// Every K-th uplink, counted over all devices, is followed by a
    /// fault (malformed, unknown event, bad base64 in turn; 0: never).
    pub faults_every: u64,
    /// The device-profile name (The Things Stack: the model id, or
    /// `brand/model` for both of `version_ids`).
    pub profile: String,
    /// Seed of the DevEUIs, the ids and every random choice.
    pub seed: u64,
    /// The application's name (The Things Stack: its id).
    pub application: String,
    /// The Things Stack's tenant (`v3/{application}@{tenant}/...`).
    pub tenant: String,
    /// How long to keep trying to reach the URL or the broker, ms.
    pub connect_timeout_ms: u64,
    /// A progress line on stderr this often, ms (0: none).
    pub progress_ms: u64,
    /// The Things Stack's Storage Integration (`--storage`, `--storage-key`);
    /// with it a push that fails is counted and the run goes on.
    pub storage: Option<StorageOptions>,
    /// After a run that ended by itself, keep serving the storage API
    /// until SIGINT/SIGTERM (`--hold`; used by [`super::run`], a library
    /// caller holds its [`super::StorageApi`] itself). Needs `storage`.
    pub hold: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            server: Server::ChirpstackV4,
            encoding: Encoding::Json,
            target: Target::Http {
                url: "http://127.0.0.1:7010/".to_owned(),
                auth: None,
                auth_header: "Authorization".to_owned(),
                connections: 1,
            },
            devices: 20,
            interval_ms: 5000,
            rounds: None,
            count: None,
            fast: false,
            joins: false,
            repeat_every: 0,
            status_every: 0,
            faults_every: 0,
            profile: "SI-12".to_owned(),
            seed: 1,
            application: "meterhub-sim".to_owned(),
            tenant: "ttn".to_owned(),
            connect_timeout_ms: 5000,
            progress_ms: 0,
            storage: None,
            hold: false,
        }
    }
}

/// Whether `id` is a The Things Stack identifier: 2–36 lower-case letters,
/// digits and single dashes, not starting or ending with a dash.
fn is_tts_id(id: &str) -> bool {
    (2..=36).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
        && !id.ends_with('-')
        && !id.contains("--")
}

/// Whether `address` is `host:port` with a port number (`[::1]:0` too).
fn has_port(address: &str) -> bool {
    address.rsplit_once(':').is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
}

impl Options {
    /// Refuse options that cannot work together, naming the option.
    pub fn check(&self) -> Result<(), LnsError> {
        let fail = |option: &'static str, problem: String| Err(LnsError::Option { option, problem });
        if self.devices == 0 {
            return fail("--devices", "must be at least 1".into());
        }
        if self.encoding == Encoding::Protobuf && self.server != Server::ChirpstackV4 {
            return fail("--encoding", format!("protobuf is ChirpStack v4's only; {} sends JSON", self.server.name()));
        }
        if self.status_every > 0 && self.server == Server::TtsV3 {
            return fail("--status-every", "The Things Stack v3 has no device-status event".into());
        }
        if self.fast && self.rounds.is_none() && self.count.is_none() {
            return fail("--fast", "needs --rounds or --count (the simulated time must end now)".into());
        }
        if self.profile.trim().is_empty() {
            return fail("--profile", "is empty".into());
        }
        if self.application.trim().is_empty() {
            return fail("application", "is empty".into());
        }
        if self.server == Server::TtsV3 {
            if !is_tts_id(&self.application) {
                return fail(
                    "application",
                    format!("{:?} is not a The Things Stack id (2-36 of a-z, 0-9, -)", self.application),
                );
            }
            if !is_tts_id(&self.tenant) {
                return fail("tenant", format!("{:?} is not a The Things Stack id (2-36 of a-z, 0-9, -)", self.tenant));
            }
        }
        if let Some(storage) = &self.storage {
            if self.server != Server::TtsV3 {
                return fail(
                    "--storage",
                    format!(
                        "only The Things Stack keeps uplinks (its Storage Integration); {} keeps no uplink history",
                        self.server.name()
                    ),
                );
            }
            if !has_port(&storage.listen) {
                return fail("--storage", format!("{:?} is not an address host:port", storage.listen));
            }
            if storage.key.is_empty() {
                return fail("--storage-key", "is empty (the API key the storage API requires)".into());
            }
            if storage.key.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return fail("--storage-key", "has a space or a control character (an API key has none)".into());
            }
        } else if self.hold {
            return fail("--hold", "keeps serving the storage API: needs --storage".into());
        }
        match &self.target {
            Target::Off if self.storage.is_none() => {
                return fail("--http", "nowhere to send: give --http URL or --mqtt URL (or --storage ADDR)".into());
            }
            Target::Http { connections, .. } if *connections == 0 => {
                return fail("--connections", "must be at least 1".into());
            }
            Target::Mqtt { topic_prefix: Some(prefix), .. } => {
                if !self.server.is_chirpstack() {
                    return fail(
                        "--topic-prefix",
                        "The Things Stack's MQTT server has a fixed layout (v3/{application}@{tenant}/devices/...)"
                            .into(),
                    );
                }
                let trimmed = prefix.trim_matches('/');
                if trimmed.is_empty() || trimmed.contains(['+', '#', '\0']) {
                    return fail("--topic-prefix", format!("{prefix:?} is not a topic prefix"));
                }
            }
            _ => {}
        }
        Ok(())
    }
}
