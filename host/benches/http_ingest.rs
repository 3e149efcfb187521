//! HTTP ingest with durable acknowledgements, meterhub beside a PostgreSQL
//! peer (issue 14, "Goals for scripts/bench").
//!
//! A load generator keeps `connections` keep-alive HTTP/1.1 connections,
//! each POSTing `per-post` readings per request (a JSON array; one bare
//! reading object when `per-post` is 1, the listener takes both) and waiting
//! for the answer before the next, for `seconds` (or at `rate` readings/s in
//! all, paced per connection). Readings go to `meters` meters in turn (a
//! request of 100 holds 100 meters, as a concentrator's upload would), each
//! meter's timestamps `step-ms` apart from a year ago on, with a growing
//! cumulative value, so no reading is a duplicate. Any answer but 200
//! `{"ok":true,"accepted":N,...}` fails the bench.
//!
//! Targets, one after the other in one run (`--target both`), printed side
//! by side at the end:
//! - `meterhub`: the real binary (a fresh host under `target/bench-data/`)
//!   with the listener on its HTTP ingress (200 only after every reading of
//!   the request is fdatasync'ed in the journal);
//! - `peer`: `scripts/bench-support/pg-peer/run` on a free port: aiohttp +
//!   asyncpg, the same body, one multi-row `INSERT ... ON CONFLICT (device,
//!   channel, ts) DO NOTHING` per request, pool of 10, `synchronous_commit=on`
//!   (PostgreSQL at 127.0.0.1:5432; the first run makes its venv).
//!
//! For each: requests/s, readings/s, p50/p99/max latency (request written ->
//! answer read), CPU of the server (meterhub: its process with its children,
//! the native plugin runners if any; peer: its Python process plus every
//! `postgres` process) and of this client, the server's RSS sampled once a
//! second during the load (min, max, the slope of a least-squares line over
//! the last half, MiB/min: "flat" is near 0, and the value at each tenth of
//! the load, the curve's shape; the peer's is its Python
//! process only, PostgreSQL's memory is not counted), and disk bytes per
//! stored reading at rest. For meterhub also the pipeline backlog sampled
//! with the RSS (readings committed in the journal but not yet taken by the
//! archive's pipeline: max, mean and slope over the last half; below
//! `host.pipeline_backlog_mib` the archive takes records as fast as they
//! are acknowledged, at it the acknowledgements wait for the archive, so
//! the archive lags by at most that much and the rate measured is the
//! archive's), the archive backlog when the
//! load ends (readings acknowledged minus readings the archive shows as new
//! in `/api/v1/stats`), how long the archive took to catch up, the RSS then,
//! and afterwards the check that the archive holds exactly the acknowledged
//! readings (one frame per request) with balanced counters; its disk is the data directory
//! (journal, archive, accounting, users) after a clean stop, allocated
//! blocks. The peer's disk is `pg_total_relation_size` of its table (heap
//! and primary key; WAL not counted), and its table must hold exactly the
//! acknowledged readings.
//!
//! The client is one thread by default (tokio, current-thread runtime, raw
//! request bytes): it shares the machine's cores with the server, and its
//! CPU is printed.
//!
//! To see where the heap goes, build with `--features system-allocator`
//! (glibc's malloc, which heaptrack's preload library sees) and point
//! `METERHUB_BIN` at a script that runs that binary with heaptrack's
//! `LD_PRELOAD` and `DUMP_HEAPTRACK_OUTPUT` set.
//!
//! Build the host and plugins first (`scripts/bench` does), then:
//! `cargo bench -p meterhub --bench http_ingest [-- options]`. Examples:
//! `--target both` (the issue's batched goal), `--target both --per-post 1`
//! (one reading per POST), `--target meterhub --rate 20000 --seconds 600`
//! (RSS after 10 minutes at 20 k readings/s).
//!
//! | argument              | environment                      | default |
//! |-----------------------|----------------------------------|---------|
//! | `--target T` or `T`   | `METERHUB_BENCH_TARGET`          | `both` (`meterhub`, `peer`, `both`) |
//! | `--connections C`     | `METERHUB_BENCH_CONNECTIONS`     | 50      |
//! | `--per-post N`        | `METERHUB_BENCH_PER_POST`        | 100 readings per request |
//! | `--seconds S`         | `METERHUB_BENCH_SECONDS`         | 60      |
//! | `--meters M`          | `METERHUB_BENCH_METERS`          | 1000    |
//! | `--rate R`            | `METERHUB_BENCH_RATE`            | unlimited; else R readings/s in all |
//! | `--step-ms D`         | `METERHUB_BENCH_STEP_MS`         | 60000 (a meter's reading interval) |
//! | `--kind K`            | `METERHUB_BENCH_KIND`            | `wasm` (the listener plugin: `wasm`, `native`) |
//! | —                     | `METERHUB_BENCH_HOST_KEYS`       | extra `[host]` keys of meterhub, `;`-separated |
//! | `--client-threads T`  | `METERHUB_BENCH_CLIENT_THREADS`  | 1       |
//! | `--keep`              | `METERHUB_BENCH_KEEP=1`          | remove the data dir and the peer's log |

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use meterhub_testkit::bench::{
    Args, bench_data, check_archive, cpu_seconds, fdatasync_floor, filesystem, ms, percentile, readings_new,
    release_plugins, wait_archived,
};
use meterhub_testkit::http::ANSWER_TIMEOUT;
use meterhub_testkit::{Host, host_tables, now_ms, request, wait_for, workspace};

