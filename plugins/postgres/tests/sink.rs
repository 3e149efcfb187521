//! Tests of the postgres sink through its `Plugin` interface, without a
//! database (the host's end-to-end tests run the statements against a real
//! PostgreSQL):
//!
//! - `fixtures/migrations/<version>.sql` pins each migration's statements
//!   (joined by `;` and a blank line, runnable with `psql -f`): a migration
//!   that ran is never changed;
//! - `fixtures/write/<name>.in.json` is a batch (a JSON array of
//!   `SinkRecord`s), `<name>.out.json` what `write` makes of it, JSON
//!   parameters parsed and SQL shown line by line.
//!
//! `METERHUB_BLESS=1 cargo test` rewrites both kinds of expectation.

use std::path::Path;

use meterhub_plugin_api::testing::{BLESS_VAR, Case, Fixtures, assert_manifest_matches};
use meterhub_plugin_api::{
    ArchivedReading, DeltaKey, DeltaPeriod, DeltaRecord, Plugin, Reading, ReadingKind, RegistryEntry, SinkRecord,
    SqlBatch, SqlValue, Statement,
};
use meterhub_sink_postgres::PostgresSink;
use serde_json::{Value, json};

const TS: i64 = 1_763_719_200_000; // 2025-11-21T10:00:00Z
const DAY: i64 = 86_400_000;

fn sink() -> PostgresSink {
    PostgresSink::init("{}").expect("init")
}

fn write(batch: &[SinkRecord]) -> SqlBatch {
    sink().write(batch).expect("write")
}

fn reading(seq: u64, device: &str, ts_ms: i64, value: &str) -> SinkRecord {
    SinkRecord::Reading(ArchivedReading {
        seq,
        source: "listener".into(),
        reading: Reading {
            device: device.into(),
            channel: "energy".into(),
            ts_ms,
            value: value.parse().expect("decimal"),
            unit: "kWh".into(),
            kind: ReadingKind::Cumulative,
        },
        conflict: false,
        archived_at_ms: ts_ms + 250,
    })
}

fn key(meter: &str, start_ms: i64) -> DeltaKey {
    DeltaKey { meter: meter.into(), channel: "energy".into(), period: DeltaPeriod::Day, start_ms }
}

fn delta(meter: &str, start_ms: i64, consumption: &str) -> SinkRecord {
    SinkRecord::Delta(DeltaRecord {
        key: key(meter, start_ms),
        label: "2025-11-21".into(),
        end_ms: start_ms + DAY,
        from_ms: start_ms,
        to_ms: start_ms + DAY,
        consumption: consumption.parse().expect("decimal"),
        start_value: "100.000".parse().expect("decimal"),
        end_value: "112.500".parse().expect("decimal"),
        unit: "kWh".into(),
        flags: vec!["in_progress".into(), "estimated".into()],
        readings: vec![9_007_199_254_740_993, 2],
    })
}

fn registry(id: &str, json: &str) -> RegistryEntry {
    RegistryEntry { id: id.into(), json: json.into() }
}

/// The JSON parameter of `statement`, parsed.
fn rows(statement: &Statement) -> Vec<Value> {
    match &statement.params[..] {
        [SqlValue::Json(text)] => match serde_json::from_str(text) {
            Ok(Value::Array(rows)) => rows,
            other => panic!("not a JSON array: {other:?}"),
        },
        other => panic!("expected one JSON parameter, got {other:?}"),
    }
}

/// The first words of each statement.
fn heads(batch: &SqlBatch) -> Vec<String> {
    batch.statements.iter().map(|s| s.sql.split_whitespace().take(3).collect::<Vec<_>>().join(" ")).collect()
}

#[test]
fn manifest_matches() {
    assert_manifest_matches::<PostgresSink>(env!("CARGO_MANIFEST_DIR"));
}

#[test]
fn migrations_run_from_one_without_gaps_and_are_pinned() {
    let migrations = sink().migrations().expect("migrations");
    assert!(!migrations.is_empty());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/migrations");
    let bless = std::env::var_os(BLESS_VAR).is_some_and(|v| v == "1");
    for (i, m) in migrations.iter().enumerate() {
        assert_eq!(usize::try_from(m.version).expect("u32"), i + 1, "versions 1, 2, ... without gaps");
        assert!(!m.description.is_empty() && !m.statements.is_empty());
        let text = format!("-- migration {}: {}\n\n{};\n", m.version, m.description, m.statements.join(";\n\n"));
        let path = dir.join(format!("{}.sql", m.version));
        if bless {
            std::fs::write(&path, &text).expect("bless");
            continue;
        }
        let pinned = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            pinned == text,
            "migration {} differs from {} (a migration that ran never changes)",
            m.version,
            path.display()
        );
    }
    let files = std::fs::read_dir(&dir).expect("fixtures/migrations").count();
    assert_eq!(files, migrations.len(), "one pinned file per migration");
}

