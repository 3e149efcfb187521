//! Sync to a monitoring center (docs/sync.md): how fast a site's
//! `sync-center` sink catches up with its center after an outage of the
//! link while ingestion goes on (the goal: after a 10-minute outage
//! at 1,000 readings/s the catch-up rate is >= 20x the ingest rate, and
//! ingestion is not affected), what a reading costs on the wire, and how
//! many readings/s one center takes from many sites at once. The real
//! `meterhub` binaries (release), a center and its sites on loopback, each
//! site's link through a `testkit::Proxy` the bench cuts (open connections
//! reset, new ones refused) and heals. Three parts:
//!
//! - `catchup`: one center, one site (`north`). A paced feeder sends `rate`
//!   readings/s over `feeders` TCP connections to the site's listener and
//!   times every acknowledgement (line written -> its ok answer read).
//!   Phase `calm` (`calm` seconds, the link up); then the link is cut for
//!   `outage-seconds`, ingestion going on; then it is healed, the feeder
//!   going on at the same rate while the link catches up. **Caught up** is
//!   the first time the site's link shows lag 0 again: a batch has brought
//!   the center to everything the site had archived when that batch was
//!   read (link state `in_sync`: `lag_records` 0, readings and accounting;
//!   the center's `sites[].position.readings` at least the link's head),
//!   timed by that batch's answer (the link's `last_success_ms`; the bench
//!   polls every 50 ms). Under a steady feed the site's archive head moves
//!   on at once, so the center never holds the live head: the readings
//!   archived since that batch was read (about `rate` x (`linger_ms` + a
//!   round trip)) are printed as the live gap. Printed: the backlog at the
//!   heal (the site's archive log head, `/api/v1/stats` total
//!   `readings_new + readings_conflict`, minus the center's position), the
//!   time from the heal to the first batch at the center (the link's retry
//!   backoff and reconnection) and to caught up, the catch-up rate
//!   (readings delivered in that time, which is the backlog plus what was
//!   ingested meanwhile, over that time; from the heal and from the first
//!   batch), its ratio to the ingest rate over the same time, the ack
//!   p50/p99 of every phase (the catch-up beside `calm`), the largest lag
//!   seen (the link's `lag_seconds` and `lag_records`), the CPU and RSS of
//!   both hosts, and the bytes per reading of the whole run.
//! - `wire`: bytes per reading on the wire: the center's `sites[].bytes`
//!   (the batches as they arrived, zstd-compressed, with the raw frames and
//!   the registry changes in them) over `sites[].readings`. The readings
//!   are the listener's line readings: one JSON line per reading, and every
//!   line is a raw frame of its own, so each reading carries its raw frame
//!   (base64 in the batch's JSON, beside the decoded reading, then
//!   compressed with the rest; a frame of many readings, such as an HTTP
//!   POST of 100, travels once per batch for all of them). Two sites of one
//!   center: `paced` takes `rate` readings/s for `wire-seconds` with its
//!   link up (batches of what `linger_ms` gathers), `backlog` takes
//!   `backlog` readings as fast as it acknowledges them with its link cut,
//!   then the link is healed (full batches of `batch_records`). Printed
//!   beside: the raw line's bytes, readings per batch. The bench's
//!   readings are regular (meter after meter, timestamps a step apart,
//!   values counting up), so they compress better than a real site's.
//! - `sites`: one center, `sites` sites, each link through its own proxy.
//!   With every link cut, each site takes a backlog of `backlog` readings
//!   (pipelined: `connections` connections per site, each keeping `window`
//!   lines unanswered, every site at once); once every site has archived
//!   them and is idle (its accounting done), every link is healed at once.
//!   Timed from the heal: each site's first batch at the center and the
//!   time until the center's position for it reaches the site's archive
//!   head (per site, min and max), the center's readings/s over all sites
//!   (every backlog over the time until the last site is in sync), the
//!   center's CPU and RSS (before, peak while polled, after), and the CPU
//!   time per reading at each end (the sites and the center share the
//!   machine's cores: the end that runs out of them bounds the rate).
//!
//! Every part checks its result: the site's archive holds exactly the
//! acknowledged readings (counters balance); once the feed has stopped,
//! both ends show the link `in_sync` with the center's position at the
//! site's archive head; and the center's `/api/v1/stats` source
//! `sync:<site>` shows every acknowledged reading exactly once
//! (`readings_new` = acknowledged, `readings_duplicate` and
//! `readings_conflict` 0, one frame received and archived per batch the
//! center stored, nothing duplicate, quarantined or rejected), and
//! `sites[].readings` = acknowledged.
//!
//! Readings: `meters` meters per site, each site's own (a center keeps
//! them apart as `<site>/<meter>`), every reading a new one (`step-ms`
//! apart from a year ago on, cumulative values growing), as
//! `benches/sink.rs` sends them (`testkit::feeder`). The link is the
//! `[sinks.center]` sink of kind `sync-center`, plain HTTP on loopback, with
//! its defaults (`batch_records` 2000, `linger_ms` 100, `retry_min_ms` 500)
//! but `retry_max_ms` = `retry-max-ms` (1000: with the default 10000 the
//! reconnection after the heal would weigh on a short run; the output says
//! so), plus `METERHUB_BENCH_SYNC_KEYS`. The listener plugin (WASM) is
//! copied from `target/plugins/wasm/` into the bench's directory first, so a
//! rebuild there during a run changes nothing. The hosts and this client
//! share the machine's cores; the output says how much CPU each used.
//!
//! Build first (`scripts/bench sync` builds the plugins and the host in
//! release and runs this), then `cargo bench -p meterhub --bench sync [-- options]`:
//! - the catch-up (30 s calm, a 10-minute outage at 1,000
//!   readings/s): `cargo bench -p meterhub --bench sync -- catchup`
//! - a quick catch-up: `cargo bench -p meterhub --bench sync -- catchup --calm 5 --outage-seconds 30`
//! - bytes per reading: `cargo bench -p meterhub --bench sync -- wire`
//! - 10 sites at once: `cargo bench -p meterhub --bench sync -- sites`
//!   (quick: `-- sites --sites 3 --backlog 20000`)
//!
//! | argument              | environment                      | default |
//! |-----------------------|----------------------------------|---------|
//! | `--part P` or `P`     | `METERHUB_BENCH_SYNC_PART`       | `all` (`catchup`, `wire`, `sites`; `all`: wire, sites, then catchup) |
//! | `--rate R`            | `METERHUB_BENCH_RATE`            | 1000 readings/s (catchup, wire `paced`) |
//! | `--feeders F`         | `METERHUB_BENCH_FEEDERS`         | 4 connections (catchup, wire `paced`) |
//! | `--calm S`            | `METERHUB_BENCH_CALM`            | 30 (catchup: seconds before the outage) |
//! | `--outage-seconds S`  | `METERHUB_BENCH_OUTAGE_SECONDS`  | 600 (catchup) |
//! | `--wire-seconds S`    | `METERHUB_BENCH_WIRE_SECONDS`    | 10 (wire: seconds of the paced feed) |
//! | `--sites N`           | `METERHUB_BENCH_SITES`           | 10 (sites) |
//! | `--backlog N`         | `METERHUB_BENCH_BACKLOG`         | 100000 readings per site (sites, wire `backlog`; rounded up to a multiple of the connections) |
//! | `--connections C`     | `METERHUB_BENCH_CONNECTIONS`     | 4 per site (the pipelined backlog) |
//! | `--window W`          | `METERHUB_BENCH_WINDOW`          | 64 (the pipelined backlog) |
//! | `--meters M`          | `METERHUB_BENCH_METERS`          | 1000 per site (rounded up to a multiple of the connections) |
//! | `--step-ms D`         | `METERHUB_BENCH_STEP_MS`         | 900000 (a meter's reading interval) |
//! | `--retry-max-ms T`    | `METERHUB_BENCH_RETRY_MAX_MS`    | 1000 (the link's `retry_max_ms`; at least `retry_min_ms`, 500) |
//! | —                     | `METERHUB_BENCH_SYNC_KEYS`       | extra keys of `[sinks.center]`, `;`-separated (e.g. `batch_records = 5000`) |
//! | `--keep`              | `METERHUB_BENCH_KEEP=1`          | remove the data dirs and the copied plugin |

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use meterhub_testkit::bench::{
    Args, bench_data, check_archive, cpu_seconds, ms, percentile, release_plugins, wait_archived,
};
use meterhub_testkit::feeder::{Fed, Feeder, Plan, ingest, run_for};
use meterhub_testkit::{Host, Proxy, copy_plugin, host_tables, now_ms, wait_for};