/// How long the peer may take to start (the first run installs its venv).
const PEER_START: Duration = Duration::from_secs(300);
/// How long the peer may take to stop on SIGTERM.
const PEER_STOP: Duration = Duration::from_secs(30);
/// The year of timestamps before now that the readings fill.
const HISTORY_MS: i64 = 365 * 86_400_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Meterhub,
    Peer,
}

struct Options {
    targets: Vec<Target>,
    connections: usize,
    per_post: u64,
    seconds: f64,
    meters: u64,
    rate: Option<f64>,
    step_ms: i64,
    kind: String,
    client_threads: usize,
    keep: bool,
}

/// What every connection draws its readings from.
struct Plan {
    /// The next reading's number; reading `n` is meter `n % meters` at
    /// `ts0 + (n / meters) * step_ms`.
    next: AtomicU64,
    /// Readings that fit before the host's clock.
    capacity: u64,
    ts0: i64,
    step_ms: i64,
    meters: u64,
    per_post: u64,
    seconds: Duration,
    /// Between two requests of one connection, when paced.
    interval: Option<Duration>,
    connections: usize,
}

impl Plan {
    fn new(options: &Options) -> Plan {
        let now = now_ms();
        let ts0 = (now - HISTORY_MS) / options.step_ms * options.step_ms;
        let capacity = u64::try_from((now - ts0) / options.step_ms).unwrap_or(0) * options.meters;
        let interval = options
            .rate
            .map(|rate| Duration::from_secs_f64(options.per_post as f64 * options.connections as f64 / rate));
        Plan {
            next: AtomicU64::new(0),
            capacity,
            ts0,
            step_ms: options.step_ms,
            meters: options.meters,
            per_post: options.per_post,
            seconds: Duration::from_secs_f64(options.seconds),
            interval,
            connections: options.connections,
        }
    }

    /// The body of the next request: readings `first..first + per_post`.
    fn body(&self, first: u64, out: &mut Vec<u8>) {
        assert!(
            first + self.per_post <= self.capacity,
            "reading {first}: the timestamps reached the host's clock; use more --meters or a smaller --step-ms"
        );
        out.clear();
        if self.per_post > 1 {
            out.push(b'[');
        }
        for n in first..first + self.per_post {
            if n > first {
                out.push(b',');
            }
            let (meter, k) = (n % self.meters, n / self.meters);
            let ts = self.ts0 + k as i64 * self.step_ms;
            let _ = write!(
                out,
                r#"{{"device":"meter-{meter:05}","channel":"volume","ts":{ts},"value":{}.{:03},"unit":"m3","kind":"cumulative"}}"#,
                k / 1000,
                k % 1000
            );
        }
        if self.per_post > 1 {
            out.push(b']');
        }
    }
}

/// What one connection saw.
struct Connection {
    requests: u64,
    readings: u64,
    /// Request latencies, microseconds.
    latencies_us: Vec<u32>,
    finished: Instant,
}

/// What the load saw, all connections together.
struct Load {
    requests: u64,
    readings: u64,
    elapsed: Duration,
    /// Sorted, microseconds.
    latencies_us: Vec<u32>,
    client_cpu: f64,
    /// When the last answer came.
    finished: Instant,
}

