//! Accounting: the deltas consumer's cost, in process, over a real
//! `SledArchive` and `AccountingStore` in a temporary directory.
//!
//! - fill: `meters` meters with one cumulative register each, one reading
//!   per hour for `hours` hours, applied to the archive one frame per hour
//!   (all meters), 24 frames per apply (not the accounting's cost; shown);
//! - initial: a fresh accounting store and consumer, stepped until idle:
//!   time, readings/s, peak RSS growth, store size on disk;
//! - incremental: `updates` more hours, each applied and then consumed:
//!   median time per hour of all meters, and per reading;
//! - latency: `samples` single readings of one meter, each applied and then
//!   consumed until its in-progress day shows it: median and p99 of the
//!   time from the archive's commit to the stored delta. In the running
//!   host the pipeline's live bus wakes the consumer (a hint; it reads the
//!   log), so a task switch adds to this, not the 200 ms fallback poll;
//! - late: a reading back-filled in the middle of the range: time to
//!   recompute what it touches.
//!
//! The scale, a year for 1,000 meters (8.76 M readings):
//! `scripts/bench accounting --meters 1000 --hours 8760`.
//!
//! | argument        | environment                         | default |
//! |-----------------|-------------------------------------|---------|
//! | `--meters N`    | `METERHUB_BENCH_ACCT_METERS`        | 100 |
//! | `--hours H`     | `METERHUB_BENCH_ACCT_HOURS`         | 2160 (90 days) |
//! | `--updates N`   | `METERHUB_BENCH_ACCT_UPDATES`       | 24 |
//! | `--samples N`   | `METERHUB_BENCH_ACCT_SAMPLES`       | 50 |
//! | `--keep`        | `METERHUB_BENCH_KEEP=1`             | remove the data dir |

use std::sync::Arc;
use std::time::{Duration, Instant};

use meterhub::accounting::{AccountingStore, Consumer};
use meterhub_accounting::Period;
use meterhub_plugin_api::{Decimal, Decoded, RawFrame, Reading, ReadingKind, Transport};
use meterhub_storage::archive::{ApplyItem, Archive, SledArchive, Verdict};
use meterhub_storage::journal::{Entry, JournalRecord};

use meterhub_testkit::bench::Args;

/// 2025-01-01T00:00:00Z.
const T0: i64 = 1_735_689_600_000;
const HOUR: i64 = 3_600_000;

struct Feeder {
    archive: Arc<SledArchive>,
    seq: u64,
    meters: usize,
}

impl Feeder {
    fn frame(&mut self, readings: Vec<Reading>) -> ApplyItem {
        self.seq += 1;
        let frame = RawFrame {
            seq: self.seq,
            source: "bench".into(),
            peer: "127.0.0.1:1".into(),
            received_at_ms: T0,
            transport: Transport::Tcp,
            content_type: "bench".into(),
            meta: vec![],
            payload: vec![],
        };
        ApplyItem {
            record: JournalRecord { seq: self.seq, entry: Entry::Frame(frame) },
            verdict: Some(Verdict::Decoded(Decoded { readings, ..Decoded::default() })),
        }
    }

    fn hour(&mut self, h: i64) -> ApplyItem {
        let readings = (0..self.meters).map(|m| reading(m, h, value(m, h))).collect();
        self.frame(readings)
    }
}

fn reading(meter: usize, h: i64, value: Decimal) -> Reading {
    Reading {
        device: format!("meter-{meter:05}"),
        channel: "volume".into(),
        ts_ms: T0 + h * HOUR,
        value,
        unit: "m3".into(),
        kind: ReadingKind::Cumulative,
    }
}

/// A register growing by 0.001..0.051 m3 an hour, in thousandths.
fn value(meter: usize, h: i64) -> Decimal {
    let step = 1 + (meter as i64 * 7 + h * 13) % 51;
    Decimal::new(h * 26 + step + meter as i64 * 1000, 3)
}

