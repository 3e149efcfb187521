//! The validated configuration: every value here has been checked.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use super::Pos;

/// The source of the readings a user enters by hand (the manual-reading
/// form); no driver instance may take its name.
pub const MANUAL_SOURCE: &str = "manual";

/// Everything the host runs on.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file it came from.
    pub file: PathBuf,
    /// Archive and journal directory (absolute or relative to the working directory).
    pub data_dir: PathBuf,
    /// Plugins directory.
    pub plugins_dir: PathBuf,
    /// Mimic diagrams directory (`host.diagrams_dir`, `diagrams` beside the
    /// file by default); read as it changes.
    pub diagrams_dir: PathBuf,
    /// Form templates directory (`host.forms_dir`, `forms` beside the file
    /// by default); read as it changes.
    pub forms_dir: PathBuf,
    /// Where the WASM plugins' compiled machine code is kept between starts
    /// (`host.compiled_plugins_dir`, `compiled-plugins` in the data
    /// directory by default), so that a start does not compile them again.
    pub compiled_plugins_dir: PathBuf,
    /// Memory cap of one WASM plugin instance, bytes.
    pub wasm_memory_bytes: usize,
    /// Time limit of one WASM plugin call, milliseconds.
    pub wasm_call_timeout_ms: u32,
    /// Memory limits of the archive.
    pub archive: meterhub_storage::archive::ArchiveOptions,
    /// Most bytes of committed records waiting for the pipeline.
    pub pipeline_backlog_bytes: u64,
    /// Most readings the accounting keeps in memory for live registers.
    pub accounting_tail_readings: usize,
    /// File descriptors the ingest listeners leave free.
    pub fd_reserve: usize,
    /// Backoff and quarantine of failing plugin instances.
    pub supervision: SupervisionPolicy,
    /// Native plugins (ids) loaded into the host process; every other native
    /// plugin runs in a child process.
    pub trusted_plugins: std::collections::BTreeSet<String>,
    /// The HTTP API.
    pub api: ApiConfig,
    /// Logging.
    pub log: LogConfig,
    /// Metering accounting.
    pub accounting: AccountingConfig,
    /// Browser sessions of the API.
    pub web: WebConfig,
    /// Driver instances, by id order.
    pub drivers: Vec<DriverConfig>,
    /// Sink instances, by id order.
    pub sinks: Vec<SinkConfig>,
    /// The center's side of the sync, when this host is a monitoring center.
    pub center: Option<CenterConfig>,
    /// The alarm rules (`[alarms]`; takes effect at once).
    pub alarms: crate::alarms::AlarmsConfig,
    /// The scheduled reports (`[reports]`; takes effect at once).
    pub reports: crate::reports::ReportsConfig,
    /// Where each host-wide key is written (`host.data_dir`, `api.listen`,
    /// ...), or its table when the key is absent; for reload refusals.
    pub positions: std::collections::BTreeMap<&'static str, Pos>,
}

