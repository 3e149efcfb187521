//! Fixture tests of the listener plugin: every case under `fixtures/` is
//! played against a simulated host and the transcript compared with the
//! case's `<name>.out.json`. `METERHUB_BLESS=1 cargo test` rewrites the
//! expected files instead. Layout:
//!
//! - `tcp/<name>.in`: the bytes of one TCP session;
//! - `websocket/<name>.in`: the bytes of one WebSocket session's messages;
//! - `http/<name>.http.json`: one request (`method`, `target`, `headers`),
//!   its body in `http/<name>.in` (empty if absent);
//! - `codec/<name>.in`: one frame payload handed to `decode`;
//! - `<name>.case.json` (optional, tcp/websocket/codec): host options, see
//!   [`Case`]; in `http` they sit in the `.http.json` itself.
//!
//! The simulated host opens the session, hands over the input (the whole
//! file as one `Data`, or cut by `cuts` / `chunk_bytes`; on WebSocket each
//! piece is one message), and after each event commits every `Commit`
//! immediately with increasing seqs (from 1001), delivering the
//! `Committed` events right after the event that produced them (after all
//! input with `hold_commits`). `fail_commits` lists commits (1-based, in
//! order) that fail instead. Every committed frame is decoded by the plugin
//! as codec; the transcript ends with `Closed`. Bytes are shown as text,
//! invalid UTF-8 bytes as `\xNN`.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use meterhub_driver_listener::Listener;
use meterhub_plugin_api::{
    Action, Commit, CommitFailed, Committed, Event, FrameOut, HttpRequest, Plugin, RawFrame, Transport,
};
use serde::Deserialize;
use serde_json::{Value, json};

/// 2026-11-21T10:00:00Z.
const DEFAULT_NOW_MS: i64 = 1_795_255_200_000;
const SESSION: u64 = 7;
const FIRST_SEQ: u64 = 1001;
const PEER: &str = "192.0.2.10:40000";

/// Host options of one case; every field is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Case {
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

/// A simulated host around one plugin instance and one session.
struct Host {
    plugin: Listener,
    transport: Transport,
    now_ms: i64,
    next_seq: u64,
    delivered: usize,
    fail_commits: Vec<usize>,
    queue: Vec<Commit>,
    transcript: Vec<Value>,
    journal: Vec<Value>,
}

impl Host {
    fn new(case: &Case, transport: Transport) -> Result<Self, String> {
        let settings = case.settings.clone().unwrap_or_else(|| json!({})).to_string();
        Ok(Host {
            plugin: Listener::init(&settings)?,
            transport,
            now_ms: case.now_ms.unwrap_or(DEFAULT_NOW_MS),
            next_seq: FIRST_SEQ,
            delivered: 0,
            fail_commits: case.fail_commits.clone(),
            queue: Vec::new(),
            transcript: Vec::new(),
            journal: Vec::new(),
        })
    }

    fn step(&mut self, event: Event) {
        let shown = render_event(&event);
        let actions = self.plugin.handle(SESSION, self.now_ms, event);
        self.queue.extend(actions.iter().filter_map(|a| match a {
            Action::Commit(c) => Some(c.clone()),
            _ => None,
        }));
        self.transcript.push(json!({ "in": shown, "out": actions.iter().map(render_action).collect::<Vec<_>>() }));
    }

    fn deliver(&mut self) {
        while !self.queue.is_empty() {
            for commit in std::mem::take(&mut self.queue) {
                self.delivered += 1;
                if self.fail_commits.contains(&self.delivered) {
                    let reason = "disk full (simulated)".to_owned();
                    self.step(Event::CommitFailed(CommitFailed { token: commit.token, reason }));
                    continue;
                }
                let seq = self.next_seq;
                self.next_seq += 1;
                let frame = self.frame(seq, commit.frame.clone(), self.now_ms);
                let decoded = self.decode(&frame);
                self.journal.push(json!({ "seq": seq, "payload": text(&frame.payload), "decoded": decoded }));
                self.step(Event::Committed(Committed { token: commit.token, seq }));
            }
        }
    }

    fn frame(&self, seq: u64, frame: FrameOut, received_at_ms: i64) -> RawFrame {
        RawFrame {
            seq,
            source: "devices".to_owned(),
            peer: PEER.to_owned(),
            received_at_ms,
            transport: self.transport,
            content_type: frame.content_type,
            meta: frame.meta,
            payload: frame.payload,
        }
    }

    fn decode(&mut self, frame: &RawFrame) -> Value {
        match self.plugin.decode(frame) {
            Ok(decoded) => serde_json::to_value(decoded).unwrap_or_else(|e| json!(e.to_string())),
            Err(e) => json!({ "error": e.reason }),
        }
    }

    fn finish(mut self) -> Value {
        self.deliver();
        self.step(Event::Closed);
        json!({ "transcript": self.transcript, "journal": self.journal })
    }
}

/// Bytes as text; invalid UTF-8 bytes as `\xNN`.
fn text(bytes: &[u8]) -> Value {
    let mut s = String::new();
    for chunk in bytes.utf8_chunks() {
        s.push_str(chunk.valid());
        for b in chunk.invalid() {
            let _ = write!(s, "\\x{b:02X}");
        }
    }
    Value::String(s)
}

