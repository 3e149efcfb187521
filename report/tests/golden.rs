//! Golden reports as data: readings and metadata in (`golden/<case>.json`),
//! report rows out (`golden/<case>.<report>.csv`), the same rows read back
//! from the XLSX and found in the PDF's text. `BLESS=1` writes the CSVs
//! anew; review the diff.

use std::path::{Path, PathBuf};

use calamine::{Data, Reader, Xlsx};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use meterhub_accounting::{Decimal, MeterSpec, Period, Reading, RegisterEvent, Series, deltas, period_at};
use meterhub_report::{Cell, Header, Lang, MeterDeltas, MeterReadings, Report, RowKind};
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    lang: String,
    zone: String,
    from: String,
    to: String,
    now: String,
    meters: Vec<Meter>,
}

#[derive(Deserialize)]
struct Meter {
    id: String,
    name: Option<String>,
    site: Option<String>,
    resource: Option<String>,
    account: Option<String>,
    channel: String,
    unit: String,
    period_s: Option<i64>,
    readings: Vec<(String, String)>,
    #[serde(default)]
    events: Vec<Event>,
    capacity: Option<Decimal>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Event {
    Replacement { at: String, old_final: Decimal, new_initial: Decimal },
}

fn ms(text: &str) -> i64 {
    text.parse::<Timestamp>().unwrap_or_else(|e| panic!("{text}: {e}")).as_millisecond()
}

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("golden")
}

/// The start of a local date in `spec`'s zone.
fn day_start(spec: &MeterSpec, zone: &TimeZone, date: &str) -> i64 {
    let noon = format!("{date}T12:00:00").parse::<jiff::civil::DateTime>().unwrap().to_zoned(zone.clone()).unwrap();
    period_at(spec, Period::Day, noon.timestamp().as_millisecond()).unwrap().start_ms
}

struct Built {
    case: Case,
    lang: Lang,
    zone: TimeZone,
    specs: Vec<MeterSpec>,
    series: Vec<Series>,
    from_ms: i64,
    to_ms: i64,
}

fn build(name: &str) -> Built {
    let text = std::fs::read_to_string(golden().join(format!("{name}.json"))).unwrap();
    let case: Case = serde_json::from_str(&text).unwrap();
    let zone = TimeZone::get(&case.zone).unwrap();
    let mut seq = 0;
    let mut specs = Vec::new();
    let mut series = Vec::new();
    for m in &case.meters {
        let events = m
            .events
            .iter()
            .map(|Event::Replacement { at, old_final, new_initial }| RegisterEvent::Replacement {
                at_ms: ms(at),
                old_final: *old_final,
                new_initial: *new_initial,
            })
            .collect();
        specs.push(MeterSpec::new(&case.zone, m.capacity, events).unwrap());
        series.push(Series::new(m.readings.iter().map(|(at, value)| {
            seq += 1;
            Reading { ts_ms: ms(at), value: value.parse().unwrap(), seq, conflict: false }
        })));
    }
    let lang = Lang::parse(&case.lang).unwrap();
    let from_ms = day_start(&specs[0], &zone, &case.from);
    let to_ms = day_start(&specs[0], &zone, &case.to);
    Built { case, lang, zone, specs, series, from_ms, to_ms }
}

fn header(b: &Built) -> Header {
    Header {
        parameters: vec![("Период".into(), format!("{} – {}", b.case.from, b.case.to))], zone: b.zone.clone()
    }
}

fn meter_deltas(b: &Built, period: Period) -> Vec<MeterDeltas> {
    b.case
        .meters
        .iter()
        .enumerate()
        .map(|(i, m)| MeterDeltas {
            meter: m.id.clone(),
            name: m.name.clone(),
            site: m.site.clone(),
            resource: m.resource.clone(),
            account: m.account.clone(),
            channel: m.channel.clone(),
            unit: m.unit.clone(),
            deltas: deltas(&b.series[i], &b.specs[i], period, b.from_ms, b.to_ms),
        })
        .collect()
}

