//! Live configuration reload: changes apply while readings flow, unchanged
//! listeners keep accepting, invalid changes never take effect, editors'
//! save patterns give one reload, and rollback returns to the last good one.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::load::{Writer, assert_every_acked_reading_stored_once};
use meterhub_testkit::{Host, LineClient, START_DEADLINE, host_tables, http, now_ms, plugins_dir, reading, wait_for};

const RELOADS: usize = 20;

fn config(plugins: &Path, max_line_bytes: u64, extra: bool) -> String {
    let mut text = host_tables(plugins)
        + &format!(
            r#"
[drivers.tcp-in]
plugin = "listener"
transport = "tcp"
listen = "127.0.0.1:0"

[drivers.tcp-in.settings]
max_line_bytes = {max_line_bytes}
"#
        );
    if extra {
        text.push_str("\n[drivers.extra]\nplugin = \"listener\"\ntransport = \"http\"\nlisten = \"127.0.0.1:0\"\n");
    }
    text
}

#[test]
fn twenty_reloads_during_ingest_lose_nothing_duplicate_nothing_and_never_refuse_a_connection() {
    let plugins = plugins_dir("wasm");
    let mut host = Host::start_with(&config(&plugins, 65536, false));
    assert_eq!(host.config_status()["generation"], 1, "the start is the first change");
    let addr = host.driver("tcp-in");
    let writer = Writer::spawn(addr, "meter-1");
    wait_for("the first acknowledgements", Duration::from_secs(20), || (writer.acked() > 50).then_some(()));

    let mut apply_ms = Vec::new();
    for k in 1..=RELOADS {
        // Odd: only the other driver changes (tcp-in keeps its instance);
        // even: tcp-in's settings change (new instance behind the same listener).
        let text = config(&plugins, 65536 + (k as u64 / 2), k % 2 == 1);
        std::fs::write(&host.config, text).unwrap();
        let status = host.wait_generation(1 + k as u64);
        assert!(status["last_error"].is_null(), "reload {k} refused: {status}");
        apply_ms.push(status["last_applied"]["apply_ms"].as_f64().unwrap());
        host.refresh_drivers();
        assert_eq!(host.driver("tcp-in"), addr, "reload {k}: the unchanged listener keeps its address");
        assert_eq!(host.drivers.contains_key("extra"), k % 2 == 1, "reload {k}: {:?}", host.drivers);
        let before = writer.acked();
        wait_for("readings after the reload", Duration::from_secs(20), || (writer.acked() > before + 20).then_some(()));
    }
    let outcome = writer.stop();
    assert_eq!(outcome.refused, 0, "the unchanged listener refused connections during reloads: {outcome:?}");
    assert!(outcome.reconnects >= 1, "settings changes drained the sessions of the old instance: {outcome:?}");

    assert_every_acked_reading_stored_once(&host, "tcp-in", "meter-1", &outcome.acked);
    apply_ms.sort_by(f64::total_cmp);
    eprintln!(
        "reload: {} readings acknowledged over {RELOADS} reloads, {} reconnects, {} resent; apply ms p50 {:.2} max {:.2}",
        outcome.acked.len(),
        outcome.reconnects,
        outcome.resent,
        apply_ms[apply_ms.len() / 2],
        apply_ms[apply_ms.len() - 1]
    );
}

/// Write `text` to the config and wait for the refusal; returns its errors.
fn refused(host: &Host, text: &str) -> Vec<String> {
    let since = now_ms();
    std::fs::write(&host.config, text).unwrap();
    host.wait_refusal(since)
}

