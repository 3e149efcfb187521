//! Sinks: how fast the `postgres` sink moves the archive into PostgreSQL,
//! and how it drains the backlog of a database outage while ingestion goes
//! on (the goal: the sink drains at >= 5x the ingest rate, and
//! ingestion is not affected). The real `meterhub` binary, the real
//! `postgres` sink plugin, a real PostgreSQL. Two parts:
//!
//! - `throughput`: a fresh host without a sink takes `readings` readings
//!   over TCP as fast as it can (`connections` listener connections, each
//!   keeping `window` lines unanswered, as `benches/ingest.rs` pipelines);
//!   once the archive holds them all and the host is idle (the accounting
//!   has made its deltas), the sink is added by hot reload (the config file
//!   rewritten, the new generation awaited in `/api/v1/config`). Timed from
//!   the rewrite: the sink connected (schema made), every reading in
//!   PostgreSQL (`position` = the archive's head: readings rows/s), and
//!   `lag_records` 0 (deltas, meters and modules written too: rows/s of all
//!   tables, counted with `SELECT count(*)`). The database is a throwaway
//!   cluster (`testkit::postgres::Cluster`: `initdb` defaults, fsync on),
//!   or with `--database shared` a schema of its own on the shared server
//!   (127.0.0.1:5432, database `test`, trust auth; others may use it).
//! - `drain`: a fresh host with the sink on a throwaway cluster; a paced
//!   feeder sends `rate` readings/s over `feeders` TCP connections and times
//!   every acknowledgement (line written -> its ok answer read). Phase
//!   `calm` (`calm` seconds, the sink healthy); then the cluster is stopped
//!   (`pg_ctl -m immediate`) for `outage-seconds`, ingestion going on; then
//!   it starts again, and the feeder goes on at the same rate while the sink
//!   drains: the time until `lag_records` is 0 again, the drain rate
//!   (readings written in that time, which is the backlog at resume plus
//!   what was ingested meanwhile, over that time), its ratio to the ingest
//!   rate measured over the same time, the ack p50/p99
//!   during the drain beside `calm`, and the largest `lag_seconds` seen. The
//!   time from the database's return to the sink's first write is the
//!   sink's retry backoff (`retry_max_ms`, 60 s by default): the drain rate
//!   is given from the return (what an operator sees) and from the first
//!   write (what the sink writes once connected).
//!
//! Readings: `meters` meters, each sent on one connection, every reading a
//! new one (`step-ms` apart from a year ago on, cumulative values growing),
//! so the accounting makes day and month deltas of them. The sink runs with
//! its defaults (`batch_records` 2000, `linger_ms` 100, `retry_min_ms` 500,
//! `retry_max_ms` 60000) plus `METERHUB_BENCH_SINK_KEYS`. The plugins
//! (listener, postgres) are copied from `target/plugins/<kind>` into the
//! bench's directory first, so a rebuild there during a run changes nothing;
//! the output says whether they are a release build. Afterwards every run
//! checks that PostgreSQL holds exactly the acknowledged readings and the
//! archive's counters balance. Host, PostgreSQL and this client share the
//! machine's cores; the output says how much CPU each used.
//!
//! Build first (`scripts/bench sink` builds the plugins and the host in
//! release and runs this), then `cargo bench -p meterhub --bench sink [-- options]`:
//! - sink throughput, the 200,000 readings: `cargo bench -p meterhub --bench sink -- throughput`
//! - the drain (30 s calm, a 10-minute outage at 1,000 readings/s):
//!   `cargo bench -p meterhub --bench sink -- drain`
//! - a quick run of both: `cargo bench -p meterhub --bench sink -- --readings 50000 --calm 10 --outage-seconds 60`
//!
//! | argument              | environment                      | default |
//! |-----------------------|----------------------------------|---------|
//! | `--part P` or `P`     | `METERHUB_BENCH_SINK_PART`       | `both` (`throughput`, `drain`, `both`) |
//! | `--readings N`        | `METERHUB_BENCH_READINGS`        | 200000 (throughput; rounded up to a multiple of the connections) |
//! | `--connections C`     | `METERHUB_BENCH_CONNECTIONS`     | 8 (throughput ingest) |
//! | `--window W`          | `METERHUB_BENCH_WINDOW`          | 64 (throughput ingest) |
//! | `--database D`        | `METERHUB_BENCH_SINK_DATABASE`   | `cluster` (throughput: `cluster`, `shared`; drain: always a cluster) |
//! | `--rate R`            | `METERHUB_BENCH_RATE`            | 1000 readings/s (drain) |
//! | `--feeders F`         | `METERHUB_BENCH_FEEDERS`         | 4 connections (drain) |
//! | `--calm S`            | `METERHUB_BENCH_CALM`            | 30 (drain: seconds before the outage) |
//! | `--outage-seconds S`  | `METERHUB_BENCH_OUTAGE_SECONDS`  | 600 (drain) |
//! | `--meters M`          | `METERHUB_BENCH_METERS`          | 1000 (rounded up to a multiple of the connections) |
//! | `--step-ms D`         | `METERHUB_BENCH_STEP_MS`         | 900000 (a meter's reading interval) |
//! | `--kind K`            | `METERHUB_BENCH_KIND`            | `wasm` (the plugins: `wasm`, `native`) |
//! | —                     | `METERHUB_BENCH_SINK_KEYS`       | extra keys of `[sinks.bench]`, `;`-separated (e.g. `retry_max_ms = 5000`) |
//! | `--keep`              | `METERHUB_BENCH_KEEP=1`          | remove the data dirs and the copied plugins |

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use meterhub_testkit::bench::{
    Args, bench_data, check_archive, cpu_seconds, filesystem, ms, percentile, release_plugins, wait_archived,
};
use meterhub_testkit::feeder::{Feeder, Plan, ingest, run_for};
use meterhub_testkit::postgres::{Client, Cluster, Schema};
use meterhub_testkit::{Host, copy_plugin, host_tables, wait_for, workspace};

