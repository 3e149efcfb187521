//! The configuration file as written: strict serde types with spans.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Where things live.
    pub host: Spanned<RawHost>,
    /// The HTTP API.
    #[serde(default)]
    pub api: Option<Spanned<RawApi>>,
    /// Logging.
    #[serde(default)]
    pub log: Option<RawLog>,
    /// Metering accounting.
    #[serde(default)]
    pub accounting: Option<RawAccounting>,
    /// Browser sessions of the API (users and rights).
    #[serde(default)]
    pub web: Option<RawWeb>,
    /// Driver instances by id.
    #[serde(default)]
    pub drivers: BTreeMap<Spanned<String>, Spanned<RawDriver>>,
    /// Sink instances by id.
    #[serde(default)]
    pub sinks: BTreeMap<Spanned<String>, Spanned<RawSink>>,
    /// The center's side of the sync.
    #[serde(default)]
    pub center: Option<Spanned<RawCenter>>,
    /// Alarm rules.
    #[serde(default)]
    pub alarms: Option<RawAlarms>,
    /// Scheduled reports.
    #[serde(default)]
    pub reports: Option<RawReports>,
}

/// `[center]`: this host is a monitoring center.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCenter {
    /// The largest batch a site may send, compressed, MiB.
    #[serde(default)]
    pub max_batch_mib: Option<Spanned<u32>>,
    /// A site's link is in alarm after this long without a word, seconds (0: never).
    #[serde(default)]
    pub alarm_silence_seconds: Option<Spanned<u32>>,
    /// A site's link is in alarm while it is behind by more than this, seconds (0: never).
    #[serde(default)]
    pub alarm_lag_seconds: Option<Spanned<u32>>,
    /// The sites, by name.
    #[serde(default)]
    pub sites: BTreeMap<Spanned<String>, Spanned<RawCenterSite>>,
}

/// `[center.sites.<site>]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCenterSite {
    /// The file holding the site's token.
    pub token_file: Spanned<String>,
}

/// `[host]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHost {
    /// Directory of the archive and the journal, relative to the config file.
    pub data_dir: Spanned<String>,
    /// Directory of plugins, relative to the config file.
    pub plugins_dir: Spanned<String>,
    /// Directory of mimic diagrams, relative to the config file.
    #[serde(default)]
    pub diagrams_dir: Option<Spanned<String>>,
    /// Directory of form templates, relative to the config file.
    #[serde(default)]
    pub forms_dir: Option<Spanned<String>>,
    /// Directory of the WASM plugins' compiled code, relative to the config file.
    #[serde(default)]
    pub compiled_plugins_dir: Option<Spanned<String>>,
    /// Memory cap of one WASM plugin instance, MiB.
    #[serde(default)]
    pub wasm_memory_mib: Option<Spanned<u32>>,
    /// Time limit of one WASM plugin call, milliseconds.
    #[serde(default)]
    pub wasm_call_timeout_ms: Option<Spanned<u32>>,
    /// Failures of a plugin instance within the window that quarantine it.
    #[serde(default)]
    pub plugin_max_failures: Option<Spanned<u32>>,
    /// The window over which plugin failures are counted, milliseconds.
    #[serde(default)]
    pub plugin_failure_window_ms: Option<Spanned<u64>>,
    /// First delay before a failed plugin instance is tried again, milliseconds.
    #[serde(default)]
    pub plugin_backoff_min_ms: Option<Spanned<u64>>,
    /// Largest delay before a failed plugin instance is tried again, milliseconds.
    #[serde(default)]
    pub plugin_backoff_max_ms: Option<Spanned<u64>>,
    /// sled's page cache of the archive, MiB.
    #[serde(default)]
    pub archive_cache_mib: Option<Spanned<u32>>,
    /// Readings the archive's series heads hold in memory before sealing.
    #[serde(default)]
    pub archive_head_readings: Option<Spanned<u32>>,
    /// How far a device clock may run ahead of the host's before its
    /// readings are flagged, seconds.
    #[serde(default)]
    pub device_clock_tolerance_s: Option<Spanned<u32>>,
    /// Most readings the accounting keeps in memory for live registers.
    #[serde(default)]
    pub accounting_tail_readings: Option<Spanned<u32>>,
    /// Most MiB of committed records waiting to be decoded and archived.
    #[serde(default)]
    pub pipeline_backlog_mib: Option<Spanned<u32>>,
    /// File descriptors the ingest listeners leave free for the API, the
    /// stores and the plugins.
    #[serde(default)]
    pub fd_reserve: Option<Spanned<u32>>,
    /// Native plugins loaded into the host process instead of a runner process.
    #[serde(default)]
    pub trusted_plugins: Option<Spanned<Vec<Spanned<String>>>>,
}

