//! Listener TCP ingest with durable acknowledgements, end to end.
//!
//! Starts the real `meterhub` binary (one fresh host per run) with the
//! listener plugin on TCP, drives it with device connections that pipeline
//! reading lines, and measures what a device sees: acknowledged readings per
//! second and the latency of each acknowledgement (line sent -> its
//! `{"ok":true,...}` answer received; an answer only comes after the frame's
//! group commit is fdatasync'ed). Afterwards the API must show that the
//! archive received exactly the acknowledged readings, all archived, and that
//! the counters balance; anything else fails the bench.
//!
//! Two modes per plugin kind:
//! - `pipelined`: `connections` connections, each keeping up to `window`
//!   lines unacknowledged (throughput; many lines share one fsync);
//! - `single`: one connection, window 1 (the fsync latency floor).
//!
//! Every reading is distinct (device per connection, increasing timestamp),
//! so none is a duplicate. Data directories live under
//! `target/bench-data/` (a real disk, not a tmpfs /tmp), one per run, removed
//! afterwards unless the run fails or `--keep` is given. First it times a bare
//! 128-byte append + fdatasync there: the disk's floor under any durable ack.
//! Client and host run
//! on the same machine and share its cores; the output says how many and how
//! much CPU each side used.
//!
//! Build the host and plugins first (`scripts/bench` does), then:
//! `cargo bench -p meterhub --bench ingest [-- options]`.
//!
//! | argument               | environment                    | default     |
//! |------------------------|--------------------------------|-------------|
//! | `--kind K` or `K`      | `METERHUB_BENCH_KIND`          | `wasm` (`wasm`, `native`, `both`) |
//! | `--mode M`             | `METERHUB_BENCH_MODE`          | `both` (`pipelined`, `single`, `both`) |
//! | `--connections N`      | `METERHUB_BENCH_CONNECTIONS`   | 8 (pipelined mode) |
//! | `--window W`           | `METERHUB_BENCH_WINDOW`        | 64 (pipelined mode) |
//! | `--seconds D`          | `METERHUB_BENCH_SECONDS`       | 10          |
//! | `--readings N`         | `METERHUB_BENCH_READINGS`      | none: run for `seconds`; else stop after N readings (rounded up to a multiple of the connections) |
//! | `--keep`               | `METERHUB_BENCH_KEEP=1`        | remove data dirs |

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use meterhub_testkit::bench::{
    Args, bench_data, check_archive, cpu_seconds, fdatasync_floor, filesystem, ms, percentile, release_plugins,
    wait_archived,
};
use meterhub_testkit::http::ANSWER_TIMEOUT;
use meterhub_testkit::{Host, host_tables, now_ms};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Pipelined,
    Single,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Pipelined => "pipelined",
            Mode::Single => "single",
        }
    }
}

struct Options {
    kinds: Vec<&'static str>,
    modes: Vec<Mode>,
    connections: usize,
    window: usize,
    seconds: f64,
    readings: Option<u64>,
    keep: bool,
}

/// When the connections stop sending.
#[derive(Debug, Clone, Copy)]
enum Stop {
    At(Instant),
    /// Readings per connection.
    After(u64),
}

/// What one run measured.
struct Outcome {
    acked: u64,
    elapsed: Duration,
    /// Ack latencies in microseconds, sorted.
    latencies_us: Vec<u32>,
    host_cpu: f64,
    client_cpu: f64,
    /// Time from the last acknowledgement until the API showed every one
    /// applied (polled with a growing pause, so coarse: up to ~100 ms).
    archive_lag: Duration,
}

