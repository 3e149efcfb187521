//! Sinks end to end: the real binary, the real `postgres` sink plugin and a
//! real PostgreSQL (a schema of the test's own on the machine's shared
//! server, or a throwaway cluster the test stops and starts).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use meterhub_testkit::postgres::{Client, Cluster, Schema};
use meterhub_testkit::{APPLY_DEADLINE, Host, LineClient, default_config, plugins_dir, reading, wait_for};

const TS: i64 = 1_764_547_200_000; // 2025-12-01T00:00:00Z

/// The config of a host with the listener on TCP and HTTP and, when `sink`
/// is given, a `[sinks.pg]` table with its lines.
fn config(sink: Option<&str>) -> String {
    config_with("wasm", sink)
}

/// The same with the plugins of `kind` (`wasm` or `native`).
fn config_with(kind: &str, sink: Option<&str>) -> String {
    let mut text = default_config(&plugins_dir(kind));
    if let Some(sink) = sink {
        text.push_str(sink);
    }
    text
}

/// A `[sinks.<id>]` table writing to `url`, schema `schema`.
fn sink_table(id: &str, url: &str, schema: &str, extra: &str) -> String {
    let linger = if extra.contains("linger_ms") { "" } else { "linger_ms = 20\n" };
    format!("\n[sinks.{id}]\nplugin = \"postgres\"\nurl = \"{url}\"\nschema = \"{schema}\"\n{linger}{extra}\n")
}

/// `text` without terminal colour sequences.
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The status of sink `id`, if the host shows it.
fn sink_status(host: &Host, id: &str) -> Option<Value> {
    let status = host.get_ok("/api/v1/status");
    status["sinks"].as_array()?.iter().find(|s| s["id"] == id).cloned()
}

/// Wait until sink `id` has delivered through `seq` and shows no lag.
fn wait_delivered(host: &Host, id: &str, seq: u64, deadline: Duration) -> Value {
    wait_for(&format!("sink {id} to deliver through {seq}"), deadline, || {
        let s = sink_status(host, id)?;
        (s["position"].as_u64() >= Some(seq) && s["lag_records"] == 0 && s["state"] == "running").then_some(s)
    })
}

/// Send `lines` over TCP, every one acknowledged.
fn send_lines(host: &Host, lines: &[String]) {
    meterhub_testkit::line::send_acked(host.driver("tcp-in"), lines);
}

/// Every reading of the archive as the API shows it, by seq (device by
/// device, in pages of the API's largest limit).
fn api_readings(host: &Host) -> BTreeMap<u64, Value> {
    const PAGE: usize = 100_000;
    let mut out = BTreeMap::new();
    for device in host.get_ok("/api/v1/devices").as_array().unwrap() {
        let device = device["device"].as_str().unwrap();
        let mut from = i64::MIN;
        loop {
            let rows = host.get_ok(&format!("/api/v1/readings?device={device}&from={from}&limit={PAGE}"));
            let rows = rows.as_array().unwrap();
            let before = out.len();
            for r in rows {
                out.insert(r["seq"].as_u64().unwrap(), r.clone());
                from = from.max(r["ts_ms"].as_i64().unwrap());
            }
            // The last timestamp is asked again (a conflict shares it).
            if rows.len() < PAGE || out.len() == before {
                break;
            }
        }
    }
    out
}

/// Every row of `readings` in `client`'s schema, by archive seq, as the API
/// names the fields (the value as PostgreSQL's exact numeric text).
fn pg_readings(client: &mut Client) -> BTreeMap<u64, Value> {
    let rows = client
        .query(
            "SELECT archive_seq, device, channel, (extract(epoch FROM ts) * 1000)::bigint, value::text, unit, kind, source, conflict FROM readings",
            &[],
        )
        .unwrap();
    let mut out = BTreeMap::new();
    for row in rows {
        let seq: i64 = row.get(0);
        let previous = out.insert(
            seq as u64,
            serde_json::json!({
                "device": row.get::<_, String>(1), "channel": row.get::<_, String>(2), "ts": row.get::<_, i64>(3),
                "value": row.get::<_, String>(4), "unit": row.get::<_, String>(5), "kind": row.get::<_, String>(6),
                "source": row.get::<_, String>(7), "conflict": row.get::<_, bool>(8),
            }),
        );
        assert!(previous.is_none(), "archive seq {seq} is in PostgreSQL twice");
    }
    out
}