/// The sink's instance id.
const SINK: &str = "bench";
/// The plugins a bench host needs.
const PLUGINS: [&str; 2] = ["listener", "postgres"];
/// How long the sink's position may stay put while it is behind: past its
/// longest retry delay (60 s + 25% jitter) and a connect timeout.
const SINK_STALL: Duration = Duration::from_secs(150);
/// How long the host may take to go idle after the ingest (the accounting).
const IDLE_DEADLINE: Duration = Duration::from_secs(300);
/// Below this many cores over a second, the host counts as idle.
const IDLE_CORES: f64 = 0.05;
/// How long the sink may take to deliver its first readings and keep up.
const HEALTHY_DEADLINE: Duration = Duration::from_secs(60);
/// How often the sink's status is read while it works (throughput, drain).
const POLL_FAST: Duration = Duration::from_millis(50);
/// ... while the feeder runs and the sink keeps up.
const POLL_CALM: Duration = Duration::from_millis(200);
/// ... during the outage.
const POLL_OUTAGE: Duration = Duration::from_secs(1);
/// A progress line on stderr this often during the outage.
const PROGRESS_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Throughput,
    Drain,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Database {
    Cluster,
    Shared,
}

struct Options {
    parts: Vec<Part>,
    readings: u64,
    connections: usize,
    window: usize,
    database: Database,
    rate: f64,
    feeders: usize,
    calm: f64,
    outage: f64,
    meters: u64,
    step_ms: i64,
    kind: String,
    /// Extra lines of the `[sinks.bench]` table.
    sink_keys: String,
    keep: bool,
}

fn main() {
    let options = options();
    let data = bench_data();
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let plugins = Plugins::copy(&data, &options.kind, options.keep);
    println!("meterhub sinks: the postgres sink into PostgreSQL, through the real binary");
    println!("machine: {cores} cores, shared by the host, PostgreSQL and this client");
    println!(
        "plugins: {} {} ({}), copied to {}",
        options.kind,
        PLUGINS.join(" + "),
        plugins.build,
        plugins.dir.display()
    );
    println!(
        "readings: {} meters split over the connections, each one's readings {} min apart from a year ago on; sink `[sinks.{SINK}]` defaults{}",
        options.meters,
        options.step_ms as f64 / 60_000.0,
        if options.sink_keys.trim().is_empty() {
            String::new()
        } else {
            format!(" + {}", options.sink_keys.trim().replace('\n', ", "))
        }
    );
    let mut summary = Vec::new();
    for part in &options.parts {
        println!();
        match part {
            Part::Throughput => summary.extend(throughput(&options, &data, &plugins.dir)),
            Part::Drain => summary.extend(drain(&options, &data, &plugins.dir)),
        }
    }
    println!();
    println!("== summary ({cores} cores; host, PostgreSQL and this client share them)");
    for line in summary {
        println!("{line}");
    }
}

// ---------------------------------------------------------------------------
// Part 1: throughput

