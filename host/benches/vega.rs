//! IOT Vega, end to end through the real `meterhub` binary, and the Vega
//! codec's cost per payload. Three parts:
//!
//! - `codec`: the `vega-codec` WASM component loaded as the host loads it,
//!   decoding each real example of `plugins/vega-codec/fixtures/vega_uplinks.jsonl`
//!   framed as the `vega` driver commits it (the uplink JSON object with its
//!   meta). Per model: the median over rounds of the ns per decode call.
//! - `backfill`: the emulator (`meterhub_sim::vega`, in this process) with
//!   `devices` devices of six models and `hours` of history at one uplink per
//!   hour, generation paused; a fresh host with the `vega` driver starts. The
//!   time from starting the host until every history uplink is archived: the
//!   `vega` source's archived frames equal the emulator's uplinks (repeats
//!   are counted as duplicates, not archived) and the counters balance.
//! - `live`: the emulator sending `rate` data uplinks/s spread over
//!   `live-devices` devices, no history; after `warmup` seconds, the `vega`
//!   source's archived frames and new readings over `seconds`: uplinks/s and
//!   readings/s archived, beside what the emulator offered and what the host
//!   could not take in time (`rx_lagged`, recovered on the next connection's
//!   back-fill, not lost).
//!
//! The emulator, the host and this program share the machine's cores.
//! Build first (`scripts/bench vega` does), then
//! `cargo bench -p meterhub --bench vega [-- options]`.
//!
//! | argument            | environment                        | default |
//! |---------------------|------------------------------------|---------|
//! | `--part P`          | `METERHUB_BENCH_VEGA_PART`         | `all` (`codec`, `backfill`, `live`) |
//! | `--devices N`       | `METERHUB_BENCH_VEGA_DEVICES`      | 1000 (back-fill) |
//! | `--hours H`         | `METERHUB_BENCH_VEGA_HOURS`        | 24 (back-fill) |
//! | `--live-devices N`  | `METERHUB_BENCH_VEGA_LIVE_DEVICES` | 5000 |
//! | `--rate R`          | `METERHUB_BENCH_VEGA_RATE`         | 3000 uplinks/s offered |
//! | `--warmup S`        | `METERHUB_BENCH_VEGA_WARMUP`       | 5 |
//! | `--seconds S`       | `METERHUB_BENCH_VEGA_SECONDS`      | 20 |
//! | `--samples N`       | `METERHUB_BENCH_VEGA_SAMPLES`      | 21 rounds (codec) |
//! | `--batch N`         | `METERHUB_BENCH_VEGA_BATCH`        | 500 calls per round and example (codec) |
//! | `--keep`            | `METERHUB_BENCH_KEEP=1`            | remove data dirs |

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use meterhub::config::load::{DEFAULT_WASM_CALL_TIMEOUT_MS, DEFAULT_WASM_MEMORY_MIB};
use meterhub::plugin::catalog::load_one;
use meterhub::plugin::wasm::Limits;
use meterhub::plugin::{Isolation, PluginInstance};
use meterhub_plugin_api::{RawFrame, Transport};
use meterhub_sim::vega::devices::Model;
use serde_json::{Value, json};

use meterhub_testkit::bench::{Args, bench_data, cpu_seconds, release_plugins};
use meterhub_testkit::{Host, get_json, host_tables, request_json, wait_for, workspace};

/// The models of the end-to-end parts (their AppEUIs name them, so the
/// codec needs no per-device settings).
const MODELS: [Model; 6] = [Model::Si11, Model::Si12, Model::Gm2, Model::Spbzip, Model::Td11, Model::Mbus2];
/// How long the archive may take to catch up with everything offered.
const CATCH_UP: Duration = Duration::from_secs(600);

struct Options {
    parts: Vec<&'static str>,
    devices: u32,
    hours: f64,
    live_devices: u32,
    rate: f64,
    warmup: f64,
    seconds: f64,
    samples: usize,
    batch: usize,
    keep: bool,
}

fn main() {
    let options = options();
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    println!("meterhub IOT Vega: {cores} cores shared by the emulator, the host and this program");
    for part in &options.parts {
        println!();
        match *part {
            "codec" => codec(&options),
            "backfill" => backfill(&options),
            _ => live(&options),
        }
    }
}

// ---------------------------------------------------------------------------
// codec