/// The site's sink (its link to the center).
const SINK: &str = "center";
/// The site of `catchup`.
const SITE: &str = "north";
/// How long a link may take to first deliver and keep up.
const HEALTHY_DEADLINE: Duration = Duration::from_secs(60);
/// How long both ends may take to show a link in sync once the feed stopped.
const SYNC_DEADLINE: Duration = Duration::from_secs(120);
/// How long the links may take to show they are down after a cut.
const DOWN_DEADLINE: Duration = Duration::from_secs(60);
/// How long the sites may take to go idle after their backlog (the accounting).
const IDLE_DEADLINE: Duration = Duration::from_secs(300);
/// Below this many cores over a second, the sites count as idle.
const IDLE_CORES: f64 = 0.05;
/// How often the link is read until its first batch after the heal.
const POLL_FIRST: Duration = Duration::from_millis(10);
/// ... while it catches up.
const POLL_FAST: Duration = Duration::from_millis(50);
/// ... while the feeder runs and the link keeps up.
const POLL_CALM: Duration = Duration::from_millis(200);
/// ... during the outage.
const POLL_OUTAGE: Duration = Duration::from_secs(1);
/// A progress line on stderr this often during the outage.
const PROGRESS_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Catchup,
    Wire,
    Sites,
}

struct Options {
    parts: Vec<Part>,
    rate: f64,
    feeders: usize,
    calm: f64,
    outage: f64,
    wire_seconds: f64,
    sites: usize,
    backlog: u64,
    connections: usize,
    window: usize,
    meters: u64,
    step_ms: i64,
    retry_max_ms: u32,
    /// Extra lines of the `[sinks.center]` table.
    link_keys: String,
    keep: bool,
}

impl Options {
    /// How long a link's position may stay put while it is behind: past
    /// its longest retry delay and a connect timeout.
    fn stall_limit(&self) -> Duration {
        Duration::from_secs(60) + Duration::from_millis(u64::from(self.retry_max_ms)) * 3
    }
}

fn main() {
    let options = options();
    let data = bench_data();
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "meterhub sync: sites replicating to a monitoring center (sync-center sink -> the center's API), through the real binary"
    );
    println!("machine: {cores} cores, shared by the center, the sites and this client");
    println!(
        "link: [sinks.{SINK}] kind sync-center, plain HTTP on loopback through a proxy the bench cuts and heals; retry_max_ms = {} (set by the bench: with the default 10000 the reconnection after the heal would weigh on a short run), otherwise the defaults (batch_records 2000, linger_ms 100, retry_min_ms 500){}",
        options.retry_max_ms,
        if options.link_keys.trim().is_empty() {
            String::new()
        } else {
            format!(" + {}", options.link_keys.trim().replace('\n', ", "))
        }
    );
    println!(
        "readings: {} meters per site, each one's readings {} min apart from a year ago on; one reading per TCP line (one raw frame each)",
        options.meters,
        options.step_ms as f64 / 60_000.0
    );
    println!("plugins: the wasm listener, copied from target/plugins/wasm (scripts/bench builds it with --release)");
    let mut summary = Vec::new();
    for part in &options.parts {
        println!();
        match part {
            Part::Catchup => summary.extend(catchup(&options, &data)),
            Part::Wire => summary.extend(wire(&options, &data)),
            Part::Sites => summary.extend(sites(&options, &data)),
        }
    }
    println!();
    println!("== summary ({cores} cores; the center, the sites and this client share them)");
    for line in summary {
        println!("{line}");
    }
}

// ---------------------------------------------------------------------------
// Part 1: catch-up after an outage of the link

/// One phase of the catch-up run: a window of the feeder's clock.
struct Phase {
    name: &'static str,
    from: Duration,
    to: Duration,
    /// CPU at its start and end.
    cpu: (Cpu, Cpu),
}

