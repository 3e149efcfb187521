//! DLMS/COSEM meters pushing over TCP to the `rbgu` driver and the
//! `dlms-codec` codec, end to end through the real `meterhub` binary, the
//! meters simulated by `meterhub_sim::dlms` in this process:
//!
//! - `idle`: `connections` meters connect, push once (glo-clear: the
//!   title and counter in clear, no keys) and stay connected, idle. The
//!   host's RSS and open file descriptors are read before (after the same
//!   meters pushed once on short connections, so the archive already
//!   holds them and the plugins are warm) and while every connection is
//!   held: the host's own memory per connection is the RSS difference
//!   over the connections;
//! - `push`: `meters` meters push `pushes` ciphered (AES-128-GCM)
//!   data-notifications each, as fast as the host reads them, on one
//!   connection per meter, the keys in the instance's secrets file:
//!   notifications/s decoded and archived (from the first connect until
//!   the archive holds every push's six readings).
//!
//! Build the host and plugins first (`scripts/bench dlms` does), then
//! `cargo bench -p meterhub --bench dlms [-- options]`.
//!
//! | argument             | environment                  | default |
//! |----------------------|------------------------------|---------|
//! | `--part P` or `P`    | `METERHUB_BENCH_PART`        | `both` (`idle`, `push`, `both`) |
//! | `--connections N`    | `METERHUB_BENCH_CONNECTIONS` | 10000 (idle) |
//! | `--meters M`         | `METERHUB_BENCH_METERS`      | 100 (push) |
//! | `--pushes K`         | `METERHUB_BENCH_PUSHES`      | 200 per meter (push) |
//! | `--kind K`           | `METERHUB_BENCH_KIND`        | `wasm` (`native`) |
//! | `--keep`             | `METERHUB_BENCH_KEEP=1`      | remove data dirs |

use std::path::Path;
use std::time::{Duration, Instant};

use meterhub_sim::dlms::{CODEC_SETTINGS_TOML, Dlms, Keys, Options, Security, secrets_toml};
use meterhub_testkit::bench::{Args, bench_data, release_plugins, wait_archived};
use meterhub_testkit::{Host, host_tables, wait_for};

struct BenchOptions {
    parts: Vec<&'static str>,
    connections: u32,
    meters: u32,
    pushes: u64,
    kind: String,
    keep: bool,
}

fn options() -> BenchOptions {
    let args = Args::parse(
        &[
            ("--part", "METERHUB_BENCH_PART"),
            ("--connections", "METERHUB_BENCH_CONNECTIONS"),
            ("--meters", "METERHUB_BENCH_METERS"),
            ("--pushes", "METERHUB_BENCH_PUSHES"),
            ("--kind", "METERHUB_BENCH_KIND"),
        ],
        |word| ["idle", "push", "both"].contains(&word).then_some("--part"),
        "dlms",
    );
    let parts = match args.get("--part").unwrap_or("both") {
        "idle" => vec!["idle"],
        "push" => vec!["push"],
        "both" => vec!["idle", "push"],
        other => panic!("--part: expected idle, push or both, got {other:?}"),
    };
    BenchOptions {
        parts,
        connections: args.positive("--connections", 10_000),
        meters: args.positive("--meters", 100),
        pushes: args.positive("--pushes", 200),
        kind: args.plugin_kind(),
        keep: args.keep,
    }
}

/// The host's configuration: the rbgu instance `meters` taking up to
/// 20 000 connections from one address, its secrets file in `dir`
/// holding keys for the first `keyed` meters.
fn config(plugins: &Path, dir: &Path, keyed: u32) -> String {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).expect("bench dir");
    let secrets = dir.join("secrets.toml");
    std::fs::write(&secrets, secrets_toml(1..=u64::from(keyed), &Keys::example())).expect("secrets file");
    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600)).expect("secrets mode");
    host_tables(plugins)
        + &format!(
            "\n[log]\nlevel = \"warn\"\n\n[drivers.meters]\nplugin = \"rbgu\"\ncodec = \"dlms-codec\"\ntransport = \"tcp\"\n\
             listen = \"127.0.0.1:0\"\nmax_connections = 20000\nmax_connections_per_peer = 20000\nidle_timeout_ms = 3600000\n\
             secrets_file = {:?}\n[drivers.meters.settings]\nframing = \"wrapper\"\n\
             [drivers.meters.codec_settings]\n{CODEC_SETTINGS_TOML}",
            secrets.display().to_string()
        )
}

