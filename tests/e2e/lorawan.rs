//! LoRaWAN network servers in: ChirpStack and The Things Stack push their
//! events to the `lw640` driver over HTTP; each device decodes with the
//! codec its route names, whatever server carried it.

use base64::Engine;
use meterhub_testkit::{APPLY_DEADLINE, Host, host_tables, plugins_dir, request, wait_for};
use serde_json::{Value, json};

/// A Vega SI-12 (its AppEUI names no model: the route does).
const SI12: &str = "3632333364374F18";
/// A meter no route takes, until one is added.
const STRANGER: &str = "70B3D5E75E000001";
/// SI-12 current values (fPort 2): 2022-03-09 07:06:15 UTC, 28 °C, inputs 0.
const SI12_PAYLOAD: &str = "01001ce75128621c00000000000000000000000000000000";
/// An hour later, input 2 at 5 pulses.
const SI12_LATER: &str = "01001cf75f28621c00000000050000000000000000000000";
const TOKEN: &str = "Bearer s3cret";
/// A meter the network server decodes itself (its `object`).
const DECODED: &str = "70B3D5E75E0000D0";
/// Its route: readings from the server's decoded payload.
const DECODED_ROUTE: &str = "[[drivers.lns.devices]]\ndeveui = \"70B3D5E75E0000D0\"\n\
    [drivers.lns.devices.channels]\nvolume = { field = \"meter.volume\", unit = \"m3\" }\n\
    temperature = { field = \"temperature\", unit = \"degC\", kind = \"instantaneous\" }\n";

fn config(routes: &str) -> String {
    let transport =
        format!("transport = \"http\"\nlisten = \"127.0.0.1:0\"\n[drivers.lns.settings]\nauth_token = \"{TOKEN}\"");
    config_with(&transport, routes)
}

/// `transport` (its keys and settings) with the SI-12 routed to vega-codec.
fn config_with(transport: &str, routes: &str) -> String {
    host_tables(&plugins_dir("wasm"))
        + &format!(
            "\n[drivers.lns]\nplugin = \"lw640\"\n{transport}\n\n\
             [[drivers.lns.devices]]\ndeveui = \"{SI12}\"\ncodec = \"vega-codec\"\nmodel = \"SI-12\"\n{routes}"
        )
}

fn base64(hex: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(meterhub_plugin_api::hex::decode(hex).unwrap())
}

/// A ChirpStack v4 `up` event, as its HTTP integration posts it.
fn chirpstack_up(dev_eui: &str, fcnt: u32, hex: &str, gateways: &[(&str, i32, f64)]) -> Value {
    let rx: Vec<Value> = gateways
        .iter()
        .map(|(id, rssi, snr)| json!({"gatewayId": id, "uplinkId": 4217106255u32, "rssi": rssi, "snr": snr}))
        .collect();
    json!({
        "deduplicationId": format!("3ac7e3c4-4401-4b8d-9386-{fcnt:012}"),
        "time": "2026-12-01T09:34:15.775023242+00:00",
        "deviceInfo": {
            "tenantId": "52f14cd4-c6f1-4fbd-8f87-4025e1d49242", "tenantName": "ChirpStack",
            "applicationId": "17c82e96-be03-4f38-aef3-f83d48582d97", "applicationName": "Water",
            "deviceProfileId": "14855bf7-d10d-4aee-b618-ebfcb64dc7ad", "deviceProfileName": "SI-12 counters",
            "deviceName": "Подъезд 1", "devEui": dev_eui.to_ascii_lowercase()
        },
        "devAddr": "00189440", "dr": 1, "fCnt": fcnt, "fPort": 2, "data": base64(hex), "rxInfo": rx,
        "txInfo": {"frequency": 868100000, "modulation": {"lora": {"bandwidth": 125000, "spreadingFactor": 11, "codeRate": "CR_4_5"}}}
    })
}

/// The Things Stack's `uplink_message` webhook.
fn tts_up(dev_eui: &str, fcnt: u32, hex: &str) -> Value {
    json!({
        "end_device_ids": {
            "device_id": "si12-2", "application_ids": {"application_id": "water"},
            "dev_eui": dev_eui, "join_eui": "7665676173693132", "dev_addr": "260B1234"
        },
        "correlation_ids": ["as:up:01H0000000000000000000000"],
        "received_at": "2026-12-01T10:00:00.123456789Z",
        "uplink_message": {
            "session_key_id": "AYfDRmfy3wZKhKpPfZ0ZUw==", "f_port": 2, "f_cnt": fcnt, "frm_payload": base64(hex),
            "rx_metadata": [{"gateway_ids": {"gateway_id": "gw-1", "eui": "0016C001F153A14C"}, "rssi": -101, "channel_rssi": -101, "snr": 3.25}],
            "settings": {"data_rate": {"lora": {"bandwidth": 125000, "spreading_factor": 9}}, "frequency": "868300000"},
            "received_at": "2026-12-01T10:00:00.120Z", "consumed_airtime": "0.205824s"
        }
    })
}

