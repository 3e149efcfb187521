//! Read, parse and validate a configuration file.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use meterhub_plugin_api::ReadingKind;
use toml::Spanned;

use super::model::{
    AccountingConfig, ApiConfig, Config, DeviceMatch, DeviceRoute, DriverConfig, FetchConfig, LogConfig, LogFormat,
    MqttTransport, TransportConfig, UpstreamChannel, WebConfig,
};
use super::raw::{RawConfig, RawDeviceRoute, RawDriver, RawFetch, RawUpstreamChannel};
use super::{ConfigError, Diagnostic, Pos};

/// Default API listen address.
pub const DEFAULT_API_LISTEN: &str = "127.0.0.1:8080";
/// Default memory cap of a WASM instance, MiB.
pub const DEFAULT_WASM_MEMORY_MIB: u32 = 64;
/// Default time limit of a WASM call, milliseconds.
pub const DEFAULT_WASM_CALL_TIMEOUT_MS: u32 = 1000;
/// Default of `host.archive_cache_mib`: sled's page cache of the archive.
pub const DEFAULT_ARCHIVE_CACHE_MIB: u32 = (meterhub_storage::archive::sled_archive::CACHE_CAPACITY_BYTES >> 20) as u32;
/// Default of `host.pipeline_backlog_mib`.
pub const DEFAULT_PIPELINE_BACKLOG_MIB: u32 =
    (meterhub_storage::journal::open::DEFAULT_PIPELINE_BACKLOG_BYTES >> 20) as u32;
/// Default of `host.archive_head_readings`.
pub const DEFAULT_ARCHIVE_HEAD_READINGS: u32 = meterhub_storage::archive::HEAD_READINGS as u32;
/// Default of `host.fd_reserve`.
const DEFAULT_FD_RESERVE: u32 = 512;

/// The connection-limit keys of a listener's table.
struct LimitKeys<'a> {
    max_connections: &'a Option<Spanned<u32>>,
    max_per_peer: &'a Option<Spanned<u32>>,
    idle_timeout_ms: &'a Option<Spanned<u32>>,
    header_timeout_ms: &'a Option<Spanned<u32>>,
    body_timeout_ms: &'a Option<Spanned<u32>>,
}

/// Default of `host.accounting_tail_readings`.
pub const DEFAULT_ACCOUNTING_TAIL_READINGS: u32 = 1_000_000;
/// Default largest HTTP ingress body, bytes.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 1 << 20;
/// Default most uncommitted frames per session.
pub const DEFAULT_MAX_PENDING: u32 = 1024;
/// Default silence after which a WebSocket connection is dead (the vendor
/// clients of the IOT Vega Server reconnect after 120 s without a ping).
pub const DEFAULT_IDLE_TIMEOUT_MS: u32 = 120_000;

mod alarms;
mod reports;
mod secrets;
mod sinks;

pub use secrets::{MAX_SECRETS_BYTES, SETTINGS_SECRETS};
pub use sinks::{DEFAULT_BATCH_RECORDS, DEFAULT_LINGER_MS, DEFAULT_SCHEMA};

/// Read `file` and validate it. Relative paths in it are relative to its directory.
pub fn load(file: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Diagnostic::new(file, Pos { line: 1, col: 1 }, format!("cannot read the config file: {e}")))?;
    parse(file, &text)
}

/// Validate `text`, the content of `file`.
pub fn parse(file: &Path, text: &str) -> Result<Config, ConfigError> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        let pos = e.span().map_or(Pos { line: 1, col: 1 }, |s| Pos::of_offset(text, s.start));
        Diagnostic::new(file, pos, e.message().trim_end().to_owned())
    })?;
    Validator { file, text, diagnostics: Vec::new() }.config(raw)
}

struct Validator<'a> {
    file: &'a Path,
    text: &'a str,
    diagnostics: Vec<Diagnostic>,
}

