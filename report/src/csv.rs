//! CSV (RFC 4180): a byte-order mark so spreadsheet programs read the
//! UTF-8, the column labels in the report's language, then a row per row of
//! the table. Numbers exactly as stored with a decimal point, times in RFC
//! 3339 with the offset of the report's zone, the row's kind (`item`,
//! `subtotal`, `total`) last: a file other programs read, not a page.

use jiff::Timestamp;

use crate::table::{Cell, Report, RowKind};

fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_owned() }
}

/// A cell as CSV writes it (unquoted).
pub fn cell_text(cell: &Cell, report: &Report) -> String {
    match cell {
        Cell::Empty => String::new(),
        Cell::Text(t) => t.clone(),
        Cell::Number(n) => n.to_string(),
        Cell::Count(n) => n.to_string(),
        Cell::Time(ms) => Timestamp::from_millisecond(*ms).map_or_else(
            |_| ms.to_string(),
            |t| t.to_zoned(report.zone.clone()).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        ),
    }
}

/// The row kind's code.
pub fn kind_code(kind: RowKind) -> &'static str {
    match kind {
        RowKind::Item => "item",
        RowKind::Subtotal => "subtotal",
        RowKind::Total => "total",
    }
}

/// The report as CSV.
pub fn render(report: &Report) -> Vec<u8> {
    let mut out = String::from("\u{feff}");
    let labels: Vec<String> = report.columns.iter().map(|c| field(&c.label)).collect();
    out.push_str(&labels.join(","));
    out.push(',');
    out.push_str(report.lang.pick("Строка", "Row"));
    out.push_str("\r\n");
    for row in &report.rows {
        let cells: Vec<String> = row.cells.iter().map(|c| field(&cell_text(c, report))).collect();
        out.push_str(&cells.join(","));
        out.push(',');
        out.push_str(kind_code(row.kind));
        out.push_str("\r\n");
    }
    out.into_bytes()
}