fn main() {
    let options = options();
    let bench_data = bench_data();
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let (fsync_p50, fsync_p99) = fdatasync_floor(&bench_data, 500);
    println!("meterhub ingest: listener over TCP, each line answered only after its group commit is fdatasync'ed");
    println!("machine: {cores} cores, shared by the host and the bench's client (one thread per connection)");
    println!(
        "disk: {} on {}; append 128 B + fdatasync alone: p50 {:.2} ms, p99 {:.2} ms",
        bench_data.display(),
        filesystem(&bench_data),
        ms(fsync_p50),
        ms(fsync_p99)
    );
    println!();
    let header = [
        "plugins",
        "mode",
        "conns",
        "window",
        "secs",
        "acked",
        "readings/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "host cpu",
        "client",
        "archive/s",
        "apply lag",
    ];
    println!("{}", row(&header.map(str::to_owned)));
    for kind in &options.kinds {
        for &mode in &options.modes {
            let (connections, window) = match mode {
                Mode::Pipelined => (options.connections, options.window),
                Mode::Single => (1, 1),
            };
            let plugins = release_plugins(kind);
            let dir = bench_data.join(format!("ingest-{kind}-{}-{}", mode.name(), std::process::id()));
            let mut host = Host::start_in(&dir, &config(&plugins), options.keep);
            let stop = match options.readings {
                Some(n) => Stop::After(n.div_ceil(connections as u64)),
                None => Stop::At(Instant::now() + Duration::from_secs_f64(options.seconds)),
            };
            eprintln!("running {kind} {} ({connections} x window {window})...", mode.name());
            let o = run(&host, connections, window, stop);
            host.stop();
            let l = &o.latencies_us;
            let secs = o.elapsed.as_secs_f64();
            println!(
                "{}",
                row(&[
                    (*kind).to_owned(),
                    mode.name().to_owned(),
                    connections.to_string(),
                    window.to_string(),
                    format!("{secs:.1}"),
                    o.acked.to_string(),
                    format!("{:.0}", o.acked as f64 / secs),
                    format!("{:.2}", ms(percentile(l, 0.50))),
                    format!("{:.2}", ms(percentile(l, 0.99))),
                    format!("{:.2}", ms(l.last().copied().unwrap_or(0))),
                    format!("{:.2}", o.host_cpu),
                    format!("{:.2}", o.client_cpu),
                    format!("{:.0}", o.acked as f64 / (secs + o.archive_lag.as_secs_f64())),
                    format!("{:.1}s", o.archive_lag.as_secs_f64()),
                ])
            );
        }
    }
    println!();
    println!("latency: line written -> its ok answer read, per line, on the client. cpu: cores used during the run.");
    println!("archive/s: acked / (secs + apply lag), the archive's own rate when it lags; apply lag: last ack -> all");
    println!("applied (polled, coarse). Every run checked: received = archived = new readings = acked, balanced.");
}

/// One table row: the first two columns left-aligned, the rest right-aligned.
fn row(cells: &[String]) -> String {
    const WIDTHS: [usize; 14] = [7, 9, 5, 6, 5, 8, 10, 7, 7, 7, 8, 6, 9, 9];
    let mut line = String::new();
    for (i, (cell, width)) in cells.iter().zip(WIDTHS).enumerate() {
        let _ = match i {
            0 => write!(line, "{cell:<width$}"),
            1 => write!(line, " {cell:<width$}"),
            _ => write!(line, " {cell:>width$}"),
        };
    }
    line
}

/// Drive `host` and check its archive afterwards.
fn run(host: &Host, connections: usize, window: usize, stop: Stop) -> Outcome {
    let barrier = Arc::new(Barrier::new(connections + 1));
    let threads: Vec<_> = (0..connections)
        .map(|id| {
            let (barrier, addr) = (barrier.clone(), host.driver("tcp-in"));
            std::thread::Builder::new()
                .name(format!("conn-{id}"))
                .spawn(move || connection(id, addr, window, stop, &barrier))
                .expect("spawn a connection thread")
        })
        .collect();
    let host_cpu_before = cpu_seconds(&format!("/proc/{}/stat", host.pid()));
    let client_cpu_before = cpu_seconds("/proc/self/stat");
    barrier.wait();
    let started = Instant::now();
    let mut acked = 0;
    let mut finished = started;
    let mut latencies_us = Vec::new();
    for thread in threads {
        let c =
            thread.join().unwrap_or_else(|_| panic!("a connection failed; host log: {}", host.log_path().display()));
        acked += c.acked;
        finished = finished.max(c.finished);
        latencies_us.extend(c.latencies_us);
    }
    let elapsed = finished - started;
    let host_cpu = (cpu_seconds(&format!("/proc/{}/stat", host.pid())) - host_cpu_before) / elapsed.as_secs_f64();
    let client_cpu = (cpu_seconds("/proc/self/stat") - client_cpu_before) / elapsed.as_secs_f64();
    latencies_us.sort_unstable();
    assert_eq!(latencies_us.len() as u64, acked);
    assert!(acked > 0, "no reading was acknowledged");

    // The archive must hold exactly what was acknowledged: no loss, no extra.
    let stats = wait_archived(host, "tcp-in", acked);
    let archive_lag = finished.elapsed();
    check_archive(&stats, "tcp-in", acked, acked);
    Outcome { acked, elapsed, latencies_us, host_cpu, client_cpu, archive_lag }
}

/// What one connection saw.
struct Connection {
    acked: u64,
    latencies_us: Vec<u32>,
    finished: Instant,
}

