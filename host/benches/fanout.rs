//! Fan-out of live readings to many Server-Sent Events clients, end to end.
//!
//! Starts the real `meterhub` binary (a fresh host per run) with the
//! listener plugin on HTTP, opens `clients` SSE streams
//! (`GET /api/v1/stream?device=..`, each selecting `per-client` of the
//! `meters` meters, so each meter has `clients × per-client / meters`
//! subscribers), waits until every stream is live, then sends `rate`
//! readings per second for `seconds` through the listener's HTTP ingress
//! (one POST every 10 ms, each meter in turn). Each client notes, for every
//! reading event, its delay from the archive's commit (`archived_at_ms`, the
//! host's clock) to its arrival (the same machine's clock).
//!
//! It reports: events offered (readings × subscribers) and delivered per
//! second, the p50/p99/max commit-to-client latency, the host's memory
//! before the streams, with them idle (→ memory per client) and at the end,
//! and its CPU. Ten of the clients also measure delivery quality as the
//! dispatcher page does: a control request every `Tc` (1 s here), its
//! `T3 = (Tr − Ts)/2` and how many answers were late (`2·T3 > Tc`).
//! Then a second phase adds `slow` clients that subscribe to
//! everything and never read their socket, and measures the same clients
//! again: their bounded queues (L + M) must not slow the others down nor
//! grow the host without bound.
//!
//! Build the host and plugins first (`scripts/bench` does), then:
//! `cargo bench -p meterhub --bench fanout [-- options]`.
//!
//! | argument          | environment                  | default |
//! |-------------------|------------------------------|---------|
//! | `--clients N`     | `METERHUB_BENCH_CLIENTS`     | 1000    |
//! | `--meters M`      | `METERHUB_BENCH_METERS`      | 1000    |
//! | `--per-client K`  | `METERHUB_BENCH_PER_CLIENT`  | 10      |
//! | `--rate R`        | `METERHUB_BENCH_RATE`        | 1000 readings/s |
//! | `--seconds D`     | `METERHUB_BENCH_SECONDS`     | 10 per phase |
//! | `--slow S`        | `METERHUB_BENCH_SLOW`        | 10 (0: no second phase) |
//! | `--keep`          | `METERHUB_BENCH_KEEP=1`      | remove the data dir |

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use meterhub_testkit::bench::{Args, bench_data, cpu_seconds, percentile, release_plugins};
use meterhub_testkit::{Host, host_tables, now_ms, wait_for};

/// Latency buckets: one per millisecond up to this, the last holds the rest.
const BUCKETS: usize = 60_000;
/// Clients that also measure delivery quality.
const PROBES: usize = 10;

struct Options {
    clients: usize,
    meters: usize,
    per_client: usize,
    rate: usize,
    seconds: f64,
    slow: usize,
    keep: bool,
}

/// What every client adds to.
struct Tally {
    /// Reading events received.
    events: AtomicU64,
    /// Latency histogram, ms.
    latency: Vec<AtomicU64>,
    /// Streams that saw their `live` event.
    live: AtomicUsize,
    /// Streams that ended or failed.
    ended: AtomicUsize,
    /// T3 of the probes' control answers, microseconds.
    t3_us: std::sync::Mutex<Vec<u32>>,
    /// Late control answers.
    late: AtomicU64,
}

impl Tally {
    fn new() -> Arc<Tally> {
        Arc::new(Tally {
            events: AtomicU64::new(0),
            latency: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            live: AtomicUsize::new(0),
            ended: AtomicUsize::new(0),
            t3_us: std::sync::Mutex::new(Vec::new()),
            late: AtomicU64::new(0),
        })
    }

    /// Takes the counts so far (events, the histogram, T3s, late answers),
    /// leaving zeros.
    fn take(&self) -> (u64, Vec<u64>, Vec<u32>, u64) {
        let events = self.events.swap(0, Ordering::Relaxed);
        let histogram = self.latency.iter().map(|b| b.swap(0, Ordering::Relaxed)).collect();
        let mut t3 = std::mem::take(&mut *self.t3_us.lock().unwrap_or_else(|e| e.into_inner()));
        t3.sort_unstable();
        (events, histogram, t3, self.late.swap(0, Ordering::Relaxed))
    }
}

/// `p` of a histogram in ms.
fn histogram_percentile(histogram: &[u64], p: f64) -> u32 {
    let total: u64 = histogram.iter().sum();
    if total == 0 {
        return 0;
    }
    let rank = ((p * total as f64).ceil() as u64).max(1);
    let mut seen = 0;
    for (ms, count) in histogram.iter().enumerate() {
        seen += count;
        if seen >= rank {
            return ms as u32;
        }
    }
    BUCKETS as u32
}