/// Feed at a steady rate, cut the link, heal it, time the catch-up.
fn catchup(options: &Options, data: &Path) -> Vec<String> {
    println!(
        "== catchup: {} readings/s over {} TCP connections to site {SITE}; calm {} s, then the link cut for {} s, then healed while the feed goes on",
        options.rate, options.feeders, options.calm, options.outage
    );
    let dir = Dir::new(data, "catchup", options.keep);
    let token = dir.token(SITE);
    let center =
        Host::start_in(&dir.path.join("center"), &center_config(&dir.plugins, &[(SITE, &token)]), options.keep);
    let proxy = Proxy::start(center.api);
    let site = Host::start_in(
        &dir.path.join(SITE),
        &site_config(&dir.plugins, proxy.addr, SITE, &token, options),
        options.keep,
    );
    let plan = Plan::new(options.meters, options.step_ms, options.feeders);
    let feeder = Feeder::start(site.driver("tcp-in"), plan, options.rate, options.feeders);
    let mut lags = Lags::default();

    // The link delivers and keeps up.
    let healthy = wait_for("the link to deliver and keep up", HEALTHY_DEADLINE, || {
        feeder.check();
        let l = link(&site);
        (l.position > 0
            && (l.lag_records as f64) < options.rate
            && ["in_sync", "catching_up"].contains(&l.state.as_str()))
        .then_some(l)
    });
    println!(
        "link: delivering and keeping up {:.1} s after the feeder started (position {}, lag {} records)",
        feeder.elapsed().as_secs_f64(),
        healthy.position,
        healthy.lag_records
    );

    // Phase A: calm.
    eprintln!("calm for {} s...", options.calm);
    let calm_from = feeder.elapsed();
    let rss_calm = (site.rss_kib(), center.rss_kib());
    let cpu_calm = Cpu::now(&[&site], &center);
    run_for(Duration::from_secs_f64(options.calm), POLL_CALM, || {
        feeder.check();
        lags.see(&link(&site));
    });
    let calm_to = feeder.elapsed();
    let calm_lags = std::mem::take(&mut lags);

    // The outage.
    eprintln!("cutting the link for {} s...", options.outage);
    let cpu_cut = Cpu::now(&[&site], &center);
    let rss_cut = (site.rss_kib(), center.rss_kib());
    proxy.cut();
    let cut_at = feeder.elapsed();
    let acked_at_cut = feeder.acked();
    let mut down_seen = false;
    let mut next_progress = PROGRESS_EVERY;
    let outage = Duration::from_secs_f64(options.outage);
    let outage_started = Instant::now();
    run_for(outage, POLL_OUTAGE, || {
        feeder.check();
        let l = link(&site);
        down_seen |= l.state == "down";
        lags.see(&l);
        if outage_started.elapsed() >= next_progress {
            next_progress += PROGRESS_EVERY;
            eprintln!(
                "outage: {:.0}/{} s, {} readings acknowledged, link {} with lag {} records, {:.0} s",
                outage_started.elapsed().as_secs_f64(),
                options.outage,
                feeder.acked(),
                l.state,
                l.lag_records,
                l.lag_seconds
            );
        }
    });
    assert!(down_seen, "the link never showed `down` while it was cut: {}", link(&site).raw);
    let at_center_cut = at_center(&center, SITE);
    let link_heal = link(&site);
    lags.see(&link_heal);
    let rss_heal = (site.rss_kib(), center.rss_kib());
    let cpu_heal = Cpu::now(&[&site], &center);
    let head_at_heal = archive_head(&site);
    eprintln!("healing the link...");
    proxy.heal();
    let heal_ms = now_ms();
    let healed_at = feeder.elapsed();
    let acked_at_heal = feeder.acked();
    let position_at_heal = at_center_cut.position;

    // The catch-up: the first batch at the center, then lag 0.
    let mut first: Option<(Duration, u64, Cpu)> = None;
    let mut stall = Stall::new(options.stall_limit());
    let mut rss_peak = rss_heal;
    let deadline = outage * 2 + Duration::from_secs(600);
    let (caught, held) = loop {
        feeder.check();
        let l = link(&site);
        let c = at_center(&center, SITE);
        lags.see(&l);
        if first.is_none() && c.position > position_at_heal {
            first = Some((feeder.elapsed(), c.position, Cpu::now(&[&site], &center)));
        }
        if first.is_some() && l.state == "in_sync" && l.position >= head_at_heal && c.position >= l.head {
            break (l, c);
        }
        stall.check(c.position, || format!("{}; host logs {}", l.raw, site.log_path().display()));
        assert!(
            feeder.elapsed() - healed_at < deadline,
            "the link did not catch up within {deadline:?} of the heal: {}",
            l.raw
        );
        if first.is_some() {
            rss_peak = (rss_peak.0.max(site.rss_kib()), rss_peak.1.max(center.rss_kib()));
        }
        std::thread::sleep(if first.is_none() { POLL_FIRST } else { POLL_FAST });
    };
    let seen_at = feeder.elapsed();
    let live_head = archive_head(&site);
    let cpu_caught = Cpu::now(&[&site], &center);
    let rss_caught = (site.rss_kib(), center.rss_kib());
    rss_peak = (rss_peak.0.max(rss_caught.0), rss_peak.1.max(rss_caught.1));
    let (first_at, first_position, cpu_first) = first.expect("set before the loop ends");
    // When the batch that brought the lag to 0 was answered.
    let answered_ms = caught.last_success_ms.unwrap_or(heal_ms).saturating_sub(heal_ms).max(0);
    let caught_at = (healed_at + Duration::from_millis(answered_ms as u64)).clamp(first_at, seen_at);

    eprintln!("caught up; stopping the feeder and checking...");
    let fed = feeder.finish();
    let end = settle_and_check(&center, &site, SITE, fed.acked);
    let rss_end = (site.rss_kib(), center.rss_kib());
    drop(site);
    drop(center);

    // What it saw.
    let phases = [
        Phase { name: "calm (link up)", from: calm_from, to: calm_to, cpu: (cpu_calm, cpu_cut) },
        Phase { name: "outage (link cut)", from: cut_at, to: healed_at, cpu: (cpu_cut, cpu_heal) },
        Phase { name: "healed, no batch yet", from: healed_at, to: first_at, cpu: (cpu_heal, cpu_first) },
        Phase { name: "catch-up (sending)", from: first_at, to: caught_at, cpu: (cpu_first, cpu_caught) },
        Phase { name: "heal -> caught up", from: healed_at, to: caught_at, cpu: (cpu_heal, cpu_caught) },
    ];
    let latency = phase_table(&fed, &phases);

    let backlog = head_at_heal.saturating_sub(position_at_heal);
    let delivered = caught.position - position_at_heal;
    let delivered_sending = caught.position - first_position.min(caught.position);
    let since_heal = caught_at - healed_at;
    let sending = caught_at - first_at;
    let ingested = latency[4].len() as u64;
    let ingest_rate = ingested as f64 / since_heal.as_secs_f64().max(1e-9);
    let rate_heal = delivered as f64 / since_heal.as_secs_f64().max(1e-9);
    let rate_sending = delivered_sending as f64 / sending.as_secs_f64().max(1e-9);
    let (calm_l, catch_l) = (&latency[0], &latency[3]);
    let p = |l: &[u32], q: f64| ms(percentile(l, q));
    let bytes_per_reading = end.bytes as f64 / end.readings.max(1) as f64;
    println!(
        "calm: the link's lag at most {} records, {:.1} s; {} readings acknowledged before the cut",
        calm_lags.max_records, calm_lags.max_seconds, acked_at_cut
    );
    println!(
        "outage: the link showed `down`; the center showed site {SITE} `{}` at the end ({} batches stored so far)",
        at_center_cut.state, at_center_cut.batches
    );
    println!(
        "backlog at the heal: {backlog} readings (site archive head {head_at_heal}, center position {position_at_heal}; {acked_at_heal} acknowledged); the link's lag {} records (readings and accounting revisions), {:.1} s",
        link_heal.lag_records, link_heal.lag_seconds
    );
    println!(
        "healed: the first batch at the center {:.2} s later (retry_max_ms = {}: the link's retry backoff and reconnection; {} retries in all)",
        (first_at - healed_at).as_secs_f64(),
        options.retry_max_ms,
        caught.retried
    );
    println!(
        "caught up: lag 0 {:.2} s after the heal ({:.2} s of sending; seen by the bench {:.0} ms after the batch's answer); {delivered} readings delivered = backlog {backlog} + {} ingested meanwhile ({ingest_rate:.0} readings/s); live gap then: {} readings archived since that batch was read",
        since_heal.as_secs_f64(),
        sending.as_secs_f64(),
        (seen_at - caught_at).as_secs_f64() * 1000.0,
        delivered.saturating_sub(backlog),
        live_head.saturating_sub(held.position)
    );
    println!(
        "catch-up rate: {rate_heal:.0} readings/s from the heal = {:.1}x the ingest rate; {rate_sending:.0} readings/s from the first batch = {:.1}x (goal: >= 20x)",
        rate_heal / ingest_rate.max(1e-9),
        rate_sending / ingest_rate.max(1e-9)
    );
    println!(
        "largest lag seen: {:.1} s, {} records (the link's lag_seconds, lag_records of readings and accounting revisions; polled every {:?} in the outage, {:?} in the catch-up)",
        lags.max_seconds, lags.max_records, POLL_OUTAGE, POLL_FAST
    );
    println!(
        "ingest during the catch-up vs calm: p50 {:.2} vs {:.2} ms, p99 {:.2} vs {:.2} ms ({:.2}x), max {:.2} vs {:.2} ms",
        p(catch_l, 0.50),
        p(calm_l, 0.50),
        p(catch_l, 0.99),
        p(calm_l, 0.99),
        p(catch_l, 0.99) / p(calm_l, 0.99).max(1e-9),
        ms(catch_l.last().copied().unwrap_or(0)),
        ms(calm_l.last().copied().unwrap_or(0))
    );
    println!(
        "feeder: {} readings offered and acknowledged in {:.1} s; its writes were at most {:.1} ms behind schedule (more: the site held them back)",
        fed.acked,
        fed.elapsed.as_secs_f64(),
        fed.late.as_secs_f64() * 1000.0
    );
    println!(
        "RSS site / center (MiB): calm {:.0} / {:.0}, cut {:.0} / {:.0}, heal {:.0} / {:.0}, peak in the catch-up {:.0} / {:.0}, caught up {:.0} / {:.0}, end {:.0} / {:.0}",
        mib(rss_calm.0),
        mib(rss_calm.1),
        mib(rss_cut.0),
        mib(rss_cut.1),
        mib(rss_heal.0),
        mib(rss_heal.1),
        mib(rss_peak.0),
        mib(rss_peak.1),
        mib(rss_caught.0),
        mib(rss_caught.1),
        mib(rss_end.0),
        mib(rss_end.1)
    );
    println!(
        "wire: {} bytes in {} batches for {} readings = {bytes_per_reading:.1} bytes per reading (compressed, raw frames included)",
        end.bytes, end.batches, end.readings
    );
    println!(
        "checked: the center holds exactly the {} acknowledged readings once (source sync:{SITE}: readings_new {}, readings_duplicate 0, {} batches); both ends in sync; the site's archive counters balance",
        fed.acked, fed.acked, end.batches
    );
    vec![
        format!(
            "catchup rate {} readings/s, calm {} s, outage {} s, retry_max_ms {}",
            options.rate, options.calm, options.outage, options.retry_max_ms
        ),
        format!("catchup backlog at the heal: {backlog} readings"),
        format!("catchup heal -> first batch: {:.2} s", (first_at - healed_at).as_secs_f64()),
        format!("catchup heal -> caught up (lag 0): {:.2} s", since_heal.as_secs_f64()),
        format!(
            "catchup rate from the heal: {rate_heal:.0} readings/s = {:.1}x ingest ({ingest_rate:.0}/s; goal >= 20x)",
            rate_heal / ingest_rate.max(1e-9)
        ),
        format!(
            "catchup rate from the first batch: {rate_sending:.0} readings/s = {:.1}x ingest",
            rate_sending / ingest_rate.max(1e-9)
        ),
        format!("catchup max lag: {:.1} s, {} records", lags.max_seconds, lags.max_records),
        format!("catchup ingest ack p50 calm / catch-up: {:.2} / {:.2} ms", p(calm_l, 0.50), p(catch_l, 0.50)),
        format!("catchup ingest ack p99 calm / catch-up: {:.2} / {:.2} ms", p(calm_l, 0.99), p(catch_l, 0.99)),
        format!("catchup ingest ack p99 during the outage: {:.2} ms", p(&latency[1], 0.99)),
        format!("catchup RSS site / center peak in the catch-up: {:.0} / {:.0} MiB", mib(rss_peak.0), mib(rss_peak.1)),
        format!("catchup wire: {bytes_per_reading:.1} bytes per reading over the run"),
    ]
}

