//! Alarms end to end through the real binary and the listener driver: a
//! magnet reading raises an alarm pushed on the streams within a second,
//! to the users who may see its meter only; a dispatcher acknowledges it;
//! it ends when the state returns and closes; everything is in the event
//! log and survives a restart; a rule changed in the file takes effect at
//! once, a bad one is refused where it is written.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use meterhub_testkit::line::send_acked;
use meterhub_testkit::{
    APPLY_DEADLINE, Host, Sse, add_user, browser, default_config, http, local_token, login_ok, now_ms, origin,
    plugins_dir, wait_for,
};

/// The bound: an alarm raised by a reading is on the streams within it.
const ALARM_BOUND: Duration = Duration::from_secs(1);

fn state(device: &str, channel: &str, ts_ms: i64, value: u8) -> String {
    format!(
        "{{\"device\":\"{device}\",\"channel\":\"{channel}\",\"ts\":{ts_ms},\"value\":{value},\"unit\":\"\",\"kind\":\"state\"}}\n"
    )
}

fn alarm_host() -> Host {
    Host::start_with(&(default_config(&plugins_dir("wasm")) + "\n[web]\ncookie_secure = false\n"))
}

/// Puts `meter` at `site` in the registry once it is registered.
fn place(host: &Host, meter: &str, site: &str) {
    wait_for("the meter to be registered", APPLY_DEADLINE, || {
        (host.get(&format!("/api/v1/meters/{meter}")).0 == 200).then_some(())
    });
    let body = json!({ "actor": "e2e", "site": site }).to_string();
    let (status, _) = http(host.api, "PATCH", &format!("/api/v1/meters/{meter}"), body.as_bytes());
    assert_eq!(status, 200);
}

fn open_alarms(host: &Host) -> Vec<Value> {
    host.get_ok("/api/v1/alarms")["alarms"].as_array().cloned().unwrap_or_default()
}

