//! What the benches share beyond a host: their options (`--name value` or
//! an environment variable), data on a real disk, percentiles, CPU time,
//! the disk's fdatasync floor and filesystem.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::paths::workspace;

/// The file `scripts/build-plugins` leaves in each plugin folder it lays
/// out, naming the cargo profile it built (`debug` or `release`).
pub const BUILD_PROFILE_FILE: &str = "build-profile";

/// `target/plugins/<kind>` (`wasm` or `native`), the plugins a bench loads,
/// once every plugin there is known to be a release build: a debug build
/// (what `scripts/test` and `scripts/build-plugins` without `--release`
/// lay out in the same place) decodes several times slower, and every
/// number measured with it would be wrong without saying so.
pub fn release_plugins(kind: &str) -> PathBuf {
    let dir = workspace().join("target/plugins").join(kind);
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}: run scripts/build-plugins --release first", dir.display()));
    let not_release: Vec<String> = entries
        .filter_map(|entry| Some(entry.ok()?.path()))
        .filter(|path| path.is_dir())
        .filter_map(|path| {
            let profile = std::fs::read_to_string(path.join(BUILD_PROFILE_FILE)).unwrap_or_default();
            let profile = match profile.trim() {
                "release" => return None,
                "" => "build unknown".to_owned(),
                other => other.to_owned(),
            };
            Some(format!("{} ({profile})", path.file_name()?.to_string_lossy()))
        })
        .collect();
    assert!(
        not_release.is_empty(),
        "{} holds plugins that are not release builds: {}; run scripts/build-plugins --release (scripts/bench does)",
        dir.display(),
        not_release.join(", ")
    );
    dir
}

/// `target/bench-data/` (a real disk, not a tmpfs /tmp), created.
pub fn bench_data() -> PathBuf {
    let dir = workspace().join("target/bench-data");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// Nearest-rank percentile of sorted `values`.
pub fn percentile(values: &[u32], p: f64) -> u32 {
    if values.is_empty() {
        return 0;
    }
    let rank = (p * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

/// Clock ticks per second of `/proc/<pid>/stat` (`getconf CLK_TCK`).
fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        let out = Command::new("getconf").arg("CLK_TCK").output().ok();
        out.and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok()).unwrap_or(100.0)
    })
}

/// The command name and user plus system CPU seconds in a `/proc/<pid>/stat`
/// text; `None` when it cannot be parsed.
pub fn stat_cpu(stat: &str) -> Option<(String, f64)> {
    let (comm, rest) = stat.split_once(" (")?.1.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state is field 3 (index 0), utime 14, stime 15.
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some((comm.to_owned(), ticks / clock_ticks()))
}

/// User plus system CPU seconds of the process whose `/proc/<pid>/stat` is `path`.
pub fn cpu_seconds(path: &str) -> f64 {
    let stat = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    stat_cpu(&stat).map_or(0.0, |(_, seconds)| seconds)
}

/// p50 and p99 of appending 128 bytes to a file in `dir` and fdatasync'ing
/// it `samples` times (after 20 to warm up), in microseconds: the disk's
/// floor under any durable acknowledgement.
pub fn fdatasync_floor(dir: &Path, samples: usize) -> (u32, u32) {
    let path = dir.join(format!("fdatasync-probe-{}", std::process::id()));
    let mut file = std::fs::File::create(&path).unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
    let mut times: Vec<u32> = (0..samples + 20)
        .map(|_| {
            let started = Instant::now();
            file.write_all(&[b'x'; 128]).and_then(|()| file.sync_data()).expect("write and fdatasync the probe file");
            u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX)
        })
        .skip(20)
        .collect();
    drop(file);
    let _ = std::fs::remove_file(&path);
    times.sort_unstable();
    (percentile(&times, 0.50), percentile(&times, 0.99))
}

/// The filesystem type and device holding `path`, from /proc/self/mounts.
pub fn filesystem(path: &Path) -> String {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let (device, point, fstype) = (f.next()?, f.next()?, f.next()?);
            path.starts_with(point).then(|| (point.len(), format!("{fstype} ({device} mounted on {point})")))
        })
        .max_by_key(|(len, _)| *len)
        .map_or_else(|| "an unknown filesystem".to_owned(), |(_, fs)| fs)
}

/// Microseconds as milliseconds.
pub fn ms(us: u32) -> f64 {
    f64::from(us) / 1000.0
}

/// `value` parsed as a positive number, `default` when absent; panics
/// naming the option otherwise.
fn positive<T: std::str::FromStr + PartialOrd + Default>(name: &str, value: Option<String>, default: T) -> T {
    value.map_or(default, |v| match v.parse::<T>() {
        Ok(n) if n > T::default() => n,
        _ => panic!("{name}: expected a positive number, got {v:?}"),
    })
}