/// The model name the fixture's `device` is (for frame meta `model`).
fn model_of(device: &str) -> &'static str {
    match device {
        "Vega SI-12" => "SI-12",
        "Vega SI-12 RELAY" => "SI-12R",
        "Vega SI-22" => "SI-22",
        "Vega GM-2" => "GM-2",
        "Betar-Vega SHVE/SGVE water meter" => "SHVE",
        "Vega SPBZIP CE2726A/CE2727A electricity meter" => "SPBZIP",
        "Vega SH-2 universal modem" => "SH-2",
        "Vega M-BUS-2" => "M-BUS-2",
        "Vega TP-11 4-20mA converter" => "TP-11",
        "Vega TD-11 temperature sensor" => "TD-11",
        other => panic!("fixture device {other:?} has no model mapping"),
    }
}

/// One fixture example as the driver commits it.
fn frame(example: &Value, seq: u64) -> RawFrame {
    let port = example["fport"].as_u64().expect("fport");
    let hex = example["payload_hex"].as_str().expect("payload_hex");
    let ts = 1_795_255_200_000_i64;
    let uplink = json!({
        "ts": ts, "gatewayId": "00006CC3743ED46A", "ack": false, "fcnt": seq, "port": port, "data": hex,
        "macData": "", "freq": 868_900_000, "dr": "SF12 BW125 4/5", "rssi": -97, "snr": 6.5,
        "type": "UNCONF_UP", "packetStatus": ""
    });
    let meta = [
        ("deveui", "3632333364374F18".to_owned()),
        ("fport", port.to_string()),
        ("fcnt", seq.to_string()),
        ("ts", ts.to_string()),
        ("via", "rx".to_owned()),
        ("model", model_of(example["device"].as_str().expect("device")).to_owned()),
    ];
    RawFrame {
        seq,
        source: "vega".into(),
        peer: "ws://127.0.0.1:8002/".into(),
        received_at_ms: ts,
        transport: Transport::Websocket,
        content_type: "application/vnd.vega.uplink+json".into(),
        meta: meta.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        payload: serde_json::to_vec(&uplink).expect("uplink JSON"),
    }
}

fn codec(options: &Options) {
    let workspace = workspace();
    let manifest = release_plugins("wasm").join("vega-codec/plugin.toml");
    assert!(manifest.exists(), "{} is missing: run scripts/build-plugins --release first", manifest.display());
    let limits = Limits {
        memory_bytes: DEFAULT_WASM_MEMORY_MIB as usize * 1024 * 1024,
        call_timeout_ms: DEFAULT_WASM_CALL_TIMEOUT_MS,
    };
    let plugin = load_one(&manifest, limits).unwrap_or_else(|refusals| {
        let causes: Vec<String> = refusals.iter().map(ToString::to_string).collect();
        panic!("cannot load {}: {}", manifest.display(), causes.join("; "))
    });
    let mut codec: Box<dyn PluginInstance> =
        plugin.instantiate("{}", Isolation::InProcess).unwrap_or_else(|e| panic!("vega-codec: {e}"));
    let fixtures = std::fs::read_to_string(workspace.join("plugins/vega-codec/fixtures/vega_uplinks.jsonl"))
        .expect("the vega-codec fixtures");
    let examples: Vec<(String, RawFrame)> = fixtures
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            let example: Value = serde_json::from_str(line).expect("a fixture line is JSON");
            let label = format!("{} fPort {}", model_of(example["device"].as_str().unwrap()), example["fport"]);
            (label, frame(&example, i as u64 + 1))
        })
        .collect();
    for (label, frame) in &examples {
        let decoded = codec.decode(frame).unwrap_or_else(|fault| panic!("{label}: {fault}"));
        assert!(decoded.is_ok(), "{label}: the example does not decode: {decoded:?}");
    }
    // per_example[i][round]: ns per call.
    let mut per_example = vec![Vec::with_capacity(options.samples); examples.len()];
    for round in 0..=options.samples {
        for ((_, frame), times) in examples.iter().zip(&mut per_example) {
            let started = Instant::now();
            for _ in 0..options.batch {
                let decoded = codec.decode(frame).unwrap_or_else(|fault| panic!("{fault}"));
                assert!(decoded.is_ok());
            }
            // Round 0 is the warm-up.
            if round > 0 {
                times.push(started.elapsed().as_nanos() as f64 / options.batch as f64);
            }
        }
    }
    println!(
        "vega-codec (WASM, in process) decode cost per payload: the uplink JSON as the driver commits it -> fields, readings, telemetry;"
    );
    println!("median of {} rounds x {} calls per example (fastest..slowest round)", options.samples, options.batch);
    let mut by_label: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for ((label, _), times) in examples.iter().zip(&per_example) {
        by_label.entry(label).or_default().push(median(times.clone()));
    }
    let mut all: Vec<f64> = Vec::new();
    for ((label, _), times) in examples.iter().zip(per_example) {
        let (min, max) = (times.iter().copied().fold(f64::MAX, f64::min), times.iter().copied().fold(0.0, f64::max));
        let m = median(times);
        all.push(m);
        println!("  {label:<18} {:>8.0} ns ({min:.0}..{max:.0})", m);
    }
    println!(
        "  all {} examples: median {:.0} ns per payload, about {:.0} payloads/s on one core",
        all.len(),
        median(all.clone()),
        1e9 / median(all)
    );
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

