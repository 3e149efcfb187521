//! `[sinks.<id>]`: validation of one sink instance.

use std::str::FromStr;

use toml::Spanned;

use super::Validator;
use crate::config::model::{PasswordSource, PostgresTarget, SinkConfig};
use crate::config::raw::RawSink;

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

impl Validator<'_> {
    /// One sink instance, or `None` with its errors recorded.
    pub(super) fn sink(&mut self, id: &Spanned<String>, spanned: &Spanned<RawSink>) -> Option<SinkConfig> {
        let before = self.diagnostics.len();
        let s = spanned.get_ref();
        let name = id.get_ref();
        self.instance_id(id, "sink");
        let target = self.postgres_target(s);
        let batch_records = self.u32_in(&s.batch_records, "batch_records", 1..=100_000, DEFAULT_BATCH_RECORDS);
        let linger_ms = self.u32_in(&s.linger_ms, "linger_ms", 0..=60_000, DEFAULT_LINGER_MS);
        let retry_min = self.u32_in(&s.retry_min_ms, "retry_min_ms", 10..=3_600_000, 500);
        let retry_max = self.u32_in(&s.retry_max_ms, "retry_max_ms", 10..=3_600_000, DEFAULT_RETRY_MAX_MS);
        let alarm = self.u32_in(&s.alarm_lag_seconds, "alarm_lag_seconds", 0..=31_536_000, DEFAULT_ALARM_LAG_SECONDS);
        if retry_min > retry_max {
            let at = s.retry_min_ms.as_ref().or(s.retry_max_ms.as_ref()).expect("a default pair is ordered");
            self.error(at, format!("retry_min_ms ({retry_min}) must be at most retry_max_ms ({retry_max})"));
        }
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
        if self.diagnostics.len() > before {
            return None;
        }
        Some(SinkConfig {
            id: name.clone(),
            plugin: s.plugin.get_ref().clone(),
            plugin_pos: self.pos(&s.plugin),
            target: target?,
            batch_records: batch_records as usize,
            linger: std::time::Duration::from_millis(u64::from(linger_ms)),
            retry: crate::backoff::Backoff {
                min: std::time::Duration::from_millis(u64::from(retry_min)),
                max: std::time::Duration::from_millis(u64::from(retry_max)),
            },
            alarm_lag: (alarm > 0).then(|| std::time::Duration::from_secs(u64::from(alarm))),
            settings_json,
        })
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

    use crate::config::load::parse;
    use crate::config::model::PasswordSource;

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
        assert_eq!((sink.id.as_str(), sink.plugin.as_str()), ("pg", "postgres"));
        assert_eq!(sink.target.schema, "meterhub");
        assert_eq!(sink.target.password, Some(PasswordSource::Env("PGPASS".into())));
        assert_eq!(sink.batch_records, super::DEFAULT_BATCH_RECORDS as usize);
        assert_eq!(sink.settings_json, "{}");
        assert_eq!(sink.alarm_lag, Some(std::time::Duration::from_secs(3600)));
        assert_eq!(sink.plugin_pos.line, 5);
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