fn post(host: &Host, query: &str, body: &Value, token: Option<&str>) -> (u16, Value) {
    let headers: Vec<(&str, &str)> =
        [("Content-Type", "application/json")].into_iter().chain(token.map(|t| ("Authorization", t))).collect();
    let r = request(host.driver("lns"), "POST", &format!("/{query}"), &headers, body.to_string().as_bytes());
    let answer = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    (r.status, answer)
}

fn source(host: &Host) -> Value {
    host.get_ok("/api/v1/stats")["sources"]["lns"].clone()
}

/// Wait until the source's frames are all settled (archived, duplicate or
/// quarantined) and `what` holds of its counters.
fn wait_source(host: &Host, what: &str, f: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + APPLY_DEADLINE;
    loop {
        let s = source(host);
        let settled = ["archived", "duplicate", "quarantined", "rejected"]
            .iter()
            .map(|k| s[k].as_u64().unwrap_or(0))
            .sum::<u64>();
        if s["received"].as_u64() == Some(settled) && f(&s) {
            return s;
        }
        assert!(std::time::Instant::now() < deadline, "timed out after {APPLY_DEADLINE:?} waiting for {what}: {s:#}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn chirpstack_and_tts_uplinks_decode_once_by_route_and_a_device_without_one_waits_in_quarantine() {
    let mut host = Host::start_with(&config(DECODED_ROUTE));

    // The instance shows its driver and the codec its routes name; lw640
    // plays no codec role and the instance names none: no codec row.
    let status = host.get_ok("/api/v1/status");
    let rows: Vec<(String, String)> = status["instances"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["name"].as_str().is_some_and(|n| n.starts_with("lns/")))
        .map(|i| (i["role"].as_str().unwrap().to_owned(), i["plugin"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(rows, [("driver".to_owned(), "lw640".to_owned()), ("codec".to_owned(), "vega-codec".to_owned())]);

    // ChirpStack v4: heard by two gateways, pushed twice (a retry): one reading set.
    let up = chirpstack_up(SI12, 7, SI12_PAYLOAD, &[("0016c001f153a14c", -97, 7.5), ("0016c001f153a14d", -80, 9.0)]);
    let (status, answer) = post(&host, "?event=up", &up, Some(TOKEN));
    assert_eq!(status, 200, "{answer}");
    assert!(answer["seq"].is_u64(), "answered after the commit, with its seq: {answer}");
    let first = wait_source(&host, "the first uplink archived", |s| s["archived"] == 1);
    let readings = first["readings_new"].as_u64().unwrap();
    assert!(readings >= 4, "temperature and inputs 2-4 of the SI-12: {first}");
    assert_eq!(post(&host, "?event=up", &up, Some(TOKEN)).0, 200);
    let again = wait_source(&host, "the repeat settled", |s| s["received"] == 2);
    assert_eq!(again["readings_new"].as_u64(), Some(readings), "a repeat is no new reading: {again}");
    assert_eq!(again["quarantined"], 0, "{again}");

    // The module: heard through the better gateway, frame counter, then battery.
    let modules = host.get_ok("/api/v1/modules");
    let module = modules["modules"].as_array().unwrap().iter().find(|m| m["module"] == SI12).cloned();
    let module = module.unwrap_or_else(|| panic!("module {SI12}: {modules:#}"));
    assert_eq!(module["rssi_dbm"], -80, "{module:#}");
    let status_event = json!({
        "deduplicationId": "bf2a9746-1c8b-49be-a92e-f0b89c8534e4", "time": "2026-12-01T09:35:06.927172638+00:00",
        "deviceInfo": {"applicationName": "Water", "deviceProfileName": "SI-12 counters", "deviceName": "Подъезд 1", "devEui": SI12},
        "margin": 10, "batteryLevel": 88.3
    });
    assert_eq!(post(&host, "?event=status", &status_event, Some(TOKEN)).0, 200);
    // The uplink said 0 % (the SI-12 payload's own byte); the status event, later, 88 %.
    wait_for("the status event's battery on the module", APPLY_DEADLINE, || {
        let modules = host.get_ok("/api/v1/modules");
        let m = modules["modules"].as_array()?.iter().find(|m| m["module"] == SI12)?.clone();
        (m["battery_pct"].as_u64()? == 88).then_some(())
    });

    // The Things Stack: the same device, a later uplink, decoded by the same route.
    let (status, answer) = post(&host, "", &tts_up(SI12, 8, SI12_LATER), Some(TOKEN));
    assert_eq!(status, 200, "{answer}");
    wait_source(&host, "the TTS uplink's readings archived", |s| s["readings_new"].as_u64() > Some(readings));
    let latest = host.get_ok(&format!("/api/v1/devices/{SI12}.2/latest"));
    assert_eq!(latest["readings"][0]["value"], "5", "{latest}");

    // A meter the server decoded: its route takes the readings from there.
    let mut decoded = chirpstack_up(DECODED, 3, "0102", &[("0016c001f153a14c", -101, 2.0)]);
    decoded["object"] = json!({"meter": {"volume": 123.456}, "temperature": 7.5});
    assert_eq!(post(&host, "?event=up", &decoded, Some(TOKEN)).0, 200);
    let latest = wait_for("the server-decoded readings", APPLY_DEADLINE, || {
        let (status, body) = meterhub_testkit::http(host.api, "GET", &format!("/api/v1/devices/{DECODED}/latest"), b"");
        let latest: Value = serde_json::from_slice(&body).ok()?;
        (status == 200 && latest["readings"].as_array()?.len() == 2).then_some(latest)
    });
    let volume = latest["readings"].as_array().unwrap().iter().find(|r| r["channel"] == "volume").cloned();
    let volume = volume.unwrap_or_else(|| panic!("{latest:#}"));
    assert_eq!((volume["value"].as_str(), volume["unit"].as_str()), (Some("123.456"), Some("m3")), "{latest:#}");

    // Without the token: refused, counted, nothing stored.
    let before = source(&host);
    let (status, answer) = post(&host, "?event=up", &up, Some("Bearer wrong"));
    assert_eq!(status, 401, "{answer}");
    assert_eq!(post(&host, "?event=up", &up, None).0, 401);
    let after = wait_source(&host, "the refusals counted", |s| s["rejected"].as_u64() >= Some(2));
    for frames in ["archived", "duplicate", "quarantined"] {
        assert_eq!(after[frames], before[frames], "nothing stored: {after}");
    }

    // A meter no route takes: kept in quarantine, saying what to do.
    let stranger = chirpstack_up(STRANGER, 1, SI12_PAYLOAD, &[("0016c001f153a14c", -110, -2.0)]);
    assert_eq!(post(&host, "?event=up", &stranger, Some(TOKEN)).0, 200);
    wait_source(&host, "the stranger quarantined", |s| s["quarantined"] == 1);
    let q = host.get_ok("/api/v1/quarantine");
    let reason = q[0]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains(STRANGER) && reason.contains("[[drivers.lns.devices]]"), "{q:#}");

    // The operator routes it by its profile; the running host decodes it.
    let generation = host.config_status()["generation"].as_u64().unwrap();
    let routed = "[[drivers.lns.devices]]\nprofile = \"SI-12 counters\"\ncodec = \"vega-codec\"\nmodel = \"SI-12\"\n";
    std::fs::write(&host.config, config(&format!("{DECODED_ROUTE}{routed}"))).unwrap();
    host.wait_generation(generation + 1);
    let decoded = wait_source(&host, "the stranger decoded after the route", |s| s["quarantined"] == 0);
    assert_eq!(decoded["redecoded"], 1, "{decoded}");
    let latest = host.get_ok(&format!("/api/v1/devices/{STRANGER}.2/latest"));
    assert!(!latest["readings"].as_array().unwrap().is_empty(), "{latest}");

    // Everything survives a restart, nothing decoded twice.
    host.stop();
    host.restart();
    let restarted = wait_source(&host, "the counters after a restart", |s| s["archived"].as_u64() >= Some(4));
    assert_eq!(restarted["readings_new"], decoded["readings_new"], "{restarted}");
}

#[test]
fn chirpstack_events_over_mqtt_are_archived_once_and_a_repeat_is_no_new_reading() {
    let names = crate::mqtt::Names::new("chirpstack");
    let filter = format!("{}/application/+/device/+/event/+", names.root);
    names.open_session_on(&filter);
    let publisher = crate::mqtt::Publisher::connect(&names);
    let topic = |eui: &str, event: &str| {
        format!("{}/application/water/device/{}/event/{event}", names.root, eui.to_ascii_lowercase())
    };
    let up = chirpstack_up(SI12, 7, SI12_PAYLOAD, &[("0016c001f153a14c", -97, 7.5)]);
    // Before the host runs, and once more after it: the session keeps both.
    publisher.publish(&topic(SI12, "up"), up.to_string());
    publisher.wait_acked(1);
    let transport = format!(
        "transport = \"mqtt\"\nurl = \"mqtt://127.0.0.1:1883\"\ntopics = [\"{filter}\"]\nclient_id = \"{}\"",
        names.client_id
    );
    let mut host = Host::start_with(&config_with(&transport, ""));
    let first = wait_source(&host, "the uplink over MQTT", |s| s["archived"] == 1);
    let readings = first["readings_new"].as_u64().unwrap();
    assert!(readings >= 4, "{first}");
    publisher.publish(&topic(SI12, "up"), up.to_string());
    publisher
        .publish(&topic(SI12, "up"), chirpstack_up(SI12, 8, SI12_LATER, &[("0016c001f153a14c", -90, 8.0)]).to_string());
    let status = json!({"time": "2026-12-01T09:35:06.927172638+00:00", "deviceInfo": {"devEui": SI12}, "margin": 10, "batteryLevel": 61.0});
    publisher.publish(&topic(SI12, "status"), status.to_string());
    // A topic whose DevEUI is not the body's: refused, acknowledged, kept.
    publisher.publish(&topic(STRANGER, "up"), up.to_string());
    let s = wait_source(&host, "every message settled", |s| s["received"] == 5);
    assert_eq!((s["duplicate"].as_u64(), s["rejected"].as_u64()), (Some(1), Some(1)), "{s:#}");
    assert!(s["readings_new"].as_u64() > Some(readings), "the later uplink's readings are new: {s:#}");
    wait_for("the status event's battery", APPLY_DEADLINE, || {
        let modules = host.get_ok("/api/v1/modules");
        let battery = modules["modules"].as_array()?.iter().find(|m| m["module"] == SI12)?["battery_pct"].as_u64()?;
        (battery == 61).then_some(())
    });
    // Every message is acknowledged to the broker once stored, and timed.
    crate::mqtt::wait_host_acked(&host, 5);
    let refused = host.get_ok("/api/v1/rejections?source=lns");
    assert!(refused[0]["reason"].as_str().unwrap_or_default().contains(STRANGER), "{refused:#}");

    // Everything was acknowledged: a restart brings nothing again.
    host.stop();
    host.restart();
    publisher.publish(&topic(SI12, "status"), status.to_string());
    let after = wait_source(&host, "the message after the restart", |s| s["received"] == 6);
    assert_eq!(after["duplicate"], s["duplicate"], "{after:#}");
    host.stop();
    names.close_session();
}

/// Run `meterhub sim lns` to its end; its JSON summary.
fn simulate(args: &[&str]) -> Value {
    let out = std::process::Command::new(meterhub_testkit::binary())
        .args(["sim", "lns", "--fast", "--joins", "--repeat-every", "5", "--status-every", "2"])
        .args(["--faults-every", "7"])
        .args(args)
        .output()
        .expect("run the simulator");
    assert!(out.status.success(), "sim lns: {}", String::from_utf8_lossy(&out.stderr));
    let line = String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default().to_owned();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("summary {line:?}: {e}"))
}

#[test]
fn the_emulated_network_servers_events_are_taken_as_a_real_one_pushes_them() {
    let profile = "[[drivers.lns.devices]]\nprofile = \"SI-12\"\ncodec = \"vega-codec\"\nmodel = \"SI-12\"\n";
    let host = Host::start_with(&config(profile));
    let url = format!("http://{}/", host.driver("lns"));
    let mut expected = (0, 0, 0);
    for encoding in ["json", "protobuf"] {
        let summary = simulate(&[
            "--server",
            "chirpstack-v4",
            "--encoding",
            encoding,
            "--http",
            &url,
            "--auth",
            TOKEN,
            "--devices",
            "8",
            "--rounds",
            "3",
            "--seed",
            if encoding == "json" { "11" } else { "12" },
        ]);
        assert_eq!(summary["unexpected"], 0, "{summary:#}");
        let sent = &summary["sent"];
        let faults =
            ["malformed", "unknown_event", "bad_base64"].iter().map(|k| sent[k].as_u64().unwrap()).sum::<u64>();
        expected.0 += summary["events"].as_u64().unwrap();
        expected.1 += faults;
        expected.2 += sent["repeat"].as_u64().unwrap();
    }
    let (events, faults, repeats) = expected;
    let s = wait_source(&host, "every simulated event settled", |s| s["received"].as_u64() == Some(events));
    assert_eq!((s["rejected"].as_u64(), s["duplicate"].as_u64()), (Some(faults), Some(repeats)), "{s:#}");
    assert_eq!(s["quarantined"], 0, "every device routed by its profile: {s:#}");
    let modules = host.get_ok("/api/v1/modules");
    assert_eq!(modules["modules"].as_array().map(Vec::len), Some(16), "{modules:#}");
}
