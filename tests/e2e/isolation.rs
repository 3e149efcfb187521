//! A hostile codec (busy loop, trap, memory hog) never takes the host down:
//! each call is interrupted or trapped, the instance is renewed after a
//! backoff, and after repeated failures it is quarantined. The frames it was
//! decoding are quarantined with the reason, never lost, and decode once a
//! working codec is configured.

use std::time::{Duration, Instant};

use serde_json::Value;

use meterhub_testkit::{
    APPLY_DEADLINE, Host, LineClient, copy_plugin, http, plugins_dir, reading, test_plugins_dir, wait_for,
};

const TS: i64 = 1_763_719_200_000;

fn config(plugins: &std::path::Path, codec: &str) -> String {
    format!(
        r#"
[host]
data_dir = "data"
plugins_dir = "{plugins}"
wasm_memory_mib = 32
wasm_call_timeout_ms = 200
plugin_max_failures = 3
plugin_failure_window_ms = 600000
plugin_backoff_min_ms = 20
plugin_backoff_max_ms = 100
{compiled}
[api]
listen = "127.0.0.1:0"

[drivers.tcp-in]
plugin = "listener"
codec = "{codec}"
transport = "tcp"
listen = "127.0.0.1:0"
"#,
        plugins = plugins.display(),
        compiled = meterhub_testkit::shared_compiled_plugins_line()
    )
}

/// Send one reading and return once it is acknowledged.
fn send(host: &Host, device: &str, ts: i64) {
    let mut client = LineClient::connect(host.driver("tcp-in"));
    client.send(reading(device, "volume", ts, "\"1\"").as_bytes());
    let answer = client.answer().expect("an answer");
    assert_eq!(answer["ok"], true, "the driver acknowledges whatever its codec does later: {answer}");
}

/// The quarantine reason of the frame holding `device`'s reading at `ts`, once there.
fn quarantine_reason(host: &Host, device: &str, ts: i64) -> String {
    wait_for(&format!("{device}@{ts} in quarantine"), APPLY_DEADLINE, || {
        let q = host.get_ok("/api/v1/quarantine?limit=100000");
        q.as_array()?.iter().find_map(|e| {
            let text = e["payload_text"].as_str()?;
            let v: Value = serde_json::from_str(text).ok()?;
            (v["device"] == device && v["ts"] == ts).then(|| e["reason"].as_str().unwrap_or_default().to_owned())
        })
    })
}

fn archived(host: &Host, device: &str) -> usize {
    host.get_ok(&format!("/api/v1/readings?device={device}")).as_array().map_or(0, Vec::len)
}

