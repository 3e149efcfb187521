//! The sink contract: records the host follows (archived readings, deltas as
//! the accounting stores and recomputes them, registry changes) in, the
//! statements that write them out.
//!
//! A sink is sans-IO like a driver: the host owns the connection to the
//! target (today a PostgreSQL database, capability `postgres`), runs the
//! sink's [`Migration`]s once, and runs the [`SqlBatch`] a sink makes of a
//! batch of records in one transaction together with the sink's position.
//! So "only advance past what the target confirmed", retries with backoff,
//! and effectively-once delivery are the host's, the same for every sink;
//! a sink maps records to statements and says which records it cannot map.

use serde::{Deserialize, Serialize};

use crate::model::{Decimal, Reading};

/// A reading as the archive holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchivedReading {
    /// Archive sequence number.
    pub seq: u64,
    /// Driver instance it came from.
    pub source: String,
    /// The reading.
    pub reading: Reading,
    /// Same natural key as an earlier reading with another value.
    pub conflict: bool,
    /// When the archive stored it, milliseconds since the Unix epoch, UTC.
    pub archived_at_ms: i64,
}

/// The length of a delta's period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeltaPeriod {
    /// A calendar day in the meter's zone.
    Day,
    /// A calendar month in the meter's zone.
    Month,
}

impl DeltaPeriod {
    /// `day` or `month`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeltaPeriod::Day => "day",
            DeltaPeriod::Month => "month",
        }
    }
}

/// What names one delta: a later delta with the same key replaces it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DeltaKey {
    /// Meter identity.
    pub meter: String,
    /// Register channel.
    pub channel: String,
    /// Day or month.
    pub period: DeltaPeriod,
    /// The period's first instant, milliseconds since the Unix epoch.
    pub start_ms: i64,
}

/// A consumption delta as the accounting stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeltaRecord {
    /// Which delta.
    pub key: DeltaKey,
    /// The local date naming the period: `YYYY-MM-DD` or `YYYY-MM`.
    pub label: String,
    /// The next period's first instant (exclusive end).
    pub end_ms: i64,
    /// Where the consumption is measured from.
    pub from_ms: i64,
    /// Where the consumption is measured to.
    pub to_ms: i64,
    /// What went through the register from `from_ms` to `to_ms`, exact.
    #[serde(with = "rust_decimal::serde::str")]
    pub consumption: Decimal,
    /// The register value at `from_ms`.
    #[serde(with = "rust_decimal::serde::str")]
    pub start_value: Decimal,
    /// The register value at `to_ms`.
    #[serde(with = "rust_decimal::serde::str")]
    pub end_value: Decimal,
    /// Unit of the register.
    pub unit: String,
    /// Flags as the API names them (`estimated`, `in_progress`,
    /// `partial_start`, `conflict`, `unexplained_decrease`, ...).
    pub flags: Vec<String>,
    /// Archive sequence numbers of the readings the boundary values come from.
    pub readings: Vec<u64>,
}

/// A meter or module as the registry holds it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryEntry {
    /// Its identity.
    pub id: String,
    /// The registry's record, a JSON object text (as `/api/v1/meters` shows it).
    pub json: String,
}

/// One record a sink receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SinkRecord {
    /// A newly archived reading.
    Reading(ArchivedReading),
    /// A delta computed or recomputed: it replaces any earlier one with its key.
    Delta(DeltaRecord),
    /// A delta that no longer exists (its meter was recomputed without it).
    DeltaRemoved(DeltaKey),
    /// A meter registered or changed.
    Meter(RegistryEntry),
    /// A communication module registered or changed.
    Module(RegistryEntry),
}

/// A parameter of a statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SqlValue {
    /// SQL `NULL`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A 64-bit integer (`bigint`).
    Int(i64),
    /// Text (`text`, `varchar`).
    Text(String),
    /// A JSON document in text form (`json`, `jsonb`); exact numbers stay
    /// exact when written as strings and cast to `numeric` in SQL.
    Json(String),
}

/// One SQL statement with `$1`, `$2`, ... parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    /// The SQL text.
    pub sql: String,
    /// The parameters, in order.
    pub params: Vec<SqlValue>,
}

impl Statement {
    /// A statement with parameters.
    pub fn new(sql: impl Into<String>, params: Vec<SqlValue>) -> Statement {
        Statement { sql: sql.into(), params }
    }
}

/// A schema change, run once (in version order, each in its own
/// transaction with the record that it ran).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Migration {
    /// Its version: 1, 2, ... without gaps; a migration that ran is never
    /// changed, a new one is added.
    pub version: u32,
    /// What it does, for the log and the status.
    pub description: String,
    /// The statements, without parameters.
    pub statements: Vec<String>,
}

/// A record of a batch that the sink cannot write, and why; it goes to the
/// sink's dead-letter list and the others are written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedRecord {
    /// Its index in the batch.
    pub index: u32,
    /// Why, naming the offending field.
    pub reason: String,
}

/// What a sink makes of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SqlBatch {
    /// Statements the host runs in order in one transaction, together with
    /// the sink's position.
    pub statements: Vec<Statement>,
    /// Records left out, with their reasons.
    pub rejected: Vec<RejectedRecord>,
}
