//! LoRaWAN uplinks through the `lw640` driver with durable acknowledgements,
//! end to end through the real `meterhub` binary:
//!
//! - `http`: `connections` keep-alive connections post ChirpStack v4 `up`
//!   events (a Vega SI-12 each, distinct devices and times, routed to
//!   vega-codec by profile), each waiting for its `200` (sent only after
//!   the frame's fdatasync): uplinks/s and the p50/p99 of the answer;
//! - `mqtt`: a publisher sends the same events at QoS 1 to the machine's
//!   Mosquitto (127.0.0.1:1883), the host subscribed in a persistent
//!   session: uplinks/s acknowledged to the broker after the commit, and
//!   the commit-to-PUBACK latency from the host's
//!   `meterhub_mqtt_ack_seconds` histogram (p50/p99 as the bucket bounds
//!   that hold them). The publisher keeps at most `window` messages ahead
//!   of the host's acknowledgements: Mosquitto drops messages beyond
//!   `max_queued_messages` (1000 by default) for a session.
//!
//! Each part then waits until the archive holds every uplink's readings.
//!
//! Build the host and plugins first (`scripts/bench lorawan` does), then
//! `cargo bench -p meterhub --bench lorawan [-- options]`.
//!
//! | argument             | environment                  | default |
//! |----------------------|------------------------------|---------|
//! | `--part P` or `P`    | `METERHUB_BENCH_PART`        | `both` (`http`, `mqtt`, `both`) |
//! | `--uplinks N`        | `METERHUB_BENCH_UPLINKS`     | 20000 per part |
//! | `--connections C`    | `METERHUB_BENCH_CONNECTIONS` | 16 (http) |
//! | `--window W`         | `METERHUB_BENCH_WINDOW`      | 500 (mqtt) |
//! | `--kind K`           | `METERHUB_BENCH_KIND`        | `wasm` (`native`) |
//! | `--keep`             | `METERHUB_BENCH_KEEP=1`      | remove data dirs |

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use meterhub_testkit::bench::{Args, bench_data, ms, percentile, release_plugins};
use meterhub_testkit::{Host, host_tables};
use rumqttc::{Client, Event, MqttOptions, Outgoing, Packet, QoS};
use serde_json::json;

const TOKEN: &str = "Bearer bench";
/// 2026-12-01 00:00:00 UTC, seconds.
const T0: u32 = 1_764_547_200;

struct Options {
    parts: Vec<&'static str>,
    uplinks: u64,
    connections: usize,
    window: u64,
    kind: String,
    keep: bool,
}

fn options() -> Options {
    let args = Args::parse(
        &[
            ("--part", "METERHUB_BENCH_PART"),
            ("--uplinks", "METERHUB_BENCH_UPLINKS"),
            ("--connections", "METERHUB_BENCH_CONNECTIONS"),
            ("--window", "METERHUB_BENCH_WINDOW"),
            ("--kind", "METERHUB_BENCH_KIND"),
        ],
        |word| ["http", "mqtt", "both"].contains(&word).then_some("--part"),
        "lorawan",
    );
    let parts = match args.get("--part").unwrap_or("both") {
        "http" => vec!["http"],
        "mqtt" => vec!["mqtt"],
        "both" => vec!["http", "mqtt"],
        other => panic!("--part: expected http, mqtt or both, got {other:?}"),
    };
    Options {
        parts,
        uplinks: args.positive("--uplinks", 20_000),
        connections: args.positive("--connections", 16),
        window: args.positive("--window", 500),
        kind: args.plugin_kind(),
        keep: args.keep,
    }
}

/// The SI-12 current-values payload of uplink `i`: its own time, input 2
/// counting up.
fn payload(i: u64) -> Vec<u8> {
    let mut p = vec![0x01, 90, 0x1c];
    p.extend_from_slice(&(T0 + u32::try_from(i).unwrap_or(u32::MAX)).to_le_bytes());
    p.push(21);
    for input in 0..4u32 {
        p.extend_from_slice(&(if input == 1 { u32::try_from(i).unwrap_or(0) } else { 0 }).to_le_bytes());
    }
    p
}

fn dev_eui(i: u64) -> String {
    format!("70B3D5E75E{:06X}", i % 1000)
}

