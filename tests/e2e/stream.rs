//! Live streams end to end (`docs/api.md`, "Live streams"): readings sent
//! through the real listener driver arrive on an SSE stream and a WebSocket
//! stream; a reconnect with the last event id replays what it missed from
//! the archive; control requests come back behind the data; a viewer only
//! gets the meters within their grants, is refused a subscription naming
//! another, and their streams close within a second of a revoked grant or
//! a logout.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use meterhub_testkit::sse::EVENT_DEADLINE;
use meterhub_testkit::{
    APPLY_DEADLINE, Event, Host, LineClient, Sse, add_user, browser, default_config, http, local_token, login_ok,
    origin, plugins_dir, reading, request, wait_for,
};

const TS: i64 = 1_772_323_200_000;

fn bearer(api: SocketAddr) -> String {
    format!("Bearer {}", local_token(api))
}

fn send(device: &mut LineClient, meter: &str, ts_ms: i64, value: &str) {
    device.send(reading(meter, "volume", ts_ms, &format!("\"{value}\"")).as_bytes());
    assert_eq!(device.answer().expect("an answer")["ok"], true);
}

fn reading_of(event: &Event) -> (String, String) {
    assert_eq!(event.name, "reading", "{event:?}");
    (
        event.data["device"].as_str().unwrap_or_default().to_owned(),
        event.data["value"].as_str().unwrap_or_default().to_owned(),
    )
}

