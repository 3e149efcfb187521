//! `[sinks.<id>]`: validation of one sink instance.

use std::str::FromStr;

use toml::Spanned;

use super::Validator;
use crate::model::{
    CenterConfig, CenterLink, CenterSite, PasswordSource, PluginSink, PostgresTarget, SYNC_CENTER, SinkConfig, SinkKind,
};
use crate::raw::{RawCenter, RawSink};

/// Records in one batch unless `batch_records` says otherwise.
pub const DEFAULT_BATCH_RECORDS: u32 = 2_000;
/// How long a batch that is not full waits, unless `linger_ms` says otherwise.
pub const DEFAULT_LINGER_MS: u32 = 100;
/// The alarm's lag unless `alarm_lag_seconds` says otherwise: an hour.
pub const DEFAULT_ALARM_LAG_SECONDS: u32 = 3600;
/// The longest delay between two attempts unless `retry_max_ms` says
/// otherwise: short enough that a database back from an outage is found
/// within seconds (measured: with 60 s, a sink found its database 10-15 s
/// after it came back, most of a one-minute outage's drain time).
pub const DEFAULT_RETRY_MAX_MS: u32 = 10_000;
/// The schema unless `schema` says otherwise.
pub const DEFAULT_SCHEMA: &str = "meterhub";
/// How often a sync link checks with its center unless
/// `check_every_hours` says otherwise: daily.
pub const DEFAULT_CHECK_EVERY_HOURS: u32 = 24;
/// The largest batch a center takes unless `max_batch_mib` says otherwise.
pub const DEFAULT_MAX_BATCH_MIB: u32 = 16;
/// A center's link alarm after this long without a batch unless
/// `alarm_silence_seconds` says otherwise: 15 minutes.
pub const DEFAULT_ALARM_SILENCE_SECONDS: u32 = 900;

