//! Scenario tests of the `vega` driver against the simulated host of the
//! plugin-api testing kit and a scripted IOT Vega Server (PROTOCOLS.md §1).
//!
//! The host hands the driver events of one session at a time and records
//! what it answers: requests sent to the server (each must be JSON),
//! commits (payload and metadata), rejections, closes and timers. Every
//! `Commit` is committed at once, the `Committed` event (increasing seqs)
//! delivered right after the event that produced it, unless the test holds
//! commits. Committed frames with resume metadata advance the host's
//! durable marks, which a new driver instance gets in `settings.resume`.

use std::collections::BTreeMap;

use meterhub_driver_vega::Vega;
use meterhub_plugin_api::testing::{Answers, DriverFrame, FrameView, SimHost, assert_manifest_matches};
use meterhub_plugin_api::{Event, META_RESUME_KEY, META_RESUME_MARK, Plugin, Transport, lorawan};
use serde_json::{Value, json};

/// 2026-11-21T10:00:00Z, the host's clock.
const NOW: i64 = 1_795_255_200_000;
/// A Vega SI-12 (the device of the PROTOCOLS.md sample rx).
const DEV_A: &str = "3632333364374F18";
const DEV_B: &str = "3632333364374F2A";
const DEV_C: &str = "3632333364374F3C";
const DEV_D: &str = "3632333364374F4E";
/// "vegasi12": the AppEUI of Vega SI-12 devices.
const APP: &str = "7665676173693132";
const TOKEN: &str = "9d2c6e1f0a4b47c8b35e21d07f6a9c44";
const LOGIN: &str = "meter";
const PASSWORD: &str = "s3cret";
const INITIAL_MS: i64 = 172_800_000;
/// The SI-12 "current values" vector (fPort 2).
const SI12_CURRENT: &str = "01001ce75128621c00000000000000000000000000000000";
const ALL_RIGHTS: &[&str] = &["get_devices", "get_device_appdata", "get_data", "send_data", "server_info"];
const CONTENT_TYPE: &str = "application/vnd.vega.uplink+json";
const PEER: &str = "ws://vega.example:8002/";

// ---------------------------------------------------------------------------
// The host and the server side of the protocol.

type Host = SimHost<Vega>;

/// The driver's requests to the server in its answers.
trait Requests {
    /// Every sent message as JSON.
    fn requests(&self) -> Vec<Value>;

    /// The `cmd` of every request.
    fn cmds(&self) -> Vec<String>;

    /// The requests with `cmd`.
    fn sent_cmd(&self, cmd: &str) -> Vec<Value>;
}

impl Requests for Answers {
    fn requests(&self) -> Vec<Value> {
        self.sent_json()
    }

    fn cmds(&self) -> Vec<String> {
        self.requests().iter().map(|v| v["cmd"].as_str().unwrap_or("?").to_owned()).collect()
    }

    fn sent_cmd(&self, cmd: &str) -> Vec<Value> {
        self.requests().into_iter().filter(|v| v["cmd"] == cmd).collect()
    }
}

/// The server's side, played by the test on the current session.
trait Server {
    /// Open a new session (a new connection).
    fn connect(&mut self) -> Answers;

    /// One WebSocket message from the server.
    fn recv(&mut self, message: &str) -> Answers;

    /// One WebSocket message from the server, as bytes.
    fn recv_bytes(&mut self, message: &[u8]) -> Answers;

    /// Connect and log in with `rights`.
    fn login(&mut self, rights: &[&str]) -> Answers;

    /// Log in with every right, get `devices` listed, and answer every
    /// back-fill with an empty history: all devices end contiguous.
    fn start(&mut self, devices: &[&str]) -> Answers;
}

impl Server for Host {
    fn connect(&mut self) -> Answers {
        self.open(Transport::Websocket, PEER)
    }

    fn recv(&mut self, message: &str) -> Answers {
        self.data(message.as_bytes())
    }

    fn recv_bytes(&mut self, message: &[u8]) -> Answers {
        self.data(message)
    }

    fn login(&mut self, rights: &[&str]) -> Answers {
        let mut out = self.connect();
        out.absorb(self.recv(&auth_ok(rights)));
        out
    }

    fn start(&mut self, devices: &[&str]) -> Answers {
        let mut out = self.login(ALL_RIGHTS);
        let mut step = self.recv(&devices_resp(devices));
        while let Some(req) = step.sent_cmd("get_data_req").first().cloned() {
            out.absorb(step);
            step = self.recv(&data_resp(req["devEui"].as_str().expect("devEui"), 0, &[]));
        }
        out.absorb(step);
        out
    }
}

/// A driver instance with `settings`, at [`NOW`]; every request it sends
/// must be JSON.
fn new_host(settings: &str) -> Host {
    let mut host = Host::new(settings).unwrap_or_else(|e| panic!("settings {settings}: {e}"));
    host.set_now_ms(NOW);
    host.check_sent(|bytes| serde_json::from_slice::<Value>(bytes).map(drop).map_err(|e| format!("not JSON: {e}")));
    host
}

/// A new driver instance with the host's durable marks, as the host starts
/// one after a restart.
fn restarted(host: &Host, extra: Value) -> Host {
    host.restarted(&settings(extra)).unwrap_or_else(|e| panic!("restart: {e}"))
}

/// The server time of a committed uplink (meta `lorawan.ts`).
fn ts(frame: &DriverFrame) -> i64 {
    frame.meta(lorawan::TS).expect("meta ts").parse().expect("meta ts is an integer")
}

// ---------------------------------------------------------------------------
// Settings and server messages.

/// The test settings with `extra` keys added (or replaced).
fn settings(extra: Value) -> String {
    let mut s = json!({
        "login": LOGIN,
        "password": PASSWORD,
        "ping_interval_ms": 30_000,
        "backfill_initial_ms": INITIAL_MS,
        "backfill_page": 1000,
    });
    for (key, value) in extra.as_object().expect("extra settings are an object") {
        s[key] = value.clone();
    }
    s.to_string()
}

fn host(extra: Value) -> Host {
    new_host(&settings(extra))
}

