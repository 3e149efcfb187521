//! Fixture tests of the rbgu plugin: every case under `fixtures/` is played
//! against the simulated host of the plugin-api testing kit and the
//! transcript compared with the case's `<name>.out.json`.
//! `METERHUB_BLESS=1 cargo test -p meterhub-driver-rbgu` rewrites the
//! expected files instead. Layout (see `fixtures/README.md`):
//!
//! - `wrapper/`, `hdlc/`, `stuffed/`: `<name>.hex`, the bytes of one TCP
//!   connection in hex (white space ignored, `#` to the end of a line is a
//!   comment), with `<name>.case.json` options ([`Options`]; the settings
//!   default to the folder's `framing`);
//! - `sessions/<name>.sessions.json`: several connections to one instance
//!   ([`Sessions`]), for replays.
//!
//! The host opens the session, hands over the bytes (in one chunk, or cut
//! by `cuts`), commits every `Commit` at once (seqs from 1001) unless the
//! case fails it, and closes the session. Transcripts show data by offset
//! and length, payloads and refused input in hex.

use std::path::{Path, PathBuf};

use meterhub_driver_rbgu::Rbgu;
use meterhub_driver_rbgu::frame::{
    DLMS_APDU, DLMS_INVOCATION_COUNTER, DLMS_REPLAY, DLMS_SYSTEM_TITLE, DLMS_SYSTEM_TITLE_FROM, FRAMING, STREAM_OFFSET,
};
use meterhub_driver_rbgu::framing::{CONTENT_TYPE_WRAPPER, KEEP_BYTES};
use meterhub_plugin_api::testing::{Case, Fixtures, SimHost, assert_manifest_matches, case_names, hex};
use meterhub_plugin_api::{Action, Event, Plugin, Transport};
use serde::Deserialize;
use serde_json::{Value, json};

const PEER: &str = "192.0.2.20:50000";
const PROFILES: [&str; 3] = ["wrapper", "hdlc", "stuffed"];

type Host = SimHost<Rbgu>;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Options of one connection case; every field is optional.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Options {
    /// Plugin settings (default `{"framing": "<the folder>"}`).
    settings: Option<Value>,
    /// Byte offsets of the input where a new chunk starts.
    cuts: Vec<usize>,
    /// Commits (1-based, in order) the host fails.
    fail_commits: Vec<usize>,
}

/// Several connections to one instance, one after the other.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sessions {
    /// What the case shows (copied to the output).
    note: String,
    /// Plugin settings.
    settings: Value,
    /// The connections, in order.
    connections: Vec<Connection>,
}

/// One connection of a [`Sessions`] case: its bytes from a fixture (`in`,
/// a path under `fixtures/`) or given in hex (`hex`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Connection {
    #[serde(rename = "in")]
    file: Option<String>,
    hex: Option<String>,
    /// The host fails this connection's commits.
    #[serde(default)]
    fail: bool,
}

/// The bytes of a `.hex` fixture text.
fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: String = text.lines().map(|line| line.split('#').next().unwrap_or_default()).collect();
    meterhub_plugin_api::hex::decode_spaced(&digits).map_err(|e| e.to_string())
}

fn read_hex(path: &Path) -> Result<Vec<u8>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_hex(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn settings_of(options: &Options, kind: &str) -> Value {
    options.settings.clone().unwrap_or_else(|| json!({ "framing": kind }))
}

/// Cut `input` at `cuts`.
fn pieces<'a>(input: &'a [u8], cuts: &[usize]) -> Result<Vec<&'a [u8]>, String> {
    let (mut out, mut start) = (Vec::new(), 0);
    for &cut in cuts {
        if cut <= start || cut >= input.len() {
            return Err(format!("cut {cut} is not increasing within 1..{}", input.len()));
        }
        out.push(&input[start..cut]);
        start = cut;
    }
    out.push(&input[start..]);
    Ok(out)
}

/// One connection: open, the chunks, close.
fn play(host: &mut Host, chunks: &[&[u8]]) {
    host.open(Transport::Tcp, PEER);
    for chunk in chunks {
        host.data(chunk);
    }
    host.close();
}

/// An event as transcripts show it: data by offset and length.
fn show_event(event: &Event, offset: &mut usize) -> Value {
    match event {
        Event::Opened { transport, peer } => json!({ "opened": { "transport": transport.as_str(), "peer": peer } }),
        Event::Data(bytes) => {
            let shown = json!({ "data": { "offset": *offset, "bytes": bytes.len() } });
            *offset += bytes.len();
            shown
        }
        Event::Committed(c) => json!({ "committed": { "token": c.token, "seq": c.seq } }),
        Event::CommitFailed(f) => json!({ "commit_failed": { "token": f.token, "reason": f.reason } }),
        Event::Closed => json!("closed"),
        other => json!(format!("{other:?}")),
    }
}