impl Validator<'_> {
    /// One sink instance, or `None` with its errors recorded.
    pub(super) fn sink(&mut self, id: &Spanned<String>, spanned: &Spanned<RawSink>) -> Option<SinkConfig> {
        let before = self.diagnostics.len();
        let s = spanned.get_ref();
        let name = id.get_ref();
        self.instance_id(id, "sink");
        let kind = self.sink_kind(s);
        let batch_records = self.u32_in(&s.batch_records, "batch_records", 1..=100_000, DEFAULT_BATCH_RECORDS);
        let linger_ms = self.u32_in(&s.linger_ms, "linger_ms", 0..=60_000, DEFAULT_LINGER_MS);
        let retry_min = self.u32_in(&s.retry_min_ms, "retry_min_ms", 10..=3_600_000, 500);
        let retry_max = self.u32_in(&s.retry_max_ms, "retry_max_ms", 10..=3_600_000, DEFAULT_RETRY_MAX_MS);
        let alarm = self.u32_in(&s.alarm_lag_seconds, "alarm_lag_seconds", 0..=31_536_000, DEFAULT_ALARM_LAG_SECONDS);
        if retry_min > retry_max {
            let at = s.retry_min_ms.as_ref().or(s.retry_max_ms.as_ref()).expect("a default pair is ordered");
            self.error(at, format!("retry_min_ms ({retry_min}) must be at most retry_max_ms ({retry_max})"));
        }
        if self.diagnostics.len() > before {
            return None;
        }
        Some(SinkConfig {
            id: name.clone(),
            kind: kind?,
            batch_records: batch_records as usize,
            linger: std::time::Duration::from_millis(u64::from(linger_ms)),
            retry: crate::backoff::Backoff {
                min: std::time::Duration::from_millis(u64::from(retry_min)),
                max: std::time::Duration::from_millis(u64::from(retry_max)),
            },
            alarm_lag: (alarm > 0).then(|| std::time::Duration::from_secs(u64::from(alarm))),
        })
    }

    /// What the sink writes to: a plugin and its database, or a center.
    fn sink_kind(&mut self, s: &RawSink) -> Option<SinkKind> {
        match s.kind.as_ref().map(|k| k.get_ref().as_str()) {
            None => self.plugin_sink(s).map(SinkKind::Plugin),
            Some(SYNC_CENTER) => self.center_link(s).map(SinkKind::Center),
            Some(other) => {
                let at = s.kind.as_ref().expect("matched above");
                self.error(
                    at,
                    format!(
                        "kind {other:?} is not a kind of sink: use \"{SYNC_CENTER}\", or leave it out and name a plugin"
                    ),
                );
                None
            }
        }
    }

    fn plugin_sink(&mut self, s: &RawSink) -> Option<PluginSink> {
        for (key, given) in [
            ("site", s.site.is_some()),
            ("token_file", s.token_file.is_some()),
            ("rate_limit_kib_s", s.rate_limit_kib_s.is_some()),
        ] {
            if given {
                self.error(&s.url, format!("{key} is a key of kind = \"{SYNC_CENTER}\" sinks, not of a plugin's"));
            }
        }
        let Some(plugin) = &s.plugin else {
            self.error(
                &s.url,
                format!("a sink names its plugin (plugin = \"postgres\") or is of kind = \"{SYNC_CENTER}\""),
            );
            return None;
        };
        let target = self.postgres_target(s);
        let settings_json = match &s.settings {
            Some(settings) => match serde_json::to_string(settings.get_ref()) {
                Ok(json) => json,
                Err(e) => {
                    self.error(settings, format!("settings cannot be passed to the plugin: {e}"));
                    return None;
                }
            },
            None => "{}".to_owned(),
        };
        Some(PluginSink {
            plugin: plugin.get_ref().clone(),
            plugin_pos: self.pos(plugin),
            target: target?,
            settings_json,
        })
    }

    fn center_link(&mut self, s: &RawSink) -> Option<CenterLink> {
        self.not_a_center_key(&s.plugin, "plugin");
        self.not_a_center_key(&s.password_env, "password_env");
        self.not_a_center_key(&s.password_file, "password_file");
        self.not_a_center_key(&s.schema, "schema");
        self.not_a_center_key(&s.settings, "settings");
        let url = s.url.get_ref();
        let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
        if rest.is_none_or(|r| r.is_empty() || r.contains(['?', '#', '@'])) {
            self.error(&s.url, format!("url {url:?} must be the center's API, http://host:port or https://host:port (no user, query or fragment)"));
        }
        let site = match &s.site {
            Some(site) => {
                self.site_name(site);
                site.get_ref().clone()
            }
            None => {
                self.error(
                    &s.url,
                    format!("a {SYNC_CENTER} sink names its site (site = \"district-1\"), its name at the center"),
                );
                String::new()
            }
        };
        let token_file = match &s.token_file {
            Some(file) => self.path(file.get_ref()),
            None => {
                self.error(
                    &s.url,
                    format!("a {SYNC_CENTER} sink names the file of its token at the center (token_file = ...)"),
                );
                std::path::PathBuf::new()
            }
        };
        let rate = self.u32_in(&s.rate_limit_kib_s, "rate_limit_kib_s", 0..=10_000_000, 0);
        let check = self.u32_in(&s.check_every_hours, "check_every_hours", 0..=8760, DEFAULT_CHECK_EVERY_HOURS);
        Some(CenterLink {
            url: url.trim_end_matches('/').to_owned(),
            site,
            token_file,
            ca_file: s.ca_file.as_ref().map(|f| self.path(f.get_ref())),
            rate_limit_bytes: (rate > 0).then(|| u64::from(rate) * 1024),
            check_every: (check > 0).then(|| std::time::Duration::from_secs(u64::from(check) * 3600)),
        })
    }

    fn not_a_center_key<T>(&mut self, value: &Option<Spanned<T>>, key: &str) {
        if let Some(at) = value {
            self.error(
                at,
                format!("{key} is not a key of a {SYNC_CENTER} sink (it sends to the center's API, with a token)"),
            );
        }
    }

    /// A site's name: lower-case letters, digits, '-' or '_'.
    fn site_name(&mut self, site: &Spanned<String>) {
        let name = site.get_ref();
        if name.is_empty()
            || name.len() > 64
            || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            self.error(site, format!("site name {name:?} must be 1 to 64 lower-case letters, digits, '-' or '_'"));
        }
    }

    /// `[center]`: the sites this center takes data from.
    pub(super) fn center(&mut self, raw: &Spanned<RawCenter>) -> CenterConfig {
        let c = raw.get_ref();
        let max_batch = self.u32_in(&c.max_batch_mib, "max_batch_mib", 1..=1024, DEFAULT_MAX_BATCH_MIB);
        let silence = self.u32_in(
            &c.alarm_silence_seconds,
            "alarm_silence_seconds",
            0..=31_536_000,
            DEFAULT_ALARM_SILENCE_SECONDS,
        );
        let lag = self.u32_in(&c.alarm_lag_seconds, "alarm_lag_seconds", 0..=31_536_000, DEFAULT_ALARM_LAG_SECONDS);
        let mut sites = Vec::new();
        for (name, site) in &c.sites {
            self.site_name(name);
            sites.push(CenterSite {
                name: name.get_ref().clone(),
                token_file: self.path(site.get_ref().token_file.get_ref()),
            });
        }
        CenterConfig {
            sites,
            max_batch_bytes: max_batch as usize * 1024 * 1024,
            alarm_silence: (silence > 0).then(|| std::time::Duration::from_secs(u64::from(silence))),
            alarm_lag: (lag > 0).then(|| std::time::Duration::from_secs(u64::from(lag))),
        }
    }

    fn postgres_target(&mut self, s: &RawSink) -> Option<PostgresTarget> {
        let url = &s.url;
        if !(url.get_ref().starts_with("postgres://") || url.get_ref().starts_with("postgresql://")) {
            self.error(url, format!("url {:?} must start with postgres:// or postgresql://", url.get_ref()));
            return None;
        }
        match tokio_postgres::Config::from_str(url.get_ref()) {
            Ok(parsed) if parsed.get_password().is_some() => {
                self.error(
                    url,
                    "url must not hold the password (config files are read and copied by many): use password_env or password_file",
                );
                return None;
            }
            Ok(parsed) if parsed.get_dbname().is_none() => {
                self.error(url, "url names no database (postgres://user@host:port/<database>)");
                return None;
            }
            Ok(_) => {}
            Err(e) => {
                self.error(url, format!("url is not a PostgreSQL URL: {e}"));
                return None;
            }
        }
        let password = match (&s.password_env, &s.password_file) {
            (Some(env), Some(_)) => {
                self.error(env, "password_env and password_file: give one of them");
                None
            }
            (Some(env), None) if env.get_ref().is_empty() => {
                self.error(env, "password_env must name an environment variable");
                None
            }
            (Some(env), None) => Some(PasswordSource::Env(env.get_ref().clone())),
            (None, Some(file)) => Some(PasswordSource::File(self.path(file.get_ref()))),
            (None, None) => None,
        };
        let schema = s.schema.as_ref().map_or(DEFAULT_SCHEMA, |s| s.get_ref().as_str()).to_owned();
        if let Some(at) = &s.schema
            && (schema.is_empty()
                || schema.len() > 63
                || !schema.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                || schema.starts_with(|c: char| c.is_ascii_digit())
                || schema.starts_with("pg_"))
        {
            self.error(
                at,
                format!("schema {schema:?} must be 1 to 63 lower-case letters, digits or '_', not starting with a digit or pg_"),
            );
        }
        Some(PostgresTarget {
            url: url.get_ref().clone(),
            password,
            ca_file: s.ca_file.as_ref().map(|f| self.path(f.get_ref())),
            schema,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::load::parse;
    use crate::model::{PasswordSource, SinkKind};

    const HEAD: &str = "[host]\ndata_dir = 'd'\nplugins_dir = 'p'\n";

    fn errors(sink: &str) -> Vec<String> {
        let text = format!("{HEAD}[sinks.pg]\n{sink}");
        match parse(Path::new("/etc/m.toml"), &text) {
            Ok(_) => Vec::new(),
            Err(e) => e.diagnostics.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn a_sink_takes_its_defaults_and_its_password_from_outside_the_file() {
        let text = format!(
            "{HEAD}[sinks.pg]\nplugin = 'postgres'\nurl = 'postgres://meterhub@db:5433/metering?sslmode=require'\npassword_env = 'PGPASS'\n[sinks.pg.settings]\n"
        );
        let config = parse(Path::new("/etc/m.toml"), &text).expect("valid");
        let sink = &config.sinks[0];
        let SinkKind::Plugin(p) = &sink.kind else { panic!("a plugin sink: {sink:?}") };
        assert_eq!((sink.id.as_str(), p.plugin.as_str()), ("pg", "postgres"));
        assert_eq!(p.target.schema, "meterhub");
        assert_eq!(p.target.password, Some(PasswordSource::Env("PGPASS".into())));
        assert_eq!(sink.batch_records, super::DEFAULT_BATCH_RECORDS as usize);
        assert_eq!(p.settings_json, "{}");
        assert_eq!(sink.alarm_lag, Some(std::time::Duration::from_secs(3600)));
        assert_eq!(p.plugin_pos.line, 5);
    }

    #[test]
    fn a_sync_center_sink_names_its_center_site_and_token_and_nothing_of_a_database() {
        let text = format!(
            "{HEAD}[sinks.center]\nkind = 'sync-center'\nurl = 'https://center.example:8443/'\nsite = 'north-1'\ntoken_file = 'center.token'\nrate_limit_kib_s = 64\n[center.sites.east]\ntoken_file = 'east.token'\n"
        );
        let config = parse(Path::new("/etc/m.toml"), &text).expect("valid");
        let SinkKind::Center(link) = &config.sinks[0].kind else { panic!("a center link") };
        assert_eq!((link.url.as_str(), link.site.as_str()), ("https://center.example:8443", "north-1"));
        assert_eq!(link.token_file, Path::new("/etc/center.token"));
        assert_eq!(link.rate_limit_bytes, Some(64 * 1024));
        let center = config.center.expect("a center");
        assert_eq!(center.sites[0].name, "east");
        assert_eq!(center.max_batch_bytes, 16 << 20);

        let link = "kind = 'sync-center'\nurl = 'http://c:8080'\nsite = 'n'\ntoken_file = 't'\n";
        let cases: [(String, &str); 6] = [
            (format!("{link}schema = 'x'\n"), "9:10: schema is not a key of a sync-center sink"),
            (
                "kind = 'sync-center'\nurl = 'ftp://c'\nsite = 'n'\ntoken_file = 't'\n".into(),
                "must be the center's API",
            ),
            ("kind = 'sync-center'\nurl = 'http://c:8080'\ntoken_file = 't'\n".into(), "names its site"),
            (
                "kind = 'sync-center'\nurl = 'http://c:8080'\nsite = 'N 1'\ntoken_file = 't'\n".into(),
                "site name \"N 1\"",
            ),
            ("kind = 'mirror'\nurl = 'http://c'\n".into(), "kind \"mirror\" is not a kind of sink"),
            ("url = 'postgres://u@h/db'\n".into(), "a sink names its plugin"),
        ];
        for (sink, expected) in cases {
            let errors = errors(&sink);
            assert!(errors.iter().any(|e| e.contains(expected)), "{sink}: {errors:?}");
        }
    }

    #[test]
    fn what_a_sink_cannot_use_is_refused_with_its_place() {
        let url = "plugin = 'postgres'\nurl = 'postgres://u@h/db'\n";
        let cases: [(String, &str); 7] = [
            ("plugin = 'postgres'\nurl = 'postgres://u:secret@h/db'\n".into(), "6:7: url must not hold the password"),
            (
                "plugin = 'postgres'\nurl = 'mysql://u@h/db'\n".into(),
                "6:7: url \"mysql://u@h/db\" must start with postgres://",
            ),
            ("plugin = 'postgres'\nurl = 'postgres://u@h'\n".into(), "6:7: url names no database"),
            (format!("{url}schema = 'Bad-Name'\n"), "7:10: schema \"Bad-Name\" must be 1 to 63"),
            (format!("{url}password_env = 'A'\npassword_file = 'f'\n"), "7:16: password_env and password_file"),
            (format!("{url}retry_min_ms = 5000\nretry_max_ms = 100\n"), "7:16: retry_min_ms (5000) must be at most"),
            (format!("{url}listen = '127.0.0.1:1'\n"), "unknown field `listen`"),
        ];
        for (sink, expected) in cases {
            let errors = errors(&sink);
            assert!(errors.iter().any(|e| e.contains(expected)), "{sink}: {errors:?}");
        }
    }
}
