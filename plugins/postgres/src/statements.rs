//! A [`Plan`] as statements, in this order, each only when its kind is in
//! the batch:
//!
//! 1. `SELECT meterhub_readings_partitions($1, $2)`: the monthly
//!    partitions the readings need, and those of the month after the
//!    archive's time (made ahead);
//! 2. one `INSERT INTO readings` of every reading, `ON CONFLICT DO NOTHING`;
//! 3. one upsert of the deltas;
//! 4. one `DELETE` of the removed deltas' keys;
//! 5. one upsert of the meters; 6. one of the modules.
//!
//! The rows travel as one JSON array parameter (`$1::jsonb`) read back with
//! `jsonb_to_recordset`; decimals are JSON strings cast to `numeric`
//! (exact, scale kept), times integer milliseconds turned into
//! `timestamptz` exactly ([`timestamptz`]). No value enters the SQL text.

use meterhub_plugin_api::time::MAX_TS_MS;
use meterhub_plugin_api::{ArchivedReading, DeltaKey, DeltaRecord, SqlValue, Statement};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::plan::{Plan, Registered};
use crate::schema::timestamptz;

/// How far ahead of the archive's time partitions are made: 32 days, so
/// that the next month's partition exists before its first reading.
pub const AHEAD_MS: i64 = 32 * 86_400_000;

/// The statements writing `plan`; none for an empty plan. The error is a
/// parameter that could not be serialized (not expected).
pub fn build(plan: &Plan) -> Result<Vec<Statement>, String> {
    let mut statements = Vec::new();
    if let Some(partitions) = partitions(&plan.readings) {
        statements.push(partitions);
        statements.push(insert_readings(&plan.readings)?);
    }
    if !plan.deltas.is_empty() {
        statements.push(upsert_deltas(&plan.deltas)?);
    }
    if !plan.removed.is_empty() {
        statements.push(delete_deltas(&plan.removed)?);
    }
    if !plan.meters.is_empty() {
        statements.push(upsert_meters(&plan.meters)?);
    }
    if !plan.modules.is_empty() {
        statements.push(upsert_modules(&plan.modules)?);
    }
    Ok(statements)
}

/// The months to have partitions for, as `[from_ms, to_ms]`: from the
/// earliest reading to the latest reading or [`AHEAD_MS`] after the latest
/// archive time (kept before 2100, the end of meterhub's device times),
/// whichever is later. `None` without readings.
pub fn partition_range(readings: &[&ArchivedReading]) -> Option<(i64, i64)> {
    let from = readings.iter().map(|r| r.reading.ts_ms).min()?;
    let latest = readings.iter().map(|r| r.reading.ts_ms).max()?;
    let archived = readings.iter().map(|r| r.archived_at_ms).max()?;
    let ahead = archived.saturating_add(AHEAD_MS).min(MAX_TS_MS - 1);
    Some((from, latest.max(ahead)))
}

/// `SELECT meterhub_readings_partitions($1, $2)` over [`partition_range`].
fn partitions(readings: &[&ArchivedReading]) -> Option<Statement> {
    let (from, to) = partition_range(readings)?;
    Some(Statement::new("SELECT meterhub_readings_partitions($1, $2)", vec![SqlValue::Int(from), SqlValue::Int(to)]))
}

/// A row of the readings' JSON parameter.
#[derive(Serialize)]
struct ReadingRow<'a> {
    seq: u64,
    device: &'a str,
    channel: &'a str,
    ts_ms: i64,
    value: String,
    unit: &'a str,
    kind: &'static str,
    source: &'a str,
    conflict: bool,
    archived_at_ms: i64,
}