/// Print the phases' acknowledgements and CPU; the sorted latencies of each.
fn phase_table(fed: &Fed, phases: &[Phase]) -> Vec<Vec<u32>> {
    println!();
    println!(
        "{:<22} {:>7} {:>8} {:>10} {:>7} {:>7} {:>8} {:>6} {:>6} {:>6}",
        "phase", "secs", "acked", "readings/s", "p50 ms", "p99 ms", "max ms", "site", "center", "bench"
    );
    let mut latency = Vec::new();
    for phase in phases {
        let l = fed.latencies(phase.from, phase.to);
        let secs = (phase.to - phase.from).as_secs_f64();
        let [site, center, bench] = phase.cpu.1.cores_since(&phase.cpu.0, secs);
        println!(
            "{:<22} {:>7.1} {:>8} {:>10.0} {:>7.2} {:>7.2} {:>8.2} {:>6.2} {:>6.2} {:>6.2}",
            phase.name,
            secs,
            l.len(),
            l.len() as f64 / secs.max(1e-9),
            ms(percentile(&l, 0.50)),
            ms(percentile(&l, 0.99)),
            ms(l.last().copied().unwrap_or(0)),
            site,
            center,
            bench
        );
        latency.push(l);
    }
    println!("(acked: readings written in the phase and acknowledged; latency: line written -> its ok answer read;");
    println!(" cpu in cores: the site's host, the center's host, this bench)");
    println!();
    latency
}

