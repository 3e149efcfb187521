//! Raw first: frames a codec cannot decode are kept in quarantine with the
//! reason, and decoded again after a fix (`meterhub redecode`, the API).

use meterhub_testkit::{Host, LineClient, default_config, http, now_ms, plugins_dir, reading};

const TS: i64 = 1_763_719_200_000;

fn pass_through_config(max_future_ms: i64) -> String {
    default_config(&plugins_dir("wasm")).replace(
        "listen = \"127.0.0.1:0\"\n\n[drivers.http-in]",
        &format!("listen = \"127.0.0.1:0\"\n[drivers.tcp-in.settings]\nvalidate = false\nmax_future_ms = {max_future_ms}\n\n[drivers.http-in]"),
    )
}

#[test]
fn undecodable_frames_are_quarantined_and_redecoded_after_a_fix() {
    let mut host = Host::start_with(&pass_through_config(0));
    let future = now_ms() + 3_600_000;
    let mut client = LineClient::connect(host.driver("tcp-in"));
    client.send(reading("q1", "volume", TS, "1").as_bytes());
    client.send(b"garbage from a confused device\n");
    client.send(reading("q1", "volume", future, "2").as_bytes());
    client.finish();
    let answers: Vec<_> = std::iter::from_fn(|| client.answer()).collect();
    assert!(answers.iter().all(|a| a["ok"] == true), "pass-through acknowledges what it stored: {answers:?}");

    let stats = host.settled_stats(3);
    let c = &stats["sources"]["tcp-in"];
    assert_eq!((c["archived"].as_u64(), c["quarantined"].as_u64()), (Some(1), Some(2)), "{stats}");
    let q = host.get_ok("/api/v1/quarantine");
    let reasons: Vec<&str> = q.as_array().unwrap().iter().map(|e| e["reason"].as_str().unwrap()).collect();
    assert_eq!(reasons.len(), 2, "{q}");
    assert!(reasons[0].contains("invalid JSON"), "{reasons:?}");
    assert!(reasons[1].contains("ts"), "{reasons:?}");
    assert_eq!(q[0]["payload_text"], "garbage from a confused device");

    // Nothing changed: re-decoding through the API leaves both in quarantine.
    let (status, report) = http(host.api, "POST", "/api/v1/redecode", b"\"quarantined\"");
    let report: serde_json::Value = serde_json::from_slice(&report).unwrap();
    assert_eq!((status, report["still_quarantined"].as_u64()), (200, Some(2)), "{report}");

    // The fix: a wider future window. Re-decode offline, with the host stopped.
    host.stop();
    std::fs::write(&host.config, pass_through_config(86_400_000)).unwrap();
    let out = host.cli(&["redecode", "--quarantined"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((report["decoded"].as_u64(), report["still_quarantined"].as_u64()), (Some(1), Some(1)), "{report}");

    host.restart();
    let stats = host.settled_stats(3);
    let c = &stats["sources"]["tcp-in"];
    assert_eq!(
        (c["archived"].as_u64(), c["quarantined"].as_u64(), c["redecoded"].as_u64()),
        (Some(2), Some(1), Some(1)),
        "{stats}"
    );
    let readings = host.get_ok("/api/v1/readings?device=q1");
    assert_eq!(readings.as_array().unwrap().len(), 2, "{readings}");
    assert_eq!(host.get_ok("/api/v1/quarantine").as_array().unwrap().len(), 1);

    // A time range: every frame received in it is decoded again; what is
    // already archived is a duplicate and the frame counters do not move.
    let body = format!("{{\"received\":{{\"from_ms\":0,\"to_ms\":{}}}}}", now_ms() + 60_000);
    let (status, report) = http(host.api, "POST", "/api/v1/redecode", body.as_bytes());
    let report: serde_json::Value = serde_json::from_slice(&report).unwrap();
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        (report["frames"].as_u64(), report["decoded"].as_u64(), report["readings_duplicate"].as_u64()),
        (Some(3), Some(2), Some(2)),
        "{report}"
    );
    let after = host.settled_stats(3);
    for counter in ["received", "archived", "duplicate", "quarantined", "rejected", "readings_new"] {
        assert_eq!(after["sources"]["tcp-in"][counter], stats["sources"]["tcp-in"][counter], "{counter}: {after}");
    }
}

#[test]
fn a_missing_codec_quarantines_frames_instead_of_losing_them() {
    let broken = default_config(&plugins_dir("wasm")).replace(
        "plugin = \"listener\"\ntransport = \"tcp\"",
        "plugin = \"listener\"\ncodec = \"vega-si11\"\ntransport = \"tcp\"",
    );
    let mut host = Host::start_with(&broken);
    let out = host.cli(&["check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("plugin \"vega-si11\" is not in the plugins folder"));

    let mut client = LineClient::connect(host.driver("tcp-in"));
    client.send(reading("q2", "volume", TS, "5").as_bytes());
    assert_eq!(client.answer().unwrap()["ok"], true, "the driver runs without its codec");
    host.settled_stats(1);
    let q = host.get_ok("/api/v1/quarantine");
    assert!(q[0]["reason"].as_str().unwrap().contains("codec unavailable"), "{q}");

    // The codec arrives (here: the config names one that exists); the frame is decoded.
    host.stop();
    std::fs::write(&host.config, broken.replace("codec = \"vega-si11\"\n", "")).unwrap();
    host.restart();
    let (status, report) = http(host.api, "POST", "/api/v1/redecode", b"\"quarantined\"");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&report));
    let readings = host.get_ok("/api/v1/readings?device=q2");
    assert_eq!(readings[0]["value"], "5", "{readings}");
    let stats = host.settled_stats(1);
    assert_eq!(stats["sources"]["tcp-in"]["archived"], 1, "{stats}");
}
