//! Accounting end to end: hourly register readings over TCP, the meter
//! registered by itself, its zone and capacity set through the API (and the
//! CLI), daily deltas recomputed, JSON and CSV.

use serde_json::Value;

use meterhub_testkit::{APPLY_DEADLINE, Host, LineClient, http, reading, wait_for};

/// 2026-03-01T00:00:00Z.
const T0: i64 = 1_772_323_200_000;
const HOUR: i64 = 3_600_000;

fn days(host: &Host) -> Vec<(String, String, bool, bool)> {
    let deltas = host.get_ok("/api/v1/deltas?meter=gas-1&channel=volume&period=day");
    deltas
        .as_array()
        .expect("a list")
        .iter()
        .map(|d| {
            (
                d["start"].as_str().unwrap_or("?").to_owned(),
                d["consumption"].as_str().unwrap_or("?").to_owned(),
                d["estimated"].as_bool().unwrap_or(true),
                d["in_progress"].as_bool().unwrap_or(false),
            )
        })
        .collect()
}

#[test]
fn hourly_register_readings_give_daily_deltas_in_the_meters_zone_with_rollover() {
    let host = Host::start();
    // 72 hourly readings of a 3-digit register counting 30 an hour: it
    // wraps at 1000 every 33 hours or so.
    let mut client = LineClient::connect(host.driver("tcp-in"));
    for h in 0..72 {
        client.send(reading("gas-1", "volume", T0 + h * HOUR, &format!("\"{}\"", (h * 30) % 1000)).as_bytes());
    }
    client.finish();
    let answers: Vec<Value> = std::iter::from_fn(|| client.answer()).collect();
    assert!(answers.iter().all(|a| a["ok"] == true), "{answers:?}");
    host.settled_stats(72);

    let meter = wait_for("the meter to be registered", APPLY_DEADLINE, || {
        let (status, meter) = host.get("/api/v1/meters/gas-1");
        (status == 200).then_some(meter)
    });
    assert_eq!(meter["channels"]["volume"]["kind"], "cumulative", "{meter}");
    assert_eq!(meter["time_zone_in_use"], "Europe/Moscow", "the configured default");

    // Refusals name the field.
    let (status, body) = http(host.api, "PATCH", "/api/v1/meters/gas-1", br#"{"actor":"e2e","time_zone":"Mars/Base"}"#);
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("time_zone"), "{}", String::from_utf8_lossy(&body));
    let (status, _) = http(host.api, "PATCH", "/api/v1/meters/gas-1", br#"{"time_zone":"UTC"}"#);
    assert_eq!(status, 400, "a change without an actor is refused");
    let (status, _) = http(host.api, "PATCH", "/api/v1/meters/nope", br#"{"actor":"e2e","name":"x"}"#);
    assert_eq!(status, 404);

    let (status, body) = http(
        host.api,
        "PATCH",
        "/api/v1/meters/gas-1",
        br#"{"actor":"e2e","time_zone":"UTC","register_capacity":"1000"}"#,
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let expected = [
        ("2026-03-01".to_owned(), "720".to_owned(), false, false),
        ("2026-03-02".to_owned(), "720".to_owned(), false, false),
        ("2026-03-03".to_owned(), "690".to_owned(), false, true),
    ];
    wait_for("the deltas in UTC with rollovers", APPLY_DEADLINE, || (days(&host) == expected).then_some(()));
    let month = host.get_ok("/api/v1/deltas?meter=gas-1&period=month");
    assert_eq!(month[0]["consumption"], "2130", "{month}");
    assert_eq!(month[0]["in_progress"], true);

    let (status, csv) = http(host.api, "GET", "/api/v1/deltas?meter=gas-1&period=day&format=csv", b"");
    assert_eq!(status, 200);
    let csv = String::from_utf8(csv).expect("utf-8");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[0].starts_with("meter,channel,period,start,"), "{csv}");
    let first: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(&first[..4], ["gas-1", "volume", "day", "2026-03-01"], "{csv}");
    assert_eq!(first[8], "720", "{csv}");

    // The CLI edits through the same API; the history keeps who and what.
    let set = host.cli(&["meter", "set", "gas-1", "site=north", "resource=gas", "--actor", "cli-test"]);
    assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));
    let list = host.cli(&["meter", "list"]);
    assert!(String::from_utf8_lossy(&list.stdout).contains("gas-1"), "{}", String::from_utf8_lossy(&list.stdout));
    let history = host.get_ok("/api/v1/meters/gas-1/history");
    let fields: Vec<(&str, &str)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["actor"].as_str().unwrap(), e["field"].as_str().unwrap()))
        .collect();
    assert_eq!(
        fields,
        [("e2e", "register_capacity"), ("e2e", "time_zone"), ("cli-test", "resource"), ("cli-test", "site")],
        "{history}"
    );
    let group = host.get_ok("/api/v1/consumption?period=day&site=north");
    assert_eq!(group["periods"][1]["consumption"], "720", "{group}");
    assert_eq!(group["periods"][1]["unit"], "m3", "{group}");
    assert_eq!(group["left_out"], serde_json::json!([]), "its only cumulative channel counts: {group}");

    // A reset told through the CLI: the register was set to 0 at
    // 2026-03-02T12:00Z. It read 50 at 11:00 and 80 at 12:00; a reading at
    // the event's instant is from after it, so the hour counts 80 (from 0)
    // instead of 30, and the day 770 instead of 720.
    let at = (T0 + 36 * HOUR).to_string();
    let event =
        host.cli(&["meter", "event", "gas-1", "reset", "--at", &at, "--value-after", "0", "--actor", "cli-test"]);
    assert!(event.status.success(), "{}", String::from_utf8_lossy(&event.stderr));
    let show = host.cli(&["meter", "show", "gas-1", "--json"]);
    let shown: Value = serde_json::from_slice(&show.stdout).expect("meter show --json prints JSON");
    assert_eq!(shown["events"][0]["kind"], "reset", "{shown}");
    let day = wait_for("the day with the reset recomputed", APPLY_DEADLINE, || {
        let d = host.get_ok("/api/v1/deltas?meter=gas-1&period=day&from=2026-03-02T00:00:00Z&to=2026-03-02T00:00:01Z");
        (d[0]["events"] == 1).then_some(d)
    });
    assert_eq!(day[0]["consumption"], "770", "{day}");

    // A recomputation asked for through the CLI changes nothing here and is
    // in the history.
    let recompute = host.cli(&["meter", "recompute", "gas-1", "--actor", "cli-test"]);
    assert!(recompute.status.success(), "{}", String::from_utf8_lossy(&recompute.stderr));
    wait_for("the recomputation", APPLY_DEADLINE, || {
        let history = host.get_ok("/api/v1/meters/gas-1/history");
        let last = history.as_array().and_then(|h| h.last()).cloned().unwrap_or_default();
        (last["field"] == "recompute").then_some(())
    });
    let meter = host.get_ok("/api/v1/meters/gas-1");
    assert_eq!(meter["deltas_held"], Value::Null, "{meter}");
    let day = host.get_ok("/api/v1/deltas?meter=gas-1&period=day&from=2026-03-02T00:00:00Z&to=2026-03-02T00:00:01Z");
    assert_eq!(day[0]["consumption"], "770", "{day}");
}
