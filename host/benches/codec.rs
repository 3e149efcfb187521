//! Per-call cost of the listener plugin: WASM component, native library in
//! the host process (a trusted plugin), native library in a runner process
//! (the default for native plugins).
//!
//! Loads `target/plugins/{wasm,native}/listener` through the host's public
//! plugin API (`catalog::load_one` -> `LoadedPlugin::instantiate` ->
//! `PluginInstance`), exactly as the host does, and times three calls:
//!
//! - `decode`: one committed reading frame -> one `Reading` (codec role);
//! - `handle Data`: one TCP chunk holding one reading line -> one `Commit`
//!   (driver role, validation included);
//! - `handle Committed`: the commit report for that line -> its answer line.
//!
//! A round times one batch of `batch` calls of each call kind for each plugin
//! kind, WASM and native alternating, so both see the same machine state;
//! round 0 is a warm-up, then `samples` rounds. A figure is the median batch
//! in ns per call with the fastest and slowest batch beside it; the
//! `wasm/nat` and `proc/nat` lines are the medians of the per-round ratios
//! to the in-process native library. Then it times starting a runner
//! instance (spawn, library load, init): what a restart after a crash costs
//! beyond the backoff delay. Single-threaded;
//! the wasmtime epoch ticker and anything else running share the cores, and
//! on a VM absolute numbers drift between runs (ratios hold better).
//!
//! Build the plugins first (`scripts/build-plugins --release`; `scripts/bench`
//! does both), then: `cargo bench -p meterhub --bench codec [-- options]`.
//!
//! Options (argument, or environment variable; the argument wins):
//!
//! | argument          | environment                    | default |
//! |-------------------|--------------------------------|---------|
//! | `--samples N`     | `METERHUB_BENCH_CODEC_SAMPLES` | 31      |
//! | `--batch N`       | `METERHUB_BENCH_CODEC_BATCH`   | 2000    |
//! | `--kind K`        | `METERHUB_BENCH_KIND`          | `all` (`wasm`, `native`, `process`, `both` = wasm and native, `all`) |

use std::path::Path;
use std::time::{Duration, Instant};

use meterhub::config::load::{DEFAULT_WASM_CALL_TIMEOUT_MS, DEFAULT_WASM_MEMORY_MIB};
use meterhub::plugin::catalog::load_one;
use meterhub::plugin::process::RunnerCommand;
use meterhub::plugin::wasm::Limits;
use meterhub::plugin::{Isolation, LoadedPlugin, PluginFault, PluginInstance};
use meterhub_plugin_api::{Action, Committed, Event, RawFrame, Transport};
use meterhub_testkit::bench::release_plugins;

/// A realistic reading line as a water meter gateway sends it.
const LINE: &str =
    r#"{"device":"m-17","channel":"volume","ts":1763719200000,"value":"1234.567","unit":"m3","kind":"cumulative"}"#;
/// The listener's frame content type.
const CONTENT_TYPE: &str = "application/vnd.meterhub.reading+json";

struct Options {
    samples: usize,
    batch: usize,
    kinds: Vec<&'static str>,
}

/// The measured calls, in table order.
const CALLS: [&str; 3] = ["decode ns", "handle Data ns", "handle Committed ns"];

/// Median, fastest and slowest batch, ns per call.
struct Cost {
    median: f64,
    min: f64,
    max: f64,
}

impl Cost {
    fn of(mut per_call: Vec<f64>) -> Cost {
        per_call.sort_by(f64::total_cmp);
        Cost { median: per_call[per_call.len() / 2], min: per_call[0], max: per_call[per_call.len() - 1] }
    }
}

impl std::fmt::Display for Cost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(&format!("{:.0} ({:.0}..{:.0})", self.median, self.min, self.max))
    }
}