/// A ChirpStack v4 `up` event of uplink `i`.
fn event(i: u64) -> String {
    json!({
        "deduplicationId": format!("00000000-0000-4000-8000-{i:012}"),
        "time": "2026-12-01T00:00:00.000000001+00:00",
        "deviceInfo": {"applicationName": "bench", "deviceProfileName": "SI-12", "deviceName": format!("d{i}"), "devEui": dev_eui(i)},
        "devAddr": "00189440", "fCnt": i / 1000, "fPort": 2,
        "data": base64::engine::general_purpose::STANDARD.encode(payload(i)),
        "rxInfo": [{"gatewayId": "0016c001f153a14c", "rssi": -97, "snr": 7.5}]
    })
    .to_string()
}

fn config(plugins: &std::path::Path, transport: &str) -> String {
    host_tables(plugins)
        + &format!(
            "\n[log]\nlevel = \"warn\"\n\n[drivers.lns]\nplugin = \"lw640\"\n{transport}\n\n\
             [[drivers.lns.devices]]\nprofile = \"SI-12\"\ncodec = \"vega-codec\"\nmodel = \"SI-12\"\n"
        )
}

fn main() {
    let options = options();
    let plugins = release_plugins(&options.kind);
    println!(
        "lorawan: {} uplinks per part (ChirpStack v4 up events, Vega SI-12, {} plugins), {} cores",
        options.uplinks,
        options.kind,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    for part in &options.parts {
        let dir = bench_data().join(format!("lorawan-{part}-{}", std::process::id()));
        match *part {
            "http" => http(&options, &plugins, &dir),
            _ => mqtt(&options, &plugins, &dir),
        }
    }
}

fn http(options: &Options, plugins: &std::path::Path, dir: &std::path::Path) {
    let transport = format!(
        "transport = \"http\"\nlisten = \"127.0.0.1:0\"\nmax_connections_per_peer = 10000\n\
         [drivers.lns.settings]\nauth_token = \"{TOKEN}\""
    );
    let host = Host::start_in(dir, &config(plugins, &transport), options.keep);
    let addr = host.driver("lns");
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let threads: Vec<_> = (0..options.connections)
        .map(|_| {
            let next = next.clone();
            let total = options.uplinks;
            std::thread::spawn(move || post_until(addr, &next, total))
        })
        .collect();
    let mut latencies: Vec<u32> = threads.into_iter().flat_map(|t| t.join().expect("a connection")).collect();
    let took = started.elapsed();
    latencies.sort_unstable();
    println!(
        "http: {} uplinks in {:.1} s over {} connections: {:.0} uplinks/s acknowledged after fdatasync; answer p50 {:.2} ms, p99 {:.2} ms",
        latencies.len(),
        took.as_secs_f64(),
        options.connections,
        latencies.len() as f64 / took.as_secs_f64(),
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.99)),
    );
    archived(&host, options.uplinks, started);
}

/// Post events until `total` are taken by all connections; the answer
/// latency of each, microseconds.
fn post_until(addr: SocketAddr, next: &AtomicU64, total: u64) -> Vec<u32> {
    let stream = TcpStream::connect(addr).expect("connect to the driver");
    stream.set_nodelay(true).expect("nodelay");
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    let mut latencies = Vec::new();
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= total {
            return latencies;
        }
        let body = event(i);
        let request = format!(
            "POST /?event=up HTTP/1.1\r\nHost: bench\r\nAuthorization: {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let sent = Instant::now();
        writer.write_all(request.as_bytes()).expect("send");
        let status = read_response(&mut reader);
        assert_eq!(status, 200, "uplink {i} not acknowledged");
        latencies.push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX));
    }
}

/// Read one HTTP/1.1 response with a Content-Length; its status.
fn read_response(reader: &mut BufReader<TcpStream>) -> u16 {
    let mut line = String::new();
    reader.read_line(&mut line).expect("status line");
    let status = line.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status");
    let mut length = 0usize;
    loop {
        line.clear();
        reader.read_line(&mut line).expect("header");
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().expect("content-length");
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).expect("body");
    status
}

