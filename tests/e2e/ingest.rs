//! Readings in over TCP and HTTP, out through the API.

use serde_json::Value;

use meterhub_testkit::{APPLY_DEADLINE, Host, LineClient, http, reading, wait_for};

const TS: i64 = 1_763_719_200_000; // 2025-11-21T10:00:00Z

#[test]
fn tcp_lines_are_answered_in_order_and_archived_exactly() {
    let host = Host::start();
    let mut client = LineClient::connect(host.driver("tcp-in"));
    client.send(reading("m1", "volume", TS, "\"12.345\"").as_bytes());
    client.send(b"{\"device\":\"m1\",\"channel\":\"volume\",\"ts\":\"yesterday\",\"value\":1}\n");
    client.send(reading("m1", "volume", TS + 60_000, "12.35").as_bytes());
    client.send(reading("m2", "energy", TS, "0.1").as_bytes());
    client.finish();
    let answers: Vec<Value> = std::iter::from_fn(|| client.answer()).collect();
    assert_eq!(answers.len(), 4, "{answers:?}");
    for (i, a) in answers.iter().enumerate() {
        assert_eq!(a["line"], i as u64 + 1, "answers come in input order: {answers:?}");
    }
    assert_eq!(answers[0]["ok"], true);
    assert_eq!(answers[1]["ok"], false);
    assert!(answers[1]["error"].as_str().unwrap().contains("ts"), "the error names the field: {}", answers[1]);
    assert!(answers[2]["seq"].as_u64() > answers[0]["seq"].as_u64());

    let stats = host.settled_stats(4);
    let tcp = &stats["sources"]["tcp-in"];
    assert_eq!((tcp["archived"].as_u64(), tcp["rejected"].as_u64()), (Some(3), Some(1)), "{stats}");

    let readings = host.get_ok("/api/v1/readings?device=m1&channel=volume");
    let values: Vec<&str> = readings.as_array().unwrap().iter().map(|r| r["value"].as_str().unwrap()).collect();
    assert_eq!(values, ["12.345", "12.35"], "values are exact decimals");
    assert_eq!(readings[0]["ts"], "2025-11-21T10:00:00Z");
    assert_eq!(readings[0]["kind"], "cumulative");

    let latest = host.get_ok("/api/v1/devices/m2/latest");
    assert_eq!(latest["readings"][0]["value"], "0.1");
    let devices = host.get_ok("/api/v1/devices");
    assert_eq!(devices.as_array().unwrap().len(), 2);
    let (status, _) = host.get("/api/v1/devices/nope/latest");
    assert_eq!(status, 404);

    let ranged = host.get_ok(&format!("/api/v1/readings?device=m1&from={}&to=2025-11-21T10:01:00Z", TS + 1));
    assert_eq!(ranged.as_array().unwrap().len(), 0, "to is exclusive, from excludes the first");
}

#[test]
fn http_posts_are_answered_after_commit_and_bad_elements_are_named() {
    let host = Host::start();
    let addr = host.driver("http-in");
    let body =
        format!("[{},{}]", reading("h1", "volume", TS, "1.5").trim(), reading("h1", "volume", TS + 1000, "1.6").trim());
    let (status, answer) = http(addr, "POST", "/", body.as_bytes());
    let answer: Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], 2);
    assert!(answer["seq"].as_u64().is_some(), "the seq of the request's one frame: {answer}");

    let bad = format!(
        "[{},{{\"device\":\"h1\",\"channel\":\"v\",\"ts\":{TS},\"value\":\"abc\"}}]",
        reading("h1", "v", TS, "1").trim()
    );
    let (status, answer) = http(addr, "POST", "/", bad.as_bytes());
    let answer: Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["element"], 1, "{answer}");
    assert_eq!(answer["field"], "value", "{answer}");

    let (status, _) = http(addr, "POST", "/", b"[{\"device\": ");
    assert_eq!(status, 400);
    let (status, _) = http(addr, "GET", "/", b"");
    assert_eq!(status, 405);
    let huge = vec![b' '; 70_000];
    let (status, answer) = http(addr, "POST", "/", &huge);
    assert_eq!(status, 413, "{}", String::from_utf8_lossy(&answer));

    // One archived frame (a POST is one frame) holding 2 readings; the bad
    // array, the invalid JSON, the GET and the oversized body are 4
    // rejections.
    let stats = host.settled_stats(5);
    let h = &stats["sources"]["http-in"];
    assert_eq!((h["archived"].as_u64(), h["rejected"].as_u64()), (Some(1), Some(4)), "{stats}");
    assert_eq!(h["readings_new"].as_u64(), Some(2), "{stats}");
    assert_eq!(host.get_ok("/api/v1/readings?device=h1").as_array().unwrap().len(), 2);
}

