//! The edges under attack: idle and slow connections time out on every
//! port while a good client goes on, connections over a listener's limits
//! are closed at once, bodies declared too large are refused before they
//! are read, and every refusal, the HTTP parser's own included, is counted.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use meterhub_testkit::{APPLY_DEADLINE, Host, LineClient, default_config, http, plugins_dir, reading, wait_for};
use serde_json::Value;

const TS: i64 = 1_763_719_200_000;

/// `bytes` sent on a fresh connection, and everything read back until the
/// host closes it (or `deadline`).
fn raw(addr: SocketAddr, bytes: &[u8], deadline: Duration) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(deadline)).expect("timeout");
    let _ = stream.write_all(bytes);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// The listener counters of `/api/v1/stats`.
fn listeners(host: &Host) -> Value {
    host.get_ok("/api/v1/stats")["listeners"].clone()
}

/// Holds the connection open by sending one byte of a request every 200 ms
/// until the host closes it or `stop` is set.
fn slowloris(addr: SocketAddr, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<bool> {
    std::thread::spawn(move || {
        let mut stream = TcpStream::connect(addr).expect("connect");
        for byte in b"POST / HTTP/1.1\r\nHost: x\r\n".iter().cycle() {
            if stop.load(Ordering::Relaxed) {
                return false;
            }
            if stream.write_all(&[*byte]).is_err() {
                return true; // closed by the host
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        unreachable!("the cycle never ends")
    })
}

#[test]
fn idle_and_slow_connections_time_out_on_every_port_while_a_good_client_goes_on() {
    const IDLE: usize = 2_000;
    let limits = "max_connections = 10000\nmax_connections_per_peer = 10000\n";
    let config = default_config(&plugins_dir("wasm"))
        .replace(
            "listen = \"127.0.0.1:0\"\n\n[log]",
            &format!("listen = \"127.0.0.1:0\"\nheader_timeout_ms = 2000\n{limits}\n[log]"),
        )
        .replace("transport = \"tcp\"\n", &format!("transport = \"tcp\"\nidle_timeout_ms = 2000\n{limits}"))
        .replace("max_body_bytes = 65536\n", &format!("max_body_bytes = 65536\nheader_timeout_ms = 2000\n{limits}"));
    let host = Host::start_with(&config);
    let ports = [("tcp-in", host.driver("tcp-in")), ("http-in", host.driver("http-in")), ("api", host.api)];

    let idle: Vec<TcpStream> = ports
        .iter()
        .flat_map(|(_, addr)| (0..IDLE).map(move |_| TcpStream::connect(addr).expect("an idle connection")))
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let slow: Vec<_> = ports.iter().map(|(_, addr)| slowloris(*addr, stop.clone())).collect();
    wait_for("every idle connection admitted", APPLY_DEADLINE, || {
        let open = listeners(&host);
        ports.iter().all(|(name, _)| open[name]["accepted"].as_u64().unwrap_or(0) > IDLE as u64).then_some(())
    });

    // A good client ingests over both ports, and the API answers within a second.
    let (status, _) = http(host.driver("http-in"), "POST", "/", reading("m1", "volume", TS, "1").as_bytes());
    assert_eq!(status, 200);
    let mut line = LineClient::connect(host.driver("tcp-in"));
    line.send(reading("m1", "volume", TS + 60_000, "2").as_bytes());
    assert_eq!(line.answer().expect("an answer")["ok"], true);
    line.finish();
    let health =
        raw(host.api, b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", Duration::from_secs(1));
    assert!(health.starts_with("HTTP/1.1 200"), "the API did not answer within a second: {health:?}");

    // The idle ones are closed after their timeout: each reads its end.
    let started = Instant::now();
    for mut stream in idle {
        stream.set_read_timeout(Some(APPLY_DEADLINE)).expect("timeout");
        let mut byte = [0u8; 1];
        match stream.read(&mut byte) {
            Ok(0) | Err(_) if started.elapsed() < APPLY_DEADLINE => {}
            other => panic!("an idle connection was not closed: {other:?}"),
        }
    }
    // The slow ones on the HTTP ports too (the header timeout counts from
    // the first byte); a device port's slow sender is a live session.
    let http_ports_closed: Vec<bool> = {
        let mut slow = slow.into_iter();
        let tcp = slow.next().expect("tcp");
        let closed: Vec<bool> = slow.map(|t| t.join().expect("slowloris")).collect();
        stop.store(true, Ordering::Relaxed);
        let _ = tcp.join();
        closed
    };
    assert_eq!(http_ports_closed, vec![true, true]);

    let counters = wait_for("the timeouts counted", APPLY_DEADLINE, || {
        let l = listeners(&host);
        let idle_closed = l["tcp-in"]["timed_out"]["idle"].as_u64().unwrap_or(0) >= IDLE as u64;
        let heads = ["http-in", "api"].iter().all(|n| l[n]["timed_out"]["header"].as_u64().unwrap_or(0) > IDLE as u64);
        (idle_closed && heads).then_some(l)
    });
    eprintln!("listeners after the flood: {counters}");
    let metrics = String::from_utf8(http(host.api, "GET", "/metrics", b"").1).expect("utf-8");
    assert!(metrics.contains("meterhub_connections_timed_out_total{listener=\"api\",timeout=\"header\"}"), "{metrics}");
    assert!(metrics.contains("meterhub_open_files_limit "), "{metrics}");
    assert!(host.log().contains("open-file limit"), "the limits are logged at start");
}

#[test]
fn connections_over_a_listeners_limits_are_closed_at_once_and_counted() {
    let config = default_config(&plugins_dir("wasm"))
        .replace("transport = \"tcp\"\n", "transport = \"tcp\"\nmax_connections_per_peer = 3\n");
    let host = Host::start_with(&config);
    let addr = host.driver("tcp-in");
    let held: Vec<LineClient> = (0..3).map(|_| LineClient::connect(addr)).collect();
    wait_for("three admitted", APPLY_DEADLINE, || (listeners(&host)["tcp-in"]["open"] == 3).then_some(()));
    assert_eq!(raw(addr, b"", APPLY_DEADLINE), "", "the fourth from one address is closed at once");
    assert_eq!(listeners(&host)["tcp-in"]["refused"]["max_per_peer"], 1);
    drop(held);
    // Their places come free.
    wait_for("the places freed", APPLY_DEADLINE, || (listeners(&host)["tcp-in"]["open"] == 0).then_some(()));
    let mut line = LineClient::connect(addr);
    line.send(reading("m1", "volume", TS, "1").as_bytes());
    assert_eq!(line.answer().expect("an answer")["ok"], true);
}

#[test]
fn bodies_declared_too_large_are_refused_before_they_are_read_and_every_refusal_is_counted() {
    let host = Host::start();
    let deadline = Duration::from_secs(10);
    // 413 at once, though only 3 of 99,999,999,999 bytes come.
    let ingress =
        raw(host.driver("http-in"), b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\nabc", deadline);
    assert!(ingress.starts_with("HTTP/1.1 413"), "{ingress}");
    assert!(ingress.contains("99999999999 bytes declared"), "{ingress}");
    let api = raw(
        host.api,
        b"POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 99999999999\r\n\r\n{",
        deadline,
    );
    assert!(api.starts_with("HTTP/1.1 413"), "{api}");

    // The parser's own refusals and the servers' limits, on the API.
    let garbage = raw(host.api, b"HELLO THERE\r\n\r\n", deadline);
    assert!(garbage.starts_with("HTTP/1.1 400"), "{garbage}");
    let long_target =
        format!("GET /api/v1/health?{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "a".repeat(10_000));
    let uri = raw(host.api, long_target.as_bytes(), deadline);
    assert!(uri.starts_with("HTTP/1.1 414"), "{uri}");
    let big_head =
        format!("GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: {}\r\n\r\n", "b".repeat(40_000));
    let head = raw(host.api, big_head.as_bytes(), deadline);
    assert!(head.starts_with("HTTP/1.1 431"), "{head}");
    for answer in [&api, &uri, &head] {
        assert!(
            answer.to_ascii_lowercase().contains("x-content-type-options: nosniff"),
            "no security headers: {answer}"
        );
    }
    let huge_target = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "c".repeat(70_000));
    let parser_uri = raw(host.api, huge_target.as_bytes(), deadline);
    assert!(parser_uri.starts_with("HTTP/1.1 414"), "{parser_uri}");

    let counted = wait_for("the refusals counted", APPLY_DEADLINE, || {
        let l = listeners(&host);
        let api = &l["api"]["refusals"];
        let done = api["400"].as_u64() >= Some(1)
            && api["413"].as_u64() >= Some(1)
            && api["414"].as_u64() >= Some(2)
            && api["431"].as_u64() >= Some(1)
            && l["http-in"]["refusals"]["413"].as_u64() >= Some(1);
        done.then_some(l)
    });
    eprintln!("refusals: {counted}");
}

/// `POST /api/v1/login` as a browser behind a proxy that forwarded `client`.
fn login_from(api: SocketAddr, client: &str, user: &str, password: &str) -> meterhub_testkit::Response {
    let body = serde_json::json!({ "user": user, "password": password }).to_string();
    let origin = meterhub_testkit::origin(api);
    let headers = [("Origin", origin.as_str()), ("X-Forwarded-For", client)];
    meterhub_testkit::request(api, "POST", "/api/v1/login", &headers, body.as_bytes())
}

#[test]
fn behind_a_trusted_proxy_a_lockout_holds_one_user_at_one_client_and_the_last_admin_stays() {
    let config = default_config(&plugins_dir("wasm")) + "\n[web]\ntrusted_proxies = [\"127.0.0.1\"]\n";
    let host = Host::start_with(&config);
    meterhub_testkit::add_user(&host, &["ann", "--role", "admin"], "ann's long password");
    meterhub_testkit::add_user(&host, &["vera", "--role", "viewer"], "vera's long password");
    let api = host.api;
    for attempt in 1..=5 {
        let r = login_from(api, "203.0.113.9", "vera", "not her password");
        assert_eq!(r.status, 401, "attempt {attempt}");
    }
    assert_eq!(login_from(api, "203.0.113.9", "vera", "vera's long password").status, 429, "locked at that client");
    // Everyone else behind the same proxy goes on: vera elsewhere, ann anywhere.
    assert_eq!(login_from(api, "203.0.113.10", "vera", "vera's long password").status, 200);
    let ann = login_from(api, "203.0.113.9", "ann", "ann's long password");
    assert_eq!(ann.status, 200);
    // The audit log names the client, not the proxy.
    let set_cookie = ann.header("set-cookie").expect("a cookie");
    let session = meterhub_testkit::Session {
        cookie: set_cookie.split(';').next().expect("name=value").to_owned(),
        csrf: ann.json()["csrf"].as_str().expect("csrf").to_owned(),
    };
    let audit = meterhub_testkit::browser(api, &session, "GET", "/api/v1/audit?limit=100", false, "").json();
    let failed: Vec<&Value> =
        audit.as_array().expect("entries").iter().filter(|e| e["action"] == "login_failed").collect();
    assert_eq!(failed.len(), 5, "{audit}");
    assert!(failed.iter().all(|e| e["address"] == "203.0.113.9"), "{audit}");

    // The last admin can be neither removed nor demoted.
    let removed = host.cli(&["user", "remove", "ann"]);
    assert!(!removed.status.success());
    assert!(String::from_utf8_lossy(&removed.stderr).contains("last enabled admin"), "{removed:?}");
    let demoted = meterhub_testkit::browser(api, &session, "PATCH", "/api/v1/users/ann", true, r#"{"role": "viewer"}"#);
    assert_eq!(demoted.status, 400, "{}", demoted.json());
}
