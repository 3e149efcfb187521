//! Native plugins run in child processes (`meterhub plugin-runner`): a
//! native codec that segfaults, aborts, exits or spins takes down its runner,
//! never the host. The call fails with the cause, the frame is quarantined
//! with it, the next call gets a fresh runner after the backoff, and repeated
//! crashes quarantine the instance, while another driver instance goes on
//! ingesting. A library built for an older contract is refused at load.

use std::path::Path;
use std::time::Duration;

use meterhub_plugin_api::API_VERSION_TEXT;
use serde_json::Value;

use meterhub_testkit::{
    APPLY_DEADLINE, Host, LineClient, copy_plugin, plugins_dir, reading, test_plugins_dir, wait_for,
};

const TS: i64 = 1_763_719_200_000;

/// Time limit of one plugin call in these hosts: above what a caught panic
/// takes to print its backtrace (RUST_BACKTRACE=1) on a loaded 2-core
/// machine, so a panic is told apart from a hang.
const CALL_TIMEOUT_MS: u64 = 2000;

fn config(plugins: &Path, trusted: &str) -> String {
    format!(
        r#"
[host]
data_dir = "data"
plugins_dir = "{plugins}"
wasm_call_timeout_ms = {CALL_TIMEOUT_MS}
plugin_max_failures = 5
plugin_failure_window_ms = 600000
plugin_backoff_min_ms = 20
plugin_backoff_max_ms = 100
trusted_plugins = [{trusted}]
{compiled}
[api]
listen = "127.0.0.1:0"

[drivers.crashy-in]
plugin = "listener"
codec = "crashy"
transport = "tcp"
listen = "127.0.0.1:0"

[drivers.steady-in]
plugin = "listener"
transport = "tcp"
listen = "127.0.0.1:0"
"#,
        plugins = plugins.display(),
        compiled = meterhub_testkit::shared_compiled_plugins_line()
    )
}

/// A host with the native listener and the crashy native codec.
fn start(trusted: &str) -> (tempfile::TempDir, Host) {
    let root = tempfile::tempdir().unwrap();
    let plugins = root.path().join("plugins");
    copy_plugin(&plugins_dir("native").join("listener"), &plugins.join("listener"));
    copy_plugin(&test_plugins_dir("native").join("crashy"), &plugins.join("crashy"));
    let host = Host::start_with(&config(&plugins, trusted));
    (root, host)
}

/// Frames sent so far, for the accounting at the end.
struct Feed<'h> {
    host: &'h Host,
    sent: u64,
    ts: i64,
}

impl Feed<'_> {
    /// Send one reading of `device` to driver instance `driver`; returns its ts once acknowledged.
    fn send(&mut self, driver: &str, device: &str) -> i64 {
        self.ts += 1;
        let mut client = LineClient::connect(self.host.driver(driver));
        client.send(reading(device, "volume", self.ts, "\"1\"").as_bytes());
        let answer = client.answer().expect("an answer");
        assert_eq!(answer["ok"], true, "the driver acknowledges whatever the codec does later: {answer}");
        self.sent += 1;
        self.ts
    }

    /// Wait until every frame sent is applied; the counters of `source`.
    fn settled(&self, source: &str) -> Value {
        self.host.settled_stats(self.sent)["sources"][source].clone()
    }

    /// Send good readings to the crashy codec until one is archived (its
    /// backoff is over and a runner serves it); returns the runner's pid.
    fn healthy(&mut self) -> u32 {
        wait_for("the crashy codec serving again", APPLY_DEADLINE, || {
            let archived = self.settled("crashy-in")["archived"].as_u64();
            self.send("crashy-in", "good");
            (self.settled("crashy-in")["archived"].as_u64() > archived).then_some(())
        });
        pid(&instance(self.host, "crashy-in/codec")).expect("a running codec has a runner")
    }
}

/// The status of instance `name`.
fn instance(host: &Host, name: &str) -> Value {
    let status = host.get_ok("/api/v1/status");
    status["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == name)
        .unwrap_or_else(|| panic!("no instance {name}: {status}"))
        .clone()
}

fn pid(instance: &Value) -> Option<u32> {
    instance["pid"].as_u64().map(|p| u32::try_from(p).unwrap())
}

/// Whether process `pid` is alive (a zombie waiting for its reaper is not).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z')))
}