/// A quantity sampled once a second during the load.
struct Summary {
    min: f64,
    max: f64,
    last: f64,
    /// Mean over the last half of the samples.
    mean_last_half: f64,
    /// Least-squares slope over the last half of the samples, per minute.
    slope_per_min: Option<f64>,
    samples: usize,
    /// The value at each tenth of the span (the sample nearest it), for the
    /// shape of the curve: climbing, levelling off, or flat.
    tenths: Vec<f64>,
}

impl Summary {
    /// `points`: (seconds, value), at least one.
    fn of(points: &[(f64, f64)]) -> Summary {
        let span = points.last().map_or(0.0, |p| p.0);
        let half: Vec<(f64, f64)> = points.iter().copied().filter(|p| p.0 >= span / 2.0).collect();
        let values = || points.iter().map(|p| p.1);
        Summary {
            min: values().fold(f64::INFINITY, f64::min),
            max: values().fold(f64::NEG_INFINITY, f64::max),
            last: points.last().map_or(0.0, |p| p.1),
            mean_last_half: half.iter().map(|p| p.1).sum::<f64>() / half.len().max(1) as f64,
            slope_per_min: slope(&half).map(|per_s| per_s * 60.0),
            samples: points.len(),
            tenths: (1..=10)
                .filter_map(|tenth| {
                    let at = span * f64::from(tenth) / 10.0;
                    points.iter().min_by(|a, b| (a.0 - at).abs().total_cmp(&(b.0 - at).abs())).map(|p| p.1)
                })
                .collect(),
        }
    }
}

/// One target's results.
struct Report {
    name: String,
    load: Load,
    server_cpu: f64,
    /// MiB.
    rss: Summary,
    /// meterhub: readings committed but not yet taken by the archive's
    /// pipeline, sampled during the load.
    pipeline_backlog: Option<Summary>,
    /// meterhub: readings acknowledged but not yet shown as archived when
    /// the load ended, and how long the archive took to catch up.
    backlog: Option<(u64, Duration)>,
    rss_after_kib: Option<u64>,
    /// Bytes on disk at rest and readings stored.
    disk_bytes: u64,
    stored: u64,
}

fn main() {
    let options = options();
    let data = bench_data();
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let pace = options.rate.map_or_else(|| "unpaced".to_owned(), |r| format!("{r:.0} readings/s in all"));
    println!(
        "http ingest: {} keep-alive connections x {} reading{}/POST, {} s, {} meters, {pace}",
        options.connections,
        options.per_post,
        if options.per_post == 1 { "" } else { "s" },
        options.seconds,
        options.meters
    );
    println!(
        "machine: {cores} cores, shared by the server and this client ({} client thread{})",
        options.client_threads,
        if options.client_threads == 1 { "" } else { "s" }
    );
    let (fsync_p50, fsync_p99) = fdatasync_floor(&data, 200);
    println!(
        "disk: {} on {}; append 128 B + fdatasync alone: p50 {:.2} ms, p99 {:.2} ms (the floor under every durable answer)",
        data.display(),
        filesystem(&data),
        ms(fsync_p50),
        ms(fsync_p99)
    );
    let mut reports = Vec::new();
    for target in &options.targets {
        let report = match target {
            Target::Meterhub => run_meterhub(&options, &data),
            Target::Peer => run_peer(&options, &data),
        };
        print_report(&report, &options);
        reports.push(report);
    }
    if reports.len() > 1 {
        print_side_by_side(&reports);
    }
}