fn auth_ok(rights: &[&str]) -> String {
    json!({
        "cmd": "auth_resp", "status": true, "err_string": "", "token": TOKEN,
        "device_access": "FULL", "consoleEnable": true, "command_list": rights,
        "rx_settings": {"unsolicited": true, "direction": "UPLINK", "withMacCommands": false}
    })
    .to_string()
}

fn auth_refused(cmd: &str, why: &str) -> String {
    json!({"cmd": cmd, "status": false, "err_string": why}).to_string()
}

fn devices_resp(devices: &[&str]) -> String {
    let list: Vec<Value> = devices
        .iter()
        .enumerate()
        .map(|(i, dev)| {
            json!({
                "devEui": dev, "devName": format!("SI-12 flat {}", i + 1),
                "OTAA": {"appEui": APP, "appKey": "2b7e151628aed2a6abf7158809cf4f3c", "last_join_ts": NOW - 864_000_000},
                "frequencyPlan": "RU868", "class": "CLASS_A", "fcnt_up": 42, "fcnt_down": 3,
                "last_data_ts": NOW - 60_000, "adr": true, "rawDataStoragePeriod": 30
            })
        })
        .collect();
    json!({"cmd": "get_devices_resp", "status": true, "err_string": "", "devices_list": list}).to_string()
}

/// One uplink as the server writes it in `rx` (with `cmd`, `devEui`,
/// `appEui`) or in a `data_list` (without).
fn uplink(head: &str, ts: i64, fcnt: u64, port: u32, hex: &str, kind: &str) -> String {
    format!(
        r#"{{{head}"ts":{ts},"gatewayId":"00006CC3743ED46A","ack":false,"fcnt":{fcnt},"port":{port},"data":"{hex}","macData":"","freq":868900000,"dr":"SF12 BW125 4/5","rssi":-97,"snr":6.5,"type":"{kind}","packetStatus":""}}"#
    )
}