// ---------------------------------------------------------------------------
// the emulator and the host

/// The emulator in this process.
struct Sim {
    runtime: tokio::runtime::Runtime,
    running: Option<meterhub_sim::vega::Running>,
}

impl Sim {
    fn start(options: meterhub_sim::vega::Options) -> Sim {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
        let running = runtime.block_on(meterhub_sim::vega::start(options)).expect("start the emulator");
        Sim { runtime, running: Some(running) }
    }

    fn running(&self) -> &meterhub_sim::vega::Running {
        self.running.as_ref().expect("running")
    }

    fn url(&self) -> String {
        format!("ws://{}/", self.running().websocket)
    }

    fn stats(&self) -> Value {
        get_json(self.running().control, "/stats")
    }

    fn post(&self, path: &str) {
        request_json(self.running().control, "POST", path);
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _guard = self.runtime.enter();
        drop(self.running.take());
    }
}

fn sim_options(devices: u32) -> meterhub_sim::vega::Options {
    meterhub_sim::vega::Options {
        listen: "127.0.0.1:0".into(),
        control: "127.0.0.1:0".into(),
        devices,
        models: MODELS.to_vec(),
        drift_every: 0,
        ..meterhub_sim::vega::Options::default()
    }
}

/// A host whose `vega` driver reads `sim`.
fn start_host(sim: &Sim, name: &str, keep: bool) -> Host {
    let plugins = release_plugins("wasm");
    assert!(
        plugins.join("vega/plugin.toml").exists() && plugins.join("vega-codec/plugin.toml").exists(),
        "{} lacks vega or vega-codec: run scripts/build-plugins --release first (scripts/bench does)",
        plugins.display()
    );
    let config = host_tables(&plugins)
        + &format!(
            "\n[drivers.vega]\nplugin = \"vega\"\ncodec = \"vega-codec\"\ntransport = \"websocket\"\nurl = \"{}\"\n\n[drivers.vega.settings]\nlogin = \"root\"\npassword = \"123\"\nbackfill_initial_ms = 604800000\n",
            sim.url()
        );
    let dir = bench_data().join(format!("vega-{name}-{}", std::process::id()));
    Host::start_in(&dir, &config, keep)
}

/// The `vega` source's counters.
fn counters(host: &Host) -> Value {
    host.get_ok("/api/v1/stats")["sources"]["vega"].clone()
}

fn count(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or(0)
}

// ---------------------------------------------------------------------------
// backfill

fn backfill(options: &Options) {
    println!(
        "back-fill: {} devices x {} h of history (one uplink per hour), emulator paused; a fresh host starts",
        options.devices, options.hours
    );
    let sim = Sim::start(meterhub_sim::vega::Options {
        history_hours: options.hours,
        history_interval_min: 60,
        start_paused: true,
        ..sim_options(options.devices)
    });
    let uplinks = get_json(sim.running().control, "/uplinks");
    let expected = uplinks.as_array().expect("uplinks").len() as u64;
    let started = Instant::now();
    let mut host = start_host(&sim, "backfill", options.keep);
    let host_up = started.elapsed();
    let cpu_before = cpu_seconds(&format!("/proc/{}/stat", host.pid()));
    let done = wait_for("every history uplink archived", CATCH_UP, || {
        let c = counters(&host);
        (count(&c, "archived") >= expected && host.get_ok("/api/v1/stats")["balanced"] == true).then_some(c)
    });
    let elapsed = started.elapsed();
    let host_cpu = cpu_seconds(&format!("/proc/{}/stat", host.pid())) - cpu_before;
    let rss_mib = host.rss_kib() as f64 / 1024.0;
    let sim_stats = sim.stats();
    host.stop();
    assert_eq!(count(&done, "archived"), expected, "archived frames beyond the emulator's uplinks: {done}");
    assert_eq!(count(&done, "quarantined"), 0, "{done}");
    let secs = elapsed.as_secs_f64();
    println!(
        "  {expected} uplinks ({} frames with repeats, {} readings) archived in {secs:.1} s from host start (start {:.1} s)",
        count(&done, "received"),
        count(&done, "readings_new"),
        host_up.as_secs_f64()
    );
    println!(
        "  {:.0} uplinks/s, {:.0} readings/s; {} get_data_req; host cpu {:.1} s ({:.2} cores), rss {rss_mib:.0} MiB",
        expected as f64 / secs,
        count(&done, "readings_new") as f64 / secs,
        count(&sim_stats, "get_data_requests"),
        host_cpu,
        host_cpu / secs
    );
}