/// Ingest without a sink, add the sink by hot reload, time its delivery.
fn throughput(options: &Options, data: &Path, plugins: &Path) -> Vec<String> {
    let db = Db::open(options.database);
    println!("== throughput: {} readings ingested without a sink, then the sink added by hot reload", options.readings);
    println!("database: {}", db.describe());
    let dir = data.join(format!("sink-throughput-{}", std::process::id()));
    let mut host = Host::start_in(&dir, &config(plugins, None), options.keep);
    let plan = Plan::new(options.meters, options.step_ms, options.connections);

    eprintln!("ingesting {} readings...", options.readings);
    let cpu_ingest = Cpu::now(host.pid(), 0.0);
    let (acked, ingest_time) =
        ingest(host.driver("tcp-in"), plan, options.connections, options.window, options.readings);
    let ingest_cores = Cpu::now(host.pid(), 0.0).cores_since(&cpu_ingest, ingest_time.as_secs_f64());
    let started = Instant::now();
    let stats = wait_archived(&host, "tcp-in", acked);
    check_archive(&stats, "tcp-in", acked, acked);
    let applied = started.elapsed();
    let idle = wait_idle(host.pid());
    println!(
        "ingest: {acked} readings in {:.1} s = {:.0} readings/s ({} TCP connections x window {}); archive caught up {:.1} s later, host idle (accounting done) after {}",
        ingest_time.as_secs_f64(),
        acked as f64 / ingest_time.as_secs_f64(),
        options.connections,
        options.window,
        applied.as_secs_f64(),
        idle.map_or_else(
            || format!("more than {IDLE_DEADLINE:?} (went on anyway)"),
            |d| format!("{:.1} s more", d.as_secs_f64())
        )
    );
    println!(
        "cpu (cores) during the ingest: host {:.2}, this bench {:.2}, everything else on the machine {:.2}",
        ingest_cores[0], ingest_cores[2], ingest_cores[3]
    );

    eprintln!("adding the sink...");
    let generation = host.config_status()["generation"].as_u64().unwrap_or(0);
    let cpu_before = Cpu::now(host.pid(), db.cpu());
    let reload = Instant::now();
    let with_sink = config(plugins, Some(&sink_table(&db.url(), &db.schema(), &options.sink_keys)));
    std::fs::write(&host.config, with_sink).unwrap_or_else(|e| panic!("cannot write {}: {e}", host.config.display()));
    host.wait_generation(generation + 1);
    let applied_config = reload.elapsed();
    let (mut connected, mut readings_in) = (None, None);
    let mut stall = Stall::new();
    let last = loop {
        let s = sink(&host).unwrap_or_default();
        let at = reload.elapsed();
        if connected.is_none() && s.position.is_some() {
            connected = Some(at);
        }
        if readings_in.is_none() && s.position >= Some(acked) {
            readings_in = Some(at);
        }
        if s.position >= Some(acked) && s.head >= acked && s.lag_records == 0 && s.state == "running" {
            break s;
        }
        stall.check(&s, &host);
        std::thread::sleep(POLL_FAST);
    };
    let done = reload.elapsed();
    let [host_cpu, pg_cpu, bench_cpu, other_cpu] =
        Cpu::now(host.pid(), db.cpu()).cores_since(&cpu_before, done.as_secs_f64());
    let readings_in = readings_in.unwrap_or(done);

    let mut client = db.client();
    let count = |client: &mut Client, table: &str| -> u64 {
        let n: i64 = client
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .unwrap_or_else(|e| panic!("SELECT count(*) FROM {table}: {e}"))
            .get(0);
        n as u64
    };
    let rows = ["readings", "deltas", "meters", "modules"].map(|table| count(&mut client, table));
    let position: i64 = client
        .query_one("SELECT archive_seq FROM meterhub_sink_position WHERE sink = $1", &[&SINK])
        .expect("the sink's position")
        .get(0);
    assert!(
        rows[0] == acked && position as u64 == acked && last.rejected == 0,
        "check failed: PostgreSQL holds {} readings, position {position}, {} rejected; {acked} were acknowledged; status {}",
        rows[0],
        last.rejected,
        last.raw
    );
    let total: u64 = rows.iter().sum();
    let rss = host.rss_kib();
    host.stop();

    let readings_rate = acked as f64 / readings_in.as_secs_f64();
    let rows_rate = total as f64 / done.as_secs_f64();
    println!(
        "reload: config generation {} applied after {:.2} s; sink connected (schema made) after {:.2} s",
        generation + 1,
        applied_config.as_secs_f64(),
        connected.unwrap_or(done).as_secs_f64()
    );
    println!(
        "readings: all {acked} in PostgreSQL (position = archive head) {:.2} s after the reload: {readings_rate:.0} readings rows/s ({:.0}/s from the sink's connection)",
        readings_in.as_secs_f64(),
        acked as f64 / (readings_in - connected.unwrap_or_default()).as_secs_f64().max(1e-9)
    );
    println!(
        "everything: lag_records 0 after {:.2} s: {} readings + {} deltas + {} meters + {} modules = {total} rows: {rows_rate:.0} rows/s ({} batches)",
        done.as_secs_f64(),
        rows[0],
        rows[1],
        rows[2],
        rows[3],
        last.batches
    );
    println!(
        "cpu (cores) from the reload to lag 0: host {host_cpu:.2}, PostgreSQL {pg_cpu:.2}{}, this bench {bench_cpu:.2}, everything else on the machine {other_cpu:.2}",
        if options.database == Database::Shared { " (every postgres process on the machine)" } else { "" }
    );
    println!("host RSS at the end: {:.0} MiB", mib(rss));
    println!(
        "checked: PostgreSQL holds exactly the {acked} acknowledged readings, position {position}, nothing rejected; archive counters balance"
    );
    let db_name = db.name();
    vec![
        format!("throughput database: {db_name}"),
        format!("throughput ingest without a sink: {:.0} readings/s", acked as f64 / ingest_time.as_secs_f64()),
        format!("throughput sink readings: {readings_rate:.0} rows/s ({acked} in {:.2} s)", readings_in.as_secs_f64()),
        format!("throughput sink all tables: {rows_rate:.0} rows/s ({total} rows in {:.2} s)", done.as_secs_f64()),
        format!("throughput deltas + meters written: {} + {}", rows[1], rows[2]),
        format!(
            "throughput cpu host / PostgreSQL / bench / other: {host_cpu:.2} / {pg_cpu:.2} / {bench_cpu:.2} / {other_cpu:.2} cores"
        ),
        format!("throughput host RSS at the end: {:.0} MiB", mib(rss)),
    ]
}

/// Wait until the host uses less than [`IDLE_CORES`] over a second (the
/// accounting has made its deltas); how long that took, `None` after
/// [`IDLE_DEADLINE`].
fn wait_idle(pid: u32) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < IDLE_DEADLINE {
        let before = tree_cpu(pid);
        std::thread::sleep(Duration::from_secs(1));
        if tree_cpu(pid) - before < IDLE_CORES {
            return Some(started.elapsed());
        }
    }
    None
}

// ---------------------------------------------------------------------------
// Part 2: backlog drain after an outage

