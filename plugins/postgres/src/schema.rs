//! The sink's schema, as migrations the host runs once each in version
//! order (each in its own transaction, with `search_path` set to the sink's
//! schema: every name here is unqualified).
//!
//! A migration that ran is never changed; a change of schema is a new
//! migration appended to [`migrations`]. `fixtures/migrations/<version>.sql`
//! pins each one's text (the tests compare it).
//!
//! Tables are created with a plain `CREATE TABLE` (not `IF NOT EXISTS`): a
//! table of that name already there is someone else's, and the host reports
//! the error rather than writing into it.

use meterhub_plugin_api::Migration;

/// Every migration of the sink, versions 1, 2, ... without gaps.
pub fn migrations() -> Vec<Migration> {
    vec![Migration {
        version: 1,
        description: "readings by month, deltas, meters, modules".to_owned(),
        statements: vec![
            CREATE_READINGS.to_owned(),
            CREATE_READINGS_INDEX.to_owned(),
            create_partitions_function(),
            CREATE_DELTAS.to_owned(),
            CREATE_METERS.to_owned(),
            CREATE_MODULES.to_owned(),
        ],
    }]
}

/// SQL of the `timestamptz` at `ms` milliseconds since the Unix epoch, `ms`
/// being a `bigint` SQL expression (a column or a variable).
///
/// Exact, and independent of the session's `TimeZone`: whole seconds and
/// the remaining milliseconds are added separately as intervals of pure
/// time. (`ms * interval '1 millisecond'` multiplies the interval by a
/// `double precision` and is off by microseconds in the later centuries;
/// `to_timestamp` takes floating-point seconds.)
pub fn timestamptz(ms: &str) -> String {
    format!("(timestamptz 'epoch' + ({ms} / 1000) * interval '1 second' + ({ms} % 1000) * interval '1 millisecond')")
}

/// The archived readings, one partition per UTC month (see
/// [`create_partitions_function`]). The primary key serves "everything
/// since archive sequence N" (it must hold the partition key `ts`).
pub const CREATE_READINGS: &str = "CREATE TABLE readings (
    archive_seq bigint NOT NULL,
    device text NOT NULL,
    channel text NOT NULL,
    ts timestamptz NOT NULL,
    value numeric NOT NULL,
    unit text NOT NULL,
    kind text NOT NULL,
    source text NOT NULL,
    conflict boolean NOT NULL,
    archived_at timestamptz NOT NULL,
    PRIMARY KEY (archive_seq, ts)
) PARTITION BY RANGE (ts)";

/// "One meter over a period": a meter's channel by time.
pub const CREATE_READINGS_INDEX: &str = "CREATE INDEX readings_device_channel_ts ON readings (device, channel, ts)";

/// The function creating the missing monthly partitions of `readings`
/// covering `[from_ms, to_ms]`: `readings_YYYY_MM`, from the first instant
/// of the UTC month inclusive to the next month's exclusive.
///
/// A partition that exists is seen with `to_regclass` first, so that the
/// usual call (the partitions are there) takes no lock on `readings`;
/// `CREATE TABLE ... PARTITION OF` runs only for a missing one. Names are
/// qualified with `current_schema()`, the sink's schema the host put first
/// in `search_path`. Bounds are written as UTC text, so the session's
/// `TimeZone` and `DateStyle` do not matter.
pub fn create_partitions_function() -> String {
    let from = timestamptz("from_ms");
    let to = timestamptz("to_ms");
    format!(
        "CREATE FUNCTION meterhub_readings_partitions(from_ms bigint, to_ms bigint) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    month_start timestamp := date_trunc('month', {from} AT TIME ZONE 'UTC');
    last_start timestamp := date_trunc('month', {to} AT TIME ZONE 'UTC');
    next_start timestamp;
    part text;
BEGIN
    WHILE month_start <= last_start LOOP
        next_start := month_start + interval '1 month';
        part := 'readings_' || to_char(month_start, 'YYYY_MM');
        IF to_regclass(format('%I.%I', current_schema(), part)) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I.%I PARTITION OF %I.readings FOR VALUES FROM (%L) TO (%L)',
                current_schema(), part, current_schema(),
                to_char(month_start, 'YYYY-MM-DD') || ' 00:00:00+00',
                to_char(next_start, 'YYYY-MM-DD') || ' 00:00:00+00');
        END IF;
        month_start := next_start;
    END LOOP;
END
$fn$"
    )
}

/// Consumption deltas as the accounting stores them; a recomputed delta
/// replaces the row of its key, a removed one deletes it.
pub const CREATE_DELTAS: &str = "CREATE TABLE deltas (
    meter text NOT NULL,
    channel text NOT NULL,
    period text NOT NULL CHECK (period IN ('day', 'month')),
    period_start timestamptz NOT NULL,
    label text NOT NULL,
    period_end timestamptz NOT NULL,
    measured_from timestamptz NOT NULL,
    measured_to timestamptz NOT NULL,
    consumption numeric NOT NULL,
    start_value numeric NOT NULL,
    end_value numeric NOT NULL,
    unit text NOT NULL,
    flags text[] NOT NULL,
    readings bigint[] NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (meter, channel, period, period_start)
)";

/// The meters as the registry holds them now; `source`, `module` and
/// `model` are copied out of `record` for joins and filters.
pub const CREATE_METERS: &str = "CREATE TABLE meters (
    id text PRIMARY KEY,
    source text,
    module text,
    model text,
    record jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
)";

/// The communication modules as the registry holds them now.
pub const CREATE_MODULES: &str = "CREATE TABLE modules (
    id text PRIMARY KEY,
    record jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_run_from_one_without_gaps() {
        let versions: Vec<u32> = migrations().iter().map(|m| m.version).collect();
        let expected: Vec<u32> = (1..=u32::try_from(versions.len()).unwrap()).collect();
        assert_eq!(versions, expected);
    }

    #[test]
    fn the_timestamp_expression_splits_seconds_and_milliseconds() {
        assert_eq!(
            timestamptz("r.ts_ms"),
            "(timestamptz 'epoch' + (r.ts_ms / 1000) * interval '1 second' + (r.ts_ms % 1000) * interval \
             '1 millisecond')"
        );
    }

    #[test]
    fn migration_one_creates_plain_tables_in_the_search_path() {
        let statements = &migrations()[0].statements;
        let creates: Vec<&str> = statements
            .iter()
            .filter_map(|s| s.strip_prefix("CREATE TABLE "))
            .map(|rest| rest.split_whitespace().next().unwrap_or(""))
            .collect();
        assert_eq!(creates, ["readings", "deltas", "meters", "modules"]);
        for s in statements {
            assert!(!s.contains("IF NOT EXISTS"), "{s}");
            assert!(!s.contains("public."), "{s}");
        }
        // The partition function only takes a lock on `readings` when a partition is missing.
        let function = &statements[2];
        let check = function.find("to_regclass").unwrap();
        let create = function.find("PARTITION OF").unwrap();
        assert!(check < create);
    }
}
