//! A running `meterhub` process on its own directory: started with a
//! config written there, found through the `run.json` it writes, asked
//! through its API with its local admin token, stopped or killed.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::http::{self, remember_token};
use crate::paths::{binary, plugins_dir};
use crate::wait::wait_for;

/// How long a host may take to start (it compiles WASM plugins).
pub const START_DEADLINE: Duration = Duration::from_secs(60);
/// How long the archive may take to show what was acknowledged.
pub const APPLY_DEADLINE: Duration = Duration::from_secs(20);
/// How long [`Host::settled_stats`] waits for the archive to settle.
pub const SETTLE_DEADLINE: Duration = Duration::from_secs(60);
/// How long a host may take to stop on SIGTERM.
pub const STOP_DEADLINE: Duration = Duration::from_secs(30);

/// The `[host]` and `[api]` tables of a test host: data in its directory,
/// plugins from `plugins` (their compiled code kept in
/// [`shared_compiled_plugins_dir`]), the API on port 0.
pub fn host_tables(plugins: &Path) -> String {
    format!(
        "\n[host]\ndata_dir = \"data\"\nplugins_dir = \"{}\"\n{}\n[api]\nlisten = \"127.0.0.1:0\"\n",
        plugins.display(),
        shared_compiled_plugins_line()
    )
}

/// Where every test host keeps its plugins' compiled code, so that only
/// the first host to load a plugin compiles it (a compilation takes
/// seconds on a busy machine, and nearly every test starts a host).
fn shared_compiled_plugins_dir() -> PathBuf {
    crate::paths::workspace().join("target").join("test-compiled-plugins")
}

/// The `compiled_plugins_dir` line [`host_tables`] writes.
pub fn shared_compiled_plugins_line() -> String {
    format!("compiled_plugins_dir = \"{}\"\n", shared_compiled_plugins_dir().display())
}

/// The config of a test host: listener on TCP and HTTP, port 0 everywhere.
pub fn default_config(plugins: &Path) -> String {
    host_tables(plugins)
        + r#"
[log]
level = "info"

[drivers.tcp-in]
plugin = "listener"
transport = "tcp"
listen = "127.0.0.1:0"

[drivers.http-in]
plugin = "listener"
transport = "http"
listen = "127.0.0.1:0"
max_body_bytes = 65536
"#
}

/// Where a host keeps its config, log and data.
enum HostDir {
    /// A temporary directory, removed with the host (tests).
    Temp(tempfile::TempDir),
    /// A directory of the caller's (benches on a real disk), removed with
    /// the host unless `keep` or the caller panicked.
    Given { path: PathBuf, keep: bool },
}

/// A running host; killed on drop.
pub struct Host {
    dir: HostDir,
    /// The config file.
    pub config: PathBuf,
    child: Option<Child>,
    /// The API's bound address.
    pub api: SocketAddr,
    /// Driver instance addresses (or URLs) by id, from `run.json`.
    pub drivers: BTreeMap<String, String>,
    /// The local admin token (`<data>/local-admin.token`).
    pub token: String,
    /// Extra arguments of `meterhub run`.
    pub run_args: Vec<String>,
}

impl Host {
    /// Start a host with the default config and the WASM plugins.
    pub fn start() -> Host {
        Host::start_with(&default_config(&plugins_dir("wasm")))
    }

    /// Start a host with `config` in a new temporary directory.
    pub fn start_with(config: &str) -> Host {
        Host::start_with_args(config, &[])
    }

    /// Start a host with `config` and extra `meterhub run` arguments.
    pub fn start_with_args(config: &str, run_args: &[&str]) -> Host {
        let dir = tempfile::tempdir().expect("temp dir");
        Host::launch(HostDir::Temp(dir), config, run_args)
    }

    /// Start a host with `config` in `dir` (emptied first); `dir` is removed
    /// when the host is dropped, unless `keep` or the caller panicked.
    pub fn start_in(dir: &Path, config: &str, keep: bool) -> Host {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        Host::launch(HostDir::Given { path: dir.to_path_buf(), keep }, config, &[])
    }

    fn launch(dir: HostDir, config: &str, run_args: &[&str]) -> Host {
        let root = match &dir {
            HostDir::Temp(t) => t.path().to_path_buf(),
            HostDir::Given { path, .. } => path.clone(),
        };
        let path = root.join("meterhub.toml");
        std::fs::write(&path, config).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        let mut host = Host {
            dir,
            config: path,
            child: None,
            api: ([0, 0, 0, 0], 0).into(),
            drivers: BTreeMap::new(),
            token: String::new(),
            run_args: run_args.iter().map(|a| (*a).to_owned()).collect(),
        };
        host.restart();
        host
    }

    /// The host's directory (config, log, `data/`).
    pub fn dir(&self) -> &Path {
        match &self.dir {
            HostDir::Temp(t) => t.path(),
            HostDir::Given { path, .. } => path,
        }
    }

    /// The data directory: the config's `data_dir`, relative to the
    /// host's directory (`data` in the default config).
    pub fn data_dir(&self) -> PathBuf {
        let config = std::fs::read_to_string(&self.config).unwrap_or_default();
        let value: Option<toml::Value> = toml::from_str(&config).ok();
        let data = value.as_ref().and_then(|v| v.get("host")?.get("data_dir")?.as_str().map(PathBuf::from));
        self.dir().join(data.unwrap_or_else(|| PathBuf::from("data")))
    }

    /// The host's log file.
    pub fn log_path(&self) -> PathBuf {
        self.dir().join("meterhub.log")
    }

    /// Start (again) on the same directory; waits until it listens.
    pub fn restart(&mut self) {
        if let Err(status) = self.try_restart() {
            panic!("meterhub exited with {status} during start; log:\n{}", self.log());
        }
    }

