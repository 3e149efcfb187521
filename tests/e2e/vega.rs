//! The Vega driver and codecs end to end: the real `meterhub` with the
//! `vega` driver and the `vega-codec` plugin against `meterhub sim vega`
//! (an IOT Vega Server emulator). Whatever happens to the host or the link,
//! once the emulator stops producing, the archive holds a reading stamped
//! with the device time of every data uplink the emulator generated, and
//! nothing else.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use meterhub_testkit::{APPLY_DEADLINE, Host, binary, host_tables, http, plugins_dir, wait_for};

/// A running emulator; killed on drop.
struct VegaSim {
    child: Child,
    url: String,
    control: SocketAddr,
}

impl VegaSim {
    fn start(args: &[&str]) -> VegaSim {
        let mut child = Command::new(binary())
            .args(["sim", "vega", "--listen", "127.0.0.1:0", "--control", "127.0.0.1:0", "--seed", "7"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the emulator");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut line = || lines.next().expect("an emulator line").expect("read");
        let url = line().strip_prefix("vega-sim websocket ").expect("websocket line").to_owned();
        let control = line()
            .strip_prefix("vega-sim control http://")
            .expect("control line")
            .trim_end_matches('/')
            .parse()
            .expect("address");
        VegaSim { child, url, control }
    }

    fn call(&self, method: &str, path: &str) -> Value {
        let (status, body) = http(self.control, method, path, b"");
        assert_eq!(status, 200, "{method} {path}: {}", String::from_utf8_lossy(&body));
        serde_json::from_slice(&body).expect("JSON")
    }

    fn stat(&self, name: &str) -> u64 {
        self.call("GET", "/stats")[name].as_u64().unwrap_or_else(|| panic!("stat {name}"))
    }

    /// Device time (ms) of every data uplink, by DevEUI.
    fn uplink_times(&self) -> BTreeMap<String, BTreeSet<i64>> {
        let mut times: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
        for u in self.call("GET", "/uplinks").as_array().expect("uplinks") {
            if u["port"] == 2 {
                let dev = u["devEui"].as_str().expect("devEui").to_ascii_uppercase();
                times.entry(dev).or_default().insert(u["device_time"].as_i64().expect("device_time") * 1000);
            }
        }
        times
    }
}

impl Drop for VegaSim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The host's config: the `vega` driver on the emulator, decoded by
/// `vega-codec`; devices whose AppEUI names no model (the Betar meters)
/// get theirs in `codec_settings`, as an operator would write it.
fn config(sim: &VegaSim, password: &str) -> String {
    let url = &sim.url;
    let mut models = String::new();
    for d in sim.call("GET", "/devices").as_array().expect("devices") {
        if d["appEui"] == "0000000000000000" {
            models += &format!(
                "\"{}\" = {{ model = \"{}\" }}\n",
                d["devEui"].as_str().unwrap(),
                d["model"].as_str().unwrap()
            );
        }
    }
    host_tables(&plugins_dir("wasm"))
        + &format!(
            r#"
[log]
level = "info"

[drivers.vega]
plugin = "vega"
codec = "vega-codec"
transport = "websocket"
url = "{url}"
reconnect_min_ms = 200
reconnect_max_ms = 2000
idle_timeout_ms = 1500
[drivers.vega.settings]
login = "root"
password = "{password}"
ping_interval_ms = 500
[drivers.vega.codec_settings.devices]
{models}"#
        )
}

/// Device times (ms) of the archived readings, by module (the DevEUI before
/// any `.input` suffix of the meter id).
fn archived_times(host: &Host) -> BTreeMap<String, BTreeSet<i64>> {
    let readings = host.get_ok("/api/v1/readings?limit=100000");
    let mut times: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    for r in readings.as_array().expect("readings") {
        let module = r["device"].as_str().expect("device").split('.').next().unwrap_or_default().to_owned();
        times.entry(module).or_default().insert(r["ts_ms"].as_i64().expect("ts"));
    }
    times
}

/// Stop the emulator's traffic and wait until the archive holds exactly the
/// uplinks it generated, with balanced counters and no conflict.
fn assert_every_uplink_archived_once(host: &Host, sim: &VegaSim) -> usize {
    sim.call("POST", "/pause");
    let expected = sim.uplink_times();
    let total: usize = expected.values().map(BTreeSet::len).sum();
    let deadline = Instant::now() + APPLY_DEADLINE;
    let mut archived = archived_times(host);
    while archived != expected && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        archived = archived_times(host);
    }
    for (dev, times) in &expected {
        let got = archived.get(dev).cloned().unwrap_or_default();
        let missing: Vec<_> = times.difference(&got).collect();
        let extra: Vec<_> = got.difference(times).collect();
        assert!(missing.is_empty() && extra.is_empty(), "{dev}: missing {missing:?}, extra {extra:?}\n{}", host.log());
    }
    assert_eq!(archived.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>());
    let stats = wait_for("balanced counters", APPLY_DEADLINE, || {
        let stats = host.get_ok("/api/v1/stats");
        (stats["balanced"] == true).then_some(stats)
    });
    assert_eq!(stats["sources"]["vega"]["readings_conflict"], 0, "{stats}");
    let quarantine = host.get_ok("/api/v1/quarantine");
    assert_eq!(stats["sources"]["vega"]["quarantined"], 0, "{quarantine}");
    total
}

fn wait_uplinks(sim: &VegaSim, at_least: u64) {
    wait_for("emulator uplinks", APPLY_DEADLINE, || (sim.stat("data_uplinks") >= at_least).then_some(()));
}

#[test]
fn live_and_back_filled_uplinks_are_decoded_and_archived() {
    let sim = VegaSim::start(&[
        "--devices",
        "8",
        "--interval-ms",
        "1000",
        "--history-hours",
        "3",
        "--history-interval-min",
        "30",
        "--frame-mode",
        "mixed",
        "--drift-every",
        "4",
    ]);
    let host = Host::start_with(&config(&sim, "123"));
    let before = sim.stat("data_uplinks");
    wait_uplinks(&sim, before + 24);
    let total = assert_every_uplink_archived_once(&host, &sim);
    assert!(total >= 8 * 6 + 24, "history and live uplinks: {total}");

    // Every model decodes to readings with units; the module telemetry is kept.
    let devices = sim.call("GET", "/devices");
    let gm2 = devices.as_array().unwrap().iter().find(|d| d["model"] == "GM-2").expect("a GM-2");
    let dev = gm2["devEui"].as_str().unwrap().to_ascii_uppercase();
    let latest = host.get_ok(&format!("/api/v1/devices/{dev}/latest"));
    let volume = latest["readings"].as_array().unwrap().iter().find(|r| r["channel"] == "volume").expect("volume");
    assert_eq!(volume["unit"], "m3", "{latest}");
    assert!(latest["telemetry"]["rssi_dbm"].is_i64(), "{latest}");

    // Every device is a module, heard, with its meters linked and no uplink lost.
    let modules = host.get_ok("/api/v1/modules");
    let list = modules["modules"].as_array().expect("modules");
    assert_eq!(list.len(), devices.as_array().unwrap().len(), "{modules:#}");
    // On air: fresh, late when this machine is slow, or with a clock ahead
    // (the emulator runs some device clocks ten minutes fast until the
    // driver corrects them); never silent.
    let on_air = |state: &serde_json::Value| ["fresh", "late", "clock_ahead"].iter().any(|s| state == s);
    let counts = &modules["counts"];
    let heard: u64 = ["fresh", "late", "clock_ahead"].iter().map(|s| counts[s].as_u64().unwrap_or(0)).sum();
    assert_eq!(heard, list.len() as u64, "{modules:#}");
    for d in devices.as_array().unwrap() {
        let dev = d["devEui"].as_str().unwrap().to_ascii_uppercase();
        let m =
            list.iter().find(|m| m["module"] == dev.as_str()).unwrap_or_else(|| panic!("module {dev}: {modules:#}"));
        assert!(m["lost_uplinks"].as_u64() == Some(0) && on_air(&m["state"]), "{m:#}");
        assert!(m["rssi_dbm"].is_i64() && m["period_ms"].is_i64(), "{m:#}");
        if d["model"] == "SI-12" {
            assert!(m["battery_pct"].is_u64(), "a battery device: {m:#}");
            let meters: Vec<&str> = m["meters"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
            assert!(meters.contains(&format!("{dev}.2").as_str()), "{m:#}");
        }
    }

    // The registry knows each meter's model, as the codec decoded it.
    let gm2_meter = wait_for("the GM-2 meter registered with its model", APPLY_DEADLINE, || {
        let (status, body) = http(host.api, "GET", &format!("/api/v1/meters/{dev}"), b"");
        let meter: serde_json::Value = serde_json::from_slice(&body).ok()?;
        (status == 200 && !meter["model"].is_null()).then_some(meter)
    });
    assert_eq!(gm2_meter["model"], "GM-2", "{gm2_meter:#}");

    // An operator's expected period overrides the learned one, and can be cleared.
    let module = list[0]["module"].as_str().expect("an id").to_owned();
    let path = format!("/api/v1/modules/{module}");
    let (status, body) = http(host.api, "PATCH", &path, br#"{"actor":"e2e","expected_period_s":3600}"#);
    let answer: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!((status, answer["expected_period_ms"].as_i64()), (200, Some(3_600_000)), "{answer}");
    let listed = host.get_ok("/api/v1/modules");
    let m = listed["modules"].as_array().unwrap().iter().find(|m| m["module"] == module.as_str()).expect("listed");
    assert_eq!(m["expected_period_ms"], 3_600_000);
    let (status, body) = http(host.api, "PATCH", &path, br#"{"actor":"e2e","expected_period_s":0}"#);
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    let (status, _) = http(host.api, "PATCH", "/api/v1/modules/NOPE", br#"{"actor":"e2e","expected_period_s":60}"#);
    assert_eq!(status, 404);
    let (status, body) = http(host.api, "PATCH", &path, br#"{"actor":"e2e","expected_period_s":null}"#);
    let answer: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!((status, answer["expected_period_ms"].is_null()), (200, true), "{answer}");
}

#[test]
fn sigkill_while_the_server_keeps_producing_then_back_fill_leaves_every_uplink_once() {
    let sim = VegaSim::start(&["--devices", "6", "--interval-ms", "1000", "--frame-mode", "mixed"]);
    let mut host = Host::start_with(&config(&sim, "123"));
    wait_uplinks(&sim, 12);
    wait_for("some uplinks archived", APPLY_DEADLINE, || (!archived_times(&host).is_empty()).then_some(()));
    host.kill();
    let at_kill = sim.stat("data_uplinks");
    wait_uplinks(&sim, at_kill + 12);
    host.restart();
    let requests = sim.stat("get_data_requests");
    wait_uplinks(&sim, sim.stat("data_uplinks") + 6);
    assert_every_uplink_archived_once(&host, &sim);
    assert!(sim.stat("get_data_requests") >= requests, "the restarted host back-filled");
}

#[test]
fn clocks_are_corrected_and_a_dropped_or_stalled_link_is_reconnected_and_back_filled() {
    let sim = VegaSim::start(&["--devices", "6", "--interval-ms", "1000", "--paused", "--drift-every", "4"]);
    let host = Host::start_with(&config(&sim, "123"));
    wait_for("authenticated", APPLY_DEADLINE, || (sim.stat("sessions_authenticated") >= 1).then_some(()));
    sim.call("POST", "/resume");
    wait_uplinks(&sim, 6);
    // The first live uplinks carry time packets: the drifting device gets a
    // correction of its 600 s.
    let stats = wait_for("a time correction", APPLY_DEADLINE, || {
        let stats = sim.call("GET", "/stats");
        (!stats["downlinks"].as_array().unwrap().is_empty()).then_some(stats)
    });
    let corrections: Vec<i64> =
        stats["downlinks"].as_array().unwrap().iter().filter_map(|d| d["correction_s"].as_i64()).collect();
    assert!(corrections.iter().any(|c| (c + 600).abs() <= 2), "downlinks: {}", stats["downlinks"]);
    for _ in 0..2 {
        let connections = sim.stat("connections_total");
        sim.call("POST", "/fault/drop");
        let n = sim.stat("data_uplinks");
        wait_uplinks(&sim, n + 6);
        wait_for("a new connection", APPLY_DEADLINE, || (sim.stat("connections_total") > connections).then_some(()));
    }
    // A stall longer than idle_timeout_ms: the host finds the link dead.
    let connections = sim.stat("connections_total");
    sim.call("POST", "/fault/stall?ms=4000");
    wait_for("a reconnect after the stall", APPLY_DEADLINE, || {
        (sim.stat("connections_total") > connections).then_some(())
    });
    assert!(host.log().contains("the link is dead"), "{}", host.log());
    assert_every_uplink_archived_once(&host, &sim);
}

#[test]
fn bad_credentials_give_a_clear_error_and_a_backoff_and_the_host_goes_on() {
    let sim = VegaSim::start(&["--devices", "2", "--interval-ms", "1000"]);
    let host = Host::start_with(&config(&sim, "wrong"));
    wait_for("a refused login", APPLY_DEADLINE, || (sim.stat("auth_failed") >= 1).then_some(()));
    let first = Instant::now();
    wait_for("four refused logins", APPLY_DEADLINE, || (sim.stat("auth_failed") >= 4).then_some(()));
    // Backoff from 200 ms, doubling: at least 200 + 400 + 800 ms between the 1st and 4th attempt.
    assert!(first.elapsed() >= Duration::from_millis(1400), "retried too fast: {:?}", first.elapsed());
    let log = host.log();
    assert!(
        log.contains("the IOT Vega Server refused the login of user \\\"root\\\"")
            || log.contains("refused the login of user \"root\""),
        "{log}"
    );
    assert_eq!(host.get("/api/v1/health").0, 200);
    assert_eq!(sim.stat("auth_ok"), 0);
}

#[test]
fn garbage_from_the_server_is_rejected_with_reasons_and_counted_and_traffic_goes_on() {
    let sim = VegaSim::start(&["--devices", "4", "--interval-ms", "1000"]);
    let host = Host::start_with(&config(&sim, "123"));
    wait_uplinks(&sim, 4);
    wait_for("authenticated", APPLY_DEADLINE, || (sim.stat("sessions_authenticated") >= 1).then_some(()));
    sim.call("POST", "/fault/garbage");
    let rejections = wait_for("rejections", APPLY_DEADLINE, || {
        let r = host.get_ok("/api/v1/rejections?source=vega");
        let list = r.as_array().cloned().unwrap_or_default();
        (list.len() >= 5).then_some(list)
    });
    let reasons: Vec<String> = rejections.iter().map(|r| r["reason"].as_str().unwrap_or_default().to_owned()).collect();
    for expected in ["not JSON", "devEui", "unknown IOT Vega Server command"] {
        assert!(reasons.iter().any(|r| r.contains(expected)), "no reason with {expected:?}: {reasons:?}");
    }
    let n = sim.stat("data_uplinks");
    wait_uplinks(&sim, n + 4);
    assert_every_uplink_archived_once(&host, &sim);
    let stats = host.get_ok("/api/v1/stats");
    assert!(stats["sources"]["vega"]["rejected"].as_u64().unwrap() >= 5, "{stats}");
}

/// An Elvaco CMi4110 (the LoRaWAN module of a Landis+Gyr UltraHeat heat
/// meter), Standard format: 894135 kWh, 26015.95 m3, 22.4 kW, 0.651 m3/h,
/// 80.7 / 50.7 degC, no errors (a published uplink of meter 70969798).
const CMI4110: &str = "94193A0301000001";
const CMI4110_PAYLOAD: &str = "000c06354189000c14951560020b2d2402000b3b5106000a5a07080a5e07050c789897967002fd170000";

#[test]
fn another_vendors_heat_meter_behind_the_vega_server_decodes_with_the_codec_its_route_names() {
    let sim = VegaSim::start(&["--devices", "2", "--interval-ms", "1000", "--paused"]);
    let route = format!("\n[[drivers.vega.devices]]\ndeveui = \"{CMI4110}\"\ncodec = \"elvaco-codec\"\n");
    let host = Host::start_with(&(config(&sim, "123") + &route));
    wait_for("authenticated", APPLY_DEADLINE, || (sim.stat("sessions_authenticated") >= 1).then_some(()));
    let sent = sim.call("POST", &format!("/inject?devEui={CMI4110}&port=2&fcnt=5&data={CMI4110_PAYLOAD}"));
    assert_eq!(sent["sessions"], 1, "{sent}");
    let latest = wait_for("the heat meter's readings", APPLY_DEADLINE, || {
        let (status, body) = http(host.api, "GET", &format!("/api/v1/devices/{CMI4110}/latest"), b"");
        let latest: Value = serde_json::from_slice(&body).ok()?;
        (status == 200 && latest["readings"].as_array()?.len() >= 7).then_some(latest)
    });
    let value = |channel: &str| {
        let r = latest["readings"].as_array().unwrap().iter().find(|r| r["channel"] == channel);
        r.map(|r| (r["value"].as_str().unwrap().to_owned(), r["unit"].as_str().unwrap().to_owned()))
    };
    assert_eq!(value("energy"), Some(("894135".into(), "kWh".into())), "{latest:#}");
    assert_eq!(value("volume"), Some(("26015.95".into(), "m3".into())), "{latest:#}");
    assert_eq!(value("flow-temperature"), Some(("80.7".into(), "degC".into())), "{latest:#}");
    // The Vega devices still decode with the instance's own codec.
    sim.call("POST", "/generate?count=2");
    wait_for("the Vega devices' readings", APPLY_DEADLINE, || {
        let stats = host.get_ok("/api/v1/stats");
        (stats["sources"]["vega"]["archived"].as_u64()? >= 3).then_some(())
    });
    assert_eq!(host.get_ok("/api/v1/stats")["sources"]["vega"]["quarantined"], 0);
}
