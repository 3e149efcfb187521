//! The edges under a storm (issue "The edges under attack"): a good client's
//! ack latency and the host's memory before, during and after a flood of
//! every port, with the listeners' default limits and timeouts.
//!
//! The real binary (a fresh host under `target/bench-data/`) with the
//! listener on TCP and HTTP. A good client POSTs one reading at a time to the
//! HTTP ingress (and counts the TCP port's answers too) for `--calm` seconds,
//! then through a `--storm` of attackers, then again: p50/p99/max latency of
//! each phase. The attackers connect from their own loopback address
//! (127.0.0.2), as they would from their own host, so the per-address limits
//! hold them and not the good client. The storm: `--idle` connections held open on each of the three
//! ports (reopened as the host closes them), `--slow` slowloris connections
//! per port sending a byte every 200 ms, and `--garbage` threads sending
//! requests the host must refuse (garbage request lines, 40 KiB heads,
//! 10 KiB and 70 KiB targets, a 99 GB declared body, bodies over the limit).
//! RSS is sampled once a second: before the storm, its maximum during, and
//! `--after` seconds after it ended. At the end the listeners' counters from
//! `/api/v1/stats`.
//!
//! Build the host and plugins first (`scripts/bench` does), then
//! `cargo bench -p meterhub --bench flood [-- options]`.
//!
//! | argument        | environment                | default |
//! |-----------------|----------------------------|---------|
//! | `--calm S`      | `METERHUB_BENCH_CALM`      | 10 seconds before and after |
//! | `--storm S`     | `METERHUB_BENCH_STORM`     | 30 seconds |
//! | `--after S`     | `METERHUB_BENCH_AFTER`     | 30 seconds of quiet before the last RSS |
//! | `--idle N`      | `METERHUB_BENCH_IDLE`      | 2000 idle connections per port |
//! | `--slow N`      | `METERHUB_BENCH_SLOW`      | 50 slowloris connections per port |
//! | `--garbage T`   | `METERHUB_BENCH_GARBAGE`   | 4 threads of refused requests |

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use meterhub_testkit::bench::{Args, bench_data, ms, percentile};
use meterhub_testkit::{Host, default_config, http, now_ms, plugins_dir, reading};

struct Options {
    calm: Duration,
    storm: Duration,
    after: Duration,
    idle: usize,
    slow: usize,
    garbage: usize,
    keep: bool,
}

/// The attackers' own address.
const ATTACKER: std::net::Ipv4Addr = std::net::Ipv4Addr::new(127, 0, 0, 2);

/// A connection to `addr` from [`ATTACKER`].
fn attack(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.bind(&SocketAddr::from((ATTACKER, 0)).into())?;
    socket.connect(&addr.into())?;
    Ok(socket.into())
}

fn options() -> Options {
    let args = Args::parse(
        &[
            ("--calm", "METERHUB_BENCH_CALM"),
            ("--storm", "METERHUB_BENCH_STORM"),
            ("--after", "METERHUB_BENCH_AFTER"),
            ("--idle", "METERHUB_BENCH_IDLE"),
            ("--slow", "METERHUB_BENCH_SLOW"),
            ("--garbage", "METERHUB_BENCH_GARBAGE"),
        ],
        |_| None,
        "flood",
    );
    Options {
        calm: Duration::from_secs_f64(args.positive("--calm", 10.0)),
        storm: Duration::from_secs_f64(args.positive("--storm", 30.0)),
        after: Duration::from_secs_f64(args.positive("--after", 30.0)),
        idle: args.positive("--idle", 2000),
        slow: args.positive("--slow", 50),
        garbage: args.positive("--garbage", 4),
        keep: args.keep,
    }
}

