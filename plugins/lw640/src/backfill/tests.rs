//! The back-fill as the host drives it: a fetch session, the Storage
//! Integration's answers (lines built from The Things Stack's documented
//! uplink, the `tts-docs-uplink-message` fixture from the shared protocol
//! vectors), the commits and the marks.

use meterhub_plugin_api::testing::SimHost;
use meterhub_plugin_api::time::{format_rfc3339_ms, parse_rfc3339_ms};
use meterhub_plugin_api::{Event, Fetch, Fetched, HttpRequest, HttpResponse, Transport};
use serde_json::{Value, json};

use super::*;
use crate::Lw640;

const NOW: i64 = 1_795_255_200_000;
const HOUR: i64 = 3_600_000;
const API: &str = "https://eu1.cloud.thethings.network/api/v3";

/// The documented uplink, as device `eui` with counter `fcnt` received at `ts_ms`.
fn uplink(eui: &str, fcnt: u32, ts_ms: i64) -> Value {
    let mut up: Value = serde_json::from_str(include_str!("../../fixtures/http/tts-docs-uplink-message.in")).unwrap();
    up["end_device_ids"]["dev_eui"] = json!(eui);
    up["received_at"] = json!(format_rfc3339_ms(ts_ms));
    up["uplink_message"]["f_cnt"] = json!(fcnt);
    up["uplink_message"]["received_at"] = json!(format_rfc3339_ms(ts_ms));
    up
}

/// An answer of the Storage Integration holding `messages`, one line each.
fn answer(messages: &[Value]) -> HttpResponse {
    let mut body = String::new();
    for m in messages {
        body.push_str(&json!({ "result": m }).to_string());
        body.push('\n');
    }
    HttpResponse { status: 200, content_type: "text/event-stream".into(), body: body.into_bytes() }
}

fn settings(extra: &str) -> String {
    format!(
        r#"{{"server": "tts-v3", "auth_token": "Bearer t", "backfill_applications": ["app1", "meters@ttn"]{extra}}}"#
    )
}

fn host(extra: &str) -> SimHost<Lw640> {
    let mut host = SimHost::new(&settings(extra)).unwrap();
    host.set_now_ms(NOW);
    host
}

/// The query parameter `name` of `fetch`'s target.
fn param<'a>(fetch: &'a Fetch, name: &str) -> &'a str {
    let query = fetch.request.target.split_once('?').unwrap().1;
    query.split('&').find_map(|p| p.strip_prefix(&format!("{name}="))).unwrap()
}

fn reply(host: &mut SimHost<Lw640>, fetch: &Fetch, response: Result<HttpResponse, String>) -> Answers {
    host.event(Event::Fetched(Fetched { id: fetch.id, response }))
}

use meterhub_plugin_api::testing::Answers;