    /// [`Host::restart`], for a start that may be refused: `false` when the
    /// host exited during start (its log says why), `true` once it listens.
    pub fn restart_allowing_failure(&mut self) -> bool {
        self.try_restart().is_ok()
    }

    /// Whether the host process is running (it was started and did not stop).
    pub fn running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    fn try_restart(&mut self) -> Result<(), std::process::ExitStatus> {
        assert!(self.child.is_none(), "host is already running");
        let run_file = self.data_dir().join("run.json");
        let _ = std::fs::remove_file(&run_file);
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path()).expect("log file");
        let child = Command::new(binary())
            .args(["run", "-c"])
            .arg(&self.config)
            .args(&self.run_args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start meterhub");
        let pid = child.id();
        self.child = Some(child);
        let info: Result<Value, std::process::ExitStatus> =
            wait_for("the host to write run.json", START_DEADLINE, || {
                if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                    return Some(Err(status));
                }
                let text = std::fs::read(&run_file).ok()?;
                let v: Value = serde_json::from_slice(&text).ok()?;
                (v["pid"] == pid).then_some(Ok(v))
            });
        let info = match info {
            Ok(info) => info,
            Err(status) => {
                self.child = None;
                return Err(status);
            }
        };
        self.api = info["api"].as_str().and_then(|a| a.parse().ok()).expect("run.json: the API's address");
        self.drivers = drivers_of(&info);
        // Written before run.json.
        let token = std::fs::read_to_string(self.data_dir().join("local-admin.token")).expect("local-admin.token");
        self.token = token.trim().to_owned();
        remember_token(self.api, &self.token);
        Ok(())
    }

    /// The host's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, and a clean exit within [`STOP_DEADLINE`].
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        // kill(1), not kill(2): no unsafe code in the kit.
        let sent = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("run kill");
        assert!(sent.success(), "kill -TERM {} failed", child.id());
        let status = wait_for("the host to stop on SIGTERM", STOP_DEADLINE, || child.try_wait().ok().flatten());
        assert!(status.success(), "meterhub exited with {status}; log:\n{}", self.log());
    }

    /// Address of driver instance `id`.
    pub fn driver(&self, id: &str) -> SocketAddr {
        let address = self.drivers.get(id).unwrap_or_else(|| panic!("no driver instance {id:?} in run.json"));
        address.parse().unwrap_or_else(|e| panic!("driver {id:?}: {address:?} is not an address: {e}"))
    }

    /// GET `path` from the API as the local admin.
    pub fn get(&self, path: &str) -> (u16, Value) {
        let (status, body) = http::http(self.api, "GET", path, b"");
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    /// GET that must answer 200.
    pub fn get_ok(&self, path: &str) -> Value {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// Wait until the archive has applied every committed record and the
    /// counters of every source balance; returns `/api/v1/stats`. Waits up
    /// to [`SETTLE_DEADLINE`]: a host restarted after a SIGKILL replays its
    /// journal first, which on 2 cores shared with the rest of the suite
    /// took longer than [`APPLY_DEADLINE`] once (the sync kill test).
    pub fn settled_stats(&self, expected_received: u64) -> Value {
        wait_for("the archive to apply everything received", SETTLE_DEADLINE, || {
            let stats = self.get_ok("/api/v1/stats");
            (stats["total"]["received"].as_u64() == Some(expected_received) && stats["balanced"] == true)
                .then_some(stats)
        })
    }

    /// The host's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Resident memory of the host process, KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }

    /// `GET /api/v1/config`: generation, last change, last refusal.
    pub fn config_status(&self) -> Value {
        self.get_ok("/api/v1/config")
    }

    /// Wait until the host has applied `generation` changes; returns the
    /// config status.
    pub fn wait_generation(&self, generation: u64) -> Value {
        wait_for(&format!("config generation {generation}"), START_DEADLINE, || {
            let status = self.config_status();
            (status["generation"].as_u64() >= Some(generation)).then_some(status)
        })
    }

    /// Wait until a change is refused after `since_ms`; returns its errors.
    pub fn wait_refusal(&self, since_ms: i64) -> Vec<String> {
        wait_for("a refused change", START_DEADLINE, || {
            let status = self.config_status();
            let refused = &status["last_error"];
            (refused["at_ms"].as_i64() >= Some(since_ms)).then(|| {
                refused["errors"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|e| e.as_str().unwrap_or("").to_owned())
                    .collect()
            })
        })
    }

    /// Re-read `run.json` for the drivers' addresses (they change on reload).
    pub fn refresh_drivers(&mut self) {
        let text = std::fs::read(self.data_dir().join("run.json")).expect("run.json");
        self.drivers = drivers_of(&serde_json::from_slice(&text).expect("run.json is JSON"));
    }

    /// Run a meterhub sub-command against this host's config.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(binary()).args(args).arg("-c").arg(&self.config).output().expect("run meterhub")
    }

    /// Run a meterhub sub-command against this host's config with `stdin`.
    pub fn cli_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = Command::new(binary())
            .args(args)
            .arg("-c")
            .arg(&self.config)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run meterhub");
        child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
        child.wait_with_output().expect("wait for meterhub")
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.kill();
        if let HostDir::Given { path, keep } = &self.dir {
            if *keep || std::thread::panicking() {
                eprintln!("kept {}", path.display());
            } else {
                let _ = std::fs::remove_dir_all(path);
            }
        }
    }
}

/// Driver addresses by instance id, from `run.json`.
fn drivers_of(info: &Value) -> BTreeMap<String, String> {
    let drivers = info["drivers"].as_object().expect("run.json: drivers");
    drivers.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect()
}
