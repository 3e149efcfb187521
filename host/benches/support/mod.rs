//! What the end-to-end benches share: a real `meterhub` host on its own data
//! directory, a small HTTP GET, polling with a deadline, CPU and percentile
//! arithmetic. Included by each bench with `#[path = "support/mod.rs"] mod support;`.

#![allow(dead_code)] // each bench uses its part

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a host may take to start (it compiles the WASM plugins).
pub const START_DEADLINE: Duration = Duration::from_secs(60);
/// How long a host may take to stop on SIGTERM.
pub const STOP_DEADLINE: Duration = Duration::from_secs(30);
/// Longest wait for one HTTP answer.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("host/ has a parent").to_path_buf()
}

/// `target/bench-data/` (a real disk, not a tmpfs /tmp), created.
pub fn bench_data() -> PathBuf {
    let dir = workspace().join("target/bench-data");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// The `[host]`, `[api]` and `[log]` tables of a bench host using `plugins`.
pub fn host_tables(plugins: &Path) -> String {
    format!(
        "# Written by a meterhub bench.\n[host]\ndata_dir = \"data\"\nplugins_dir = \"{}\"\n\n[api]\nlisten = \"127.0.0.1:0\"\n\n[log]\nlevel = \"info\"\n",
        plugins.display()
    )
}

/// A running host on its own data directory; killed on drop, the directory
/// removed unless the bench failed or `keep` is set.
pub struct Host {
    pub dir: PathBuf,
    child: Option<Child>,
    pub api: SocketAddr,
    /// Driver instance addresses from `run.json`.
    pub drivers: serde_json::Map<String, Value>,
    /// The host's local admin token (its API needs one).
    pub token: String,
    keep: bool,
}

impl Host {
    /// Write `config` into `dir` (emptied first), start the built binary,
    /// wait for its `run.json`.
    pub fn start(dir: &Path, config: &str, keep: bool) -> Host {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let path = dir.join("meterhub.toml");
        std::fs::write(&path, config).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        let log = std::fs::File::create(dir.join("meterhub.log")).expect("create the host log");
        let child = Command::new(env!("CARGO_BIN_EXE_meterhub"))
            .args(["run", "-c"])
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start meterhub");
        let pid = child.id();
        let mut host = Host {
            dir: dir.to_path_buf(),
            child: Some(child),
            api: ([0, 0, 0, 0], 0).into(),
            drivers: serde_json::Map::new(),
            token: String::new(),
            keep,
        };
        let run_file = dir.join("data/run.json");
        let info: Value = wait_for("the host to write run.json", START_DEADLINE, || {
            if let Some(status) = host.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("meterhub exited with {status} during start; log: {}", host.log_path().display());
            }
            let v: Value = serde_json::from_slice(&std::fs::read(&run_file).ok()?).ok()?;
            (v["pid"] == pid).then_some(v)
        });
        host.api = address(&info["api"]);
        host.drivers = info["drivers"].as_object().cloned().unwrap_or_default();
        // Written before run.json.
        let token = dir.join("data/local-admin.token");
        host.token = std::fs::read_to_string(&token)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", token.display()))
            .trim()
            .to_owned();
        host
    }

    /// The address of driver instance `id`.
    pub fn driver(&self, id: &str) -> SocketAddr {
        address(&self.drivers[id])
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("meterhub.log")
    }

    /// GET `path` from the API as the local admin; must answer 200 with JSON.
    pub fn get(&self, path: &str) -> Value {
        request_json_as(self.api, "GET", path, Some(&self.token))
    }

    /// Resident memory, KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap_or("VmRSS: 0 kB");
        line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0)
    }

    /// SIGTERM and a clean exit within the deadline.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("run kill");
        assert!(status.success(), "kill -TERM {} failed", child.id());
        let status = wait_for("the host to stop on SIGTERM", STOP_DEADLINE, || child.try_wait().ok().flatten());
        assert!(status.success(), "meterhub exited with {status}; log: {}", self.log_path().display());
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() || self.keep {
            eprintln!("kept {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn address(v: &Value) -> SocketAddr {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("run.json: bad address {v}"))
}

/// HTTP/1.1 `method` of `path` at `addr`, no body; the answer must be 200
/// with a JSON body.
pub fn request_json(addr: SocketAddr, method: &str, path: &str) -> Value {
    request_json_as(addr, method, path, None)
}

/// [`request_json`] with `Authorization: Bearer <token>` when given.
pub fn request_json_as(addr: SocketAddr, method: &str, path: &str, token: Option<&str>) -> Value {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    stream.set_read_timeout(Some(ANSWER_TIMEOUT)).expect("read timeout");
    let authorization = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{authorization}Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .expect("send the request");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read the response");
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("incomplete response {text:?}"));
    assert!(head.starts_with("HTTP/1.1 200"), "{method} {path}: {head}\n{body}");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{method} {path} is not JSON ({e}): {body}"))
}

/// GET `path` at `addr` as JSON.
pub fn get_json(addr: SocketAddr, path: &str) -> Value {
    request_json(addr, "GET", path)
}

/// Poll `f` until it gives `Some`, or panic with `what` after `deadline`.
pub fn wait_for<T>(what: &str, deadline: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + deadline;
    let mut pause = Duration::from_millis(5);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < end, "timed out after {deadline:?} waiting for {what}");
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    }
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

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock after 1970").as_millis() as i64
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