impl Validator<'_> {
    fn pos<T>(&self, s: &Spanned<T>) -> Pos {
        Pos::of_offset(self.text, s.span().start)
    }

    fn error<T>(&mut self, at: &Spanned<T>, message: impl Into<String>) {
        let pos = self.pos(at);
        self.diagnostics.push(Diagnostic::new(self.file, pos, message));
    }

    /// A number key: `default` when absent; outside `range` an error
    /// naming the key and its bounds.
    fn u32_in(
        &mut self,
        value: &Option<Spanned<u32>>,
        key: &str,
        range: std::ops::RangeInclusive<u32>,
        default: u32,
    ) -> u32 {
        let Some(value) = value else { return default };
        if !range.contains(value.get_ref()) {
            self.error(value, format!("{key} must be between {} and {}", range.start(), range.end()));
        }
        *value.get_ref()
    }

    /// A listener's limits: `defaults` with the keys written.
    fn limits(&mut self, defaults: meterhub_http::Limits, keys: LimitKeys<'_>) -> meterhub_http::Limits {
        let count = |this: &mut Self, value: &Option<Spanned<u32>>, key: &str, default: usize| {
            this.u32_in(value, key, 1..=1_000_000, u32::try_from(default).unwrap_or(u32::MAX)) as usize
        };
        let millis = |this: &mut Self, value: &Option<Spanned<u32>>, key: &str, default: std::time::Duration| {
            let default = u32::try_from(default.as_millis()).unwrap_or(u32::MAX);
            std::time::Duration::from_millis(u64::from(this.u32_in(value, key, 100..=86_400_000, default)))
        };
        meterhub_http::Limits {
            max_connections: count(self, keys.max_connections, "max_connections", defaults.max_connections),
            max_per_peer: count(self, keys.max_per_peer, "max_connections_per_peer", defaults.max_per_peer),
            idle_timeout: millis(self, keys.idle_timeout_ms, "idle_timeout_ms", defaults.idle_timeout),
            header_timeout: millis(self, keys.header_timeout_ms, "header_timeout_ms", defaults.header_timeout),
            body_timeout: millis(self, keys.body_timeout_ms, "body_timeout_ms", defaults.body_timeout),
        }
    }

    fn path(&self, value: &str) -> PathBuf {
        let base = self.file.parent().unwrap_or(Path::new(""));
        base.join(value)
    }

    fn addr(&mut self, s: &Spanned<String>, what: &str) -> Option<SocketAddr> {
        match s.get_ref().parse::<SocketAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                self.error(s, format!("{what} {:?} is not an address like 127.0.0.1:7001 or [::]:7001", s.get_ref()));
                None
            }
        }
    }

    fn config(mut self, raw: RawConfig) -> Result<Config, ConfigError> {
        let host = raw.host.get_ref();
        let data_dir = self.path(host.data_dir.get_ref());
        let plugins_dir = self.path(host.plugins_dir.get_ref());
        let diagrams_dir = self.path(host.diagrams_dir.as_ref().map_or("diagrams", |d| d.get_ref()));
        let forms_dir = self.path(host.forms_dir.as_ref().map_or("forms", |d| d.get_ref()));
        let compiled_plugins_dir = match &host.compiled_plugins_dir {
            Some(dir) => self.path(dir.get_ref()),
            None => data_dir.join("compiled-plugins"),
        };
        for (dir, name) in [
            (&host.diagrams_dir, "diagrams_dir"),
            (&host.forms_dir, "forms_dir"),
            (&host.compiled_plugins_dir, "compiled_plugins_dir"),
        ] {
            if let Some(dir) = dir.as_ref().filter(|d| d.get_ref().is_empty()) {
                self.error(dir, format!("{name} must not be empty"));
            }
        }
        for (dir, name) in [(&host.data_dir, "data_dir"), (&host.plugins_dir, "plugins_dir")] {
            if dir.get_ref().is_empty() {
                self.error(dir, format!("{name} must not be empty"));
            }
        }
        let memory_mib = self.u32_in(&host.wasm_memory_mib, "wasm_memory_mib", 1..=4096, DEFAULT_WASM_MEMORY_MIB);
        let call_timeout =
            self.u32_in(&host.wasm_call_timeout_ms, "wasm_call_timeout_ms", 10..=600_000, DEFAULT_WASM_CALL_TIMEOUT_MS);
        let cache_mib =
            self.u32_in(&host.archive_cache_mib, "archive_cache_mib", 8..=65_536, DEFAULT_ARCHIVE_CACHE_MIB);
        let head_readings = self.u32_in(
            &host.archive_head_readings,
            "archive_head_readings",
            1_000..=10_000_000,
            DEFAULT_ARCHIVE_HEAD_READINGS,
        );
        let clock_tolerance_s = self.u32_in(
            &host.device_clock_tolerance_s,
            "device_clock_tolerance_s",
            1..=86_400,
            (meterhub_storage::archive::DEVICE_CLOCK_TOLERANCE_MS / 1000) as u32,
        );
        let backlog_mib =
            self.u32_in(&host.pipeline_backlog_mib, "pipeline_backlog_mib", 1..=65_536, DEFAULT_PIPELINE_BACKLOG_MIB);
        let tail_readings = self.u32_in(
            &host.accounting_tail_readings,
            "accounting_tail_readings",
            10_000..=100_000_000,
            DEFAULT_ACCOUNTING_TAIL_READINGS,
        );

        let supervision = self.supervision(host);
        let mut trusted_plugins = std::collections::BTreeSet::new();
        for id in host.trusted_plugins.iter().flat_map(|t| t.get_ref()) {
            if id.get_ref().is_empty() {
                self.error(id, "trusted_plugins: a plugin id must not be empty");
            }
            trusted_plugins.insert(id.get_ref().clone());
        }

        let fd_reserve = self.u32_in(&host.fd_reserve, "fd_reserve", 16..=1_000_000, DEFAULT_FD_RESERVE);
        let api_listen = match &raw.api {
            Some(api) => self.addr(&api.get_ref().listen, "listen"),
            None => DEFAULT_API_LISTEN.parse().ok(),
        };
        let api_limits = match &raw.api {
            Some(api) => {
                let a = api.get_ref();
                let keys = LimitKeys {
                    max_connections: &a.max_connections,
                    max_per_peer: &a.max_connections_per_peer,
                    idle_timeout_ms: &None,
                    header_timeout_ms: &a.header_timeout_ms,
                    body_timeout_ms: &a.body_timeout_ms,
                };
                self.limits(meterhub_http::Limits::API, keys)
            }
            None => meterhub_http::Limits::API,
        };

        let api_tls = raw.api.as_ref().and_then(|api| self.api_tls(api.get_ref()));

        let mut log = LogConfig { format: LogFormat::Human, level: "info".to_owned() };
        if let Some(raw_log) = &raw.log {
            if let Some(f) = &raw_log.format {
                match f.get_ref().as_str() {
                    "human" => log.format = LogFormat::Human,
                    "json" => log.format = LogFormat::Json,
                    other => self.error(f, format!("log format {other:?} is not one of \"human\", \"json\"")),
                }
            }
            if let Some(l) = &raw_log.level {
                match tracing_subscriber::EnvFilter::try_new(l.get_ref()) {
                    Ok(_) => log.level = l.get_ref().clone(),
                    Err(e) => self.error(l, format!("log level {:?}: {e}", l.get_ref())),
                }
            }
        }

        let mut accounting = AccountingConfig::default();
        if let Some(raw_accounting) = &raw.accounting {
            if let Some(zone) = &raw_accounting.time_zone {
                match meterhub_accounting::MeterSpec::new(zone.get_ref(), None, Vec::new()) {
                    Ok(_) => accounting.time_zone = zone.get_ref().clone(),
                    Err(e) => self.error(zone, format!("time_zone: {e}")),
                }
            }
            if let Some(periods) = &raw_accounting.silent_after_periods {
                match *periods.get_ref() {
                    0 => self.error(periods, "silent_after_periods: at least 1"),
                    n => accounting.silent_after_periods = n,
                }
            }
        }

        let web = self.web(raw.web.as_ref());

        let mut drivers = Vec::new();
        let mut listens: HashMap<SocketAddr, String> = HashMap::new();
        // The API's address is taken too, whether written or the default.
        if let Some(api) = api_listen.filter(|a| a.port() != 0) {
            listens.insert(api, "[api]".to_owned());
        }
        if let Some(tls) = api_tls.as_ref().filter(|t| t.listen.port() != 0) {
            listens.insert(tls.listen, "[api] tls_listen".to_owned());
        }
        for (id, driver) in &raw.drivers {
            if let Some(d) = self.driver(id, driver) {
                if let Some(addr) = d.transport.listen().filter(|a| a.port() != 0) {
                    if let Some(other) = listens.get(&addr) {
                        let at = driver.get_ref().listen.as_ref().unwrap_or(id);
                        self.error(at, format!("listen address {addr} is already used by {other}"));
                    } else {
                        listens.insert(addr, format!("[drivers.{}]", d.id));
                    }
                }
                drivers.push(d);
            }
        }

        let mut sinks = Vec::new();
        for (id, sink) in &raw.sinks {
            sinks.extend(self.sink(id, sink));
        }
        let center = raw.center.as_ref().map(|c| self.center(c));
        let alarms = self.alarms(raw.alarms.as_ref());
        let reports = self.reports(raw.reports.as_ref());

        if !self.diagnostics.is_empty() {
            self.diagnostics.sort_by_key(|d| (d.pos.line, d.pos.col));
            return Err(ConfigError { diagnostics: self.diagnostics });
        }
        Ok(Config {
            file: self.file.to_path_buf(),
            data_dir,
            plugins_dir,
            diagrams_dir,
            forms_dir,
            compiled_plugins_dir,
            wasm_memory_bytes: memory_mib as usize * 1024 * 1024,
            wasm_call_timeout_ms: call_timeout,
            pipeline_backlog_bytes: u64::from(backlog_mib) << 20,
            accounting_tail_readings: tail_readings as usize,
            fd_reserve: fd_reserve as usize,
            archive: meterhub_storage::archive::ArchiveOptions {
                cache_bytes: u64::from(cache_mib) << 20,
                head_readings: head_readings as usize,
                device_clock_tolerance_ms: i64::from(clock_tolerance_s) * 1000,
            },
            supervision,
            trusted_plugins,
            api: ApiConfig {
                listen: api_listen.unwrap_or_else(|| ([127, 0, 0, 1], 8080).into()),
                limits: api_limits,
                tls: api_tls,
            },
            log,
            accounting,
            web,
            drivers,
            sinks,
            center,
            alarms,
            reports,
            positions: self.positions(&raw),
        })
    }

    /// `[api] tls_listen` with its certificate and key: all three or none.
    fn api_tls(&mut self, api: &crate::raw::RawApi) -> Option<crate::model::ApiTls> {
        match (&api.tls_listen, &api.tls_cert_file, &api.tls_key_file) {
            (None, None, None) => None,
            (Some(listen), Some(cert), Some(key)) => {
                let listen = self.addr(listen, "tls_listen")?;
                if api.listen.get_ref().parse::<SocketAddr>().is_ok_and(|a| a == listen && a.port() != 0) {
                    self.error(&api.listen, "tls_listen must differ from listen (HTTP and HTTPS cannot share a port)");
                }
                Some(crate::model::ApiTls {
                    listen,
                    cert_file: self.path(cert.get_ref()),
                    key_file: self.path(key.get_ref()),
                })
            }
            (Some(listen), _, _) => {
                self.error(listen, "tls_listen needs tls_cert_file and tls_key_file (PEM)");
                None
            }
            (None, Some(at), _) | (None, _, Some(at)) => {
                self.error(at, "tls_cert_file and tls_key_file go with tls_listen, the HTTPS address");
                None
            }
        }
    }

    fn positions(&self, raw: &RawConfig) -> std::collections::BTreeMap<&'static str, Pos> {
        let host = raw.host.get_ref();
        let table = self.pos(&raw.host);
        let or_table = |s: Option<std::ops::Range<usize>>| s.map_or(table, |s| Pos::of_offset(self.text, s.start));
        let api = raw.api.as_ref().map(|a| Pos::of_offset(self.text, a.get_ref().listen.span().start));
        let log_format = raw.log.as_ref().and_then(|l| l.format.as_ref()).map(|f| self.pos(f));
        let log_level = raw.log.as_ref().and_then(|l| l.level.as_ref()).map(|l| self.pos(l));
        let time_zone = raw.accounting.as_ref().and_then(|a| a.time_zone.as_ref()).map(|z| self.pos(z));
        let web = raw.web.as_ref();
        let idle = web.and_then(|w| w.session_idle_minutes.as_ref()).map(|v| self.pos(v));
        let max = web.and_then(|w| w.session_max_hours.as_ref()).map(|v| self.pos(v));
        let secure = web.and_then(|w| w.cookie_secure.as_ref()).map(|v| self.pos(v));
        let queue = web.and_then(|w| w.stream_queue_limit.as_ref()).map(|v| self.pos(v));
        let control = web.and_then(|w| w.stream_control_seconds.as_ref()).map(|v| self.pos(v));
        let replay = web.and_then(|w| w.stream_replay_limit.as_ref()).map(|v| self.pos(v));
        [
            ("host.data_dir", Some(self.pos(&host.data_dir))),
            ("host.plugins_dir", Some(self.pos(&host.plugins_dir))),
            ("host.compiled_plugins_dir", Some(or_table(host.compiled_plugins_dir.as_ref().map(Spanned::span)))),
            ("host.wasm_memory_mib", Some(or_table(host.wasm_memory_mib.as_ref().map(Spanned::span)))),
            ("host.wasm_call_timeout_ms", Some(or_table(host.wasm_call_timeout_ms.as_ref().map(Spanned::span)))),
            ("host.plugin_max_failures", Some(or_table(host.plugin_max_failures.as_ref().map(Spanned::span)))),
            (
                "host.plugin_failure_window_ms",
                Some(or_table(host.plugin_failure_window_ms.as_ref().map(Spanned::span))),
            ),
            ("host.plugin_backoff_min_ms", Some(or_table(host.plugin_backoff_min_ms.as_ref().map(Spanned::span)))),
            ("host.plugin_backoff_max_ms", Some(or_table(host.plugin_backoff_max_ms.as_ref().map(Spanned::span)))),
            ("host.pipeline_backlog_mib", Some(or_table(host.pipeline_backlog_mib.as_ref().map(Spanned::span)))),
            ("host.archive_cache_mib", Some(or_table(host.archive_cache_mib.as_ref().map(Spanned::span)))),
            ("host.archive_head_readings", Some(or_table(host.archive_head_readings.as_ref().map(Spanned::span)))),
            (
                "host.device_clock_tolerance_s",
                Some(or_table(host.device_clock_tolerance_s.as_ref().map(Spanned::span))),
            ),
            (
                "host.accounting_tail_readings",
                Some(or_table(host.accounting_tail_readings.as_ref().map(Spanned::span))),
            ),
            ("host.trusted_plugins", Some(or_table(host.trusted_plugins.as_ref().map(Spanned::span)))),
            ("api.listen", api),
            ("log.format", log_format),
            ("log.level", log_level),
            ("accounting.time_zone", time_zone),
            ("web.session_idle_minutes", idle),
            ("web.session_max_hours", max),
            ("web.cookie_secure", secure),
            ("web.stream_queue_limit", queue),
            ("web.stream_control_seconds", control),
            ("web.stream_replay_limit", replay),
        ]
        .into_iter()
        .map(|(key, pos)| (key, pos.unwrap_or(Pos { line: 1, col: 1 })))
        .collect()
    }

    fn web(&mut self, raw: Option<&super::raw::RawWeb>) -> WebConfig {
        let mut web = WebConfig::default();
        let Some(raw) = raw else { return web };
        if let Some(idle) = &raw.session_idle_minutes {
            match *idle.get_ref() {
                n @ 1..=10_080 => web.session_idle_minutes = n,
                _ => self.error(idle, "session_idle_minutes must be between 1 and 10080 (a week)"),
            }
        }
        if let Some(max) = &raw.session_max_hours {
            match *max.get_ref() {
                n @ 1..=8_760 => web.session_max_hours = n,
                _ => self.error(max, "session_max_hours must be between 1 and 8760 (a year)"),
            }
        }
        if u64::from(web.session_idle_minutes) > u64::from(web.session_max_hours) * 60 {
            let message = format!(
                "session_idle_minutes ({}) is longer than session_max_hours ({} h): sessions would never be idle",
                web.session_idle_minutes, web.session_max_hours
            );
            match (&raw.session_idle_minutes, &raw.session_max_hours) {
                (Some(at), _) => self.error(at, message),
                (None, Some(at)) => self.error(at, message),
                (None, None) => {}
            }
        }
        if let Some(secure) = &raw.cookie_secure {
            web.cookie_secure = *secure.get_ref();
        }
        if let Some(limit) = &raw.stream_queue_limit {
            match *limit.get_ref() {
                n @ 1..=100_000 => web.stream_queue_limit = n,
                _ => self.error(limit, "stream_queue_limit must be between 1 and 100000 packets"),
            }
        }
        if let Some(control) = &raw.stream_control_seconds {
            match *control.get_ref() {
                n @ 1..=3_600 => web.stream_control_seconds = n,
                _ => self.error(control, "stream_control_seconds must be between 1 and 3600"),
            }
        }
        if let Some(replay) = &raw.stream_replay_limit {
            match *replay.get_ref() {
                n @ 0..=10_000_000 => web.stream_replay_limit = n,
                _ => self.error(replay, "stream_replay_limit must be at most 10000000 readings"),
            }
        }
        if let Some(max) = &raw.audit_max_entries {
            match *max.get_ref() {
                n @ 100..=100_000_000 => web.audit_max_entries = n,
                _ => self.error(max, "audit_max_entries must be between 100 and 100000000"),
            }
        }
        for proxy in raw.trusted_proxies.iter().flatten() {
            let text = proxy.get_ref();
            let parsed =
                text.parse::<ipnet::IpNet>().or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from));
            match parsed {
                Ok(net) => web.trusted_proxies.push(net),
                Err(_) => self.error(
                    proxy,
                    format!(
                        "trusted_proxies: {text:?} is not an address or network (\"10.0.0.5\", \"10.0.0.0/8\", \"::1\")"
                    ),
                ),
            }
        }
        web
    }

    fn supervision(&mut self, host: &super::raw::RawHost) -> super::model::SupervisionPolicy {
        use std::time::Duration;
        let max_failures = host.plugin_max_failures.as_ref().map_or(5, |m| *m.get_ref());
        if let Some(m) = &host.plugin_max_failures
            && *m.get_ref() == 0
        {
            self.error(m, "plugin_max_failures must be at least 1");
        }
        let window_ms = host.plugin_failure_window_ms.as_ref().map_or(60_000, |w| *w.get_ref());
        if let Some(w) = &host.plugin_failure_window_ms
            && *w.get_ref() == 0
        {
            self.error(w, "plugin_failure_window_ms must be at least 1");
        }
        let min_ms = host.plugin_backoff_min_ms.as_ref().map_or(100, |m| *m.get_ref());
        let max_ms = host.plugin_backoff_max_ms.as_ref().map_or(30_000, |m| *m.get_ref());
        if min_ms == 0 || min_ms > max_ms {
            let message = format!(
                "plugin_backoff_min_ms ({min_ms}) must be at least 1 and at most plugin_backoff_max_ms ({max_ms})"
            );
            match (&host.plugin_backoff_min_ms, &host.plugin_backoff_max_ms) {
                (Some(at), _) => self.error(at, message),
                (None, Some(at)) => self.error(at, message),
                (None, None) => {}
            }
        }
        super::model::SupervisionPolicy {
            backoff: crate::backoff::Backoff { min: Duration::from_millis(min_ms), max: Duration::from_millis(max_ms) },
            max_failures,
            window: Duration::from_millis(window_ms),
        }
    }

    /// An instance id (`[drivers.<id>]`, `[sinks.<id>]`): lower-case
    /// letters, digits, '-' or '_'.
    fn instance_id(&mut self, id: &Spanned<String>, what: &str) {
        let name = id.get_ref();
        if name.is_empty()
            || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            self.error(id, format!("{what} id {name:?} must be lower-case letters, digits, '-' or '_'"));
        }
    }

    fn driver(&mut self, id: &Spanned<String>, spanned: &Spanned<RawDriver>) -> Option<DriverConfig> {
        let before = self.diagnostics.len();
        let d = spanned.get_ref();
        let name = id.get_ref();
        self.instance_id(id, "driver");
        if name == super::model::MANUAL_SOURCE {
            self.error(
                id,
                format!(
                    "driver id {name:?} is reserved: readings entered by hand in the UI are archived as source {name:?}"
                ),
            );
        }
        let transport_name = d.transport.get_ref().as_str();
        let allowed: &[&str] = match transport_name {
            "tcp" => &["listen", "max_pending", "idle_timeout_ms", "max_connections", "max_connections_per_peer"],
            "http" => &[
                "listen",
                "max_body_bytes",
                "request_timeout_ms",
                "max_pending",
                "max_connections",
                "max_connections_per_peer",
                "header_timeout_ms",
                "body_timeout_ms",
            ],
            "websocket" => &["url", "reconnect_min_ms", "reconnect_max_ms", "idle_timeout_ms", "max_pending"],
            "mqtt" => &[
                "url",
                "topics",
                "client_id",
                "username",
                "password_file",
                "ca_file",
                "keep_alive_s",
                "reconnect_min_ms",
                "reconnect_max_ms",
                "max_pending",
            ],
            other => {
                self.error(
                    &d.transport,
                    format!("transport {other:?} is not one of \"tcp\", \"http\", \"websocket\", \"mqtt\""),
                );
                return None;
            }
        };
        let optional: [(&str, Option<std::ops::Range<usize>>); 18] = [
            ("topics", d.topics.as_ref().map(Spanned::span)),
            ("client_id", d.client_id.as_ref().map(Spanned::span)),
            ("username", d.username.as_ref().map(Spanned::span)),
            ("password_file", d.password_file.as_ref().map(Spanned::span)),
            ("ca_file", d.ca_file.as_ref().map(Spanned::span)),
            ("keep_alive_s", d.keep_alive_s.as_ref().map(Spanned::span)),
            ("listen", d.listen.as_ref().map(Spanned::span)),
            ("url", d.url.as_ref().map(Spanned::span)),
            ("max_body_bytes", d.max_body_bytes.as_ref().map(Spanned::span)),
            ("max_pending", d.max_pending.as_ref().map(Spanned::span)),
            ("reconnect_min_ms", d.reconnect_min_ms.as_ref().map(Spanned::span)),
            ("reconnect_max_ms", d.reconnect_max_ms.as_ref().map(Spanned::span)),
            ("request_timeout_ms", d.request_timeout_ms.as_ref().map(Spanned::span)),
            ("idle_timeout_ms", d.idle_timeout_ms.as_ref().map(Spanned::span)),
            ("max_connections", d.max_connections.as_ref().map(Spanned::span)),
            ("max_connections_per_peer", d.max_connections_per_peer.as_ref().map(Spanned::span)),
            ("header_timeout_ms", d.header_timeout_ms.as_ref().map(Spanned::span)),
            ("body_timeout_ms", d.body_timeout_ms.as_ref().map(Spanned::span)),
        ];
        for (key, span) in optional {
            if let Some(span) = span
                && !allowed.contains(&key)
            {
                let pos = Pos::of_offset(self.text, span.start);
                self.diagnostics.push(Diagnostic::new(
                    self.file,
                    pos,
                    format!(
                        "`{key}` does not apply to transport {transport_name:?} (it takes: {})",
                        allowed.join(", ")
                    ),
                ));
            }
        }
        let transport = match transport_name {
            "tcp" | "http" => {
                let Some(listen) = &d.listen else {
                    self.error(&d.transport, format!("transport {transport_name:?} needs `listen`"));
                    return None;
                };
                let listen = self.addr(listen, "listen")?;
                let keys = LimitKeys {
                    max_connections: &d.max_connections,
                    max_per_peer: &d.max_connections_per_peer,
                    idle_timeout_ms: &d.idle_timeout_ms,
                    header_timeout_ms: &d.header_timeout_ms,
                    body_timeout_ms: &d.body_timeout_ms,
                };
                let limits = self.limits(meterhub_http::Limits::INGEST, keys);
                if transport_name == "tcp" {
                    TransportConfig::Tcp { listen, limits }
                } else {
                    let max_body_bytes = d.max_body_bytes.as_ref().map_or(DEFAULT_MAX_BODY_BYTES, |b| *b.get_ref());
                    if let Some(b) = &d.max_body_bytes
                        && !(1..=(1 << 30)).contains(b.get_ref())
                    {
                        self.error(b, "max_body_bytes must be between 1 and 1073741824");
                    }
                    let request_timeout_ms = d.request_timeout_ms.as_ref().map_or(30_000, |t| *t.get_ref());
                    TransportConfig::Http { listen, max_body_bytes, request_timeout_ms, limits }
                }
            }
            "mqtt" => TransportConfig::Mqtt(self.mqtt(name, d)?),
            _ => {
                let Some(url) = &d.url else {
                    self.error(&d.transport, "transport \"websocket\" needs `url`");
                    return None;
                };
                if url.get_ref().starts_with("wss://") {
                    self.error(
                        url,
                        "wss:// (TLS) is not supported by this build yet; use ws:// or a TLS-terminating proxy",
                    );
                } else if !url.get_ref().starts_with("ws://") {
                    self.error(url, format!("url {:?} must start with ws://", url.get_ref()));
                }
                let (min, max) = self.reconnect(d, url);
                let idle_timeout_ms = d.idle_timeout_ms.as_ref().map_or(DEFAULT_IDLE_TIMEOUT_MS, |t| *t.get_ref());
                if let Some(t) = &d.idle_timeout_ms
                    && *t.get_ref() < 100
                {
                    self.error(t, "idle_timeout_ms must be at least 100");
                }
                TransportConfig::Websocket {
                    url: url.get_ref().clone(),
                    reconnect_min_ms: min,
                    reconnect_max_ms: max,
                    idle_timeout_ms,
                }
            }
        };
        let max_pending = d.max_pending.as_ref().map_or(DEFAULT_MAX_PENDING, |m| *m.get_ref());
        if let Some(m) = &d.max_pending
            && *m.get_ref() == 0
        {
            self.error(m, "max_pending must be at least 1");
        }
        let (settings_json, settings_pos) = match &d.settings {
            Some(s) => match serde_json::to_string(s.get_ref()) {
                Ok(json) => (json, self.pos(s)),
                Err(e) => {
                    self.error(s, format!("settings cannot be passed to the plugin: {e}"));
                    return None;
                }
            },
            None => ("{}".to_owned(), self.pos(id)),
        };
        let plugin_pos = self.pos(&d.plugin);
        let (codec, codec_pos) = match &d.codec {
            Some(c) => (c.get_ref().clone(), self.pos(c)),
            None => (d.plugin.get_ref().clone(), plugin_pos),
        };
        let codec_settings_json = match &d.codec_settings {
            None => "{}".to_owned(),
            Some(s) if codec == *d.plugin.get_ref() => {
                self.error(
                    s,
                    "codec_settings is for a separate codec plugin (`codec`); the plugin's own codec uses `settings`",
                );
                return None;
            }
            Some(s) => match serde_json::to_string(s.get_ref()) {
                Ok(json) => json,
                Err(e) => {
                    self.error(s, format!("codec_settings cannot be passed to the codec plugin: {e}"));
                    return None;
                }
            },
        };
        let devices = self.device_routes(&d.devices, &codec);
        let routed_codec_settings = self.routed_codec_settings(d, &codec, &devices);
        let fetch = d.fetch.as_ref().and_then(|f| self.fetch(f));
        for (table, key) in [(&d.settings, "settings"), (&d.codec_settings, "codec_settings")] {
            if let Some(t) = table
                && t.get_ref().contains_key(SETTINGS_SECRETS)
            {
                self.error(t, format!("`{SETTINGS_SECRETS}` in {key} is the host's: secrets go in a file of their own, named by secrets_file"));
            }
        }
        let secrets = d.secrets_file.as_ref().and_then(|f| self.secrets(f));
        if self.diagnostics.len() > before {
            return None;
        }
        Some(DriverConfig {
            devices,
            routed_codec_settings,
            id: name.clone(),
            plugin: d.plugin.get_ref().clone(),
            plugin_pos,
            codec,
            codec_pos,
            transport,
            settings_json,
            settings_pos,
            codec_settings_json,
            max_pending: max_pending as usize,
            transport_pos: self.pos(d.listen.as_ref().or(d.url.as_ref()).unwrap_or(&d.transport)),
            fetch,
            secrets,
        })
    }

    /// `[drivers.<id>.fetch]`: an `http(s)://` base URL without
    /// credentials, query or fragment, the secret's file and header, and
    /// the bounds of one request.
    fn fetch(&mut self, raw: &Spanned<RawFetch>) -> Option<FetchConfig> {
        let f = raw.get_ref();
        let text = f.url.get_ref();
        let uri = text.parse::<hyper::Uri>().ok().filter(|u| {
            matches!(u.scheme_str(), Some("http" | "https"))
                && u.authority().is_some_and(|a| !a.as_str().contains('@') && !a.host().is_empty())
                && u.query().is_none()
        });
        if uri.is_none() || text.contains('#') {
            let message = format!(
                "url {text:?} must be the API's base, http(s)://host[:port][/path] (no user, query or fragment; the secret goes in token_file)"
            );
            self.error(&f.url, message);
            return None;
        }
        let https = text.starts_with("https://");
        if let Some(ca) = &f.ca_file
            && !https
        {
            self.error(ca, "ca_file is for https:// URLs");
        }
        let auth_header = f.auth_header.as_ref().map_or_else(|| "Authorization".to_owned(), |h| h.get_ref().clone());
        if let Some(h) = &f.auth_header
            && hyper::header::HeaderName::from_bytes(h.get_ref().as_bytes()).is_err()
        {
            self.error(h, format!("auth_header {:?} is not a header name", h.get_ref()));
        }
        let auth_scheme = f.auth_scheme.as_ref().map_or_else(|| "Bearer".to_owned(), |s| s.get_ref().clone());
        if let Some(s) = &f.auth_scheme
            && s.get_ref().chars().any(|c| c.is_whitespace() || c.is_control())
        {
            self.error(s, "auth_scheme must be one word (e.g. \"Bearer\") or empty");
        }
        let timeout_s = f.timeout_s.as_ref().map_or(30, |t| *t.get_ref());
        if let Some(t) = &f.timeout_s
            && !(1..=600).contains(t.get_ref())
        {
            self.error(t, "timeout_s must be between 1 and 600");
        }
        let max_answer_mib = f.max_answer_mib.as_ref().map_or(16, |m| *m.get_ref());
        if let Some(m) = &f.max_answer_mib
            && !(1..=256).contains(m.get_ref())
        {
            self.error(m, "max_answer_mib must be between 1 and 256");
        }
        Some(FetchConfig {
            url: text.trim_end_matches('/').to_owned(),
            url_pos: self.pos(&f.url),
            token_file: f.token_file.as_ref().map(|t| self.path(t.get_ref())),
            auth_header,
            auth_scheme,
            ca_file: f.ca_file.as_ref().map(|c| self.path(c.get_ref())),
            timeout_s,
            max_answer_bytes: (max_answer_mib as usize) << 20,
        })
    }

    /// The reconnect delays of a client transport (`url` is where an error
    /// about a default lands).
    fn reconnect(&mut self, d: &RawDriver, url: &Spanned<String>) -> (u32, u32) {
        let min = d.reconnect_min_ms.as_ref().map_or(500, |m| *m.get_ref());
        let max = d.reconnect_max_ms.as_ref().map_or(30_000, |m| *m.get_ref());
        if min == 0 || min > max {
            let message = format!("reconnect_min_ms ({min}) must be at least 1 and at most reconnect_max_ms ({max})");
            match &d.reconnect_min_ms {
                Some(at) => self.error(at, message),
                None => self.error(url, message),
            }
        }
        (min, max)
    }

    /// `transport = "mqtt"`: a broker URL, the topics, and a client id that
    /// names the persistent session.
    fn mqtt(&mut self, id: &str, d: &RawDriver) -> Option<MqttTransport> {
        let Some(url) = &d.url else {
            self.error(&d.transport, "transport \"mqtt\" needs `url` (mqtt://host:port or mqtts://host:port)");
            return None;
        };
        let text = url.get_ref();
        let (tls, rest, default_port) = match text.split_once("://") {
            Some(("mqtt", rest)) => (false, rest, 1883),
            Some(("mqtts", rest)) => (true, rest, 8883),
            _ => {
                self.error(url, format!("url {text:?} must start with mqtt:// or mqtts://"));
                return None;
            }
        };
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') || authority.contains('@') {
            let message =
                format!("url {text:?} must be mqtt[s]://host[:port] (credentials go in username and password_file)");
            self.error(url, message);
            return None;
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') || host.ends_with(']') => match port.parse::<u16>() {
                Ok(port) if port > 0 => (host.trim_start_matches('[').trim_end_matches(']').to_owned(), port),
                _ => {
                    self.error(url, format!("url {text:?}: {port:?} is not a port"));
                    return None;
                }
            },
            _ => (authority.trim_start_matches('[').trim_end_matches(']').to_owned(), default_port),
        };
        let topics = match &d.topics {
            Some(t) if !t.get_ref().is_empty() => {
                for topic in t.get_ref() {
                    if topic.is_empty() || topic.contains('\0') {
                        self.error(t, format!("topic {topic:?} is not a topic filter"));
                    }
                }
                t.get_ref().clone()
            }
            Some(t) => {
                self.error(t, "topics is empty: name the topic filters to subscribe to");
                return None;
            }
            None => {
                let message = "transport \"mqtt\" needs `topics` (e.g. [\"application/+/device/+/event/+\"])";
                self.error(&d.transport, message);
                return None;
            }
        };
        let client_id = d.client_id.as_ref().map_or_else(|| format!("meterhub-{id}"), |c| c.get_ref().clone());
        if let Some(c) = &d.client_id
            && (c.get_ref().is_empty() || c.get_ref().len() > 128)
        {
            self.error(c, "client_id must be 1 to 128 characters");
        }
        if let Some(file) = &d.password_file
            && d.username.is_none()
        {
            self.error(file, "password_file needs `username`");
        }
        if let Some(ca) = &d.ca_file
            && !tls
        {
            self.error(ca, "ca_file is for mqtts:// URLs");
        }
        let keep_alive_s = d.keep_alive_s.as_ref().map_or(30, |k| *k.get_ref());
        if let Some(k) = &d.keep_alive_s
            && *k.get_ref() < 5
        {
            self.error(k, "keep_alive_s must be at least 5");
        }
        let (reconnect_min_ms, reconnect_max_ms) = self.reconnect(d, url);
        Some(MqttTransport {
            url: text.clone(),
            host,
            port,
            tls,
            topics,
            client_id,
            username: d.username.as_ref().map(|u| u.get_ref().clone()),
            password_file: d.password_file.as_ref().map(|f| self.path(f.get_ref())),
            ca_file: d.ca_file.as_ref().map(|f| self.path(f.get_ref())),
            keep_alive_s,
            reconnect_min_ms,
            reconnect_max_ms,
        })
    }

    /// `[[drivers.<id>.devices]]`: each route names one DevEUI or one
    /// profile, once; its codec defaults to the driver's.
    fn device_routes(&mut self, raw: &[Spanned<RawDeviceRoute>], codec: &str) -> Vec<DeviceRoute> {
        let mut routes: Vec<DeviceRoute> = Vec::new();
        for r in raw {
            let route = r.get_ref();
            let matches = match (&route.deveui, &route.profile) {
                (Some(eui), None) => {
                    let text = eui.get_ref();
                    if !meterhub_plugin_api::lorawan::is_eui(text) {
                        self.error(eui, format!("deveui {text:?} is not 16 hex digits"));
                        continue;
                    }
                    DeviceMatch::DevEui(text.to_ascii_uppercase())
                }
                (None, Some(profile)) if !profile.get_ref().trim().is_empty() => {
                    DeviceMatch::Profile(profile.get_ref().clone())
                }
                (None, Some(profile)) => {
                    self.error(profile, "profile is empty");
                    continue;
                }
                _ => {
                    self.error(r, "a device route names exactly one of `deveui` and `profile`");
                    continue;
                }
            };
            if let Some(model) = &route.model
                && model.get_ref().trim().is_empty()
            {
                self.error(model, "model is empty");
            }
            let upstream = match &route.channels {
                Some(channels) => {
                    if let Some(at) =
                        route.codec.as_ref().map(Spanned::span).or(route.model.as_ref().map(Spanned::span))
                    {
                        let pos = Pos::of_offset(self.text, at.start);
                        let message = "a route takes its readings from the server's decoded payload (`channels`) or from a codec (`codec`, `model`), not both";
                        self.diagnostics.push(Diagnostic::new(self.file, pos, message));
                    }
                    self.upstream_channels(channels)
                }
                None => Vec::new(),
            };
            if let Some(same) = routes.iter().find(|o| o.matches == matches) {
                let what = match &matches {
                    DeviceMatch::DevEui(eui) => format!("deveui {eui}"),
                    DeviceMatch::Profile(p) => format!("profile {p:?}"),
                };
                self.error(r, format!("{what} is routed twice (first at line {})", same.pos.line));
                continue;
            }
            routes.push(DeviceRoute {
                matches,
                codec: route.codec.as_ref().map_or_else(|| codec.to_owned(), |c| c.get_ref().clone()),
                model: route.model.as_ref().map(|m| m.get_ref().clone()),
                upstream,
                pos: self.pos(r),
            });
        }
        routes
    }

    /// `[drivers.<id>.devices.channels]`: each channel names a field of the
    /// server's decoded payload, its unit and kind.
    fn upstream_channels(
        &mut self,
        channels: &Spanned<std::collections::BTreeMap<String, Spanned<RawUpstreamChannel>>>,
    ) -> Vec<UpstreamChannel> {
        if channels.get_ref().is_empty() {
            self.error(channels, "channels is empty: name at least one channel and its field");
        }
        let mut out = Vec::new();
        for (channel, spec) in channels.get_ref() {
            let c = spec.get_ref();
            let field: Vec<String> = c.field.get_ref().split('.').map(str::to_owned).collect();
            if channel.trim().is_empty() || channel.chars().any(char::is_whitespace) {
                self.error(spec, format!("channel {channel:?} is not a channel name"));
                continue;
            }
            if field.iter().any(String::is_empty) {
                self.error(
                    &c.field,
                    format!("field {:?} is not a dotted path (e.g. \"meter.volume\")", c.field.get_ref()),
                );
                continue;
            }
            let kind = match &c.kind {
                None => ReadingKind::Cumulative,
                Some(k) => match ReadingKind::parse(k.get_ref()) {
                    Some(kind) => kind,
                    None => {
                        self.error(k, format!("kind {:?} is not cumulative, instantaneous or state", k.get_ref()));
                        continue;
                    }
                },
            };
            let unit = c.unit.as_ref().map(|u| u.get_ref().clone()).unwrap_or_default();
            out.push(UpstreamChannel { channel: channel.clone(), field, unit, kind });
        }
        out
    }

    /// `[drivers.<id>.codecs.<plugin>]`: settings of a codec plugin a device
    /// route names, other than the driver's `codec` (whose are
    /// `codec_settings`).
    fn routed_codec_settings(
        &mut self,
        d: &RawDriver,
        codec: &str,
        routes: &[DeviceRoute],
    ) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let Some(codecs) = &d.codecs else { return out };
        for (id, settings) in codecs.get_ref() {
            if id == codec {
                self.error(settings, format!("{id:?} is this driver's `codec`: its settings are `codec_settings`"));
            } else if !routes.iter().any(|r| r.codec == *id && r.upstream.is_empty()) {
                self.error(settings, format!("no device route names codec {id:?}"));
            } else {
                match serde_json::to_string(settings.get_ref()) {
                    Ok(json) => {
                        out.insert(id.clone(), json);
                    }
                    Err(e) => self.error(settings, format!("settings cannot be passed to codec {id:?}: {e}")),
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[host]
data_dir = "data"
plugins_dir = "plugins"

[api]
listen = "127.0.0.1:0"

[drivers.devices-tcp]
plugin = "listener"
transport = "tcp"
listen = "127.0.0.1:7001"

[drivers.devices-http]
plugin = "listener"
transport = "http"
listen = "127.0.0.1:7002"
max_body_bytes = 1000
[drivers.devices-http.settings]
max_line_bytes = 100
"#;

    fn errors(text: &str) -> Vec<String> {
        match parse(Path::new("/etc/m.toml"), text) {
            Ok(_) => vec![],
            Err(e) => e.diagnostics.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn connection_limits_have_defaults_take_their_keys_and_refuse_what_does_not_apply() {
        let c = parse(Path::new("/etc/m.toml"), GOOD).expect("valid");
        assert_eq!(c.api.limits, meterhub_http::Limits::API);
        assert_eq!(c.fd_reserve, 512);
        let TransportConfig::Tcp { limits, .. } = &c.drivers[1].transport else { panic!("tcp") };
        assert_eq!(*limits, meterhub_http::Limits::INGEST);

        let written = GOOD
            .replace(
                "listen = \"127.0.0.1:0\"\n",
                "listen = \"127.0.0.1:0\"\nmax_connections_per_peer = 7\nheader_timeout_ms = 1500\n",
            )
            .replace(
                "listen = \"127.0.0.1:7001\"\n",
                "listen = \"127.0.0.1:7001\"\nidle_timeout_ms = 2000\nmax_connections = 9\n",
            );
        let c = parse(Path::new("/etc/m.toml"), &written).expect("valid");
        assert_eq!(
            (c.api.limits.max_per_peer, c.api.limits.header_timeout),
            (7, std::time::Duration::from_millis(1500))
        );
        let TransportConfig::Tcp { limits, .. } = &c.drivers[1].transport else { panic!("tcp") };
        assert_eq!((limits.max_connections, limits.idle_timeout), (9, std::time::Duration::from_millis(2000)));

        let e = errors(
            &GOOD.replace("listen = \"127.0.0.1:7001\"\n", "listen = \"127.0.0.1:7001\"\nheader_timeout_ms = 10\n"),
        );
        assert!(e[0].contains("`header_timeout_ms` does not apply to transport \"tcp\""), "{e:?}");
        let e = errors(&GOOD.replace("max_body_bytes = 1000", "max_body_bytes = 1000\nmax_connections = 0"));
        assert!(e[0].contains("max_connections must be between 1 and 1000000"), "{e:?}");
    }

    #[test]
    fn a_good_file_validates() {
        let c = parse(Path::new("/etc/meterhub/m.toml"), GOOD).expect("valid");
        assert_eq!(c.data_dir, Path::new("/etc/meterhub/data"));
        assert_eq!(c.drivers.len(), 2);
        let http = &c.drivers[0];
        assert_eq!(http.id, "devices-http");
        assert_eq!(http.settings_json, r#"{"max_line_bytes":100}"#);
        assert!(matches!(http.transport, TransportConfig::Http { max_body_bytes: 1000, .. }));
        assert_eq!(c.drivers[1].codec, "listener");
        assert_eq!(c.drivers[1].plugin_pos, Pos { line: 10, col: 10 });
    }

    #[test]
    fn accounting_has_defaults_and_checks_its_zone_and_periods() {
        let base = "[host]\ndata_dir='d'\nplugins_dir='p'\n";
        let c = parse(Path::new("/etc/m.toml"), base).expect("valid");
        assert_eq!((c.accounting.time_zone.as_str(), c.accounting.silent_after_periods), ("Europe/Moscow", 3));
        let text = format!("{base}[accounting]\ntime_zone='Europe/Berlin'\nsilent_after_periods=5\n");
        let c = parse(Path::new("/etc/m.toml"), &text).expect("valid");
        assert_eq!((c.accounting.time_zone.as_str(), c.accounting.silent_after_periods), ("Europe/Berlin", 5));
        let e = errors(&format!("{base}[accounting]\ntime_zone='Mars/Olympus'\nsilent_after_periods=0\n"));
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].starts_with("/etc/m.toml:5:11: time_zone: time zone \"Mars/Olympus\" is not in"), "{e:?}");
        assert_eq!(e[1], "/etc/m.toml:6:22: silent_after_periods: at least 1");
        // The default zone takes effect at restart; the silent periods at once.
        let other =
            parse(Path::new("/etc/m.toml"), &text.replace("Europe/Berlin", "UTC").replace('5', "4")).expect("valid");
        let changes: Vec<&str> = c.restart_only_changes(&other).iter().map(|(key, _, _)| *key).collect();
        assert_eq!(changes, ["accounting.time_zone"]);
    }

    #[test]
    fn compiled_plugins_live_in_the_data_dir_unless_placed_and_move_at_restart() {
        let base = "[host]\ndata_dir='d'\nplugins_dir='p'\n";
        let c = parse(Path::new("/etc/m.toml"), base).expect("valid");
        assert_eq!(c.compiled_plugins_dir, Path::new("/etc/d/compiled-plugins"));
        let placed =
            parse(Path::new("/etc/m.toml"), &format!("{base}compiled_plugins_dir='/var/cache/m'\n")).expect("valid");
        assert_eq!(placed.compiled_plugins_dir, Path::new("/var/cache/m"));
        let changes: Vec<&str> = c.restart_only_changes(&placed).iter().map(|(key, _, _)| *key).collect();
        assert_eq!(changes, ["host.compiled_plugins_dir"]);
        let e = errors(&format!("{base}compiled_plugins_dir=''\n"));
        assert_eq!(e, ["/etc/m.toml:4:22: compiled_plugins_dir must not be empty"]);
    }

    #[test]
    fn archive_memory_limits_have_defaults_ranges_and_take_effect_at_restart() {
        let base = "[host]\ndata_dir='d'\nplugins_dir='p'\n";
        let c = parse(Path::new("/etc/m.toml"), base).expect("valid");
        assert_eq!(c.archive, meterhub_storage::archive::ArchiveOptions::default());
        assert_eq!(c.pipeline_backlog_bytes, 8 << 20);
        let text = format!("{base}archive_cache_mib=32\narchive_head_readings=5000\npipeline_backlog_mib=16\n");
        let c = parse(Path::new("/etc/m.toml"), &text).expect("valid");
        assert_eq!((c.archive.cache_bytes, c.archive.head_readings), (32 << 20, 5000));
        assert_eq!(c.pipeline_backlog_bytes, 16 << 20);
        let e = errors(&format!("{base}archive_cache_mib=1\narchive_head_readings=10\n"));
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].starts_with("/etc/m.toml:4:") && e[0].contains("between 8 and 65536"), "{e:?}");
        assert!(e[1].starts_with("/etc/m.toml:5:") && e[1].contains("between 1000 and 10000000"), "{e:?}");
        let other = parse(Path::new("/etc/m.toml"), &text.replace("5000", "6000")).expect("valid");
        let changes: Vec<&str> = c.restart_only_changes(&other).iter().map(|(key, _, _)| *key).collect();
        assert_eq!(changes, ["host.archive_head_readings"]);
        // The device clock tolerance: seconds, 120 by default, at a restart.
        assert_eq!(c.archive.device_clock_tolerance_ms, 120_000);
        let ahead = parse(Path::new("/etc/m.toml"), &format!("{text}device_clock_tolerance_s=600\n")).expect("valid");
        assert_eq!(ahead.archive.device_clock_tolerance_ms, 600_000);
        let changes: Vec<&str> = c.restart_only_changes(&ahead).iter().map(|(key, _, _)| *key).collect();
        assert_eq!(changes, ["host.device_clock_tolerance_s"]);
        let e = errors(&format!("{base}device_clock_tolerance_s=0\n"));
        assert!(e[0].starts_with("/etc/m.toml:4:") && e[0].contains("between 1 and 86400"), "{e:?}");
    }

    #[test]
    fn a_separate_codec_gets_codec_settings_and_the_websocket_its_idle_timeout() {
        let text = "[host]\ndata_dir='d'\nplugins_dir='p'\n[drivers.vega]\nplugin='vega'\ncodec='vega-codec'\n\
                    transport='websocket'\nurl='ws://127.0.0.1:8002/'\nidle_timeout_ms=5000\n\
                    [drivers.vega.codec_settings]\nmodel='SI-11'\n";
        let c = parse(Path::new("/etc/m.toml"), text).expect("valid");
        let vega = &c.drivers[0];
        assert_eq!(vega.codec_settings(), r#"{"model":"SI-11"}"#);
        assert!(matches!(vega.transport, TransportConfig::Websocket { idle_timeout_ms: 5000, .. }));
        let mut other = vega.clone();
        other.codec_settings_json = "{}".into();
        assert!(!vega.same_codec(&other), "new codec settings make a new codec instance");
        assert!(vega.same_driver(&other), "but keep the driver");

        let own = text.replace("codec='vega-codec'\n", "");
        assert_eq!(
            errors(&own),
            vec!["/etc/m.toml:9:1: codec_settings is for a separate codec plugin (`codec`); the plugin's own codec uses `settings`".to_owned()]
        );
        let e = errors(&text.replace("idle_timeout_ms=5000", "idle_timeout_ms=5"));
        assert_eq!(e, vec!["/etc/m.toml:9:17: idle_timeout_ms must be at least 100".to_owned()]);
    }

    #[test]
    fn lorawan_devices_route_to_codecs_and_models_checked_where_written() {
        let text = "[host]\ndata_dir='d'\nplugins_dir='p'\n[drivers.lns]\nplugin='lw640'\ncodec='vega-codec'\n\
                    transport='http'\nlisten='127.0.0.1:0'\n\
                    [[drivers.lns.devices]]\ndeveui='3632333364374f18'\nmodel='SI-22'\n\
                    [[drivers.lns.devices]]\nprofile='Elehant SVD'\ncodec='elehant'\n\
                    [drivers.lns.codecs.elehant]\nweight='0.01'\n";
        let c = parse(Path::new("/etc/m.toml"), text).expect("valid");
        let lns = &c.drivers[0];
        assert_eq!(lns.devices.len(), 2);
        assert_eq!(lns.devices[0].matches, DeviceMatch::DevEui("3632333364374F18".into()));
        assert_eq!((lns.devices[0].codec.as_str(), lns.devices[0].model.as_deref()), ("vega-codec", Some("SI-22")));
        assert_eq!(lns.devices[1].matches, DeviceMatch::Profile("Elehant SVD".into()));
        assert_eq!(lns.routed_codecs(), vec!["elehant"]);
        assert_eq!(lns.routed_codec_settings("elehant"), r#"{"weight":"0.01"}"#);
        let mut other = lns.clone();
        other.devices[0].model = None;
        assert!(!lns.same_routes(&other) && lns.same_codec(&other) && lns.same_driver(&other));

        let e = |from: &str, to: &str| errors(&text.replace(from, to));
        assert_eq!(
            e("deveui='3632333364374f18'", "deveui='36'"),
            ["/etc/m.toml:10:8: deveui \"36\" is not 16 hex digits"]
        );
        assert_eq!(
            e("deveui='3632333364374f18'", "deveui='3632333364374f18'\nprofile='x'"),
            ["/etc/m.toml:9:1: a device route names exactly one of `deveui` and `profile`"]
        );
        assert_eq!(
            e("profile='Elehant SVD'", "deveui='3632333364374F18'"),
            [
                "/etc/m.toml:12:1: deveui 3632333364374F18 is routed twice (first at line 9)",
                "/etc/m.toml:15:1: no device route names codec \"elehant\""
            ]
        );
        assert_eq!(e("codecs.elehant]", "codecs.other]"), ["/etc/m.toml:15:1: no device route names codec \"other\""]);
        assert_eq!(
            e("codecs.elehant]", "codecs.vega-codec]"),
            ["/etc/m.toml:15:1: \"vega-codec\" is this driver's `codec`: its settings are `codec_settings`"]
        );
        assert!(e("model='SI-22'", "colour='red'")[0].contains("unknown field `colour`"));

        let upstream = "\n[[drivers.lns.devices]]\ndeveui='70B3D5E75E000001'\n\
                        [drivers.lns.devices.channels]\nvolume={field='meter.volume', unit='m3'}\n\
                        temperature={field='temp', unit='degC', kind='instantaneous'}\n";
        let c = parse(Path::new("/etc/m.toml"), &(text.to_owned() + upstream)).expect("valid");
        let route = &c.drivers[0].devices[2];
        assert_eq!(route.upstream.len(), 2);
        assert_eq!(
            (route.upstream[1].channel.as_str(), &route.upstream[1].field),
            ("volume", &vec!["meter".to_owned(), "volume".to_owned()])
        );
        assert_eq!(route.upstream[0].kind, ReadingKind::Instantaneous);
        assert_eq!(c.drivers[0].routed_codecs(), vec!["elehant"], "an upstream route names no codec");
        let both = upstream.replace("deveui='70B3D5E75E000001'\n", "deveui='70B3D5E75E000001'\ncodec='x'\n");
        let e = errors(&(text.to_owned() + &both));
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].contains("from the server's decoded payload (`channels`) or from a codec"), "{e:?}");
        let bad = upstream.replace("kind='instantaneous'", "kind='sometimes'").replace("meter.volume", "meter..volume");
        let e = errors(&(text.to_owned() + &bad));
        assert!(e.iter().any(|e| e.contains("kind \"sometimes\" is not cumulative, instantaneous or state")), "{e:?}");
        assert!(e.iter().any(|e| e.contains("field \"meter..volume\" is not a dotted path")), "{e:?}");
    }

    #[test]
    fn web_has_defaults_and_checks_its_session_lifetimes() {
        let base = "[host]\ndata_dir='d'\nplugins_dir='p'\n";
        let c = parse(Path::new("/etc/m.toml"), base).expect("valid");
        assert_eq!(c.web, WebConfig::default());
        assert_eq!((c.web.session_idle_minutes, c.web.session_max_hours, c.web.cookie_secure), (720, 168, true));
        assert_eq!(
            (c.web.stream_queue_limit, c.web.stream_control_seconds, c.web.stream_replay_limit),
            (256, 5, 100_000)
        );
        let text = format!(
            "{base}[web]\nsession_idle_minutes=30\nsession_max_hours=8\ncookie_secure=false\n\
             stream_queue_limit=16\nstream_control_seconds=2\nstream_replay_limit=0\n\
             trusted_proxies=[\"127.0.0.1\", \"10.0.0.0/8\"]\naudit_max_entries=500\n"
        );
        let c = parse(Path::new("/etc/m.toml"), &text).expect("valid");
        assert_eq!(
            c.web,
            WebConfig {
                session_idle_minutes: 30,
                session_max_hours: 8,
                cookie_secure: false,
                stream_queue_limit: 16,
                stream_control_seconds: 2,
                stream_replay_limit: 0,
                trusted_proxies: vec!["127.0.0.1/32".parse().unwrap(), "10.0.0.0/8".parse().unwrap()],
                audit_max_entries: 500,
            }
        );
        let e = errors(&format!("{base}[web]\ntrusted_proxies=[\"proxy.lan\"]\n"));
        assert!(e[0].contains("\"proxy.lan\" is not an address or network"), "{e:?}");
        let e = errors(&format!("{base}[web]\nstream_queue_limit=0\nstream_control_seconds=0\n"));
        assert_eq!(
            e,
            [
                "/etc/m.toml:5:20: stream_queue_limit must be between 1 and 100000 packets",
                "/etc/m.toml:6:24: stream_control_seconds must be between 1 and 3600",
            ]
        );
        let e = errors(&format!("{base}[web]\nsession_idle_minutes=0\nsession_max_hours=9000\n"));
        assert_eq!(
            e,
            [
                "/etc/m.toml:5:22: session_idle_minutes must be between 1 and 10080 (a week)",
                "/etc/m.toml:6:19: session_max_hours must be between 1 and 8760 (a year)",
            ]
        );
        let e = errors(&format!("{base}[web]\nsession_max_hours=2\n"));
        assert_eq!(
            e,
            [
                "/etc/m.toml:5:19: session_idle_minutes (720) is longer than session_max_hours (2 h): sessions would never be idle"
            ]
        );
        let e = errors(&format!("{base}[web]\ncookie_secure='no'\n"));
        assert!(e[0].starts_with("/etc/m.toml:5:15: ") && e[0].contains("expected a boolean"), "{e:?}");
        assert!(errors(&format!("{base}[web]\nsession_minutes=5\n"))[0].contains("unknown field `session_minutes`"));
        // The sessions are made at start: a change waits for a restart.
        let other = parse(Path::new("/etc/m.toml"), base).expect("valid");
        let changes: Vec<&str> = c.restart_only_changes(&other).iter().map(|(key, _, _)| *key).collect();
        assert_eq!(
            changes,
            [
                "web.session_idle_minutes",
                "web.session_max_hours",
                "web.cookie_secure",
                "web.trusted_proxies",
                "web.audit_max_entries"
            ]
        );
    }

    #[test]
    fn alarm_rules_are_the_shipped_ones_as_the_file_changes_them() {
        use crate::alarms::{AlarmKind, Severity, shipped};
        let c = parse(Path::new("/etc/m.toml"), GOOD).unwrap();
        assert_eq!(c.alarms.rules, shipped(), "the shipped rules when [alarms] is absent");
        let text = format!(
            "{GOOD}\n[alarms.rules.battery-low]\nbelow = 20\nseverity = \"critical\"\n\
             [alarms.rules.magnet]\nenabled = false\n\
             [alarms.rules.too-hot]\nkind = \"threshold\"\nchannels = [\"flow-temperature\"]\nabove = \"95.5\"\nbelow = 5\n"
        );
        let c = parse(Path::new("/etc/m.toml"), &text).unwrap();
        let rule = |id: &str| c.alarms.rules.iter().find(|r| r.id == id);
        let battery = rule("battery-low").unwrap();
        assert_eq!((&battery.kind, battery.severity), (&AlarmKind::Battery { below_pct: 20 }, Severity::Critical));
        assert!(rule("magnet").is_none(), "turned off");
        let hot = rule("too-hot").unwrap();
        assert_eq!(
            hot.kind,
            AlarmKind::Threshold {
                above: Some(meterhub_plugin_api::Decimal::from_str_exact("95.5").unwrap()),
                below: Some(5.into())
            }
        );
        assert_eq!(
            (hot.severity, hot.channels.as_slice()),
            (Severity::Warning, ["flow-temperature".to_owned()].as_slice())
        );
        assert_eq!(c.alarms.rules.len(), shipped().len(), "one off, one added");
        // Rules take effect at once: no restart asked for.
        assert!(parse(Path::new("/etc/m.toml"), GOOD).unwrap().restart_only_changes(&c).is_empty());
    }

    #[test]
    fn report_schedules_take_their_defaults_and_are_checked_where_written() {
        let c = parse(
            Path::new("/etc/m.toml"),
            &format!("{GOOD}\n[reports.schedules.monthly-gas]\nreport = \"consumption\"\nevery = \"month\"\nresource = \"gas\"\n"),
        )
        .unwrap();
        let s = &c.reports.schedules[0];
        assert_eq!((s.id.as_str(), s.at, s.lang.as_str()), ("monthly-gas", (1, 0), "ru"));
        assert_eq!(s.formats, ["xlsx", "pdf"]);
        assert_eq!(c.reports.keep, crate::reports::DEFAULT_KEEP);
        let text = format!(
            "{GOOD}\n[reports]\nkeep = 0\n[reports.schedules.bad]\nreport = \"weather\"\nevery = \"week\"\n\
             at = \"25:00\"\nzone = \"Mars/Olympus\"\nformats = [\"docx\"]\nperiod = \"week\"\n"
        );
        let e = errors(&text);
        let says = [
            "keep is 1 to 10000",
            "report is one of",
            "every is day or month",
            "at is a local time",
            "period is one of",
            "\"Mars/Olympus\" is not an IANA time zone",
            "a format is one of",
        ];
        for want in says {
            assert!(e.iter().any(|m| m.contains(want) && m.starts_with("/etc/m.toml:")), "{want}: {e:#?}");
        }
    }

    #[test]
    fn alarm_rules_are_checked_where_written() {
        let text = format!(
            "{GOOD}\n[alarms.rules.x]\nkind = \"colour\"\n\
             [alarms.rules.magnet]\nkind = \"threshold\"\n\
             [alarms.rules.hot]\nkind = \"threshold\"\nchannels = [\"t\"]\nabove = 5\nbelow = 7\n\
             [alarms.rules.battery-low]\nbelow = 150\nof = \"module\"\n\
             [alarms.rules.cold]\nkind = \"threshold\"\n"
        );
        let e = errors(&text);
        // Where `line` is written, after the rule `table`.
        let at = |table: &str, line: &str| {
            let from = text.lines().position(|l| l == table).expect("the table");
            let n = text.lines().skip(from).position(|l| l.starts_with(line)).expect("the line");
            format!("/etc/m.toml:{}:", from + n + 1)
        };
        assert_eq!(e.len(), 7, "{e:#?}");
        assert!(e[0].starts_with(&format!("{}8: unknown alarm kind", at("[alarms.rules.x]", "kind"))), "{e:#?}");
        let shipped_kind =
            format!("{}8: alarm rule \"magnet\" is shipped as kind \"state\"", at("[alarms.rules.magnet]", "kind"));
        assert!(e[1].starts_with(&shipped_kind), "{e:#?}");
        let order = format!("{}9: below (7) must be less than above (5)", at("[alarms.rules.hot]", "below"));
        assert!(e[2].starts_with(&order), "{e:#?}");
        let range =
            format!("{}9: below is a whole number between 1 and 100", at("[alarms.rules.battery-low]", "below"));
        assert!(e[3].starts_with(&range), "{e:#?}");
        let of =
            format!("{}6: `of` does not apply to a rule of kind \"battery\"", at("[alarms.rules.battery-low]", "of"));
        assert!(e[4].starts_with(&of), "{e:#?}");
        assert!(e[5].contains("threshold rule \"cold\" needs `above`, `below` or both"), "{e:#?}");
        assert!(e[6].contains("threshold rule \"cold\" needs `channels`"), "{e:#?}");
    }

    #[test]
    fn syntax_errors_name_line_and_column() {
        let e = errors("[host]\ndata_dir = \"x\nplugins_dir = 1\n");
        assert_eq!(e.len(), 1);
        assert!(e[0].starts_with("/etc/m.toml:2:"), "{e:?}");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let e = errors(&GOOD.replace("max_body_bytes = 1000", "max_body_byte = 1000"));
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].starts_with("/etc/m.toml:18:1: unknown field `max_body_byte`"), "{e:?}");
    }

    #[test]
    fn semantic_errors_name_their_place() {
        let text = GOOD
            .replace("transport = \"tcp\"", "transport = \"tcp\"\nurl = \"ws://x\"")
            .replace("listen = \"127.0.0.1:0\"", "listen = \"localhost\"");
        let e = errors(&text);
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].starts_with("/etc/m.toml:7:10: listen \"localhost\" is not an address"), "{e:?}");
        assert!(e[1].starts_with("/etc/m.toml:12:7: `url` does not apply to transport \"tcp\""), "{e:?}");
    }

    #[test]
    fn the_default_api_address_is_taken_too() {
        let text = "[host]\ndata_dir='d'\nplugins_dir='p'\n[drivers.x]\nplugin='l'\ntransport='tcp'\nlisten='127.0.0.1:8080'\n";
        assert_eq!(
            errors(text),
            vec!["/etc/m.toml:7:8: listen address 127.0.0.1:8080 is already used by [api]".to_owned()]
        );
    }

    #[test]
    fn a_listen_address_is_used_once() {
        let e = errors(&GOOD.replace("listen = \"127.0.0.1:7002\"", "listen = \"127.0.0.1:7001\""));
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with(
                "/etc/m.toml:12:10: listen address 127.0.0.1:7001 is already used by [drivers.devices-http]"
            ),
            "{e:?}"
        );
    }

    #[test]
    fn transports_need_their_endpoint() {
        let e =
            errors("[host]\ndata_dir='d'\nplugins_dir='p'\n[drivers.x]\nplugin='listener'\ntransport='websocket'\n");
        assert_eq!(e, vec!["/etc/m.toml:6:11: transport \"websocket\" needs `url`".to_owned()]);
        let e = errors(
            "[host]\ndata_dir='d'\nplugins_dir='p'\n[drivers.x]\nplugin='l'\ntransport='websocket'\nurl='wss://v'\n",
        );
        assert_eq!(e.len(), 1);
        assert!(e[0].starts_with("/etc/m.toml:7:5: wss:// (TLS) is not supported"), "{e:?}");
        let e = errors("[host]\ndata_dir='d'\nplugins_dir='p'\n[drivers.x]\nplugin='listener'\ntransport='udp'\n");
        assert_eq!(
            e,
            vec![
                "/etc/m.toml:6:11: transport \"udp\" is not one of \"tcp\", \"http\", \"websocket\", \"mqtt\""
                    .to_owned()
            ]
        );
    }

    #[test]
    fn a_fetch_section_names_the_api_its_secret_and_bounds() {
        let text = "[host]\ndata_dir='d'\nplugins_dir='p'\n[drivers.tts]\nplugin='lw640'\ntransport='http'\n\
                    listen='127.0.0.1:0'\n[drivers.tts.fetch]\nurl='https://eu1.cloud.thethings.network/api/v3/'\n\
                    token_file='tts.key'\nca_file='ca.pem'\n";
        let c = parse(Path::new("/etc/m.toml"), text).expect("valid");
        let f = c.drivers[0].fetch.clone().expect("a fetch section");
        assert_eq!(f.url, "https://eu1.cloud.thethings.network/api/v3");
        assert_eq!(f.url_pos, Pos { line: 9, col: 5 });
        assert_eq!(f.token_file.as_deref(), Some(Path::new("/etc/tts.key")));
        assert_eq!((f.auth_header.as_str(), f.auth_scheme.as_str()), ("Authorization", "Bearer"));
        assert_eq!((f.timeout_s, f.max_answer_bytes), (30, 16 << 20));
        // Moving it in the file changes nothing that runs.
        let moved = parse(Path::new("/etc/m.toml"), &text.replace("[drivers.tts]\n", "\n\n[drivers.tts]\n")).unwrap();
        assert_ne!(moved.drivers[0].fetch, c.drivers[0].fetch);
        assert!(moved.drivers[0].same_transport(&c.drivers[0]));
        let other = parse(Path::new("/etc/m.toml"), &text.replace("tts.key", "other.key")).unwrap();
        assert!(!other.drivers[0].same_transport(&c.drivers[0]));

        let e = |from: &str, to: &str| errors(&text.replace(from, to));
        let base = "must be the API's base, http(s)://host[:port][/path] (no user, query or fragment; the secret goes in token_file)";
        assert_eq!(
            e("https://eu1.cloud.thethings.network/api/v3/", "https://k:s@tts/api"),
            [format!("/etc/m.toml:9:5: url \"https://k:s@tts/api\" {base}")]
        );
        assert_eq!(
            e("https://eu1", "ftp://eu1")[0],
            format!("/etc/m.toml:9:5: url \"ftp://eu1.cloud.thethings.network/api/v3/\" {base}")
        );
        assert!(e("/api/v3/", "/api/v3?key=1")[0].contains("no user, query or fragment"));
        assert_eq!(e("https://eu1", "http://eu1"), ["/etc/m.toml:11:9: ca_file is for https:// URLs"]);
        assert_eq!(
            e("ca_file='ca.pem'\n", "timeout_s=0\nmax_answer_mib=1000\n"),
            [
                "/etc/m.toml:11:11: timeout_s must be between 1 and 600",
                "/etc/m.toml:12:16: max_answer_mib must be between 1 and 256"
            ]
        );
        assert!(e("token_file", "token")[0].contains("unknown field `token`"));
    }

    #[test]
    fn an_mqtt_subscription_names_its_broker_topics_and_session() {
        let text = "[host]\ndata_dir='d'\nplugins_dir='p'\n[drivers.cs]\nplugin='lw640'\ntransport='mqtt'\n\
                    url='mqtts://broker.example:8884'\ntopics=['application/+/device/+/event/+']\n\
                    username='meterhub'\npassword_file='mqtt.password'\nca_file='ca.pem'\n";
        let c = parse(Path::new("/etc/m.toml"), text).expect("valid");
        let TransportConfig::Mqtt(m) = &c.drivers[0].transport else { panic!("{:?}", c.drivers[0].transport) };
        assert_eq!((m.host.as_str(), m.port, m.tls), ("broker.example", 8884, true));
        assert_eq!(m.topics, ["application/+/device/+/event/+"]);
        assert_eq!(m.client_id, "meterhub-cs", "the persistent session is named after the instance");
        assert_eq!(m.password_file.as_deref(), Some(Path::new("/etc/mqtt.password")));
        assert_eq!((m.keep_alive_s, m.reconnect_min_ms, m.reconnect_max_ms), (30, 500, 30_000));
        let plain = text.replace("mqtts://broker.example:8884", "mqtt://[::1]").replace("ca_file='ca.pem'\n", "");
        let c = parse(Path::new("/etc/m.toml"), &plain).expect("valid");
        let TransportConfig::Mqtt(m) = &c.drivers[0].transport else { panic!() };
        assert_eq!((m.host.as_str(), m.port, m.tls), ("::1", 1883, false));

        let e = |from: &str, to: &str| errors(&text.replace(from, to));
        assert_eq!(
            e("mqtts://broker.example:8884", "tcp://b"),
            ["/etc/m.toml:7:5: url \"tcp://b\" must start with mqtt:// or mqtts://"]
        );
        assert!(e("mqtts://broker.example:8884", "mqtt://u:p@b")[0].contains("credentials go in username"));
        assert!(e("broker.example:8884", "broker.example:x")[0].contains("\"x\" is not a port"));
        assert_eq!(
            e("topics=['application/+/device/+/event/+']\n", ""),
            ["/etc/m.toml:6:11: transport \"mqtt\" needs `topics` (e.g. [\"application/+/device/+/event/+\"])"]
        );
        assert_eq!(e("username='meterhub'\n", ""), ["/etc/m.toml:9:15: password_file needs `username`"]);
        assert_eq!(e("mqtts://", "mqtt://"), ["/etc/m.toml:11:9: ca_file is for mqtts:// URLs"]);
        assert!(
            e("ca_file='ca.pem'\n", "listen='127.0.0.1:1'\n")[0]
                .contains("`listen` does not apply to transport \"mqtt\"")
        );
    }

    #[test]
    fn the_api_takes_https_with_a_certificate_and_a_key_and_not_one_of_them() {
        let head = "[host]\ndata_dir = 'd'\nplugins_dir = 'p'\n[api]\nlisten = '127.0.0.1:8080'\n";
        let text = format!("{head}tls_listen = '0.0.0.0:8443'\ntls_cert_file = 'c.pem'\ntls_key_file = 'k.pem'\n");
        let config = parse(Path::new("/etc/m.toml"), &text).expect("valid");
        let tls = config.api.tls.expect("https");
        assert_eq!((tls.listen.port(), tls.cert_file.as_path()), (8443, Path::new("/etc/c.pem")));
        let only = errors(&format!("{head}tls_listen = '0.0.0.0:8443'\n"));
        assert!(only.iter().any(|e| e.contains("6:14: tls_listen needs tls_cert_file and tls_key_file")), "{only:?}");
        let stray = errors(&format!("{head}tls_key_file = 'k.pem'\n"));
        assert!(stray.iter().any(|e| e.contains("go with tls_listen")), "{stray:?}");
    }
}
