//! Fixture tests of the lw640 plugin: every case under `fixtures/` is
//! played against the simulated host of the plugin-api testing kit and
//! the transcript compared with the case's `<name>.out.json`.
//! `METERHUB_BLESS=1 cargo test -p meterhub-driver-lw640` rewrites the
//! expected files instead. Layout:
//!
//! - `http/<name>.http.json`: one request (see [`Options`]), its body in
//!   `http/<name>.in` (empty if absent);
//! - `protobuf/<name>.pb.json`: `{"from": "<http case>"}`: that ChirpStack
//!   v4 JSON case's body encoded as the event's binary Protobuf
//!   ([`protobuf::encode`]) and posted as `application/octet-stream`; its
//!   frame must carry the same metadata as the JSON case's (the decoded
//!   payload compared as JSON);
//! - `mqtt/<name>.mqtt.json`: one MQTT message (see [`mqtt::MqttOptions`]),
//!   its payload in `mqtt/<name>.in` or another case's file, checked as
//!   [`mqtt`] says;
//! - `sessions/<name>.sessions.json`: several requests or messages to one
//!   instance, each its own session (see [`Sessions`]), for repeats.
//!
//! The host commits every `Commit` at once (seqs from 1001) unless the
//! case fails it. Every request is checked against the driver's contract
//! besides its transcript ([`check_answers`]): exactly one response; a
//! refusal is one `Reject` with 400, 401 or 405 and no commit; otherwise
//! one commit whose payload is the request body byte for byte (shown as
//! `"= request body"` in transcripts), answered 200 with its seq or 503;
//! the token never shows; committed metadata has the common keys.

use std::path::{Path, PathBuf};

use meterhub_driver_lw640::{CHIRPSTACK_V3_JSON, CHIRPSTACK_V4_JSON, CHIRPSTACK_V4_PROTOBUF, Lw640, TTS_V3_JSON};
use meterhub_plugin_api::testing::{
    Answers, Case, DriverFrame, Fixtures, SimHost, assert_manifest_matches, case_names, render_action, render_event,
};
use meterhub_plugin_api::{Action, Event, HttpRequest, Plugin, Transport, lorawan};
use serde::Deserialize;
use serde_json::{Value, json};

mod mqtt;
mod protobuf;

const PEER: &str = "192.0.2.10:40000";
/// The token of the default settings and headers.
const TOKEN: &str = "Bearer s3cret-token";

type Host = SimHost<Lw640>;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// One HTTP case; every field is optional.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Options {
    /// Plugin settings (default `{"auth_token": "Bearer s3cret-token"}`).
    settings: Option<Value>,
    /// Host time (default 2026-11-21T10:00:00Z).
    now_ms: Option<i64>,
    /// Method (default POST).
    method: Option<String>,
    /// Path and query (default `/lorawan`).
    target: Option<String>,
    /// Headers (default JSON content type and the default token).
    headers: Option<Vec<(String, String)>>,
    /// Commits (1-based, in order) the host fails.
    fail_commits: Vec<usize>,
}

/// Requests and MQTT messages to one instance, one session each.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sessions {
    /// What the case shows (copied to the output).
    note: String,
    /// Plugin settings (default as [`Options::settings`]).
    #[serde(default)]
    settings: Option<Value>,
    /// The requests and messages, in order.
    requests: Vec<SessionRequest>,
}

/// One request (`target`) or MQTT message (`topic`) of a [`Sessions`]
/// case: its body from a file (`in`, a path under `fixtures/`) or given as
/// JSON (`json`, sent compact).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionRequest {
    #[serde(rename = "in")]
    file: Option<String>,
    json: Option<Value>,
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    topic: Option<String>,
    now_ms: i64,
    /// The host fails this request's commit.
    #[serde(default)]
    fail: bool,
}

fn settings_of(settings: &Option<Value>) -> Value {
    settings.clone().unwrap_or_else(|| json!({ "auth_token": TOKEN }))
}

fn default_headers() -> Vec<(String, String)> {
    vec![("content-type".into(), "application/json".into()), ("authorization".into(), TOKEN.into())]
}