/// One phase of the drain run: a window of the feeder's clock.
struct Phase {
    name: &'static str,
    from: Duration,
    to: Duration,
    /// CPU at its start and end.
    cpu: (Cpu, Cpu),
}

/// Feed at a steady rate, stop the database, start it again, time the drain.
fn drain(options: &Options, data: &Path, plugins: &Path) -> Vec<String> {
    let mut cluster = Cluster::start();
    println!(
        "== drain: {} readings/s over {} TCP connections; calm {} s, then the database stopped for {} s, then the drain",
        options.rate, options.feeders, options.calm, options.outage
    );
    println!("database: {}", describe_cluster(&cluster));
    let dir = data.join(format!("sink-drain-{}", std::process::id()));
    let sink_config = sink_table(&cluster.url(), "meterhub", &options.sink_keys);
    let host = Host::start_in(&dir, &config(plugins, Some(&sink_config)), options.keep);
    let plan = Plan::new(options.meters, options.step_ms, options.feeders);
    let feeder = Feeder::start(host.driver("tcp-in"), plan, options.rate, options.feeders);
    let mut watch = Watch::default();

    // The sink delivers and keeps up.
    let healthy = wait_for("the sink to deliver and keep up", HEALTHY_DEADLINE, || {
        feeder.check();
        let s = sink(&host)?;
        (s.state == "running" && s.position > Some(0) && (s.lag_records as f64) < options.rate).then_some(s)
    });
    println!(
        "sink: delivering and keeping up {:.1} s after the feeder started (position {}, lag {} records)",
        feeder.elapsed().as_secs_f64(),
        healthy.position.unwrap_or(0),
        healthy.lag_records
    );

    // Phase A: calm.
    eprintln!("calm for {} s...", options.calm);
    let calm_from = feeder.elapsed();
    let rss_calm = host.rss_kib();
    let cpu_calm = Cpu::now(host.pid(), cluster_cpu(&cluster));
    run_for(Duration::from_secs_f64(options.calm), POLL_CALM, || {
        feeder.check();
        watch.see(&sink(&host).unwrap_or_default());
    });
    let calm_to = feeder.elapsed();
    let cpu_down = Cpu::now(host.pid(), cluster_cpu(&cluster));
    let calm_watch = std::mem::take(&mut watch);

    // The outage.
    eprintln!("stopping the database for {} s...", options.outage);
    let rss_down = host.rss_kib();
    cluster.stop();
    let down_at = feeder.elapsed();
    let acked_at_stop = feeder.acked();
    let mut retrying_seen = false;
    let mut next_progress = PROGRESS_EVERY;
    let outage = Duration::from_secs_f64(options.outage);
    let outage_started = Instant::now();
    run_for(outage, POLL_OUTAGE, || {
        feeder.check();
        let s = sink(&host).unwrap_or_default();
        retrying_seen |= s.state == "retrying";
        watch.see(&s);
        if outage_started.elapsed() >= next_progress {
            next_progress += PROGRESS_EVERY;
            eprintln!(
                "outage: {:.0}/{} s, {} readings acknowledged, sink {} with lag {} records, {:.0} s",
                outage_started.elapsed().as_secs_f64(),
                options.outage,
                feeder.acked(),
                s.state,
                s.lag_records,
                s.lag_seconds
            );
        }
    });
    assert!(retrying_seen, "the sink never showed `retrying` while the database was down: {:?}", sink(&host));
    eprintln!("starting the database again...");
    let resuming = Instant::now();
    cluster.resume();
    let resume_took = resuming.elapsed();
    let up_at = feeder.elapsed();
    let at_resume = sink(&host).unwrap_or_default();
    let acked_at_resume = feeder.acked();
    let rss_up = host.rss_kib();
    watch.see(&at_resume);
    let position_at_resume = at_resume.position.unwrap_or(0);

    // The drain: first write, then lag 0.
    // The cluster's processes are new: its CPU counts from here.
    let cpu_up = Cpu::now(host.pid(), cluster_cpu(&cluster));
    let mut first_write: Option<(Duration, Sink, Cpu)> = None;
    let mut stall = Stall::new();
    let deadline = outage * 2 + Duration::from_secs(600);
    let drained = loop {
        feeder.check();
        let s = sink(&host).unwrap_or_default();
        watch.see(&s);
        if first_write.is_none() && s.position > Some(position_at_resume) {
            first_write = Some((feeder.elapsed(), s.clone(), Cpu::now(host.pid(), cluster_cpu(&cluster))));
        }
        if first_write.is_some() && s.lag_records == 0 && s.state == "running" && s.position >= Some(acked_at_resume) {
            break s;
        }
        stall.check(&s, &host);
        assert!(
            feeder.elapsed() - up_at < deadline,
            "the sink did not catch up within {deadline:?} of the database's return: {}",
            s.raw
        );
        std::thread::sleep(POLL_FAST);
    };
    let drained_at = feeder.elapsed();
    let acked_at_drained = feeder.acked();
    let rss_drained = host.rss_kib();
    let cpu_drained = Cpu::now(host.pid(), cluster_cpu(&cluster));
    let (first_at, first, cpu_first) = first_write.expect("set before the loop ends");

    eprintln!("drained; stopping the feeder and checking...");
    let fed = feeder.finish();
    let stats = wait_archived(&host, "tcp-in", fed.acked);
    check_archive(&stats, "tcp-in", fed.acked, fed.acked);
    let last = wait_for("the sink to deliver the last readings", SINK_STALL, || {
        let s = sink(&host)?;
        (s.position >= Some(fed.acked) && s.lag_records == 0 && s.state == "running").then_some(s)
    });
    let mut client = cluster.client();
    let in_pg: i64 = client.query_one("SELECT count(*) FROM meterhub.readings", &[]).expect("count readings").get(0);
    assert!(
        in_pg as u64 == fed.acked && last.rejected == 0,
        "check failed: PostgreSQL holds {in_pg} readings, {} rejected; {} were acknowledged; status {}",
        last.rejected,
        fed.acked,
        last.raw
    );
    let rss = host.rss_kib();
    drop(host);
    drop(cluster);

    // What it saw.
    let phases = [
        Phase { name: "calm (sink healthy)", from: calm_from, to: calm_to, cpu: (cpu_calm, cpu_down) },
        // The cluster's CPU is not counted: it is down (its start is in `other`).
        Phase {
            name: "outage (database down)",
            from: down_at,
            to: up_at,
            cpu: (Cpu { pg: 0.0, ..cpu_down }, Cpu { pg: 0.0, ..cpu_up }),
        },
        Phase { name: "back, sink not yet", from: up_at, to: first_at, cpu: (cpu_up, cpu_first) },
        Phase { name: "drain (sink writing)", from: first_at, to: drained_at, cpu: (cpu_first, cpu_drained) },
    ];
    println!();
    println!(
        "{:<24} {:>7} {:>8} {:>10} {:>7} {:>7} {:>8} {:>6} {:>6} {:>6} {:>6}",
        "phase", "secs", "acked", "readings/s", "p50 ms", "p99 ms", "max ms", "host", "pg", "bench", "other"
    );
    let mut latency = Vec::new();
    for phase in &phases {
        let l = fed.latencies(phase.from, phase.to);
        let secs = (phase.to - phase.from).as_secs_f64();
        let [host_cores, pg_cores, bench_cores, other_cores] = phase.cpu.1.cores_since(&phase.cpu.0, secs);
        println!(
            "{:<24} {:>7.1} {:>8} {:>10.0} {:>7.2} {:>7.2} {:>8.2} {:>6.2} {:>6.2} {:>6.2} {:>6.2}",
            phase.name,
            secs,
            l.len(),
            l.len() as f64 / secs.max(1e-9),
            ms(percentile(&l, 0.50)),
            ms(percentile(&l, 0.99)),
            ms(l.last().copied().unwrap_or(0)),
            host_cores,
            pg_cores,
            bench_cores,
            other_cores
        );
        latency.push(l);
    }
    println!("(acked: readings written in the phase and acknowledged; latency: line written -> its ok answer read;");
    println!(" cpu in cores: the host with its children, the cluster, this bench, everything else on the machine)");
    println!();

    let backlog = acked_at_resume.saturating_sub(position_at_resume);
    let accounting_backlog = at_resume.accounting_head.saturating_sub(at_resume.accounting_position.unwrap_or(0));
    let written = drained.position.unwrap_or(0) - position_at_resume;
    let written_writing = drained.position.unwrap_or(0) - first.position.unwrap_or(0);
    let since_up = drained_at - up_at;
    let writing = drained_at - first_at;
    let ingested = acked_at_drained - acked_at_resume;
    let ingest_rate = ingested as f64 / since_up.as_secs_f64();
    let rate_up = written as f64 / since_up.as_secs_f64();
    let rate_writing = written_writing as f64 / writing.as_secs_f64().max(1e-9);
    let delivered = drained.delivered - at_resume.delivered;
    let (calm_l, drain_l) = (&latency[0], &latency[3]);
    let p = |l: &[u32], q: f64| ms(percentile(l, q));
    println!(
        "calm: the sink's lag at most {} records, {:.1} s; {} readings acknowledged before the outage",
        calm_watch.max_lag_records, calm_watch.max_lag_seconds, acked_at_stop
    );
    println!(
        "backlog when the database was back: {backlog} readings (acknowledged {acked_at_resume}, position {position_at_resume}) + {accounting_backlog} accounting revisions; lag {:.1} s",
        at_resume.lag_seconds
    );
    println!(
        "database back: pg_ctl start took {:.2} s (crash recovery); the sink's first write {:.2} s later ({} retries in all, retry backoff)",
        resume_took.as_secs_f64(),
        (first_at - up_at).as_secs_f64(),
        drained.retried
    );
    println!(
        "drained: lag_records 0 {:.2} s after the database was back ({:.2} s of writing); {written} readings written = backlog {backlog} + {ingested} ingested meanwhile ({:.0} readings/s); {delivered} records in all with the accounting's",
        since_up.as_secs_f64(),
        writing.as_secs_f64(),
        ingest_rate
    );
    println!(
        "drain rate: {rate_up:.0} readings/s from the database's return = {:.1}x the ingest rate; {rate_writing:.0} readings/s from the first write = {:.1}x (goal: >= 5x)",
        rate_up / ingest_rate,
        rate_writing / ingest_rate
    );
    println!(
        "largest lag seen: {:.1} s, {} records (max lag_seconds; polled every {:?} in the outage, {:?} in the drain)",
        watch.max_lag_seconds, watch.max_lag_records, POLL_OUTAGE, POLL_FAST
    );
    println!(
        "ingest during the drain vs calm: p50 {:.2} vs {:.2} ms, p99 {:.2} vs {:.2} ms ({:.2}x), max {:.2} vs {:.2} ms",
        p(drain_l, 0.50),
        p(calm_l, 0.50),
        p(drain_l, 0.99),
        p(calm_l, 0.99),
        p(drain_l, 0.99) / p(calm_l, 0.99).max(1e-9),
        ms(drain_l.last().copied().unwrap_or(0)),
        ms(calm_l.last().copied().unwrap_or(0))
    );
    println!(
        "feeder: {} readings offered and acknowledged in {:.1} s; its writes were at most {:.1} ms behind schedule (more: the host held them back)",
        fed.acked,
        fed.elapsed.as_secs_f64(),
        fed.late.as_secs_f64() * 1000.0
    );
    println!(
        "host RSS: {:.0} MiB when the calm began, {:.0} when the database stopped, {:.0} when it was back, {:.0} when drained, {:.0} at the end",
        mib(rss_calm),
        mib(rss_down),
        mib(rss_up),
        mib(rss_drained),
        mib(rss)
    );
    println!(
        "checked: PostgreSQL holds exactly the {} acknowledged readings, nothing rejected; archive counters balance",
        fed.acked
    );
    vec![
        format!(
            "drain database: throwaway cluster (fsync on); rate {} readings/s, outage {} s",
            options.rate, options.outage
        ),
        format!("drain backlog at the database's return: {backlog} readings"),
        format!("drain time to lag 0 from the database's return: {:.2} s", since_up.as_secs_f64()),
        format!("drain time to lag 0 from the sink's first write: {:.2} s", writing.as_secs_f64()),
        format!(
            "drain rate from the return: {rate_up:.0} readings/s = {:.1}x ingest ({ingest_rate:.0}/s; {:.1} s of it retry backoff)",
            rate_up / ingest_rate,
            (first_at - up_at).as_secs_f64()
        ),
        format!(
            "drain rate from the first write: {rate_writing:.0} readings/s = {:.1}x ingest",
            rate_writing / ingest_rate
        ),
        format!("drain max lag_seconds: {:.1} s", watch.max_lag_seconds),
        format!("drain ingest ack p50 calm / drain: {:.2} / {:.2} ms", p(calm_l, 0.50), p(drain_l, 0.50)),
        format!("drain ingest ack p99 calm / drain: {:.2} / {:.2} ms", p(calm_l, 0.99), p(drain_l, 0.99)),
        format!("drain ingest ack p99 during the outage: {:.2} ms", p(&latency[1], 0.99)),
        format!(
            "drain host RSS before the outage / at the return / drained: {:.0} / {:.0} / {:.0} MiB",
            mib(rss_down),
            mib(rss_up),
            mib(rss_drained)
        ),
    ]
}