impl Config {
    /// Keys that take effect only when meterhub starts, with their values
    /// here and in `other`, where they differ.
    pub fn restart_only_changes(&self, other: &Config) -> Vec<(&'static str, String, String)> {
        let mut changes = Vec::new();
        let mut compare = |key: &'static str, a: String, b: String| {
            if a != b {
                changes.push((key, a, b));
            }
        };
        compare("host.data_dir", self.data_dir.display().to_string(), other.data_dir.display().to_string());
        compare("host.plugins_dir", self.plugins_dir.display().to_string(), other.plugins_dir.display().to_string());
        compare(
            "host.compiled_plugins_dir",
            self.compiled_plugins_dir.display().to_string(),
            other.compiled_plugins_dir.display().to_string(),
        );
        compare(
            "host.wasm_memory_mib",
            (self.wasm_memory_bytes >> 20).to_string(),
            (other.wasm_memory_bytes >> 20).to_string(),
        );
        compare(
            "host.wasm_call_timeout_ms",
            self.wasm_call_timeout_ms.to_string(),
            other.wasm_call_timeout_ms.to_string(),
        );
        compare(
            "host.pipeline_backlog_mib",
            (self.pipeline_backlog_bytes >> 20).to_string(),
            (other.pipeline_backlog_bytes >> 20).to_string(),
        );
        compare(
            "host.archive_cache_mib",
            (self.archive.cache_bytes >> 20).to_string(),
            (other.archive.cache_bytes >> 20).to_string(),
        );
        compare(
            "host.archive_head_readings",
            self.archive.head_readings.to_string(),
            other.archive.head_readings.to_string(),
        );
        compare(
            "host.device_clock_tolerance_s",
            (self.archive.device_clock_tolerance_ms / 1000).to_string(),
            (other.archive.device_clock_tolerance_ms / 1000).to_string(),
        );
        compare(
            "host.accounting_tail_readings",
            self.accounting_tail_readings.to_string(),
            other.accounting_tail_readings.to_string(),
        );
        compare("host.fd_reserve", self.fd_reserve.to_string(), other.fd_reserve.to_string());
        let (a, b) = (self.api.limits, other.api.limits);
        compare("api.max_connections", a.max_connections.to_string(), b.max_connections.to_string());
        compare("api.max_connections_per_peer", a.max_per_peer.to_string(), b.max_per_peer.to_string());
        compare(
            "api.header_timeout_ms",
            a.header_timeout.as_millis().to_string(),
            b.header_timeout.as_millis().to_string(),
        );
        compare("api.body_timeout_ms", a.body_timeout.as_millis().to_string(), b.body_timeout.as_millis().to_string());
        compare(
            "host.plugin_max_failures",
            self.supervision.max_failures.to_string(),
            other.supervision.max_failures.to_string(),
        );
        compare(
            "host.plugin_failure_window_ms",
            self.supervision.window.as_millis().to_string(),
            other.supervision.window.as_millis().to_string(),
        );
        compare(
            "host.plugin_backoff_min_ms",
            self.supervision.backoff.min.as_millis().to_string(),
            other.supervision.backoff.min.as_millis().to_string(),
        );
        compare(
            "host.plugin_backoff_max_ms",
            self.supervision.backoff.max.as_millis().to_string(),
            other.supervision.backoff.max.as_millis().to_string(),
        );
        let trusted = |c: &Config| c.trusted_plugins.iter().cloned().collect::<Vec<_>>().join(", ");
        compare("host.trusted_plugins", trusted(self), trusted(other));
        compare("api.listen", self.api.listen.to_string(), other.api.listen.to_string());
        compare("api.tls_listen", format!("{:?}", self.api.tls), format!("{:?}", other.api.tls));
        compare(
            "log.format",
            format!("{:?}", self.log.format).to_lowercase(),
            format!("{:?}", other.log.format).to_lowercase(),
        );
        compare("log.level", self.log.level.clone(), other.log.level.clone());
        // The deltas consumer keeps the default zone of the meters it computes.
        compare("accounting.time_zone", self.accounting.time_zone.clone(), other.accounting.time_zone.clone());
        let web = |c: &Config| {
            [
                ("web.session_idle_minutes", c.web.session_idle_minutes.to_string()),
                ("web.session_max_hours", c.web.session_max_hours.to_string()),
                ("web.cookie_secure", c.web.cookie_secure.to_string()),
                ("web.trusted_proxies", format!("{:?}", c.web.trusted_proxies)),
                ("web.audit_max_entries", c.web.audit_max_entries.to_string()),
            ]
        };
        for ((key, a), (_, b)) in web(self).into_iter().zip(web(other)) {
            compare(key, a, b);
        }
        changes
    }
}

/// The HTTP API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiConfig {
    /// Listen address.
    pub listen: SocketAddr,
    /// Connection limits and timeouts.
    pub limits: meterhub_http::Limits,
    /// The same API over HTTPS, when configured.
    pub tls: Option<ApiTls>,
}

/// The API's HTTPS listener (`[api] tls_listen`, `tls_cert_file`, `tls_key_file`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTls {
    /// Listen address.
    pub listen: SocketAddr,
    /// PEM certificate chain.
    pub cert_file: PathBuf,
    /// PEM private key.
    pub key_file: PathBuf,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One readable line per event.
    Human,
    /// One JSON object per event.
    Json,
}