/// Months when the range is whole months (as the host does), else days.
fn boundary_period(b: &Built) -> Period {
    if b.case.from.ends_with("-01") && b.case.to.ends_with("-01") { Period::Month } else { Period::Day }
}

fn reports(name: &str) -> Vec<(&'static str, Report)> {
    let b = build(name);
    let readings: Vec<MeterReadings> = b
        .case
        .meters
        .iter()
        .map(|m| {
            let mut at: Vec<i64> = m.readings.iter().map(|(t, _)| ms(t)).collect();
            at.sort_unstable();
            at.dedup();
            MeterReadings {
                meter: m.id.clone(),
                name: m.name.clone(),
                site: m.site.clone(),
                period_ms: m.period_s.map(|s| s * 1000),
                zone: b.zone.clone(),
                readings_ms: at,
                from_ms: b.from_ms,
                to_ms: b.to_ms,
            }
        })
        .collect();
    vec![
        ("daily", meterhub_report::consumption(b.lang, Period::Day, header(&b), &meter_deltas(&b, Period::Day), &[])),
        (
            "monthly",
            meterhub_report::consumption(b.lang, Period::Month, header(&b), &meter_deltas(&b, Period::Month), &[]),
        ),
        ("boundaries", meterhub_report::boundaries(b.lang, header(&b), &meter_deltas(&b, boundary_period(&b)), &[])),
        ("completeness", meterhub_report::completeness(b.lang, header(&b), &readings, ms(&b.case.now))),
    ]
}

fn check_csv(name: &str, which: &str, report: &Report) -> String {
    let csv = String::from_utf8(meterhub_report::csv::render(report)).unwrap();
    let path = golden().join(format!("{name}.{which}.csv"));
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, &csv).unwrap();
    }
    let expected =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e} (BLESS=1 writes it)", path.display()));
    assert_eq!(csv, expected, "{name}.{which}: the CSV differs from {}", path.display());
    csv
}

/// The XLSX's table, read back with calamine, holds the same values as the
/// report's cells.
fn check_xlsx(name: &str, which: &str, report: &Report) {
    let bytes = meterhub_report::xlsx::render(report).unwrap();
    let mut book = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
    let sheet = book.worksheet_range_at(0).unwrap().unwrap();
    let rows: Vec<&[Data]> = sheet.rows().collect();
    let header_at = rows
        .iter()
        .position(|r| r.first().is_some_and(|c| c.to_string() == report.columns[0].label))
        .unwrap_or_else(|| panic!("{name}.{which}: no header row in the XLSX"));
    assert_eq!(rows[0][0].to_string(), report.title);
    for (i, row) in report.rows.iter().enumerate() {
        let got = rows[header_at + 1 + i];
        for (j, cell) in row.cells.iter().enumerate() {
            let at = got.get(j).unwrap_or(&Data::Empty);
            let ok = match (cell, at) {
                (Cell::Empty, Data::Empty) => true,
                (Cell::Text(t), Data::String(s)) => t == s,
                (Cell::Number(n), Data::Float(f)) => n.to_string().parse::<f64>().unwrap() == *f,
                (Cell::Count(n), Data::Float(f)) => *n as f64 == *f,
                (Cell::Time(ms), Data::DateTime(d)) => {
                    let local = Timestamp::from_millisecond(*ms).unwrap().to_zoned(report.zone.clone()).datetime();
                    // A sheet's date: days since 1899-12-30, the time of day a fraction.
                    let epoch = jiff::civil::date(1899, 12, 30).at(0, 0, 0, 0);
                    let seconds = local.duration_since(epoch).as_secs_f64();
                    (d.as_f64() - seconds / 86_400.0).abs() < 1e-7
                }
                _ => false,
            };
            assert!(
                ok,
                "{name}.{which}: row {i} column {}: {cell:?} in the report, {at:?} in the XLSX",
                report.columns[j].key
            );
        }
    }
}