/// The largest lag seen.
#[derive(Default)]
struct Watch {
    max_lag_seconds: f64,
    max_lag_records: u64,
}

impl Watch {
    fn see(&mut self, s: &Sink) {
        self.max_lag_seconds = self.max_lag_seconds.max(s.lag_seconds);
        self.max_lag_records = self.max_lag_records.max(s.lag_records);
    }
}

/// Fails when the sink's position stays put for [`SINK_STALL`] while it is
/// behind.
struct Stall {
    last: Option<u64>,
    moved: Instant,
}

impl Stall {
    fn new() -> Stall {
        Stall { last: None, moved: Instant::now() }
    }

    fn check(&mut self, s: &Sink, host: &Host) {
        if s.position != self.last {
            (self.last, self.moved) = (s.position, Instant::now());
        }
        assert!(
            self.moved.elapsed() < SINK_STALL,
            "the sink's position stayed at {:?} for {SINK_STALL:?}: {}; host log: {}",
            s.position,
            s.raw,
            host.log_path().display()
        );
    }
}

/// CPU seconds used so far by the host (with its children), the database,
/// this bench, and the whole machine (busy time of every core).
#[derive(Debug, Clone, Copy)]
struct Cpu {
    host: f64,
    pg: f64,
    bench: f64,
    machine: f64,
}

