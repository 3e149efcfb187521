//! A report as data: its title, parameters, columns and rows of typed cells.
//! Every output format renders this one value, so the numbers are the same
//! in all of them.

use jiff::tz::TimeZone;
use rust_decimal::Decimal;

use crate::lang::Lang;

/// Which way a column's cells are aligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Text.
    Left,
    /// Numbers.
    Right,
}

/// A column: a stable key (the CSV header in machine form, the API's field
/// name), its label in the report's language, and a relative width for the
/// PDF.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Stable machine name.
    pub key: &'static str,
    /// Label in the report's language.
    pub label: String,
    /// Alignment of its cells.
    pub align: Align,
    /// Relative width on paper.
    pub width: f32,
}

impl Column {
    /// A column of text.
    pub fn text(key: &'static str, label: String, width: f32) -> Column {
        Column { key, label, align: Align::Left, width }
    }

    /// A column of numbers.
    pub fn number(key: &'static str, label: String, width: f32) -> Column {
        Column { key, label, align: Align::Right, width }
    }
}

/// One cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// Nothing.
    Empty,
    /// Text as it is.
    Text(String),
    /// An exact decimal, shown with its own scale.
    Number(Decimal),
    /// A count.
    Count(u64),
    /// An instant, ms since the epoch, shown in the report's zone.
    Time(i64),
}

impl Cell {
    /// Text, or empty when `text` is.
    pub fn text(text: impl Into<String>) -> Cell {
        let text = text.into();
        if text.is_empty() { Cell::Empty } else { Cell::Text(text) }
    }
}

/// What a row is: an item, or a sum of items above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    /// One meter, module or day.
    Item,
    /// The sum of a group's items.
    Subtotal,
    /// The sum of the groups.
    Total,
}

/// A row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Item or sum.
    pub kind: RowKind,
    /// One cell per column.
    pub cells: Vec<Cell>,
}

/// What a report was made for, as its header shows it, and the zone its
/// times are shown in.
#[derive(Debug, Clone)]
pub struct Header {
    /// Label and value pairs, in the report's language.
    pub parameters: Vec<(String, String)>,
    /// The zone of its times.
    pub zone: TimeZone,
}

/// A report, ready to render.
#[derive(Debug, Clone)]
pub struct Report {
    /// Which report (`consumption`, `boundaries`, `activity`,
    /// `completeness`).
    pub kind: &'static str,
    /// Its language.
    pub lang: Lang,
    /// Its title in that language.
    pub title: String,
    /// What it was made for: label and value, in that language.
    pub parameters: Vec<(String, String)>,
    /// The zone its times are shown in.
    pub zone: TimeZone,
    /// Its columns.
    pub columns: Vec<Column>,
    /// Its rows.
    pub rows: Vec<Row>,
    /// Lines under the table: the flags' legend, what was left out and why.
    pub notes: Vec<String>,
}

impl Report {
    /// The cell of `row` under the column `key`.
    pub fn cell<'a>(&self, row: &'a Row, key: &str) -> Option<&'a Cell> {
        let at = self.columns.iter().position(|c| c.key == key)?;
        row.cells.get(at)
    }
}