/// `[api]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApi {
    /// Listen address of the HTTP API.
    pub listen: Spanned<String>,
    /// Most open connections.
    #[serde(default)]
    pub max_connections: Option<Spanned<u32>>,
    /// Most open connections from one peer address.
    #[serde(default)]
    pub max_connections_per_peer: Option<Spanned<u32>>,
    /// A request head must arrive within this (also the keep-alive idle
    /// time), milliseconds.
    #[serde(default)]
    pub header_timeout_ms: Option<Spanned<u32>>,
    /// A request body must arrive within this, milliseconds.
    #[serde(default)]
    pub body_timeout_ms: Option<Spanned<u32>>,
    /// A second, HTTPS listen address of the same API (sites of a center
    /// reach it from outside).
    #[serde(default)]
    pub tls_listen: Option<Spanned<String>>,
    /// PEM certificate chain of `tls_listen`.
    #[serde(default)]
    pub tls_cert_file: Option<Spanned<String>>,
    /// PEM private key of `tls_listen`.
    #[serde(default)]
    pub tls_key_file: Option<Spanned<String>>,
}

/// `[accounting]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAccounting {
    /// IANA time zone of meters without their own (calendar days and months).
    #[serde(default)]
    pub time_zone: Option<Spanned<String>>,
    /// A module is silent after this many of its periods without a frame.
    #[serde(default)]
    pub silent_after_periods: Option<Spanned<u32>>,
}

/// `[web]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWeb {
    /// A session without a request for this long ends, minutes.
    #[serde(default)]
    pub session_idle_minutes: Option<Spanned<u32>>,
    /// A session ends this long after its login whatever its use, hours.
    #[serde(default)]
    pub session_max_hours: Option<Spanned<u32>>,
    /// `Secure` session cookie with the `__Host-` prefix (the host is reached
    /// over HTTPS, or on localhost); false for plain HTTP on a LAN.
    #[serde(default)]
    pub cookie_secure: Option<Spanned<bool>>,
    /// `L` of each live stream's send queue, packets.
    #[serde(default)]
    pub stream_queue_limit: Option<Spanned<u32>>,
    /// How often a stream's client measures delivery (`Tc`), seconds.
    #[serde(default)]
    pub stream_control_seconds: Option<Spanned<u32>>,
    /// Most archived readings a reconnecting stream scans to replay.
    #[serde(default)]
    pub stream_replay_limit: Option<Spanned<u32>>,
    /// Reverse proxies (addresses or CIDR networks) whose `X-Forwarded-For`
    /// names the client.
    #[serde(default)]
    pub trusted_proxies: Option<Vec<Spanned<String>>>,
    /// Most entries the audit log keeps (the oldest go first).
    #[serde(default)]
    pub audit_max_entries: Option<Spanned<u32>>,
}

/// `[log]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    /// `human` or `json`.
    #[serde(default)]
    pub format: Option<Spanned<String>>,
    /// A tracing filter such as `info` or `meterhub=debug`.
    #[serde(default)]
    pub level: Option<Spanned<String>>,
}

