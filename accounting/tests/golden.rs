//! Golden scenarios: `golden/*.toml`, one scenario per file, each a meter, its
//! readings (and readings that arrive late) and the deltas expected, worked
//! out by hand in the file's comments. Every file is also checked for what
//! must hold of any input: incremental = full, order and duplicates change
//! nothing, daily deltas add up to the monthly ones.
//!
//! `METERHUB_GOLDEN_PRINT=1` prints the computed deltas of every scenario in
//! the files' format (to compare with a hand computation, never to paste
//! unread).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use meterhub_accounting::{Decimal, Delta, MeterSpec, Period, Reading, RegisterEvent, Series, deltas};
use serde::Deserialize;

use crate::support::{full, incremental, months_not_summing};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    /// What the scenario shows.
    #[allow(dead_code, reason = "documentation for the reader of the file")]
    description: String,
    meter: Meter,
    readings: Vec<GoldenReading>,
    /// Readings that arrive after the deltas in `before_*` were computed.
    #[serde(default)]
    late: Vec<GoldenReading>,
    /// Check only the periods overlapping `[from, to)` (all when absent).
    window: Option<Window>,
    before_day: Option<Vec<Expected>>,
    before_month: Option<Vec<Expected>>,
    day: Option<Vec<Expected>>,
    month: Option<Vec<Expected>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Window {
    from: String,
    to: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Meter {
    zone: String,
    capacity: Option<Decimal>,
    #[serde(default)]
    events: Vec<GoldenEvent>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
enum GoldenEvent {
    Replacement { at: String, old_final: Decimal, new_initial: Decimal },
    Reset { at: String, value_before: Option<Decimal>, value_after: Decimal },
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct GoldenReading {
    at: String,
    value: Decimal,
    seq: u64,
    #[serde(default)]
    conflict: bool,
}

/// An expected delta; flags default to false and counts to 0, `from`/`to`
/// to the period's bounds (not partial, not in progress).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    start: String,
    /// The period's length in hours, when the scenario is about it.
    hours: Option<i64>,
    /// The period's first instant, when the scenario is about it.
    period_start: Option<String>,
    from: Option<String>,
    to: Option<String>,
    consumption: Decimal,
    start_value: Decimal,
    end_value: Decimal,
    #[serde(default)]
    estimated: bool,
    #[serde(default)]
    in_progress: bool,
    #[serde(default)]
    partial_start: bool,
    #[serde(default)]
    conflict: bool,
    #[serde(default)]
    rollovers: u32,
    #[serde(default)]
    events: u32,
    #[serde(default)]
    unexplained_decrease: bool,
    readings: Vec<u64>,
}

#[test]
fn golden_scenarios() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("golden");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .expect("the golden folder")
        .map(|entry| entry.expect("a golden entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 15, "expected the golden scenarios in {}, found {}", folder.display(), files.len());
    let print = std::env::var_os("METERHUB_GOLDEN_PRINT").is_some();
    let mut failures = String::new();
    for file in &files {
        let name = file.file_name().unwrap_or_default().to_string_lossy().into_owned();
        if let Err(failure) = check(file, print) {
            let _ = writeln!(failures, "golden/{name}:\n{failure}");
        }
    }
    assert!(failures.is_empty(), "golden scenarios differ:\n{failures}");
}

fn check(file: &Path, print: bool) -> Result<(), String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("  unreadable: {e}"))?;
    let scenario: Scenario = toml::from_str(&text).map_err(|e| format!("  not a scenario: {e}"))?;
    let zone = TimeZone::get(&scenario.meter.zone).map_err(|e| format!("  zone: {e}"))?;
    let events = scenario.meter.events.iter().map(event).collect::<Result<Vec<_>, _>>()?;
    let spec = MeterSpec::new(&scenario.meter.zone, scenario.meter.capacity, events).map_err(|e| format!("  {e}"))?;
    let on_time = scenario.readings.iter().map(reading).collect::<Result<Vec<_>, _>>()?;
    let late = scenario.late.iter().map(reading).collect::<Result<Vec<_>, _>>()?;
    let all: Vec<Reading> = on_time.iter().chain(&late).cloned().collect();

    let mut failures = String::new();
    let expectations = [
        ("before_day", Period::Day, &on_time, &scenario.before_day),
        ("before_month", Period::Month, &on_time, &scenario.before_month),
        ("day", Period::Day, &all, &scenario.day),
        ("month", Period::Month, &all, &scenario.month),
    ];
    let window = match &scenario.window {
        Some(window) => (millis(&window.from)?, millis(&window.to)?),
        None => (i64::MIN, i64::MAX),
    };
    for (name, period, readings, expected) in expectations {
        let actual = deltas(&Series::new(readings.iter().cloned()), &spec, period, window.0, window.1);
        if print && (expected.is_some() || !name.starts_with("before")) {
            println!("# {} [{name}]\n{}", file.display(), print_rows(name, &actual, &zone));
        }
        if let Some(expected) = expected {
            failures.push_str(&compare(name, expected, &actual, &zone));
        }
    }
    for (readings, label) in [(&on_time, "on-time readings"), (&all, "all readings")] {
        failures.push_str(&invariants(readings, &spec, label));
    }
    if failures.is_empty() { Ok(()) } else { Err(failures) }
}

/// What holds of any scenario, whatever it expects.
fn invariants(readings: &[Reading], spec: &MeterSpec, label: &str) -> String {
    let mut failures = String::new();
    let mut computed = Vec::new();
    for period in [Period::Day, Period::Month] {
        let from_scratch = full(readings, spec, period);
        let reversed: Vec<Reading> = readings.iter().rev().cloned().collect();
        let twice: Vec<Reading> = readings.iter().chain(readings).cloned().collect();
        let checks = [
            ("incremental (in file order) differs from full", incremental(readings, spec, period)),
            ("incremental (reversed) differs from full", incremental(&reversed, spec, period)),
            ("every reading twice differs from once", full(&twice, spec, period)),
        ];
        for (what, other) in checks {
            if other != from_scratch {
                let _ = writeln!(failures, "  {label}, {period:?}: {what}:\n{}", side_by_side(&from_scratch, &other));
            }
        }
        computed.push(from_scratch);
    }
    for (month, total, sum) in months_not_summing(&computed[0], &computed[1]) {
        let _ = writeln!(failures, "  {label}: month {month} is {total} but its days add up to {sum}");
    }
    failures
}

fn compare(name: &str, expected: &[Expected], actual: &[Delta], zone: &TimeZone) -> String {
    let mut out = String::new();
    let rows = expected.len().max(actual.len());
    for row in 0..rows {
        let want = expected.get(row).map(|e| render_expected(e, actual.get(row), zone));
        let got = actual.get(row).map(|a| render(a, zone));
        if want == got {
            continue;
        }
        let label = expected.get(row).map(|e| e.start.as_str()).or(actual.get(row).map(|a| a.start.as_str()));
        let _ = writeln!(out, "  [[{name}]] #{row} ({}):", label.unwrap_or("?"));
        let (want, got) = (want.unwrap_or_default(), got.unwrap_or_default());
        let keys: Vec<&String> = want.iter().chain(&got).map(|(k, _)| k).collect();
        let mut seen = Vec::new();
        for key in keys {
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let value = |side: &[(String, String)]| side.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
            match (value(&want), value(&got)) {
                (w, g) if w == g => {}
                (w, g) => {
                    let _ = writeln!(out, "    - {key} = {}", w.unwrap_or_else(|| "(no such delta)".into()));
                    let _ = writeln!(out, "    + {key} = {}", g.unwrap_or_else(|| "(no such delta)".into()));
                }
            }
        }
    }
    out
}

type Rendered = Vec<(String, String)>;

/// A delta as `key = value` lines; decimals normalised (equal numbers, equal
/// text), instants as RFC 3339 in the meter's zone.
fn render(delta: &Delta, zone: &TimeZone) -> Rendered {
    vec![
        ("start".into(), delta.start.clone()),
        ("hours".into(), hours(delta).to_string()),
        ("period_start".into(), instant_text(delta.start_ms, zone)),
        ("from".into(), instant_text(delta.from_ms, zone)),
        ("to".into(), instant_text(delta.to_ms, zone)),
        ("consumption".into(), delta.consumption.normalize().to_string()),
        ("start_value".into(), delta.start_value.normalize().to_string()),
        ("end_value".into(), delta.end_value.normalize().to_string()),
        ("estimated".into(), delta.estimated.to_string()),
        ("in_progress".into(), delta.in_progress.to_string()),
        ("partial_start".into(), delta.partial_start.to_string()),
        ("conflict".into(), delta.conflict.to_string()),
        ("rollovers".into(), delta.rollovers.to_string()),
        ("events".into(), delta.events.to_string()),
        ("unexplained_decrease".into(), delta.unexplained_decrease.to_string()),
        ("readings".into(), format!("{:?}", delta.readings)),
    ]
}

/// The expected row in the same form. Left out: `hours` and `period_start`
/// are not checked (taken from the actual delta), `from`/`to` are the
/// period's bounds.
fn render_expected(expected: &Expected, actual: Option<&Delta>, zone: &TimeZone) -> Rendered {
    let instant = |text: &Option<String>, default: Option<i64>| match (text, default) {
        (Some(text), _) => millis(text).map_or_else(|e| e, |ms| instant_text(ms, zone)),
        (None, Some(ms)) => instant_text(ms, zone),
        (None, None) => "?".into(),
    };
    let (start_ms, end_ms) = (actual.map(|a| a.start_ms), actual.map(|a| a.end_ms));
    vec![
        ("start".into(), expected.start.clone()),
        ("hours".into(), expected.hours.or(actual.map(hours)).map_or("?".into(), |h| h.to_string())),
        ("period_start".into(), instant(&expected.period_start, start_ms)),
        ("from".into(), instant(&expected.from, start_ms)),
        ("to".into(), instant(&expected.to, end_ms)),
        ("consumption".into(), expected.consumption.normalize().to_string()),
        ("start_value".into(), expected.start_value.normalize().to_string()),
        ("end_value".into(), expected.end_value.normalize().to_string()),
        ("estimated".into(), expected.estimated.to_string()),
        ("in_progress".into(), expected.in_progress.to_string()),
        ("partial_start".into(), expected.partial_start.to_string()),
        ("conflict".into(), expected.conflict.to_string()),
        ("rollovers".into(), expected.rollovers.to_string()),
        ("events".into(), expected.events.to_string()),
        ("unexplained_decrease".into(), expected.unexplained_decrease.to_string()),
        ("readings".into(), format!("{:?}", expected.readings)),
    ]
}

fn hours(delta: &Delta) -> i64 {
    (delta.end_ms - delta.start_ms) / 3_600_000
}

fn instant_text(ms: i64, zone: &TimeZone) -> String {
    Timestamp::from_millisecond(ms)
        .map_or_else(|_| ms.to_string(), |t| t.display_with_offset(zone.to_offset(t)).to_string())
}

fn side_by_side(expected: &[Delta], actual: &[Delta]) -> String {
    let mut out = String::new();
    for row in 0..expected.len().max(actual.len()) {
        let (e, a) = (expected.get(row), actual.get(row));
        if e != a {
            let _ = writeln!(out, "    full:  {e:?}\n    other: {a:?}");
        }
    }
    out
}

fn print_rows(name: &str, deltas: &[Delta], zone: &TimeZone) -> String {
    let mut out = String::new();
    for delta in deltas {
        let _ = writeln!(out, "[[{name}]]");
        for (key, value) in render(delta, zone) {
            let _ = writeln!(out, "{key} = {value}");
        }
    }
    out
}

fn millis(text: &str) -> Result<i64, String> {
    text.parse::<Timestamp>().map(Timestamp::as_millisecond).map_err(|e| format!("  instant {text:?}: {e}"))
}

fn reading(golden: &GoldenReading) -> Result<Reading, String> {
    Ok(Reading { ts_ms: millis(&golden.at)?, value: golden.value, seq: golden.seq, conflict: golden.conflict })
}

fn event(golden: &GoldenEvent) -> Result<RegisterEvent, String> {
    Ok(match golden {
        GoldenEvent::Replacement { at, old_final, new_initial } => {
            RegisterEvent::Replacement { at_ms: millis(at)?, old_final: *old_final, new_initial: *new_initial }
        }
        GoldenEvent::Reset { at, value_before, value_after } => {
            RegisterEvent::Reset { at_ms: millis(at)?, value_before: *value_before, value_after: *value_after }
        }
    })
}