fn main() {
    let options = options();
    let granted = meterhub::open_files::raise_to_hard_limit();
    let plugins = release_plugins(&options.kind);
    println!(
        "dlms: rbgu + dlms-codec ({} plugins), IEC 62056-47 wrapper, {} cores, this process's open-file limit {granted}",
        options.kind,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    for part in &options.parts {
        let dir = bench_data().join(format!("dlms-{part}-{}", std::process::id()));
        match *part {
            "idle" => idle(&options, &plugins, &dir),
            _ => push(&options, &plugins, &dir),
        }
    }
}

/// Emulator options for `meters` meters at `host`'s driver.
fn sim(host: &Host, meters: u32, pushes: u64, security: Security) -> Options {
    Options {
        connect: host.driver("meters").to_string(),
        meters,
        security,
        pushes,
        interval_ms: 0,
        connect_concurrency: 128,
        connect_timeout_ms: 60_000,
        ..Options::default()
    }
}

/// Open file descriptors of process `pid`.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

fn idle(options: &BenchOptions, plugins: &Path, dir: &Path) {
    let n = options.connections;
    let host = Host::start_in(dir, &config(plugins, &dir.with_extension("secrets"), 0), options.keep);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    // Every meter pushes once on a short connection: the archive holds
    // them, the plugins are warm.
    let warm = Options { per_connection: Some(1), ..sim(&host, n, 1, Security::GloClear) };
    let report = runtime.block_on(Dlms::new(warm).expect("options").run()).expect("warm-up");
    assert!(report.complete(), "warm-up: {report:?}");
    let expected = report.expected_readings;
    wait_archived(&host, "meters", expected);
    let (rss_before, fds_before) = (host.rss_kib(), open_fds(host.pid()));

    // The same meters connect again, push once more (the next counter,
    // the same readings: duplicates) and stay.
    let held = Options { hold: true, first_counter: 2, ..sim(&host, n, 1, Security::GloClear) };
    let dlms = Dlms::new(held).expect("options");
    let stats = dlms.stats();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let started = Instant::now();
    let sim = runtime.spawn(dlms.run_until(async {
        let _ = stopped.await;
    }));
    wait_for("every meter connected and pushed", Duration::from_secs(600), || {
        (stats.pushes() >= u64::from(n)).then_some(())
    });
    let connected = started.elapsed();
    let settled = wait_for("every push settled", Duration::from_secs(600), || {
        let s = host.get_ok("/api/v1/stats");
        let c = &s["sources"]["meters"];
        (c["duplicate"].as_u64() >= Some(u64::from(n))).then_some(s)
    });
    let open = settled["listeners"]["meters"]["open"].as_u64().unwrap_or(0);
    let (rss_held, fds_held) = (host.rss_kib(), open_fds(host.pid()));
    let per_connection = (rss_held.saturating_sub(rss_before)) as f64 * 1024.0 / f64::from(n);
    println!(
        "idle: {n} connections held (listener open: {open}; host fds {fds_before} -> {fds_held}), connected and pushed in {:.1} s; \
         host RSS {:.1} MiB before, {:.1} MiB held: {per_connection:.0} bytes per connection (goal <= 4096)",
        connected.as_secs_f64(),
        rss_before as f64 / 1024.0,
        rss_held as f64 / 1024.0,
    );
    let _ = stop.send(());
    let report = runtime.block_on(sim).expect("the emulator's task").expect("the emulator");
    assert_eq!(report.held, Some(u64::from(n)), "{report:?}");
    assert_eq!(report.held_closed_by_peer, Some(0), "the host closed held connections: {report:?}");
}

fn push(options: &BenchOptions, plugins: &Path, dir: &Path) {
    let host = Host::start_in(dir, &config(plugins, &dir.with_extension("secrets"), options.meters), options.keep);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let started = Instant::now();
    let report = runtime
        .block_on(Dlms::new(sim(&host, options.meters, options.pushes, Security::Ciphered)).expect("options").run())
        .expect("the emulator");
    assert!(report.complete(), "{report:?}");
    let written = started.elapsed();
    let stats = wait_archived(&host, "meters", report.expected_readings);
    let took = started.elapsed();
    let counters = &stats["sources"]["meters"];
    assert_eq!(counters["archived"].as_u64(), Some(report.pushes), "every push archived: {counters:#}");
    assert_eq!(counters["quarantined"].as_u64(), Some(0), "{counters:#}");
    println!(
        "push: {} ciphered notifications from {} meters ({} readings): written in {:.1} s, all decoded and archived in {:.1} s: \
         {:.0} notifications/s ({:.0} readings/s)",
        report.pushes,
        options.meters,
        report.expected_readings,
        written.as_secs_f64(),
        took.as_secs_f64(),
        report.pushes as f64 / took.as_secs_f64(),
        report.expected_readings as f64 / took.as_secs_f64(),
    );
}