/// Start a fresh host with the listener on HTTP, load it, wait for the
/// archive, check it, stop it and measure its data directory.
fn run_meterhub(options: &Options, data: &Path) -> Report {
    let plugins = release_plugins(&options.kind);
    assert!(
        plugins.join("listener/plugin.toml").exists(),
        "{} has no listener plugin: run scripts/build-plugins --release first (scripts/bench does)",
        plugins.display()
    );
    // `METERHUB_BENCH_HOST_KEYS` adds `[host]` keys (e.g. `archive_cache_mib = 16`), to see what each limit costs.
    let host_keys = std::env::var("METERHUB_BENCH_HOST_KEYS").unwrap_or_default().replace(';', "\n");
    let config = host_tables(&plugins).replacen("[host]\n", &format!("[host]\n{host_keys}\n"), 1)
        + "\n[drivers.http-in]\nplugin = \"listener\"\ntransport = \"http\"\nlisten = \"127.0.0.1:0\"\nmax_body_bytes = 16777216\n";
    let dir = data.join(format!("http-ingest-{}-{}", options.kind, std::process::id()));
    let mut host = Host::start_in(&dir, &config, options.keep);
    let pid = host.pid();
    let name = format!("meterhub ({})", options.kind);
    eprintln!("running {name} at {}...", host.driver("http-in"));
    let cpu_before = tree_cpu(pid);
    let sampler = Sampler::start(pid, Some(host.api));
    let load = drive(host.driver("http-in"), options);
    let (rss, pipeline_backlog) = sampler.finish(pid, options.per_post);
    let server_cpu = (tree_cpu(pid) - cpu_before) / load.elapsed.as_secs_f64();

    let archived_then = readings_new(&host.get_ok("/api/v1/stats"), "http-in");
    let backlog = load.readings.saturating_sub(archived_then);
    let stats = wait_archived(&host, "http-in", load.readings);
    let catch_up = load.finished.elapsed();
    check_archive(&stats, "http-in", load.requests, load.readings);
    let rss_after_kib = rss_kib(pid);

    host.stop();
    let disk_bytes = allocated_bytes(&host.data_dir());
    drop(host);
    Report {
        name,
        server_cpu,
        rss,
        pipeline_backlog,
        backlog: Some((backlog, catch_up)),
        rss_after_kib,
        disk_bytes,
        stored: load.readings,
        load,
    }
}

/// Start the PostgreSQL peer on a free port, load it, check its table and
/// stop it.
fn run_peer(options: &Options, data: &Path) -> Report {
    let mut peer = Peer::start(data, options.keep);
    eprintln!("running the PostgreSQL peer at {}...", peer.addr);
    let pid = peer.pid();
    let cpu_before = tree_cpu(pid) + postgres_cpu();
    let sampler = Sampler::start(pid, None);
    let load = drive(peer.addr, options);
    let (rss, pipeline_backlog) = sampler.finish(pid, options.per_post);
    let cpu_after = tree_cpu(pid) + postgres_cpu();
    let server_cpu = (cpu_after - cpu_before) / load.elapsed.as_secs_f64();

    let stats = peer.stats();
    let rows = stats["rows"].as_u64();
    assert!(
        rows == Some(load.readings),
        "peer check failed: its table holds {rows:?} rows, {} readings were acknowledged: {stats}",
        load.readings
    );
    let disk_bytes = stats["table_bytes"].as_u64().expect("GET /stats: table_bytes");
    peer.stop();
    Report {
        name: "pg peer".to_owned(),
        server_cpu,
        rss,
        pipeline_backlog,
        backlog: None,
        rss_after_kib: None,
        disk_bytes,
        stored: load.readings,
        load,
    }
}

/// Drive the server at `addr` with the options' load; returns what the
/// client saw.
fn drive(addr: SocketAddr, options: &Options) -> Load {
    let runtime = if options.client_threads == 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(options.client_threads).enable_all().build()
    }
    .expect("the client's runtime");
    let plan = Arc::new(Plan::new(options));
    let cpu_before = cpu_seconds("/proc/self/stat");
    let (connections, started) = runtime.block_on(async {
        // Every connection is open before the clock starts.
        let mut streams = Vec::with_capacity(plan.connections);
        for id in 0..plan.connections {
            let stream =
                TcpStream::connect(addr).await.unwrap_or_else(|e| panic!("connection {id}: connect to {addr}: {e}"));
            stream.set_nodelay(true).expect("TCP_NODELAY");
            streams.push(stream);
        }
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for (id, stream) in streams.into_iter().enumerate() {
            tasks.spawn(connection(id, stream, plan.clone(), started));
        }
        // The first connection that fails ends the bench (and the others).
        let mut connections = Vec::with_capacity(plan.connections);
        while let Some(done) = tasks.join_next().await {
            connections.push(done.unwrap_or_else(|e| panic!("a connection failed: {e}")));
        }
        (connections, started)
    });
    drop(runtime);
    let finished = connections.iter().map(|c| c.finished).max().unwrap_or(started);
    let elapsed = finished - started;
    let client_cpu = (cpu_seconds("/proc/self/stat") - cpu_before) / elapsed.as_secs_f64();
    let mut latencies_us: Vec<u32> = connections.iter().flat_map(|c| c.latencies_us.iter().copied()).collect();
    latencies_us.sort_unstable();
    let load = Load {
        requests: connections.iter().map(|c| c.requests).sum(),
        readings: connections.iter().map(|c| c.readings).sum(),
        elapsed,
        latencies_us,
        client_cpu,
        finished,
    };
    assert!(load.readings > 0, "no reading was acknowledged");
    load
}