/// `[drivers.<id>]`: one driver instance.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDriver {
    /// Plugin id (folder name in the plugins directory).
    pub plugin: Spanned<String>,
    /// Codec plugin id; the driver's own plugin when absent.
    #[serde(default)]
    pub codec: Option<Spanned<String>>,
    /// `tcp`, `http`, `websocket` or `mqtt`.
    pub transport: Spanned<String>,
    /// Listen address (tcp, http).
    #[serde(default)]
    pub listen: Option<Spanned<String>>,
    /// Server URL: `ws://` (websocket), `mqtt://` or `mqtts://` (mqtt).
    #[serde(default)]
    pub url: Option<Spanned<String>>,
    /// Topic filters to subscribe to, QoS 1 (mqtt).
    #[serde(default)]
    pub topics: Option<Spanned<Vec<String>>>,
    /// The MQTT client id, which names the broker's persistent session
    /// (mqtt); `meterhub-<instance id>` when absent.
    #[serde(default)]
    pub client_id: Option<Spanned<String>>,
    /// MQTT user name (mqtt).
    #[serde(default)]
    pub username: Option<Spanned<String>>,
    /// File holding the MQTT password (mqtt), relative to this file.
    #[serde(default)]
    pub password_file: Option<Spanned<String>>,
    /// CA certificates (PEM) to trust for `mqtts://` instead of the system's.
    #[serde(default)]
    pub ca_file: Option<Spanned<String>>,
    /// MQTT keep-alive interval, seconds (mqtt).
    #[serde(default)]
    pub keep_alive_s: Option<Spanned<u16>>,
    /// Largest request body (http), bytes.
    #[serde(default)]
    pub max_body_bytes: Option<Spanned<u64>>,
    /// Most frames of one session waiting for their commit before the host
    /// stops reading from it.
    #[serde(default)]
    pub max_pending: Option<Spanned<u32>>,
    /// Shortest reconnect delay (websocket), milliseconds.
    #[serde(default)]
    pub reconnect_min_ms: Option<Spanned<u32>>,
    /// Longest reconnect delay (websocket), milliseconds.
    #[serde(default)]
    pub reconnect_max_ms: Option<Spanned<u32>>,
    /// Longest wait for the driver's answer to one HTTP request, milliseconds.
    #[serde(default)]
    pub request_timeout_ms: Option<Spanned<u32>>,
    /// A connection that brings nothing (no message, no ping) for this long
    /// is dead and is reconnected (websocket) or closed (tcp), milliseconds.
    #[serde(default)]
    pub idle_timeout_ms: Option<Spanned<u32>>,
    /// Most open connections (tcp, http).
    #[serde(default)]
    pub max_connections: Option<Spanned<u32>>,
    /// Most open connections from one peer address (tcp, http).
    #[serde(default)]
    pub max_connections_per_peer: Option<Spanned<u32>>,
    /// A request head must arrive within this, also the keep-alive idle
    /// time (http), milliseconds.
    #[serde(default)]
    pub header_timeout_ms: Option<Spanned<u32>>,
    /// A request body must arrive within this (http), milliseconds.
    #[serde(default)]
    pub body_timeout_ms: Option<Spanned<u32>>,
    /// Plugin settings, handed to the plugin as a JSON object.
    #[serde(default)]
    pub settings: Option<Spanned<toml::Table>>,
    /// Settings of a separate codec plugin (`codec`), as a JSON object.
    #[serde(default)]
    pub codec_settings: Option<Spanned<toml::Table>>,
    /// File of the instance's per-device secrets (TOML), relative to this
    /// file; handed to its driver and codec as the setting `secrets`.
    #[serde(default)]
    pub secrets_file: Option<Spanned<String>>,
    /// `[[drivers.<id>.devices]]`: LoRaWAN devices decoded by another codec
    /// plugin or as a named model.
    #[serde(default)]
    pub devices: Vec<Spanned<RawDeviceRoute>>,
    /// `[drivers.<id>.codecs.<plugin>]`: settings of the codec plugins the
    /// device routes name, other than `codec`.
    #[serde(default)]
    pub codecs: Option<Spanned<std::collections::BTreeMap<String, Spanned<toml::Table>>>>,
    /// `[drivers.<id>.fetch]`: the upstream API the host makes requests to
    /// for the driver (its fetch session).
    #[serde(default)]
    pub fetch: Option<Spanned<RawFetch>>,
}

