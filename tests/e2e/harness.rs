//! Starting and talking to a real meterhub process.

#![allow(dead_code, reason = "each test uses part of the harness")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The local admin token of each running test host, by API address: [`http`]
/// sends it, so tests act as the built-in admin unless they ask otherwise
/// ([`request`]).
static TOKENS: Mutex<std::collections::BTreeMap<SocketAddr, String>> = Mutex::new(std::collections::BTreeMap::new());

/// How long a host may take to start (it compiles WASM plugins).
pub const START_DEADLINE: Duration = Duration::from_secs(60);
/// How long the archive may take to show what was acknowledged.
pub const APPLY_DEADLINE: Duration = Duration::from_secs(20);

/// The meterhub binary under test.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_meterhub")
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("host/ has a parent").to_path_buf()
}

/// Plugin folders of `kind` (`wasm` or `native`) that `scripts/build-plugins`
/// laid out under `target/<root>`, checked by one plugin that must be there.
fn built(root: &str, kind: &str, probe: &str) -> PathBuf {
    let dir = workspace().join("target").join(root).join(kind);
    assert!(
        dir.join(probe).join("plugin.toml").exists(),
        "{} has no built plugins: run scripts/build-plugins first (scripts/test does)",
        dir.display()
    );
    dir
}

/// Built plugin folders of `kind` (`wasm` or `native`).
pub fn plugins_dir(kind: &str) -> PathBuf {
    built("plugins", kind, "listener")
}

/// Built hostile test plugins of `kind` (from `tests/plugins/`).
pub fn test_plugins_dir(kind: &str) -> PathBuf {
    built("test-plugins", kind, "hostile")
}

/// Copy the plugin folder `from` to `to`.
pub fn copy_plugin(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create plugin folder");
    for entry in std::fs::read_dir(from).expect("read plugin folder") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy plugin file");
    }
}

/// Poll `f` until it gives `Some`, or panic with `what` after `deadline`.
pub fn wait_for<T>(what: &str, deadline: Duration, f: impl FnMut() -> Option<T>) -> T {
    poll(deadline, f).unwrap_or_else(|| panic!("timed out after {deadline:?} waiting for {what}"))
}

/// Poll `f` until it gives `Some`; `None` once `deadline` has passed.
pub fn poll<T>(deadline: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + deadline;
    let mut pause = Duration::from_millis(5);
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// The `[host]` and `[api]` tables of a test host: data in its directory,
/// plugins from `plugins`, the API on port 0.
pub fn host_tables(plugins: &Path) -> String {
    format!(
        "\n[host]\ndata_dir = \"data\"\nplugins_dir = \"{}\"\n\n[api]\nlisten = \"127.0.0.1:0\"\n",
        plugins.display()
    )
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

/// Driver addresses by instance id, from `run.json`.
fn drivers_of(info: &Value) -> std::collections::BTreeMap<String, String> {
    let drivers = info["drivers"].as_object().expect("drivers");
    drivers.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect()
}

/// A running host on a temporary directory; killed on drop.
pub struct Host {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    child: Option<Child>,
    pub api: SocketAddr,
    pub drivers: std::collections::BTreeMap<String, String>,
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
        let path = dir.path().join("meterhub.toml");
        std::fs::write(&path, config).expect("write config");
        let mut host = Host {
            dir,
            config: path,
            child: None,
            api: "0.0.0.0:0".parse().unwrap(),
            drivers: Default::default(),
            run_args: run_args.iter().map(|a| (*a).to_owned()).collect(),
        };
        host.restart();
        host
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Start (again) on the same directory; waits until it listens.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "host is already running");
        let run_file = self.data_dir().join("run.json");
        let _ = std::fs::remove_file(&run_file);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("meterhub.log"))
            .expect("log file");
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
        let info: Value = wait_for("the host to write run.json", START_DEADLINE, || {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("meterhub exited with {status} during start; log:\n{}", self.log());
            }
            let text = std::fs::read(&run_file).ok()?;
            let v: Value = serde_json::from_slice(&text).ok()?;
            (v["pid"] == pid).then_some(v)
        });
        self.api = info["api"].as_str().expect("api address").parse().expect("socket address");
        self.drivers = drivers_of(&info);
        // Written before run.json.
        let token = std::fs::read_to_string(self.data_dir().join("local-admin.token")).expect("local-admin.token");
        TOKENS.lock().unwrap_or_else(|e| e.into_inner()).insert(self.api, token.trim().to_owned());
    }

    /// The host's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("meterhub.log")).unwrap_or_default()
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = libc::pid_t::try_from(child.id()).expect("pid");
            // SAFETY-free: kill(2) with a valid signal on our own child.
            #[allow(unsafe_code)]
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
            let status = child.wait().expect("wait");
            assert!(status.success(), "meterhub exited with {status}; log:\n{}", self.log());
        }
    }

    /// Address of driver instance `id`.
    pub fn driver(&self, id: &str) -> SocketAddr {
        self.drivers[id].parse().expect("driver address")
    }

    /// GET `path` from the API.
    pub fn get(&self, path: &str) -> (u16, Value) {
        let (status, body) = http(self.api, "GET", path, b"");
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    /// GET that must answer 200.
    pub fn get_ok(&self, path: &str) -> Value {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// Wait until the archive has applied every committed record and the
    /// counters of every source balance; returns `/api/v1/stats`.
    pub fn settled_stats(&self, expected_received: u64) -> Value {
        wait_for("the archive to apply everything received", APPLY_DEADLINE, || {
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
            (refused["at_ms"].as_i64() >= Some(since_ms))
                .then(|| refused["errors"].as_array().unwrap().iter().map(|e| e.as_str().unwrap().to_owned()).collect())
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
    }
}

/// One HTTP/1.1 request with `Connection: close`; returns status and body.
/// A test host's API gets its local admin token.
pub fn http(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let token = TOKENS.lock().unwrap_or_else(|e| e.into_inner()).get(&addr).cloned();
    let authorization = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = authorization.iter().map(|a| ("Authorization", a.as_str())).collect();
    let response = request(addr, method, path, &headers, body);
    (response.status, response.body)
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-case, in order.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

impl Response {
    /// The first header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// One HTTP/1.1 request with exactly `headers` (no token added).
pub fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("write head");
    // A server may answer (413) and close before reading a large body.
    let _ = stream.write_all(body);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete response");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status code");
    let mut body = response[split + 4..].to_vec();
    let headers: Vec<(String, String)> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    if headers.iter().any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked")) {
        body = dechunk(&body);
    }
    Response { status, headers, body }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = data.windows(2).position(|w| w == b"\r\n") else { return out };
        let size = usize::from_str_radix(std::str::from_utf8(&data[..end]).unwrap_or("0").trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[end + 2 + size + 2..];
    }
}

/// A TCP device connection speaking the listener's line protocol.
pub struct LineClient {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

impl LineClient {
    /// Connect to `addr`.
    pub fn connect(addr: SocketAddr) -> LineClient {
        let writer = TcpStream::connect(addr).expect("connect");
        writer.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        let reader = BufReader::new(writer.try_clone().expect("clone"));
        LineClient { writer, reader }
    }

    /// Send raw bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("send");
    }

    /// Read one answer line as JSON; `None` at end of stream.
    pub fn answer(&mut self) -> Option<Value> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(serde_json::from_str(&line).unwrap_or_else(|e| panic!("answer {line:?} is not JSON: {e}"))),
        }
    }

    /// Close the sending side (the host still answers).
    pub fn finish(&mut self) {
        let _ = self.writer.shutdown(std::net::Shutdown::Write);
    }
}

