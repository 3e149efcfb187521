//! What the benches share beyond a host: their options (`--name value` or
//! an environment variable), data on a real disk, percentiles, CPU time.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use crate::paths::workspace;

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

/// User plus system CPU seconds of the process whose `/proc/<pid>/stat` is `path`.
pub fn cpu_seconds(path: &str) -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    let ticks = *TICKS.get_or_init(|| {
        let out = Command::new("getconf").arg("CLK_TCK").output().ok();
        out.and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok()).unwrap_or(100.0)
    });
    let stat = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    // Fields after the command name: state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (field(11) + field(12)) / ticks
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