// ---------------------------------------------------------------------------
// Part 2: bytes per reading on the wire

/// A paced site and a site with a backlog; bytes per reading of each.
fn wire(options: &Options, data: &Path) -> Vec<String> {
    let (paced_name, backlog_name) = ("paced", "backlog");
    println!(
        "== wire: bytes per reading on the wire; site {paced_name}: {} readings/s for {} s, link up; site {backlog_name}: {} readings with its link cut, then healed",
        options.rate, options.wire_seconds, options.backlog
    );
    let dir = Dir::new(data, "wire", options.keep);
    let tokens = [dir.token(paced_name), dir.token(backlog_name)];
    let center = Host::start_in(
        &dir.path.join("center"),
        &center_config(&dir.plugins, &[(paced_name, &tokens[0]), (backlog_name, &tokens[1])]),
        options.keep,
    );
    let proxy = Proxy::start(center.api);
    let paced = Host::start_in(
        &dir.path.join(paced_name),
        &site_config(&dir.plugins, center.api, paced_name, &tokens[0], options),
        options.keep,
    );
    let backlog = Host::start_in(
        &dir.path.join(backlog_name),
        &site_config(&dir.plugins, proxy.addr, backlog_name, &tokens[1], options),
        options.keep,
    );

    // Paced, the link up.
    eprintln!("site {paced_name}: {} readings/s for {} s...", options.rate, options.wire_seconds);
    let plan = Plan::new(options.meters, options.step_ms, options.feeders);
    let feeder = Feeder::start(paced.driver("tcp-in"), plan, options.rate, options.feeders);
    run_for(Duration::from_secs_f64(options.wire_seconds), POLL_CALM, || feeder.check());
    let fed = feeder.finish();
    let at_paced = settle_and_check(&center, &paced, paced_name, fed.acked);
    // The connections sent within a line of each other.
    let paced_line = line_bytes(&plan, options.feeders, fed.acked / options.feeders as u64) as f64
        / (fed.acked / options.feeders as u64 * options.feeders as u64).max(1) as f64;

    // A backlog, the link cut, then healed.
    eprintln!("site {backlog_name}: {} readings with its link cut...", options.backlog);
    wait_for("the link of site backlog to be in sync", HEALTHY_DEADLINE, || {
        (link(&backlog).state == "in_sync").then_some(())
    });
    proxy.cut();
    let plan = Plan::new(options.meters, options.step_ms, options.connections);
    let (acked, took) = ingest(backlog.driver("tcp-in"), plan, options.connections, options.window, options.backlog);
    let backlog_line =
        line_bytes(&plan, options.connections, acked / options.connections as u64) as f64 / acked.max(1) as f64;
    let head = head_of(&wait_archived(&backlog, "tcp-in", acked));
    proxy.heal();
    let healed = Instant::now();
    let caught = wait_for("the center to hold site backlog's archive head", SYNC_DEADLINE, || {
        (at_center(&center, backlog_name).position >= head).then(|| healed.elapsed())
    });
    let at_backlog = settle_and_check(&center, &backlog, backlog_name, acked);

    let per_reading = |c: &AtCenter| c.bytes as f64 / c.readings.max(1) as f64;
    let per_batch = |c: &AtCenter| c.readings as f64 / c.batches.max(1) as f64;
    println!(
        "{:<10} {:>9} {:>8} {:>10} {:>12} {:>12} {:>10}",
        "site", "readings", "batches", "per batch", "wire bytes", "bytes/read.", "line bytes"
    );
    for (name, c, line) in [(paced_name, &at_paced, paced_line), (backlog_name, &at_backlog, backlog_line)] {
        println!(
            "{:<10} {:>9} {:>8} {:>10.0} {:>12} {:>12.1} {:>10.1}",
            name,
            c.readings,
            c.batches,
            per_batch(c),
            c.bytes,
            per_reading(c),
            line
        );
    }
    println!(
        "(wire bytes: the batches as the center received them, zstd-compressed JSON with each reading's raw frame"
    );
    println!(" and the registry changes; line bytes: the raw frame, one JSON line per reading, newline included)");
    println!(
        "backlog: {acked} readings acknowledged in {:.1} s ({:.0}/s) with the link cut; all at the center {:.2} s after the heal (the link's reconnection included)",
        took.as_secs_f64(),
        acked as f64 / took.as_secs_f64().max(1e-9),
        caught.as_secs_f64()
    );
    println!(
        "checked: the center holds exactly the {} + {acked} acknowledged readings once (sources sync:{paced_name}, sync:{backlog_name}); both links in sync",
        fed.acked
    );
    vec![
        format!(
            "wire paced ({} readings/s, ~{:.0} readings per batch): {:.1} bytes per reading (raw line {paced_line:.1})",
            options.rate,
            per_batch(&at_paced),
            per_reading(&at_paced)
        ),
        format!(
            "wire backlog (~{:.0} readings per batch): {:.1} bytes per reading (raw line {backlog_line:.1})",
            per_batch(&at_backlog),
            per_reading(&at_backlog)
        ),
    ]
}

/// Bytes of the first `per_connection` lines of each of `connections`
/// connections of `plan`.
fn line_bytes(plan: &Plan, connections: usize, per_connection: u64) -> u64 {
    let mut out = Vec::with_capacity(256);
    let mut total = 0;
    for c in 0..connections as u64 {
        for i in 0..per_connection {
            out.clear();
            plan.line(c, i, &mut out);
            total += out.len() as u64;
        }
    }
    total
}

// ---------------------------------------------------------------------------
// Part 3: many sites at once

