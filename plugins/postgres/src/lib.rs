//! The `postgres` plugin: the PostgreSQL sink. It maps the records the host
//! follows (archived readings, consumption deltas, meters, modules) to SQL
//! statements; the host owns the connection, runs the [`schema`]'s
//! migrations once, and runs each batch's statements in one transaction
//! with the sink's position. The plugin never connects anywhere.
//!
//! Code map, in data-flow order:
//! - [`settings`]: none yet, `{}`; unknown keys are refused;
//! - [`schema`]: migration 1 (readings partitioned by month, deltas,
//!   meters, modules) and the exact millisecond-to-`timestamptz` SQL;
//! - [`check`]: what PostgreSQL could never store (NUL characters, JSON
//!   that is not an object, timestamps out of range) rejects a record;
//! - [`plan`]: a batch validated and collapsed (last delta per key, last
//!   registry entry per id wins);
//! - [`statements`]: the plan as statements with JSON parameters.
//!
//! Architecture invariant: data never enters SQL text; every value travels
//! in a `$n` parameter, decimals as JSON strings cast to `numeric` (exact).

use meterhub_plugin_api::{Migration, Plugin, SinkRecord, SqlBatch};

pub mod check;
pub mod plan;
pub mod schema;
pub mod settings;
pub mod statements;

use settings::SinkSettings;

/// One PostgreSQL sink instance.
#[derive(Debug)]
pub struct PostgresSink {
    settings: SinkSettings,
}

impl PostgresSink {
    /// Its settings (none yet).
    pub fn settings(&self) -> &SinkSettings {
        &self.settings
    }
}

impl Plugin for PostgresSink {
    fn init(settings_json: &str) -> Result<Self, String> {
        Ok(PostgresSink { settings: SinkSettings::parse(settings_json)? })
    }

    fn migrations(&mut self) -> Result<Vec<Migration>, String> {
        Ok(schema::migrations())
    }

    fn write(&mut self, batch: &[SinkRecord]) -> Result<SqlBatch, String> {
        let plan = plan::Plan::of(batch)?;
        Ok(SqlBatch { statements: statements::build(&plan)?, rejected: plan.rejected })
    }
}

meterhub_plugin_api::export_plugin!(PostgresSink);

#[cfg(test)]
mod tests {
    use meterhub_plugin_api::{ArchivedReading, Reading, ReadingKind, Role};

    use super::*;

    fn reading(seq: u64, device: &str) -> SinkRecord {
        SinkRecord::Reading(ArchivedReading {
            seq,
            source: "listener".into(),
            reading: Reading {
                device: device.into(),
                channel: "volume".into(),
                ts_ms: 1_763_719_200_000,
                value: "1.5".parse().unwrap(),
                unit: "m3".into(),
                kind: ReadingKind::Cumulative,
            },
            conflict: false,
            archived_at_ms: 1_763_719_200_100,
        })
    }

    #[test]
    fn a_sink_with_migration_one_and_rejections_in_the_batch() {
        let mut sink = PostgresSink::init("{}").unwrap();
        assert_eq!(PostgresSink::info().roles, vec![Role::Sink]);
        assert_eq!(sink.migrations().unwrap().iter().map(|m| m.version).collect::<Vec<_>>(), vec![1]);
        let out = sink.write(&[reading(1, "a\0b"), reading(2, "m-1")]).unwrap();
        assert_eq!(out.rejected.len(), 1);
        assert_eq!(out.rejected[0].index, 0);
        assert_eq!(out.statements.len(), 2, "partitions and one insert");
    }

    #[test]
    fn init_refuses_unknown_settings() {
        let e = PostgresSink::init(r#"{"schema": "x"}"#).unwrap_err();
        assert!(e.starts_with("setting \"schema\": unknown"), "{e}");
    }
}