#[test]
fn a_hostile_codec_is_interrupted_backed_off_and_quarantined_while_nothing_is_lost() {
    let root = tempfile::tempdir().unwrap();
    let plugins = root.path().join("plugins");
    copy_plugin(&plugins_dir("wasm").join("listener"), &plugins.join("listener"));
    copy_plugin(&test_plugins_dir("wasm").join("hostile"), &plugins.join("hostile"));
    let mut host = Host::start_with(&config(&plugins, "hostile"));

    send(&host, "good", TS);
    wait_for("the good reading archived", APPLY_DEADLINE, || (archived(&host, "good") == 1).then_some(()));

    // A runaway call is interrupted at its time limit.
    let started = Instant::now();
    send(&host, "loop", TS);
    let reason = quarantine_reason(&host, "loop", TS);
    let interrupted_after = started.elapsed();
    assert!(reason.contains("exceeded its time limit of 200 ms"), "{reason}");
    assert!(interrupted_after < Duration::from_secs(10), "{interrupted_after:?}");
    eprintln!("runaway codec call interrupted and its frame quarantined {interrupted_after:?} after the ack");

    // Traps and memory exhaustion: each frame is quarantined with the cause,
    // unless it met the backoff, or the instance is quarantined by now.
    for (i, device) in ["trap", "hog"].into_iter().enumerate() {
        let ts = TS + 1 + i as i64;
        send(&host, device, ts);
        let reason = quarantine_reason(&host, device, ts);
        assert!(
            reason.contains("trapped")
                || reason.contains("restarting after a failure")
                || reason.contains("quarantined"),
            "{device}: {reason}"
        );
    }

    // Failures go on until the instance is quarantined; every frame meanwhile
    // is kept in quarantine with a reason.
    let mut ts = TS + 100;
    let reason = wait_for("the codec instance quarantined", APPLY_DEADLINE, || {
        ts += 1;
        send(&host, "trap", ts);
        let reason = quarantine_reason(&host, "trap", ts);
        reason.contains("quarantined: 3 failures").then_some(reason)
    });
    assert!(reason.contains("plugin hostile"), "{reason}");
    send(&host, "good", TS + 1);
    assert!(quarantine_reason(&host, "good", TS + 1).contains("quarantined: 3 failures"));

    // Status and metrics say so.
    let status = host.get_ok("/api/v1/status");
    let codec =
        status["instances"].as_array().unwrap().iter().find(|i| i["name"] == "tcp-in/codec").expect("codec instance");
    assert_eq!(
        (codec["state"].as_str(), codec["plugin"].as_str(), codec["kind"].as_str()),
        (Some("QUARANTINED"), Some("hostile"), Some("wasm")),
        "{codec}"
    );
    assert!(codec["failures"].as_u64() >= Some(3), "{codec}");
    assert!(codec["last_error"].as_str().unwrap().contains("trapped"), "{codec}");
    let driver =
        status["instances"].as_array().unwrap().iter().find(|i| i["name"] == "tcp-in/driver").expect("driver instance");
    assert_eq!(driver["state"], "RUNNING", "{driver}");
    let (code, metrics) = http(host.api, "GET", "/metrics", b"");
    let metrics = String::from_utf8(metrics).unwrap();
    assert_eq!(code, 200);
    assert!(
        metrics.contains(
            "meterhub_plugin_instance_state{instance=\"tcp-in/codec\",plugin=\"hostile\",state=\"QUARANTINED\"} 1"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("meterhub_frames_total{source=\"tcp-in\",outcome=\"archived\"} 1"), "{metrics}");
    assert!(metrics.contains("meterhub_journal_commit_seconds_bucket{le=\"+Inf\"}"), "{metrics}");
    assert!(metrics.contains("meterhub_pipeline_backlog_records 0"), "{metrics}");
    let out = host.cli(&["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.lines().any(|l| l.starts_with("tcp-in/codec (hostile)") && l.contains("QUARANTINED")), "{text}");

    // The host never went down and the accounting holds.
    assert_eq!(host.get_ok("/api/v1/health")["status"], "ok");
    let stats = host.get_ok("/api/v1/stats");
    assert_eq!(stats["balanced"], true, "{stats}");
    let received = stats["total"]["received"].as_u64().unwrap();
    assert_eq!(stats["total"]["archived"], 1, "{stats}");
    assert_eq!(stats["total"]["quarantined"].as_u64(), Some(received - 1), "{stats}");

    // The operator restarts the quarantined instance: good frames decode again.
    let out = host.cli(&["restart", "tcp-in/codec"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    send(&host, "good", TS + 2);
    wait_for("the good reading after the restart archived", APPLY_DEADLINE, || {
        (archived(&host, "good") == 2).then_some(())
    });
    let status = host.get_ok("/api/v1/status");
    let codec = status["instances"].as_array().unwrap().iter().find(|i| i["name"] == "tcp-in/codec").unwrap().clone();
    assert_eq!(codec["state"], "RUNNING", "{codec}");
    let (code, _) = http(host.api, "POST", "/api/v1/instances/tcp-in/nope/restart", b"");
    assert_eq!(code, 404);

    // Stopped by the operator: frames are kept in quarantine until started.
    assert!(host.cli(&["stop", "tcp-in/codec"]).status.success());
    send(&host, "good", TS + 3);
    assert!(quarantine_reason(&host, "good", TS + 3).contains("stopped by the operator"));
    assert!(host.cli(&["start", "tcp-in/codec"]).status.success());
    let received = received + 2;

    // The fix: a working codec. Every kept frame decodes; nothing was lost.
    host.stop();
    std::fs::write(&host.config, config(&plugins, "listener")).unwrap();
    host.restart();
    let (status, report) = http(host.api, "POST", "/api/v1/redecode", b"\"quarantined\"");
    let report: Value = serde_json::from_slice(&report).unwrap();
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["still_quarantined"], 0, "{report}");
    let stats = host.settled_stats(received);
    assert_eq!(stats["total"]["quarantined"], 0, "{stats}");
    assert_eq!(stats["total"]["archived"].as_u64(), Some(received), "{stats}");
    assert_eq!(archived(&host, "good"), 4);
}