fn new_host(settings: &Value) -> Result<Host, String> {
    Host::new(&settings.to_string())
}

/// Play `request` as a new session of `host` (open, request, close) and
/// check its answers against the contract.
fn play(host: &mut Host, request: HttpRequest, settings: &Value) -> Result<(), String> {
    host.open(Transport::Http, PEER);
    let journaled = host.journal().len();
    let body = request.body.clone();
    let answers = host.request(request);
    let stored = host.journal().get(journaled).map(|frame| frame.seq);
    host.close();
    check_answers(&answers, &body, stored, settings)
}

/// The contract every request's answers keep (see the module documentation).
fn check_answers(answers: &Answers, body: &[u8], stored: Option<u64>, settings: &Value) -> Result<(), String> {
    let [response] = answers.responses.as_slice() else {
        return Err(format!("{} responses, not one", answers.responses.len()));
    };
    let answer: Value = serde_json::from_slice(&response.body).map_err(|e| format!("response body not JSON: {e}"))?;
    if let Some(token) = settings.get("auth_token").and_then(Value::as_str) {
        let leaked = String::from_utf8_lossy(&response.body).contains(token)
            || answers.rejects.iter().any(|(reason, _)| reason.contains(token));
        if leaked {
            return Err("the token shows in an answer".to_owned());
        }
    }
    match (answers.rejects.as_slice(), answers.commits.as_slice()) {
        ([(reason, input)], []) => {
            if ![400, 401, 405].contains(&response.status) || answer["error"] != json!(reason) || input != body {
                return Err(format!("a refusal answered {} {answer} for reject {reason:?}", response.status));
            }
        }
        ([], [frame]) => {
            if frame.payload != body {
                return Err("the committed payload is not the request body".to_owned());
            }
            check_frame(frame)?;
            let want = match stored {
                Some(seq) => (200, json!({ "ok": true, "seq": seq })),
                None => (503, answer.clone()),
            };
            if (response.status, &answer) != (want.0, &want.1) || (stored.is_none() && answer["ok"] != json!(false)) {
                return Err(format!("a commit answered {} {answer}", response.status));
            }
        }
        (rejects, commits) => return Err(format!("{} rejects and {} commits", rejects.len(), commits.len())),
    }
    Ok(())
}

/// What every committed frame keeps, whatever its transport: a content
/// type of the driver's, and the common `lorawan.*` keys.
fn check_frame(frame: &DriverFrame) -> Result<(), String> {
    let content_types = [CHIRPSTACK_V4_JSON, CHIRPSTACK_V4_PROTOBUF, CHIRPSTACK_V3_JSON, TTS_V3_JSON];
    if !content_types.contains(&frame.content_type.as_str()) {
        return Err(format!("content type {}", frame.content_type));
    }
    let deveui = frame.meta(lorawan::DEVEUI).unwrap_or_default();
    let hex16 = deveui.len() == 16 && deveui.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b));
    let ts = frame.meta(lorawan::TS).and_then(|ts| ts.parse::<i64>().ok());
    if frame.meta(lorawan::EVENT).is_none() || frame.meta(lorawan::SERVER).is_none() || !hex16 || ts.is_none() {
        return Err(format!("committed metadata lacks a common key: {:?}", frame.meta));
    }
    Ok(())
}

/// The host's transcript as JSON, each commit's payload shown as
/// `"= request body"` or `"= message payload"` when it is (the contract
/// checks hold it to that).
fn transcript(host: &Host) -> Vec<Value> {
    let (mut body, mut shown_as): (Vec<u8>, &str) = (Vec::new(), "");
    host.transcript()
        .iter()
        .map(|step| {
            match &step.event {
                Event::Request(request) => (body, shown_as) = (request.body.clone(), "= request body"),
                Event::Message(message) => (body, shown_as) = (message.payload.clone(), "= message payload"),
                _ => {}
            }
            let out: Vec<Value> = step
                .actions
                .iter()
                .map(|action| {
                    let mut shown = render_action(action);
                    if let Action::Commit(c) = action
                        && c.frame.payload == body
                    {
                        shown["commit"]["payload"] = json!(shown_as);
                    }
                    shown
                })
                .collect();
            json!({ "in": render_event(&step.event), "out": out })
        })
        .collect()
}