/// The API's reading in the shape of [`pg_readings`].
fn as_row(r: &Value) -> Value {
    serde_json::json!({
        "device": r["device"], "channel": r["channel"], "ts": r["ts_ms"], "value": r["value"], "unit": r["unit"],
        "kind": r["kind"], "source": r["source"], "conflict": r["conflict"],
    })
}

/// Compares decimals exactly as decimals ("1.50" and "1.5" are equal).
fn same_decimal(a: &str, b: &str) -> bool {
    let (a, b): (rust_decimal::Decimal, rust_decimal::Decimal) = (a.parse().unwrap(), b.parse().unwrap());
    a == b
}

/// The archive and the table hold the same readings, each once.
fn assert_same_readings(host: &Host, client: &mut Client) -> usize {
    let api = api_readings(host);
    let pg = pg_readings(client);
    assert_eq!(api.keys().collect::<Vec<_>>(), pg.keys().collect::<Vec<_>>(), "archive seqs differ");
    for (seq, r) in &api {
        let (mut want, mut got) = (as_row(r), pg[seq].clone());
        assert!(
            same_decimal(want["value"].as_str().unwrap(), got["value"].as_str().unwrap()),
            "seq {seq}: {want} vs {got}"
        );
        want.as_object_mut().unwrap().remove("value");
        got.as_object_mut().unwrap().remove("value");
        assert_eq!(want, got, "seq {seq}");
    }
    api.len()
}

#[test]
fn readings_reach_postgres_exactly_once_and_exactly_as_archived() {
    readings_reach_postgres_with("wasm");
}

#[test]
fn the_native_sink_in_its_runner_process_writes_the_same() {
    readings_reach_postgres_with("native");
}

fn readings_reach_postgres_with(kind: &str) {
    let schema = Schema::new(&format!("e2e_sink_{kind}"));
    let host = Host::start_with(&config_with(kind, Some(&sink_table("pg", &schema.url, &schema.name, ""))));
    let mut lines = Vec::new();
    for i in 0..300i64 {
        let value = format!("{}.{:03}", 123_456_789 + i, i % 1000);
        lines.push(reading(&format!("m{}", i % 7), "volume", TS + i * 60_000, &value));
    }
    // A conflict (same key, another value) and a duplicate.
    lines.push(reading("m0", "volume", TS, "5"));
    lines.push(reading("m1", "volume", TS + 60_000, "123456790.001"));
    send_lines(&host, &lines);
    // Exact values beyond what a float holds, through HTTP too.
    let body = r#"[{"device":"exact","channel":"energy","ts":1764547200000,"value":"98765432109876.123456789","unit":"kWh","kind":"cumulative"}]"#;
    let (status, _) = meterhub_testkit::http(host.driver("http-in"), "POST", "/", body.as_bytes());
    assert_eq!(status, 200);
    let status = wait_delivered(&host, "pg", 302, APPLY_DEADLINE);
    // Readings, and the deltas and meters the accounting made of them.
    assert!(status["delivered"].as_u64() > Some(302), "{status}");
    assert_eq!(status["schema_version"], 1, "{status}");

    let mut client = schema.client();
    assert_eq!(assert_same_readings(&host, &mut client), 302);
    let conflicts: i64 = client.query_one("SELECT count(*) FROM readings WHERE conflict", &[]).unwrap().get(0);
    assert_eq!(conflicts, 1);
    let exact: String =
        client.query_one("SELECT value::text FROM readings WHERE device = 'exact'", &[]).unwrap().get(0);
    assert_eq!(exact, "98765432109876.123456789");
    // Its position is in the database, with the rows.
    let position: i64 =
        client.query_one("SELECT archive_seq FROM meterhub_sink_position WHERE sink = 'pg'", &[]).unwrap().get(0);
    assert_eq!(position, 302);
    // Monthly partitions, made ahead of the readings.
    let partitions: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1",
            &[&schema.name],
        )
        .unwrap()
        .get(0);
    assert!(partitions >= 2, "{partitions} partitions");

    // The metrics say the same.
    let (code, metrics) = meterhub_testkit::http(host.api, "GET", "/metrics", b"");
    assert_eq!(code, 200);
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(metrics.contains("meterhub_sink_position{sink=\"pg\"} 302"), "{metrics}");
    assert!(metrics.contains("meterhub_sink_lag_records{sink=\"pg\"} 0"), "{metrics}");
}

