//! Fixture tests of the listener plugin: every case under `fixtures/` is
//! played against the simulated host of the plugin-api testing kit and the
//! transcript compared with the case's `<name>.out.json`.
//! `METERHUB_BLESS=1 cargo test` rewrites the expected files instead.
//! Layout:
//!
//! - `tcp/<name>.in`: the bytes of one TCP session;
//! - `websocket/<name>.in`: the bytes of one WebSocket session's messages;
//! - `http/<name>.http.json`: one request (`method`, `target`, `headers`),
//!   its body in `http/<name>.in` (empty if absent);
//! - `codec/<name>.in`: one frame payload handed to `decode`;
//! - `<name>.case.json` (optional, tcp/websocket/codec): host options, see
//!   [`Options`]; in `http` they sit in the `.http.json` itself.
//!
//! The host opens the session, hands over the input (the whole file as one
//! `Data`, or cut by `cuts` / `chunk_bytes`; on WebSocket each piece is one
//! message), and commits every `Commit` immediately with increasing seqs
//! (from 1001), delivering the `Committed` events right after the event
//! that produced them (after all input with `hold_commits`).
//! `fail_commits` lists commits (1-based, in order) that fail instead.
//! Every committed frame is decoded by the plugin as codec; the transcript
//! ends with `Closed`. Bytes are shown as text, invalid UTF-8 bytes as
//! `\xNN`.

use std::path::Path;

use meterhub_driver_listener::Listener;
use meterhub_plugin_api::testing::{
    Case, Fixtures, FrameBuilder, SimHost, assert_manifest_matches, case_names, render_action, render_event, text,
};
use meterhub_plugin_api::{Action, HttpRequest, Plugin, RawFrame, Transport};
use serde::Deserialize;
use serde_json::{Value, json};

const PEER: &str = "192.0.2.10:40000";

type Host = SimHost<Listener>;

/// Host options of one case; every field is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Options {
    /// Plugin settings (default `{}`).
    settings: Option<Value>,
    /// Host time of every event (default 2026-11-21T10:00:00Z).
    now_ms: Option<i64>,
    /// Byte offsets of the `.in` file where a new chunk (message) starts.
    cuts: Vec<usize>,
    /// Cut the input into chunks of this many bytes.
    chunk_bytes: Option<usize>,
    /// Deliver commit answers only after all input.
    hold_commits: bool,
    /// Commits (1-based, in order of delivery) the host fails.
    fail_commits: Vec<usize>,
    /// HTTP: request method (default POST).
    method: Option<String>,
    /// HTTP: request target (default `/readings`).
    target: Option<String>,
    /// HTTP: request headers.
    headers: Vec<(String, String)>,
    /// Codec: the frame's `received_at_ms` (default `now_ms`).
    received_at_ms: Option<i64>,
    /// Codec: the frame's content type (default the listener's).
    content_type: Option<String>,
}

/// A host with the case's settings and clock, failing its `fail_commits`.
fn host(options: &Options) -> Result<Host, String> {
    let settings = options.settings.clone().unwrap_or_else(|| json!({})).to_string();
    let mut host = Host::new(&settings)?;
    host.set_now_ms(options.now_ms.unwrap_or(Host::DEFAULT_NOW_MS));
    host.fail_commits(options.fail_commits.iter().copied());
    Ok(host)
}

/// `frame` decoded by the plugin as codec, as the transcript shows it.
fn decoded(host: &mut Host, frame: &RawFrame) -> Value {
    match host.decode(frame) {
        Ok(decoded) => serde_json::to_value(decoded).unwrap_or_else(|e| json!(e.to_string())),
        Err(e) => json!({ "error": e.reason }),
    }
}

/// Answer what is held, close the session, and show every event with its
/// answer and every committed frame with its decoding.
fn finish(mut host: Host) -> Value {
    host.release();
    host.close();
    let transcript: Vec<Value> = host
        .transcript()
        .iter()
        .map(|step| json!({ "in": render_event(&step.event), "out": step.actions.iter().map(render_action).collect::<Vec<_>>() }))
        .collect();
    let frames = host.journal().to_vec();
    let journal: Vec<Value> = frames
        .iter()
        .map(|frame| json!({ "seq": frame.seq, "payload": text(&frame.payload), "decoded": decoded(&mut host, frame) }))
        .collect();
    json!({ "transcript": transcript, "journal": journal })
}