fn histogram_max(histogram: &[u64]) -> usize {
    histogram.iter().rposition(|c| *c > 0).unwrap_or(0)
}

/// The value of `"archived_at_ms":` in an event's JSON, without parsing all of it.
fn archived_at(data: &str) -> Option<i64> {
    let at = data.find("\"archived_at_ms\":")? + "\"archived_at_ms\":".len();
    let digits: String = data[at..].chars().skip_while(|c| *c == ' ').take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The value of `"key":"..."` in JSON text, without parsing all of it.
fn string_field<'a>(data: &'a str, key: &str) -> Option<&'a str> {
    let pattern = format!("\"{key}\":\"");
    let at = data.find(&pattern)? + pattern.len();
    data[at..].split('"').next()
}

/// A probe's control requests: one every `control_ms`, its `Ts` now.
async fn control_requests(api: SocketAddr, token: Arc<str>, stream: String, control_ms: u64) {
    let mut tick = tokio::time::interval(Duration::from_millis(control_ms));
    loop {
        tick.tick().await;
        let body = format!("{{\"ts\":{}}}", now_ms());
        let request = format!(
            "POST /api/v1/stream/{stream}/control HTTP/1.1\r\nHost: {api}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let Ok(mut conn) = TcpStream::connect(api).await else { return };
        if conn.write_all(request.as_bytes()).await.is_err() {
            return;
        }
        let mut answer = Vec::new();
        let _ = conn.read_to_end(&mut answer).await;
        // 409 (one still queued) is the design: nothing to note.
        if !(answer.starts_with(b"HTTP/1.1 202") || answer.starts_with(b"HTTP/1.1 409")) {
            return;
        }
    }
}

/// One SSE client: reads its chunked stream, tallies each reading event;
/// a `probe` also measures delivery quality with control requests.
async fn client(api: SocketAddr, token: Arc<str>, query: String, tally: Arc<Tally>, probe: bool) {
    let done = |tally: &Tally| {
        tally.ended.fetch_add(1, Ordering::Relaxed);
    };
    let Ok(mut stream) = TcpStream::connect(api).await else { return done(&tally) };
    let head = format!(
        "GET /api/v1/stream?{query} HTTP/1.1\r\nHost: {api}\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
    );
    if stream.write_all(head.as_bytes()).await.is_err() {
        return done(&tally);
    }
    let mut reader = BufReader::with_capacity(16 * 1024, stream);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
            return done(&tally);
        }
        if line == "\r\n" {
            break;
        }
    }
    let mut text = String::new();
    let mut chunk = Vec::new();
    let mut control: Option<u64> = None;
    loop {
        line.clear();
        if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
            return done(&tally);
        }
        let Ok(size) = usize::from_str_radix(line.trim(), 16) else { return done(&tally) };
        if size == 0 {
            return done(&tally);
        }
        chunk.resize(size + 2, 0);
        if reader.read_exact(&mut chunk).await.is_err() {
            return done(&tally);
        }
        text.push_str(&String::from_utf8_lossy(&chunk[..size]));
        let arrived = now_ms();
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            if block.starts_with("event: reading") {
                if let Some(at) = block.find("data: ").and_then(|d| archived_at(&block[d..])) {
                    let ms = usize::try_from(arrived - at).unwrap_or(0).min(BUCKETS - 1);
                    tally.latency[ms].fetch_add(1, Ordering::Relaxed);
                }
                tally.events.fetch_add(1, Ordering::Relaxed);
            } else if block.starts_with("event: live") {
                tally.live.fetch_add(1, Ordering::Relaxed);
            } else if block.starts_with("event: hello") && probe {
                let stream = string_field(&block, "stream").unwrap_or_default().to_owned();
                let control_ms = block
                    .split("\"control_ms\":")
                    .nth(1)
                    .and_then(|v| v.split(|c: char| !c.is_ascii_digit()).next())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(5000);
                control = Some(control_ms);
                tokio::spawn(control_requests(api, token.clone(), stream, control_ms));
            } else if block.starts_with("event: control")
                && let (Some(tc), Some(ts)) = (control, block.split("\"ts\":").nth(1))
            {
                let ts: i64 = ts.split(|c: char| !c.is_ascii_digit()).next().and_then(|v| v.parse().ok()).unwrap_or(0);
                let measured = meterhub::publish::quality::measure(ts, now_ms(), tc);
                tally.t3_us.lock().unwrap_or_else(|e| e.into_inner()).push((measured.t3_ms * 1000.0) as u32);
                if measured.late {
                    tally.late.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

/// A client that subscribes to everything and never reads: the slow one.
async fn slow_client(api: SocketAddr, token: Arc<str>) -> Option<TcpStream> {
    let mut stream = TcpStream::connect(api).await.ok()?;
    let head = format!("GET /api/v1/stream?tree=* HTTP/1.1\r\nHost: {api}\r\nAuthorization: Bearer {token}\r\n\r\n");
    stream.write_all(head.as_bytes()).await.ok()?;
    Some(stream)
}

/// Sends `rate` readings/s for `seconds` through the listener's HTTP
/// ingress, meters in turn; answers the readings sent.
fn send_readings(ingress: SocketAddr, options: &Options, round: &mut i64) -> u64 {
    let per_tick = options.rate.div_ceil(100).max(1);
    let ticks = (options.seconds * 100.0) as u64;
    let start = Instant::now();
    let mut meter = 0usize;
    let mut sent = 0u64;
    for tick in 0..ticks {
        let due = start + Duration::from_millis(tick * 10);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait); // pacing the load, not a test wait
        }
        let mut body = String::from("[");
        for i in 0..per_tick {
            if meter == 0 {
                *round += 1;
            }
            let ts = 1_772_323_200_000 + *round * 1000;
            if i > 0 {
                body.push(',');
            }
            body.push_str(&format!(
                r#"{{"device":"m{meter}","channel":"volume","ts":{ts},"value":"{round}","unit":"m3","kind":"cumulative"}}"#
            ));
            meter = (meter + 1) % options.meters;
        }
        body.push(']');
        post(ingress, &body);
        sent += per_tick as u64;
    }
    sent
}