fn rss_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn dir_bytes(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_bytes(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

fn run_until_idle(consumer: &Consumer) {
    while !consumer.step().expect("step").idle() {}
}

fn median(values: &mut [Duration]) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn main() {
    let args = Args::parse(
        &[
            ("--meters", "METERHUB_BENCH_ACCT_METERS"),
            ("--hours", "METERHUB_BENCH_ACCT_HOURS"),
            ("--updates", "METERHUB_BENCH_ACCT_UPDATES"),
            ("--samples", "METERHUB_BENCH_ACCT_SAMPLES"),
        ],
        |_| None,
        "accounting",
    );
    let meters: usize = args.positive("--meters", 100);
    let hours: i64 = args.positive("--hours", 2160);
    let updates: i64 = args.positive("--updates", 24);
    let samples: usize = args.positive("--samples", 50);
    let dir = tempfile::Builder::new().prefix("meterhub-bench-acct-").tempdir().expect("temp dir");
    let archive = Arc::new(SledArchive::open(&dir.path().join("archive")).expect("archive"));
    let mut feeder = Feeder { archive: archive.clone(), seq: 0, meters };
    let readings = meters as u64 * hours as u64;
    println!("accounting bench: {meters} meters x {hours} hours = {readings} readings");

    let started = Instant::now();
    for day in (0..hours).step_by(24) {
        let items: Vec<ApplyItem> = (day..(day + 24).min(hours)).map(|h| feeder.hour(h)).collect();
        feeder.archive.apply(items).expect("apply");
    }
    feeder.archive.flush().expect("flush");
    println!("fill:        {:>10.1} s (archive apply, not accounting)", started.elapsed().as_secs_f64());

    let store = Arc::new(AccountingStore::open(&dir.path().join("accounting")).expect("store"));
    let consumer = Consumer::new(archive.clone(), store.clone(), "Europe/Moscow");
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let rss_before = rss_kib("VmRSS:");
    let started = Instant::now();
    run_until_idle(&consumer);
    let initial = started.elapsed();
    store.flush().expect("flush");
    let peak = rss_kib("VmHWM:");
    println!(
        "initial:     {:>10.1} s, {:.0} readings/s; peak RSS {} MiB ({} MiB before); store {} MiB",
        initial.as_secs_f64(),
        readings as f64 / initial.as_secs_f64(),
        peak / 1024,
        rss_before / 1024,
        dir_bytes(&dir.path().join("accounting")) / (1024 * 1024)
    );

    let mut per_hour = Vec::new();
    for h in hours..hours + updates {
        let item = feeder.hour(h);
        feeder.archive.apply(vec![item]).expect("apply");
        let started = Instant::now();
        run_until_idle(&consumer);
        per_hour.push(started.elapsed());
    }
    let m = median(&mut per_hour);
    println!(
        "incremental: {:>10.1} ms per hour of {meters} meters (median of {updates}), {:.1} us per reading",
        m.as_secs_f64() * 1e3,
        m.as_secs_f64() * 1e6 / meters as f64
    );

    let mut latencies = Vec::new();
    let last_hour = hours + updates;
    for i in 0..samples {
        let ts_h = last_hour + i as i64;
        let item = feeder.frame(vec![reading(0, ts_h, value(0, ts_h))]);
        let started = Instant::now();
        feeder.archive.apply(vec![item]).expect("apply");
        run_until_idle(&consumer);
        let days = store
            .deltas("meter-00000", Some("volume"), Period::Day, T0 + (ts_h - 48) * HOUR, i64::MAX)
            .expect("deltas");
        assert!(days.last().is_some_and(|(_, d)| d.to_ms == T0 + ts_h * HOUR), "the delta shows the reading");
        latencies.push(started.elapsed());
    }
    latencies.sort();
    println!(
        "latency:     {:>10.2} ms median, {:.2} ms p99 from apply to stored delta ({samples} readings)",
        latencies[latencies.len() / 2].as_secs_f64() * 1e3,
        latencies[(latencies.len() * 99 / 100).min(latencies.len() - 1)].as_secs_f64() * 1e3
    );

    let middle = hours / 2;
    let late = Reading { ts_ms: T0 + middle * HOUR + HOUR / 2, ..reading(1, middle, value(1, middle)) };
    let item = feeder.frame(vec![late]);
    let started = Instant::now();
    feeder.archive.apply(vec![item]).expect("apply");
    run_until_idle(&consumer);
    println!("late:        {:>10.2} ms for one back-filled reading mid-range", started.elapsed().as_secs_f64() * 1e3);

    if args.keep {
        println!("kept {}", dir.keep().display());
    }
}
