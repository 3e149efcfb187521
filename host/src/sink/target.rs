//! What every sink target shares: where a sink stands in the logs it
//! follows ([`Position`]), the items of a batch ([`Item`]), failures sorted
//! by what to do about them ([`Failure`]), and the [`Target`] a worker
//! delivers to: a PostgreSQL database through a sink plugin
//! (`plugin_target.rs`) or a monitoring center (`crate::sync::link`).

use std::future::Future;

use meterhub_plugin_api::SinkRecord;
use meterhub_storage::archive::LogItem;

use super::status::Command;

/// What went wrong, sorted by what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The database cannot be reached or is busy: the same batch again later.
    #[error("{0}")]
    Unavailable(String),
    /// The database refuses the sink's setup or statements (a login, a
    /// missing database, a table of someone else's, a right, the plugin's
    /// SQL): the same batch again later, once an operator has acted.
    #[error("{0}")]
    Setup(String),
    /// The database refuses the data of this batch (a value, a
    /// constraint): one of its records can never be written.
    #[error("{0}")]
    Data(String),
    /// Another writer moved the sink's position (two hosts with one sink
    /// id and database): the position is read again.
    #[error("{0}")]
    Moved(String),
}

impl Failure {
    /// Its kind, as the status names it.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::Unavailable(_) => "unavailable",
            Failure::Setup(_) => "setup",
            Failure::Data(_) => "data",
            Failure::Moved(_) => "moved",
        }
    }
}

/// The logs a sink follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Log {
    /// The archive's readings, by sequence number.
    Readings,
    /// The accounting's changes (deltas, meters, modules), by revision.
    Accounting,
}

impl Log {
    /// Its name in the dead-letter table and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Log::Readings => "readings",
            Log::Accounting => "accounting",
        }
    }

    /// The log named `name`.
    pub fn parse(name: &str) -> Option<Log> {
        match name {
            "readings" => Some(Log::Readings),
            "accounting" => Some(Log::Accounting),
            _ => None,
        }
    }
}

/// Where a sink stands in each log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    /// The archive sequence number delivered through.
    pub readings: u64,
    /// The accounting revision delivered through.
    pub accounting: u64,
}

/// A record left out of a batch, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The log it comes from.
    pub log: Log,
    /// Its sequence number in that log.
    pub seq: u64,
    /// The record as the sink received it, JSON.
    pub record: String,
    /// Why it was left out.
    pub reason: String,
}

/// One item of a batch: a record of one of the logs, or why it cannot be read.
pub struct Item {
    /// The log it comes from.
    pub log: Log,
    /// Its sequence number (archive seq or accounting revision).
    pub seq: u64,
    /// The journal sequence number of the raw frame a reading came from.
    pub frame: Option<u64>,
    /// The record; `None` for a change the target does not take (a delta
    /// for a monitoring center) or that left nothing to deliver (a meter
    /// removed): passed over, but the position moves past it. `Err`: why the
    /// host cannot read it.
    pub record: Result<Option<SinkRecord>, String>,
}

impl Item {
    /// An entry of the archive's log.
    pub fn of(entry: LogItem<'_>) -> Item {
        match entry {
            Ok(stored) => Item {
                log: Log::Readings,
                seq: stored.seq,
                frame: Some(stored.frame_seq),
                record: Ok(Some(super::records::reading(stored.clone()))),
            },
            Err(unreadable) => Item {
                log: Log::Readings,
                seq: unreadable.seq,
                frame: None,
                record: Err(format!("the archive cannot read this record: {}", unreadable.error)),
            },
        }
    }

    /// This item as a dead letter, for `reason`.
    pub fn dead(&self, reason: String) -> DeadLetter {
        let record = match &self.record {
            Ok(Some(record)) => serde_json::to_string(record).unwrap_or_default(),
            Ok(None) => serde_json::json!({ "passed_over": self.seq }).to_string(),
            Err(_) => serde_json::json!({ "unreadable": self.seq }).to_string(),
        };
        DeadLetter { log: self.log, seq: self.seq, record, reason }
    }
}

/// Where the sink stands after writing `items` from `from`.
pub fn position_after(from: Position, items: &[Item]) -> Position {
    let last = |log: Log| items.iter().rev().find(|i| i.log == log).map(|i| i.seq);
    Position {
        readings: last(Log::Readings).unwrap_or(from.readings),
        accounting: last(Log::Accounting).unwrap_or(from.accounting),
    }
}

/// What a target holds once connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connected {
    /// The position it holds.
    pub position: Position,
    /// The highest migration of its schema that ran, where it has one.
    pub schema_version: Option<u32>,
}

/// How a delivery went so far, reported after every write: records
/// written (dead letters included), dead letters, the position now.
pub type Report<'a> = &'a (dyn Fn(u64, u64, Position) + Send + Sync);

/// Where a sink worker delivers. Only the target knows its connection; the
/// worker follows the logs, paces, retries and shows the lag.
pub trait Target: Send + Sync + 'static {
    /// Where it writes, for the log and the status (never a secret).
    fn describe(&self) -> String;

    /// Connect afresh, set the target up, and read the position it holds.
    fn connect(&mut self) -> impl Future<Output = Result<Connected, Failure>> + Send;

    /// Deliver `items` (in log order) from `*position`, moving it along as
    /// the target takes them, and `report` each write.
    fn deliver(
        &mut self,
        items: &[Item],
        position: &mut Position,
        report: Report<'_>,
    ) -> impl Future<Output = Result<(), Failure>> + Send;

    /// Whether it takes the accounting's deltas (a monitoring center
    /// computes its own): those it does not are passed over unread.
    fn wants_deltas(&self) -> bool {
        true
    }

    /// Nothing new to deliver this round, standing at `position`: a target
    /// may tell its other side it is alive.
    fn idle(&mut self, position: Position) -> impl Future<Output = Result<(), Failure>> + Send {
        let _ = position;
        async { Ok(()) }
    }

    /// Answer a request of the API, standing at `position` (`None` while
    /// not connected).
    fn serve(&mut self, command: Command, position: Option<Position>) -> impl Future<Output = ()> + Send;

    /// Drop the connection: the next round connects afresh.
    fn disconnect(&mut self);
}