/// Metering accounting (`[accounting]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountingConfig {
    /// IANA time zone of meters without their own.
    pub time_zone: String,
    /// A module is silent after this many of its periods without a frame.
    pub silent_after_periods: u32,
}

impl Default for AccountingConfig {
    fn default() -> Self {
        AccountingConfig { time_zone: "Europe/Moscow".to_owned(), silent_after_periods: 3 }
    }
}

/// Browser sessions of the API (`[web]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebConfig {
    /// A session without a request for this long ends, minutes.
    pub session_idle_minutes: u32,
    /// A session ends this long after its login, hours.
    pub session_max_hours: u32,
    /// `Secure` session cookie with the `__Host-` prefix, and
    /// `Strict-Transport-Security`.
    pub cookie_secure: bool,
    /// `L` of each live stream's send queue, packets.
    pub stream_queue_limit: u32,
    /// How often a stream's client measures delivery (`Tc`), seconds.
    pub stream_control_seconds: u32,
    /// Most archived readings a reconnecting stream scans to replay.
    pub stream_replay_limit: u32,
    /// Reverse proxies whose `X-Forwarded-For` names the client (for the
    /// login lockout and the audit log).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Most entries the audit log keeps.
    pub audit_max_entries: u32,
}

impl Default for WebConfig {
    /// 12 hours idle, 7 days at most, secure cookies; streams: L = 256,
    /// Tc = 5 s, replay up to 100,000 readings.
    fn default() -> Self {
        WebConfig {
            session_idle_minutes: 12 * 60,
            session_max_hours: 7 * 24,
            cookie_secure: true,
            stream_queue_limit: 256,
            stream_control_seconds: 5,
            stream_replay_limit: 100_000,
            trusted_proxies: Vec::new(),
            audit_max_entries: 100_000,
        }
    }
}

/// Logging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// Output format.
    pub format: LogFormat,
    /// tracing filter directive.
    pub level: String,
}

/// One driver instance.
#[derive(Debug, Clone, PartialEq)]
pub struct DriverConfig {
    /// Instance id: the `source` of every frame it produces.
    pub id: String,
    /// Driver plugin id.
    pub plugin: String,
    /// Where `plugin` is written.
    pub plugin_pos: Pos,
    /// Codec plugin id.
    pub codec: String,
    /// Where the codec is named (the plugin's position when implied).
    pub codec_pos: Pos,
    /// The transport the host runs for it.
    pub transport: TransportConfig,
    /// Plugin settings as a JSON object text.
    pub settings_json: String,
    /// Where the settings are written (the instance's position when absent).
    pub settings_pos: Pos,
    /// Settings of a separate codec plugin, a JSON object text (`{}` when
    /// absent; unused when the driver plugin is its own codec).
    pub codec_settings_json: String,
    /// Most frames of one session waiting for their commit.
    pub max_pending: usize,
    /// Where the transport's address (`listen` or `url`) is written.
    pub transport_pos: Pos,
    /// LoRaWAN devices decoded by another codec or as a named model.
    pub devices: Vec<DeviceRoute>,
    /// Settings (JSON object texts) of the codec plugins the routes name,
    /// other than `codec`, by plugin id; `{}` for one not listed.
    pub routed_codec_settings: BTreeMap<String, String>,
    /// The upstream API of the driver's fetch session, if it has one.
    pub fetch: Option<FetchConfig>,
    /// The instance's per-device secrets (`secrets_file`), handed to its
    /// driver and codec plugins as the setting `secrets`.
    pub secrets: Option<Secrets>,
}

/// `secrets_file`: the per-device secrets of a driver instance, read from
/// a file of their own. `Debug` shows the file, never the content.
#[derive(Clone, PartialEq, Eq)]
pub struct Secrets {
    /// The file.
    pub file: std::path::PathBuf,
    /// Where `secrets_file` is written.
    pub pos: Pos,
    /// The file's tables as a JSON object text.
    json: String,
}

impl Secrets {
    /// Secrets read from `file` (named at `pos`), as a JSON object text.
    pub fn new(file: std::path::PathBuf, pos: Pos, json: String) -> Self {
        Secrets { file, pos, json }
    }