#[test]
fn repeats_are_duplicates_and_contradictions_are_kept_as_conflicts() {
    let host = Host::start();
    let mut client = LineClient::connect(host.driver("tcp-in"));
    for line in [
        reading("d1", "volume", TS, "10.0"),
        reading("d1", "volume", TS, "10.0"),
        reading("d1", "volume", TS, "10.00"),
        reading("d1", "volume", TS, "11"),
        reading("d1", "volume", TS, "11"),
    ] {
        client.send(line.as_bytes());
    }
    client.finish();
    assert_eq!(std::iter::from_fn(|| client.answer()).filter(|a| a["ok"] == true).count(), 5);
    let stats = host.settled_stats(5);
    let c = &stats["sources"]["tcp-in"];
    assert_eq!(c["archived"], 2, "the first reading and the conflict: {stats}");
    assert_eq!(c["duplicate"], 3, "{stats}");
    assert_eq!(c["readings_conflict"], 1, "{stats}");
    let readings = host.get_ok("/api/v1/readings?device=d1");
    let rows: Vec<(String, bool)> = readings
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["value"].as_str().unwrap().to_owned(), r["conflict"].as_bool().unwrap()))
        .collect();
    assert_eq!(rows, [("10.0".to_owned(), false), ("11".to_owned(), true)], "the original is never overwritten");
}

#[test]
fn hostile_input_gets_clear_errors_and_the_host_keeps_serving() {
    let host = Host::start();
    let mut client = LineClient::connect(host.driver("tcp-in"));
    let long = format!("{{\"device\":\"{}\"}}\n", "x".repeat(200_000));
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"not json\n".to_vec(), "invalid JSON"),
        (b"{\"device\":1,\"channel\":\"c\",\"ts\":0,\"value\":1}\n".to_vec(), "device"),
        (format!("{{\"device\":\"d\",\"channel\":\"c\",\"ts\":{TS},\"value\":1e400}}\n").into_bytes(), "value"),
        (format!("{{\"device\":\"d\",\"channel\":\"c\",\"ts\":{TS},\"value\":\"NaN\"}}\n").into_bytes(), "value"),
        (b"{\"device\":\"d\",\"channel\":\"c\",\"ts\":99999999999999999,\"value\":1}\n".to_vec(), "ts"),
        (b"{\"device\":\"d\",\"channel\":\"c\",\"ts\":\"1999-12-31T23:59:59Z\",\"value\":1}\n".to_vec(), "ts"),
        (
            format!("{{\"device\":\"d\",\"channel\":\"c\",\"ts\":{TS},\"value\":1,\"extra\":true}}\n").into_bytes(),
            "extra",
        ),
        (b"{\"device\":\"d\xff\",\"channel\":\"c\",\"ts\":0,\"value\":1}\n".to_vec(), "UTF-8"),
        (long.into_bytes(), "longer than"),
    ];
    for (input, _) in &cases {
        client.send(input);
    }
    client.finish();
    let answers: Vec<Value> = std::iter::from_fn(|| client.answer()).collect();
    assert_eq!(answers.len(), cases.len(), "one answer per line: {answers:?}");
    for ((_, needle), answer) in cases.iter().zip(&answers) {
        assert_eq!(answer["ok"], false, "{answer}");
        let error = answer["error"].as_str().unwrap();
        assert!(error.contains(needle), "error {error:?} should mention {needle:?}");
    }
    let stats = host.settled_stats(cases.len() as u64);
    assert_eq!(stats["sources"]["tcp-in"]["rejected"], cases.len() as u64);
    assert_eq!(host.get_ok("/api/v1/health")["status"], "ok");
    let rejections = host.get_ok("/api/v1/rejections?source=tcp-in");
    assert_eq!(rejections.as_array().unwrap().len(), cases.len(), "every rejected input is kept: {rejections}");
    assert_eq!(rejections[cases.len() - 1]["input_text"], "not json", "newest first, with the input");
    wait_for("nothing archived", APPLY_DEADLINE, || {
        host.get_ok("/api/v1/devices").as_array().map(Vec::is_empty).filter(|e| *e)
    });
}