/// One keep-alive connection: POST, read the answer, repeat until the plan's
/// time from `started` is up (paced when the plan has an interval).
async fn connection(id: usize, mut stream: TcpStream, plan: Arc<Plan>, started: Instant) -> Connection {
    let addr = stream.peer_addr().expect("the server's address");
    let expect = format!(r#"{{"ok":true,"accepted":{},"#, plan.per_post);
    let mut body = Vec::with_capacity(plan.per_post as usize * 128);
    let mut out = Vec::with_capacity(plan.per_post as usize * 128 + 128);
    let mut answers = Answers::default();
    let mut latencies_us = Vec::with_capacity(1 << 14);
    let mut requests = 0u64;
    let stop = started + plan.seconds;
    // Paced connections start spread over one interval.
    let mut next_at = plan.interval.map(|i| started + i.mul_f64(id as f64 / plan.connections as f64));
    loop {
        if let (Some(at), Some(interval)) = (next_at.as_mut(), plan.interval) {
            if *at >= stop {
                break;
            }
            tokio::time::sleep_until((*at).into()).await;
            *at += interval;
        }
        if Instant::now() >= stop {
            break;
        }
        let first = plan.next.fetch_add(plan.per_post, Ordering::Relaxed);
        plan.body(first, &mut body);
        out.clear();
        let _ = write!(
            out,
            "POST /readings HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        out.extend_from_slice(&body);
        let sent = Instant::now();
        stream.write_all(&out).await.unwrap_or_else(|e| panic!("connection {id}: send request {requests}: {e}"));
        let answer = tokio::time::timeout(ANSWER_TIMEOUT, answers.next(&mut stream))
            .await
            .unwrap_or_else(|_| panic!("connection {id}: no answer to request {requests} in {ANSWER_TIMEOUT:?}"));
        let (status, answer_body) =
            answer.unwrap_or_else(|e| panic!("connection {id}: reading the answer to request {requests}: {e}"));
        latencies_us.push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX));
        assert!(
            status == 200 && answer_body.starts_with(expect.as_bytes()),
            "connection {id}: request {requests} was answered {status} {}",
            String::from_utf8_lossy(&answer_body[..answer_body.len().min(500)])
        );
        requests += 1;
    }
    Connection { requests, readings: requests * plan.per_post, latencies_us, finished: Instant::now() }
}

/// HTTP/1.1 answers read from one connection (Content-Length bodies).
#[derive(Default)]
struct Answers {
    buf: Vec<u8>,
}