/// The quarantine reason of the frame holding `device`'s reading at `ts`, once there.
fn quarantine_reason(host: &Host, device: &str, ts: i64) -> String {
    wait_for(&format!("{device}@{ts} in quarantine"), APPLY_DEADLINE, || {
        let q = host.get_ok("/api/v1/quarantine?limit=100000");
        q.as_array()?.iter().find_map(|e| {
            let v: Value = serde_json::from_str(e["payload_text"].as_str()?).ok()?;
            (v["device"] == device && v["ts"] == ts).then(|| e["reason"].as_str().unwrap_or_default().to_owned())
        })
    })
}

#[test]
fn native_codec_crashes_kill_only_its_runner_and_are_quarantined_while_the_host_goes_on() {
    let (_root, mut host) = start("");
    let mut feed = Feed { host: &host, sent: 0, ts: TS };
    let host_pid = std::fs::read_to_string(host.data_dir().join("run.json")).unwrap();
    let host_pid: u32 = serde_json::from_str::<Value>(&host_pid).unwrap()["pid"].as_u64().unwrap() as u32;

    // Every native instance has a runner process of its own.
    let names = ["crashy-in/driver", "crashy-in/codec", "steady-in/driver", "steady-in/codec"];
    let pids: Vec<u32> =
        names.iter().map(|n| pid(&instance(&host, n)).unwrap_or_else(|| panic!("{n}: no pid"))).collect();
    let mut distinct = pids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 4, "{pids:?}");
    assert!(pids.iter().all(|&p| p != host_pid && alive(p)), "{pids:?}, host {host_pid}");

    let mut steady = 0;
    let crashes = [
        ("segv", "runner killed by signal SIGSEGV (11)"),
        ("abort", "runner killed by signal SIGABRT (6)"),
        ("exit", "runner exited with status 1"),
        ("loop", "call exceeded 2000 ms; runner killed"),
    ];
    for (failures, (device, cause)) in crashes.into_iter().enumerate() {
        let runner = feed.healthy();
        let ts = feed.send("crashy-in", device);
        let reason = quarantine_reason(&host, device, ts);
        assert_eq!(reason, format!("plugin crashy: {cause}"), "{device}");
        assert!(!alive(runner), "{device}: the crashed runner {runner} is gone and reaped");
        let codec = instance(&host, "crashy-in/codec");
        assert_eq!(codec["failures"].as_u64(), Some(failures as u64 + 1), "{codec}");
        assert_eq!(codec["last_error"].as_str(), Some(cause), "{codec}");
        assert_eq!(codec["state"], "BACKOFF", "{codec}");
        assert_eq!(pid(&codec), None, "no runner until the next call: {codec}");

        // The other driver instance ingests all the while.
        feed.send("steady-in", "steady");
        steady += 1;
        assert_eq!(feed.settled("steady-in")["archived"].as_u64(), Some(steady));

        // After the backoff the next frame gets a fresh runner.
        let fresh = feed.healthy();
        assert_ne!(fresh, runner, "{device}: a fresh runner");
        assert_eq!(instance(&host, "crashy-in/codec")["state"], "RUNNING");
    }

    // A panic is caught at the ABI boundary: a decode error, the runner lives on.
    let runner = feed.healthy();
    let ts = feed.send("crashy-in", "panic");
    assert_eq!(quarantine_reason(&host, "panic", ts), "codec panicked: crashy codec: panic on purpose");
    assert_eq!(pid(&instance(&host, "crashy-in/codec")), Some(runner));
    assert!(alive(runner));
    assert!(host.log().contains("crashy codec: panic on purpose"), "the runner's stderr reaches the host's log");

    // The fifth crash within the window quarantines the instance.
    let ts = feed.send("crashy-in", "segv");
    assert_eq!(quarantine_reason(&host, "segv", ts), "plugin crashy: runner killed by signal SIGSEGV (11)");
    let ts = feed.send("crashy-in", "good");
    let reason = quarantine_reason(&host, "good", ts);
    assert_eq!(
        reason,
        "plugin crashy: quarantined: 5 failures within 600 s, the last: runner killed by signal SIGSEGV (11)"
    );
    let codec = instance(&host, "crashy-in/codec");
    assert_eq!((codec["state"].as_str(), pid(&codec)), (Some("QUARANTINED"), None), "{codec}");
    let out = host.cli(&["status"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(" PID "), "{text}");
    let steady_codec = pid(&instance(&host, "steady-in/codec")).unwrap();
    assert!(
        text.lines().any(|l| l.starts_with("steady-in/codec (listener)") && l.contains(&format!(" {steady_codec} "))),
        "{text}"
    );
    assert!(text.lines().any(|l| l.starts_with("crashy-in/codec (crashy)") && l.contains("QUARANTINED")), "{text}");

    // The host never went down, the other source lost nothing, every frame is accounted for.
    assert_eq!(host.get_ok("/api/v1/health")["status"], "ok");
    feed.send("steady-in", "steady");
    steady += 1;
    let stats = host.settled_stats(feed.sent);
    let (crashy, steady_source) = (&stats["sources"]["crashy-in"], &stats["sources"]["steady-in"]);
    assert_eq!(steady_source["archived"].as_u64(), Some(steady), "{stats}");
    assert_eq!(steady_source["quarantined"], 0, "{stats}");
    // The crashes, the panic, the good frame after the quarantine, and any
    // good frame that met a backoff.
    assert!(crashy["quarantined"].as_u64() >= Some(crashes.len() as u64 + 3), "{stats}");
    assert_eq!(
        crashy["received"].as_u64(),
        Some(crashy["archived"].as_u64().unwrap() + crashy["quarantined"].as_u64().unwrap()),
        "{stats}"
    );
    assert_eq!(stats["total"]["received"].as_u64(), Some(feed.sent), "{stats}");

    // Runners do not outlive their host, even killed with SIGKILL.
    let runners: Vec<u32> = names[..].iter().filter_map(|n| pid(&instance(&host, n))).collect();
    assert_eq!(runners.len(), 3, "{runners:?}");
    host.kill();
    wait_for("every runner to end with its host", Duration::from_secs(10), || {
        runners.iter().all(|&p| !alive(p)).then_some(())
    });
}

