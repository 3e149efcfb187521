//! Accounting on the host: the meter and module registry with its editable
//! metadata and change history, and the consumption deltas kept up to date
//! by a consumer of the archive log. The arithmetic is the pure
//! `meterhub-accounting` crate; this module feeds it and stores what it
//! says.
//!
//! Architecture invariant: the accounting state lives in its own sled
//! database (`<data_dir>/accounting`); the consumer's cursor is written in
//! the same atomic batch as the deltas it computed, so after a crash it
//! recomputes, never skips.
//!
//! - [`model`] holds meters, modules, metadata, history entries;
//! - [`store`] holds [`AccountingStore`], the database (registry, history, deltas,
//!   cursor, pending recomputations, holds);
//! - [`consumer`] is the task following the archive log;
//! - [`tail`] keeps the newest readings of live registers in memory;
//! - [`carry`] keeps their day and month in progress at the latest reading,
//!   so live readings are computed from themselves alone;
//! - [`edit`] checks metadata changes and register events from JSON;
//! - [`error`] holds [`AccountingError`].

pub mod carry;
pub mod consumer;
pub mod edit;
pub mod error;
pub mod model;
pub mod store;
pub mod tail;

#[cfg(test)]
mod tests;

pub use consumer::{Accounting, Consumer, deltas_in_zone, reading_instants, spawn};
pub use error::AccountingError;
pub use model::{HistoryEntry, MeterMetadata, MeterRecord, ModuleRecord, Resource};
pub use store::{AccountingStore, Hold};
pub use tail::DEFAULT_TAIL_READINGS;
