//! A monthly consumption report for 10,000 meters on 100 sites (five
//! resources): the table built from the meters' month deltas, then
//! rendered as CSV, XLSX and PDF. Prints for each the median time of three
//! runs, the heap memory at its peak over what was live before, and the
//! output's size. Building the report's input (the store's deltas) is the
//! host's part; `tests/e2e/reports.rs` runs that path.
//!
//! `cargo bench -p meterhub-report --bench monthly [-- --meters N]`

use std::time::{Duration, Instant};

use meterhub_accounting::{Decimal, Delta, Period};
use meterhub_report::{Format, Header, Lang, MeterDeltas, Report};
use meterhub_testkit::alloc::Counting;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const RUNS: usize = 3;
const RESOURCES: [(&str, &str, &str); 5] = [
    ("gas", "volume", "m3"),
    ("electricity", "energy-import", "kWh"),
    ("heat", "heat-energy", "Gcal"),
    ("cold_water", "volume", "m3"),
    ("hot_water", "volume", "m3"),
];

/// March 2026 in Moscow.
const START_MS: i64 = 1_772_312_400_000;
const END_MS: i64 = 1_775_001_600_000;

fn meters(n: usize) -> Vec<MeterDeltas> {
    (0..n)
        .map(|i| {
            let (resource, channel, unit) = RESOURCES[i % RESOURCES.len()];
            let start = Decimal::new(1_000_000 + (i as i64) * 7_919, 3);
            let used = Decimal::new(10_000 + (i as i64 % 977) * 131, 3);
            MeterDeltas {
                meter: format!("m-{i:05}"),
                name: Some(format!("Квартира {}, подъезд {}", i % 300 + 1, i % 6 + 1)),
                site: Some(format!("ул. Строителей, {}", i / 100 + 1)),
                resource: Some(resource.to_owned()),
                account: Some(format!("ЛС {i:08}")),
                channel: channel.to_owned(),
                unit: unit.to_owned(),
                deltas: vec![Delta {
                    period: Period::Month,
                    start: "2026-03".to_owned(),
                    start_ms: START_MS,
                    end_ms: END_MS,
                    from_ms: START_MS,
                    to_ms: END_MS,
                    consumption: used,
                    start_value: start,
                    end_value: start + used,
                    estimated: i % 7 == 0,
                    in_progress: false,
                    partial_start: false,
                    conflict: i % 501 == 0,
                    rollovers: 0,
                    events: 0,
                    unexplained_decrease: false,
                    readings: vec![i as u64 * 2 + 1, i as u64 * 2 + 2],
                }],
            }
        })
        .collect()
}

fn header() -> Header {
    Header {
        parameters: vec![("Период".to_owned(), "март 2026".to_owned())],
        zone: jiff::tz::TimeZone::get("Europe/Moscow").expect("a zone"),
    }
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n = args
        .iter()
        .position(|a| a == "--meters")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let input = meters(n);
    println!("monthly consumption report, {n} meters on {} sites", n.div_ceil(100));
    let mut times = Vec::new();
    let mut built: Option<(Report, usize)> = None;
    for _ in 0..RUNS {
        let start = Instant::now();
        let (report, peak, _) = meterhub_testkit::alloc::measure(|| {
            meterhub_report::consumption(Lang::Ru, Period::Month, header(), &input, &[])
        });
        times.push(start.elapsed());
        built = Some((report, peak));
    }
    let (report, peak) = built.expect("a run");
    println!(
        "  build  {:>8.1} ms  peak {:>9}  rows {}",
        median(times).as_secs_f64() * 1e3,
        mib(peak),
        report.rows.len()
    );
    for format in [Format::Csv, Format::Xlsx, Format::Pdf] {
        let mut times = Vec::new();
        let mut last = (0, 0);
        for _ in 0..RUNS {
            let start = Instant::now();
            let (bytes, peak, _) =
                meterhub_testkit::alloc::measure(|| meterhub_report::render(&report, format).expect("rendered"));
            times.push(start.elapsed());
            last = (bytes.len(), peak);
        }
        println!(
            "  {:<5}  {:>8.1} ms  peak {:>9}  size {}",
            format.extension(),
            median(times).as_secs_f64() * 1e3,
            mib(last.1),
            mib(last.0)
        );
    }
}