/// One insert of every reading; one already there is left as it is.
fn insert_readings(readings: &[&ArchivedReading]) -> Result<Statement, String> {
    let rows: Vec<ReadingRow> = readings
        .iter()
        .map(|r| ReadingRow {
            seq: r.seq,
            device: &r.reading.device,
            channel: &r.reading.channel,
            ts_ms: r.reading.ts_ms,
            value: r.reading.value.to_string(),
            unit: &r.reading.unit,
            kind: r.reading.kind.as_str(),
            source: &r.source,
            conflict: r.conflict,
            archived_at_ms: r.archived_at_ms,
        })
        .collect();
    let sql = format!(
        "INSERT INTO readings (archive_seq, device, channel, ts, value, unit, kind, source, conflict, archived_at)
SELECT r.seq, r.device, r.channel, {ts}, r.value::numeric, r.unit, r.kind, r.source, r.conflict, {archived_at}
FROM jsonb_to_recordset($1::jsonb) AS r(seq bigint, device text, channel text, ts_ms bigint, value text,
    unit text, kind text, source text, conflict boolean, archived_at_ms bigint)
ON CONFLICT DO NOTHING",
        ts = timestamptz("r.ts_ms"),
        archived_at = timestamptz("r.archived_at_ms"),
    );
    Ok(Statement::new(sql, vec![json(&rows)?]))
}

/// A row of the deltas' JSON parameter.
#[derive(Serialize)]
struct DeltaRow<'a> {
    meter: &'a str,
    channel: &'a str,
    period: &'static str,
    start_ms: i64,
    label: &'a str,
    end_ms: i64,
    from_ms: i64,
    to_ms: i64,
    consumption: String,
    start_value: String,
    end_value: String,
    unit: &'a str,
    flags: &'a [String],
    readings: &'a [u64],
}

/// One upsert of the deltas: a delta replaces the row of its key.
fn upsert_deltas(deltas: &[&DeltaRecord]) -> Result<Statement, String> {
    let rows: Vec<DeltaRow> = deltas
        .iter()
        .map(|d| DeltaRow {
            meter: &d.key.meter,
            channel: &d.key.channel,
            period: d.key.period.as_str(),
            start_ms: d.key.start_ms,
            label: &d.label,
            end_ms: d.end_ms,
            from_ms: d.from_ms,
            to_ms: d.to_ms,
            consumption: d.consumption.to_string(),
            start_value: d.start_value.to_string(),
            end_value: d.end_value.to_string(),
            unit: &d.unit,
            flags: &d.flags,
            readings: &d.readings,
        })
        .collect();
    let sql = format!(
        "INSERT INTO deltas (meter, channel, period, period_start, label, period_end, measured_from, measured_to,
    consumption, start_value, end_value, unit, flags, readings, updated_at)
SELECT d.meter, d.channel, d.period, {start}, d.label, {end}, {from}, {to},
    d.consumption::numeric, d.start_value::numeric, d.end_value::numeric, d.unit,
    ARRAY(SELECT f.flag FROM jsonb_array_elements_text(d.flags) WITH ORDINALITY AS f(flag, n) ORDER BY f.n),
    ARRAY(SELECT x.seq::bigint FROM jsonb_array_elements_text(d.readings) WITH ORDINALITY AS x(seq, n) ORDER BY x.n),
    now()
FROM jsonb_to_recordset($1::jsonb) AS d(meter text, channel text, period text, start_ms bigint, label text,
    end_ms bigint, from_ms bigint, to_ms bigint, consumption text, start_value text, end_value text, unit text,
    flags jsonb, readings jsonb)
ON CONFLICT (meter, channel, period, period_start) DO UPDATE SET
    label = EXCLUDED.label, period_end = EXCLUDED.period_end,
    measured_from = EXCLUDED.measured_from, measured_to = EXCLUDED.measured_to,
    consumption = EXCLUDED.consumption, start_value = EXCLUDED.start_value, end_value = EXCLUDED.end_value,
    unit = EXCLUDED.unit, flags = EXCLUDED.flags, readings = EXCLUDED.readings, updated_at = now()",
        start = timestamptz("d.start_ms"),
        end = timestamptz("d.end_ms"),
        from = timestamptz("d.from_ms"),
        to = timestamptz("d.to_ms"),
    );
    Ok(Statement::new(sql, vec![json(&rows)?]))
}

/// A row of the removed keys' JSON parameter.
#[derive(Serialize)]
struct KeyRow<'a> {
    meter: &'a str,
    channel: &'a str,
    period: &'static str,
    start_ms: i64,
}