/// The good client: one reading per POST, sequentially, for `length`;
/// the latency of each, microseconds.
fn good_client(addr: SocketAddr, length: Duration, counter: &AtomicU64) -> Vec<u32> {
    let mut latencies = Vec::new();
    let end = Instant::now() + length;
    while Instant::now() < end {
        let n = counter.fetch_add(1, Ordering::Relaxed);
        let body = reading("good", "volume", now_ms() - 86_400_000 + n as i64, "1");
        let started = Instant::now();
        let (status, answer) = http(addr, "POST", "/", body.as_bytes());
        assert_eq!(status, 200, "the good client was refused: {}", String::from_utf8_lossy(&answer));
        latencies.push(started.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
    }
    latencies
}

fn summary(name: &str, latencies: &mut [u32]) -> String {
    latencies.sort_unstable();
    format!(
        "{name}: {} requests, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latencies.len(),
        ms(percentile(latencies, 0.50)),
        ms(percentile(latencies, 0.99)),
        ms(latencies.last().copied().unwrap_or(0))
    )
}

/// Holds `per_port` idle connections on each port, reopening those the
/// host closes, until `stop`.
fn idle_holder(ports: Vec<SocketAddr>, per_port: usize, stop: Arc<AtomicBool>, reopened: Arc<AtomicU64>) {
    let mut held: Vec<(SocketAddr, Option<TcpStream>)> =
        ports.iter().flat_map(|&p| (0..per_port).map(move |_| (p, None))).collect();
    while !stop.load(Ordering::Relaxed) {
        for (addr, slot) in &mut held {
            let alive = slot.as_ref().is_some_and(|s| {
                let mut byte = [0u8; 1];
                matches!(s.peek(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
            });
            if !alive {
                *slot = attack(*addr).ok().inspect(|s| {
                    let _ = s.set_nonblocking(true);
                });
                reopened.fetch_add(1, Ordering::Relaxed);
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// One slowloris connection after another on `addr`, a byte every 200 ms.
fn slowloris(addr: SocketAddr, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut stream) = attack(addr) else { continue };
        for byte in b"POST / HTTP/1.1\r\nHost: x\r\n".iter().cycle() {
            if stop.load(Ordering::Relaxed) || stream.write_all(&[*byte]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Requests every HTTP port must refuse, one connection each, until `stop`.
fn garbage(ports: Vec<SocketAddr>, stop: Arc<AtomicBool>, sent: Arc<AtomicU64>) {
    let requests: Vec<Vec<u8>> = vec![
        b"HELLO THERE\r\n\r\n".to_vec(),
        format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(10_000)).into_bytes(),
        format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000)).into_bytes(),
        format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "b".repeat(40_000)).into_bytes(),
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\nabc".to_vec(),
        [b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n".as_slice(), &vec![b'x'; 2_000_000]].concat(),
    ];
    let mut i = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let addr = ports[i % ports.len()];
        let request = &requests[(i / ports.len()) % requests.len()];
        i += 1;
        let Ok(mut stream) = attack(addr) else { continue };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = stream.write_all(request);
        let mut answer = [0u8; 512];
        let _ = stream.read(&mut answer);
        sent.fetch_add(1, Ordering::Relaxed);
    }
}

fn main() {
    let options = options();
    let dir = bench_data().join(format!("flood-{}", std::process::id()));
    let host = Host::start_in(&dir, &default_config(&plugins_dir("wasm")), options.keep);
    let (http_in, tcp_in, api) = (host.driver("http-in"), host.driver("tcp-in"), host.api);
    let counter = AtomicU64::new(0);
    let rss_mib = |host: &Host| host.rss_kib() as f64 / 1024.0;

    let mut calm = good_client(http_in, options.calm, &counter);
    let rss_before = rss_mib(&host);

    let stop = Arc::new(AtomicBool::new(false));
    let (reopened, refused_sent) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut attackers = Vec::new();
    {
        let (stop, reopened) = (stop.clone(), reopened.clone());
        let ports = vec![tcp_in, http_in, api];
        let per_port = options.idle;
        attackers.push(std::thread::spawn(move || idle_holder(ports, per_port, stop, reopened)));
    }
    for addr in [tcp_in, http_in, api] {
        for _ in 0..options.slow {
            let stop = stop.clone();
            attackers.push(std::thread::spawn(move || slowloris(addr, stop)));
        }
    }
    for _ in 0..options.garbage {
        let (stop, sent) = (stop.clone(), refused_sent.clone());
        attackers.push(std::thread::spawn(move || garbage(vec![http_in, api], stop, sent)));
    }
    let storm_started = Instant::now();
    let sampler = {
        let pid = host.pid();
        let length = options.storm;
        std::thread::spawn(move || {
            let mut max = 0.0f64;
            while storm_started.elapsed() < length {
                let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
                let kib: f64 = status
                    .lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.split_whitespace().next()?.parse().ok())
                    .unwrap_or(0.0);
                max = max.max(kib / 1024.0);
                std::thread::sleep(Duration::from_secs(1));
            }
            max
        })
    };
    let mut storm = good_client(http_in, options.storm, &counter);
    let health = http(api, "GET", "/api/v1/health", b"").0;
    stop.store(true, Ordering::Relaxed);
    let rss_storm_max = sampler.join().expect("sampler");
    let rss_storm_end = rss_mib(&host);
    for attacker in attackers {
        let _ = attacker.join();
    }
    let mut after = good_client(http_in, options.calm, &counter);
    std::thread::sleep(options.after);
    let rss_after = rss_mib(&host);
    let stats = host.get_ok("/api/v1/stats");

    println!(
        "flood: {} s storm on 3 ports: {} idle each (reopened {} times), {} slowloris each, {} threads of refused requests ({} sent)",
        options.storm.as_secs_f64(),
        options.idle,
        reopened.load(Ordering::Relaxed),
        options.slow,
        options.garbage,
        refused_sent.load(Ordering::Relaxed)
    );
    println!("good client, {}", summary("calm", &mut calm));
    println!("good client, {}", summary("storm", &mut storm));
    println!("good client, {}", summary("after", &mut after));
    println!("/api/v1/health during the storm: {health}");
    println!(
        "RSS: {rss_before:.0} MiB before, {rss_storm_max:.0} MiB max during, {rss_storm_end:.0} MiB at its end, {rss_after:.0} MiB {} s after",
        options.after.as_secs_f64()
    );
    println!("listeners: {}", stats["listeners"]);
}