fn http_request(options: &Options, body: Vec<u8>) -> HttpRequest {
    HttpRequest {
        method: options.method.clone().unwrap_or_else(|| "POST".to_owned()),
        target: options.target.clone().unwrap_or_else(|| "/lorawan".to_owned()),
        headers: options.headers.clone().unwrap_or_else(default_headers),
        body,
    }
}

/// A frame's metadata pairs.
type Meta = Vec<(String, String)>;

/// Play one HTTP case; the host and the committed frame's metadata too.
fn run_http_case(options: &Options, request: HttpRequest) -> Result<(Host, Option<Meta>), String> {
    let settings = settings_of(&options.settings);
    let mut host = new_host(&settings)?;
    host.set_now_ms(options.now_ms.unwrap_or(Host::DEFAULT_NOW_MS));
    host.fail_commits(options.fail_commits.iter().copied());
    play(&mut host, request, &settings)?;
    let meta = host.transcript().iter().flat_map(|s| &s.actions).find_map(|a| match a {
        Action::Commit(c) => Some(c.frame.meta.clone()),
        _ => None,
    });
    Ok((host, meta))
}

fn run_http(case: &Case) -> Result<Value, String> {
    let options: Options = case.options(".http.json")?;
    let body = case.read_optional(".in")?.unwrap_or_default();
    let (host, _) = run_http_case(&options, http_request(&options, body))?;
    Ok(json!({ "transcript": transcript(&host) }))
}

fn run_protobuf(case: &Case) -> Result<Value, String> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct From {
        from: String,
    }
    let From { from } = read_json(case, ".pb.json")?;
    let json_case = Case::new(fixtures_dir().join("http"), &from);
    let options: Options = json_case.options(".http.json")?;
    let json_body = json_case.read(".in")?;
    let (_, json_meta) = run_http_case(&options, http_request(&options, json_body.clone()))?;
    let json_meta = json_meta.ok_or(format!("http/{from} commits nothing"))?;
    let event = options.target.as_deref().and_then(|t| t.split_once("event=")).map(|(_, e)| e).unwrap_or_default();
    let value: Value = serde_json::from_slice(&json_body).map_err(|e| format!("http/{from}.in: {e}"))?;
    let mut request = http_request(&options, protobuf::encode(event, &value)?);
    for (name, value) in &mut request.headers {
        if name == "content-type" {
            *value = "application/octet-stream".to_owned();
        }
    }
    let (host, meta) = run_http_case(&options, request)?;
    let meta = meta.ok_or("the Protobuf form commits nothing")?;
    same_meta(&json_meta, &meta)?;
    Ok(json!({ "same_meta_as": format!("http/{from}"), "transcript": transcript(&host) }))
}

/// The two encodings' metadata agree: the same keys in the same order,
/// the same values, the decoded payload as the same JSON.
fn same_meta(json_meta: &[(String, String)], proto_meta: &[(String, String)]) -> Result<(), String> {
    let keys = |m: &[(String, String)]| m.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
    if keys(json_meta) != keys(proto_meta) {
        return Err(format!("metadata keys differ: JSON {:?}, Protobuf {:?}", keys(json_meta), keys(proto_meta)));
    }
    for ((key, a), (_, b)) in json_meta.iter().zip(proto_meta) {
        let same = match key.as_str() {
            lorawan::UPSTREAM => serde_json::from_str::<Value>(a).ok() == serde_json::from_str::<Value>(b).ok(),
            _ => a == b,
        };
        if !same {
            return Err(format!("{key}: JSON {a:?}, Protobuf {b:?}"));
        }
    }
    Ok(())
}

/// The case's file with `suffix` as `T`; errors name the file.
fn read_json<T: serde::de::DeserializeOwned>(case: &Case, suffix: &str) -> Result<T, String> {
    serde_json::from_slice(&case.read(suffix)?).map_err(|e| format!("{}: {e}", case.path(suffix).display()))
}