/// One device connection: keep up to `window` lines unanswered until `stop`,
/// then collect the outstanding answers. Panics on any answer but
/// `{"ok":true,"line":N,...}` for the expected N.
fn connection(id: usize, addr: SocketAddr, window: usize, stop: Stop, barrier: &Barrier) -> Connection {
    let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    stream.set_nodelay(true).expect("TCP_NODELAY");
    stream.set_read_timeout(Some(ANSWER_TIMEOUT)).expect("read timeout");
    let mut writer = stream.try_clone().expect("clone the socket");
    let mut reader = BufReader::with_capacity(64 * 1024, stream);
    // Timestamps start a week ago, one millisecond apart: all distinct, all
    // within the listener's accepted range.
    let ts0 = now_ms() - 7 * 86_400_000;
    let device = format!("bench-{id}");
    let (mut sent, mut acked) = (0u64, 0u64);
    let mut in_flight: VecDeque<Instant> = VecDeque::with_capacity(window);
    let mut latencies_us = Vec::with_capacity(1 << 16);
    let mut out = Vec::with_capacity(window * 128);
    let mut answer = String::new();
    let more = |sent: u64| match stop {
        Stop::At(at) => Instant::now() < at,
        Stop::After(n) => sent < n,
    };
    barrier.wait();
    loop {
        if in_flight.len() < window && more(sent) {
            out.clear();
            let lines = window - in_flight.len();
            for _ in 0..lines {
                let ts = ts0 + sent as i64;
                let _ = writeln!(
                    Line(&mut out),
                    r#"{{"device":"{device}","channel":"volume","ts":{ts},"value":"{}.{:03}","unit":"m3","kind":"cumulative"}}"#,
                    sent / 1000,
                    sent % 1000
                );
                sent += 1;
                if let Stop::After(n) = stop
                    && sent >= n
                {
                    break;
                }
            }
            let at = Instant::now();
            writer.write_all(&out).unwrap_or_else(|e| panic!("connection {id}: send: {e}"));
            in_flight.extend(std::iter::repeat_n(at, (sent - acked) as usize - in_flight.len()));
        }
        if in_flight.is_empty() {
            break;
        }
        // One blocking read, then whatever answers are already buffered.
        loop {
            answer.clear();
            match reader.read_line(&mut answer) {
                Ok(0) => panic!("connection {id}: the host closed with {} lines unanswered", in_flight.len()),
                Ok(_) => {}
                Err(e) => panic!("connection {id}: reading answer {}: {e}", acked + 1),
            }
            let now = Instant::now();
            check_answer(id, &answer, acked + 1);
            let sent_at = in_flight.pop_front().expect("an answer for a sent line");
            latencies_us.push(u32::try_from((now - sent_at).as_micros()).unwrap_or(u32::MAX));
            acked += 1;
            if !reader.buffer().contains(&b'\n') {
                break;
            }
        }
    }
    Connection { acked, latencies_us, finished: Instant::now() }
}

/// `{"ok":true,"line":<line>,...}` or a panic naming what came instead.
fn check_answer(id: usize, answer: &str, line: u64) {
    let ok = answer
        .strip_prefix(r#"{"ok":true,"line":"#)
        .and_then(|rest| rest.split([',', '}']).next())
        .is_some_and(|n| n.parse() == Ok(line));
    assert!(ok, "connection {id}: line {line} was answered {answer:?}, expected ok for line {line}");
}

/// `writeln!` into a byte buffer.
struct Line<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Line<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// The bench host's config: the listener on TCP.
fn config(plugins: &Path) -> String {
    assert!(
        plugins.join("listener/plugin.toml").exists(),
        "{} has no listener plugin: run scripts/build-plugins --release first (scripts/bench does)",
        plugins.display()
    );
    host_tables(plugins) + "\n[drivers.tcp-in]\nplugin = \"listener\"\ntransport = \"tcp\"\nlisten = \"127.0.0.1:0\"\n"
}

fn options() -> Options {
    let args = Args::parse(
        &[
            ("--kind", "METERHUB_BENCH_KIND"),
            ("--mode", "METERHUB_BENCH_MODE"),
            ("--connections", "METERHUB_BENCH_CONNECTIONS"),
            ("--window", "METERHUB_BENCH_WINDOW"),
            ("--seconds", "METERHUB_BENCH_SECONDS"),
            ("--readings", "METERHUB_BENCH_READINGS"),
        ],
        |word| ["wasm", "native", "both"].contains(&word).then_some("--kind"),
        "ingest",
    );
    Options {
        kinds: match args.get("--kind").unwrap_or("wasm") {
            "wasm" => vec!["wasm"],
            "native" => vec!["native"],
            "both" => vec!["wasm", "native"],
            other => panic!("kind: expected wasm, native or both, got {other:?}"),
        },
        modes: match args.get("--mode").unwrap_or("both") {
            "pipelined" => vec![Mode::Pipelined],
            "single" => vec![Mode::Single],
            "both" => vec![Mode::Pipelined, Mode::Single],
            other => panic!("mode: expected pipelined, single or both, got {other:?}"),
        },
        connections: args.positive("--connections", 8),
        window: args.positive("--window", 64),
        seconds: args.positive("--seconds", 10.0),
        readings: args.get("--readings").map(|_| args.positive("--readings", 1)),
        keep: args.keep,
    }
}