fn main() {
    let options = options();
    // This program is not `meterhub`: runners are the built binary.
    RunnerCommand::set_default(RunnerCommand::meterhub(env!("CARGO_BIN_EXE_meterhub")));
    let limits = Limits {
        memory_bytes: DEFAULT_WASM_MEMORY_MIB as usize * 1024 * 1024,
        call_timeout_ms: DEFAULT_WASM_CALL_TIMEOUT_MS,
    };
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "listener plugin call cost: {} rounds x {} calls per call kind, after warm-up; kinds alternate within a round",
        options.samples, options.batch
    );
    println!(
        "machine: {cores} cores; single-threaded (the wasmtime epoch ticker thread runs beside it); VM timing drifts between runs, compare within one run"
    );
    println!("frame: {} bytes: {LINE}", LINE.len());
    let mut subjects: Vec<Subject> = options
        .kinds
        .iter()
        .map(|kind| {
            let build = if *kind == "wasm" { "wasm" } else { "native" };
            Subject::load(kind, &release_plugins(build).join("listener/plugin.toml"), limits)
        })
        .collect();
    // per_call[subject][call][round], ns.
    let mut per_call = vec![vec![Vec::with_capacity(options.samples); CALLS.len()]; subjects.len()];
    for round in 0..=options.samples {
        for call in 0..CALLS.len() {
            for (subject, times) in subjects.iter_mut().zip(&mut per_call) {
                let elapsed = subject.call(call, options.batch);
                // Round 0 is the warm-up.
                if round > 0 {
                    times[call].push(elapsed.as_nanos() as f64 / options.batch as f64);
                }
            }
        }
    }
    println!();
    println!("{}", row("kind", CALLS.map(str::to_owned)));
    for (subject, times) in subjects.iter().zip(&per_call) {
        println!("{}", row(subject.kind, [0, 1, 2].map(|call| Cost::of(times[call].clone()).to_string())));
    }
    if let Some(native) = subjects.iter().position(|s| s.kind == "native") {
        for (subject, times) in subjects.iter().zip(&per_call).filter(|(s, _)| s.kind != "native") {
            // The ratio of each round, so both kinds are compared under the same conditions.
            let ratio = |call: usize| {
                let ratios = times[call].iter().zip(&per_call[native][call]).map(|(k, n)| k / n).collect();
                let c = Cost::of(ratios);
                format!("{:.1}x ({:.1}..{:.1})", c.median, c.min, c.max)
            };
            println!("{}", row(&format!("{}/nat", &subject.kind[..4]), [0, 1, 2].map(ratio)));
        }
    }
    if let Some(process) = subjects.iter().find(|s| s.kind == "process") {
        let starts: Vec<f64> = (0..options.samples)
            .map(|_| {
                let started = Instant::now();
                drop(process.instance());
                started.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        let c = Cost::of(starts);
        println!();
        println!(
            "runner instance start (spawn, library load, init), the restart cost beyond the backoff: {:.1} ms ({:.1}..{:.1}) over {} starts",
            c.median, c.min, c.max, options.samples
        );
    }
}

/// One table row.
fn row(kind: &str, cells: [String; 3]) -> String {
    let [decode, data, committed] = cells;
    format!("{kind:<8} {decode:<24} {data:<24} {committed}")
}

/// One plugin kind under measurement: a codec instance and a driver
/// instance with one open TCP session.
struct Subject {
    kind: &'static str,
    plugin: LoadedPlugin,
    isolation: Isolation,
    codec: Box<dyn PluginInstance>,
    driver: Box<dyn PluginInstance>,
    frame: RawFrame,
    /// The reading line with its `\n`, as a TCP chunk.
    chunk: Vec<u8>,
    now_ms: i64,
    seq: u64,
}

impl Subject {
    /// Load the plugin at `manifest` the way the host does; check that the
    /// bench frame decodes and the session opens.
    fn load(kind: &'static str, manifest: &Path, limits: Limits) -> Subject {
        assert!(manifest.exists(), "{} is missing: run scripts/build-plugins --release first", manifest.display());
        let plugin = load_one(manifest, limits).unwrap_or_else(|refusals| {
            let causes: Vec<String> = refusals.iter().map(ToString::to_string).collect();
            panic!("cannot load {}: {}", manifest.display(), causes.join("; "))
        });
        let isolation = match kind {
            "process" => Isolation::Process { call_timeout_ms: limits.call_timeout_ms },
            _ => Isolation::InProcess,
        };
        let instance = || plugin.instantiate("{}", isolation).unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
        let (mut codec, mut driver) = (instance(), instance());
        let now_ms = now_ms();
        let frame = RawFrame {
            seq: 1,
            source: "tcp-in".to_owned(),
            peer: "192.0.2.10:40001".to_owned(),
            received_at_ms: now_ms,
            transport: Transport::Tcp,
            content_type: CONTENT_TYPE.to_owned(),
            meta: Vec::new(),
            payload: LINE.as_bytes().to_vec(),
        };
        let decoded =
            ok(codec.decode(&frame)).unwrap_or_else(|e| panic!("the bench frame does not decode: {}", e.reason));
        assert_eq!(decoded.readings.len(), 1, "one reading per frame: {decoded:?}");
        let opened = Event::Opened { transport: Transport::Tcp, peer: "192.0.2.10:40001".to_owned() };
        assert!(ok(driver.handle(1, now_ms, opened)).is_empty(), "Opened has no actions");
        let chunk = format!("{LINE}\n").into_bytes();
        Subject { kind, plugin, isolation, codec, driver, frame, chunk, now_ms, seq: 0 }
    }

    /// A fresh instance.
    fn instance(&self) -> Box<dyn PluginInstance> {
        self.plugin.instantiate("{}", self.isolation).unwrap_or_else(|e| panic!("{}: {e}", self.kind))
    }

    /// Make `n` calls of kind `call` (an index into [`CALLS`]); the time they took.
    fn call(&mut self, call: usize, n: usize) -> Duration {
        match call {
            0 => self.decode(n),
            1 => self.data(n),
            _ => self.committed(n),
        }
    }

    fn decode(&mut self, n: usize) -> Duration {
        let started = Instant::now();
        for _ in 0..n {
            assert!(ok(self.codec.decode(&self.frame)).is_ok(), "decode failed during the bench");
        }
        started.elapsed()
    }

    /// Time `n` Data events of one line each, then settle them untimed so
    /// the session's state stays bounded.
    fn data(&mut self, n: usize) -> Duration {
        let chunks = vec![self.chunk.clone(); n];
        let mut tokens = Vec::with_capacity(n);
        let started = Instant::now();
        for chunk in chunks {
            tokens.push(self.hand_over(chunk));
        }
        let elapsed = started.elapsed();
        self.settle(tokens);
        elapsed
    }

    /// Hand over `n` lines untimed, then time their `Committed` reports.
    fn committed(&mut self, n: usize) -> Duration {
        let tokens: Vec<u64> = (0..n).map(|_| self.hand_over(self.chunk.clone())).collect();
        let started = Instant::now();
        self.settle(tokens);
        started.elapsed()
    }

    /// One Data event; the token of the one Commit it must produce.
    fn hand_over(&mut self, chunk: Vec<u8>) -> u64 {
        let actions = ok(self.driver.handle(1, self.now_ms, Event::Data(chunk)));
        let [Action::Commit(commit)] = &actions[..] else { panic!("one Commit per reading line: {actions:?}") };
        commit.token
    }

    /// Report each token committed; each must produce one answer line.
    fn settle(&mut self, tokens: Vec<u64>) {
        for token in tokens {
            self.seq += 1;
            let event = Event::Committed(Committed { token, seq: self.seq });
            let answer = ok(self.driver.handle(1, self.now_ms, event));
            assert!(matches!(answer[..], [Action::Send(_)]), "one answer per committed line: {answer:?}");
        }
    }
}

/// A plugin fault ends the bench: the numbers would mean nothing.
fn ok<T>(r: Result<T, PluginFault>) -> T {
    r.unwrap_or_else(|fault| panic!("{fault}"))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock after 1970").as_millis() as i64
}

fn options() -> Options {
    let env = |name: &str| std::env::var(name).ok();
    let mut samples = env("METERHUB_BENCH_CODEC_SAMPLES");
    let mut batch = env("METERHUB_BENCH_CODEC_BATCH");
    let mut kind = env("METERHUB_BENCH_KIND");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let slot = match arg.as_str() {
            // cargo bench passes --bench to harness = false targets.
            "--bench" => continue,
            "--samples" => &mut samples,
            "--batch" => &mut batch,
            "--kind" => &mut kind,
            other => panic!("unknown argument {other:?}; see the //! doc of host/benches/codec.rs"),
        };
        *slot = Some(args.next().unwrap_or_else(|| panic!("{arg} needs a value")));
    }
    let number = |name: &str, value: Option<String>, default: usize| -> usize {
        value.map_or(default, |v| match v.parse() {
            Ok(n) if n > 0 => n,
            _ => panic!("{name}: expected a positive integer, got {v:?}"),
        })
    };
    Options {
        samples: number("samples", samples, 31),
        batch: number("batch", batch, 2000),
        kinds: kinds(kind.as_deref()),
    }
}

/// `wasm`, `native` (in process), `process` (native in a runner), `both`
/// (wasm and native) or `all` (the default).
fn kinds(kind: Option<&str>) -> Vec<&'static str> {
    match kind.unwrap_or("all") {
        "wasm" => vec!["wasm"],
        "native" => vec!["native"],
        "process" => vec!["process"],
        "both" => vec!["wasm", "native"],
        "all" => vec!["wasm", "native", "process"],
        other => panic!("kind: expected wasm, native, process, both or all, got {other:?}"),
    }
}