/// The PDF's extracted text holds the title and every row's numbers, as
/// the page shows them, in order.
fn check_pdf(name: &str, which: &str, report: &Report) {
    let bytes = meterhub_report::pdf::render(report).unwrap();
    let text = pdf_extract::extract_text_from_mem(&bytes).unwrap();
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let squeeze = |s: &str| s.replace(['\u{202f}', ' '], "");
    let haystack = squeeze(&flat);
    assert!(haystack.contains(&squeeze(&report.title)), "{name}.{which}: no title in the PDF text: {flat}");
    let mut from = 0;
    for row in &report.rows {
        for cell in &row.cells {
            if matches!(cell, Cell::Number(_) | Cell::Count(_)) {
                let shown = squeeze(&meterhub_report::pdf::cell_text(cell, report));
                match haystack[from..].find(&shown) {
                    Some(at) => from += at + shown.len(),
                    None => panic!("{name}.{which}: {shown} not found in order in the PDF text: {flat}"),
                }
            }
        }
    }
}

fn check(name: &str) {
    for (which, report) in reports(name) {
        check_csv(name, which, &report);
        check_xlsx(name, which, &report);
        check_pdf(name, which, &report);
    }
}

#[test]
fn a_dst_day_has_23_hours_of_consumption_and_of_expected_readings() {
    check("dst_day");
    let (_, daily) = &reports("dst_day")[0];
    let day_29: Vec<_> = daily.rows.iter().filter(|r| r.cells[6] == Cell::Text("29.03.2026".into())).collect();
    // gas-101 reads 0.5 m³ an hour: 23 hours.
    assert_eq!(day_29[0].cells[9], Cell::Number("11.500".parse().unwrap()));
}

#[test]
fn month_ends_are_interpolated_and_the_days_add_up_to_the_month() {
    check("month_end");
    let all = reports("month_end");
    let (daily, monthly) = (&all[0].1, &all[1].1);
    let sum = |r: &Report, meter: &str, month: &str| -> Decimal {
        r.rows
            .iter()
            .filter(|row| row.kind == RowKind::Item && row.cells[2] == Cell::Text(meter.into()))
            .filter(|row| matches!(&row.cells[6], Cell::Text(p) if p.ends_with(month)))
            .map(|row| match row.cells[9] {
                Cell::Number(n) => n,
                _ => Decimal::ZERO,
            })
            .sum()
    };
    for meter in ["heat-7", "el-3"] {
        assert_eq!(sum(daily, meter, ".02.2026"), sum(monthly, meter, "февраль 2026"), "{meter}");
    }
}

#[test]
fn a_replacement_books_both_registers() {
    check("replacement");
    let (_, boundaries) = &reports("replacement")[2];
    let row = &boundaries.rows[0];
    assert_eq!(row.cells[11], Cell::Number("30.650".parse().unwrap()), "(523.400 − 500.000) + (7.250 − 0.000)");
    assert!(matches!(&row.cells[12], Cell::Text(f) if f.contains("замена")));
}

#[test]
fn a_conflict_is_flagged_on_every_delta_resting_on_it() {
    check("conflict");
    let (_, daily) = &reports("conflict")[0];
    let flagged: Vec<bool> = daily
        .rows
        .iter()
        .filter(|r| r.kind == RowKind::Item)
        .map(|r| matches!(&r.cells[10], Cell::Text(f) if f.contains("conflict")))
        .collect();
    assert_eq!(flagged, vec![true, true, false]);
}

/// Writes the golden reports' PDFs and XLSXs to `target/artefacts/reports/`
/// for a person to look at.
#[test]
fn the_golden_reports_are_kept_as_files_to_look_at() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/artefacts/reports");
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["dst_day", "month_end", "replacement", "conflict"] {
        for (which, report) in reports(name) {
            std::fs::write(dir.join(format!("{name}.{which}.pdf")), meterhub_report::pdf::render(&report).unwrap())
                .unwrap();
            std::fs::write(dir.join(format!("{name}.{which}.xlsx")), meterhub_report::xlsx::render(&report).unwrap())
                .unwrap();
        }
    }
}