fn render_event(event: &Event) -> Value {
    match event {
        Event::Opened { transport, peer } => json!({ "opened": { "transport": transport.as_str(), "peer": peer } }),
        Event::Data(bytes) => json!({ "data": text(bytes) }),
        Event::Request(r) => json!({ "request": {
            "method": r.method, "target": r.target, "headers": r.headers, "body": text(&r.body) } }),
        Event::Committed(c) => json!({ "committed": { "token": c.token, "seq": c.seq } }),
        Event::CommitFailed(f) => json!({ "commit_failed": { "token": f.token, "reason": f.reason } }),
        Event::Timer(id) => json!({ "timer": id }),
        Event::Closed => json!("closed"),
    }
}

fn render_action(action: &Action) -> Value {
    match action {
        Action::Send(bytes) => json!({ "send": text(bytes) }),
        Action::Respond(r) => json!({ "respond": {
            "status": r.status,
            "content_type": r.content_type,
            "body": serde_json::from_slice::<Value>(&r.body).unwrap_or_else(|_| text(&r.body)),
        } }),
        Action::Commit(c) => json!({ "commit": {
            "token": c.token, "content_type": c.frame.content_type, "meta": c.frame.meta, "payload": text(&c.frame.payload) } }),
        Action::Reject { reason, input } => json!({ "reject": { "reason": reason, "input": text(input) } }),
        Action::SetTimer { id, after_ms } => json!({ "set_timer": { "id": id, "after_ms": after_ms } }),
        Action::Close(reason) => json!({ "close": reason }),
    }
}

/// Cut `input` into the pieces the case asks for.
fn pieces<'a>(input: &'a [u8], case: &Case) -> Result<Vec<&'a [u8]>, String> {
    if let Some(n) = case.chunk_bytes {
        if n == 0 || !case.cuts.is_empty() {
            return Err("chunk_bytes must be positive and not combined with cuts".to_owned());
        }
        return Ok(input.chunks(n).collect());
    }
    let mut out = Vec::new();
    let mut start = 0;
    for &cut in &case.cuts {
        if cut <= start || cut >= input.len() {
            return Err(format!("cut {cut} is not increasing within 1..{}", input.len()));
        }
        out.push(&input[start..cut]);
        start = cut;
    }
    out.push(&input[start..]);
    Ok(out)
}

fn read_case(path: &Path) -> Result<Case, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Case::default()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

fn read_input(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn run_lines(dir: &Path, name: &str, transport: Transport) -> Result<Value, String> {
    let case = read_case(&dir.join(format!("{name}.case.json")))?;
    let input = read_input(&dir.join(format!("{name}.in")))?;
    let mut host = Host::new(&case, transport)?;
    host.step(Event::Opened { transport, peer: PEER.to_owned() });
    for piece in pieces(&input, &case)? {
        host.step(Event::Data(piece.to_vec()));
        if !case.hold_commits {
            host.deliver();
        }
    }
    Ok(host.finish())
}

fn run_http(dir: &Path, name: &str) -> Result<Value, String> {
    let case = read_case(&dir.join(format!("{name}.http.json")))?;
    let body_path = dir.join(format!("{name}.in"));
    let body = if body_path.exists() { read_input(&body_path)? } else { Vec::new() };
    let mut host = Host::new(&case, Transport::Http)?;
    host.step(Event::Opened { transport: Transport::Http, peer: PEER.to_owned() });
    host.step(Event::Request(HttpRequest {
        method: case.method.clone().unwrap_or_else(|| "POST".to_owned()),
        target: case.target.clone().unwrap_or_else(|| "/readings".to_owned()),
        headers: case.headers.clone(),
        body,
    }));
    Ok(host.finish())
}

fn run_codec(dir: &Path, name: &str) -> Result<Value, String> {
    let case = read_case(&dir.join(format!("{name}.case.json")))?;
    let payload = read_input(&dir.join(format!("{name}.in")))?;
    let mut host = Host::new(&case, Transport::Tcp)?;
    let content_type = case.content_type.clone().unwrap_or_else(|| "application/vnd.meterhub.reading+json".to_owned());
    let received_at_ms = case.received_at_ms.unwrap_or(host.now_ms);
    let frame = host.frame(FIRST_SEQ, FrameOut { content_type, meta: Vec::new(), payload }, received_at_ms);
    Ok(json!({ "received_at_ms": received_at_ms, "decoded": host.decode(&frame) }))
}

/// The case names of `dir` (files ending in `main_suffix`), after checking
/// that every file there belongs to one of them.
fn cases(dir: &Path, main_suffix: &str, extra_suffixes: &[&str]) -> Result<Vec<String>, String> {
    let mut files = BTreeSet::new();
    for entry in std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        files.insert(entry.file_name().to_string_lossy().into_owned());
    }
    let names: Vec<String> = files.iter().filter_map(|f| f.strip_suffix(main_suffix).map(str::to_owned)).collect();
    for file in &files {
        let belongs = [main_suffix]
            .iter()
            .chain(extra_suffixes)
            .chain(&[".out.json"])
            .any(|suffix| file.strip_suffix(suffix).is_some_and(|name| names.iter().any(|n| n == name)));
        if !belongs {
            return Err(format!("{}: stray file (no matching {main_suffix})", dir.join(file).display()));
        }
    }
    Ok(names)
}