impl Cpu {
    /// Now, for host process `host`; `pg` is the database's CPU seconds.
    fn now(host: u32, pg: f64) -> Cpu {
        Cpu { host: tree_cpu(host), pg, bench: cpu_seconds("/proc/self/stat"), machine: machine_busy() }
    }

    /// Cores used since `earlier`, over `secs`: the host, the database,
    /// this bench, and everything else on the machine.
    fn cores_since(&self, earlier: &Cpu, secs: f64) -> [f64; 4] {
        let cores = |now: f64, then: f64| (now - then).max(0.0) / secs.max(1e-9);
        let (host, pg, bench) =
            (cores(self.host, earlier.host), cores(self.pg, earlier.pg), cores(self.bench, earlier.bench));
        [host, pg, bench, (cores(self.machine, earlier.machine) - host - pg - bench).max(0.0)]
    }
}

/// Busy CPU seconds of the whole machine since boot (`/proc/stat`: user,
/// nice, system, irq, softirq, steal).
fn machine_busy() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    let ticks = *TICKS.get_or_init(|| {
        let out = std::process::Command::new("getconf").arg("CLK_TCK").output().ok();
        out.and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok()).unwrap_or(100.0)
    });
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else { return 0.0 };
    let fields: Vec<f64> = line.split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest is in user)
    [0, 1, 2, 5, 6, 7].iter().filter_map(|&i| fields.get(i)).sum::<f64>() / ticks
}