#[test]
fn migration_one_creates_the_schema() {
    let migrations = sink().migrations().expect("migrations");
    let one = &migrations[0];
    assert_eq!(one.description, "readings by month, deltas, meters, modules");
    let heads: Vec<String> =
        one.statements.iter().map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" ")).collect();
    assert_eq!(
        heads,
        [
            "CREATE TABLE readings",
            "CREATE INDEX readings_device_channel_ts",
            "CREATE FUNCTION meterhub_readings_partitions(from_ms",
            "CREATE TABLE deltas",
            "CREATE TABLE meters",
            "CREATE TABLE modules",
        ]
    );
    assert!(one.statements[0].contains("PRIMARY KEY (archive_seq, ts)\n) PARTITION BY RANGE (ts)"));
    assert!(one.statements[1].ends_with("ON readings (device, channel, ts)"));
    assert!(one.statements[3].contains("PRIMARY KEY (meter, channel, period, period_start)"));
}

#[test]
fn a_mixed_batch_gives_one_statement_per_kind_in_order() {
    let batch = [
        reading(41, "m-1", TS, "123456789.123456789"),
        delta("m-1", TS - 36_000_000, "12.500"),
        SinkRecord::DeltaRemoved(key("m-1", TS - 36_000_000 - DAY)),
        SinkRecord::Meter(registry(
            "m-1",
            r#"{"id":"m-1","source":"listener","module":"mod-9","model":"X","big":1.000000000000000000001}"#,
        )),
        SinkRecord::Module(registry("mod-9", r#"{"id":"mod-9"}"#)),
        reading(42, "m-2", TS - 40 * DAY, "-0.50"),
    ];
    let out = write(&batch);
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    assert_eq!(
        heads(&out),
        [
            "SELECT meterhub_readings_partitions($1, $2)",
            "INSERT INTO readings",
            "INSERT INTO deltas",
            "DELETE FROM deltas",
            "INSERT INTO meters",
            "INSERT INTO modules"
        ]
    );
    // Partitions from the earliest reading to 32 days after the latest archive time.
    assert_eq!(out.statements[0].params, [SqlValue::Int(TS - 40 * DAY), SqlValue::Int(TS + 250 + 32 * DAY)]);

    let readings = rows(&out.statements[1]);
    assert_eq!(readings.len(), 2);
    assert_eq!(
        readings[0],
        json!({"seq": 41, "device": "m-1", "channel": "energy", "ts_ms": TS, "value": "123456789.123456789",
               "unit": "kWh", "kind": "cumulative", "source": "listener", "conflict": false, "archived_at_ms": TS + 250})
    );
    assert_eq!(readings[1]["value"], "-0.50", "the scale is kept");

    let deltas = rows(&out.statements[2]);
    assert_eq!(deltas.len(), 1);
    assert_eq!(deltas[0]["consumption"], "12.500");
    assert_eq!(deltas[0]["period"], "day");
    assert_eq!(deltas[0]["flags"], json!(["in_progress", "estimated"]));
    assert_eq!(deltas[0]["readings"], json!([9_007_199_254_740_993_u64, 2]));
    assert_eq!(deltas[0]["readings"][0].as_u64(), Some(9_007_199_254_740_993), "exact beyond 2^53");

    let removed = rows(&out.statements[3]);
    assert_eq!(
        removed,
        [json!({"meter": "m-1", "channel": "energy", "period": "day", "start_ms": TS - 36_000_000 - DAY})]
    );

    // The registry record travels as written: its numbers are not re-rendered.
    let SqlValue::Json(meters) = &out.statements[4].params[0] else { panic!("a JSON parameter") };
    assert!(
        meters.contains(
            r#""record":{"id":"m-1","source":"listener","module":"mod-9","model":"X","big":1.000000000000000000001}"#
        ),
        "{meters}"
    );
    assert_eq!(rows(&out.statements[5]), [json!({"id": "mod-9", "record": {"id": "mod-9"}})]);
}

#[test]
fn statements_carry_values_only_as_parameters() {
    let batch =
        [reading(1, "m'; DROP TABLE readings; --", TS, "1"), SinkRecord::Meter(registry("x'y", r#"{"source":"'"}"#))];
    for statement in write(&batch).statements {
        assert!(!statement.sql.contains("DROP TABLE") && !statement.sql.contains("x'y"), "{}", statement.sql);
        let placeholders = (1..=statement.params.len()).all(|n| statement.sql.contains(&format!("${n}")));
        assert!(placeholders, "{}", statement.sql);
    }
}

#[test]
fn the_last_record_of_a_key_wins() {
    let start = TS - 36_000_000;
    let batch = [
        delta("a", start, "1"),
        SinkRecord::DeltaRemoved(key("a", start)),
        SinkRecord::DeltaRemoved(key("b", start)),
        delta("b", start, "2"),
        delta("c", start, "3"),
        delta("c", start, "4"),
        SinkRecord::Meter(registry("m", r#"{"v":1}"#)),
        SinkRecord::Meter(registry("m", r#"{"v":2}"#)),
    ];
    let out = write(&batch);
    assert_eq!(heads(&out), ["INSERT INTO deltas", "DELETE FROM deltas", "INSERT INTO meters"]);
    let upserted: Vec<(Value, Value)> =
        rows(&out.statements[0]).into_iter().map(|r| (r["meter"].clone(), r["consumption"].clone())).collect();
    assert_eq!(upserted, [(json!("b"), json!("2")), (json!("c"), json!("4"))]);
    let removed: Vec<Value> = rows(&out.statements[1]).into_iter().map(|r| r["meter"].clone()).collect();
    assert_eq!(removed, [json!("a")]);
    assert_eq!(rows(&out.statements[2]), [json!({"id": "m", "record": {"v": 2}})]);
}

#[test]
fn a_nul_in_a_device_name_rejects_that_reading_only() {
    let batch = [reading(1, "m-1", TS, "1"), reading(2, "m\u{0}2", TS, "2"), reading(3, "m-3", TS, "3")];
    let out = write(&batch);
    assert_eq!(out.rejected.len(), 1);
    assert_eq!(out.rejected[0].index, 1);
    assert!(
        out.rejected[0].reason.starts_with("field \"reading.device\": contains a NUL"),
        "{}",
        out.rejected[0].reason
    );
    let seqs: Vec<Value> = rows(&out.statements[1]).into_iter().map(|r| r["seq"].clone()).collect();
    assert_eq!(seqs, [json!(1), json!(3)]);
}

#[test]
fn a_batch_of_rejected_records_gives_no_statements() {
    let batch =
        [SinkRecord::Module(registry("mod", "[]")), reading(1, "m", 0, "1"), SinkRecord::DeltaRemoved(key("m\0", 0))];
    let out = write(&batch);
    assert!(out.statements.is_empty());
    let reasons: Vec<(u32, &str)> =
        out.rejected.iter().map(|r| (r.index, r.reason.split(':').next().unwrap_or(""))).collect();
    assert_eq!(reasons, [(0, "field \"json\""), (1, "field \"reading.ts_ms\""), (2, "field \"meter\"")]);
}

#[test]
fn unknown_settings_are_refused_by_name() {
    let e = PostgresSink::init(r#"{"table_prefix": "mh_"}"#).unwrap_err();
    assert!(e.starts_with("setting \"table_prefix\": unknown"), "{e}");
    assert!(PostgresSink::init("[]").is_err());
    let example = include_str!("../settings.example.json");
    assert!(PostgresSink::init(example).is_ok(), "settings.example.json");
}

#[test]
fn an_empty_batch_gives_no_statements() {
    assert_eq!(write(&[]), SqlBatch::default());
}

/// `out` as the fixtures show it: SQL by lines, JSON parameters parsed.
fn render(out: &SqlBatch) -> Value {
    let statements: Vec<Value> = out
        .statements
        .iter()
        .map(|s| {
            let params: Vec<Value> = s
                .params
                .iter()
                .map(|p| match p {
                    SqlValue::Json(text) => {
                        json!({ "json": serde_json::from_str::<Value>(text).unwrap_or(Value::Null) })
                    }
                    other => serde_json::to_value(other).unwrap_or(Value::Null),
                })
                .collect();
            json!({ "sql": s.sql.lines().collect::<Vec<_>>(), "params": params })
        })
        .collect();
    json!({ "statements": statements, "rejected": out.rejected })
}

fn run_case(case: &Case) -> Result<Value, String> {
    let text = String::from_utf8(case.read(".in.json")?).map_err(|e| e.to_string())?;
    let batch: Vec<SinkRecord> = serde_json::from_str(&text).map_err(|e| format!("batch: {e}"))?;
    Ok(render(&sink().write(&batch)?))
}

#[test]
fn write_fixtures() {
    let mut fixtures = Fixtures::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures"));
    fixtures.check("write", ".in.json", &[], run_case);
    fixtures.finish();
}