fn post(addr: SocketAddr, body: &str) {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to the ingress");
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body.as_bytes())).expect("post");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    assert!(answer.starts_with(b"HTTP/1.1 200"), "ingress answered {}", String::from_utf8_lossy(&answer));
}

struct Phase {
    events: u64,
    histogram: Vec<u64>,
    t3_us: Vec<u32>,
    late: u64,
    sent: u64,
    seconds: f64,
    cpu: f64,
}

fn run_phase(host: &Host, ingress: SocketAddr, options: &Options, tally: &Tally, round: &mut i64) -> Phase {
    let stat = format!("/proc/{}/stat", host.pid());
    tally.take();
    let cpu_before = cpu_seconds(&stat);
    let started = Instant::now();
    let sent = send_readings(ingress, options, round);
    // Let the last readings arrive: until nothing new for 500 ms (the
    // phase ends at the last poll that still saw some).
    let mut last = tally.events.load(Ordering::Relaxed);
    let mut ended = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let now = tally.events.load(Ordering::Relaxed);
        if now == last {
            break;
        }
        (last, ended) = (now, Instant::now());
    }
    let seconds = ended.duration_since(started).as_secs_f64();
    let (events, histogram, t3_us, late) = tally.take();
    Phase { events, histogram, t3_us, late, sent, seconds, cpu: cpu_seconds(&stat) - cpu_before }
}

fn report(name: &str, phase: &Phase, options: &Options) {
    let subscribers = options.clients as f64 * options.per_client as f64 / options.meters as f64;
    let offered = phase.sent as f64 * subscribers;
    println!(
        "{name}: {} readings sent in {:.1} s ({:.0}/s); events offered {:.0}, delivered {} ({:.1} %) by {:.1} s, \
         {:.0} events/s; commit -> client p50 {} ms, p99 {} ms, max {} ms; host CPU {:.2} s ({:.0} % of one core)",
        phase.sent,
        options.seconds,
        phase.sent as f64 / options.seconds,
        offered,
        phase.events,
        100.0 * phase.events as f64 / offered.max(1.0),
        phase.seconds,
        phase.events as f64 / phase.seconds,
        histogram_percentile(&phase.histogram, 0.50),
        histogram_percentile(&phase.histogram, 0.99),
        histogram_max(&phase.histogram),
        phase.cpu,
        100.0 * phase.cpu / phase.seconds,
    );
    println!(
        "  delivery quality (probes): {} control answers, T3 p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; late (2·T3 > Tc) {}",
        phase.t3_us.len(),
        percentile(&phase.t3_us, 0.50) as f64 / 1000.0,
        percentile(&phase.t3_us, 0.99) as f64 / 1000.0,
        phase.t3_us.last().copied().unwrap_or(0) as f64 / 1000.0,
        phase.late,
    );
}

