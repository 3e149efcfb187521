//! The dispatcher's board end to end: a device clock running ahead never
//! hides the newer readings (latest values, the stream's snapshot, deltas),
//! and meters and modules have states with counts.

use meterhub_testkit::line::send_acked;
use meterhub_testkit::{APPLY_DEADLINE, Host, Sse, local_token, reading, wait_for};

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as i64
}

#[test]
fn a_frame_from_a_clock_ahead_never_hides_the_newer_readings() {
    let host = Host::start();
    let now = now_ms();
    let minute = 60_000;
    // In the order the device sent them: its clock ran ten minutes ahead for
    // one frame, then was corrected. Values grow with real time.
    let sent = [(now - 3 * minute, "100"), (now + 8 * minute, "101"), (now - minute, "102"), (now, "103")];
    for (ts, value) in sent {
        send_acked(host.driver("tcp-in"), &[reading("gas-7", "volume", ts, &format!("\"{value}\""))]);
    }
    host.settled_stats(4);

    // The latest value is the newest trustworthy one.
    let latest = host.get_ok("/api/v1/devices/gas-7/latest");
    let volume = &latest["readings"][0];
    assert_eq!((volume["value"].as_str(), volume["ts_ms"].as_i64()), (Some("103"), Some(now)), "{latest:#}");
    assert_eq!(volume["clock_ahead"], false);

    // The frame stamped ahead is kept, flagged.
    let readings = host.get_ok("/api/v1/readings?device=gas-7");
    let flagged: Vec<(&str, bool)> = readings
        .as_array()
        .expect("readings")
        .iter()
        .map(|r| (r["value"].as_str().unwrap_or("?"), r["clock_ahead"].as_bool().unwrap_or(false)))
        .collect();
    assert_eq!(flagged, [("100", false), ("102", false), ("103", false), ("101", true)]);

    // The stream's snapshot starts from the same latest value.
    let auth = format!("Bearer {}", local_token(host.api));
    let mut sse = Sse::open(host.api, "/api/v1/stream?device=gas-7&snapshot=true", &[("Authorization", &auth)])
        .expect("a stream");
    let snapshot = sse.next_named("reading");
    assert_eq!(snapshot.data["value"], "103", "{snapshot:?}");

    // The day's delta is not an unexplained decrease: the reading stamped
    // ahead counts in no delta.
    let deltas = wait_for("the day's delta", APPLY_DEADLINE, || {
        let deltas = host.get_ok("/api/v1/deltas?meter=gas-7&channel=volume&period=day");
        let consumption: f64 =
            deltas.as_array()?.iter().map(|d| d["consumption"].as_str()?.parse::<f64>().ok()).sum::<Option<f64>>()?;
        (consumption == 3.0).then_some(deltas)
    });
    assert!(deltas.as_array().unwrap().iter().all(|d| d["unexplained_decrease"] != true), "{deltas:#}");

    // On the board: fresh (its last frame was stamped right), counted.
    let meter = host.get_ok("/api/v1/meters/gas-7");
    assert_eq!(meter["state"], "fresh", "{meter:#}");
    let board = host.get_ok("/api/v1/board");
    assert_eq!(board["meters"]["total"], 1, "{board:#}");
    assert_eq!(board["meters"]["counts"]["fresh"], 1, "{board:#}");
    assert_eq!(board["meters"]["reported_today"], 1, "{board:#}");

    // A frame stamped ahead again: the meter shows it.
    send_acked(host.driver("tcp-in"), &[reading("gas-7", "volume", now + 9 * minute, "\"104\"")]);
    host.settled_stats(5);
    let meter = host.get_ok("/api/v1/meters/gas-7");
    assert_eq!(meter["state"], "clock_ahead", "{meter:#}");
    assert!(meter["clock_offset_ms"].as_i64().unwrap_or(0) > 8 * minute, "{meter:#}");
    let latest = host.get_ok("/api/v1/devices/gas-7/latest");
    assert_eq!(latest["readings"][0]["value"], "103", "{latest:#}");
}