    /// `settings` (a JSON object text) with the secrets under the setting
    /// `secrets`.
    pub fn add_to(&self, settings: &str) -> String {
        let mut object = match serde_json::from_str::<serde_json::Value>(settings) {
            Ok(serde_json::Value::Object(o)) => o,
            _ => serde_json::Map::new(),
        };
        let secrets = serde_json::from_str(&self.json).unwrap_or_default();
        object.insert(crate::load::SETTINGS_SECRETS.to_owned(), secrets);
        serde_json::Value::Object(object).to_string()
    }
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets").field("file", &self.file).finish_non_exhaustive()
    }
}

/// `[drivers.<id>.fetch]`: the upstream HTTP(S) API the host makes
/// requests to for the driver (its fetch session).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchConfig {
    /// The base URL as written, without a trailing `/`; a request's target
    /// is appended to it.
    pub url: String,
    /// Where `url` is written.
    pub url_pos: Pos,
    /// The file of the secret, read at each request.
    pub token_file: Option<PathBuf>,
    /// The header carrying it.
    pub auth_header: String,
    /// Put before the secret, with a space (empty: nothing).
    pub auth_scheme: String,
    /// CA certificates to trust instead of the system's.
    pub ca_file: Option<PathBuf>,
    /// Longest wait for one answer, seconds.
    pub timeout_s: u32,
    /// Largest answer taken, bytes.
    pub max_answer_bytes: usize,
}

/// Which LoRaWAN devices a route takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceMatch {
    /// The device with this DevEUI (upper-case hex).
    DevEui(String),
    /// Every device of this network-server profile name.
    Profile(String),
}

/// Where a LoRaWAN device's uplinks are decoded: a DevEUI route wins over a
/// profile route, and a device no route takes goes to the driver's `codec`.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceRoute {
    /// Which devices.
    pub matches: DeviceMatch,
    /// The codec plugin id.
    pub codec: String,
    /// The model handed to the codec, when named.
    pub model: Option<String>,
    /// Readings from the server's decoded payload instead of a codec (empty:
    /// the codec decodes).
    pub upstream: Vec<UpstreamChannel>,
    /// Where the route is written.
    pub pos: Pos,
}

/// A channel whose readings come from the payload the network server
/// decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamChannel {
    /// The reading's channel.
    pub channel: String,
    /// The field's path in the decoded object, split at the dots.
    pub field: Vec<String>,
    /// Unit of the value.
    pub unit: String,
    /// What the value means.
    pub kind: meterhub_plugin_api::ReadingKind,
}

impl DeviceRoute {
    /// Whether `other` routes the same devices the same way (positions in
    /// the file do not matter).
    pub fn same(&self, other: &DeviceRoute) -> bool {
        self.matches == other.matches
            && self.codec == other.codec
            && self.model == other.model
            && self.upstream == other.upstream
    }
}

impl DriverConfig {
    /// Whether `other` runs the same driver instance: same plugin, settings
    /// (secrets included) and session limit (positions in the file do not
    /// matter).
    pub fn same_driver(&self, other: &DriverConfig) -> bool {
        self.plugin == other.plugin
            && self.driver_settings() == other.driver_settings()
            && self.max_pending == other.max_pending
    }