impl Answers {
    /// The next answer's status and body.
    async fn next(&mut self, stream: &mut TcpStream) -> std::io::Result<(u16, Vec<u8>)> {
        let head_end = loop {
            if let Some(at) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            self.fill(stream).await?;
        };
        let head = std::str::from_utf8(&self.buf[..head_end]).map_err(std::io::Error::other)?;
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok());
        let mut length = None;
        for line in head.split("\r\n").skip(1) {
            let Some((name, value)) = line.split_once(':') else { continue };
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                return Err(std::io::Error::other(format!("unsupported transfer-encoding {}", value.trim())));
            }
        }
        let (Some(status), Some(length)) = (status, length) else {
            return Err(std::io::Error::other(format!("an answer without a status or Content-Length: {head:?}")));
        };
        while self.buf.len() < head_end + length {
            self.fill(stream).await?;
        }
        let body = self.buf[head_end..head_end + length].to_vec();
        self.buf.drain(..head_end + length);
        Ok((status, body))
    }

    async fn fill(&mut self, stream: &mut TcpStream) -> std::io::Result<()> {
        let mut chunk = [0u8; 16 * 1024];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the server closed the connection"));
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

/// Samples a process's RSS once a second on its own thread.
/// Samples the server once a second during the load: its RSS and, for
/// meterhub, the requests committed but not yet taken by the archive's
/// pipeline (`meterhub_pipeline_backlog_records` in `/metrics`).
struct Sampler {
    stop: mpsc::Sender<()>,
    thread: std::thread::JoinHandle<Vec<Sample>>,
}

/// One sample: seconds since the start, RSS KiB, backlog records.
type Sample = (f64, u64, Option<u64>);

impl Sampler {
    fn start(pid: u32, api: Option<SocketAddr>) -> Sampler {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("sampler".to_owned())
            .spawn(move || {
                let started = Instant::now();
                let mut samples = Vec::new();
                loop {
                    if let Some(kib) = rss_kib(pid) {
                        samples.push((started.elapsed().as_secs_f64(), kib, api.and_then(backlog_records)));
                    }
                    match stopped.recv_timeout(Duration::from_secs(1)) {
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                        _ => break,
                    }
                }
                samples
            })
            .expect("spawn the sampler");
        Sampler { stop, thread }
    }

    /// Stop sampling and summarize: the RSS (with one last sample), and the
    /// backlog in readings (`per_post` a request).
    fn finish(self, pid: u32, per_post: u64) -> (Summary, Option<Summary>) {
        let _ = self.stop.send(());
        let mut samples = self.thread.join().expect("the sampler");
        if let Some(kib) = rss_kib(pid) {
            let at = samples.last().map_or(0.0, |s| s.0 + 1.0);
            samples.push((at, kib, None));
        }
        let rss: Vec<(f64, f64)> = samples.iter().map(|&(t, kib, _)| (t, kib as f64 / 1024.0)).collect();
        let backlog: Vec<(f64, f64)> =
            samples.iter().filter_map(|&(t, _, records)| Some((t, (records? * per_post) as f64))).collect();
        (Summary::of(&rss), (!backlog.is_empty()).then(|| Summary::of(&backlog)))
    }
}

/// `meterhub_pipeline_backlog_records` of the host whose API is at `api`.
fn backlog_records(api: SocketAddr) -> Option<u64> {
    let (status, body) = meterhub_testkit::http::http(api, "GET", "/metrics", b"");
    let text = String::from_utf8(body).ok().filter(|_| status == 200)?;
    text.lines().find_map(|line| line.strip_prefix("meterhub_pipeline_backlog_records ")?.trim().parse().ok())
}

/// Least-squares slope of `points` (x, y); `None` for fewer than two x.
fn slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    (points.len() >= 2 && sxx > 0.0).then(|| sxy / sxx)
}

/// VmRSS of `pid` and of its child processes (a host's native plugin
/// runners), KiB; `None` once `pid` is gone.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let own: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())?;
    Some(own + children(pid).into_iter().filter_map(rss_kib).sum::<u64>())
}

/// CPU seconds of `pid` and of its child processes.
fn tree_cpu(pid: u32) -> f64 {
    stat_cpu(pid).map_or(0.0, |(_, own)| own) + children(pid).into_iter().map(tree_cpu).sum::<f64>()
}

/// CPU seconds of every process named `postgres` (the server and its
/// backends; one that ends between the listing and the read is skipped).
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

/// The command name and user plus system CPU seconds of `pid`; `None`
/// once it is gone.
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

/// Bytes allocated to the files under `dir` (what `du` counts).
fn allocated_bytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(m) if m.is_dir() => allocated_bytes(&entry.path()),
            Ok(m) => m.blocks() * 512,
            Err(_) => 0,
        })
        .sum()
}

/// The PostgreSQL peer, started by its run script; killed on drop.
struct Peer {
    child: Option<Child>,
    addr: SocketAddr,
    log: PathBuf,
    keep: bool,
}