fn rx(dev: &str, ts: i64, fcnt: u64, port: u32, hex: &str, kind: &str) -> String {
    uplink(&format!(r#""cmd":"rx","devEui":"{dev}","appEui":"{APP}","#), ts, fcnt, port, hex, kind)
}

/// A `data_list` item.
fn item(ts: i64, fcnt: u64, port: u32, hex: &str) -> String {
    uplink("", ts, fcnt, port, hex, "UNCONF_UP")
}

fn data_resp(dev: &str, total: usize, items: &[String]) -> String {
    format!(
        r#"{{"cmd":"get_data_resp","status":true,"err_string":"","devEui":"{dev}","appEui":"{APP}","direction":"UPLINK","totalNum":{total},"data_list":[{}]}}"#,
        items.join(",")
    )
}

/// The server's answer to `req` (a `get_data_req`) over a history of `rows`
/// in the server's order.
fn serve(req: &Value, rows: &[String]) -> String {
    let select = &req["select"];
    let begin = select["begin_index"].as_u64().expect("begin_index") as usize;
    let limit = select["limit"].as_u64().expect("limit") as usize;
    let page: Vec<String> = rows.iter().skip(begin).take(limit).cloned().collect();
    data_resp(req["devEui"].as_str().expect("devEui"), rows.len(), &page)
}

fn get_data(dev: &str, date_from: i64, begin_index: u64, limit: u32) -> Value {
    json!({
        "cmd": "get_data_req", "devEui": dev,
        "select": {"date_from": date_from, "begin_index": begin_index, "limit": limit, "direction": "UPLINK"}
    })
}

/// `FF` + u32 LE device time: a time packet (fPort 4).
fn time_packet(device_s: u32) -> String {
    let mut hex = "ff".to_owned();
    for b in device_s.to_le_bytes() {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

fn meta(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

// ---------------------------------------------------------------------------
// 1. Login.

#[test]
fn login_sends_one_auth_req_and_a_refusal_closes_naming_user_and_reason() {
    let mut h = host(json!({}));
    let out = h.connect();
    assert_eq!(out.requests(), vec![json!({"cmd": "auth_req", "login": LOGIN, "password": PASSWORD})]);
    assert!(out.commits.is_empty() && out.closes.is_empty() && out.timers.is_empty(), "{out:?}");

    let out = h.recv(&auth_refused("auth_resp", "invalid login or password"));
    assert_eq!(out.closes.len(), 1, "{out:?}");
    let reason = &out.closes[0];
    assert!(reason.contains(LOGIN) && reason.contains("invalid login or password"), "{reason}");
    assert!(out.sent.is_empty() && out.timers.is_empty() && out.commits.is_empty(), "{out:?}");
}

// ---------------------------------------------------------------------------
// 2. Device list request, pings.

#[test]
fn a_login_lists_devices_per_rights_and_keeps_pinging() {
    let appdata = json!({"cmd": "get_device_appdata_req", "keyword": ["add_data_info"]});
    for (ping_ms, rights, expected) in [
        (30_000, &["get_devices", "get_data", "send_data"][..], Some(json!({"cmd": "get_devices_req"}))),
        (5_000, &["get_device_appdata", "get_data"][..], Some(appdata)),
        (0, &["get_devices", "get_data", "send_data"][..], Some(json!({"cmd": "get_devices_req"}))),
        (30_000, &["send_data"][..], None),
    ] {
        let case = format!("ping {ping_ms}, rights {rights:?}");
        let mut h = host(json!({"ping_interval_ms": ping_ms}));
        h.connect();
        let out = h.recv(&auth_ok(rights));
        assert_eq!(out.requests(), expected.into_iter().collect::<Vec<_>>(), "{case}");
        assert!(out.closes.is_empty() && out.rejects.is_empty(), "{case}: {out:?}");
        if ping_ms == 0 {
            assert!(out.timers.is_empty(), "{case}: {out:?}");
            continue;
        }
        assert_eq!(out.timers.len(), 1, "{case}: {out:?}");
        let (id, after_ms) = out.timers[0];
        assert_eq!(after_ms, ping_ms, "{case}");
        for _ in 0..3 {
            let out = h.event(Event::Timer(id));
            assert_eq!(out.requests(), vec![json!({"cmd": "ping_req"})], "{case}");
            assert_eq!(out.timers, vec![(id, ping_ms)], "{case}: the timer is set again");
        }
    }
}

#[test]
fn the_servers_ping_is_answered_and_its_replies_are_quiet() {
    let mut h = host(json!({}));
    h.start(&[]);
    assert_eq!(h.recv(r#"{"cmd":"ping_req"}"#).requests(), vec![json!({"cmd": "ping_resp"})]);
    for quiet in [
        r#"{"cmd":"ping_resp"}"#,
        r#"{"cmd":"send_data_resp","append_status":[{"devEui":"3632333364374F18","status":true}]}"#,
        r#"{"cmd":"server_info_resp","status":true}"#,
    ] {
        let out = h.recv(quiet);
        assert!(out.is_quiet(), "{quiet}: {out:?}");
    }
}

// ---------------------------------------------------------------------------
// 3. Token reuse.

#[test]
fn a_new_session_resumes_by_token_and_falls_back_to_the_password() {
    let mut h = host(json!({}));
    h.login(ALL_RIGHTS);
    h.close();

    // Second connection: the token; the server accepts it (no rights in the answer).
    let out = h.connect();
    assert_eq!(out.requests(), vec![json!({"cmd": "token_auth_req", "token": TOKEN})]);
    let out = h.recv(r#"{"cmd":"token_auth_resp","status":true,"err_string":""}"#);
    assert_eq!(out.cmds(), vec!["get_devices_req"], "the rights of the last login hold");
    assert_eq!(out.timers.len(), 1);
    h.close();

    // Third connection: the server forgot the token; the driver logs in again.
    let out = h.connect();
    assert_eq!(out.requests(), vec![json!({"cmd": "token_auth_req", "token": TOKEN})]);
    let out = h.recv(&auth_refused("token_auth_resp", "token not found"));
    assert_eq!(out.requests(), vec![json!({"cmd": "auth_req", "login": LOGIN, "password": PASSWORD})]);
    assert!(out.closes.is_empty() && out.timers.is_empty(), "{out:?}");
    let fresh = auth_ok(ALL_RIGHTS).replace(TOKEN, "0123456789abcdef0123456789abcdef");
    let out = h.recv(&fresh);
    assert_eq!(out.cmds(), vec!["get_devices_req"]);
    h.close();

    // Fourth connection: the new token.
    let out = h.connect();
    assert_eq!(out.requests(), vec![json!({"cmd": "token_auth_req", "token": "0123456789abcdef0123456789abcdef"})]);
    // A refused password after a refused token closes.
    h.recv(&auth_refused("token_auth_resp", "token not found"));
    let out = h.recv(&auth_refused("auth_resp", "user blocked"));
    assert_eq!(out.closes.len(), 1, "{out:?}");
    assert!(out.closes[0].contains("user blocked") && out.sent.is_empty(), "{out:?}");
}

#[test]
fn without_token_reuse_every_session_logs_in_with_the_password() {
    let mut h = host(json!({"reuse_token": false}));
    h.login(ALL_RIGHTS);
    h.close();
    let out = h.connect();
    assert_eq!(out.requests(), vec![json!({"cmd": "auth_req", "login": LOGIN, "password": PASSWORD})]);
}

// ---------------------------------------------------------------------------
// 4. Back-fill.

#[test]
fn back_fill_starts_at_the_mark_or_the_initial_window() {
    let mut h = host(json!({"backfill_page": 250, "resume": {DEV_A: 1_000_000}}));
    let out = h.login(ALL_RIGHTS);
    assert_eq!(out.cmds(), vec!["auth_req", "get_devices_req"]);
    let out = h.recv(&devices_resp(&[DEV_A, DEV_B]));
    assert_eq!(out.requests(), vec![get_data(DEV_A, 1_000_001, 0, 250)], "one back-fill at a time");
    let out = h.recv(&data_resp(DEV_A, 0, &[]));
    assert_eq!(out.requests(), vec![get_data(DEV_B, NOW - INITIAL_MS, 0, 250)]);
    assert!(out.commits.is_empty(), "empty history: no frames");
    let out = h.recv(&data_resp(DEV_B, 0, &[]));
    assert!(out.is_quiet(), "{out:?}");
}

#[test]
fn back_fill_pages_through_the_history_and_marks_only_the_newest_committed_last() {
    const MARK: i64 = 1_000_000;
    let rows: Vec<(i64, String)> = (1..=5_i64)
        .map(|i| {
            let ts = NOW - 3_600_000 * (6 - i);
            (ts, item(ts, 100 + i as u64, 2, SI12_CURRENT))
        })
        .collect();
    let newest = rows[4].clone();
    for (order, indexes) in [
        ("ascending", [0, 1, 2, 3, 4]),
        ("descending", [4, 3, 2, 1, 0]),
        ("shuffled", [2, 4, 0, 3, 1]),
        ("newest in the middle page", [0, 1, 4, 3, 2]),
    ] {
        let served: Vec<String> = indexes.iter().map(|&i| rows[i].1.clone()).collect();
        let mut h = host(json!({"backfill_page": 2, "resume": {DEV_A: MARK}}));
        h.login(ALL_RIGHTS);
        let mut out = h.recv(&devices_resp(&[DEV_A, DEV_B]));
        let mut begins = Vec::new();
        let mut commits = Vec::new();
        loop {
            assert_eq!(out.sent.len(), 1, "{order}: {out:?}");
            let req = out.requests()[0].clone();
            if req["devEui"] != DEV_A {
                assert_eq!(req, get_data(DEV_B, NOW - INITIAL_MS, 0, 2), "{order}: then B");
                break;
            }
            let begin = req["select"]["begin_index"].as_u64().expect("begin_index");
            assert_eq!(req, get_data(DEV_A, MARK + 1, begin, 2), "{order}");
            begins.push(begin);
            out = h.recv(&serve(&req, &served));
            assert!(out.rejects.is_empty(), "{order}: {out:?}");
            commits.extend(out.commits.clone());
        }
        assert_eq!(begins, vec![0, 2, 4], "{order}");

        let mut payloads: Vec<&str> = commits.iter().map(FrameView::text).collect();
        payloads.sort_unstable();
        let mut expected: Vec<&str> = rows.iter().map(|(_, r)| r.as_str()).collect();
        expected.sort_unstable();
        assert_eq!(payloads, expected, "{order}: every row once, as received");
        let marked: Vec<&DriverFrame> = commits.iter().filter(|f| f.mark().is_some()).collect();
        assert_eq!(marked.len(), 1, "{order}: one mark: {commits:#?}");
        let last = commits.last().expect("commits");
        assert_eq!(last.text(), newest.1, "{order}: the newest is committed last");
        assert_eq!(ts(last), newest.0, "{order}");
        assert_eq!(last.mark(), Some((DEV_A.to_owned(), newest.0)), "{order}");
        for f in &commits {
            assert_eq!(
                (f.meta("via"), f.meta(lorawan::DEVEUI), f.meta(lorawan::JOINEUI)),
                (Some("history"), Some(DEV_A), Some(APP)),
                "{order}"
            );
            assert_eq!(f.content_type, CONTENT_TYPE);
        }
        // The host saw the same order and now holds the mark.
        let journal: Vec<&str> = h.journal().iter().map(|f| f.text()).collect();
        assert_eq!(journal.last(), Some(&newest.1.as_str()), "{order}");
        assert_eq!(h.marks().get(DEV_A), Some(&newest.0), "{order}");
    }
}

#[test]
fn rows_deleted_between_pages_are_not_skipped() {
    // The server drops its oldest rows (storage period) while the driver
    // pages: every later row moves down, so the next page steps back.
    let rows: Vec<String> = (1..=6_i64).map(|i| item(NOW - 60_000 * (7 - i), i as u64, 2, SI12_CURRENT)).collect();
    let mut h = host(json!({"backfill_page": 2}));
    h.login(ALL_RIGHTS);
    let out = h.recv(&devices_resp(&[DEV_A]));
    let out = h.recv(&serve(&out.requests()[0], &rows));
    assert_eq!(out.requests(), vec![get_data(DEV_A, NOW - INITIAL_MS, 2, 2)]);
    // Two of the rows already read are gone: rows[2..] now start at index 0.
    let remaining = &rows[2..];
    let mut out = h.recv(&serve(&get_data(DEV_A, NOW - INITIAL_MS, 2, 2), remaining));
    assert_eq!(out.requests(), vec![get_data(DEV_A, NOW - INITIAL_MS, 0, 2)], "that page began 2 rows late: back by 2");
    while let Some(req) = out.requests().first().cloned().filter(|r| r["cmd"] == "get_data_req") {
        out = h.recv(&serve(&req, remaining));
    }
    let mut committed: Vec<&str> = h.journal().iter().map(|f| f.text()).collect();
    committed.sort_unstable();
    committed.dedup();
    let mut expected: Vec<&str> = rows.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(committed, expected, "every row committed, none skipped");
    assert_eq!(h.marks().get(DEV_A), Some(&(NOW - 60_000)), "the newest row carries the mark");

    // Deleted rows can leave the next page empty: it still steps back.
    let mut h = host(json!({"backfill_page": 2}));
    h.login(ALL_RIGHTS);
    let out = h.recv(&devices_resp(&[DEV_A]));
    let out = h.recv(&serve(&out.requests()[0], &rows[..4]));
    assert_eq!(out.requests(), vec![get_data(DEV_A, NOW - INITIAL_MS, 2, 2)]);
    let out = h.recv(&serve(&out.requests()[0], &rows[2..4]));
    assert_eq!(out.requests(), vec![get_data(DEV_A, NOW - INITIAL_MS, 0, 2)], "an empty page after deletions");
    h.recv(&serve(&out.requests()[0], &rows[2..4]));
    assert_eq!(h.journal().len(), 4, "{:#?}", h.journal());
    assert_eq!(h.marks().get(DEV_A), Some(&(NOW - 60_000 * 3)));
}

#[test]
fn an_empty_history_makes_the_device_contiguous() {
    let mut h = host(json!({}));
    h.login(ALL_RIGHTS);
    h.recv(&devices_resp(&[DEV_B]));
    let out = h.recv(&data_resp(DEV_B, 0, &[]));
    assert!(out.is_quiet(), "{out:?}");
    let out = h.recv(&rx(DEV_B, NOW + 500, 9, 2, SI12_CURRENT, "UNCONF_UP"));
    assert_eq!(out.commits.len(), 1);
    assert_eq!(out.commits[0].mark(), Some((DEV_B.to_owned(), NOW + 500)));
}

#[test]
fn a_refused_history_leaves_the_device_unmarked() {
    // Without the history the gap from the old mark stays open: a live
    // frame of the device must not carry a mark over it.
    let mut h = host(json!({"resume": {DEV_A: 1_000_000}}));
    h.login(ALL_RIGHTS);
    h.recv(&devices_resp(&[DEV_A, DEV_B]));
    let refused =
        json!({"cmd": "get_data_resp", "status": false, "err_string": "no access to device", "devEui": DEV_A});
    let out = h.recv(&refused.to_string());
    assert_eq!(out.rejects.len(), 1, "{out:?}");
    let (reason, input) = &out.rejects[0];
    assert!(reason.contains(DEV_A) && reason.contains("no access to device"), "{reason}");
    assert_eq!(input, refused.to_string().as_bytes(), "the refusal is kept as received");
    assert_eq!(out.requests(), vec![get_data(DEV_B, NOW - INITIAL_MS, 0, 1000)], "the queue goes on");

    let out = h.recv(&rx(DEV_A, NOW + 1_000, 50, 2, SI12_CURRENT, "UNCONF_UP"));
    assert_eq!(out.commits.len(), 1);
    assert_eq!(out.commits[0].mark(), None, "the gap of A was not back-filled");
    h.close();
    let mut h2 = restarted(&h, json!({}));
    h2.login(ALL_RIGHTS);
    let out = h2.recv(&devices_resp(&[DEV_A]));
    assert_eq!(out.requests(), vec![get_data(DEV_A, 1_000_001, 0, 1000)], "the next connection tries again");
}

#[test]
fn a_history_refused_mid_way_commits_what_it_got_without_a_mark() {
    let mut h = host(json!({"backfill_page": 2}));
    h.login(ALL_RIGHTS);
    h.recv(&devices_resp(&[DEV_A]));
    let rows = [item(NOW - 3_000, 1, 2, SI12_CURRENT), item(NOW - 2_000, 2, 2, SI12_CURRENT)];
    let out = h.recv(&data_resp(DEV_A, 4, &rows));
    assert_eq!(out.requests(), vec![get_data(DEV_A, NOW - INITIAL_MS, 2, 2)]);
    assert_eq!(out.commits.len(), 1, "the newest so far waits: {out:?}");
    let out = h.recv(&json!({"cmd": "get_data_resp", "status": false, "err_string": "database busy"}).to_string());
    assert_eq!(out.rejects.len(), 1, "{out:?}");
    assert!(out.rejects[0].0.contains("database busy"), "{:?}", out.rejects);
    let payloads: Vec<&str> = h.journal().iter().map(|f| f.text()).collect();
    assert_eq!(payloads, vec![rows[0].as_str(), rows[1].as_str()], "both rows of the first page are committed");
    assert!(h.journal().iter().all(|f| f.mark().is_none()), "{:#?}", h.journal());
    assert!(h.marks().is_empty());
    let out = h.recv(&rx(DEV_A, NOW + 1_000, 3, 2, SI12_CURRENT, "UNCONF_UP"));
    assert_eq!(out.commits[0].mark(), None);
}

// ---------------------------------------------------------------------------
// 5. Live uplinks.

#[test]
fn live_rx_is_marked_only_once_the_device_is_back_filled() {
    let mut h = host(json!({}));
    h.login(ALL_RIGHTS);
    let out = h.recv(&devices_resp(&[DEV_A, DEV_B]));
    assert_eq!(out.requests(), vec![get_data(DEV_A, NOW - INITIAL_MS, 0, 1000)]);

    // During A's back-fill: committed, unmarked.
    let live1 = rx(DEV_A, NOW + 1_000, 43, 2, SI12_CURRENT, "UNCONF_UP");
    let out = h.recv(&live1);
    assert_eq!(out.commits.len(), 1, "{out:?}");
    let f = &out.commits[0];
    assert_eq!(f.payload, live1.as_bytes());
    assert_eq!(f.content_type, CONTENT_TYPE);
    let ts = (NOW + 1_000).to_string();
    assert_eq!(
        f.meta_map(),
        meta(&[
            (lorawan::EVENT, "up"),
            (lorawan::SERVER, "vega"),
            (lorawan::DEVEUI, DEV_A),
            (lorawan::JOINEUI, APP),
            (lorawan::FPORT, "2"),
            (lorawan::FCNT, "43"),
            (lorawan::FRM, SI12_CURRENT),
            (lorawan::TS, ts.as_str()),
            (lorawan::RSSI, "-97"),
            (lorawan::SNR, "6.5"),
            ("via", "rx")
        ])
    );
    assert!(out.sent.is_empty(), "{out:?}");

    // An unknown device: committed, back-fill queued behind B.
    let live_c = rx(DEV_C, NOW + 1_500, 7, 2, SI12_CURRENT, "UNCONF_UP");
    let out = h.recv(&live_c);
    assert_eq!(out.commits.len(), 1);
    assert_eq!((out.commits[0].meta(lorawan::DEVEUI), out.commits[0].mark()), (Some(DEV_C), None));
    assert!(out.sent.is_empty(), "A's back-fill is still in flight: {out:?}");

    // A's history: two rows; the newest carries the mark.
    let old = [item(NOW - 7_200_000, 41, 2, SI12_CURRENT), item(NOW - 3_600_000, 42, 2, SI12_CURRENT)];
    let out = h.recv(&data_resp(DEV_A, 2, &old));
    assert_eq!(out.commits.iter().map(FrameView::text).collect::<Vec<_>>(), vec![old[0].as_str(), old[1].as_str()]);
    assert_eq!(out.commits[0].mark(), None);
    assert_eq!(out.commits[1].mark(), Some((DEV_A.to_owned(), NOW - 3_600_000)));
    assert_eq!(out.commits[1].meta("via"), Some("history"));
    assert_eq!(out.commits[1].meta(lorawan::FCNT), Some("42"));
    assert_eq!(out.requests(), vec![get_data(DEV_B, NOW - INITIAL_MS, 0, 1000)]);
    let out = h.recv(&data_resp(DEV_B, 0, &[]));
    assert_eq!(out.requests(), vec![get_data(DEV_C, NOW - INITIAL_MS, 0, 1000)], "C after the queue");

    // After A's back-fill: marked with the rx's ts.
    let out = h.recv(&rx(DEV_A, NOW + 2_000, 44, 2, SI12_CURRENT, "UNCONF_UP"));
    assert_eq!(out.commits.len(), 1);
    assert_eq!(out.commits[0].mark(), Some((DEV_A.to_owned(), NOW + 2_000)));
    assert_eq!(out.commits[0].meta(META_RESUME_MARK), Some((NOW + 2_000).to_string().as_str()));
    // C is still being back-filled.
    let out = h.recv(&rx(DEV_C, NOW + 2_500, 8, 2, SI12_CURRENT, "UNCONF_UP"));
    assert_eq!(out.commits[0].mark(), None);
    h.recv(&data_resp(DEV_C, 1, std::slice::from_ref(&item(NOW + 1_500, 7, 2, SI12_CURRENT))));
    let out = h.recv(&rx(DEV_C, NOW + 3_000, 9, 2, SI12_CURRENT, "UNCONF_UP"));
    assert_eq!(out.commits[0].mark(), Some((DEV_C.to_owned(), NOW + 3_000)));
    assert_eq!(h.marks(), &BTreeMap::from([(DEV_A.to_owned(), NOW + 2_000), (DEV_C.to_owned(), NOW + 3_000)]));
}

#[test]
fn only_data_packet_types_are_committed() {
    for (kind, committed) in [
        ("UNCONF_UP", true),
        ("CONF_UP", true),
        ("UNCONF_UP+MAC_LINKCHECK_REQ", true),
        ("MAC_STATUS_ANS+CONF_UP", true),
        ("REPEATUNCONF_UP", true),
        ("JOIN_REQ", false),
        ("JOIN_ACC", false),
        ("UNCONF_DOWN", false),
        ("CONF_DOWN", false),
        ("MAC_LINKCHECK_REQ", false),
    ] {
        let mut h = host(json!({}));
        h.start(&[DEV_A]);
        let message = rx(DEV_A, NOW + 100, 5, 2, SI12_CURRENT, kind);
        let out = h.recv(&message);
        assert!(out.rejects.is_empty() && out.closes.is_empty(), "{kind}: {out:?}");
        assert_eq!(out.commits.len(), usize::from(committed), "{kind}: {out:?}");
        if committed {
            assert_eq!(out.commits[0].payload, message.as_bytes(), "{kind}");
        }
    }
}

#[test]
fn hex_of_either_case_is_committed_as_received() {
    let mut h = host(json!({}));
    h.start(&[DEV_A]);
    // Lower-case DevEUI and AppEUI, upper-case data, pretty-printed by a
    // different writer: the frame is the object byte for byte.
    let odd = "{\n  \"cmd\": \"rx\",\n  \"type\": \"CONF_UP\",\n  \"devEui\": \"3632333364374f18\",\n  \"appEui\": \
               \"7665676173693132\",\n  \"data\": \"01001CE75128621C00000000000000000000000000000000\",\n  \"port\": \
               2,\n  \"fcnt\": 65535,\n  \"ts\": 1795255201000,\n  \"rssi\": -112, \"snr\": -7.25\n}";
    let out = h.recv(odd);
    assert_eq!(out.commits.len(), 1, "{out:?}");
    let f = &out.commits[0];
    assert_eq!(f.payload, odd.as_bytes());
    assert_eq!(
        f.meta_map(),
        meta(&[
            (lorawan::EVENT, "up"),
            (lorawan::SERVER, "vega"),
            (lorawan::DEVEUI, DEV_A),
            (lorawan::JOINEUI, APP),
            (lorawan::FPORT, "2"),
            (lorawan::FCNT, "65535"),
            (lorawan::FRM, SI12_CURRENT),
            (lorawan::TS, "1795255201000"),
            (lorawan::RSSI, "-112"),
            (lorawan::SNR, "-7.25"),
            ("via", "rx"),
            (META_RESUME_KEY, DEV_A),
            (META_RESUME_MARK, "1795255201000"),
        ])
    );
    let lower = rx(DEV_A, NOW + 2_000, 6, 2, SI12_CURRENT, "UNCONF_UP");
    let out = h.recv(&lower);
    assert_eq!(out.commits[0].payload, lower.as_bytes());
}

// ---------------------------------------------------------------------------
// 6. Re-assembly.

/// A committed frame as the re-assembly tests compare it: payload and meta.
type Seen = (String, BTreeMap<String, String>);

/// Commits and requests of a started session fed `messages`.
fn played(messages: &[&[u8]]) -> (Vec<Seen>, Vec<Value>) {
    let mut h = host(json!({}));
    h.start(&[DEV_A]);
    let mut out = Answers::default();
    for m in messages {
        out.absorb(h.recv_bytes(m));
    }
    assert!(out.rejects.is_empty() && out.closes.is_empty(), "{out:?}");
    (out.commits.iter().map(|f| (f.text().to_owned(), f.meta_map())).collect(), out.requests())
}

#[test]
fn objects_are_cut_out_whatever_the_message_borders() {
    let one = rx(DEV_A, NOW + 1_000, 1, 2, SI12_CURRENT, "UNCONF_UP");
    // The server adds fields the driver does not know; a string with braces,
    // brackets and an escaped quote must not confuse the re-assembly.
    let two = rx(DEV_A, NOW + 2_000, 2, 4, &time_packet(1_795_254_600), "UNCONF_UP").replacen(
        r#""cmd":"rx","#,
        r#""cmd":"rx","devName":"boiler } room {2} [\"east}\"] \\","#,
        1,
    );
    let three = rx(DEV_B, NOW + 3_000, 3, 2, SI12_CURRENT, "CONF_UP");
    let (one, two, three) = (one.as_bytes(), two.as_bytes(), three.as_bytes());
    let baseline = played(&[one, two, three]);
    assert_eq!(baseline.0.len(), 3);
    assert_eq!(baseline.1.iter().filter(|r| r["cmd"] == "send_data_req").count(), 1, "the time packet");

    let glued = [one, b"\n", two, b" ", three].concat();
    assert_eq!(played(&[&glued]), baseline, "three objects in one message");
    let two_and_half = [one, two, &three[..40]].concat();
    assert_eq!(played(&[&two_and_half, &three[40..]]), baseline, "two and a half, then the rest");

    // Every cut point of the object with the tricky string.
    let brace = two.iter().position(|&b| b == b'}').expect("a brace inside the string");
    assert!(brace < two.len() - 1);
    for cut in 1..two.len() {
        assert_eq!(played(&[one, &two[..cut], &two[cut..], three]), baseline, "cut at {cut}");
    }
    // Three pieces, and a piece holding the end of one object and the start of the next.
    for (a, b) in [(1, 2), (brace, brace + 1), (10, two.len() - 1)] {
        assert_eq!(played(&[one, &two[..a], &two[a..b], &[&two[b..], three].concat()]), baseline, "cuts {a},{b}");
    }
}

// ---------------------------------------------------------------------------
// 7. Garbage.

#[test]
fn garbage_is_rejected_with_a_reason_and_the_session_goes_on() {
    let good = rx(DEV_A, NOW + 9_000, 77, 2, SI12_CURRENT, "UNCONF_UP");
    let bad_eui = rx("ZZ32333364374F18", NOW, 1, 2, SI12_CURRENT, "UNCONF_UP");
    let odd_hex = rx(DEV_A, NOW, 1, 2, "01001", "UNCONF_UP");
    let bad_hex = rx(DEV_A, NOW, 1, 2, "01xz", "UNCONF_UP");
    let no_ts = rx(DEV_A, NOW, 1, 2, SI12_CURRENT, "UNCONF_UP").replace(&format!(r#""ts":{NOW},"#), "");
    let no_port = rx(DEV_A, NOW, 1, 2, SI12_CURRENT, "UNCONF_UP").replace(r#""port":2,"#, "");
    let cases: &[(&str, &[u8], &str)] = &[
        ("text", b"hello, server", "not JSON"),
        ("a bare brace", b"}", "not JSON"),
        ("binary", b"\xff\xfe\x00\x81\xc3", "not JSON"),
        ("an array", b"[1,2,3]", "not an IOT Vega Server message"),
        ("a command as an array", br#"["ping_req"]"#, "expected a JSON object, found an array"),
        ("no cmd", br#"{"status":true}"#, "missing field `cmd`"),
        ("broken JSON", br#"{"cmd":"rx","ts":}"#, "not an IOT Vega Server message"),
        ("unknown cmd", br#"{"cmd":"reboot_req","now":true}"#, r#"unknown IOT Vega Server command "reboot_req""#),
        ("bad devEui", bad_eui.as_bytes(), r#"devEui "ZZ32333364374F18" is not 16 hex digits"#),
        ("odd hex", odd_hex.as_bytes(), "odd number of digits"),
        ("bad hex", bad_hex.as_bytes(), "'x' is not a hex digit"),
        ("no ts", no_ts.as_bytes(), "missing field `ts`"),
        ("no port", no_port.as_bytes(), "no port"),
    ];
    for (name, input, expected) in cases {
        let mut h = host(json!({}));
        h.start(&[DEV_A]);
        let out = h.recv_bytes(input);
        assert_eq!(out.rejects.len(), 1, "{name}: {out:?}");
        let (reason, rejected) = &out.rejects[0];
        assert!(reason.contains(expected), "{name}: {reason:?} should contain {expected:?}");
        assert_eq!(rejected, input, "{name}: the refused input");
        assert!(out.commits.is_empty() && out.closes.is_empty() && out.sent.is_empty(), "{name}: {out:?}");
        let out = h.recv(&good);
        assert!(out.rejects.is_empty(), "{name}: {out:?}");
        assert_eq!(out.commits.len(), 1, "{name}: the session goes on");
        assert_eq!(out.commits[0].payload, good.as_bytes(), "{name}");
    }

    // Garbage and a good object in one message.
    let mut h = host(json!({}));
    h.start(&[DEV_A]);
    let out = h.recv(&format!("OK\r\n{good}"));
    assert_eq!(out.rejects.iter().map(|r| r.1.as_slice()).collect::<Vec<_>>(), vec![&b"OK\r\n"[..]]);
    assert_eq!(out.commits.len(), 1);
}

#[test]
fn an_object_that_never_ends_is_rejected_at_the_limit() {
    let mut h = host(json!({"max_message_bytes": 1024}));
    h.start(&[DEV_A]);
    let head = format!(r#"{{"cmd":"rx","devEui":"{DEV_A}","data":"{}"#, "ab".repeat(300));
    let out = h.recv(&head);
    assert!(out.is_quiet(), "under the limit it waits: {out:?}");
    let tail = "ab".repeat(300);
    let out = h.recv(&tail);
    assert_eq!(out.rejects.len(), 1, "{out:?}");
    let (reason, input) = &out.rejects[0];
    assert!(reason.contains("max_message_bytes (1024)"), "{reason}");
    assert_eq!(input, &[head.as_bytes(), tail.as_bytes()].concat());
    let good = rx(DEV_A, NOW + 1, 1, 2, SI12_CURRENT, "UNCONF_UP");
    let out = h.recv(&good);
    assert!(out.rejects.is_empty(), "{out:?}");
    assert_eq!(out.commits.len(), 1);
}

// ---------------------------------------------------------------------------
// 8. Time correction.

#[test]
fn time_packets_get_a_correction_downlink() {
    let ts = NOW + 123;
    let server_s = (NOW / 1000) as u32;
    let with_send: &[&str] = &["get_devices", "get_data", "send_data"];
    let no_send: &[&str] = &["get_devices", "get_data"];
    for (name, extra, rights, port, hex, expected) in [
        ("600 s behind", json!({}), with_send, 4, time_packet(server_s - 600), Some("ff5802000000000000")),
        ("600 s ahead", json!({}), with_send, 4, time_packet(server_s + 600), Some("ffa8fdffffffffffff")),
        ("an hour behind", json!({}), with_send, 4, time_packet(server_s - 3600), Some("ff100e000000000000")),
        ("at the threshold", json!({}), with_send, 4, time_packet(server_s - 5), Some("ff0500000000000000")),
        ("under the threshold", json!({}), with_send, 4, time_packet(server_s - 4), None),
        ("in time", json!({}), with_send, 4, time_packet(server_s), None),
        ("own threshold", json!({"time_correction_threshold_s": 60}), with_send, 4, time_packet(server_s - 59), None),
        ("no send_data right", json!({}), no_send, 4, time_packet(server_s - 600), None),
        ("turned off", json!({"time_correction": false}), with_send, 4, time_packet(server_s - 600), None),
        ("not fPort 4", json!({}), with_send, 2, time_packet(server_s - 600), None),
        ("too long", json!({}), with_send, 4, format!("{}00", time_packet(server_s - 600)), None),
        ("upper case", json!({}), with_send, 4, time_packet(server_s - 600).to_uppercase(), Some("ff5802000000000000")),
    ] {
        let mut h = host(extra);
        h.login(rights);
        h.recv(&devices_resp(&[DEV_A]));
        h.recv(&data_resp(DEV_A, 0, &[]));
        let out = h.recv(&rx(&DEV_A.to_lowercase(), ts, 12, port, &hex, "UNCONF_UP"));
        assert_eq!(out.commits.len(), 1, "{name}: the time packet is data too");
        let expected: Vec<Value> = expected
            .map(|data| {
                json!({"cmd": "send_data_req", "data_list": [{"devEui": DEV_A, "port": 4, "ack": false, "data": data}]})
            })
            .into_iter()
            .collect();
        assert_eq!(out.requests(), expected, "{name}");
    }
}

#[test]
fn back_filled_time_packets_are_never_corrected() {
    let mut h = host(json!({}));
    h.login(ALL_RIGHTS);
    h.recv(&devices_resp(&[DEV_A]));
    let server_s = (NOW / 1000) as u32;
    let rows = [item(NOW - 60_000, 1, 4, &time_packet(server_s - 3600)), item(NOW - 1_000, 2, 4, &time_packet(1))];
    let out = h.recv(&data_resp(DEV_A, 2, &rows));
    assert_eq!(out.commits.len(), 2);
    assert!(out.sent.is_empty(), "{out:?}");
}

// ---------------------------------------------------------------------------
// 9. Marks across sessions and instances; commit failures; user changes.

#[test]
fn only_a_committed_mark_moves_the_next_back_fill() {
    const OLD: i64 = 1_000_000;
    let rows = [item(NOW - 7_000, 1, 2, SI12_CURRENT), item(NOW - 5_000, 2, 2, SI12_CURRENT)];
    for outcome in ["committed", "held", "failed"] {
        let mut h = host(json!({"resume": {DEV_A: OLD}}));
        h.login(ALL_RIGHTS);
        h.recv(&devices_resp(&[DEV_A]));
        h.hold_commits(outcome != "committed");
        let out = h.recv(&data_resp(DEV_A, 2, &rows));
        assert_eq!(
            out.commits.iter().filter_map(FrameView::mark).collect::<Vec<_>>(),
            vec![(DEV_A.to_owned(), NOW - 5_000)]
        );
        match outcome {
            "held" => assert_eq!(h.held().len(), 2),
            "failed" => {
                let out = h.fail_held(1);
                assert_eq!(out.closes.len(), 1, "{out:?}");
                let reason = &out.closes[0];
                assert!(reason.contains("could not be committed") && reason.contains("disk full"), "{reason}");
            }
            _ => assert_eq!(h.journal().len(), 2),
        }
        h.close();

        let expected_from = if outcome == "committed" { NOW - 5_000 + 1 } else { OLD + 1 };
        let out = h.connect();
        assert_eq!(out.cmds(), vec!["token_auth_req"], "{outcome}");
        h.recv(r#"{"cmd":"token_auth_resp","status":true}"#);
        let out = h.recv(&devices_resp(&[DEV_A]));
        assert_eq!(out.requests(), vec![get_data(DEV_A, expected_from, 0, 1000)], "{outcome}");

        // A commit answered after its session closed changes nothing.
        if outcome == "held" {
            let late = h.release();
            assert!(late.is_quiet(), "{late:?}");
            h.close();
            h.connect();
            h.recv(r#"{"cmd":"token_auth_resp","status":true}"#);
            let out = h.recv(&devices_resp(&[DEV_A]));
            assert_eq!(out.requests(), vec![get_data(DEV_A, OLD + 1, 0, 1000)], "late answer");
        }
    }
}

#[test]
fn marks_reach_a_new_instance_through_the_host() {
    let mut h = host(json!({}));
    h.start(&[DEV_A, DEV_B]);
    let out = h.recv(&rx(DEV_A, NOW + 5_000, 10, 2, SI12_CURRENT, "UNCONF_UP"));
    assert_eq!(out.commits[0].mark(), Some((DEV_A.to_owned(), NOW + 5_000)));
    // An older repeat does not move the mark back.
    h.recv(&rx(DEV_A, NOW + 4_000, 9, 2, SI12_CURRENT, "REPEATUNCONF_UP"));
    h.close();
    assert_eq!(h.marks(), &BTreeMap::from([(DEV_A.to_owned(), NOW + 5_000)]));

    // Same instance, next session.
    h.connect();
    h.recv(r#"{"cmd":"token_auth_resp","status":true}"#);
    let out = h.recv(&devices_resp(&[DEV_A]));
    assert_eq!(out.requests(), vec![get_data(DEV_A, NOW + 5_001, 0, 1000)]);

    // A new instance gets the host's marks in its settings.
    let mut fresh = restarted(&h, json!({"backfill_page": 10}));
    let out = fresh.login(ALL_RIGHTS);
    assert_eq!(out.requests()[0]["cmd"], "auth_req", "a new instance has no token");
    let out = fresh.recv(&devices_resp(&[DEV_B, DEV_A]));
    assert_eq!(out.requests(), vec![get_data(DEV_B, NOW - INITIAL_MS, 0, 10)]);
    let out = fresh.recv(&data_resp(DEV_B, 0, &[]));
    assert_eq!(out.requests(), vec![get_data(DEV_A, NOW + 5_001, 0, 10)]);

    // Marks in settings may name the device in lower case; a bad one is refused.
    let mut lower = host(json!({"resume": {"3632333364374f18": 77}}));
    lower.login(ALL_RIGHTS);
    assert_eq!(lower.recv(&devices_resp(&[DEV_A])).requests(), vec![get_data(DEV_A, 78, 0, 1000)]);
    let e = Vega::init(&settings(json!({"resume": {"not-a-eui": 1}}))).expect_err("a bad resume key");
    assert!(e.contains("resume") && e.contains("not-a-eui"), "{e}");
}

#[test]
fn a_changed_user_lists_the_devices_again_and_back_fills_only_new_ones() {
    let mut h = host(json!({}));
    h.start(&[DEV_A]);
    let out = h.recv(r#"{"cmd":"alter_user_resp"}"#);
    assert_eq!(out.requests(), vec![json!({"cmd": "get_devices_req"})]);
    let out = h.recv(&devices_resp(&[DEV_A, DEV_D]));
    assert_eq!(out.requests(), vec![get_data(DEV_D, NOW - INITIAL_MS, 0, 1000)], "A is back-filled already");
}

// ---------------------------------------------------------------------------
// 10. Transport.

#[test]
fn only_websocket_sessions_are_served() {
    for transport in [Transport::Tcp, Transport::Http] {
        let mut h = host(json!({}));
        let out = h.open(transport, PEER);
        assert!(out.sent.is_empty(), "{out:?}");
        assert_eq!(out.closes.len(), 1, "{out:?}");
        let reason = &out.closes[0];
        assert!(reason.contains("websocket") && reason.contains(transport.as_str()), "{reason}");
        let after = h.recv(&rx(DEV_A, NOW, 1, 2, SI12_CURRENT, "UNCONF_UP"));
        assert!(after.is_quiet(), "no session: {after:?}");
    }
}

// ---------------------------------------------------------------------------
// 11. Identity.

#[test]
fn info_agrees_with_plugin_toml() {
    assert_manifest_matches::<Vega>(env!("CARGO_MANIFEST_DIR"));
}
