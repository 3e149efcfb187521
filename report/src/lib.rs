//! Dispatcher reports (`docs/reports.md`): consumption per meter and group
//! per day or month, the register's values at a period's boundaries for
//! billing, module activity, data completeness; each built as one
//! [`Report`] (typed cells) from what the host reads, and rendered as CSV,
//! XLSX or PDF with the same numbers in every format.
//!
//! Pure: no I/O, no clock. The host gathers the deltas, modules and
//! readings a user may see and calls a builder; the golden tests feed the
//! builders from readings through the accounting crate.

mod activity;
mod completeness;
mod consumption;
pub mod csv;
mod lang;
pub mod pdf;
pub mod schedule;
mod table;
pub mod xlsx;

pub use activity::{Limits, ModuleLine, activity, state_name};
pub use completeness::{Day, MeterReadings, completeness, days, inferred_period};
pub use consumption::{Flags, LeftOut, MeterDeltas, boundaries, consumption, tidy};
pub use lang::Lang;
pub use table::{Align, Cell, Column, Header, Report, Row, RowKind};

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values.
    Csv,
    /// A spreadsheet.
    Xlsx,
    /// A printable document.
    Pdf,
}

impl Format {
    /// `csv`, `xlsx` or `pdf`.
    pub fn parse(name: &str) -> Option<Format> {
        match name {
            "csv" => Some(Format::Csv),
            "xlsx" => Some(Format::Xlsx),
            "pdf" => Some(Format::Pdf),
            _ => None,
        }
    }

    /// Its file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
            Format::Pdf => "pdf",
        }
    }

    /// Its media type.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::Pdf => "application/pdf",
        }
    }
}

/// The report in `format`.
pub fn render(report: &Report, format: Format) -> Result<Vec<u8>, String> {
    match format {
        Format::Csv => Ok(csv::render(report)),
        Format::Xlsx => xlsx::render(report).map_err(|e| format!("XLSX: {e}")),
        Format::Pdf => pdf::render(report).map_err(|e| e.to_string()),
    }
}
