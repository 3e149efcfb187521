//! Tests of the Vega emulator: payload layouts, and the WebSocket and
//! control APIs through a real tokio-tungstenite client on 127.0.0.1.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::devices::{self, Model};
use super::frames::Reassembler;
use super::payloads::{self, hex};
use super::state::{Shared, lock, now_ms};
use super::{FrameMode, Options, Running, UserSpec, start};

/// How long any single wait may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(20);

fn options() -> Options {
    Options {
        listen: "127.0.0.1:0".into(),
        control: "127.0.0.1:0".into(),
        devices: 8,
        ping_ms: 0,
        seed: 7,
        start_paused: true,
        ..Options::default()
    }
}

/// A WebSocket client that re-assembles objects across frames.
struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    reassembler: Reassembler,
    queue: VecDeque<Value>,
    /// `rx` messages seen while waiting for something else.
    rx: Vec<Value>,
    /// Frames that held two objects or more.
    packed_frames: usize,
    /// Frames that ended inside an object.
    split_frames: usize,
    pings: usize,
}

impl Client {
    async fn connect(sim: &Running) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/", sim.websocket)).await.expect("connect");
        Client {
            ws,
            reassembler: Reassembler::default(),
            queue: VecDeque::new(),
            rx: Vec::new(),
            packed_frames: 0,
            split_frames: 0,
            pings: 0,
        }
    }

    async fn send(&mut self, request: Value) {
        self.ws.send(Message::text(request.to_string())).await.expect("send");
    }

    /// The next frame, raw.
    async fn frame(&mut self) -> Message {
        loop {
            match tokio::time::timeout(PATIENCE, self.ws.next()).await.expect("a frame in time") {
                Some(Ok(Message::Ping(_))) => self.pings += 1,
                Some(Ok(Message::Pong(_))) => {}
                Some(Ok(m)) => return m,
                other => panic!("connection ended: {other:?}"),
            }
        }
    }

    /// The next JSON object.
    async fn next(&mut self) -> Value {
        loop {
            if let Some(v) = self.queue.pop_front() {
                return v;
            }
            if let Message::Text(t) = self.frame().await {
                let objects = self.reassembler.push(t.as_str());
                self.packed_frames += usize::from(objects.len() > 1);
                self.split_frames += usize::from(self.reassembler.is_partial());
                for o in objects {
                    self.queue.push_back(serde_json::from_str(&o).expect("the emulator sends valid JSON"));
                }
            }
        }
    }

    /// The next object with this `cmd`; `rx` met on the way are kept.
    async fn expect(&mut self, cmd: &str) -> Value {
        loop {
            let v = self.next().await;
            if v["cmd"] == cmd {
                return v;
            }
            if v["cmd"] == "rx" {
                self.rx.push(v);
            }
        }
    }

    async fn request(&mut self, request: Value) -> Value {
        let name = request["cmd"].as_str().expect("cmd").replace("_req", "_resp");
        self.send(request).await;
        self.expect(&name).await
    }

    async fn login(&mut self, login: &str, password: &str) -> Value {
        let answer = self.request(json!({"cmd": "auth_req", "login": login, "password": password})).await;
        assert_eq!(answer["status"], true, "{answer}");
        answer
    }

    /// Collect `rx` until `done` holds for the collection.
    async fn rx_until(&mut self, mut done: impl FnMut(&[Value]) -> bool) {
        while !done(&self.rx) {
            let v = self.next().await;
            if v["cmd"] == "rx" {
                self.rx.push(v);
            }
        }
    }
}