    /// Settings handed to the driver plugin: `settings`, with the secrets
    /// when the instance has a secrets file.
    pub fn driver_settings(&self) -> std::borrow::Cow<'_, str> {
        match &self.secrets {
            Some(s) => std::borrow::Cow::Owned(s.add_to(&self.settings_json)),
            None => std::borrow::Cow::Borrowed(&self.settings_json),
        }
    }

    /// Whether `other` runs the same transports: the same one, and the same
    /// fetch session (positions in the file do not matter).
    pub fn same_transport(&self, other: &DriverConfig) -> bool {
        let fetch = |c: &DriverConfig| c.fetch.clone().map(|f| FetchConfig { url_pos: Pos::default(), ..f });
        self.transport == other.transport && fetch(self) == fetch(other)
    }

    /// Whether `other` decodes with the same codec instance: same codec
    /// plugin and the same settings handed to it.
    pub fn same_codec(&self, other: &DriverConfig) -> bool {
        self.codec == other.codec && self.codec_settings() == other.codec_settings()
    }

    /// Whether `other` routes LoRaWAN devices the same way, to codec
    /// instances with the same settings.
    pub fn same_routes(&self, other: &DriverConfig) -> bool {
        self.devices.len() == other.devices.len()
            && self.devices.iter().zip(&other.devices).all(|(a, b)| a.same(b))
            && self.routed_codec_settings == other.routed_codec_settings
    }

    /// The codec plugins the device routes name besides `codec`, each once,
    /// in name order.
    pub fn routed_codecs(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self
            .devices
            .iter()
            .filter(|r| r.upstream.is_empty())
            .map(|r| r.codec.as_str())
            .filter(|c| *c != self.codec.as_str())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Settings handed to routed codec plugin `id`.
    pub fn routed_codec_settings(&self, id: &str) -> &str {
        self.routed_codec_settings.get(id).map_or("{}", String::as_str)
    }

    /// Settings handed to the codec instance: a driver's own codec shares
    /// its settings; a separate codec plugin gets `codec_settings`; both
    /// with the secrets when the instance has a secrets file (routed codecs
    /// get none).
    pub fn codec_settings(&self) -> std::borrow::Cow<'_, str> {
        let own = if self.codec == self.plugin { &self.settings_json } else { &self.codec_settings_json };
        match &self.secrets {
            Some(s) => std::borrow::Cow::Owned(s.add_to(own)),
            None => std::borrow::Cow::Borrowed(own),
        }
    }
}

/// A host-owned transport and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportConfig {
    /// TCP server; one session per connection.
    Tcp {
        /// Listen address.
        listen: SocketAddr,
        /// Connection limits; `idle_timeout` closes a silent session.
        limits: meterhub_http::Limits,
    },
    /// HTTP ingress; one session per request.
    Http {
        /// Listen address.
        listen: SocketAddr,
        /// Largest body; larger requests get 413.
        max_body_bytes: u64,
        /// Longest wait for the driver's response.
        request_timeout_ms: u32,
        /// Connection limits and timeouts.
        limits: meterhub_http::Limits,
    },
    /// WebSocket client; one session per connection, reconnecting.
    Websocket {
        /// `ws://` URL.
        url: String,
        /// Shortest reconnect delay.
        reconnect_min_ms: u32,
        /// Longest reconnect delay.
        reconnect_max_ms: u32,
        /// A connection silent this long (no message, no ping) is dead.
        idle_timeout_ms: u32,
    },
    /// MQTT client; one session per message, QoS 1, a persistent session.
    Mqtt(MqttTransport),
}

/// An MQTT subscription the host keeps (`transport = "mqtt"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttTransport {
    /// `mqtt://host:port` or `mqtts://host:port` (TLS), as written.
    pub url: String,
    /// Broker host.
    pub host: String,
    /// Broker port.
    pub port: u16,
    /// Whether the connection is TLS.
    pub tls: bool,
    /// Topic filters, subscribed at QoS 1.
    pub topics: Vec<String>,
    /// Client id: the name of the broker's persistent session.
    pub client_id: String,
    /// User name, if the broker wants one.
    pub username: Option<String>,
    /// The file of the password, read at each connection.
    pub password_file: Option<PathBuf>,
    /// CA certificates to trust instead of the system's.
    pub ca_file: Option<PathBuf>,
    /// Keep-alive interval, seconds.
    pub keep_alive_s: u16,
    /// Shortest reconnect delay.
    pub reconnect_min_ms: u32,
    /// Longest reconnect delay.
    pub reconnect_max_ms: u32,
}

impl TransportConfig {
    /// The transport's name in configs and logs.
    pub fn name(&self) -> &'static str {
        match self {
            TransportConfig::Tcp { .. } => "tcp",
            TransportConfig::Http { .. } => "http",
            TransportConfig::Websocket { .. } => "websocket",
            TransportConfig::Mqtt(_) => "mqtt",
        }
    }

    /// The listen address, for server transports.
    pub fn listen(&self) -> Option<SocketAddr> {
        match self {
            TransportConfig::Tcp { listen, .. } | TransportConfig::Http { listen, .. } => Some(*listen),
            TransportConfig::Websocket { .. } | TransportConfig::Mqtt(_) => None,
        }
    }
}

