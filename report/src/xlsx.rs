//! XLSX with rust_xlsxwriter: the title and parameters above the table, the
//! column labels as a frozen, filtered header, numbers as numbers with
//! their own number of decimals, times as spreadsheet dates in the report's
//! zone, sums in bold, the notes under the table.

use std::collections::HashMap;

use jiff::Timestamp;
use rust_decimal::prelude::ToPrimitive;
use rust_xlsxwriter::{ExcelDateTime, Format, FormatAlign, Workbook, XlsxError};

use crate::table::{Align, Cell, Report, RowKind};

/// Number formats by decimal places, made once each.
struct Formats {
    by_scale: HashMap<(u32, bool), Format>,
    text: Format,
    text_bold: Format,
    time: Format,
    time_bold: Format,
}

impl Formats {
    fn new() -> Formats {
        Formats {
            by_scale: HashMap::new(),
            text: Format::new(),
            text_bold: Format::new().set_bold(),
            time: Format::new().set_num_format("dd.mm.yyyy hh:mm:ss").set_align(FormatAlign::Left),
            time_bold: Format::new().set_num_format("dd.mm.yyyy hh:mm:ss").set_align(FormatAlign::Left).set_bold(),
        }
    }

    fn number(&mut self, scale: u32, bold: bool) -> &Format {
        self.by_scale.entry((scale, bold)).or_insert_with(|| {
            let pattern = if scale == 0 { "#,##0".to_owned() } else { format!("#,##0.{}", "0".repeat(scale as usize)) };
            let format = Format::new().set_num_format(pattern);
            if bold { format.set_bold() } else { format }
        })
    }
}

/// The report as an XLSX workbook of one sheet.
pub fn render(report: &Report) -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name(report.lang.pick("Отчёт", "Report"))?;
    let mut formats = Formats::new();
    let title = Format::new().set_bold().set_font_size(14);
    sheet.write_string_with_format(0, 0, &report.title, &title)?;
    let mut row: u32 = 1;
    for (label, value) in &report.parameters {
        sheet.write_string_with_format(row, 0, label, &formats.text_bold)?;
        sheet.write_string(row, 1, value)?;
        row += 1;
    }
    row += 1;
    let header_row = row;
    let header = Format::new()
        .set_bold()
        .set_text_wrap()
        .set_background_color("#E6E9EE")
        .set_border_bottom(rust_xlsxwriter::FormatBorder::Thin);
    for (col, column) in report.columns.iter().enumerate() {
        let col = col as u16;
        let header =
            if column.align == Align::Right { header.clone().set_align(FormatAlign::Right) } else { header.clone() };
        sheet.write_string_with_format(header_row, col, &column.label, &header)?;
        sheet.set_column_width(col, f64::from(column.width) * 11.0)?;
    }
    for r in &report.rows {
        row += 1;
        let bold = r.kind != RowKind::Item;
        for (col, cell) in r.cells.iter().enumerate() {
            let col = col as u16;
            match cell {
                Cell::Empty => {}
                Cell::Text(text) => {
                    let format = if bold { &formats.text_bold } else { &formats.text };
                    sheet.write_string_with_format(row, col, text, format)?;
                }
                Cell::Number(n) => {
                    // Exact to 15 significant digits, as far as a sheet's
                    // numbers go; the CSV keeps every digit.
                    let value = n.to_f64().unwrap_or(f64::NAN);
                    sheet.write_number_with_format(row, col, value, formats.number(n.scale(), bold))?;
                }
                Cell::Count(n) => {
                    sheet.write_number_with_format(row, col, *n as f64, formats.number(0, bold))?;
                }
                Cell::Time(ms) => match local_datetime(*ms, report) {
                    Some(at) => {
                        let format = if bold { &formats.time_bold } else { &formats.time };
                        sheet.write_datetime_with_format(row, col, &at, format)?;
                    }
                    None => {
                        sheet.write_string(row, col, ms.to_string())?;
                    }
                },
            }
        }
    }
    if !report.rows.is_empty() {
        sheet.autofilter(header_row, 0, row, report.columns.len().saturating_sub(1) as u16)?;
    }
    sheet.set_freeze_panes(header_row + 1, 0)?;
    row += 2;
    for note in &report.notes {
        sheet.write_string(row, 0, note)?;
        row += 1;
    }
    workbook.save_to_buffer()
}

/// An instant as the local date and time of the report's zone.
fn local_datetime(ms: i64, report: &Report) -> Option<ExcelDateTime> {
    let local = Timestamp::from_millisecond(ms).ok()?.to_zoned(report.zone.clone()).datetime();
    let date =
        ExcelDateTime::from_ymd(u16::try_from(local.year()).ok()?, local.month() as u8, local.day() as u8).ok()?;
    date.and_hms(local.hour() as u16, local.minute() as u8, f64::from(local.second())).ok()
}