/// `[drivers.<id>.fetch]`: an upstream HTTP(S) API the host makes requests
/// to for the driver, adding the secret the driver never sees.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFetch {
    /// The API's base URL, `http(s)://host[:port][/path]`.
    pub url: Spanned<String>,
    /// File holding the secret (e.g. an API key), relative to this file.
    #[serde(default)]
    pub token_file: Option<Spanned<String>>,
    /// The header carrying the secret (default `Authorization`).
    #[serde(default)]
    pub auth_header: Option<Spanned<String>>,
    /// Put before the secret in the header (default `Bearer`; `""`: none).
    #[serde(default)]
    pub auth_scheme: Option<Spanned<String>>,
    /// CA certificates (PEM) to trust for `https://` instead of the system's.
    #[serde(default)]
    pub ca_file: Option<Spanned<String>>,
    /// Longest wait for one answer, seconds.
    #[serde(default)]
    pub timeout_s: Option<Spanned<u32>>,
    /// Largest answer taken, MiB.
    #[serde(default)]
    pub max_answer_mib: Option<Spanned<u32>>,
}

/// One `[[drivers.<id>.devices]]` route: which devices (by DevEUI or by the
/// network server's profile name) and how they are decoded.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDeviceRoute {
    /// The device's DevEUI, 16 hex digits.
    #[serde(default)]
    pub deveui: Option<Spanned<String>>,
    /// The device profile name the network server gives.
    #[serde(default)]
    pub profile: Option<Spanned<String>>,
    /// Codec plugin id; the driver's `codec` when absent.
    #[serde(default)]
    pub codec: Option<Spanned<String>>,
    /// Device model handed to the codec (meta `model`).
    #[serde(default)]
    pub model: Option<Spanned<String>>,
    /// Readings taken from the payload the network server decoded
    /// (ChirpStack `object`, The Things Stack `decoded_payload`) instead of
    /// a codec: channel -> where in it and what it is.
    #[serde(default)]
    pub channels: Option<Spanned<std::collections::BTreeMap<String, Spanned<RawUpstreamChannel>>>>,
}

/// One channel read from the server's decoded payload.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUpstreamChannel {
    /// The field, a dotted path into the decoded object (`meter.volume`).
    pub field: Spanned<String>,
    /// Unit of the value (`m3`, `kWh`, `degC`, ...); empty when dimensionless.
    #[serde(default)]
    pub unit: Option<Spanned<String>>,
    /// `cumulative` (the default), `instantaneous` or `state`.
    #[serde(default)]
    pub kind: Option<Spanned<String>>,
}

/// `[sinks.<id>]`: one sink instance.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSink {
    /// `sync-center` for a link to a monitoring center; absent for a plugin sink.
    #[serde(default)]
    pub kind: Option<Spanned<String>>,
    /// Sink plugin id.
    #[serde(default)]
    pub plugin: Option<Spanned<String>>,
    /// The database, `postgres://user@host:port/database[?sslmode=require]`,
    /// without a password; or the center, `http(s)://host:port`.
    pub url: Spanned<String>,
    /// This site's name at the center (`sync-center`).
    #[serde(default)]
    pub site: Option<Spanned<String>>,
    /// The file holding this site's token at the center (`sync-center`).
    #[serde(default)]
    pub token_file: Option<Spanned<String>>,
    /// Most KiB per second on the wire (`sync-center`; 0: no cap).
    #[serde(default)]
    pub rate_limit_kib_s: Option<Spanned<u32>>,
    /// How often the last 7 days are checked with the center, hours
    /// (`sync-center`; 0: never).
    #[serde(default)]
    pub check_every_hours: Option<Spanned<u32>>,
    /// Environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<Spanned<String>>,
    /// File holding the password (its first line).
    #[serde(default)]
    pub password_file: Option<Spanned<String>>,
    /// PEM file of the CA certificates that sign the server's (instead of
    /// the system's), for `sslmode=require`.
    #[serde(default)]
    pub ca_file: Option<Spanned<String>>,
    /// Database schema the sink writes into (created when missing).
    #[serde(default)]
    pub schema: Option<Spanned<String>>,
    /// Most records in one batch.
    #[serde(default)]
    pub batch_records: Option<Spanned<u32>>,
    /// How long a batch that is not full waits for more records, milliseconds.
    #[serde(default)]
    pub linger_ms: Option<Spanned<u32>>,
    /// First delay before a failed batch is tried again, milliseconds.
    #[serde(default)]
    pub retry_min_ms: Option<Spanned<u32>>,
    /// Longest delay before a failed batch is tried again, milliseconds.
    #[serde(default)]
    pub retry_max_ms: Option<Spanned<u32>>,
    /// The sink is in alarm while its oldest undelivered reading is older
    /// than this, seconds (0: never).
    #[serde(default)]
    pub alarm_lag_seconds: Option<Spanned<u32>>,
    /// Plugin settings, handed to the plugin as a JSON object.
    #[serde(default)]
    pub settings: Option<Spanned<toml::Table>>,
}