#[test]
fn sse_streams_live_readings_answers_control_requests_and_replays_after_a_reconnect() {
    let host = Host::start();
    let api = host.api;
    let auth = bearer(api);
    let mut device = LineClient::connect(host.driver("tcp-in"));
    send(&mut device, "m2", TS, "5");
    host.settled_stats(1);

    let mut sse = Sse::open(api, "/api/v1/stream?device=m1", &[("Authorization", &auth)]).expect("a stream");
    let hello = sse.event();
    assert_eq!(hello.name, "hello");
    assert_eq!((hello.data["control_ms"].as_u64(), hello.data["queue_limit"].as_u64()), (Some(5000), Some(256)));
    assert_eq!(hello.data["user"], "local");
    let stream_id = hello.data["stream"].as_str().expect("a stream id").to_owned();
    let live = sse.event();
    assert_eq!(live.name, "live");
    assert_eq!((live.data["resume"].as_u64(), live.id), (Some(1), Some(1)), "m2's reading is the log head");

    // Live: m1's readings, not m2's.
    send(&mut device, "m2", TS + 1000, "6");
    send(&mut device, "m1", TS, "10.5");
    let first = sse.event();
    assert_eq!(reading_of(&first), ("m1".into(), "10.5".into()));
    assert_eq!(first.data["seq"], 3);
    assert!(first.data["archived_at_ms"].as_i64().is_some_and(|at| at > TS), "{first:?}");
    assert_eq!(first.id, Some(3), "the resume point");

    // A control request comes back behind the data.
    let control = |ts: i64| {
        let path = format!("/api/v1/stream/{stream_id}/control");
        request(api, "POST", &path, &[("Authorization", &auth)], json!({ "ts": ts }).to_string().as_bytes())
    };
    assert_eq!(control(1234).status, 202);
    let echoed = sse.event();
    assert_eq!((echoed.name.as_str(), echoed.data["ts"].as_i64()), ("control", Some(1234)));
    let r = request(api, "POST", "/api/v1/stream/s-nope/control", &[("Authorization", &auth)], br#"{"ts":1}"#);
    assert_eq!(r.status, 404, "{}", r.json());

    // Cut: readings archived meanwhile are replayed on reconnect, in order.
    let last = sse.last_id.expect("an id");
    drop(sse);
    for (i, value) in ["11", "12", "13"].iter().enumerate() {
        send(&mut device, "m1", TS + 1000 * (i as i64 + 1), value);
    }
    send(&mut device, "m2", TS + 5000, "7");
    host.settled_stats(7);
    let last_id = last.to_string();
    let headers = [("Authorization", auth.as_str()), ("Last-Event-ID", last_id.as_str())];
    let mut sse = Sse::open(api, "/api/v1/stream?device=m1", &headers).expect("a stream");
    assert_eq!(sse.event().name, "hello");
    let replayed: Vec<(String, String)> = (0..3).map(|_| reading_of(&sse.event())).collect();
    assert_eq!(replayed, [("m1".into(), "11".into()), ("m1".into(), "12".into()), ("m1".into(), "13".into())]);
    let live = sse.event();
    assert_eq!((live.name.as_str(), live.data["resume"].as_u64()), ("live", Some(7)));
    send(&mut device, "m1", TS + 9000, "14");
    assert_eq!(reading_of(&sse.event()), ("m1".into(), "14".into()));

    // A snapshot: the latest of every selected channel, then live.
    let mut all = Sse::open(api, "/api/v1/stream?tree=*&snapshot=true", &[("Authorization", &auth)]).expect("stream");
    assert_eq!(all.event().name, "hello");
    let mut snapshot = vec![reading_of(&all.event()), reading_of(&all.event())];
    snapshot.sort();
    assert_eq!(snapshot, [("m1".into(), "14".into()), ("m2".into(), "7".into())]);
    assert_eq!(all.event().name, "live");

    // Refusals: another site's Origin, unknown parameters, bad ids, no login.
    let evil = [("Authorization", auth.as_str()), ("Origin", "http://evil.example")];
    let refused = Sse::open(api, "/api/v1/stream", &evil).err().expect("refused");
    assert_eq!(refused.status, 403);
    let refused = Sse::open(api, "/api/v1/stream?devices=m1", &[("Authorization", &auth)]).err().expect("refused");
    assert_eq!(refused.status, 400);
    assert!(String::from_utf8_lossy(&refused.body).contains("unknown query parameter \\\"devices\\\""));
    let refused = Sse::open(api, "/api/v1/stream?last_event_id=x", &[("Authorization", &auth)]).err().expect("refused");
    assert_eq!(refused.status, 400);
    assert_eq!(Sse::open(api, "/api/v1/stream", &[]).err().expect("refused").status, 401);
}

#[test]
fn streams_show_only_granted_meters_and_close_within_a_second_when_rights_go() {
    let config = default_config(&plugins_dir("wasm")) + "\n[web]\ncookie_secure = false\n";
    let host = Host::start_with(&config);
    let api = host.api;
    let mut device = LineClient::connect(host.driver("tcp-in"));
    send(&mut device, "north-1", TS, "1");
    send(&mut device, "south-1", TS, "1");
    for (meter, site) in [("north-1", "north"), ("south-1", "south")] {
        wait_for("the meter to be registered", APPLY_DEADLINE, || {
            (host.get(&format!("/api/v1/meters/{meter}")).0 == 200).then_some(())
        });
        let body = json!({ "actor": "e2e", "site": site }).to_string();
        let (status, _) = http(api, "PATCH", &format!("/api/v1/meters/{meter}"), body.as_bytes());
        assert_eq!(status, 200);
    }
    add_user(&host, &["vera", "--role", "viewer", "--grant", "*/north"], "vera's password");
    let vera = login_ok(api, "vera", "vera's password");
    let origin = origin(api);
    let as_vera = [("Cookie", vera.cookie.as_str()), ("Origin", origin.as_str())];

    // The data endpoints show her only north.
    let meters = browser(api, &vera, "GET", "/api/v1/meters", false, "").json();
    let ids: Vec<&str> = meters.as_array().expect("a list").iter().filter_map(|m| m["id"].as_str()).collect();
    assert_eq!(ids, ["north-1"]);
    let devices = browser(api, &vera, "GET", "/api/v1/devices", false, "").json();
    assert_eq!(devices.as_array().map(Vec::len), Some(1), "{devices}");
    assert_eq!(browser(api, &vera, "GET", "/api/v1/devices/south-1/latest", false, "").status, 404);
    assert_eq!(browser(api, &vera, "GET", "/api/v1/meters/south-1", false, "").status, 404);
    assert_eq!(browser(api, &vera, "GET", "/api/v1/deltas?meter=south-1&period=day", false, "").status, 404);
    let readings = browser(api, &vera, "GET", "/api/v1/readings", false, "").json();
    assert!(readings.as_array().expect("a list").iter().all(|r| r["device"] == "north-1"), "{readings}");

    // A subscription naming south is refused; a tree is narrowed to north.
    let refused = Sse::open(api, "/api/v1/stream?device=south-1", &as_vera).err().expect("refused");
    assert_eq!(refused.status, 403);
    assert!(String::from_utf8_lossy(&refused.body).contains("subscription refused"), "{refused:?}");
    let mut tree = Sse::open(api, "/api/v1/stream?tree=*", &as_vera).expect("a stream");
    let mut named = Sse::open(api, "/api/v1/stream?device=north-1", &as_vera).expect("a stream");
    for sse in [&mut tree, &mut named] {
        assert_eq!(sse.next_named("live").name, "live");
    }
    send(&mut device, "south-1", TS + 1000, "2");
    send(&mut device, "north-1", TS + 1000, "2");
    assert_eq!(reading_of(&tree.event()), ("north-1".into(), "2".into()), "south is never sent");
    assert_eq!(reading_of(&named.event()), ("north-1".into(), "2".into()));

    // Revoking the grant closes the stream naming north within a second.
    let revoked = Instant::now();
    let out = host.cli(&["user", "revoke", "vera", "*/north"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let closed = named.event();
    assert_eq!(closed.name, "closed", "{closed:?}");
    assert!(closed.data["reason"].as_str().unwrap_or_default().contains("north-1"), "{closed:?}");
    assert!(revoked.elapsed() < Duration::from_secs(1), "closed after {:?}", revoked.elapsed());
    assert!(named.next_before(Instant::now() + EVENT_DEADLINE).is_none(), "the stream ended");
    // The tree stream goes on, without north now.
    send(&mut device, "north-1", TS + 2000, "3");
    let out = host.cli(&["user", "grant", "vera", "*/south"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    wait_for("the new grant to apply", APPLY_DEADLINE, || {
        let meters = browser(api, &vera, "GET", "/api/v1/meters", false, "").json();
        (meters[0]["id"] == "south-1").then_some(())
    });
    send(&mut device, "south-1", TS + 2000, "3");
    assert_eq!(reading_of(&tree.event()), ("south-1".into(), "3".into()), "north-1's 3 was not hers to see");

    // A logout closes her streams within a second.
    let logged_out = Instant::now();
    let r = browser(api, &vera, "POST", "/api/v1/logout", true, "");
    assert_eq!(r.status, 200, "{}", r.json());
    let closed = tree.event();
    assert_eq!((closed.name.as_str(), closed.data["reason"].as_str()), ("closed", Some("logged out")));
    assert!(logged_out.elapsed() < Duration::from_secs(1), "closed after {:?}", logged_out.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_stream_carries_the_same_events_and_control_frames() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let host = tokio::task::spawn_blocking(Host::start).await.expect("host");
    let api = host.api;
    let tcp_in = host.driver("tcp-in");
    let send_blocking = move |meter: &'static str, ts: i64, value: &'static str| {
        tokio::task::spawn_blocking(move || send(&mut LineClient::connect(tcp_in), meter, ts, value))
    };
    let connect = |query: &str| {
        let mut req = format!("ws://{api}/api/v1/stream/ws{query}").into_client_request().expect("request");
        req.headers_mut().insert("authorization", bearer(api).parse().expect("header"));
        tokio_tungstenite::connect_async(req)
    };
    async fn next(
        ws: &mut (impl StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin),
    ) -> Value {
        loop {
            match tokio::time::timeout(EVENT_DEADLINE, ws.next()).await.expect("a message in time") {
                Some(Ok(Message::Text(t))) => return serde_json::from_str(&t).expect("JSON"),
                Some(Ok(_)) => continue,
                other => panic!("the stream ended: {other:?}"),
            }
        }
    }

    let (mut ws, _) = connect("?device=m1").await.expect("a WebSocket stream");
    assert_eq!(next(&mut ws).await["type"], "hello");
    let live = next(&mut ws).await;
    assert_eq!((live["type"].as_str(), live["resume"].as_u64()), (Some("live"), Some(0)));
    send_blocking("m1", TS, "1.5").await.expect("sent");
    let reading = next(&mut ws).await;
    assert_eq!((reading["type"].as_str(), reading["data"]["value"].as_str()), (Some("reading"), Some("1.5")));
    assert_eq!(reading["resume"], 1);
    ws.send(Message::Text(r#"{"type":"control","ts":77}"#.into())).await.expect("send");
    let control = next(&mut ws).await;
    assert_eq!(control["type"], "control");
    assert_eq!(control["data"]["ts"], 77);
    drop(ws);

    send_blocking("m1", TS + 1000, "2.5").await.expect("sent");
    host.settled_stats(2);
    let (mut ws, _) = connect("?device=m1&last_event_id=1").await.expect("a WebSocket stream");
    assert_eq!(next(&mut ws).await["type"], "hello");
    let replayed = next(&mut ws).await;
    assert_eq!((replayed["type"].as_str(), replayed["data"]["value"].as_str()), (Some("reading"), Some("2.5")));
    assert_eq!(next(&mut ws).await["data"]["resume"], 2);

    // Another site's page cannot open one.
    let mut req = format!("ws://{api}/api/v1/stream/ws").into_client_request().expect("request");
    req.headers_mut().insert("authorization", bearer(api).parse().expect("header"));
    req.headers_mut().insert("origin", "http://evil.example".parse().expect("header"));
    assert!(tokio_tungstenite::connect_async(req).await.is_err(), "refused");
    drop(host);
}