/// An action as transcripts show it: bytes in hex, metadata as
/// `key=value` in the driver's order.
fn show_action(action: &Action) -> Value {
    match action {
        Action::Commit(c) => {
            let meta: Vec<String> = c.frame.meta.iter().map(|(k, v)| format!("{k}={v}")).collect();
            json!({ "commit": {
                "token": c.token,
                "content_type": c.frame.content_type,
                "meta": meta,
                "payload": hex(&c.frame.payload),
            } })
        }
        Action::Reject { reason, input } => json!({ "reject": { "reason": reason, "input": hex(input) } }),
        Action::Close(reason) => json!({ "close": reason }),
        Action::Send(bytes) => json!({ "send": hex(bytes) }),
        other => json!(format!("{other:?}")),
    }
}

/// The host's transcript as JSON.
fn transcript(host: &Host) -> Vec<Value> {
    let mut offset = 0;
    host.transcript()
        .iter()
        .map(|step| {
            if matches!(step.event, Event::Opened { .. }) {
                offset = 0;
            }
            let out: Vec<Value> = step.actions.iter().map(show_action).collect();
            json!({ "session": step.session, "in": show_event(&step.event, &mut offset), "out": out })
        })
        .collect()
}

fn run_connection(case: &Case, kind: &str) -> Result<Value, String> {
    let options: Options = case.options(".case.json")?;
    let input = read_hex(&case.path(".hex"))?;
    let mut host = Host::new(&settings_of(&options, kind).to_string())?;
    host.fail_commits(options.fail_commits.iter().copied());
    play(&mut host, &pieces(&input, &options.cuts)?);
    check_payloads(&host, &input)?;
    Ok(json!({ "transcript": transcript(&host) }))
}

/// Every committed payload is a run of the connection's bytes at its
/// `stream.offset`: the frame exactly as it came.
fn check_payloads(host: &Host, input: &[u8]) -> Result<(), String> {
    for frame in host.journal() {
        let offset: usize = frame.meta(STREAM_OFFSET).and_then(|o| o.parse().ok()).ok_or("no stream.offset")?;
        if input.get(offset..offset + frame.payload.len()) != Some(&frame.payload[..]) {
            return Err(format!("the frame at offset {offset} is not the input's bytes there"));
        }
    }
    Ok(())
}

fn run_sessions(case: &Case) -> Result<Value, String> {
    let spec: Sessions = serde_json::from_slice(&case.read(".sessions.json")?).map_err(|e| e.to_string())?;
    let mut host = Host::new(&spec.settings.to_string())?;
    let mut commits = 0;
    for (i, c) in spec.connections.iter().enumerate() {
        let input = match (&c.file, &c.hex) {
            (Some(file), None) => read_hex(&fixtures_dir().join(file))?,
            (None, Some(text)) => parse_hex(text)?,
            _ => return Err(format!("connection {i}: give exactly one of in and hex")),
        };
        // Commits are held until the connection closed, then answered
        // (failed for a failing connection).
        host.hold_commits(true);
        play(&mut host, &[&input]);
        let n = host.held().len();
        if c.fail {
            host.fail_commits(commits + 1..=commits + n);
        }
        host.release();
        commits += n;
    }
    Ok(json!({ "note": spec.note, "transcript": transcript(&host) }))
}

#[test]
fn check() {
    let mut fixtures = Fixtures::new(fixtures_dir());
    for kind in PROFILES {
        fixtures.check(kind, ".hex", &[".case.json"], |case| run_connection(case, kind));
    }
    fixtures.check("sessions", ".sessions.json", &[], run_sessions);
    fixtures.finish();
}

#[test]
fn manifest_and_example_settings_agree_with_the_plugin() {
    assert_manifest_matches::<Rbgu>(env!("CARGO_MANIFEST_DIR"));
    let example = include_str!("../../settings.example.json");
    if let Err(e) = Rbgu::init(example) {
        panic!("settings.example.json: {e}");
    }
}

/// What a connection's verdicts are, whatever the chunks: commits,
/// rejects and closes, in order, commits answered only at the end.
fn verdicts(settings: &str, chunks: &[&[u8]]) -> Vec<Value> {
    let mut host = Host::new(settings).expect("settings");
    host.hold_commits(true);
    play(&mut host, chunks);
    host.release();
    host.transcript().iter().flat_map(|s| &s.actions).map(show_action).collect()
}

/// Every connection fixture of every profile, cut at every byte and in
/// 1-byte chunks, gives the same frames and refusals as in one chunk.
#[test]
fn verdicts_do_not_depend_on_chunking() {
    for kind in PROFILES {
        let dir = fixtures_dir().join(kind);
        for name in case_names(&dir, ".hex", &[".case.json"]).expect("fixtures") {
            let case = Case::new(&dir, &name);
            let options: Options = case.options(".case.json").expect("options");
            let settings = settings_of(&options, kind).to_string();
            let input = read_hex(&case.path(".hex")).expect("input");
            let whole = verdicts(&settings, &[&input]);
            for at in 1..input.len() {
                let (a, b) = input.split_at(at);
                assert_eq!(verdicts(&settings, &[a, b]), whole, "{kind}/{name} cut at byte {at}");
            }
            let bytes: Vec<&[u8]> = input.chunks(1).collect();
            assert_eq!(verdicts(&settings, &bytes), whole, "{kind}/{name} in 1-byte chunks");
        }
    }
}