/// Backlogs at every site with their links cut, then every link healed at
/// once: the center's ingest.
fn sites(options: &Options, data: &Path) -> Vec<String> {
    let n = options.sites;
    println!(
        "== sites: {n} sites, each with a backlog of {} readings taken with its link cut, then every link healed at once",
        options.backlog
    );
    let dir = Dir::new(data, "sites", options.keep);
    let names: Vec<String> = (1..=n).map(|i| format!("site-{i:02}")).collect();
    let tokens: Vec<PathBuf> = names.iter().map(|name| dir.token(name)).collect();
    let table: Vec<(&str, &PathBuf)> = names.iter().map(String::as_str).zip(&tokens).collect();
    let center = Host::start_in(&dir.path.join("center"), &center_config(&dir.plugins, &table), options.keep);
    let proxies: Vec<Proxy> = names.iter().map(|_| Proxy::start(center.api)).collect();
    eprintln!("starting {n} sites...");
    let hosts: Vec<Host> = names
        .iter()
        .zip(&proxies)
        .zip(&tokens)
        .map(|((name, proxy), token)| {
            Host::start_in(
                &dir.path.join(name),
                &site_config(&dir.plugins, proxy.addr, name, token, options),
                options.keep,
            )
        })
        .collect();
    wait_for("every site's link to be in sync", HEALTHY_DEADLINE, || {
        hosts.iter().all(|h| link(h).state == "in_sync").then_some(())
    });

    // The backlogs, every link cut.
    for proxy in &proxies {
        proxy.cut();
    }
    eprintln!("feeding {n} x {} readings...", options.backlog);
    let started = Instant::now();
    let fed: Vec<(u64, Duration)> = std::thread::scope(|scope| {
        let feeds: Vec<_> = hosts
            .iter()
            .map(|h| {
                let addr = h.driver("tcp-in");
                let plan = Plan::new(options.meters, options.step_ms, options.connections);
                scope.spawn(move || ingest(addr, plan, options.connections, options.window, options.backlog))
            })
            .collect();
        feeds.into_iter().map(|f| f.join().expect("a site's feed failed")).collect()
    });
    let feed_time = started.elapsed();
    let acked: Vec<u64> = fed.iter().map(|(a, _)| *a).collect();
    let total: u64 = acked.iter().sum();
    let heads: Vec<u64> = hosts
        .iter()
        .zip(&acked)
        .map(|(h, &a)| {
            let stats = wait_archived(h, "tcp-in", a);
            check_archive(&stats, "tcp-in", a, a);
            head_of(&stats)
        })
        .collect();
    println!(
        "backlog: {total} readings acknowledged by {n} sites in {:.1} s ({:.0} readings/s in all; {} TCP connections x window {} per site)",
        feed_time.as_secs_f64(),
        total as f64 / feed_time.as_secs_f64().max(1e-9),
        options.connections,
        options.window
    );
    wait_for("every link to show down", DOWN_DEADLINE, || hosts.iter().all(|h| link(h).state == "down").then_some(()));
    let idle = wait_idle(&hosts);
    println!(
        "sites idle (accounting done) {}; every link down",
        idle.map_or_else(
            || format!("not within {IDLE_DEADLINE:?} (went on anyway)"),
            |d| format!("{:.1} s after the backlog", d.as_secs_f64())
        )
    );

    // Heal every link at once; time each site to its archive head.
    let before = sites_at_center(&center);
    let from: Vec<u64> = names.iter().map(|name| before.get(name).map_or(0, |c| c.position)).collect();
    let site_refs: Vec<&Host> = hosts.iter().collect();
    let rss_before = center.rss_kib();
    let cpu_before = Cpu::now(&site_refs, &center);
    eprintln!("healing {n} links...");
    for proxy in &proxies {
        proxy.heal();
    }
    let healed = Instant::now();
    let mut first: Vec<Option<Duration>> = vec![None; n];
    let mut done: Vec<Option<Duration>> = vec![None; n];
    let mut rss_peak = rss_before;
    let mut stall = Stall::new(options.stall_limit());
    loop {
        let now = sites_at_center(&center);
        let at = healed.elapsed();
        let mut sum = 0;
        for (i, name) in names.iter().enumerate() {
            let position = now.get(name).map_or(0, |c| c.position);
            sum += position;
            if first[i].is_none() && position > from[i] {
                first[i] = Some(at);
            }
            if done[i].is_none() && position >= heads[i] {
                done[i] = Some(at);
            }
        }
        rss_peak = rss_peak.max(center.rss_kib());
        if done.iter().all(Option::is_some) {
            break;
        }
        stall.check(sum, || format!("{now:?}"));
        std::thread::sleep(POLL_FAST);
    }
    let cpu_after = Cpu::now(&site_refs, &center);
    let done: Vec<Duration> = done.into_iter().flatten().collect();
    let first: Vec<Duration> = first.into_iter().map(Option::unwrap_or_default).collect();
    let all_in = done.iter().copied().max().unwrap_or_default();
    let delivered: u64 = heads.iter().zip(&from).map(|(h, f)| h - f).sum();
    let rate = delivered as f64 / all_in.as_secs_f64().max(1e-9);
    let [sites_cores, center_cores, bench_cores] = cpu_after.cores_since(&cpu_before, all_in.as_secs_f64());
    // CPU time per reading delivered: what bounds each end on its own cores.
    let per_reading = |now: f64, then: f64| (now - then).max(0.0) * 1e6 / delivered.max(1) as f64;
    let center_us = per_reading(cpu_after.center, cpu_before.center);
    let sites_us = per_reading(cpu_after.sites, cpu_before.sites);

    eprintln!("every site in sync; checking...");
    let views: Vec<AtCenter> =
        hosts.iter().zip(&names).zip(&acked).map(|((h, name), &a)| settle_and_check(&center, h, name, a)).collect();
    let rss_after = center.rss_kib();

    println!();
    println!(
        "{:<8} {:>9} {:>13} {:>11} {:>12} {:>8} {:>10}",
        "site", "readings", "first batch s", "in sync s", "readings/s", "batches", "bytes/read."
    );
    for (i, name) in names.iter().enumerate() {
        let c = &views[i];
        println!(
            "{:<8} {:>9} {:>13.2} {:>11.2} {:>12.0} {:>8} {:>10.1}",
            name,
            heads[i] - from[i],
            first[i].as_secs_f64(),
            done[i].as_secs_f64(),
            (heads[i] - from[i]) as f64 / done[i].as_secs_f64().max(1e-9),
            c.batches,
            c.bytes as f64 / c.readings.max(1) as f64
        );
    }
    println!("(times from the heal; in sync: the center's position reached the site's archive head)");
    println!();
    let min = done.iter().copied().min().unwrap_or_default();
    let (bytes, readings) = views.iter().fold((0, 0), |(b, r), c| (b + c.bytes, r + c.readings));
    println!(
        "center: {delivered} readings from {n} sites in {:.2} s = {rate:.0} readings/s; per site in sync after {:.2} s (first) to {:.2} s (last); first batches {:.2} to {:.2} s after the heal",
        all_in.as_secs_f64(),
        min.as_secs_f64(),
        all_in.as_secs_f64(),
        first.iter().copied().min().unwrap_or_default().as_secs_f64(),
        first.iter().copied().max().unwrap_or_default().as_secs_f64()
    );
    println!(
        "cpu (cores) from the heal to the last site in sync: center {center_cores:.2}, the {n} sites {sites_cores:.2}, this bench {bench_cores:.2}"
    );
    println!(
        "cpu per reading delivered: the center {center_us:.1} µs (one core takes {:.0} readings/s), the sites {sites_us:.1} µs (one core sends {:.0} readings/s); whichever end runs out of cores bounds the rate",
        1e6 / center_us.max(1e-9),
        1e6 / sites_us.max(1e-9)
    );
    println!(
        "center RSS: {:.0} MiB before the heal, {:.0} at most while polled, {:.0} after",
        mib(rss_before),
        mib(rss_peak),
        mib(rss_after)
    );
    println!(
        "wire: {:.1} bytes per reading ({bytes} bytes for {readings} readings)",
        bytes as f64 / readings.max(1) as f64
    );
    println!(
        "checked: the center holds exactly what each site acknowledged, once (sources sync:<site>: readings_new = acknowledged, readings_duplicate 0); every link in sync"
    );
    vec![
        format!("sites: {n} sites x {} readings of backlog, healed at once", options.backlog),
        format!("sites center ingest: {rate:.0} readings/s ({delivered} in {:.2} s)", all_in.as_secs_f64()),
        format!("sites per site in sync: {:.2} s min, {:.2} s max", min.as_secs_f64(), all_in.as_secs_f64()),
        format!("sites center cpu: {center_cores:.2} cores (the sites {sites_cores:.2})"),
        format!("sites cpu per reading: center {center_us:.1} µs, sites {sites_us:.1} µs"),
        format!(
            "sites center RSS before / peak / after: {:.0} / {:.0} / {:.0} MiB",
            mib(rss_before),
            mib(rss_peak),
            mib(rss_after)
        ),
    ]
}