/// A bench's options: `--name value` arguments, else the environment
/// variables they are paired with; `--keep` (or `METERHUB_BENCH_KEEP=1`);
/// words without a dash are mapped to an option by `bare`.
pub struct Args {
    values: BTreeMap<&'static str, String>,
    /// Keep the data directories.
    pub keep: bool,
}

impl Args {
    /// `--kind`: the plugins' build, `wasm` (the default) or `native`.
    pub fn plugin_kind(&self) -> String {
        let kind = self.get("--kind").unwrap_or("wasm");
        assert!(["wasm", "native"].contains(&kind), "kind: expected wasm or native, got {kind:?}");
        kind.to_owned()
    }

    /// Parse the process arguments; `known` pairs each `--name` with its
    /// environment variable; `bench` names the bench in errors.
    pub fn parse(known: &[(&'static str, &str)], bare: impl Fn(&str) -> Option<&'static str>, bench: &str) -> Args {
        let mut values = BTreeMap::new();
        for (name, env) in known {
            if let Some(v) = std::env::var(env).ok().filter(|v| !v.is_empty()) {
                values.insert(*name, v);
            }
        }
        let mut keep = std::env::var("METERHUB_BENCH_KEEP").is_ok_and(|v| !v.is_empty() && v != "0");
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                // cargo bench passes --bench to harness = false targets.
                "--bench" => {}
                "--keep" => keep = true,
                word if !word.starts_with('-') && bare(word).is_some() => {
                    values.insert(bare(word).unwrap_or_default(), arg.clone());
                }
                other => {
                    let Some((name, _)) = known.iter().find(|(name, _)| *name == other) else {
                        panic!("unknown argument {other:?}; see the //! doc of host/benches/{bench}.rs")
                    };
                    values.insert(name, args.next().unwrap_or_else(|| panic!("{other} needs a value")));
                }
            }
        }
        Args { values, keep }
    }

    /// The value of `--name`, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// `--name` as a positive number, `default` when absent.
    pub fn positive<T: std::str::FromStr + PartialOrd + Default>(&self, name: &str, default: T) -> T {
        positive(name, self.get(name).map(str::to_owned), default)
    }
}

/// How long the archive may make no progress while a bench waits for it.
pub const APPLY_STALL: std::time::Duration = std::time::Duration::from_secs(30);

/// `readings_new` of `source` in `/api/v1/stats`.
pub fn readings_new(stats: &serde_json::Value, source: &str) -> u64 {
    stats["sources"][source]["readings_new"].as_u64().unwrap_or(0)
}

/// Poll `/api/v1/stats` until the archive shows `readings` new readings of
/// `source` with balanced counters; panics if it makes no progress for
/// [`APPLY_STALL`].
pub fn wait_archived(host: &crate::Host, source: &str, readings: u64) -> serde_json::Value {
    let mut last = None;
    let mut progressed = Instant::now();
    let mut pause = std::time::Duration::from_millis(5);
    loop {
        let stats = host.get_ok("/api/v1/stats");
        let archived = readings_new(&stats, source);
        if archived >= readings && stats["balanced"] == true {
            return stats;
        }
        if Some(archived) != last {
            (last, progressed) = (Some(archived), Instant::now());
        }
        assert!(
            progressed.elapsed() < APPLY_STALL,
            "the archive is stuck at {archived} of {readings} acknowledged readings for {APPLY_STALL:?}:\n{stats:#}"
        );
        std::thread::sleep(pause);
        pause = (pause * 2).min(std::time::Duration::from_millis(100));
    }
}

/// The archive holds exactly what was acknowledged through `source`:
/// `frames` frames received and archived, `readings` new readings, nothing
/// duplicate, quarantined or rejected, counters balanced. Panics naming the
/// first difference.
pub fn check_archive(stats: &serde_json::Value, source: &str, frames: u64, readings: u64) {
    let total = &stats["total"];
    let counters = &stats["sources"][source];
    let expect = [
        ("total.received".to_owned(), &total["received"], frames),
        (format!("sources.{source}.archived"), &counters["archived"], frames),
        (format!("sources.{source}.readings_new"), &counters["readings_new"], readings),
        ("total.duplicate".to_owned(), &total["duplicate"], 0),
        ("total.quarantined".to_owned(), &total["quarantined"], 0),
        ("total.rejected".to_owned(), &total["rejected"], 0),
    ];
    for (name, got, want) in expect {
        assert!(
            got.as_u64() == Some(want),
            "archive check failed: {name} = {got}, expected {want} ({readings} readings acknowledged); /api/v1/stats:\n{stats:#}"
        );
    }
    assert!(stats["balanced"] == true, "archive check failed: counters do not balance:\n{stats:#}");
}