/// When a failing plugin instance is retried and when it is given up
/// (quarantined): `[host.supervision]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SupervisionPolicy {
    /// Delays before a failed instance is tried again.
    pub backoff: crate::backoff::Backoff,
    /// Failures within `window` that quarantine the instance.
    pub max_failures: u32,
    /// The window over which failures are counted.
    pub window: std::time::Duration,
}

/// One sink instance (`[sinks.<id>]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkConfig {
    /// Instance id: its name in the status, the API and the target.
    pub id: String,
    /// What it writes to, and how.
    pub kind: SinkKind,
    /// Most records in one batch.
    pub batch_records: usize,
    /// How long a batch that is not full waits for more records.
    pub linger: std::time::Duration,
    /// Delays before a failed batch is tried again.
    pub retry: crate::backoff::Backoff,
    /// In alarm while the oldest undelivered reading is older than this
    /// (`None`: never).
    pub alarm_lag: Option<std::time::Duration>,
}

impl SinkConfig {
    /// What it is, for the status and the log: the plugin's id, or `sync-center`.
    pub fn kind(&self) -> &str {
        match &self.kind {
            SinkKind::Plugin(p) => &p.plugin,
            SinkKind::Center(_) => SYNC_CENTER,
        }
    }
}

/// The name of the host's own sink that replicates to a monitoring center.
pub const SYNC_CENTER: &str = "sync-center";

/// What a sink writes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkKind {
    /// A PostgreSQL database, through a sink plugin.
    Plugin(PluginSink),
    /// A monitoring center (`kind = "sync-center"`).
    Center(CenterLink),
}

/// A sink plugin and its database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginSink {
    /// Sink plugin id.
    pub plugin: String,
    /// Where `plugin` is written.
    pub plugin_pos: Pos,
    /// The database it writes to.
    pub target: PostgresTarget,
    /// Plugin settings as a JSON object text.
    pub settings_json: String,
}

/// A site's link to its monitoring center.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CenterLink {
    /// The center's API, `http://host:port` or `https://host:port`.
    pub url: String,
    /// This site's name at the center.
    pub site: String,
    /// The file holding the site's token (its first line).
    pub token_file: std::path::PathBuf,
    /// CA certificates for HTTPS instead of the system's.
    pub ca_file: Option<std::path::PathBuf>,
    /// Most bytes per second on the wire (`None`: no cap).
    pub rate_limit_bytes: Option<u64>,
    /// How often the link checks the last days with the center (`None`: never).
    pub check_every: Option<std::time::Duration>,
}

/// The center's side of the sync (`[center]`): the sites it takes data from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CenterConfig {
    /// The sites, by name.
    pub sites: Vec<CenterSite>,
    /// The largest batch a site may send, compressed, bytes.
    pub max_batch_bytes: usize,
    /// A link is in alarm when its site has not been heard from for this long.
    pub alarm_silence: Option<std::time::Duration>,
    /// A link is in alarm while its site is behind by more than this.
    pub alarm_lag: Option<std::time::Duration>,
}

/// One site a center takes data from (`[center.sites.<site>]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CenterSite {
    /// Its name: its meters are `<site>/<meter>` at the center.
    pub name: String,
    /// The file holding its token (its first line).
    pub token_file: std::path::PathBuf,
}

/// A PostgreSQL database a sink writes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresTarget {
    /// The URL as written (it holds no password).
    pub url: String,
    /// Where the password comes from, if anywhere.
    pub password: Option<PasswordSource>,
    /// CA certificates for TLS instead of the system's.
    pub ca_file: Option<std::path::PathBuf>,
    /// The schema the sink's tables live in.
    pub schema: String,
}

/// Where a database password comes from; never the config itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// An environment variable of the host process.
    Env(String),
    /// The first line of a file.
    File(std::path::PathBuf),
}