// ---------------------------------------------------------------------------
// Shared

/// The bench host's config: the listener on TCP, and `sink` if given.
fn config(plugins: &Path, sink: Option<&str>) -> String {
    host_tables(plugins)
        + "\n[drivers.tcp-in]\nplugin = \"listener\"\ntransport = \"tcp\"\nlisten = \"127.0.0.1:0\"\n"
        + sink.unwrap_or_default()
}

/// The `[sinks.bench]` table: the sink's defaults, `extra` lines added.
fn sink_table(url: &str, schema: &str, extra: &str) -> String {
    format!("\n[sinks.{SINK}]\nplugin = \"postgres\"\nurl = \"{url}\"\nschema = \"{schema}\"\n{extra}\n")
}

/// The bench sink's status in `/api/v1/status`.
#[derive(Debug, Clone, Default)]
struct Sink {
    state: String,
    position: Option<u64>,
    head: u64,
    accounting_position: Option<u64>,
    accounting_head: u64,
    lag_records: u64,
    lag_seconds: f64,
    delivered: u64,
    batches: u64,
    retried: u64,
    rejected: u64,
    raw: Value,
}

fn sink(host: &Host) -> Option<Sink> {
    let status = host.get_ok("/api/v1/status");
    let s = status["sinks"].as_array()?.iter().find(|s| s["id"] == SINK)?.clone();
    let n = |name: &str| s[name].as_u64().unwrap_or(0);
    Some(Sink {
        state: s["state"].as_str().unwrap_or("").to_owned(),
        position: s["position"].as_u64(),
        head: n("head"),
        accounting_position: s["accounting_position"].as_u64(),
        accounting_head: n("accounting_head"),
        lag_records: n("lag_records"),
        lag_seconds: s["lag_seconds"].as_f64().unwrap_or(0.0),
        delivered: n("delivered"),
        batches: n("batches"),
        retried: n("retried"),
        rejected: n("rejected"),
        raw: s,
    })
}

/// The database of the throughput part.
enum Db {
    /// A throwaway cluster.
    Cluster(Cluster),
    /// A schema of its own on the shared server.
    Shared(Schema),
}

impl Db {
    fn open(database: Database) -> Db {
        match database {
            Database::Cluster => Db::Cluster(Cluster::start()),
            Database::Shared => Db::Shared(Schema::new("bench_sink")),
        }
    }

    fn name(&self) -> String {
        match self {
            Db::Cluster(_) => "throwaway cluster (initdb defaults, fsync on)".to_owned(),
            Db::Shared(schema) => format!("shared server 127.0.0.1:5432/test, schema {}", schema.name),
        }
    }

    fn url(&self) -> String {
        match self {
            Db::Cluster(cluster) => cluster.url(),
            Db::Shared(schema) => schema.url.clone(),
        }
    }

    fn schema(&self) -> String {
        match self {
            Db::Cluster(_) => "meterhub".to_owned(),
            Db::Shared(schema) => schema.name.clone(),
        }
    }

    /// A client with the sink's schema first in its path.
    fn client(&self) -> Client {
        match self {
            Db::Cluster(cluster) => {
                let mut client = cluster.client();
                client.batch_execute("SET search_path TO meterhub").expect("search_path");
                client
            }
            Db::Shared(schema) => schema.client(),
        }
    }

    fn describe(&self) -> String {
        match self {
            Db::Cluster(cluster) => describe_cluster(cluster),
            Db::Shared(schema) => {
                format!("{}; {}", self.name(), settings(&mut meterhub_testkit::postgres::client(&schema.url)))
            }
        }
    }

    /// CPU seconds of the database's processes: the cluster's server and
    /// its children, or every process named `postgres` for the shared one.
    fn cpu(&self) -> f64 {
        match self {
            Db::Cluster(cluster) => cluster_cpu(cluster),
            Db::Shared(_) => postgres_cpu(),
        }
    }
}

fn describe_cluster(cluster: &Cluster) -> String {
    format!(
        "throwaway cluster (initdb defaults) on 127.0.0.1:{}, data on {}; {}",
        cluster.port,
        filesystem(cluster.dir()),
        settings(&mut cluster.client())
    )
}

/// The server's version and the settings that decide a commit's cost.
fn settings(client: &mut Client) -> String {
    let mut show = |name: &str| {
        client
            .query_one(&format!("SHOW {name}"), &[])
            .map_or_else(|e| format!("? ({e})"), |row| row.get::<_, String>(0))
    };
    let mut out = format!("PostgreSQL {}", show("server_version"));
    for name in ["fsync", "synchronous_commit", "wal_sync_method", "shared_buffers"] {
        let _ = write!(out, ", {name} {}", show(name));
    }
    out
}

/// CPU seconds of the cluster's server and its children (backends that
/// already ended are not counted).
fn cluster_cpu(cluster: &Cluster) -> f64 {
    let pid_file = cluster.dir().join("data/postmaster.pid");
    let pid = std::fs::read_to_string(pid_file).ok().and_then(|t| t.lines().next()?.trim().parse().ok());
    pid.map_or(0.0, tree_cpu)
}