/// One control API call; the JSON answer.
async fn control(sim: &Running, method: &str, path: &str) -> Value {
    let mut s = TcpStream::connect(sim.control).await.expect("control connect");
    let request = format!("{method} {path} HTTP/1.1\r\nHost: sim\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    s.write_all(request.as_bytes()).await.expect("control write");
    let mut buf = Vec::new();
    tokio::time::timeout(PATIENCE, s.read_to_end(&mut buf)).await.expect("control answer in time").expect("read");
    let text = String::from_utf8(buf).expect("utf-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}\n{body}");
    serde_json::from_str(body).expect("JSON body")
}

/// Poll the control API's stats until `done` holds.
async fn stats_until(sim: &Running, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let stats = control(sim, "GET", "/stats").await;
        if done(&stats) {
            return stats;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}: {stats}");
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

#[test]
fn payloads_follow_the_documented_layouts() {
    // SI-11 v1 / SI-12 type 1, checked against the vendor's SI-12 vector.
    let si = payloads::si_current(&payloads::SiCurrent {
        battery: 0,
        settings: 0x1c,
        time: 1_646_809_575,
        temperature: 28,
        inputs: [0; 4],
    });
    assert_eq!(hex(&si, false), "01001ce75128621c00000000000000000000000000000000");
    let si = payloads::si_current(&payloads::SiCurrent {
        battery: 97,
        settings: payloads::SETTINGS_1H_OTAA_PULSE,
        time: 0x0102_0304,
        temperature: -5,
        inputs: [11, 22, 33, 44],
    });
    assert_eq!((si.len(), si[0], si[1], si[2], le32(&si, 3), si[7] as i8), (24, 1, 97, 0x06, 0x0102_0304, -5));
    assert_eq!([le32(&si, 8), le32(&si, 12), le32(&si, 16), le32(&si, 20)], [11, 22, 33, 44]);

    let gm = payloads::gm2(&payloads::Gm2 {
        battery: 90,
        time: 77,
        temperature: 21,
        reason: 0,
        reading: 123_456,
        initial: 100_000,
    });
    assert_eq!((gm.len(), gm[0], le32(&gm, 1), gm[5], gm[6]), (21, 90, 77, 21, 0));
    assert_eq!((le32(&gm, 13), le32(&gm, 17)), (123_456, 100_000));

    let sg = payloads::sgbm(&payloads::Sgbm { battery: 80, time: 99, temperature: -3, reading: 4242, reboots: 2 });
    assert_eq!((sg.len(), sg[0], sg[1], le32(&sg, 2), sg[6] as i8, le32(&sg, 7), sg[11]), (12, 1, 80, 99, -3, 4242, 2));

    let sh = payloads::shve(&payloads::Shve { battery: 70, temperature: 12, time: 5555, reading: 98_765 });
    assert_eq!((sh.len(), sh[0], sh[1], sh[2], sh[3], sh[4]), (15, 1, 70, 12, 0, 0));
    assert_eq!((le32(&sh, 5), sh[9], sh[10], le32(&sh, 11)), (5555, 0, 0, 98_765));

    let sp = payloads::spbzip_tariffs(&payloads::SpbzipTariffs {
        serial: 12_345_678,
        time: 1000,
        tariff: 2,
        tariffs: [1, 2, 3, 4],
        uuid: 0xBEEF,
    });
    assert_eq!((sp.len(), sp[0], le32(&sp, 1), le32(&sp, 5), sp[9], le32(&sp, 10)), (32, 4, 12_345_678, 1000, 2, 10));
    assert_eq!([le32(&sp, 14), le32(&sp, 18), le32(&sp, 22), le32(&sp, 26)], [1, 2, 3, 4]);
    assert_eq!(u16::from_le_bytes([sp[30], sp[31]]), 0xBEEF);

    let td = payloads::td11(&payloads::Td11 { battery: 66, time: 31, temperature_c10: -125, low: -10, high: 35 });
    assert_eq!((td.len(), td[0], td[1], td[2], le32(&td, 3)), (13, 1, 66, 1, 31));
    assert_eq!((i16::from_le_bytes([td[7], td[8]]), td[9] as i8, td[10] as i8, td[11], td[12]), (-125, -10, 35, 0, 0));

    let mb = payloads::mbus2(&payloads::Mbus2 {
        battery: 100,
        settings: 6,
        serial: 7,
        time: 8,
        energy_wh: 9,
        volume_l: 10,
        hours: 11,
        flow_c100: 7012,
        return_c100: 4512,
        flow_lh: 110,
        power_w: 6000,
    });
    assert_eq!((mb.len(), mb[0], mb[1], mb[2], le32(&mb, 3), le32(&mb, 7)), (38, 1, 100, 6, 7, 8));
    assert_eq!((le32(&mb, 11), le32(&mb, 15), le32(&mb, 19)), (9, 10, 11));
    assert_eq!((u16::from_le_bytes([mb[23], mb[24]]), u16::from_le_bytes([mb[25], mb[26]])), (7012, 4512));
    assert_eq!((u16::from_le_bytes([mb[27], mb[28]]), le32(&mb, 29), le32(&mb, 33), mb[37]), (110, 110, 6000, 4));

    // Time packet and correction (§1.5 examples).
    assert_eq!(hex(&payloads::time_packet(1_646_802_403), false), "ffe3352862");
    assert_eq!(payloads::time_correction(&payloads::unhex("ff100e000000000000").unwrap()), Some(3600));
    assert_eq!(payloads::time_correction(&payloads::unhex("FFA6FFFFFFFFFFFFFF").unwrap()), Some(-90));
    assert_eq!(payloads::time_correction(&[0xFF, 1, 2]), None);
    assert_eq!(payloads::unhex("xyz"), None);

    // Every model's device payload has its length and its time where documented.
    let mut rng = devices::rng(1);
    let lengths = [24, 24, 21, 12, 15, 32, 13, 38];
    let time_at = [3, 3, 1, 2, 5, 5, 3, 7];
    for ((model, len), at) in Model::ALL.into_iter().zip(lengths).zip(time_at) {
        let d = devices::Device::new(0, model, false, 0, &mut rng);
        let p = d.payload(0xA1B2_C3D4);
        assert_eq!(p.as_slice().len(), len, "{model:?}");
        assert_eq!(le32(p.as_slice(), at), 0xA1B2_C3D4, "{model:?}");
    }
}

#[test]
fn reassembler_cuts_packed_and_split_objects_and_skips_junk() {
    let mut r = Reassembler::default();
    assert_eq!(r.push(r#"{"a":1}{"b":"}{"}"#), vec![r#"{"a":1}"#, r#"{"b":"}{"}"#]);
    assert!(r.push(r#" } [1,2,3] {"c":{"d"#).is_empty());
    assert!(r.is_partial());
    assert_eq!(r.push(r#"":[1]}}"#), vec![r#"{"c":{"d":[1]}}"#]);
    assert_eq!(r.push(r#"{"e":"\"}"}"#), vec![r#"{"e":"\"}"}"#]);
}

#[test]
fn user_specs_parse() {
    let u: UserSpec = "reader:pw:get_data,get_devices:0-3,7".parse().unwrap();
    assert_eq!((u.login.as_str(), u.password.as_str()), ("reader", "pw"));
    assert_eq!(u.rights, vec!["get_data", "get_devices"]);
    let all: UserSpec = "a:b".parse().unwrap();
    assert_eq!(all.rights.len(), 20);
    assert!("a:b:frobnicate".parse::<UserSpec>().is_err());
    assert!("a".parse::<UserSpec>().is_err());
    assert!("a:b:all:x".parse::<UserSpec>().is_err());
}

#[test]
fn devices_are_deterministic_and_use_the_vendor_appeuis() {
    let o = Options { devices: 16, history_hours: 3.0, history_interval_min: 30, ..options() };
    let (a, b) = (Shared::new(o.clone(), 1_700_000_000_000), Shared::new(o.clone(), 1_700_000_000_000));
    let c = Shared::new(Options { seed: 8, ..o }, 1_700_000_000_000);
    let euis = |s: &Shared| lock(&s.world).devices.iter().map(|d| d.dev_eui.clone()).collect::<Vec<_>>();
    assert_eq!(euis(&a), euis(&b));
    assert_ne!(euis(&a), euis(&c));
    let world = lock(&a.world);
    for d in &world.devices {
        assert_eq!(d.dev_eui.len(), 16);
        assert!(d.dev_eui.chars().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
        assert_eq!(d.model, Model::ALL[d.index as usize % 8]);
        assert_eq!(d.clock_offset_s, if (d.index + 1) % 4 == 0 { 600 } else { 0 });
    }
    assert_eq!(Model::Si11.app_eui(), "7665676173693131");
    assert_eq!(Model::Mbus2.app_eui(), "4D2D425553203220");
    assert_eq!(Model::Sgbm.app_eui(), "0000000000000000");
    // Six data uplinks per device, and a time packet with the first.
    for h in &world.history {
        let data = h.up.iter().filter(|p| p.port == 2 && p.kind.is_data_up()).count();
        let time = h.up.iter().filter(|p| p.port == 4).count();
        assert_eq!((data, time), (6, 1));
        assert!(h.up.iter().zip(h.up.iter().skip(1)).all(|(x, y)| x.ts < y.ts));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_tokens_and_commands_before_auth() {
    let sim = start(options()).await.unwrap();
    let mut c = Client::connect(&sim).await;
    let early = c.request(json!({"cmd": "get_devices_req"})).await;
    assert_eq!((early["status"].as_bool(), early["err_string"].as_str()), (Some(false), Some("not authorized")));
    let ping = c.request(json!({"cmd": "ping_req"})).await;
    assert_eq!(ping["cmd"], "ping_resp");

    let wrong = c.request(json!({"cmd": "auth_req", "login": "root", "password": "1234"})).await;
    assert_eq!(wrong["status"], false);
    assert!(wrong["err_string"].as_str().is_some_and(|e| !e.is_empty()), "{wrong}");

    let ok = c.login("root", "123").await;
    let token = ok["token"].as_str().unwrap().to_string();
    assert!(token.len() == 32 && token.chars().all(|c| c.is_ascii_hexdigit()), "{ok}");
    assert_eq!(ok["device_access"], "FULL");
    assert_eq!(ok["command_list"].as_array().unwrap().len(), 20);
    assert_eq!(ok["rx_settings"], json!({"unsolicited": true, "direction": "UPLINK", "withMacCommands": false}));
    let devices = c.request(json!({"cmd": "get_devices_req"})).await;
    assert_eq!(devices["devices_list"].as_array().unwrap().len(), 8);

    // The token works on a new connection, until it is closed.
    drop(c);
    let mut c2 = Client::connect(&sim).await;
    let resumed = c2.request(json!({"cmd": "token_auth_req", "token": token})).await;
    assert_eq!((resumed["status"].as_bool(), resumed["device_access"].as_str()), (Some(true), Some("FULL")));
    assert_eq!(c2.request(json!({"cmd": "get_devices_req"})).await["status"], true);
    let closed = c2.request(json!({"cmd": "close_auth_req", "token": token})).await;
    assert_eq!(closed["status"], true);
    assert_eq!(c2.request(json!({"cmd": "get_devices_req"})).await["err_string"], "not authorized");
    let stale = c2.request(json!({"cmd": "token_auth_req", "token": token})).await;
    assert_eq!(stale["status"], false);

    let stats = stats_until(&sim, "one connection", |s| s["connections"] == 1).await;
    assert_eq!((stats["auth_ok"].as_u64(), stats["auth_failed"].as_u64()), (Some(1), Some(1)));
    assert_eq!((stats["token_auth_ok"].as_u64(), stats["sessions_authenticated"].as_u64()), (Some(1), Some(0)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rights_and_selected_device_access() {
    let users = vec![UserSpec::root(), "reader:pw:get_devices,get_device_appdata:0-1".parse().unwrap()];
    let sim = start(Options { users, ..options() }).await.unwrap();
    let (mut root, mut reader) = (Client::connect(&sim).await, Client::connect(&sim).await);
    root.login("root", "123").await;
    let auth = reader.login("reader", "pw").await;
    assert_eq!((auth["device_access"].as_str(), auth["consoleEnable"].as_bool()), (Some("SELECTED"), Some(false)));

    let all = root.request(json!({"cmd": "get_devices_req"})).await;
    let euis: Vec<String> =
        all["devices_list"].as_array().unwrap().iter().map(|d| d["devEui"].as_str().unwrap().to_string()).collect();
    let mine = reader.request(json!({"cmd": "get_devices_req"})).await;
    let mine: Vec<&str> =
        mine["devices_list"].as_array().unwrap().iter().map(|d| d["devEui"].as_str().unwrap()).collect();
    assert_eq!(mine, vec![euis[0].as_str(), euis[1].as_str()]);

    let denied = reader.request(json!({"cmd": "get_data_req", "devEui": euis[0]})).await;
    assert_eq!((denied["status"].as_bool(), denied["err_string"].as_str()), (Some(false), Some("permission denied")));
    let denied = reader.request(json!({"cmd": "send_data_req", "data_list": []})).await;
    assert_eq!(denied["err_string"], "permission denied");

    // Two rounds over the 8 devices: root hears everything; the reader, once it has the
    // second round's uplink of device 1, has been past every other device's first uplink.
    control(&sim, "POST", "/generate?count=16").await;
    let data_of = |rx: &[Value], eui: &str| rx.iter().filter(|r| r["devEui"] == eui && r["port"] == 2).count();
    root.rx_until(|rx| euis.iter().all(|e| data_of(rx, e) >= 2)).await;
    reader.rx_until(|rx| data_of(rx, &euis[1]) >= 2).await;
    assert!(reader.rx.iter().all(|r| r["devEui"] == euis[0] || r["devEui"] == euis[1]), "{:?}", reader.rx);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_data_pages_and_filters_the_history() {
    let o = Options { devices: 3, history_hours: 24.0, history_interval_min: 1, ..options() };
    let sim = start(o).await.unwrap();
    let (eui, expected): (String, Vec<i64>) = {
        let world = lock(&sim.shared.world);
        (world.devices[0].dev_eui.clone(), world.history[0].up.iter().map(|p| p.ts).collect())
    };
    assert!(expected.len() > 1440, "{}", expected.len());
    let mut c = Client::connect(&sim).await;
    c.login("root", "123").await;

    // Default page: 1000 rows; limit capped at 1000.
    let first = c.request(json!({"cmd": "get_data_req", "devEui": eui})).await;
    assert_eq!((first["status"].as_bool(), first["totalNum"].as_u64()), (Some(true), Some(expected.len() as u64)));
    assert_eq!((first["direction"].as_str(), first["devEui"].as_str()), (Some("UPLINK"), Some(eui.as_str())));
    assert_eq!(first["appEui"], Model::Si11.app_eui());
    assert_eq!(first["data_list"].as_array().unwrap().len(), 1000);
    let big = c.request(json!({"cmd": "get_data_req", "devEui": eui, "select": {"limit": 5000}})).await;
    assert_eq!(big["data_list"].as_array().unwrap().len(), 1000);

    // Paging with begin_index/limit gives every row once, oldest first.
    let mut got = Vec::new();
    let mut begin = 0;
    loop {
        let page = c
            .request(json!({"cmd": "get_data_req", "devEui": eui.to_ascii_lowercase(),
                "select": {"begin_index": begin, "limit": 300}}))
            .await;
        let rows = page["data_list"].as_array().unwrap();
        got.extend(rows.iter().map(|r| r["ts"].as_i64().unwrap()));
        begin += rows.len();
        if rows.is_empty() || begin >= page["totalNum"].as_u64().unwrap() as usize {
            break;
        }
    }
    assert_eq!(got, expected);
    let row = &first["data_list"][0];
    for field in ["ts", "gatewayId", "ack", "fcnt", "port", "data", "macData", "freq", "dr", "rssi", "snr", "type"] {
        assert!(row.get(field).is_some(), "{field} missing in {row}");
    }
    assert!(row.get("packetStatus").is_some());

    // Date range, inclusive at both ends; port filter; direction; unknown device.
    let (from, to) = (expected[10], expected[19]);
    let range = c
        .request(
            json!({"cmd": "get_data_req", "devEui": eui, "select": {"date_from": from, "date_to": to.to_string()}}),
        )
        .await;
    let ts: Vec<i64> = range["data_list"].as_array().unwrap().iter().map(|r| r["ts"].as_i64().unwrap()).collect();
    assert_eq!((range["totalNum"].as_u64(), ts), (Some(10), expected[10..20].to_vec()));
    let time = c.request(json!({"cmd": "get_data_req", "devEui": eui, "select": {"port": 4, "limit": 1000}})).await;
    let rows = time["data_list"].as_array().unwrap();
    assert!(!rows.is_empty() && rows.iter().all(|r| r["port"] == 4 && r["data"].as_str().unwrap().len() == 10));
    let down = c.request(json!({"cmd": "get_data_req", "devEui": eui, "select": {"direction": "DOWNLINK"}})).await;
    assert_eq!(down["totalNum"], 0);
    let unknown = c.request(json!({"cmd": "get_data_req", "devEui": "0011223344556677"})).await;
    assert_eq!(unknown["status"], false);
    let stats = control(&sim, "GET", "/stats").await;
    assert!(stats["get_data_requests"].as_u64().unwrap() >= 8, "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_time_correction_shows_in_the_next_time_packet() {
    let sim = start(Options { devices: 1, drift_every: 1, ..options() }).await.unwrap();
    let mut c = Client::connect(&sim).await;
    c.login("root", "123").await;
    control(&sim, "POST", "/generate?count=1").await;
    c.rx_until(|rx| rx.iter().any(|r| r["port"] == 4)).await;
    let time_packets = |uplinks: &Value| -> Vec<i64> {
        uplinks
            .as_array()
            .unwrap()
            .iter()
            .filter(|u| u["port"] == 4)
            .map(|u| u["device_time"].as_i64().unwrap())
            .collect()
    };
    let eui = lock(&sim.shared.world).devices[0].dev_eui.clone();
    let before = time_packets(&control(&sim, "GET", &format!("/uplinks?devEui={eui}")).await);
    let now_s = now_ms() / 1000;
    assert_eq!(before.len(), 1);
    assert!((before[0] - now_s - 600).abs() <= 5, "{before:?} vs {now_s}");

    let mut correction = vec![0xFF];
    correction.extend_from_slice(&(-600i64).to_le_bytes());
    let data = hex(&correction, false);
    let answer = c
        .request(json!({"cmd": "send_data_req", "data_list": [
            {"devEui": eui, "data": data, "port": 4, "ack": false},
            {"devEui": "0011223344556677", "data": "00", "port": 2, "ack": false},
        ]}))
        .await;
    assert_eq!(
        answer["append_status"],
        json!([{"devEui": eui, "status": true}, {"devEui": "0011223344556677", "status": false}])
    );
    // The downlink is pushed back as an rx the client must not take for data.
    c.rx_until(|rx| rx.iter().any(|r| r["type"] == "UNCONF_DOWN")).await;
    let down = c.rx.iter().find(|r| r["type"] == "UNCONF_DOWN").unwrap();
    assert_eq!((down["port"].as_u64(), down["data"].as_str().map(str::to_ascii_lowercase)), (Some(4), Some(data)));
    let stats = control(&sim, "GET", "/stats").await;
    assert_eq!(stats["downlinks"][0]["correction_s"], -600);

    control(&sim, "POST", "/generate?count=24").await;
    let after = time_packets(&control(&sim, "GET", &format!("/uplinks?devEui={eui}")).await);
    assert_eq!(after.len(), 2);
    assert!((after[1] - now_ms() / 1000).abs() <= 5, "{after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_frames_carry_the_same_objects() {
    let sim = start(Options { frame_mode: FrameMode::Mixed, ..options() }).await.unwrap();
    let mut c = Client::connect(&sim).await;
    c.login("root", "123").await;
    control(&sim, "POST", "/generate?count=400").await;
    let uplinks = control(&sim, "GET", "/uplinks").await;
    let expected: HashSet<(String, u64, u64, String)> = uplinks
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            let data = u["data"].as_str().unwrap().to_ascii_lowercase();
            (u["devEui"].as_str().unwrap().to_string(), u["fcnt"].as_u64().unwrap(), u["port"].as_u64().unwrap(), data)
        })
        .collect();
    assert!(expected.len() >= 400);
    let key = |r: &Value| {
        let data = r["data"].as_str().unwrap().to_ascii_lowercase();
        (r["devEui"].as_str().unwrap().to_string(), r["fcnt"].as_u64().unwrap(), r["port"].as_u64().unwrap(), data)
    };
    c.rx_until(|rx| {
        let got: HashSet<_> = rx.iter().filter(|r| r["type"] != "JOIN_REQ").map(key).collect();
        expected.is_subset(&got)
    })
    .await;
    assert!(c.packed_frames > 0 && c.split_frames > 0, "packed {} split {}", c.packed_frames, c.split_frames);
    let cases: HashSet<bool> =
        c.rx.iter().filter_map(|r| r["data"].as_str()).map(|d| d.contains(char::is_uppercase)).collect();
    assert_eq!(cases.len(), 2, "both hex cases occur");
    let types: HashSet<&str> = c.rx.iter().filter_map(|r| r["type"].as_str()).collect();
    assert!(types.contains("UNCONF_UP") && types.contains("CONF_UP"), "{types:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_garbage_drop_stall_and_alter_user() {
    let sim = start(Options { ping_ms: 50, ..options() }).await.unwrap();
    let mut c = Client::connect(&sim).await;
    let token = c.login("root", "123").await["token"].as_str().unwrap().to_string();

    // Pings, then the garbage set in its own frames.
    while c.pings == 0 {
        c.send(json!({"cmd": "ping_req"})).await;
        c.expect("ping_resp").await;
    }
    let answer = control(&sim, "POST", "/fault/garbage").await;
    assert_eq!(answer["sessions"], 1);
    let mut frames = Vec::new();
    for _ in 0..6 {
        frames.push(c.frame().await);
    }
    assert_eq!(frames[0], Message::text("this is not JSON"));
    assert!(matches!(&frames[1], Message::Text(t) if t.contains("ZZZZZZZZZZZZZZZZ")));
    assert!(matches!(&frames[2], Message::Text(t) if t.contains("surprise_resp")));
    assert!(matches!(&frames[3], Message::Binary(_)));
    assert_eq!((&frames[4], &frames[5]), (&Message::text("[1,2,3]"), &Message::text("}")));

    // alter_user_resp after new devices.
    control(&sim, "POST", "/alter-user?add_devices=2").await;
    c.expect("alter_user_resp").await;
    let devices = c.request(json!({"cmd": "get_devices_req"})).await;
    assert_eq!(devices["devices_list"].as_array().unwrap().len(), 10);

    // A stall: the answer waits for its end.
    let stalled = Instant::now();
    control(&sim, "POST", "/fault/stall?ms=300").await;
    c.request(json!({"cmd": "ping_req"})).await;
    assert!(stalled.elapsed() >= Duration::from_millis(250), "{:?}", stalled.elapsed());

    // A drop: the stream ends without a close frame; the token still works.
    control(&sim, "POST", "/fault/drop").await;
    loop {
        match tokio::time::timeout(PATIENCE, c.ws.next()).await.expect("the drop in time") {
            Some(Ok(Message::Close(_))) => panic!("a close frame was sent"),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => break,
        }
    }
    let mut c2 = Client::connect(&sim).await;
    assert_eq!(c2.request(json!({"cmd": "token_auth_req", "token": token})).await["status"], true);
    let stats = stats_until(&sim, "the dropped connection to be gone", |s| s["connections"] == 1).await;
    assert_eq!(stats["garbage_sent"], 6);
    assert!(stats["pings_sent"].as_u64().unwrap() >= 1 && stats["drops"] == 1, "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appdata_names_the_models() {
    let sim = start(options()).await.unwrap();
    let mut c = Client::connect(&sim).await;
    c.login("root", "123").await;
    let appdata = c.request(json!({"cmd": "get_device_appdata_req", "keyword": ["add_data_info"]})).await;
    let list = appdata["devices_list"].as_array().unwrap();
    assert_eq!(list.len(), 8);
    for (d, model) in list.iter().zip(Model::ALL) {
        assert_eq!(d["appEui"], model.app_eui());
        assert!(d["device_type"].as_str().unwrap().starts_with(model.name()), "{d}");
    }
    assert!(list[3]["device_type"].as_str().unwrap().contains("no AppEUI"));
    let spbzip = c
        .request(json!({"cmd": "get_devices_req", "select": {"appEui_list": ["5350625A49503237", "5350625A4950574C"]}}))
        .await;
    let spbzip = spbzip["devices_list"].as_array().unwrap();
    assert_eq!(spbzip.len(), 1);
    assert_eq!(spbzip[0]["OTAA"]["appEui"], "5350625A49503237");
}