/// Vector 1 of `dlms_wrapper_vectors.txt` through a session: one commit of
/// the whole wrapper frame, identified.
#[test]
fn the_public_ciphered_push_is_committed_identified() {
    let push = read_hex(&fixtures_dir().join("wrapper/vector-push.hex")).expect("fixture");
    let mut host = Host::new(r#"{"framing": "wrapper"}"#).expect("settings");
    play(&mut host, &[&push]);
    let [frame] = host.journal() else { panic!("{:?}", host.journal()) };
    assert_eq!((frame.content_type.as_str(), &frame.payload), (CONTENT_TYPE_WRAPPER, &push));
    let meta = |k: &str| frame.meta(k).map(str::to_owned);
    assert_eq!(meta(FRAMING).as_deref(), Some("wrapper"));
    assert_eq!(meta(DLMS_APDU).as_deref(), Some("general-glo-ciphering"));
    assert_eq!(meta(DLMS_SYSTEM_TITLE).as_deref(), Some("2F19229199164103"));
    assert_eq!(meta(DLMS_SYSTEM_TITLE_FROM).as_deref(), Some("frame"));
    assert_eq!(meta(DLMS_INVOCATION_COUNTER).as_deref(), Some("485"));
    assert_eq!(meta(DLMS_REPLAY), None);
    assert!(host.transcript().iter().flat_map(|s| &s.actions).all(|a| matches!(a, Action::Commit(_))));
}

/// The same push on a second connection is a replay, still committed; a
/// failed commit leaves the counter unseen, even when the host answers
/// after the connection closed.
#[test]
fn replays_and_failed_commits() {
    let push = read_hex(&fixtures_dir().join("wrapper/vector-push.hex")).expect("fixture");
    let mut host = Host::new(r#"{"framing": "wrapper"}"#).expect("settings");
    host.hold_commits(true);
    play(&mut host, &[&push]);
    assert_eq!(host.plugin().open_sessions(), 0);
    host.fail_held(0);
    host.hold_commits(true);
    play(&mut host, &[&push]);
    assert_eq!(host.held()[0].meta(DLMS_REPLAY), None, "the failed first copy left the counter unseen");
    host.release();
    play(&mut host, &[&push]);
    host.release();
    let replays: Vec<Option<&str>> = host.journal().iter().map(|f| f.meta(DLMS_REPLAY)).collect();
    assert_eq!(replays, [None, Some("1")]);
    assert_eq!(host.plugin().replays().in_flight(), 0);
}

/// Whatever a peer sends, a session holds at most a frame in progress and
/// the kept part of a refusal, and the driver never panics.
#[test]
fn memory_stays_bounded() {
    let max = 256;
    let noise: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let cases = [
        json!({ "framing": "wrapper", "max_frame_bytes": max }),
        json!({ "framing": "hdlc", "max_frame_bytes": max }),
        json!({ "framing": "stuffed", "max_frame_bytes": max }),
    ];
    for settings in cases {
        let mut host = Host::new(&settings.to_string()).expect("settings");
        host.open(Transport::Tcp, PEER);
        let mut worst = 0;
        for chunk in noise.chunks(1_000) {
            host.data(chunk);
            worst = worst.max(host.plugin().held_bytes());
        }
        // A frame in progress with its envelope (HDLC: up to 2047 + flags
        // of a candidate, a message within max), and a refusal's kept bytes.
        assert!(worst <= 2 * 2_049 + max + KEEP_BYTES, "{settings}: held {worst}");
        let mut long = vec![0u8, 1, 0, 1, 0, 1, 0xFF, 0xFF];
        long.extend(vec![0x55; 100_000]);
        host.data(&long);
        assert!(host.plugin().held_bytes() <= 2 * 2_049 + max + KEEP_BYTES, "{settings}");
        host.close();
    }
}

/// Every fixture with any one byte changed is handled without a panic, and
/// every committed payload is still the input's bytes at its offset.
#[test]
fn damaged_fixtures_are_handled() {
    for kind in PROFILES {
        let dir = fixtures_dir().join(kind);
        for name in case_names(&dir, ".hex", &[".case.json"]).expect("fixtures") {
            let case = Case::new(&dir, &name);
            let options: Options = case.options(".case.json").expect("options");
            let settings = settings_of(&options, kind).to_string();
            let input = read_hex(&case.path(".hex")).expect("input");
            let mut host = Host::new(&settings).expect("settings");
            for at in 0..input.len() {
                let mut damaged = input.clone();
                damaged[at] ^= 0x5A;
                let before = host.journal().len();
                play(&mut host, &[&damaged]);
                for frame in &host.journal()[before..] {
                    let offset: usize = frame.meta(STREAM_OFFSET).and_then(|o| o.parse().ok()).expect("offset");
                    assert_eq!(
                        damaged.get(offset..offset + frame.payload.len()),
                        Some(&frame.payload[..]),
                        "{kind}/{name} byte {at}"
                    );
                }
            }
            assert_eq!(host.plugin().open_sessions(), 0);
        }
    }
}