fn main() {
    let args = Args::parse(
        &[
            ("--clients", "METERHUB_BENCH_CLIENTS"),
            ("--meters", "METERHUB_BENCH_METERS"),
            ("--per-client", "METERHUB_BENCH_PER_CLIENT"),
            ("--rate", "METERHUB_BENCH_RATE"),
            ("--seconds", "METERHUB_BENCH_SECONDS"),
            ("--slow", "METERHUB_BENCH_SLOW"),
        ],
        |_| None,
        "fanout",
    );
    let options = Options {
        clients: args.positive("--clients", 1000),
        meters: args.positive("--meters", 1000),
        per_client: args.positive("--per-client", 10),
        rate: args.positive("--rate", 1000),
        seconds: args.positive("--seconds", 10.0),
        slow: args.get("--slow").map_or(10, |v| v.parse().expect("--slow: a number")),
        keep: args.keep,
    };
    assert!(options.per_client <= options.meters, "--per-client is at most --meters");
    let plugins = release_plugins("wasm");
    let config = host_tables(&plugins)
        + "\n[web]\nstream_queue_limit = 256\nstream_control_seconds = 1\n\n[drivers.http-in]\nplugin = \"listener\"\ntransport = \"http\"\nlisten = \"127.0.0.1:0\"\nmax_body_bytes = 1048576\n";
    let dir = bench_data().join("fanout");
    let mut host = Host::start_in(&dir, &config, options.keep);
    let ingress = host.driver("http-in");
    let token: Arc<str> = host.token.clone().into();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    println!(
        "fan-out: {} SSE clients x {} of {} meters ({:.1} subscribers per meter), {} readings/s, {} s per phase, {} cores",
        options.clients,
        options.per_client,
        options.meters,
        options.clients as f64 * options.per_client as f64 / options.meters as f64,
        options.rate,
        options.seconds,
        std::thread::available_parallelism().map_or(1, usize::from),
    );

    // The meters exist before the streams name them (a first reading each).
    let mut round = 0i64;
    let warm = Options { seconds: (options.meters as f64 / options.rate as f64).max(0.01), ..options };
    send_readings(ingress, &warm, &mut round);
    let rss_before = host.rss_kib();

    let tally = Tally::new();
    let connect_started = Instant::now();
    for c in 0..options.clients {
        let query: Vec<String> = (0..options.per_client)
            .map(|j| format!("device=m{}", (c * options.per_client + j) % options.meters))
            .collect();
        runtime.spawn(client(host.api, token.clone(), query.join("&"), tally.clone(), c < PROBES));
    }
    wait_for("every stream to be live", Duration::from_secs(300), || {
        assert_eq!(tally.ended.load(Ordering::Relaxed), 0, "a stream ended; see {}", host.log_path().display());
        (tally.live.load(Ordering::Relaxed) == options.clients).then_some(())
    });
    let rss_idle = host.rss_kib();
    println!(
        "{} streams live in {:.1} s; host RSS {} MiB before, {} MiB with them: {:.1} KiB per client",
        options.clients,
        connect_started.elapsed().as_secs_f64(),
        rss_before / 1024,
        rss_idle / 1024,
        (rss_idle.saturating_sub(rss_before)) as f64 / options.clients as f64,
    );

    let phase = run_phase(&host, ingress, &options, &tally, &mut round);
    report("phase 1 (all clients reading)", &phase, &options);
    println!("host RSS after phase 1: {} MiB", host.rss_kib() / 1024);

    if options.slow > 0 {
        let slow: Vec<TcpStream> = runtime
            .block_on(async {
                futures_util::future::join_all((0..options.slow).map(|_| slow_client(host.api, token.clone()))).await
            })
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(slow.len(), options.slow, "every slow client connected");
        let phase = run_phase(&host, ingress, &options, &tally, &mut round);
        report(
            &format!("phase 2 (+{} clients subscribed to everything, never reading)", options.slow),
            &phase,
            &options,
        );
        println!(
            "host RSS after phase 2: {} MiB (the slow clients' queues hold at most L + M each)",
            host.rss_kib() / 1024
        );
        drop(slow);
    }
    assert_eq!(tally.ended.load(Ordering::Relaxed), 0, "no stream ended during the run");
    let stats = host.get_ok("/api/v1/stats");
    println!("archive: {} readings new, balanced {}", stats["total"]["readings_new"], stats["balanced"]);
    host.stop();
    drop(runtime);
}