/// `[alarms]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlarms {
    /// Rules by id: a shipped id changes that rule, another adds one.
    #[serde(default)]
    pub rules: BTreeMap<Spanned<String>, Spanned<RawAlarmRule>>,
}

/// `[alarms.rules.<id>]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlarmRule {
    /// What it looks at (`state`, `threshold`, ...).
    #[serde(default)]
    pub kind: Option<Spanned<String>>,
    /// `critical`, `warning` or `info`.
    #[serde(default)]
    pub severity: Option<Spanned<String>>,
    /// The channels it reads.
    #[serde(default)]
    pub channels: Option<Spanned<Vec<Spanned<String>>>>,
    /// Raised above this (a threshold; lost uplinks).
    #[serde(default)]
    pub above: Option<Spanned<RawNumber>>,
    /// Raised below this (a threshold; battery percent; signal dBm).
    #[serde(default)]
    pub below: Option<Spanned<RawNumber>>,
    /// What a silence rule watches: `module` or `meter`.
    #[serde(default)]
    pub of: Option<Spanned<String>>,
    /// `false` turns the rule off.
    #[serde(default)]
    pub enabled: Option<Spanned<bool>>,
}

/// A number as written: an integer, a float or a decimal in a string
/// (`"12.345"`, exact).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawNumber {
    /// `12`.
    Integer(i64),
    /// `12.5`.
    Float(f64),
    /// `"12.345"`.
    Text(String),
}

/// `[reports]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReports {
    /// Results kept per schedule.
    #[serde(default)]
    pub keep: Option<Spanned<u32>>,
    /// Schedules by id.
    #[serde(default)]
    pub schedules: BTreeMap<Spanned<String>, Spanned<RawSchedule>>,
}

/// `[reports.schedules.<id>]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchedule {
    /// Which report.
    pub report: Spanned<String>,
    /// `day` or `month`.
    pub every: Spanned<String>,
    /// `HH:MM`, local.
    #[serde(default)]
    pub at: Option<Spanned<String>>,
    /// `day` or `month` (consumption).
    #[serde(default)]
    pub period: Option<Spanned<String>>,
    /// IANA zone.
    #[serde(default)]
    pub zone: Option<Spanned<String>>,
    /// Scope: a site.
    #[serde(default)]
    pub site: Option<Spanned<String>>,
    /// Scope: a resource.
    #[serde(default)]
    pub resource: Option<Spanned<String>>,
    /// Scope: a meter.
    #[serde(default)]
    pub meter: Option<Spanned<String>>,
    /// `ru` or `en`.
    #[serde(default)]
    pub lang: Option<Spanned<String>>,
    /// `csv`, `xlsx`, `pdf`.
    #[serde(default)]
    pub formats: Option<Spanned<Vec<Spanned<String>>>>,
}