fn run_sessions(case: &Case) -> Result<Value, String> {
    let spec: Sessions = read_json(case, ".sessions.json")?;
    let settings = settings_of(&spec.settings);
    let mut host = new_host(&settings)?;
    let mut commits = 0;
    for (i, r) in spec.requests.iter().enumerate() {
        let body = match (&r.file, &r.json) {
            (Some(file), None) => {
                let path = fixtures_dir().join(file);
                std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?
            }
            (None, Some(value)) => value.to_string().into_bytes(),
            _ => return Err(format!("request {i}: give exactly one of in and json")),
        };
        host.set_now_ms(r.now_ms);
        if r.fail {
            host.fail_commits([commits + 1]);
        }
        let before = host.transcript().len();
        let played = match (&r.target, &r.topic) {
            (Some(target), None) => {
                let options = Options { target: Some(target.clone()), ..Options::default() };
                play(&mut host, http_request(&options, body), &settings)
            }
            (None, Some(topic)) => mqtt::play_message(&mut host, topic, body),
            _ => return Err(format!("request {i}: give exactly one of target and topic")),
        };
        played.map_err(|e| format!("request {i}: {e}"))?;
        commits += host.transcript()[before..]
            .iter()
            .flat_map(|s| &s.actions)
            .filter(|a| matches!(a, Action::Commit(_)))
            .count();
    }
    Ok(json!({ "note": spec.note, "transcript": transcript(&host) }))
}

#[test]
fn check() {
    let mut fixtures = Fixtures::new(fixtures_dir());
    fixtures.check("http", ".http.json", &[".in"], run_http);
    fixtures.check("protobuf", ".pb.json", &[], run_protobuf);
    fixtures.check("mqtt", ".mqtt.json", &[".in"], mqtt::run_mqtt);
    fixtures.check("sessions", ".sessions.json", &[], run_sessions);
    fixtures.finish();
}

#[test]
fn manifest_and_example_settings_agree_with_the_plugin() {
    assert_manifest_matches::<Lw640>(env!("CARGO_MANIFEST_DIR"));
    let example = include_str!("../../settings.example.json");
    if let Err(e) = Lw640::init(example) {
        panic!("settings.example.json: {e}");
    }
}

#[test]
fn content_types_name_server_and_encoding() {
    assert_eq!(CHIRPSTACK_V4_JSON, "application/vnd.chirpstack.v4.event+json");
    assert_eq!(CHIRPSTACK_V4_PROTOBUF, "application/vnd.chirpstack.v4.event+protobuf");
    assert_eq!(CHIRPSTACK_V3_JSON, "application/vnd.chirpstack.v3.event+json");
    assert_eq!(TTS_V3_JSON, "application/vnd.tts.v3.webhook+json");
}

/// Every vector event of `shared/protocols/vectors` has its own case: the
/// fixture bodies are the vectors' (see `fixtures/README.md`), none
/// dropped.
#[test]
fn every_vector_event_is_a_case() {
    let names = case_names(&fixtures_dir().join("http"), ".http.json", &[".in"]).expect("fixtures/http");
    let vectors = [
        "v4-up",
        "v4-status",
        "v4-join",
        "v4-ack",
        "v4-txack",
        "v4-log",
        "v4-location",
        "v4-integration",
        "v3-uplink-json-v3",
        "v3-uplink-protobuf-json",
        "v3-status-json-v3",
        "v3-join-json-v3",
        "tts-docs-uplink-message",
        "tts-docs-join-accept",
        "tts-docs-downlink-ack",
        "tts-docs-downlink-push-request",
        "tts-formatter-uplink-message",
        "tts-formatter-join-accept",
    ];
    for name in vectors {
        assert!(names.iter().any(|n| n == name), "no fixture http/{name}");
    }
}