#[test]
fn a_native_library_built_for_an_older_contract_is_refused_naming_the_version() {
    let root = tempfile::tempdir().unwrap();
    let plugins = root.path().join("plugins");
    copy_plugin(&plugins_dir("native").join("listener"), &plugins.join("listener"));
    copy_plugin(&test_plugins_dir("native").join("oldapi"), &plugins.join("oldapi"));
    // The listener is trusted here: in process, no runner.
    let host = Host::start_with(&config(&plugins, "\"listener\"").replace(
        "[drivers.crashy-in]\nplugin = \"listener\"\ncodec = \"crashy\"\ntransport = \"tcp\"\nlisten = \"127.0.0.1:0\"\n",
        "",
    ));

    let plugins_view = host.get_ok("/api/v1/plugins");
    let refused = plugins_view["refused"].as_array().unwrap();
    assert_eq!(refused.len(), 1, "{plugins_view}");
    assert!(refused[0]["path"].as_str().unwrap().ends_with("/oldapi/liboldapi.so"), "{plugins_view}");
    assert_eq!(
        refused[0]["cause"],
        format!("built for contract 0.9, this host speaks {API_VERSION_TEXT}"),
        "{plugins_view}"
    );
    let out = host.cli(&["plugins"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("REFUSED") && text.contains("liboldapi.so: built for contract 0.9"), "{text}");

    // A trusted native plugin runs in the host process: no pid of its own; it serves.
    let codec = instance(&host, "steady-in/codec");
    assert_eq!((codec["kind"].as_str(), pid(&codec)), (Some("native"), None), "{codec}");
    let mut feed = Feed { host: &host, sent: 0, ts: TS };
    feed.send("steady-in", "steady");
    assert_eq!(feed.settled("steady-in")["archived"], 1);
}