/// Cut `input` into the pieces the case asks for.
fn pieces<'a>(input: &'a [u8], options: &Options) -> Result<Vec<&'a [u8]>, String> {
    if let Some(n) = options.chunk_bytes {
        if n == 0 || !options.cuts.is_empty() {
            return Err("chunk_bytes must be positive and not combined with cuts".to_owned());
        }
        return Ok(input.chunks(n).collect());
    }
    let mut out = Vec::new();
    let mut start = 0;
    for &cut in &options.cuts {
        if cut <= start || cut >= input.len() {
            return Err(format!("cut {cut} is not increasing within 1..{}", input.len()));
        }
        out.push(&input[start..cut]);
        start = cut;
    }
    out.push(&input[start..]);
    Ok(out)
}

fn run_lines(case: &Case, transport: Transport) -> Result<Value, String> {
    let options: Options = case.options(".case.json")?;
    let input = case.read(".in")?;
    let mut host = host(&options)?;
    host.hold_commits(options.hold_commits);
    host.open(transport, PEER);
    for piece in pieces(&input, &options)? {
        host.data(piece);
    }
    Ok(finish(host))
}

fn run_http(case: &Case) -> Result<Value, String> {
    let options: Options = case.options(".http.json")?;
    let body = case.read_optional(".in")?.unwrap_or_default();
    let mut host = host(&options)?;
    host.open(Transport::Http, PEER);
    host.request(HttpRequest {
        method: options.method.clone().unwrap_or_else(|| "POST".to_owned()),
        target: options.target.clone().unwrap_or_else(|| "/readings".to_owned()),
        headers: options.headers.clone(),
        body,
    });
    Ok(finish(host))
}

fn run_codec(case: &Case) -> Result<Value, String> {
    let options: Options = case.options(".case.json")?;
    let payload = case.read(".in")?;
    let mut host = host(&options)?;
    let content_type =
        options.content_type.clone().unwrap_or_else(|| "application/vnd.meterhub.reading+json".to_owned());
    let received_at_ms = options.received_at_ms.unwrap_or(host.now_ms());
    let frame = FrameBuilder::new(payload)
        .seq(Host::FIRST_SEQ)
        .source("devices")
        .peer(PEER)
        .received_at_ms(received_at_ms)
        .content_type(content_type)
        .build();
    Ok(json!({ "received_at_ms": received_at_ms, "decoded": decoded(&mut host, &frame) }))
}

#[test]
fn check() {
    let mut fixtures = Fixtures::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"));
    fixtures.check("tcp", ".in", &[".case.json"], |case| run_lines(case, Transport::Tcp));
    fixtures.check("websocket", ".in", &[".case.json"], |case| run_lines(case, Transport::Websocket));
    fixtures.check("http", ".http.json", &[".in"], run_http);
    fixtures.check("codec", ".in", &[".case.json"], run_codec);
    fixtures.finish();
}

#[test]
fn manifest_and_example_settings_agree_with_the_plugin() {
    assert_manifest_matches::<Listener>(env!("CARGO_MANIFEST_DIR"));
    let example = include_str!("../settings.example.json");
    if let Err(e) = Listener::init(example) {
        panic!("settings.example.json: {e}");
    }
}

/// Verdicts and answers of a TCP session do not depend on how its bytes
/// were cut: every fixture, split at every byte and in 1-byte chunks, gives
/// the same commits, rejects and answer bytes as the unsplit input.
#[test]
fn chunking_does_not_change_verdicts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/tcp");
    for name in case_names(&dir, ".in", &[".case.json"]).expect("fixtures/tcp") {
        let case = Case::new(&dir, &name);
        let options: Options = case.options(".case.json").expect("case");
        let input = case.read(".in").expect("input");
        let run = |chunks: &[&[u8]]| {
            let mut host = host(&options).expect("settings");
            host.hold_commits(true);
            host.open(Transport::Tcp, PEER);
            for chunk in chunks {
                host.data(chunk);
            }
            host.release();
            let mut verdicts = Vec::new();
            let mut answers = Vec::new();
            for action in host.transcript().iter().flat_map(|step| &step.actions) {
                match action {
                    Action::Send(bytes) => answers.extend_from_slice(bytes),
                    other => verdicts.push(render_action(other)),
                }
            }
            (verdicts, answers)
        };
        let whole = run(&[&input]);
        for at in 1..input.len() {
            assert_eq!(run(&[&input[..at], &input[at..]]), whole, "tcp/{name} split at byte {at}");
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(run(&bytes), whole, "tcp/{name} in 1-byte chunks");
    }
}