/// Every fixture body cut short anywhere, and every Protobuf body with any
/// one byte changed, is answered exactly once, within the contract, and
/// never panics the driver.
#[test]
fn damaged_bodies_are_answered_once() {
    let settings = settings_of(&None);
    let dir = fixtures_dir().join("http");
    let mut bodies: Vec<(Options, Vec<u8>)> = Vec::new();
    for name in case_names(&dir, ".http.json", &[".in"]).expect("fixtures/http") {
        let case = Case::new(&dir, &name);
        let options: Options = case.options(".http.json").expect("options");
        if options.settings.is_none() && options.method.is_none() && options.headers.is_none() {
            bodies.push((options, case.read_optional(".in").expect("body").unwrap_or_default()));
        }
    }
    for (options, body) in &bodies {
        // A host per body: its transcript keeps every request.
        let mut host = new_host(&settings).expect("settings");
        for end in 0..body.len() {
            let request = http_request(options, body[..end].to_vec());
            play(&mut host, request, &settings).unwrap_or_else(|e| panic!("{:?} cut at {end}: {e}", options.target));
        }
        let event = options.target.as_deref().and_then(|t| t.split_once("event=")).map(|(_, e)| e);
        let Some(encoded) = event.and_then(|e| protobuf::encode(e, &serde_json::from_slice(body).ok()?).ok()) else {
            continue;
        };
        let headers = vec![
            ("content-type".to_owned(), "application/octet-stream".to_owned()),
            ("authorization".to_owned(), TOKEN.to_owned()),
        ];
        for at in 0..encoded.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut damaged = encoded.clone();
                damaged[at] ^= flip;
                let request = HttpRequest { headers: headers.clone(), ..http_request(options, damaged) };
                play(&mut host, request, &settings)
                    .unwrap_or_else(|e| panic!("{:?} byte {at} ^ {flip:#x}: {e}", options.target));
            }
        }
        assert_eq!(host.plugin().open_sessions(), 0, "every session settled");
    }
}

/// A repeat that arrives while the first arrival's frame is still being
/// committed is a repeat too; both are answered once their commits are.
#[test]
fn a_repeat_during_the_first_commit() {
    let settings = settings_of(&None);
    let mut host = new_host(&settings).expect("settings");
    let body = std::fs::read(fixtures_dir().join("http/v4-up-object.in")).expect("body");
    let options = Options { target: Some("/lorawan?event=up".into()), ..Options::default() };
    host.hold_commits(true);
    host.open(Transport::Http, PEER);
    assert!(host.request(http_request(&options, body.clone())).responses.is_empty(), "no answer before the commit");
    host.set_now_ms(host.now_ms() + 1_000);
    host.open(Transport::Http, PEER);
    host.request(http_request(&options, body));
    let held = host.held();
    let (first, second) = (held[0].clone(), held[1].clone());
    assert_eq!(first.meta(lorawan::REPEAT), None);
    assert_eq!(second.meta(lorawan::REPEAT), Some("1"));
    assert_eq!(first.meta(lorawan::TS), second.meta(lorawan::TS));
    let answers = host.release();
    assert_eq!(answers.responses.iter().map(|r| r.status).collect::<Vec<_>>(), vec![200, 200]);
    assert_eq!(host.plugin().remembered_uplinks(), 1);
}

/// A first arrival whose commit fails is forgotten, whether or not its
/// session is still open when the host answers.
#[test]
fn a_failed_first_arrival_is_forgotten_after_its_peer_left() {
    let settings = settings_of(&None);
    let mut host = new_host(&settings).expect("settings");
    let body = std::fs::read(fixtures_dir().join("http/v4-up.in")).expect("body");
    let options = Options { target: Some("/lorawan?event=up".into()), ..Options::default() };
    host.hold_commits(true);
    host.open(Transport::Http, PEER);
    host.request(http_request(&options, body.clone()));
    host.close();
    assert_eq!(host.plugin().open_sessions(), 1, "kept for the host's answer");
    host.fail_held(0);
    assert_eq!((host.plugin().open_sessions(), host.plugin().remembered_uplinks()), (0, 0));
    host.hold_commits(false);
    host.open(Transport::Http, PEER);
    let answers = host.request(http_request(&options, body));
    assert_eq!(answers.commits[0].meta(lorawan::REPEAT), None, "the retry is a first arrival");
}