impl Peer {
    /// Start it on a free port and wait until it answers `GET /stats` (its
    /// table is made before it listens).
    fn start(data: &Path, keep: bool) -> Peer {
        let port =
            TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port for the peer").port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let log = data.join(format!("pg-peer-{}.log", std::process::id()));
        let out = std::fs::File::create(&log).unwrap_or_else(|e| panic!("cannot create {}: {e}", log.display()));
        let err = out.try_clone().expect("the peer's log");
        let script = workspace().join("scripts/bench-support/pg-peer/run");
        let child = Command::new(&script)
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        let mut peer = Peer { child: Some(child), addr, log, keep };
        wait_for("the PostgreSQL peer to listen", PEER_START, || {
            if let Some(status) = peer.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("the peer exited with {status} during start; log:\n{}", peer.log());
            }
            std::net::TcpStream::connect(addr).ok().map(drop)
        });
        peer.stats();
        peer
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `GET /stats`: rows and table bytes.
    fn stats(&self) -> Value {
        let r = request(self.addr, "GET", "/stats", &[], b"");
        assert_eq!(r.status, 200, "peer GET /stats: {}", String::from_utf8_lossy(&r.body));
        r.json()
    }

    /// SIGTERM, and an exit within [`PEER_STOP`].
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        let sent = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("run kill");
        assert!(sent.success(), "kill -TERM {} failed", child.id());
        wait_for("the peer to stop on SIGTERM", PEER_STOP, || child.try_wait().ok().flatten());
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if self.keep || std::thread::panicking() {
            eprintln!("kept {}", self.log.display());
        } else {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn print_report(r: &Report, options: &Options) {
    let l = &r.load;
    let secs = l.elapsed.as_secs_f64();
    println!();
    println!("== {}", r.name);
    let rate = options.rate.map_or_else(String::new, |rate| format!("; target {rate:.0}/s"));
    println!(
        "load: {:.1} s, {} requests ({:.0}/s), {} readings ({:.0}/s{rate})",
        secs,
        l.requests,
        l.requests as f64 / secs,
        l.readings,
        l.readings as f64 / secs
    );
    let lat = &l.latencies_us;
    println!(
        "latency per request: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(percentile(lat, 0.50)),
        ms(percentile(lat, 0.99)),
        ms(lat.last().copied().unwrap_or(0))
    );
    println!("cpu (cores): server {:.2}, client {:.2}", r.server_cpu, l.client_cpu);
    if let Some((backlog, catch_up)) = r.backlog {
        println!(
            "archive: {backlog} acknowledged readings not yet archived when the load ended; all {} archived {:.1} s after it (checked: frames received = archived = requests, new readings = acknowledged, balanced)",
            l.readings,
            catch_up.as_secs_f64()
        );
    }
    let slope = r.rss.slope_per_min.map_or_else(|| "-".to_owned(), |s| format!("{s:+.1}"));
    let after = r.rss_after_kib.map_or_else(String::new, |kib| format!(", {:.0} MiB after the catch-up", mib(kib)));
    println!(
        "RSS{}: {:.0}..{:.0} MiB over {} samples, {:.0} MiB at the end, last-half slope {slope} MiB/min{after}",
        if r.backlog.is_none() {
            " (the Python process; PostgreSQL not counted)"
        } else {
            " (with any plugin runners)"
        },
        r.rss.min,
        r.rss.max,
        r.rss.samples,
        r.rss.last
    );
    let tenths: Vec<String> = r.rss.tenths.iter().map(|v| format!("{v:.0}")).collect();
    println!("RSS at each tenth of the load, MiB: {}", tenths.join(", "));
    if let Some(b) = &r.pipeline_backlog {
        println!(
            "pipeline backlog (readings committed, not yet taken by the archive): max {:.0}, last-half mean {:.0}, slope {}/min, {:.0} at the end",
            b.max,
            b.mean_last_half,
            b.slope_per_min.map_or_else(|| "-".to_owned(), |s| format!("{s:+.0}")),
            b.last
        );
    }
    let what = if r.backlog.is_some() {
        "data dir after a clean stop, allocated"
    } else {
        "pg_total_relation_size: heap + primary key, no WAL"
    };
    println!(
        "disk at rest: {} bytes for {} readings = {:.1} B/reading ({what})",
        r.disk_bytes,
        r.stored,
        r.disk_bytes as f64 / r.stored as f64
    );
}

/// The reports as columns, with the first over the second where a ratio
/// says something.
fn print_side_by_side(reports: &[Report]) {
    type Cell = fn(&Report) -> Option<f64>;
    let secs = |r: &Report| r.load.elapsed.as_secs_f64();
    let rows: [(&str, Cell, usize, bool); 15] = [
        ("requests/s", |r| Some(r.load.requests as f64 / r.load.elapsed.as_secs_f64()), 0, true),
        ("readings/s", |r| Some(r.load.readings as f64 / r.load.elapsed.as_secs_f64()), 0, true),
        ("p50 latency ms", |r| Some(ms(percentile(&r.load.latencies_us, 0.50))), 2, true),
        ("p99 latency ms", |r| Some(ms(percentile(&r.load.latencies_us, 0.99))), 2, true),
        ("max latency ms", |r| Some(ms(r.load.latencies_us.last().copied().unwrap_or(0))), 2, false),
        ("server cpu (cores)", |r| Some(r.server_cpu), 2, false),
        ("client cpu (cores)", |r| Some(r.load.client_cpu), 2, false),
        ("backlog at end (readings)", |r| r.backlog.map(|b| b.0 as f64), 0, false),
        ("archive catch-up s", |r| r.backlog.map(|b| b.1.as_secs_f64()), 1, false),
        ("pipeline backlog, last-half mean", |r| r.pipeline_backlog.as_ref().map(|b| b.mean_last_half), 0, false),
        ("RSS min MiB", |r| Some(r.rss.min), 0, false),
        ("RSS max MiB", |r| Some(r.rss.max), 0, true),
        ("RSS slope, last half MiB/min", |r| r.rss.slope_per_min, 1, false),
        ("RSS after catch-up MiB", |r| r.rss_after_kib.map(mib), 0, false),
        ("disk B/reading at rest", |r| Some(r.disk_bytes as f64 / r.stored as f64), 1, true),
    ];
    let first = &reports[0];
    println!();
    println!("== side by side ({:.1} s and {:.1} s of load)", secs(first), secs(&reports[1]));
    let mut line = format!("{:<30}", "");
    for r in reports {
        let _ = write!(line, " {:>18}", r.name);
    }
    let ratio_name = format!("{}/{}", short(&reports[0].name), short(&reports[1].name));
    let _ = write!(line, " {ratio_name:>16}");
    println!("{line}");
    for (label, cell, decimals, ratio) in rows {
        let mut line = format!("{label:<30}");
        for r in reports {
            let text = cell(r).map_or_else(|| "-".to_owned(), |v| format!("{v:.decimals$}"));
            let _ = write!(line, " {text:>18}");
        }
        if ratio && let (Some(a), Some(b)) = (cell(&reports[0]), cell(&reports[1])) {
            let _ = write!(line, " {:>15.2}x", a / b);
        }
        println!("{line}");
    }
    println!();
    println!(
        "latency: request written -> answer read. RSS: the server's process (with its children), sampled each second"
    );
    println!(
        "during the load (the peer's: Python only). backlog: acknowledged minus archived readings when the load ended."
    );
}

/// The first word of a report's name.
fn short(name: &str) -> &str {
    name.split_whitespace().next().unwrap_or(name)
}

fn options() -> Options {
    let args = Args::parse(
        &[
            ("--target", "METERHUB_BENCH_TARGET"),
            ("--connections", "METERHUB_BENCH_CONNECTIONS"),
            ("--per-post", "METERHUB_BENCH_PER_POST"),
            ("--seconds", "METERHUB_BENCH_SECONDS"),
            ("--meters", "METERHUB_BENCH_METERS"),
            ("--rate", "METERHUB_BENCH_RATE"),
            ("--step-ms", "METERHUB_BENCH_STEP_MS"),
            ("--kind", "METERHUB_BENCH_KIND"),
            ("--client-threads", "METERHUB_BENCH_CLIENT_THREADS"),
        ],
        |word| ["meterhub", "peer", "both"].contains(&word).then_some("--target"),
        "http_ingest",
    );
    let kind = args.plugin_kind();
    Options {
        targets: match args.get("--target").unwrap_or("both") {
            "meterhub" => vec![Target::Meterhub],
            "peer" => vec![Target::Peer],
            "both" => vec![Target::Meterhub, Target::Peer],
            other => panic!("target: expected meterhub, peer or both, got {other:?}"),
        },
        connections: args.positive("--connections", 50),
        per_post: args.positive("--per-post", 100),
        seconds: args.positive("--seconds", 60.0),
        meters: args.positive("--meters", 1000),
        rate: args.get("--rate").map(|_| args.positive("--rate", 1.0)),
        step_ms: args.positive("--step-ms", 60_000),
        kind,
        client_threads: args.positive("--client-threads", 1),
        keep: args.keep,
    }
}