/// One delete of the removed deltas.
fn delete_deltas(keys: &[&DeltaKey]) -> Result<Statement, String> {
    let rows: Vec<KeyRow> = keys
        .iter()
        .map(|k| KeyRow { meter: &k.meter, channel: &k.channel, period: k.period.as_str(), start_ms: k.start_ms })
        .collect();
    let sql = format!(
        "DELETE FROM deltas d
USING jsonb_to_recordset($1::jsonb) AS k(meter text, channel text, period text, start_ms bigint)
WHERE d.meter = k.meter AND d.channel = k.channel AND d.period = k.period
    AND d.period_start = {start}",
        start = timestamptz("k.start_ms"),
    );
    Ok(Statement::new(sql, vec![json(&rows)?]))
}

/// A row of the registry's JSON parameters: the record embedded as it is.
#[derive(Serialize)]
struct RegistryRow<'a> {
    id: &'a str,
    record: &'a RawValue,
}

/// The registry rows of `entries`.
fn registry_rows<'a>(entries: &[Registered<'a>]) -> Vec<RegistryRow<'a>> {
    entries.iter().map(|e| RegistryRow { id: e.id, record: e.record }).collect()
}

/// One upsert of the meters, with `source`, `module` and `model` copied
/// out of the record.
fn upsert_meters(meters: &[Registered]) -> Result<Statement, String> {
    let sql = "INSERT INTO meters (id, source, module, model, record, updated_at)
SELECT m.id, m.record->>'source', m.record->>'module', m.record->>'model', m.record, now()
FROM jsonb_to_recordset($1::jsonb) AS m(id text, record jsonb)
ON CONFLICT (id) DO UPDATE SET
    source = EXCLUDED.source, module = EXCLUDED.module, model = EXCLUDED.model,
    record = EXCLUDED.record, updated_at = now()";
    Ok(Statement::new(sql, vec![json(&registry_rows(meters))?]))
}

/// One upsert of the modules.
fn upsert_modules(modules: &[Registered]) -> Result<Statement, String> {
    let sql = "INSERT INTO modules (id, record, updated_at)
SELECT m.id, m.record, now()
FROM jsonb_to_recordset($1::jsonb) AS m(id text, record jsonb)
ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record, updated_at = now()";
    Ok(Statement::new(sql, vec![json(&registry_rows(modules))?]))
}

/// `rows` as a JSON array parameter.
fn json<T: Serialize>(rows: &[T]) -> Result<SqlValue, String> {
    serde_json::to_string(rows).map(SqlValue::Json).map_err(|e| format!("cannot serialize a statement's rows: {e}"))
}

#[cfg(test)]
mod tests {
    use meterhub_plugin_api::{Reading, ReadingKind};

    use super::*;

    fn archived(ts_ms: i64, archived_at_ms: i64) -> ArchivedReading {
        ArchivedReading {
            seq: 1,
            source: "s".into(),
            reading: Reading {
                device: "d".into(),
                channel: "c".into(),
                ts_ms,
                value: "0".parse().unwrap(),
                unit: String::new(),
                kind: ReadingKind::State,
            },
            conflict: true,
            archived_at_ms,
        }
    }

    #[test]
    fn partitions_cover_the_readings_and_the_month_after_the_archive() {
        let (a, b, c) = (
            archived(2_000_000_000_000, 2_000_000_000_100),
            archived(1_000_000_000_000, 0),
            archived(3_000_000_000_000, 1_000_000_000_000),
        );
        assert_eq!(partition_range(&[&a]), Some((2_000_000_000_000, 2_000_000_000_100 + AHEAD_MS)));
        assert_eq!(partition_range(&[&a, &b, &c]), Some((1_000_000_000_000, 3_000_000_000_000)));
        assert_eq!(partition_range(&[]), None);
        let late = archived(MAX_TS_MS - 2, MAX_TS_MS - 1);
        assert_eq!(partition_range(&[&late]), Some((MAX_TS_MS - 2, MAX_TS_MS - 1)), "never past 2100");
    }

    #[test]
    fn an_empty_plan_has_no_statements() {
        assert_eq!(build(&Plan::default()), Ok(vec![]));
    }

    #[test]
    fn no_statement_interpolates_a_value() {
        let r = archived(1_763_719_200_000, 1_763_719_200_000);
        let statement = insert_readings(&[&r]).unwrap();
        assert!(!statement.sql.contains("1763719200000"), "{}", statement.sql);
        assert_eq!(statement.params.len(), 1);
        assert!(statement.sql.contains("$1::jsonb"));
    }
}
