//! The same plugin source built as a WASM component and as a native
//! library: same input, same answers, same archive.

use serde_json::Value;

use meterhub_testkit::{Host, LineClient, default_config, http, plugins_dir, reading};

const TS: i64 = 1_763_719_200_000;

/// Feed a fixed script to `host`; return (answers, readings, stats sources).
fn feed(host: &Host) -> (Vec<Value>, Value, Value) {
    let mut client = LineClient::connect(host.driver("tcp-in"));
    let mut lines = Vec::new();
    for i in 0..50 {
        lines.push(reading(
            &format!("c{}", i % 7),
            "volume",
            TS + i * 60_000,
            &format!("\"{}.{:03}\"", 100 + i, i * 7),
        ));
    }
    lines.push(reading("c1", "volume", TS + 60_000, "\"101.007\"")); // duplicate
    lines.push(reading("c1", "volume", TS + 60_000, "\"999\"")); // conflict
    lines.push("{\"device\":\"c1\",\"channel\":\"volume\",\"ts\":\"2025-13-01T00:00:00Z\",\"value\":1}\n".into());
    lines.push("{\"device\":\"c1\",\"value\":1}\n".into());
    lines.push("{\"device\":\"c9\",\"channel\":\"t\",\"ts\":\"2025-11-21T13:00:00+03:00\",\"value\":-1.5e-2,\"unit\":\"degC\",\"kind\":\"instantaneous\"}\n".into());
    for line in &lines {
        client.send(line.as_bytes());
    }
    client.finish();
    let mut answers: Vec<Value> = std::iter::from_fn(|| client.answer()).collect();
    let body = format!("[{},{}]", reading("c8", "e", TS, "1").trim(), reading("c8", "e", TS + 1, "2").trim());
    let (status, answer) = http(host.driver("http-in"), "POST", "/", body.as_bytes());
    answers.push(serde_json::json!({"status": status, "body": serde_json::from_slice::<Value>(&answer).unwrap()}));
    let (status, answer) = http(host.driver("http-in"), "POST", "/", b"[{\"device\":\"x\"}]");
    answers.push(serde_json::json!({"status": status, "body": serde_json::from_slice::<Value>(&answer).unwrap()}));

    // Every line, the POST (one frame) and the refused POST.
    let stats = host.settled_stats(lines.len() as u64 + 2);
    let mut readings = host.get_ok("/api/v1/readings?limit=100000");
    for r in readings.as_array_mut().unwrap() {
        r.as_object_mut().unwrap().remove("frame_seq");
        r.as_object_mut().unwrap().remove("seq");
        // When each run archived it: the host's clock, not the plugin's doing.
        r.as_object_mut().unwrap().remove("archived_at_ms");
    }
    (answers, readings, stats["sources"].clone())
}

fn strip_seqs(mut answers: Vec<Value>) -> Vec<Value> {
    for a in &mut answers {
        if let Some(o) = a.as_object_mut() {
            o.remove("seq");
        }
        if let Some(o) = a.get_mut("body").and_then(Value::as_object_mut) {
            o.remove("seq");
        }
    }
    answers
}

#[test]
fn wasm_and_native_builds_give_the_same_archive() {
    let wasm = Host::start_with(&default_config(&plugins_dir("wasm")));
    let native = Host::start_with(&default_config(&plugins_dir("native")));
    assert_eq!(wasm.get_ok("/api/v1/plugins")["loaded"][0]["kind"], "wasm");
    assert_eq!(native.get_ok("/api/v1/plugins")["loaded"][0]["kind"], "native");
    let (wa, wr, ws) = feed(&wasm);
    let (na, nr, ns) = feed(&native);
    assert_eq!(strip_seqs(wa), strip_seqs(na), "answers differ");
    assert_eq!(wr, nr, "archived readings differ");
    assert_eq!(ws, ns, "counters differ");
    assert_eq!(wr.as_array().unwrap().len(), 50 + 1 + 1 + 2, "{wr}");
}