/// Bodies nested far deeper than any server writes are answered, not a
/// stack overflow: as the decoded payload of an uplink (passed on as
/// text) and as a whole body.
#[test]
fn deep_nesting_is_answered() {
    let settings = settings_of(&None);
    let mut host = new_host(&settings).expect("settings");
    let options = Options { target: Some("/lorawan?event=up".into()), ..Options::default() };
    let depth = 100_000;
    let deep = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let up = format!(r#"{{"deviceInfo": {{"devEui": "0101010101010101"}}, "object": {{"a": {deep}}}}}"#);
    play(&mut host, http_request(&options, up.into_bytes()), &settings).expect("deep object");
    play(&mut host, http_request(&options, deep.into_bytes()), &settings).expect("deep body");
}

/// Every event kind each server publishes over MQTT has its own case that
/// commits: ChirpStack v4 and v3 by the topic's last level, The Things
/// Stack by its kind.
#[test]
fn every_mqtt_event_kind_is_a_case() {
    use meterhub_driver_lw640::servers::detect::{CHIRPSTACK_V3_EVENTS, CHIRPSTACK_V4_EVENTS};
    use meterhub_driver_lw640::servers::tts::TOPIC_KINDS;
    let dir = fixtures_dir().join("mqtt");
    let mut committed: Vec<(String, String)> = Vec::new();
    for name in case_names(&dir, ".mqtt.json", &[".in"]).expect("fixtures/mqtt") {
        let case = Case::new(&dir, &name);
        let options: mqtt::MqttOptions = case.options(".mqtt.json").expect("options");
        let out = std::fs::read_to_string(case.path(".out.json")).expect("expected output");
        if out.contains("\"commit\"") {
            committed.push((name, options.topic));
        }
    }
    let kinds = [("v4-", &CHIRPSTACK_V4_EVENTS[..]), ("v3-", &CHIRPSTACK_V3_EVENTS[..])]
        .into_iter()
        .flat_map(|(prefix, events)| events.iter().map(move |e| (prefix, format!("/event/{e}"))))
        .chain(TOPIC_KINDS.iter().map(|(kind, _)| ("tts-", format!("/{kind}"))));
    for (prefix, suffix) in kinds {
        let found = committed.iter().any(|(name, topic)| name.starts_with(prefix) && topic.ends_with(&suffix));
        assert!(found, "no committing mqtt/{prefix}* case on a topic ending in {suffix}");
    }
}

/// Every MQTT fixture payload cut short anywhere, and every binary one
/// with any one byte changed, is answered within the contract (one commit
/// or one reject, naming the topic) and never panics the driver.
#[test]
fn damaged_mqtt_payloads_are_answered_once() {
    let dir = fixtures_dir().join("mqtt");
    for name in case_names(&dir, ".mqtt.json", &[".in"]).expect("fixtures/mqtt") {
        let case = Case::new(&dir, &name);
        let options: mqtt::MqttOptions = case.options(".mqtt.json").expect("options");
        if options.settings.is_some() {
            continue;
        }
        let payload = mqtt::payload(&case, &options).expect("payload");
        let mut host = new_host(&settings_of(&None)).expect("settings");
        for end in 0..payload.len() {
            mqtt::play_message(&mut host, &options.topic, payload[..end].to_vec())
                .unwrap_or_else(|e| panic!("mqtt/{name} cut at {end}: {e}"));
        }
        if options.protobuf {
            for at in 0..payload.len() {
                for flip in [0x01, 0x80, 0xff] {
                    let mut damaged = payload.clone();
                    damaged[at] ^= flip;
                    mqtt::play_message(&mut host, &options.topic, damaged)
                        .unwrap_or_else(|e| panic!("mqtt/{name} byte {at} ^ {flip:#x}: {e}"));
                }
            }
        }
        assert_eq!(host.plugin().open_sessions(), 0, "mqtt/{name}: every session settled");
    }
}