/// A device sending readings over TCP, one line at a time, until told to
/// stop; counts what was acknowledged (every answer must be ok).
struct Feeder {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    acked: std::sync::Arc<std::sync::atomic::AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Feeder {
    /// Start feeding `host`'s `tcp-in` as device `device`, `per_burst`
    /// readings per round trip.
    fn start(host: &Host, device: &str, per_burst: i64) -> Feeder {
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let acked = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (addr, device) = (host.driver("tcp-in"), device.to_owned());
        let thread = {
            let (stop, acked) = (stop.clone(), acked.clone());
            std::thread::spawn(move || {
                let mut client = LineClient::connect(addr);
                let mut i = 0i64;
                while !stop.load(Ordering::Relaxed) {
                    let lines: String = (0..per_burst)
                        .map(|k| reading(&device, "volume", TS + (i + k) * 1000, &format!("{}.5", i + k)))
                        .collect();
                    client.send(lines.as_bytes());
                    for _ in 0..per_burst {
                        let answer = client.answer().expect("an answer");
                        assert_eq!(answer["ok"], true, "{answer}");
                        acked.fetch_add(1, Ordering::Relaxed);
                    }
                    i += per_burst;
                }
            })
        };
        Feeder { stop, acked, thread: Some(thread) }
    }

    fn acked(&self) -> u64 {
        self.acked.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Stop and return how many readings were acknowledged.
    fn finish(mut self) -> u64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.take().unwrap().join().expect("the feeder failed");
        self.acked()
    }
}

#[test]
fn a_database_down_for_a_minute_costs_nothing_and_the_lag_returns_to_zero() {
    let mut cluster = Cluster::start();
    let sink = sink_table(
        "pg",
        &cluster.url(),
        "meterhub",
        "retry_min_ms = 100\nretry_max_ms = 2000\nalarm_lag_seconds = 20\n",
    );
    let host = Host::start_with(&config(Some(&sink)));
    let feeder = Feeder::start(&host, "outage", 5);
    wait_for("the sink to deliver", APPLY_DEADLINE, || {
        sink_status(&host, "pg").filter(|s| s["position"].as_u64() > Some(100))
    });

    cluster.stop();
    let down = std::time::Instant::now();
    let acked_at_stop = feeder.acked();
    let retrying = wait_for("the sink to report the outage", APPLY_DEADLINE, || {
        sink_status(&host, "pg").filter(|s| s["state"] == "retrying" && s["last_error"]["message"].is_string())
    });
    assert!(retrying["last_error"]["message"].as_str().unwrap().contains("127.0.0.1"), "{retrying}");
    // Ingestion goes on while the database is away, for a full minute.
    wait_for("a minute of ingest without the database", Duration::from_secs(90), || {
        (down.elapsed() >= Duration::from_secs(60)).then_some(())
    });
    assert!(feeder.acked() > acked_at_stop + 1000, "ingest stalled: {} -> {}", acked_at_stop, feeder.acked());
    let lagging = sink_status(&host, "pg").unwrap();
    assert!(lagging["lag_records"].as_u64() > Some(1000), "{lagging}");
    assert!(lagging["lag_seconds"].as_f64() > Some(30.0), "{lagging}");
    assert_eq!(lagging["alarm"]["limit_seconds"], 20, "behind more than its alarm: {lagging}");

    cluster.resume();
    let acked = feeder.finish();
    let last = wait_for("every acknowledged reading archived", APPLY_DEADLINE, || {
        api_readings(&host).keys().last().copied().filter(|&last| last == acked)
    });
    let status = wait_delivered(&host, "pg", last, Duration::from_secs(60));
    assert_eq!(status["lag_seconds"], 0.0, "{status}");
    assert!(status["alarm"].is_null(), "the alarm ends with the lag: {status}");
    let mut client = cluster.client();
    client.batch_execute("SET search_path TO meterhub").unwrap();
    assert_eq!(assert_same_readings(&host, &mut client) as u64, acked);
}

#[test]
fn a_host_killed_while_the_sink_writes_leaves_no_gap_and_no_duplicate() {
    use rand::Rng;
    let schema = Schema::new("e2e_sink_crash");
    let sink = sink_table("pg", &schema.url, &schema.name, "batch_records = 50\nlinger_ms = 0\n");
    let mut host = Host::start_with(&config(Some(&sink)));
    let mut rng = rand::rng();
    let mut acked = 0u64;
    for trial in 0..10 {
        let lines: Vec<String> = (0..400i64)
            .map(|i| reading(&format!("crash{trial}"), "volume", TS + i * 1000, &format!("{i}.25")))
            .collect();
        send_lines(&host, &lines);
        acked += lines.len() as u64;
        // Kill it somewhere in the sink's work on those readings.
        let delay = Duration::from_millis(rng.random_range(0..60));
        let started = std::time::Instant::now();
        wait_for("the random moment", Duration::from_secs(1), || (started.elapsed() >= delay).then_some(()));
        host.kill();
        host.restart();
    }
    let archived = api_readings(&host);
    assert_eq!(archived.len() as u64, acked, "every acknowledged reading is archived once");
    wait_delivered(&host, "pg", *archived.keys().last().unwrap(), Duration::from_secs(60));
    assert_eq!(assert_same_readings(&host, &mut schema.client()) as u64, acked);
}

#[test]
fn a_sink_added_and_removed_by_hot_reload_under_load_resumes_where_it_stopped() {
    let schema = Schema::new("e2e_sink_reload");
    let host = Host::start_with(&config(None));
    let feeder = Feeder::start(&host, "reload", 10);
    wait_for("ingest", APPLY_DEADLINE, || (feeder.acked() > 200).then_some(()));

    let with_sink = config(Some(&sink_table("pg", &schema.url, &schema.name, "")));
    std::fs::write(&host.config, &with_sink).unwrap();
    host.wait_generation(2);
    let first = wait_for("the added sink to deliver", APPLY_DEADLINE, || {
        sink_status(&host, "pg").filter(|s| s["position"].as_u64() > Some(200))
    });
    assert_eq!(first["state"], "running", "{first}");

    std::fs::write(&host.config, config(None)).unwrap();
    host.wait_generation(3);
    wait_for("the removed sink to go", APPLY_DEADLINE, || sink_status(&host, "pg").is_none().then_some(()));
    let mut client = schema.client();
    let stopped_at: i64 = client.query_one("SELECT archive_seq FROM meterhub_sink_position", &[]).unwrap().get(0);
    let at_removal = feeder.acked();
    wait_for("ingest without the sink", APPLY_DEADLINE, || (feeder.acked() > at_removal + 200).then_some(()));
    let still: i64 = client.query_one("SELECT archive_seq FROM meterhub_sink_position", &[]).unwrap().get(0);
    assert_eq!(still, stopped_at, "a removed sink writes nothing");

    // A sink config error is refused with its place; nothing changes.
    let since = meterhub_testkit::now_ms();
    let bad = config(Some(&sink_table("pg", &schema.url.replace("://", "://u:secret@"), &schema.name, "")));
    std::fs::write(&host.config, &bad).unwrap();
    let errors = host.wait_refusal(since);
    assert!(
        errors.iter().any(|e| e.contains("meterhub.toml:") && e.contains("url must not hold the password")),
        "{errors:?}"
    );
    assert!(sink_status(&host, "pg").is_none());
    let since = meterhub_testkit::now_ms();
    let missing =
        config(Some(&sink_table("pg", &schema.url, &schema.name, "").replace("\"postgres\"\nurl", "\"nope\"\nurl")));
    std::fs::write(&host.config, &missing).unwrap();
    let errors = host.wait_refusal(since);
    assert!(
        errors.iter().any(|e| e.contains("[sinks.pg]: plugin \"nope\" is not in the plugins folder")),
        "{errors:?}"
    );
    assert!(sink_status(&host, "pg").is_none());

    std::fs::write(&host.config, &with_sink).unwrap();
    host.wait_generation(4);
    let acked = feeder.finish();
    wait_delivered(&host, "pg", acked, APPLY_DEADLINE);
    assert_eq!(assert_same_readings(&host, &mut client) as u64, acked);
}

/// The deltas of `meter` as the API shows them: (channel, period,
/// start_ms) -> (consumption, in_progress, estimated).
fn api_deltas(host: &Host, meter: &str) -> BTreeMap<(String, String, i64), (rust_decimal::Decimal, bool, bool)> {
    let mut out = BTreeMap::new();
    for period in ["day", "month"] {
        let (code, deltas) = host.get(&format!("/api/v1/deltas?meter={meter}&period={period}"));
        if code != 200 {
            continue; // not registered yet
        }
        for d in deltas.as_array().unwrap() {
            out.insert(
                (d["channel"].as_str().unwrap().to_owned(), period.to_owned(), d["start_ms"].as_i64().unwrap()),
                (
                    d["consumption"].as_str().unwrap().parse().unwrap(),
                    d["in_progress"].as_bool().unwrap(),
                    d["estimated"].as_bool().unwrap(),
                ),
            );
        }
    }
    out
}

/// The same from the sink's `deltas` table (empty before the sink made it).
fn pg_deltas(client: &mut Client, meter: &str) -> BTreeMap<(String, String, i64), (rust_decimal::Decimal, bool, bool)> {
    let Ok(rows) = client.query(
        "SELECT channel, period, (extract(epoch FROM period_start) * 1000)::bigint, consumption::text, flags FROM deltas WHERE meter = $1",
        &[&meter],
    ) else {
        return BTreeMap::new();
    };
    rows.iter()
        .map(|r| {
            let flags: Vec<String> = r.get(4);
            let consumption: String = r.get(3);
            (
                (r.get::<_, String>(0), r.get::<_, String>(1), r.get::<_, i64>(2)),
                (
                    consumption.parse().unwrap(),
                    flags.iter().any(|f| f == "in_progress"),
                    flags.iter().any(|f| f == "estimated"),
                ),
            )
        })
        .collect()
}

#[test]
fn deltas_and_the_registry_follow_the_accounting_and_a_late_reading_replaces_its_delta() {
    let schema = Schema::new("e2e_sink_deltas");
    let host = Host::start_with(&config(Some(&sink_table("pg", &schema.url, &schema.name, ""))));
    // Hourly at half past, three days: midnight (Moscow, 21:00 UTC) always
    // falls between two readings and is interpolated.
    let half_past = TS + 30 * 60_000;
    let mut lines = Vec::new();
    for meter in ["gas-a", "gas-b"] {
        for i in 0..72i64 {
            lines.push(reading(meter, "volume", half_past + i * 3_600_000, &format!("{}.5", i * 3)));
        }
    }
    send_lines(&host, &lines);
    let mut client = schema.client();
    for meter in ["gas-a", "gas-b"] {
        wait_for(&format!("the deltas of {meter} in PostgreSQL"), APPLY_DEADLINE, || {
            let api = api_deltas(&host, meter);
            (!api.is_empty() && api == pg_deltas(&mut client, meter)).then_some(())
        });
    }
    let registry: Vec<(String, String)> = client
        .query("SELECT id, record->>'source' FROM meters ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(registry, [("gas-a".to_owned(), "tcp-in".to_owned()), ("gas-b".to_owned(), "tcp-in".to_owned())]);

    // A late reading on a midnight makes that boundary exact: the two days
    // around it are recomputed and their rows replaced, not added.
    let midnight = TS + 21 * 3_600_000; // 2025-12-01T21:00Z = 2025-12-02 00:00 in Moscow
    let before = pg_deltas(&mut client, "gas-a");
    send_lines(&host, &[reading("gas-a", "volume", midnight, "62.9")]);
    let after = wait_for("the recomputed deltas in PostgreSQL", APPLY_DEADLINE, || {
        let api = api_deltas(&host, "gas-a");
        (api != before && api == pg_deltas(&mut client, "gas-a")).then_some(api)
    });
    assert_eq!(after.len(), before.len(), "rows were replaced, not added");
    // Both days around that midnight changed.
    for start_ms in [midnight - 86_400_000, midnight] {
        let key = ("volume".to_owned(), "day".to_owned(), start_ms);
        assert_ne!(before[&key].0, after[&key].0, "{key:?}");
    }
    // Metadata changed through the API reaches the meters table.
    let (code, body) =
        meterhub_testkit::http(host.api, "PATCH", "/api/v1/meters/gas-b", br#"{"actor": "e2e", "site": "north"}"#);
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
    wait_for("the meter's metadata in PostgreSQL", APPLY_DEADLINE, || {
        let site: Option<String> =
            client.query_one("SELECT record->'metadata'->>'site' FROM meters WHERE id = 'gas-b'", &[]).unwrap().get(0);
        (site.as_deref() == Some("north")).then_some(())
    });
    // Another time zone moves every period of the meter: the old rows are
    // deleted, the new ones written.
    let moscow = api_deltas(&host, "gas-b");
    let zone = br#"{"actor": "e2e", "time_zone": "Asia/Vladivostok"}"#;
    let (code, body) = meterhub_testkit::http(host.api, "PATCH", "/api/v1/meters/gas-b", zone);
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
    wait_for("the deltas of another zone in PostgreSQL", APPLY_DEADLINE, || {
        let api = api_deltas(&host, "gas-b");
        (api != moscow && api == pg_deltas(&mut client, "gas-b")).then_some(())
    });
    let old_starts: Vec<i64> = moscow.keys().map(|k| k.2).collect();
    let stale: i64 = client
        .query_one(
            "SELECT count(*) FROM deltas WHERE meter = 'gas-b' AND (extract(epoch FROM period_start) * 1000)::bigint = ANY($1)",
            &[&old_starts],
        )
        .unwrap()
        .get(0);
    assert_eq!(stale, 0, "rows of the old zone's periods are gone");
}

#[test]
fn a_value_the_database_refuses_goes_to_the_dead_letters_alone_and_is_resent_after_a_fix() {
    let schema = Schema::new("e2e_sink_dead");
    let host = Host::start_with(&config(Some(&sink_table("pg", &schema.url, &schema.name, "linger_ms = 300\n"))));
    send_lines(&host, &[reading("first", "volume", TS, "1")]);
    wait_delivered(&host, "pg", 1, APPLY_DEADLINE);
    // The operator's own rule in the database: no negative register values.
    let mut client = schema.client();
    client.batch_execute("ALTER TABLE readings ADD CONSTRAINT no_negative_values CHECK (value >= 0)").unwrap();

    let lines: Vec<String> =
        (0..50i64).map(|i| reading("m1", "volume", TS + i * 60_000, if i == 31 { "-5" } else { "7" })).collect();
    send_lines(&host, &lines);
    let status = wait_delivered(&host, "pg", 51, APPLY_DEADLINE);
    assert_eq!(status["rejected"], 1, "{status}");
    let count = |client: &mut Client| -> i64 { client.query_one("SELECT count(*) FROM readings", &[]).unwrap().get(0) };
    assert_eq!(count(&mut client), 50, "the other 49 and the first are written");

    let letters = host.get_ok("/api/v1/sinks/pg/dead-letters");
    let letters = letters.as_array().unwrap();
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0]["log"], "readings");
    assert_eq!(letters[0]["seq"], 33, "{letters:?}");
    assert_eq!(letters[0]["record"]["reading"]["reading"]["value"], "-5", "{letters:?}");
    assert!(letters[0]["reason"].as_str().unwrap().contains("no_negative_values"), "{letters:?}");

    // Fixed in the database: the letter is written and leaves the list.
    client.batch_execute("ALTER TABLE readings DROP CONSTRAINT no_negative_values").unwrap();
    let (code, body) = meterhub_testkit::http(host.api, "POST", "/api/v1/sinks/pg/dead-letters/resend", b"");
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
    let resent: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((resent["written"].as_u64(), resent["refused"].as_u64()), (Some(1), Some(0)), "{resent}");
    assert_eq!(count(&mut client), 51);
    assert_eq!(host.get_ok("/api/v1/sinks/pg/dead-letters"), serde_json::json!([]));
    assert_same_readings(&host, &mut client);
    // An unknown sink is named.
    let (code, body) = meterhub_testkit::http(host.api, "GET", "/api/v1/sinks/nope/dead-letters", b"");
    assert_eq!(code, 404, "{}", String::from_utf8_lossy(&body));
}

#[test]
fn a_sink_that_cannot_write_says_why_and_what_to_do_and_ingest_goes_on() {
    let taken = Schema::new("e2e_sink_taken");
    // A table of someone else's where the sink would keep its readings.
    let mut client = meterhub_testkit::postgres::client(&taken.url);
    client
        .batch_execute(&format!("CREATE SCHEMA \"{0}\"; CREATE TABLE \"{0}\".readings (id int)", taken.name))
        .unwrap();
    let free_port = meterhub_testkit::free_port();
    let (host_part, db) = taken.url.rsplit_once('/').unwrap();
    let sinks = [
        sink_table("nobody-home", &format!("postgres://meterhub@127.0.0.1:{free_port}/test"), "meterhub", ""),
        sink_table("no-db", &format!("{host_part}/no_such_database_e2e"), "meterhub", ""),
        sink_table("no-user", &format!("postgres://no_such_role_e2e@127.0.0.1:5432/{db}"), "meterhub", ""),
        sink_table("taken", &taken.url, &taken.name, ""),
    ]
    .concat();
    let host = Host::start_with(&config(Some(&sinks)));
    let expected = [
        ("nobody-home", format!("cannot reach meterhub@127.0.0.1:{free_port}/test")),
        ("no-db", "no_such_database_e2e\" does not exist; create the database or fix the url".to_owned()),
        ("no-user", "refused the login".to_owned()),
        ("taken", "a table of someone else's is where the sink keeps its own; choose another `schema`".to_owned()),
    ];
    for (id, message) in &expected {
        let status = wait_for(&format!("sink {id} to say why"), APPLY_DEADLINE, || {
            sink_status(&host, id).filter(|s| s["last_error"]["message"].is_string())
        });
        let said = status["last_error"]["message"].as_str().unwrap();
        assert!(said.contains(message.as_str()), "{id}: {said}");
        assert!(["retrying", "starting"].contains(&status["state"].as_str().unwrap()), "{status}");
        let log = plain(&host.log());
        let named = log
            .lines()
            .any(|l| l.contains("WARN") && l.contains(&format!("sink={id}")) && l.contains(message.as_str()));
        assert!(named, "the log names sink {id} and why: {}", &log[log.len().saturating_sub(3000)..]);
    }
    // Ingest does not wait for any of them.
    send_lines(&host, &(0..20i64).map(|i| reading("m1", "volume", TS + i * 1000, "1")).collect::<Vec<_>>());
    wait_for("the readings archived", APPLY_DEADLINE, || (api_readings(&host).len() == 20).then_some(()));
    // The taken table is untouched.
    let columns: i64 = client
        .query_one(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'readings'",
            &[&taken.name],
        )
        .unwrap()
        .get(0);
    assert_eq!(columns, 1);
}

#[test]
fn a_url_asking_for_tls_gets_it_checked_against_the_ca_it_names() {
    let cluster = Cluster::start_with_tls();
    let url = format!("{}?sslmode=require", cluster.url());
    let ca = cluster.ca_file().display().to_string();
    let sinks = [
        sink_table("pg", &url, "meterhub", &format!("ca_file = \"{ca}\"\n")),
        // The system's roots do not know the test CA: refused, and said so.
        sink_table("unknown-ca", &url, "other", ""),
    ]
    .concat();
    let host = Host::start_with(&config(Some(&sinks)));
    send_lines(&host, &(0..10i64).map(|i| reading("m1", "volume", TS + i * 1000, "1")).collect::<Vec<_>>());
    wait_delivered(&host, "pg", 10, APPLY_DEADLINE);
    let mut client = cluster.client();
    let encrypted: bool = client
        .query_one(
            "SELECT bool_and(s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'meterhub sink pg'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(encrypted, "the sink's connection is not encrypted");
    let refused = wait_for("the unknown CA refused", APPLY_DEADLINE, || {
        sink_status(&host, "unknown-ca").filter(|s| s["last_error"]["message"].is_string())
    });
    let message = refused["last_error"]["message"].as_str().unwrap();
    assert!(message.contains("certificate"), "{message}");
}

#[test]
fn the_password_comes_from_a_file_or_the_environment_and_is_never_logged() {
    let cluster = Cluster::start();
    let password = "s3cret-Пароль-e2e";
    cluster.add_password_role("sinker", password);
    let url = cluster.url().replace("meterhub@", "sinker@");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pg-password");
    std::fs::write(&file, format!("{password}\n")).unwrap();
    let sinks = [
        sink_table("from-file", &url, "a", &format!("password_file = \"{}\"\n", file.display())),
        sink_table("from-env", &url, "b", "password_env = \"METERHUB_E2E_NO_SUCH_VARIABLE\"\n"),
        sink_table("wrong", &url, "c", &format!("password_file = \"{}\"\n", dir.path().join("none").display())),
    ]
    .concat();
    let host = Host::start_with(&config(Some(&sinks)));
    send_lines(&host, &[reading("m1", "volume", TS, "1")]);
    wait_delivered(&host, "from-file", 1, APPLY_DEADLINE);
    for (id, why) in [
        ("from-env", "the password's environment variable METERHUB_E2E_NO_SUCH_VARIABLE is not set"),
        ("wrong", "cannot read the password file"),
    ] {
        let status = wait_for(&format!("sink {id} to say why"), APPLY_DEADLINE, || {
            sink_status(&host, id).filter(|s| s["last_error"]["message"].is_string())
        });
        assert!(status["last_error"]["message"].as_str().unwrap().contains(why), "{status}");
    }
    assert!(!host.log().contains(password), "the password is in the log");
    assert!(!host.get_ok("/api/v1/status").to_string().contains(password));
}

#[test]
fn a_sink_plugin_instance_shows_in_the_status_and_an_operator_can_stop_and_start_it() {
    let schema = Schema::new("e2e_sink_operator");
    let host = Host::start_with(&config(Some(&sink_table(
        "pg",
        &schema.url,
        &schema.name,
        "retry_min_ms = 100\nretry_max_ms = 500\n",
    ))));
    send_lines(&host, &[reading("m1", "volume", TS, "1")]);
    wait_delivered(&host, "pg", 1, APPLY_DEADLINE);
    let instance = |host: &Host| {
        host.get_ok("/api/v1/status")["instances"].as_array().unwrap().iter().find(|i| i["name"] == "pg/sink").cloned()
    };
    let first = instance(&host).expect("the sink's plugin instance in the status");
    assert_eq!((first["plugin"].as_str(), first["role"].as_str()), (Some("postgres"), Some("sink")), "{first}");

    // Stopped by an operator: its batches wait (and are kept), ingest goes on.
    let (code, _) = meterhub_testkit::http(host.api, "POST", "/api/v1/instances/pg/sink/stop", b"");
    assert_eq!(code, 202);
    send_lines(&host, &[reading("m1", "volume", TS + 1000, "2")]);
    let waiting = wait_for("the stopped sink to wait", APPLY_DEADLINE, || {
        sink_status(&host, "pg").filter(|s| s["state"] == "retrying" && s["lag_records"].as_u64() >= Some(1))
    });
    assert!(waiting["last_error"]["message"].as_str().unwrap().contains("stopped"), "{waiting}");
    let (code, _) = meterhub_testkit::http(host.api, "POST", "/api/v1/instances/pg/sink/start", b"");
    assert_eq!(code, 202);
    wait_delivered(&host, "pg", 2, APPLY_DEADLINE);
    assert_eq!(assert_same_readings(&host, &mut schema.client()), 2);
}