/// CPU seconds of every process named `postgres`.
fn postgres_cpu() -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else { return 0.0 };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(stat_cpu)
        .filter(|(comm, _)| comm == "postgres")
        .map(|(_, cpu)| cpu)
        .sum()
}

/// CPU seconds of `pid` and of its child processes.
fn tree_cpu(pid: u32) -> f64 {
    stat_cpu(pid).map_or(0.0, |(_, own)| own) + children(pid).into_iter().map(tree_cpu).sum::<f64>()
}

/// The command name and CPU seconds of `pid`; `None` once it is gone.
fn stat_cpu(pid: u32) -> Option<(String, f64)> {
    meterhub_testkit::bench::stat_cpu(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// The child processes of `pid` (from every thread's `children` list).
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Vec::new() };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| list.split_whitespace().filter_map(|c| c.parse().ok()).collect::<Vec<u32>>())
        .collect()
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The plugins of the bench hosts, copied out of `target/plugins/<kind>`;
/// removed on drop unless kept.
struct Plugins {
    dir: PathBuf,
    /// `release build`, `debug build` or `build unknown`.
    build: String,
    keep: bool,
}

impl Plugins {
    fn copy(data: &Path, kind: &str, keep: bool) -> Plugins {
        let from = release_plugins(kind);
        let dir = data.join(format!("sink-plugins-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut builds = Vec::new();
        for id in PLUGINS {
            assert!(
                from.join(id).join("plugin.toml").exists(),
                "{} has no {id} plugin: run scripts/build-plugins --release first (scripts/bench does)",
                from.display()
            );
            copy_plugin(&from.join(id), &dir.join(id));
            builds.push(build_of(&dir.join(id)));
        }
        builds.dedup();
        let build = match builds.as_slice() {
            ["release"] => "release build".to_owned(),
            [one] => format!("{one} build: run scripts/build-plugins --release for numbers that mean something"),
            _ => format!("mixed builds {}: run scripts/build-plugins --release", builds.join("/")),
        };
        Plugins { dir, build, keep }
    }
}

impl Drop for Plugins {
    fn drop(&mut self) {
        if self.keep || std::thread::panicking() {
            eprintln!("kept {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Which cargo profile built the plugin in `folder`: its `.wasm` or `.so`
/// compared with the artifacts in `target/<triple>/<profile>/`.
fn build_of(folder: &Path) -> &'static str {
    let file = std::fs::read_dir(folder)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "wasm" || x == "so"));
    let Some(ours) = file.and_then(|f| std::fs::read(f).ok()) else { return "unknown" };
    let target = workspace().join("target");
    let triples: Vec<PathBuf> =
        std::fs::read_dir(&target).into_iter().flatten().flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    for profile in ["release", "debug"] {
        for triple in &triples {
            let artifacts = std::fs::read_dir(triple.join(profile)).into_iter().flatten().flatten();
            let same = artifacts.map(|e| e.path()).any(|p| {
                p.extension().is_some_and(|x| x == "wasm" || x == "so")
                    && std::fs::metadata(&p).is_ok_and(|m| m.len() == ours.len() as u64)
                    && std::fs::read(&p).is_ok_and(|bytes| bytes == ours)
            });
            if same {
                return profile;
            }
        }
    }
    "unknown"
}

fn options() -> Options {
    let args = Args::parse(
        &[
            ("--part", "METERHUB_BENCH_SINK_PART"),
            ("--readings", "METERHUB_BENCH_READINGS"),
            ("--connections", "METERHUB_BENCH_CONNECTIONS"),
            ("--window", "METERHUB_BENCH_WINDOW"),
            ("--database", "METERHUB_BENCH_SINK_DATABASE"),
            ("--rate", "METERHUB_BENCH_RATE"),
            ("--feeders", "METERHUB_BENCH_FEEDERS"),
            ("--calm", "METERHUB_BENCH_CALM"),
            ("--outage-seconds", "METERHUB_BENCH_OUTAGE_SECONDS"),
            ("--meters", "METERHUB_BENCH_METERS"),
            ("--step-ms", "METERHUB_BENCH_STEP_MS"),
            ("--kind", "METERHUB_BENCH_KIND"),
        ],
        |word| ["throughput", "drain", "both"].contains(&word).then_some("--part"),
        "sink",
    );
    let kind = args.plugin_kind();
    Options {
        parts: match args.get("--part").unwrap_or("both") {
            "throughput" => vec![Part::Throughput],
            "drain" => vec![Part::Drain],
            "both" => vec![Part::Throughput, Part::Drain],
            other => panic!("part: expected throughput, drain or both, got {other:?}"),
        },
        readings: args.positive("--readings", 200_000),
        connections: args.positive("--connections", 8),
        window: args.positive("--window", 64),
        database: match args.get("--database").unwrap_or("cluster") {
            "cluster" => Database::Cluster,
            "shared" => Database::Shared,
            other => panic!("database: expected cluster or shared, got {other:?}"),
        },
        rate: args.positive("--rate", 1000.0),
        feeders: args.positive("--feeders", 4),
        calm: args.positive("--calm", 30.0),
        outage: args.positive("--outage-seconds", 600.0),
        meters: args.positive("--meters", 1000),
        step_ms: args.positive("--step-ms", 900_000),
        kind,
        sink_keys: std::env::var("METERHUB_BENCH_SINK_KEYS").unwrap_or_default().replace(';', "\n"),
        keep: args.keep,
    }
}
