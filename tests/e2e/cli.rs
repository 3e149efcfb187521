//! `meterhub check`: every problem named with `file:line:col`, non-zero exit.

use std::process::Command;

use crate::harness::{binary, default_config, plugins_dir};

fn check(config: &str) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.toml");
    std::fs::write(&path, config).unwrap();
    let out = Command::new(binary()).args(["check", "-c"]).arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).replace(&path.display().to_string(), "CONFIG");
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
}

#[test]
fn a_valid_config_checks_clean() {
    let (code, stdout, stderr) = check(&default_config(&plugins_dir("wasm")));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("ok (2 driver instance(s), ") && stdout.contains(" plugin(s) loaded"), "{stdout}");
}

#[test]
fn check_names_file_line_and_column_for_each_problem() {
    let good = default_config(&plugins_dir("wasm"));
    let cases = [
        (good.replace("[log]", "[log\n"), "CONFIG:9:5: unclosed table"),
        (
            good.replace("transport = \"tcp\"", "transport = \"tcp\"\nmax_body_bytes = 5"),
            "CONFIG:15:18: `max_body_bytes` does not apply",
        ),
        (
            good.replace("plugin = \"listener\"\ntransport = \"tcp\"", "plugin = \"lisener\"\ntransport = \"tcp\""),
            "CONFIG:13:10: plugin \"lisener\" is not in the plugins folder",
        ),
        (good.replace("level = \"info\"", "level = \"info\"\ncolour = true"), "CONFIG:11:1: unknown field `colour`"),
        (
            good + "[drivers.http-in.settings]\nmax_line_bytes = \"big\"\n",
            "CONFIG:22:1: plugin \"listener\": settings refused: setting \"max_line_bytes\"",
        ),
    ];
    for (config, want) in cases {
        let (code, _, stderr) = check(&config);
        assert_eq!(code, Some(2), "{want}: {stderr}");
        assert!(stderr.contains(want), "want {want:?} in:\n{stderr}");
    }
}

#[test]
fn logs_are_json_on_request() {
    let mut host =
        crate::harness::Host::start_with_args(&default_config(&plugins_dir("wasm")), &["--log-format", "json"]);
    host.stop();
    let log = host.log();
    let events: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("log line {l:?} is not JSON: {e}")))
        .collect();
    let started = events.iter().find(|e| e["message"] == "driver started").expect("a driver started event");
    assert_eq!(started["driver"], "http-in", "{started}");
    assert!(started["address"].as_str().unwrap().starts_with("127.0.0.1:"), "{started}");
    assert!(events.iter().any(|e| e["message"] == "stopped"), "{log}");
}
