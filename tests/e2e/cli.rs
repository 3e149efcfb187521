//! `meterhub check`: every problem named with `file:line:col`, non-zero exit;
//! `meterhub codec decode`: a payload's fields, readings and telemetry.

use std::process::Command;

use meterhub_testkit::{binary, default_config, plugins_dir};

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
        (good.replace("[log]", "[log\n"), "CONFIG:10:5: unclosed table"),
        (
            good.replace("transport = \"tcp\"", "transport = \"tcp\"\nmax_body_bytes = 5"),
            "CONFIG:16:18: `max_body_bytes` does not apply",
        ),
        (
            good.replace("plugin = \"listener\"\ntransport = \"tcp\"", "plugin = \"lisener\"\ntransport = \"tcp\""),
            "CONFIG:14:10: plugin \"lisener\" is not in the plugins folder",
        ),
        (good.replace("level = \"info\"", "level = \"info\"\ncolour = true"), "CONFIG:12:1: unknown field `colour`"),
        (
            good + "[drivers.http-in.settings]\nmax_line_bytes = \"big\"\n",
            "CONFIG:23:1: plugin \"listener\": settings refused: setting \"max_line_bytes\"",
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
        meterhub_testkit::Host::start_with_args(&default_config(&plugins_dir("wasm")), &["--log-format", "json"]);
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

/// `meterhub codec decode` against the built plugins: (exit code, stdout JSON, stderr).
fn decode(args: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.toml");
    std::fs::write(&path, default_config(&plugins_dir("wasm"))).unwrap();
    let out = Command::new(binary()).args(["codec", "decode", "-c"]).arg(&path).args(args).output().unwrap();
    let stdout = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code(), stdout, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn codec_decode_prints_fields_readings_and_telemetry_and_names_refusals() {
    // The SI-12 "current values" vector (PROTOCOLS.md vectors), model from its AppEUI.
    const HEX: &str = "01001ce75128621c00000000000000000000000000000000";
    const BASE64: &str = "AQAc51EoYhwAAAAAAAAAAAAAAAAAAAAA";
    let common =
        ["--plugin", "vega-codec", "--fport", "2", "--appeui", "7665676173693132", "--deveui", "3632333364374F18"];
    let (code, out, err) = decode(&[&common[..], &["--hex", HEX]].concat());
    assert_eq!(code, Some(0), "{err}");
    let fields = &out["fields"];
    assert_eq!((fields["type"].as_str(), fields["model"].as_str()), (Some("currentValues"), Some("SI-12")), "{out:#}");
    assert_eq!((fields["time"].as_i64(), fields["temperature"].as_i64()), (Some(1_646_809_575), Some(28)), "{out:#}");
    assert_eq!(fields["currentSettings"]["input1Mode"], "guard", "{out:#}");
    let readings = out["readings"].as_array().expect("readings");
    let pulses: Vec<&str> =
        readings.iter().filter(|r| r["channel"] == "pulses").map(|r| r["device"].as_str().unwrap()).collect();
    assert_eq!(pulses, ["3632333364374F18.2", "3632333364374F18.3", "3632333364374F18.4"], "{out:#}");
    assert!(readings.iter().all(|r| r["ts_ms"] == 1_646_809_575_000_i64), "device time: {out:#}");
    assert_eq!(out["telemetry"][0]["module"], "3632333364374F18", "{out:#}");
    let (code, same, err) = decode(&[&common[..], &["--base64", BASE64]].concat());
    assert_eq!((code, &same), (Some(0), &out), "base64 gives the same: {err}");

    // A payload the codec refuses: exit 1 and the reason.
    let (code, out, err) =
        decode(&["--plugin", "vega-codec", "--fport", "2", "--model", "gm2", "--hex", "010203040506"]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(out["quarantined"], "GM-2 fPort 2 (current values): 6 bytes, expected 21", "{out:#}");

    // No such plugin, bad hex: exit 2 with the cause.
    let (code, _, err) = decode(&["--plugin", "nope", "--hex", "00"]);
    assert_eq!(code, Some(2));
    assert!(err.contains(r#"plugin "nope" is not in the plugins folder"#) && err.contains("vega-codec"), "{err}");
    let (code, _, err) = decode(&["--plugin", "vega-codec", "--hex", "0g"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--hex"), "{err}");
}

#[test]
fn a_printing_command_whose_reader_went_away_ends_quietly() {
    // `meterhub codec decode ... | head -3` once panicked with exit code 101.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.toml");
    std::fs::write(&path, default_config(&plugins_dir("wasm"))).unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(binary())
        .args(["codec", "decode", "-c"])
        .arg(&path)
        .args(["--plugin", "vega-codec", "--fport", "2", "--model", "SI-12"])
        .args(["--hex", "01001ce75128621c00000000000000000000000000000000"])
        .stdout(std::process::Stdio::from(writer))
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{err}");
}