/// Wait until every host uses less than [`IDLE_CORES`] over a second (the
/// accounting has made its deltas); how long that took, `None` after
/// [`IDLE_DEADLINE`].
fn wait_idle(hosts: &[Host]) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < IDLE_DEADLINE {
        let before: Vec<f64> = hosts.iter().map(process_cpu).collect();
        std::thread::sleep(Duration::from_secs(1));
        if hosts.iter().zip(&before).all(|(h, b)| process_cpu(h) - b < IDLE_CORES) {
            return Some(started.elapsed());
        }
    }
    None
}

// ---------------------------------------------------------------------------
// Shared

/// The bench's directory: the copied listener plugin, the sites' token
/// files, and a folder per host; removed on drop unless kept.
struct Dir {
    path: PathBuf,
    plugins: PathBuf,
    keep: bool,
}

impl Dir {
    fn new(data: &Path, part: &str, keep: bool) -> Dir {
        let path = data.join(format!("sync-{part}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        let from = release_plugins("wasm").join("listener");
        assert!(
            from.join("plugin.toml").exists(),
            "{} has no listener plugin: run scripts/build-plugins --release first (scripts/bench does)",
            from.display()
        );
        let plugins = path.join("plugins");
        copy_plugin(&from, &plugins.join("listener"));
        std::fs::create_dir_all(path.join("tokens")).expect("create the tokens' folder");
        Dir { path, plugins, keep }
    }

    /// The token file of `site` (the center and the site read the same).
    fn token(&self, site: &str) -> PathBuf {
        let file = self.path.join("tokens").join(format!("{site}.token"));
        std::fs::write(&file, format!("bench-token-of-{site}-0123456789abcdef"))
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", file.display()));
        file
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        if self.keep || std::thread::panicking() {
            eprintln!("kept {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// A center taking data from `sites` (name, token file).
fn center_config(plugins: &Path, sites: &[(&str, &PathBuf)]) -> String {
    let mut text = host_tables(plugins) + "\n[center]\n";
    for (site, token) in sites {
        text += &format!("\n[center.sites.{site}]\ntoken_file = \"{}\"\n", token.display());
    }
    text
}

/// A site: the listener on TCP, its link to the center at `center` as `site`.
fn site_config(plugins: &Path, center: SocketAddr, site: &str, token: &Path, options: &Options) -> String {
    host_tables(plugins)
        + "\n[drivers.tcp-in]\nplugin = \"listener\"\ntransport = \"tcp\"\nlisten = \"127.0.0.1:0\"\n"
        + &format!(
            "\n[sinks.{SINK}]\nkind = \"sync-center\"\nurl = \"http://{center}\"\nsite = \"{site}\"\ntoken_file = \"{}\"\nretry_max_ms = {}\n{}\n",
            token.display(),
            options.retry_max_ms,
            options.link_keys
        )
}

/// The site's archive log head: `/api/v1/stats` total new + conflict readings.
fn head_of(stats: &Value) -> u64 {
    let n = |name: &str| stats["total"][name].as_u64().unwrap_or(0);
    n("readings_new") + n("readings_conflict")
}

fn archive_head(site: &Host) -> u64 {
    head_of(&site.get_ok("/api/v1/stats"))
}

/// The site's link as its `/api/v1/sync` shows it.
#[derive(Debug, Clone, Default)]
struct Link {
    state: String,
    position: u64,
    head: u64,
    lag_records: u64,
    lag_seconds: f64,
    retried: u64,
    last_success_ms: Option<i64>,
    raw: Value,
}

fn link(site: &Host) -> Link {
    let sync = site.get_ok("/api/v1/sync");
    let found = sync["links"].as_array().and_then(|links| links.iter().find(|l| l["sink"]["id"] == SINK));
    let raw = found.cloned().unwrap_or_default();
    let s = &raw["sink"];
    let n = |name: &str| s[name].as_u64().unwrap_or(0);
    Link {
        state: raw["state"].as_str().unwrap_or("").to_owned(),
        position: n("position"),
        head: n("head"),
        lag_records: n("lag_records"),
        lag_seconds: s["lag_seconds"].as_f64().unwrap_or(0.0),
        retried: n("retried"),
        last_success_ms: s["last_success_ms"].as_i64(),
        raw: raw.clone(),
    }
}

/// A site as the center's `/api/v1/sync` shows it.
#[derive(Debug, Clone, Default)]
struct AtCenter {
    state: String,
    /// `position.readings`: the site's archive log, through where the center holds it.
    position: u64,
    lag_records: u64,
    batches: u64,
    readings: u64,
    bytes: u64,
}

/// Every site of the center, by name.
fn sites_at_center(center: &Host) -> BTreeMap<String, AtCenter> {
    let sync = center.get_ok("/api/v1/sync");
    let sites = sync["sites"].as_array().cloned().unwrap_or_default();
    sites
        .iter()
        .map(|s| {
            let n = |name: &str| s[name].as_u64().unwrap_or(0);
            let view = AtCenter {
                state: s["state"].as_str().unwrap_or("").to_owned(),
                position: s["position"]["readings"].as_u64().unwrap_or(0),
                lag_records: n("lag_records"),
                batches: n("batches"),
                readings: n("readings"),
                bytes: n("bytes"),
            };
            (s["site"].as_str().unwrap_or("").to_owned(), view)
        })
        .collect()
}

fn at_center(center: &Host, site: &str) -> AtCenter {
    sites_at_center(center).remove(site).unwrap_or_default()
}

/// With the feed stopped: wait until `site` has archived the `acked`
/// readings it acknowledged (counters balanced), both ends show the link in
/// sync with the center at the site's archive head, and the center has
/// archived it all; then check that the center holds every acknowledged
/// reading exactly once. The center's view of the site.
fn settle_and_check(center: &Host, site: &Host, name: &str, acked: u64) -> AtCenter {
    let stats = wait_archived(site, "tcp-in", acked);
    check_archive(&stats, "tcp-in", acked, acked);
    let head = head_of(&stats);
    let view = wait_for(&format!("site {name} in sync at both ends through {head}"), SYNC_DEADLINE, || {
        let l = link(site);
        let c = at_center(center, name);
        (c.position == head && l.state == "in_sync" && c.state == "in_sync" && c.lag_records == 0).then_some(c)
    });
    let source = format!("sync:{name}");
    let stats = wait_archived(center, &source, acked);
    let counters = &stats["sources"][&source];
    let expect = [
        ("received", view.batches),
        ("archived", view.batches),
        ("duplicate", 0),
        ("quarantined", 0),
        ("rejected", 0),
        ("readings_new", acked),
        ("readings_duplicate", 0),
        ("readings_conflict", 0),
    ];
    for (counter, want) in expect {
        assert!(
            counters[counter].as_u64() == Some(want),
            "center check failed: sources.{source}.{counter} = {}, expected {want} (site {name} acknowledged {acked} readings, the center stored {} batches); /api/v1/stats:\n{stats:#}",
            counters[counter],
            view.batches
        );
    }
    assert!(stats["balanced"] == true, "center check failed: counters do not balance:\n{stats:#}");
    assert!(
        view.readings == acked,
        "center check failed: sites[{name}].readings = {}, expected {acked}: {view:?}",
        view.readings
    );
    view
}

/// The largest lag seen.
#[derive(Default)]
struct Lags {
    max_seconds: f64,
    max_records: u64,
}

impl Lags {
    fn see(&mut self, l: &Link) {
        self.max_seconds = self.max_seconds.max(l.lag_seconds);
        self.max_records = self.max_records.max(l.lag_records);
    }
}

/// Fails when a position stays put for its limit while it is behind.
struct Stall {
    last: u64,
    moved: Instant,
    limit: Duration,
}

impl Stall {
    fn new(limit: Duration) -> Stall {
        Stall { last: 0, moved: Instant::now(), limit }
    }

    fn check(&mut self, position: u64, what: impl FnOnce() -> String) {
        if position != self.last {
            (self.last, self.moved) = (position, Instant::now());
        }
        assert!(
            self.moved.elapsed() < self.limit,
            "the center's position stayed at {position} for {:?}: {}",
            self.limit,
            what()
        );
    }
}

/// CPU seconds used so far by the sites' hosts, the center's and this
/// bench (each host a process: its WASM plugins run inside it).
#[derive(Debug, Clone, Copy)]
struct Cpu {
    sites: f64,
    center: f64,
    bench: f64,
}

impl Cpu {
    fn now(sites: &[&Host], center: &Host) -> Cpu {
        Cpu {
            sites: sites.iter().map(|h| process_cpu(h)).sum(),
            center: process_cpu(center),
            bench: cpu_seconds("/proc/self/stat"),
        }
    }

    /// Cores used since `earlier`, over `secs`: the sites, the center, this bench.
    fn cores_since(&self, earlier: &Cpu, secs: f64) -> [f64; 3] {
        let cores = |now: f64, then: f64| (now - then).max(0.0) / secs.max(1e-9);
        [cores(self.sites, earlier.sites), cores(self.center, earlier.center), cores(self.bench, earlier.bench)]
    }
}

fn process_cpu(host: &Host) -> f64 {
    cpu_seconds(&format!("/proc/{}/stat", host.pid()))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn options() -> Options {
    let args = Args::parse(
        &[
            ("--part", "METERHUB_BENCH_SYNC_PART"),
            ("--rate", "METERHUB_BENCH_RATE"),
            ("--feeders", "METERHUB_BENCH_FEEDERS"),
            ("--calm", "METERHUB_BENCH_CALM"),
            ("--outage-seconds", "METERHUB_BENCH_OUTAGE_SECONDS"),
            ("--wire-seconds", "METERHUB_BENCH_WIRE_SECONDS"),
            ("--sites", "METERHUB_BENCH_SITES"),
            ("--backlog", "METERHUB_BENCH_BACKLOG"),
            ("--connections", "METERHUB_BENCH_CONNECTIONS"),
            ("--window", "METERHUB_BENCH_WINDOW"),
            ("--meters", "METERHUB_BENCH_METERS"),
            ("--step-ms", "METERHUB_BENCH_STEP_MS"),
            ("--retry-max-ms", "METERHUB_BENCH_RETRY_MAX_MS"),
        ],
        |word| ["catchup", "wire", "sites", "all"].contains(&word).then_some("--part"),
        "sync",
    );
    Options {
        parts: match args.get("--part").unwrap_or("all") {
            "catchup" => vec![Part::Catchup],
            "wire" => vec![Part::Wire],
            "sites" => vec![Part::Sites],
            "all" => vec![Part::Wire, Part::Sites, Part::Catchup],
            other => panic!("part: expected catchup, wire, sites or all, got {other:?}"),
        },
        rate: args.positive("--rate", 1000.0),
        feeders: args.positive("--feeders", 4),
        calm: args.positive("--calm", 30.0),
        outage: args.positive("--outage-seconds", 600.0),
        wire_seconds: args.positive("--wire-seconds", 10.0),
        sites: args.positive("--sites", 10),
        backlog: args.positive("--backlog", 100_000),
        connections: args.positive("--connections", 4),
        window: args.positive("--window", 64),
        meters: args.positive("--meters", 1000),
        step_ms: args.positive("--step-ms", 900_000),
        retry_max_ms: args.positive("--retry-max-ms", 1000),
        link_keys: std::env::var("METERHUB_BENCH_SYNC_KEYS").unwrap_or_default().replace(';', "\n"),
        keep: args.keep,
    }
}