#[test]
fn check() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let bless = std::env::var_os("METERHUB_BLESS").is_some_and(|v| v == "1");
    let mut failures = Vec::new();
    let mut count = 0;
    let kinds: [(&str, &str, &[&str]); 4] = [
        ("tcp", ".in", &[".case.json"]),
        ("websocket", ".in", &[".case.json"]),
        ("http", ".http.json", &[".in"]),
        ("codec", ".in", &[".case.json"]),
    ];
    for (kind, main_suffix, extra) in kinds {
        let dir = root.join(kind);
        let names = match cases(&dir, main_suffix, extra) {
            Ok(names) => names,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        for name in names {
            count += 1;
            let got = match kind {
                "tcp" => run_lines(&dir, &name, Transport::Tcp),
                "websocket" => run_lines(&dir, &name, Transport::Websocket),
                "http" => run_http(&dir, &name),
                _ => run_codec(&dir, &name),
            };
            let got = match got.and_then(|v| serde_json::to_string_pretty(&v).map_err(|e| e.to_string())) {
                Ok(got) => got + "\n",
                Err(e) => {
                    failures.push(format!("{kind}/{name}: {e}"));
                    continue;
                }
            };
            let out = dir.join(format!("{name}.out.json"));
            if bless {
                if let Err(e) = std::fs::write(&out, &got) {
                    failures.push(format!("{}: {e}", out.display()));
                }
                continue;
            }
            let want = std::fs::read_to_string(&out).unwrap_or_default();
            if want != got {
                let line = want
                    .lines()
                    .zip(got.lines())
                    .position(|(w, g)| w != g)
                    .unwrap_or(want.lines().count().min(got.lines().count()));
                let got_line = got.lines().nth(line).unwrap_or("<end>");
                failures
                    .push(format!("{kind}/{name}: differs from {name}.out.json at line {}: got {got_line}", line + 1));
            }
        }
    }
    assert!(count > 0, "no fixtures under {}", root.display());
    assert!(
        failures.is_empty(),
        "{} of {count} fixtures failed (METERHUB_BLESS=1 rewrites expectations):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn manifest_and_example_settings_agree_with_the_plugin() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(dir.join("plugin.toml")).expect("plugin.toml");
    let info = Listener::info();
    assert!(manifest.contains(&format!("id = \"{}\"", info.id)), "plugin.toml id");
    assert!(manifest.contains(&format!("version = \"{}\"", info.version)), "plugin.toml version");
    let roles: Vec<String> = info.roles.iter().map(|r| format!("\"{}\"", r.as_str())).collect();
    assert!(manifest.contains(&format!("roles = [{}]", roles.join(", "))), "plugin.toml roles");
    let example = std::fs::read_to_string(dir.join("settings.example.json")).expect("settings.example.json");
    if let Err(e) = Listener::init(&example) {
        panic!("settings.example.json: {e}");
    }
}

/// Verdicts and answers of a TCP session do not depend on how its bytes
/// were cut: every fixture, split at every byte and in 1-byte chunks, gives
/// the same commits, rejects and answer bytes as the unsplit input.
#[test]
fn chunking_does_not_change_verdicts() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/tcp");
    let names = cases(&dir, ".in", &[".case.json"]).expect("fixtures/tcp");
    for name in names {
        let case = read_case(&dir.join(format!("{name}.case.json"))).expect("case");
        let input = read_input(&dir.join(format!("{name}.in"))).expect("input");
        let run = |chunks: &[&[u8]]| {
            let mut host = Host::new(&case, Transport::Tcp).expect("settings");
            let mut verdicts = Vec::new();
            let mut answers = Vec::new();
            let mut record = |actions: Vec<Action>, queue: &mut Vec<Commit>| {
                for action in actions {
                    match action {
                        Action::Send(bytes) => answers.extend(bytes),
                        Action::Commit(c) => {
                            verdicts.push(render_action(&Action::Commit(c.clone())));
                            queue.push(c);
                        }
                        other => verdicts.push(render_action(&other)),
                    }
                }
            };
            let mut queue = Vec::new();
            host.plugin.handle(
                SESSION,
                host.now_ms,
                Event::Opened { transport: Transport::Tcp, peer: PEER.to_owned() },
            );
            for chunk in chunks {
                let actions = host.plugin.handle(SESSION, host.now_ms, Event::Data(chunk.to_vec()));
                record(actions, &mut queue);
            }
            for (seq, commit) in (FIRST_SEQ..).zip(std::mem::take(&mut queue)) {
                let event = Event::Committed(Committed { token: commit.token, seq });
                let actions = host.plugin.handle(SESSION, host.now_ms, event);
                record(actions, &mut queue);
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