#[test]
fn a_round_reads_each_application_from_its_mark_and_marks_the_newest_uplink() {
    let mark = NOW - 2 * HOUR;
    let mut host = host(&format!(r#", "resume": {{"tts-storage:app1": {mark}}}"#));
    let opened = host.open(Transport::Fetch, API);
    let [fetch] = &opened.fetches[..] else { panic!("{opened:?}") };
    assert_eq!(
        fetch.request,
        HttpRequest {
            method: "GET".into(),
            target: format!(
                "/as/applications/app1/packages/storage/uplink_message?after={}&before={}&limit=500&order=received_at",
                format_rfc3339_ms(mark),
                format_rfc3339_ms(NOW - 60_000)
            ),
            headers: vec![("accept".into(), "text/event-stream".into())],
            body: Vec::new(),
        }
    );
    // Out of order on purpose: the newest is committed last, with the mark.
    let ts = [mark + 3000, mark + 1000, mark + 2000];
    let ups: Vec<Value> = ts.iter().enumerate().map(|(i, t)| uplink("0004A30B001C0530", i as u32 + 1, *t)).collect();
    let got = reply(&mut host, fetch, Ok(answer(&ups)));
    let counters: Vec<_> = got.commits.iter().map(|c| c.meta(lorawan::FCNT).unwrap().to_owned()).collect();
    assert_eq!(counters, ["2", "3", "1"]);
    for c in &got.commits {
        assert_eq!(c.content_type, TTS_STORAGE_JSON);
        assert_eq!(c.meta(META_STORAGE_APPLICATION), Some("app1"));
        assert_eq!(c.meta(lorawan::DEVEUI), Some("0004A30B001C0530"));
        let line: Value = serde_json::from_slice(&c.payload).unwrap();
        assert!(line["result"]["uplink_message"].is_object(), "the payload is the line as read");
    }
    let newest = &got.commits[2];
    assert_eq!(newest.meta(META_RESUME_KEY), Some("tts-storage:app1"));
    assert_eq!(newest.meta(META_RESUME_MARK), Some((mark + 3000).to_string().as_str()));
    assert!(got.commits[..2].iter().all(|c| c.meta(META_RESUME_KEY).is_none()));
    assert_eq!(host.marks().get("tts-storage:app1"), Some(&(mark + 3000)));
    assert_eq!(host.plugin().backfill_mark("app1"), Some(mark + 3000));
    // Then the next application, from backfill_initial_s back.
    let [next] = &got.fetches[..] else { panic!("{got:?}") };
    assert!(next.request.target.starts_with("/as/applications/meters@ttn/packages/storage/uplink_message?"));
    assert_eq!(param(next, "after"), format_rfc3339_ms(NOW - 24 * HOUR));
    let done = reply(&mut host, next, Ok(answer(&[])));
    assert_eq!((done.commits.len(), &done.timers[..]), (0, &[(TIMER, 300_000)][..]));
    // The next round starts from the new mark.
    host.set_now_ms(NOW + 300_000);
    let round = host.timer(TIMER);
    assert_eq!(param(&round.fetches[0], "after"), format_rfc3339_ms(mark + 3000));
}

#[test]
fn a_full_page_is_followed_by_the_next_from_the_newest_time_read() {
    let mut host = host(r#", "backfill_page": 2, "backfill_settle_s": 0"#);
    let opened = host.open(Transport::Fetch, API);
    let first = &opened.fetches[0];
    assert_eq!((param(first, "limit"), param(first, "before")), ("2", format_rfc3339_ms(NOW).as_str()));
    let t = NOW - HOUR;
    let got =
        reply(&mut host, first, Ok(answer(&[uplink("0101010101010101", 1, t), uplink("0101010101010101", 2, t + 5)])));
    assert_eq!(got.commits.len(), 2);
    let [more] = &got.fetches[..] else { panic!("{got:?}") };
    assert!(more.request.target.starts_with("/as/applications/app1/"));
    assert_eq!(param(more, "after"), format_rfc3339_ms(t + 5));
    // A full page that cannot move forward moves on by one millisecond.
    let same = reply(
        &mut host,
        more,
        Ok(answer(&[uplink("0101010101010101", 2, t + 5), uplink("0101010101010101", 2, t + 5)])),
    );
    assert_eq!(param(&same.fetches[0], "after"), format_rfc3339_ms(t + 6));
    assert_eq!(same.commits.len(), 1, "the repeat is not committed again, but the newest carries the mark");
    assert_eq!(same.commits[0].meta(lorawan::REPEAT), Some("1"));
}

#[test]
fn uplinks_that_came_live_are_not_committed_again() {
    let mut host = host("");
    let t = NOW - HOUR;
    let live = uplink("0101010101010101", 7, t);
    let request = HttpRequest {
        method: "POST".into(),
        target: "/tts".into(),
        headers: vec![("authorization".into(), "Bearer t".into())],
        body: live.to_string().into_bytes(),
    };
    host.open(Transport::Http, "192.0.2.1:1");
    assert_eq!(host.request(request).commits.len(), 1);
    let opened = host.open(Transport::Fetch, API);
    let stored = [live.clone(), uplink("0101010101010101", 8, t + 1000), uplink("0101010101010101", 9, t + 2000)];
    let got = reply(&mut host, &opened.fetches[0], Ok(answer(&stored)));
    let counters: Vec<_> = got.commits.iter().map(|c| c.meta(lorawan::FCNT).unwrap()).collect();
    assert_eq!(counters, ["8", "9"], "the live one is in the journal already");
    assert_eq!(host.journal().len(), 3);
}

#[test]
fn refusals_name_the_application_the_status_and_what_to_check() {
    let mut host = host("");
    let opened = host.open(Transport::Fetch, API);
    let denied = HttpResponse {
        status: 401,
        content_type: "application/json".into(),
        body: br#"{"error":{"code":16,"message":"error:pkg/auth:token_invalid (invalid token)","details":[]}}"#
            .to_vec(),
    };
    let got = reply(&mut host, &opened.fetches[0], Ok(denied));
    let [(reason, _)] = &got.rejects[..] else { panic!("{got:?}") };
    assert_eq!(
        reason,
        "The Things Stack storage of application \"app1\" answered 401: error:pkg/auth:token_invalid (invalid token); \
         check the API key in the instance's fetch token_file (it must be allowed to read the application's traffic)"
    );
    // The next application is still read; a bad line is refused, the rest taken.
    let next = &got.fetches[0];
    let t = NOW - HOUR;
    let mut body = answer(&[uplink("0101010101010101", 1, t)]).body;
    body.extend_from_slice(b"{\"result\":{\"end_device_ids\":{}, \"uplink_message\":{}}}\n");
    body.extend_from_slice(json!({ "result": uplink("0101010101010101", 2, t + 1) }).to_string().as_bytes());
    let ok = HttpResponse { status: 200, content_type: "text/event-stream".into(), body };
    let got = reply(&mut host, next, Ok(ok));
    let [(reason, input)] = &got.rejects[..] else { panic!("{got:?}") };
    assert!(
        reason.starts_with("The Things Stack storage of application \"meters@ttn\", answer line 2: ")
            && reason.contains("result.end_device_ids.dev_eui"),
        "{reason}"
    );
    assert!(input.starts_with(b"{\"result\""));
    assert_eq!(got.commits.len(), 2);
    assert!(got.commits[1].meta(META_RESUME_MARK).is_some());
    // A stream the server broke off is taken but not marked.
    host.set_now_ms(NOW + 300_000);
    let round = host.timer(TIMER);
    let mut body = answer(&[uplink("0202020202020202", 1, t)]).body;
    body.extend_from_slice(br#"{"error":{"grpc_code":14,"message":"error:pkg/redis:unavailable"}}"#);
    let broken = HttpResponse { status: 200, content_type: "text/event-stream".into(), body };
    let got = reply(&mut host, &round.fetches[0], Ok(broken));
    assert_eq!(got.commits.len(), 1);
    assert!(got.commits[0].meta(META_RESUME_MARK).is_none());
    assert!(got.rejects[0].0.ends_with("answer line 2: the server broke off the answer: error:pkg/redis:unavailable"));
}

#[test]
fn an_unreachable_server_leaves_the_application_to_the_next_round() {
    let mut host = host("");
    let opened = host.open(Transport::Fetch, API);
    let got = reply(&mut host, &opened.fetches[0], Err("cannot connect to eu1.cloud.thethings.network:443".into()));
    assert!(got.rejects.is_empty() && got.commits.is_empty());
    assert!(got.fetches[0].request.target.contains("meters@ttn"));
    let got = reply(&mut host, &got.fetches[0].clone(), Err("down".into()));
    assert_eq!(got.timers, [(TIMER, 300_000)]);
    // An answer to a fetch no longer in flight is ignored.
    assert!(reply(&mut host, &opened.fetches[0], Ok(answer(&[]))).is_quiet());
}

#[test]
fn a_restarted_instance_resumes_from_the_durable_mark() {
    let mut host = host("");
    let opened = host.open(Transport::Fetch, API);
    let t = NOW - HOUR;
    reply(&mut host, &opened.fetches[0], Ok(answer(&[uplink("0101010101010101", 1, t)])));
    let mut again = host.restarted(&settings("")).unwrap();
    let opened = again.open(Transport::Fetch, API);
    assert_eq!(param(&opened.fetches[0], "after"), format_rfc3339_ms(t));
    assert_eq!(again.plugin().backfill_mark("app1"), Some(t));
    assert!(parse_rfc3339_ms(param(&opened.fetches[0], "before")).is_ok());
}

#[test]
fn without_history_or_applications_the_fetch_session_is_closed_saying_why() {
    let mut cs = SimHost::<Lw640>::new(r#"{"server": "chirpstack-v4", "backfill_applications": ["app1"]}"#).unwrap();
    let got = cs.open(Transport::Fetch, API);
    assert!(got.closes[0].contains("ChirpStack v4 keeps no uplink history"), "{got:?}");
    let mut none = SimHost::<Lw640>::new(r#"{"server": "tts-v3"}"#).unwrap();
    let got = none.open(Transport::Fetch, API);
    assert!(got.closes[0].contains("no backfill_applications"), "{got:?}");
    // Other sessions cannot reach the fetch session's state.
    let mut host = host("");
    host.open(Transport::Fetch, API);
    let fetch_session = host.session();
    let got = host.handle(fetch_session, Event::Data(b"x".to_vec()));
    assert_eq!(got.closes.len(), 1);
}