/// A reading line for the listener.
pub fn reading(device: &str, channel: &str, ts_ms: i64, value: &str) -> String {
    format!(
        "{{\"device\":\"{device}\",\"channel\":\"{channel}\",\"ts\":{ts_ms},\"value\":{value},\"unit\":\"m3\",\"kind\":\"cumulative\"}}\n"
    )
}

/// Milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as i64
}

/// A browser's session: the cookie and the CSRF token from the login.
pub struct Session {
    /// `name=value` of the session cookie.
    pub cookie: String,
    /// The CSRF token.
    pub csrf: String,
}

/// The Origin a browser on the host's API sends.
pub fn origin(api: SocketAddr) -> String {
    format!("http://{api}")
}

/// `POST /api/v1/login` as a browser.
pub fn login(api: SocketAddr, user: &str, password: &str) -> Response {
    let body = json!({ "user": user, "password": password }).to_string();
    request(api, "POST", "/api/v1/login", &[("Origin", &origin(api))], body.as_bytes())
}

/// A browser's login that must succeed.
pub fn login_ok(api: SocketAddr, user: &str, password: &str) -> Session {
    let r = login(api, user, password);
    assert_eq!(r.status, 200, "login {user}: {}", r.json());
    let set_cookie = r.header("set-cookie").expect("a Set-Cookie header");
    let cookie = set_cookie.split(';').next().expect("name=value").to_owned();
    Session { cookie, csrf: r.json()["csrf"].as_str().expect("a csrf token").to_owned() }
}

/// A request as a browser with `session` makes it: the cookie, the host's
/// Origin, and the CSRF token when `csrf`.
pub fn browser(api: SocketAddr, session: &Session, method: &str, path: &str, csrf: bool, body: &str) -> Response {
    let origin = origin(api);
    let mut headers = vec![("Cookie", session.cookie.as_str()), ("Origin", origin.as_str())];
    if csrf {
        headers.push(("X-CSRF-Token", session.csrf.as_str()));
    }
    request(api, method, path, &headers, body.as_bytes())
}

/// `meterhub user add ARGS --password-stdin` through the running host.
pub fn add_user(host: &Host, args: &[&str], password: &str) {
    let mut all = vec!["user", "add"];
    all.extend_from_slice(args);
    all.push("--password-stdin");
    let out = host.cli_with_stdin(&all, &format!("{password}\n"));
    assert!(out.status.success(), "user add {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// The local admin token of the host whose API is at `addr`.
pub fn local_token(addr: SocketAddr) -> String {
    TOKENS.lock().unwrap_or_else(|e| e.into_inner()).get(&addr).cloned().expect("a host started by the harness")
}