// ---------------------------------------------------------------------------
// live

fn live(options: &Options) {
    println!(
        "live: the emulator offers {} data uplinks/s over {} devices; {} s warm-up, then {} s measured",
        options.rate, options.live_devices, options.warmup, options.seconds
    );
    let sim = Sim::start(meterhub_sim::vega::Options {
        rate: Some(options.rate),
        start_paused: true,
        ..sim_options(options.live_devices)
    });
    let mut host = start_host(&sim, "live", options.keep);
    // The device list and the (empty) back-fills first, then the traffic.
    wait_for("the driver to back-fill every device", CATCH_UP, || {
        (count(&sim.stats(), "get_data_requests") >= u64::from(options.live_devices)).then_some(())
    });
    sim.post("/resume");
    std::thread::sleep(Duration::from_secs_f64(options.warmup));
    let (before, sim_before, cpu_before) =
        (counters(&host), sim.stats(), cpu_seconds(&format!("/proc/{}/stat", host.pid())));
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(options.seconds));
    let (after, sim_after, cpu_after) =
        (counters(&host), sim.stats(), cpu_seconds(&format!("/proc/{}/stat", host.pid())));
    let secs = started.elapsed().as_secs_f64();
    sim.post("/pause");
    let delta = |a: &Value, b: &Value, key: &str| count(a, key).saturating_sub(count(b, key));
    let offered = delta(&sim_after, &sim_before, "data_uplinks");
    println!(
        "  archived {:.0} uplinks/s ({:.0} readings/s); offered {:.0} data uplinks/s; rx the host could not take in time: {}",
        delta(&after, &before, "archived") as f64 / secs,
        delta(&after, &before, "readings_new") as f64 / secs,
        offered as f64 / secs,
        delta(&sim_after, &sim_before, "rx_lagged")
    );
    println!(
        "  host cpu {:.2} cores, rss {:.0} MiB; quarantined {}, rejected {}",
        (cpu_after - cpu_before) / secs,
        host.rss_kib() as f64 / 1024.0,
        count(&after, "quarantined"),
        count(&after, "rejected")
    );
    host.stop();
}

// ---------------------------------------------------------------------------

fn options() -> Options {
    let args = Args::parse(
        &[
            ("--part", "METERHUB_BENCH_VEGA_PART"),
            ("--devices", "METERHUB_BENCH_VEGA_DEVICES"),
            ("--hours", "METERHUB_BENCH_VEGA_HOURS"),
            ("--live-devices", "METERHUB_BENCH_VEGA_LIVE_DEVICES"),
            ("--rate", "METERHUB_BENCH_VEGA_RATE"),
            ("--warmup", "METERHUB_BENCH_VEGA_WARMUP"),
            ("--seconds", "METERHUB_BENCH_VEGA_SECONDS"),
            ("--samples", "METERHUB_BENCH_VEGA_SAMPLES"),
            ("--batch", "METERHUB_BENCH_VEGA_BATCH"),
        ],
        |_| None,
        "vega",
    );
    Options {
        parts: match args.get("--part").unwrap_or("all") {
            "all" => vec!["codec", "backfill", "live"],
            "codec" => vec!["codec"],
            "backfill" => vec!["backfill"],
            "live" => vec!["live"],
            other => panic!("--part: expected all, codec, backfill or live, got {other:?}"),
        },
        devices: args.positive("--devices", 1000),
        hours: args.positive("--hours", 24.0),
        live_devices: args.positive("--live-devices", 5000),
        rate: args.positive("--rate", 3000.0),
        warmup: args.positive("--warmup", 5.0),
        seconds: args.positive("--seconds", 20.0),
        samples: args.positive("--samples", 21),
        batch: args.positive("--batch", 500),
        keep: args.keep,
    }
}