#[test]
fn a_magnet_raises_an_alarm_on_the_streams_of_those_who_may_see_it_acknowledged_and_closed() {
    let mut host = alarm_host();
    let api = host.api;
    let tcp = host.driver("tcp-in");
    let now = now_ms();
    send_acked(tcp, &[state("north-1", "magnet", now - 2000, 0), state("south-1", "magnet", now - 2000, 0)]);
    place(&host, "north-1", "north");
    place(&host, "south-1", "south");
    add_user(&host, &["vera", "--role", "viewer", "--grant", "*/north"], "vera's password");
    add_user(&host, &["dina", "--role", "dispatcher", "--grant", "*"], "dina's password");
    let (vera, dina) = (login_ok(api, "vera", "vera's password"), login_ok(api, "dina", "dina's password"));
    let origin = origin(api);
    let mut vera_stream =
        Sse::open(api, "/api/v1/stream?tree=*", &[("Cookie", vera.cookie.as_str()), ("Origin", origin.as_str())])
            .expect("vera's stream");
    let auth = format!("Bearer {}", local_token(api));
    let mut admin_stream =
        Sse::open(api, "/api/v1/stream?device=north-1", &[("Authorization", &auth)]).expect("a stream");
    for sse in [&mut vera_stream, &mut admin_stream] {
        sse.next_named("live");
    }

    // South's magnet: the admin's stream (selecting north only) still gets
    // the alarm; vera, who may not see south, never does.
    let sent = Instant::now();
    send_acked(tcp, &[state("south-1", "magnet", now, 1)]);
    let south = admin_stream.next_named("alarm");
    assert!(sent.elapsed() < ALARM_BOUND, "the alarm came after {:?}", sent.elapsed());
    assert_eq!((south.data["rule"].as_str(), south.data["subject"]["id"].as_str()), (Some("magnet"), Some("south-1")));
    assert_eq!((south.data["active"].as_bool(), south.data["severity"].as_str()), (Some(true), Some("critical")));

    // North's magnet: vera gets it within the bound too.
    let sent = Instant::now();
    send_acked(tcp, &[state("north-1", "magnet", now, 1)]);
    let north = vera_stream.next_named("alarm");
    assert!(sent.elapsed() < ALARM_BOUND, "the alarm came after {:?}", sent.elapsed());
    assert_eq!(north.data["subject"]["id"], "north-1", "vera never receives south's alarm: {north:?}");
    assert_eq!((north.data["channel"].as_str(), north.data["value"].as_str()), (Some("magnet"), Some("1")));
    assert!(north.data["reading"]["seq"].as_u64().is_some(), "the reading that raised it: {north:?}");
    let id = north.data["id"].as_u64().expect("an id");

    // The API shows vera her alarm only; she may not acknowledge it.
    let listed = browser(api, &vera, "GET", "/api/v1/alarms", false, "").json();
    let ids: Vec<&str> =
        listed["alarms"].as_array().unwrap().iter().filter_map(|a| a["subject"]["id"].as_str()).collect();
    assert_eq!(ids, ["north-1"], "{listed:#}");
    assert_eq!(listed["counts"]["unacknowledged"], 1);
    let south_id = south.data["id"].as_u64().unwrap();
    assert_eq!(browser(api, &vera, "GET", &format!("/api/v1/alarms/{south_id}"), false, "").status, 404);
    assert_eq!(browser(api, &vera, "POST", &format!("/api/v1/alarms/{id}/ack"), true, "{}").status, 403);
    assert_eq!(open_alarms(&host).len(), 2, "the admin sees both");

    // Dina acknowledges it, with a comment; a second acknowledgement is refused.
    let body = json!({ "comment": "магнит снят, пломба цела" }).to_string();
    let acked = browser(api, &dina, "POST", &format!("/api/v1/alarms/{id}/ack"), true, &body);
    assert_eq!(acked.status, 200, "{}", acked.json());
    let acked = acked.json();
    assert_eq!((acked["acknowledged"]["by"].as_str(), acked["active"].as_bool()), (Some("dina"), Some(true)));
    assert_eq!(acked["acknowledged"]["comment"], "магнит снят, пломба цела");
    let again = browser(api, &dina, "POST", &format!("/api/v1/alarms/{id}/ack"), true, "{}");
    assert_eq!((again.status, again.json()["code"].as_str()), (409, Some("alarm_acknowledged")));
    let pushed = vera_stream.next_named("alarm");
    assert_eq!(pushed.data["acknowledged"]["by"], "dina", "the acknowledgement is pushed too");

    // The state returns: the alarm ends and, acknowledged, closes.
    send_acked(tcp, &[state("north-1", "magnet", now + 1000, 0)]);
    let ended = vera_stream.next_named("alarm");
    assert_eq!((ended.data["id"].as_u64(), ended.data["active"].as_bool()), (Some(id), Some(false)));
    assert_eq!((ended.data["open"].as_bool(), ended.data["end_value"].as_str()), (Some(false), Some("0")));
    assert!(open_alarms(&host).iter().all(|a| a["id"] != id));

    // The event log: the alarm's life, dina's login; vera sees her meter's only.
    let events = host.get_ok("/api/v1/events?kind=alarm");
    let life: Vec<(&str, u64)> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["alarm"] == id)
        .map(|e| (e["code"].as_str().unwrap_or("?"), e["alarm"].as_u64().unwrap_or(0)))
        .collect();
    assert_eq!(life, [("ended", id), ("acknowledged", id), ("raised", id)], "{events:#}");
    let logins = wait_for("dina's login in the event log", APPLY_DEADLINE, || {
        let logins = host.get_ok("/api/v1/events?kind=login");
        logins["events"].as_array()?.iter().any(|e| e["user"] == "dina" && e["code"] == "login").then_some(logins)
    });
    assert!(logins["events"].as_array().unwrap().iter().all(|e| e["kind"] == "login"));
    let hers = browser(api, &vera, "GET", "/api/v1/events", false, "").json();
    assert!(
        hers["events"].as_array().unwrap().iter().all(|e| e["kind"] == "alarm" && e["meters"] == json!(["north-1"])),
        "{hers:#}"
    );

    // A restart keeps the alarms and the log; south's alarm is still active
    // (kept, not raised again) and is seen again after a flip.
    drop((vera_stream, admin_stream));
    host.stop();
    host.restart();
    let kept = host.get_ok(&format!("/api/v1/alarms/{id}"));
    assert_eq!((kept["acknowledged"]["by"].as_str(), kept["open"].as_bool()), (Some("dina"), Some(false)));
    let open = open_alarms(&host);
    assert_eq!(open.len(), 1, "{open:#?}");
    assert_eq!((open[0]["id"].as_u64(), open[0]["active"].as_bool()), (Some(south_id), Some(true)));
    // Judged in log order: once north's case-open alarm shows, south's
    // magnet reading before it was judged too, and raised nothing new.
    send_acked(
        host.driver("tcp-in"),
        &[state("south-1", "magnet", now + 2000, 1), state("north-1", "case-open", now + 2000, 1)],
    );
    let open = wait_for("north's case-open alarm", APPLY_DEADLINE, || {
        let open = open_alarms(&host);
        open.iter().any(|a| a["rule"] == "case-open").then_some(open)
    });
    let rules: Vec<(&str, u64)> =
        open.iter().map(|a| (a["rule"].as_str().unwrap(), a["id"].as_u64().unwrap())).collect();
    assert_eq!(rules, [("case-open", id + 1), ("magnet", south_id)], "numbered on after the restart");
    let all = host.get_ok("/api/v1/alarms?all=true");
    assert_eq!(all["alarms"].as_array().map(Vec::len), Some(3), "{all:#}");

    // /metrics counts them.
    let (status, metrics) = http(host.api, "GET", "/metrics", b"");
    assert_eq!(status, 200);
    let metrics = String::from_utf8_lossy(&metrics);
    assert!(metrics.contains("meterhub_alarms_open{severity=\"critical\"} 2"), "{metrics}");
}