#[test]
fn an_invalid_change_never_takes_effect_and_names_file_line_and_column() {
    let plugins = plugins_dir("wasm");
    let good = config(&plugins, 65536, true);
    let mut host = Host::start_with(&good);
    let file = host.config.display().to_string();

    // Syntax, unknown key, missing plugin, restart-only key, port taken.
    let errors = refused(&host, &good.replace("[drivers.extra]", "[drivers.extra"));
    assert!(errors[0].starts_with(&format!("{file}:")), "{errors:?}");
    let errors = refused(&host, &good.replace("transport = \"http\"", "transport = \"http\"\nlisten_port = 1"));
    assert!(errors[0].contains("unknown field `listen_port`"), "{errors:?}");
    let missing = good.replace("[drivers.extra]\nplugin = \"listener\"", "[drivers.extra]\nplugin = \"no-such\"");
    let errors = refused(&host, &missing);
    let line = missing.lines().position(|l| l == "plugin = \"no-such\"").unwrap() + 1;
    assert!(
        errors[0].starts_with(&format!("{file}:{line}:10: plugin \"no-such\" is not in the plugins folder")),
        "{errors:?}"
    );
    let errors = refused(&host, &good.replace("data_dir = \"data\"", "data_dir = \"elsewhere\""));
    assert!(errors[0].starts_with(&format!("{file}:3:12: `host.data_dir` changed")), "{errors:?}");
    assert!(errors[0].contains("takes effect only when meterhub restarts"), "{errors:?}");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let busy = good.replace(
        "transport = \"http\"\nlisten = \"127.0.0.1:0\"",
        &format!("transport = \"http\"\nlisten = \"127.0.0.1:{port}\""),
    );
    let errors = refused(&host, &busy);
    assert!(errors[0].contains(&format!("cannot listen on 127.0.0.1:{port}")), "{errors:?}");

    // Nothing took effect: the first config runs, and takes readings.
    let status = host.config_status();
    assert_eq!(status["generation"], 1, "{status}");
    let mut client = LineClient::connect(host.driver("tcp-in"));
    client.send(reading("m", "volume", 1_763_719_200_000, "1").as_bytes());
    assert_eq!(client.answer().unwrap()["ok"], true);
    let (code, _) = http(host.driver("extra"), "POST", "/", b"[]");
    assert_eq!(code, 200, "the extra driver still runs");

    // The status command and the API say what was refused.
    let out = host.cli(&["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        text.contains("LAST CHANGE REFUSED") && text.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{text}"
    );

    // Rollback puts the running config back into the file; the host reloads it.
    let out = host.cli(&["config", "rollback"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("restored the last good configuration"));
    assert_eq!(std::fs::read_to_string(&host.config).unwrap(), good);
    let status = host.wait_generation(2);
    assert!(status["last_error"].is_null(), "{status}");
    drop(taken);

    // A good change, then rollback to the one before it.
    let smaller = config(&plugins, 65536, false);
    std::fs::write(&host.config, &smaller).unwrap();
    host.wait_generation(3);
    host.refresh_drivers();
    assert!(!host.drivers.contains_key("extra"));
    let out = host.cli(&["config", "rollback"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("before the last change"), "{out:?}");
    host.wait_generation(4);
    host.refresh_drivers();
    assert!(host.drivers.contains_key("extra"), "rolled back to the config with the extra driver");
}

/// Write the file again with the content it has and wait until the host has
/// looked at that write: every change on disk before it has been handled by
/// then (the watcher hands them over in order), so a reload they would cause
/// has happened. Returns the config status.
fn after_a_settled_touch(host: &Host) -> Value {
    let checks = host.config_status()["checks"].as_u64().expect("checks");
    let text = std::fs::read(&host.config).unwrap();
    std::fs::write(&host.config, text).unwrap();
    wait_for("the host to look at the touched file", START_DEADLINE, || {
        let status = host.config_status();
        (status["checks"].as_u64() > Some(checks)).then_some(status)
    })
}

/// Apply `save` and check it gave exactly one reload, with the final content.
fn one_reload(host: &mut Host, what: &str, save: impl FnOnce(&Path), generation: u64, expect_extra: bool) {
    save(&host.config);
    host.wait_generation(generation);
    // Nothing more comes: whatever else `save` caused has been handled once
    // the host has looked at a later write.
    let status = after_a_settled_touch(host);
    assert_eq!(status["generation"], generation, "{what}: exactly one reload: {status}");
    host.refresh_drivers();
    assert_eq!(host.drivers.contains_key("extra"), expect_extra, "{what}: the final content applies");
}

#[test]
fn editor_save_patterns_give_exactly_one_reload_with_the_final_content() {
    let plugins = plugins_dir("wasm");
    let (with, without) = (config(&plugins, 65536, true), config(&plugins, 65536, false));
    let mut host = Host::start_with(&without);
    one_reload(&mut host, "write in place", |p| std::fs::write(p, &with).unwrap(), 2, true);
    one_reload(
        &mut host,
        "temp + rename",
        |p| {
            let tmp = p.with_extension("toml.swp");
            std::fs::write(&tmp, &without).unwrap();
            std::fs::rename(&tmp, p).unwrap();
        },
        3,
        false,
    );
    one_reload(
        &mut host,
        "delete + recreate",
        |p| {
            std::fs::remove_file(p).unwrap();
            std::fs::write(p, &with).unwrap();
        },
        4,
        true,
    );
    one_reload(
        &mut host,
        "a burst of writes",
        |p| {
            for i in 0..30 {
                std::fs::write(p, if i % 2 == 0 { &with } else { &without }).unwrap();
            }
        },
        5,
        false,
    );
    // Touching the file without changing it is no reload.
    let before: Value = host.config_status();
    let after = after_a_settled_touch(&host);
    assert_eq!(after["generation"], before["generation"], "{after}");
}