fn mqtt(options: &Options, plugins: &std::path::Path, dir: &std::path::Path) {
    let unique = format!("bench-{}-{}", std::process::id(), meterhub_testkit::now_ms());
    let root = format!("meterhub-bench/{unique}");
    let client_id = format!("meterhub-{unique}");
    let filter = format!("{root}/application/+/device/+/event/+");
    let transport = format!(
        "transport = \"mqtt\"\nurl = \"mqtt://127.0.0.1:1883\"\ntopics = [\"{filter}\"]\nclient_id = \"{client_id}\""
    );
    // The host's persistent session exists before it runs: what is
    // published from now on waits for it.
    let mut session = MqttOptions::new(&client_id, "127.0.0.1", 1883);
    session.set_clean_session(false);
    let (c, mut connection) = Client::new(session, 10);
    c.subscribe(&filter, QoS::AtLeastOnce).expect("subscribe");
    for event in connection.iter() {
        match event {
            Ok(Event::Incoming(Packet::SubAck(_))) => break,
            Ok(_) => {}
            Err(e) => panic!("the broker at 127.0.0.1:1883: {e}"),
        }
    }
    let _ = c.disconnect();
    let host = Host::start_in(dir, &config(plugins, &transport), options.keep);
    let mut mqtt_options = MqttOptions::new(format!("{client_id}-pub"), "127.0.0.1", 1883);
    mqtt_options.set_keep_alive(Duration::from_secs(30)).set_inflight(200);
    let (client, mut connection) = Client::new(mqtt_options, 1000);
    std::thread::spawn(move || {
        for event in connection.iter() {
            if matches!(event, Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_)) {
                return;
            }
        }
    });
    let before = acked(&host);
    let started = Instant::now();
    let mut published = 0u64;
    let mut host_acked = 0u64;
    while published < options.uplinks {
        if published - host_acked < options.window {
            let i = published;
            let topic = format!("{root}/application/bench/device/{}/event/up", dev_eui(i).to_ascii_lowercase());
            client.publish(topic, QoS::AtLeastOnce, false, event(i)).expect("publish");
            published += 1;
        } else {
            host_acked = acked(&host).0 - before.0;
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while host_acked < options.uplinks {
        assert!(Instant::now() < deadline, "the host acknowledged {host_acked} of {}", options.uplinks);
        std::thread::sleep(Duration::from_millis(5));
        host_acked = acked(&host).0 - before.0;
    }
    let took = started.elapsed();
    let (_, buckets) = acked(&host);
    let quantile = |q: f64| {
        let total = *buckets.last().map(|(_, c)| c).unwrap_or(&0) as f64;
        buckets.iter().find(|(_, c)| *c as f64 >= q * total).map_or_else(|| "?".to_owned(), |(le, _)| le.clone())
    };
    println!(
        "mqtt: {} uplinks in {:.1} s: {:.0} uplinks/s acknowledged to the broker after the commit (window {}); commit-to-PUBACK p50 <= {} s, p99 <= {} s",
        options.uplinks,
        took.as_secs_f64(),
        options.uplinks as f64 / took.as_secs_f64(),
        options.window,
        quantile(0.50),
        quantile(0.99),
    );
    archived(&host, options.uplinks, started);
    let _ = client.disconnect();
    // Remove the bench's session from the broker.
    let mut clean = MqttOptions::new(client_id, "127.0.0.1", 1883);
    clean.set_clean_session(true);
    let (c, _connection) = Client::new(clean, 10);
    let _ = c.disconnect();
}

/// The host's `meterhub_mqtt_ack_seconds`: its count, and the cumulative
/// buckets (upper bound, count).
fn acked(host: &Host) -> (u64, Vec<(String, u64)>) {
    let (status, body) = meterhub_testkit::http(host.api, "GET", "/metrics", b"");
    assert_eq!(status, 200, "/metrics");
    let text = String::from_utf8_lossy(&body);
    let mut count = 0;
    let mut buckets = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("meterhub_mqtt_ack_seconds_count ") {
            count = rest.trim().parse().unwrap_or(0);
        } else if let Some(rest) = line.strip_prefix("meterhub_mqtt_ack_seconds_bucket{le=\"") {
            let (le, value) = rest.split_once("\"} ").unwrap_or(("?", "0"));
            buckets.push((le.to_owned(), value.trim().parse().unwrap_or(0)));
        }
    }
    (count, buckets)
}

/// Wait until the archive holds every one of `uplinks` frames and say how
/// long it took from the start.
fn archived(host: &Host, uplinks: u64, started: Instant) {
    let deadline = Instant::now() + Duration::from_secs(300);
    let stats = loop {
        let stats = host.get_ok("/api/v1/stats");
        let lns = &stats["sources"]["lns"];
        let settled =
            ["archived", "duplicate", "quarantined"].iter().map(|k| lns[k].as_u64().unwrap_or(0)).sum::<u64>();
        if settled >= uplinks && stats["balanced"] == true {
            break stats;
        }
        assert!(Instant::now() < deadline, "the archive is stuck:\n{stats:#}");
        std::thread::sleep(Duration::from_millis(50));
    };
    println!(
        "  archived: {} readings of {} uplinks, {:.1} s after the start; quarantined {}",
        stats["sources"]["lns"]["readings_new"],
        uplinks,
        started.elapsed().as_secs_f64(),
        stats["sources"]["lns"]["quarantined"]
    );
}