#[test]
fn rules_change_with_the_file_and_a_bad_one_is_refused_where_written() {
    let host = alarm_host();
    let tcp = host.driver("tcp-in");
    let now = now_ms();
    // A threshold of the operator's own on top of the shipped rules.
    let base = std::fs::read_to_string(&host.config).expect("the config");
    let with_rule =
        format!("{base}\n[alarms.rules.too-hot]\nkind = \"threshold\"\nchannels = [\"temperature\"]\nabove = \"90\"\n");
    std::fs::write(&host.config, &with_rule).unwrap();
    host.wait_generation(2);
    let temperature = |ts: i64, value: &str| {
        format!(
            "{{\"device\":\"heat-1\",\"channel\":\"temperature\",\"ts\":{ts},\"value\":\"{value}\",\"unit\":\"degC\",\"kind\":\"instantaneous\"}}\n"
        )
    };
    send_acked(tcp, &[temperature(now, "95.5"), state("heat-1", "magnet", now, 1)]);
    let raised = wait_for("two alarms", APPLY_DEADLINE, || {
        let open = open_alarms(&host);
        (open.len() == 2).then_some(open)
    });
    let hot = raised.iter().find(|a| a["rule"] == "too-hot").expect("the threshold's alarm");
    assert_eq!(
        (hot["value"].as_str(), hot["limit"].as_str(), hot["unit"].as_str()),
        (Some("95.5"), Some("90"), Some("degC"))
    );

    // The magnet rule turned off in the file: its active alarm ends, saying why.
    let without_magnet = format!("{with_rule}\n[alarms.rules.magnet]\nenabled = false\n");
    std::fs::write(&host.config, &without_magnet).unwrap();
    host.wait_generation(3);
    let magnet = raised.iter().find(|a| a["rule"] == "magnet").unwrap()["id"].as_u64().unwrap();
    let ended = wait_for("the magnet alarm to end", APPLY_DEADLINE, || {
        let alarm = host.get_ok(&format!("/api/v1/alarms/{magnet}"));
        (alarm["active"] == false).then_some(alarm)
    });
    assert_eq!(ended["end_reason"], "its rule was removed from the configuration");

    // A bad rule: refused with its place, the last good rules stay.
    let since = now_ms();
    std::fs::write(
        &host.config,
        format!("{without_magnet}\n[alarms.rules.cold]\nkind = \"threshold\"\nbelow = 5\nof = \"meter\"\n"),
    )
    .unwrap();
    let errors = host.wait_refusal(since);
    let line = without_magnet.lines().count() + 5;
    assert!(errors.iter().any(|e| e.contains(&format!(":{line}:6: `of` does not apply"))), "{errors:?}");
    // The event log has the start, the changes applied and the one refused.
    let config = wait_for("the refusal in the event log", APPLY_DEADLINE, || {
        let events = host.get_ok("/api/v1/events?kind=config");
        let codes: Vec<String> =
            events["events"].as_array()?.iter().map(|e| e["code"].as_str().unwrap_or("?").to_owned()).collect();
        (codes.first().map(String::as_str) == Some("refused")).then_some(codes)
    });
    assert_eq!(config, ["refused", "applied", "applied", "started"]);
    send_acked(tcp, &[temperature(now + 1000, "20")]);
    wait_for("the threshold's alarm to end", APPLY_DEADLINE, || {
        open_alarms(&host).iter().find(|a| a["rule"] == "too-hot").map(|a| a["active"] == false).filter(|ended| *ended)
    });
}
