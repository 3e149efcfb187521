//! [`SimHost`]: a simulated host around one driver plugin instance, for
//! tests that play sessions by hand. It opens and closes sessions, hands
//! over data, requests and timers at a fixed clock, and answers the
//! driver's commits the way the real host does: at once, held until the
//! test releases them, or failed. It keeps the journal of committed frames,
//! the resume marks they carry, and a transcript of every event and the
//! actions answered.
//!
//! What it does with each action of the driver:
//!
//! - `Commit`: unless the test holds commits, the commit is answered right
//!   after the event that produced it, in order (first in, first out, and
//!   commits produced by those answers after them): the frame goes into
//!   the journal as the [`RawFrame`] a codec would get (seq from
//!   [`SimHost::FIRST_SEQ`] up, the session's transport and peer, the
//!   host's clock as `received_at_ms`), its resume mark raises the host's
//!   durable mark for its key, and the session hears
//!   [`Event::Committed`]. A commit the test fails (by its place in the
//!   order commits are answered, [`SimHost::fail_commits`], or among the
//!   held ones, [`SimHost::fail_held`]) gets [`Event::CommitFailed`]
//!   (`disk full (simulated)`), no seq and no journal entry. A commit
//!   answered after its session closed is still answered, to that session
//!   id: a driver must ignore sessions it does not know.
//! - `Identify`: recorded; the session hears [`Event::Commands`] at once
//!   with the commands the test queued for the device
//!   ([`SimHost::queue_command`]), in order, which are then handed over.
//! - `CommandDone`: recorded in the [`Answers`] and in
//!   [`SimHost::done`]. A command handed over and not done when its
//!   session closes goes back to the queue, as the real host does.
//! - `Send`, `Respond`, `Reject`, `Fetch`, `SetTimer`, `Close`: recorded
//!   in the [`Answers`] of the call and in the transcript. Nothing happens
//!   by itself afterwards: the test fires a timer with [`SimHost::timer`],
//!   answers a fetch with an [`Event::Fetched`] it hands over, and a
//!   `Close` ends nothing until the test says so.
//!
//! Contract checks, each a panic naming the session: a frame's metadata
//! names a key twice; `resume.key` comes without `resume.mark` (or the
//! reverse) or the mark is not an integer; a `Respond` on a session that
//! never got a request; a `Send` that fails the test's own check
//! ([`SimHost::check_sent`]).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde_json::Value;

use super::bytes::text;
use crate::driver::{
    Action, Command, CommandDone, CommitFailed, Committed, Event, Fetch, HttpRequest, HttpResponse, META_RESUME_KEY,
    META_RESUME_MARK, SETTINGS_RESUME,
};
use crate::model::{DecodeError, Decoded, RawFrame, Transport};
use crate::plugin::Plugin;

/// The reason of every simulated commit failure.
pub const COMMIT_FAILED_REASON: &str = "disk full (simulated)";

/// A frame a driver asked the host to commit (one `Commit` action).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverFrame {
    /// The session that asked.
    pub session: u64,
    /// The driver's token for it.
    pub token: u64,
    /// Its content type.
    pub content_type: String,
    /// Its metadata, in the driver's order (each key once).
    pub meta: Vec<(String, String)>,
    /// Its payload.
    pub payload: Vec<u8>,
}

impl DriverFrame {
    /// The value of metadata `key`.
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.meta.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// What tests read from a frame, a driver's ([`DriverFrame`]) or a
/// journaled one ([`RawFrame`]).
pub trait FrameView {
    /// The metadata pairs.
    fn meta_pairs(&self) -> &[(String, String)];

    /// The payload.
    fn payload_bytes(&self) -> &[u8];

    /// The metadata as a map, for comparisons that ignore order.
    ///
    /// # Panics
    ///
    /// When a key is given twice.
    fn meta_map(&self) -> BTreeMap<String, String> {
        let map: BTreeMap<String, String> = self.meta_pairs().iter().cloned().collect();
        assert_eq!(map.len(), self.meta_pairs().len(), "duplicate meta keys: {:?}", self.meta_pairs());
        map
    }

    /// The resume mark the frame carries, `(resume.key, resume.mark)`.
    ///
    /// # Panics
    ///
    /// When only one of the two is there, or the mark is not an integer.
    fn mark(&self) -> Option<(String, i64)> {
        resume_mark(self.meta_pairs()).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The payload as UTF-8 text.
    ///
    /// # Panics
    ///
    /// When it is not UTF-8.
    fn text(&self) -> &str {
        std::str::from_utf8(self.payload_bytes())
            .unwrap_or_else(|e| panic!("payload {:?} is not UTF-8: {e}", text(self.payload_bytes())))
    }
}

impl FrameView for DriverFrame {
    fn meta_pairs(&self) -> &[(String, String)] {
        &self.meta
    }

    fn payload_bytes(&self) -> &[u8] {
        &self.payload
    }
}

impl FrameView for RawFrame {
    fn meta_pairs(&self) -> &[(String, String)] {
        &self.meta
    }

    fn payload_bytes(&self) -> &[u8] {
        &self.payload
    }
}

/// The resume mark in `meta`: `resume.key` and `resume.mark` (an integer)
/// together, or neither.
pub fn resume_mark(meta: &[(String, String)]) -> Result<Option<(String, i64)>, String> {
    let get = |key: &str| meta.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    match (get(META_RESUME_KEY), get(META_RESUME_MARK)) {
        (Some(key), Some(mark)) => match mark.parse() {
            Ok(mark) => Ok(Some((key.to_owned(), mark))),
            Err(_) => Err(format!("{META_RESUME_MARK} {mark:?} is not an integer")),
        },
        (None, None) => Ok(None),
        _ => Err(format!("{META_RESUME_KEY} and {META_RESUME_MARK} come together: {meta:?}")),
    }
}

/// What the driver answered to one call of the test: the actions of the
/// event, and of the `Committed` / `CommitFailed` events the host delivered
/// after it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Answers {
    /// `Send`: bytes for the peer.
    pub sent: Vec<Vec<u8>>,
    /// `Respond`: HTTP responses.
    pub responses: Vec<HttpResponse>,
    /// `Commit`: frames to commit.
    pub commits: Vec<DriverFrame>,
    /// `Reject`: `(reason, input)`.
    pub rejects: Vec<(String, Vec<u8>)>,
    /// `SetTimer`: `(id, after_ms)`.
    pub timers: Vec<(u32, u32)>,
    /// `Fetch`: requests to the upstream API.
    pub fetches: Vec<Fetch>,
    /// `Close`: reasons.
    pub closes: Vec<String>,
    /// `Identify`: devices.
    pub identified: Vec<String>,
    /// `CommandDone`: what became of commands.
    pub done: Vec<CommandDone>,
}

impl Answers {
    /// Add `other`'s answers after these.
    pub fn absorb(&mut self, other: Answers) {
        self.sent.extend(other.sent);
        self.responses.extend(other.responses);
        self.commits.extend(other.commits);
        self.rejects.extend(other.rejects);
        self.timers.extend(other.timers);
        self.fetches.extend(other.fetches);
        self.closes.extend(other.closes);
        self.identified.extend(other.identified);
        self.done.extend(other.done);
    }

    /// No action at all.
    pub fn is_quiet(&self) -> bool {
        self.sent.is_empty()
            && self.responses.is_empty()
            && self.commits.is_empty()
            && self.rejects.is_empty()
            && self.timers.is_empty()
            && self.closes.is_empty()
            && self.identified.is_empty()
            && self.done.is_empty()
    }

    /// Every sent message as JSON.
    ///
    /// # Panics
    ///
    /// When one is not JSON, naming it.
    pub fn sent_json(&self) -> Vec<Value> {
        self.sent
            .iter()
            .map(|bytes| {
                serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("sent {:?} is not JSON: {e}", text(bytes)))
            })
            .collect()
    }
}

/// One event the host handed the driver and the actions it answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The session.
    pub session: u64,
    /// The host's clock at the call.
    pub now_ms: i64,
    /// The event.
    pub event: Event,
    /// The answer.
    pub actions: Vec<Action>,
}

/// A test's check of every sent message: `Err` says why it is refused.
pub type SentCheck = fn(&[u8]) -> Result<(), String>;

/// What the host knows of a session.
#[derive(Debug, Clone)]
struct SessionInfo {
    transport: Transport,
    peer: String,
    requested: bool,
}

/// A simulated host around one instance of driver plugin `P`; see the
/// module documentation for what it does with each action.
///
/// ```
/// # use meterhub_plugin_api::{Action, Event, Identified, Identity, Plugin, Transport};
/// # use meterhub_plugin_api::testing::SimHost;
/// # struct Echo;
/// # impl Identified for Echo {
/// #     const IDENTITY: Identity = Identity::from_manifest("id = \"echo\"\nversion = \"1.0.0\"\nroles = [\"driver\"]\n", "1.0.0");
/// # }
/// # impl Plugin for Echo {
/// #     fn init(_: &str) -> Result<Self, String> { Ok(Echo) }
/// #     fn handle(&mut self, _: u64, _: i64, event: Event) -> Vec<Action> {
/// #         match event { Event::Data(bytes) => vec![Action::Send(bytes)], _ => vec![] }
/// #     }
/// # }
/// let mut host = SimHost::<Echo>::new("{}").unwrap();
/// host.open(Transport::Tcp, "192.0.2.7:4000");
/// assert_eq!(host.data(b"hi").sent, vec![b"hi".to_vec()]);
/// ```
pub struct SimHost<P: Plugin> {
    plugin: P,
    now_ms: i64,
    sessions: BTreeMap<u64, SessionInfo>,
    current: u64,
    last_session: u64,
    next_seq: u64,
    hold: bool,
    pending: VecDeque<DriverFrame>,
    answered: usize,
    fail: BTreeSet<usize>,
    journal: Vec<RawFrame>,
    marks: BTreeMap<String, i64>,
    transcript: Vec<Step>,
    check_sent: Option<SentCheck>,
    /// Commands queued, by device, in order.
    queued: BTreeMap<String, Vec<Command>>,
    /// Commands handed over and not done: their session and device.
    handed: BTreeMap<u64, (u64, String, Command)>,
    next_command: u64,
    done: BTreeMap<u64, Result<String, String>>,
}

impl<P: Plugin> SimHost<P> {
    /// The host's clock unless set: 2026-11-21T10:00:00Z.
    pub const DEFAULT_NOW_MS: i64 = 1_795_255_200_000;
    /// The seq of the first committed frame.
    pub const FIRST_SEQ: u64 = 1001;
    /// The `source` of journaled frames.
    pub const SOURCE: &'static str = "sim";

    /// A host around a new instance configured by `settings_json`. The
    /// resume marks in its `resume` (if any) are the host's durable marks,
    /// as the real host hands them out.
    pub fn new(settings_json: &str) -> Result<SimHost<P>, String> {
        let plugin = P::init(settings_json)?;
        let marks = match serde_json::from_str::<Value>(settings_json)
            .ok()
            .and_then(|s| s.get(SETTINGS_RESUME).cloned())
        {
            Some(resume) => serde_json::from_value(resume).map_err(|e| format!("settings {SETTINGS_RESUME:?}: {e}"))?,
            None => BTreeMap::new(),
        };
        Ok(SimHost {
            plugin,
            now_ms: Self::DEFAULT_NOW_MS,
            sessions: BTreeMap::new(),
            current: 0,
            last_session: 0,
            next_seq: Self::FIRST_SEQ,
            hold: false,
            pending: VecDeque::new(),
            answered: 0,
            fail: BTreeSet::new(),
            journal: Vec::new(),
            marks,
            transcript: Vec::new(),
            check_sent: None,
            queued: BTreeMap::new(),
            handed: BTreeMap::new(),
            next_command: 1,
            done: BTreeMap::new(),
        })
    }

    /// A new instance of the plugin, as the host starts one after a restart
    /// or a changed config: `settings_json` (an object) plus the host's
    /// durable marks under `resume` (absent when there are none). The new
    /// host keeps the marks, the clock, the sent-bytes check and the next
    /// seq; its journal, transcript and sessions start empty.
    pub fn restarted(&self, settings_json: &str) -> Result<SimHost<P>, String> {
        let mut settings: Value = serde_json::from_str(settings_json).map_err(|e| format!("settings: {e}"))?;
        let Some(object) = settings.as_object_mut() else { return Err("settings: not a JSON object".to_owned()) };
        if !self.marks.is_empty() {
            object.insert(SETTINGS_RESUME.to_owned(), serde_json::json!(self.marks));
        }
        let mut host = SimHost::new(&settings.to_string())?;
        host.now_ms = self.now_ms;
        host.next_seq = self.next_seq;
        host.check_sent = self.check_sent;
        Ok(host)
    }

    /// Check every sent message with `check` (e.g. that it is JSON); a
    /// message it refuses is a panic naming the session and the message.
    pub fn check_sent(&mut self, check: SentCheck) {
        self.check_sent = Some(check);
    }

    /// Set the host's clock, `now_ms` of every later event.
    pub fn set_now_ms(&mut self, now_ms: i64) {
        self.now_ms = now_ms;
    }

    /// The host's clock.
    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    /// The plugin instance.
    pub fn plugin(&self) -> &P {
        &self.plugin
    }

    /// The plugin instance, for direct calls (e.g. `decode`).
    pub fn plugin_mut(&mut self) -> &mut P {
        &mut self.plugin
    }

    /// The plugin as codec: decode `frame` (a journaled one, say).
    pub fn decode(&mut self, frame: &RawFrame) -> Result<Decoded, DecodeError> {
        self.plugin.decode(frame)
    }

    /// The session events go to ([`SimHost::event`] and the calls built on
    /// it): the one opened last; 0 before any.
    pub fn session(&self) -> u64 {
        self.current
    }

    /// Open a new session (ids count from 1) over `transport` from `peer`;
    /// it becomes the current one.
    pub fn open(&mut self, transport: Transport, peer: &str) -> Answers {
        self.last_session += 1;
        self.current = self.last_session;
        self.sessions.insert(self.current, SessionInfo { transport, peer: peer.to_owned(), requested: false });
        self.event(Event::Opened { transport, peer: peer.to_owned() })
    }

    /// Bytes (a chunk of a stream, or one WebSocket message) on the current
    /// session.
    pub fn data(&mut self, bytes: &[u8]) -> Answers {
        self.event(Event::Data(bytes.to_vec()))
    }

    /// An HTTP request on the current session.
    pub fn request(&mut self, request: HttpRequest) -> Answers {
        self.event(Event::Request(request))
    }

    /// Fire timer `id` of the current session.
    pub fn timer(&mut self, id: u32) -> Answers {
        self.event(Event::Timer(id))
    }

    /// Close the current session (the peer went away).
    pub fn close(&mut self) -> Answers {
        self.event(Event::Closed)
    }

    /// Hand `event` to the current session.
    pub fn event(&mut self, event: Event) -> Answers {
        self.handle(self.current, event)
    }

    /// Hand `event` to `session`, then answer the commits it produced
    /// (unless holding). A session never opened is a TCP one from an
    /// unknown peer, or an HTTP one if the event is a request.
    pub fn handle(&mut self, session: u64, event: Event) -> Answers {
        let mut answers = Answers::default();
        self.step(session, event, &mut answers);
        if !self.hold {
            self.answer_pending(&mut answers);
        }
        answers
    }

    /// Hold commits from now on (`true`): they wait, in order, for
    /// [`SimHost::release`] or [`SimHost::fail_held`]. `false` answers the
    /// ones held at the next call.
    pub fn hold_commits(&mut self, hold: bool) {
        self.hold = hold;
    }

    /// The commits waiting for an answer.
    pub fn held(&self) -> Vec<&DriverFrame> {
        self.pending.iter().collect()
    }

    /// Stop holding and answer every held commit, in order.
    pub fn release(&mut self) -> Answers {
        self.hold = false;
        let mut answers = Answers::default();
        self.answer_pending(&mut answers);
        answers
    }

    /// Stop holding, fail held commit `index` (0-based) and answer the
    /// others, in order.
    pub fn fail_held(&mut self, index: usize) -> Answers {
        assert!(index < self.pending.len(), "fail_held({index}): only {} commits are held", self.pending.len());
        self.fail.insert(self.answered + index + 1);
        self.release()
    }

    /// Fail the commits answered `n`-th (1-based, counting every commit the
    /// host answers from the start).
    pub fn fail_commits(&mut self, ordinals: impl IntoIterator<Item = usize>) {
        self.fail.extend(ordinals);
    }

    /// Queue command `name` with `args` (a JSON object text) for `device`;
    /// its id (from 1).
    pub fn queue_command(&mut self, device: &str, name: &str, args: &str) -> u64 {
        let id = self.next_command;
        self.next_command += 1;
        let command = Command { id, name: name.to_owned(), args: args.to_owned() };
        self.queued.entry(device.to_owned()).or_default().push(command);
        id
    }

    /// The commands still queued for `device` (not handed over, or back
    /// from a session that closed without doing them).
    pub fn queued(&self, device: &str) -> Vec<&Command> {
        self.queued.get(device).map(|q| q.iter().collect()).unwrap_or_default()
    }

    /// What became of each command done so far, by id.
    pub fn done(&self) -> &BTreeMap<u64, Result<String, String>> {
        &self.done
    }

    /// The committed frames, in commit order, as a codec gets them.
    pub fn journal(&self) -> &[RawFrame] {
        &self.journal
    }

    /// The host's durable resume marks: per key, the highest committed.
    pub fn marks(&self) -> &BTreeMap<String, i64> {
        &self.marks
    }

    /// Every event handed over and its answer, in order.
    pub fn transcript(&self) -> &[Step] {
        &self.transcript
    }

    fn session_info(&mut self, session: u64, event: &Event) -> &mut SessionInfo {
        self.sessions.entry(session).or_insert_with(|| SessionInfo {
            transport: if matches!(event, Event::Request(_)) { Transport::Http } else { Transport::Tcp },
            peer: String::new(),
            requested: false,
        })
    }

    fn step(&mut self, session: u64, event: Event, answers: &mut Answers) {
        if matches!(event, Event::Request(_)) {
            self.session_info(session, &event).requested = true;
        }
        let closed = matches!(event, Event::Closed);
        let actions = self.plugin.handle(session, self.now_ms, event.clone());
        let mut identified = Vec::new();
        for action in &actions {
            match action {
                Action::Send(bytes) => {
                    if let Some(Err(e)) = self.check_sent.map(|check| check(bytes)) {
                        panic!("session {session}: sent {:?}: {e}", text(bytes));
                    }
                    answers.sent.push(bytes.clone());
                }
                Action::Respond(response) => {
                    let requested = self.sessions.get(&session).is_some_and(|s| s.requested);
                    assert!(requested, "session {session}: a response without a request: {response:?}");
                    answers.responses.push(response.clone());
                }
                Action::Commit(commit) => {
                    let frame = DriverFrame {
                        session,
                        token: commit.token,
                        content_type: commit.frame.content_type.clone(),
                        meta: commit.frame.meta.clone(),
                        payload: commit.frame.payload.clone(),
                    };
                    let keys: BTreeSet<&str> = frame.meta.iter().map(|(k, _)| k.as_str()).collect();
                    assert_eq!(
                        keys.len(),
                        frame.meta.len(),
                        "session {session}: duplicate meta keys: {:?}",
                        frame.meta
                    );
                    if let Err(e) = resume_mark(&frame.meta) {
                        panic!("session {session}: {e}");
                    }
                    answers.commits.push(frame.clone());
                    self.pending.push_back(frame);
                }
                Action::Reject { reason, input } => answers.rejects.push((reason.clone(), input.clone())),
                Action::SetTimer { id, after_ms } => answers.timers.push((*id, *after_ms)),
                Action::Fetch(fetch) => answers.fetches.push(fetch.clone()),
                Action::Close(reason) => answers.closes.push(reason.clone()),
                Action::Identify(device) => {
                    answers.identified.push(device.clone());
                    identified.push(device.clone());
                }
                Action::CommandDone(done) => {
                    let handed = self.handed.remove(&done.id);
                    assert!(
                        handed.as_ref().is_some_and(|(s, _, _)| *s == session),
                        "session {session}: command {} is done, but it was not handed to this session",
                        done.id
                    );
                    self.done.insert(done.id, done.outcome.clone());
                    answers.done.push(done.clone());
                }
            }
        }
        self.transcript.push(Step { session, now_ms: self.now_ms, event, actions });
        if closed {
            self.take_back(session);
        }
        for device in identified {
            let commands = self.queued.remove(&device).unwrap_or_default();
            for command in &commands {
                self.handed.insert(command.id, (session, device.clone(), command.clone()));
            }
            self.step(session, Event::Commands(commands), answers);
        }
    }

    /// The commands handed to `session` and not done go back to the queue,
    /// first among their device's, in their order.
    fn take_back(&mut self, session: u64) {
        let ids: Vec<u64> = self.handed.iter().filter(|(_, (s, _, _))| *s == session).map(|(id, _)| *id).collect();
        for id in ids.into_iter().rev() {
            if let Some((_, device, command)) = self.handed.remove(&id) {
                self.queued.entry(device).or_default().insert(0, command);
            }
        }
    }

    fn answer_pending(&mut self, answers: &mut Answers) {
        while let Some(frame) = self.pending.pop_front() {
            self.answered += 1;
            if self.fail.contains(&self.answered) {
                let failed = CommitFailed { token: frame.token, reason: COMMIT_FAILED_REASON.to_owned() };
                self.step(frame.session, Event::CommitFailed(failed), answers);
                continue;
            }
            let seq = self.next_seq;
            self.next_seq += 1;
            if let Ok(Some((key, mark))) = resume_mark(&frame.meta) {
                let entry = self.marks.entry(key).or_insert(mark);
                *entry = (*entry).max(mark);
            }
            let session = self.sessions.get(&frame.session);
            self.journal.push(RawFrame {
                seq,
                source: Self::SOURCE.to_owned(),
                peer: session.map(|s| s.peer.clone()).unwrap_or_default(),
                received_at_ms: self.now_ms,
                transport: session.map_or(Transport::Tcp, |s| s.transport),
                content_type: frame.content_type,
                meta: frame.meta,
                payload: frame.payload,
            });
            self.step(frame.session, Event::Committed(Committed { token: frame.token, seq }), answers);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::{Commit, FrameOut};
    use crate::plugin::{Identified, Identity};

    /// A driver for the host's own tests: every `Data` is one frame to
    /// commit (its metadata from `key=value;...` before a `|`), acknowledged
    /// with `ok <seq>` once committed; `fail` on a failure; `respond` answers
    /// a response; timers echo their id.
    struct Probe {
        next_token: u64,
    }

    impl Identified for Probe {
        const IDENTITY: Identity =
            Identity::from_manifest("id = \"probe\"\nversion = \"1.2.3\"\nroles = [\"driver\", \"codec\"]\n", "1.2.3");
    }

    impl Plugin for Probe {
        fn init(settings_json: &str) -> Result<Self, String> {
            match settings_json.contains("bad") {
                true => Err("setting \"bad\": refused".to_owned()),
                false => Ok(Probe { next_token: 0 }),
            }
        }

        fn handle(&mut self, _session: u64, _now_ms: i64, event: Event) -> Vec<Action> {
            match event {
                Event::Data(bytes) if bytes == b"respond" => {
                    vec![Action::Respond(HttpResponse { status: 200, content_type: "t".into(), body: Vec::new() })]
                }
                Event::Data(bytes) if bytes.starts_with(b"id ") => {
                    vec![Action::Identify(String::from_utf8_lossy(&bytes[3..]).into_owned())]
                }
                Event::Commands(commands) => commands
                    .into_iter()
                    .filter(|c| c.name == "ok")
                    .map(|c| Action::CommandDone(CommandDone { id: c.id, outcome: Ok(c.args) }))
                    .collect(),
                Event::Data(bytes) => {
                    let text = String::from_utf8(bytes).unwrap();
                    let (meta, payload) = text.split_once('|').unwrap_or(("", &text));
                    let meta = meta
                        .split(';')
                        .filter(|p| !p.is_empty())
                        .map(|p| {
                            let (k, v) = p.split_once('=').unwrap();
                            (k.to_owned(), v.to_owned())
                        })
                        .collect();
                    self.next_token += 1;
                    let frame = FrameOut { content_type: "t".into(), meta, payload: payload.as_bytes().to_vec() };
                    vec![Action::Commit(Commit { token: self.next_token, frame })]
                }
                Event::Request(_) => {
                    vec![Action::Respond(HttpResponse { status: 204, content_type: "t".into(), body: Vec::new() })]
                }
                Event::Committed(c) => vec![Action::Send(format!("ok {}", c.seq).into_bytes())],
                Event::CommitFailed(f) => vec![Action::Close(format!("fail {}: {}", f.token, f.reason))],
                Event::Timer(id) => vec![Action::SetTimer { id, after_ms: 10 }],
                Event::Opened { .. } | Event::Message(_) | Event::Fetched(_) | Event::Closed => Vec::new(),
            }
        }

        fn decode(&mut self, frame: &RawFrame) -> Result<Decoded, DecodeError> {
            Err(DecodeError::new(format!("seq {} from {} at {}", frame.seq, frame.peer, frame.received_at_ms)))
        }
    }

    fn host() -> SimHost<Probe> {
        let mut host = SimHost::new("{}").unwrap();
        host.open(Transport::Websocket, "ws://peer");
        host
    }

    #[test]
    fn commits_are_answered_at_once_and_journaled_as_a_codec_gets_them() {
        let mut h = host();
        let out = h.data(b"a");
        assert_eq!(out.commits.len(), 1);
        assert_eq!(out.sent, vec![b"ok 1001".to_vec()], "answered after the event that produced it");
        let out = h.data(b"b");
        assert_eq!(out.sent, vec![b"ok 1002".to_vec()]);
        let frame = h.journal()[1].clone();
        assert_eq!(
            (frame.seq, frame.source.as_str(), frame.peer.as_str(), frame.transport, frame.payload.as_slice()),
            (1002, "sim", "ws://peer", Transport::Websocket, &b"b"[..])
        );
        assert_eq!(frame.received_at_ms, SimHost::<Probe>::DEFAULT_NOW_MS);
        assert_eq!(h.decode(&frame).unwrap_err().reason, "seq 1002 from ws://peer at 1795255200000");
        let kinds: Vec<_> = h.transcript().iter().map(|s| std::mem::discriminant(&s.event)).collect();
        assert_eq!(kinds.len(), 5, "opened, data, committed, data, committed");
    }

    #[test]
    fn an_identified_device_gets_its_commands_and_those_not_done_go_back_at_the_close() {
        let mut h = host();
        let a = h.queue_command("m1", "ok", "{}");
        let b = h.queue_command("m1", "later", "{}");
        let other = h.queue_command("m2", "ok", "{}");
        let out = h.data(b"id m1");
        assert_eq!(out.identified, ["m1"]);
        assert_eq!(out.done, [CommandDone { id: a, outcome: Ok("{}".to_owned()) }]);
        assert!(h.queued("m1").is_empty(), "both handed over");
        assert_eq!(h.done().keys().copied().collect::<Vec<_>>(), [a]);
        h.close();
        assert_eq!(h.queued("m1").iter().map(|c| c.id).collect::<Vec<_>>(), [b], "the one not done is back");
        assert_eq!(h.queued("m2").iter().map(|c| c.id).collect::<Vec<_>>(), [other]);
        let Event::Commands(handed) = &h.transcript()[2].event else { panic!("{:?}", h.transcript()[2]) };
        assert_eq!(handed.iter().map(|c| c.id).collect::<Vec<_>>(), [a, b], "in the order queued");
    }

    #[test]
    fn held_commits_wait_and_one_can_fail() {
        let mut h = host();
        h.hold_commits(true);
        assert!(h.data(b"a").sent.is_empty());
        h.data(b"b");
        h.data(b"c");
        assert_eq!(h.held().iter().map(|f| f.token).collect::<Vec<_>>(), vec![1, 2, 3]);
        let out = h.fail_held(1);
        assert_eq!(out.sent, vec![b"ok 1001".to_vec(), b"ok 1002".to_vec()], "a failure takes no seq");
        assert_eq!(out.closes, vec![format!("fail 2: {COMMIT_FAILED_REASON}")]);
        assert_eq!(h.journal().iter().map(FrameView::text).collect::<Vec<_>>(), vec!["a", "c"]);
        assert!(h.held().is_empty());
        assert_eq!(h.data(b"d").sent, vec![b"ok 1003".to_vec()], "no longer holding");
    }

    #[test]
    fn failures_by_their_place_in_the_order_of_answers() {
        let mut h = host();
        h.fail_commits([2, 3]);
        assert_eq!(h.data(b"a").sent.len(), 1);
        assert_eq!(h.data(b"b").closes.len(), 1);
        assert_eq!(h.data(b"c").closes.len(), 1);
        assert_eq!(h.data(b"d").sent, vec![b"ok 1002".to_vec()]);
    }

    #[test]
    fn marks_rise_with_committed_frames_and_reach_a_restarted_instance() {
        let mut h = SimHost::<Probe>::new(r#"{"resume":{"dev":5}}"#).unwrap();
        h.open(Transport::Tcp, "p");
        h.data(b"resume.key=dev;resume.mark=9|x");
        h.data(b"resume.key=dev;resume.mark=7|y");
        h.data(b"resume.key=other;resume.mark=1;via=rx|z");
        assert_eq!(h.marks(), &BTreeMap::from([("dev".to_owned(), 9), ("other".to_owned(), 1)]));
        assert_eq!(h.journal()[2].mark(), Some(("other".to_owned(), 1)));
        assert_eq!(h.journal()[2].meta_map().get("via").map(String::as_str), Some("rx"));
        let mut fresh = h.restarted("{}").unwrap();
        assert_eq!(fresh.marks(), h.marks());
        fresh.open(Transport::Tcp, "p");
        assert_eq!(fresh.data(b"w").sent, vec![b"ok 1004".to_vec()], "seqs go on");
        assert!(fresh.journal().len() == 1 && fresh.transcript().len() == 3);
        assert_eq!(SimHost::<Probe>::new(r#"{"bad":1}"#).err().unwrap(), "setting \"bad\": refused");
        assert!(SimHost::<Probe>::new(r#"{"resume":{"dev":"x"}}"#).err().unwrap().starts_with("settings \"resume\": "));
    }

    #[test]
    fn commits_answered_after_close_go_to_their_session() {
        let mut h = host();
        h.hold_commits(true);
        h.data(b"a");
        h.close();
        h.open(Transport::Tcp, "q");
        assert_eq!(h.session(), 2);
        h.release();
        let last = h.transcript().last().unwrap();
        assert_eq!((last.session, &last.event), (1, &Event::Committed(Committed { token: 1, seq: 1001 })));
    }

    #[test]
    fn timers_requests_and_the_clock() {
        let mut h = host();
        h.set_now_ms(42);
        assert_eq!(h.timer(3).timers, vec![(3, 10)]);
        assert_eq!(h.transcript().last().unwrap().now_ms, 42);
        let request = HttpRequest { method: "POST".into(), target: "/".into(), headers: vec![], body: vec![] };
        let out = h.handle(9, Event::Request(request));
        assert_eq!(out.responses.len(), 1);
        assert!(!out.is_quiet() && Answers::default().is_quiet());
    }

    fn caught(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
        let e = std::panic::catch_unwind(f).unwrap_err();
        e.downcast_ref::<String>().cloned().unwrap_or_default()
    }

    #[test]
    fn contract_checks_name_the_session() {
        let e = caught(|| {
            host().data(b"a=1;a=2|x");
        });
        assert!(e.starts_with("assertion `left == right` failed: session 1: duplicate meta keys"), "{e}");
        let e = caught(|| {
            host().data(b"resume.key=dev|x");
        });
        assert!(e.starts_with("session 1: resume.key and resume.mark come together"), "{e}");
        let e = caught(|| {
            host().data(b"resume.key=dev;resume.mark=soon|x");
        });
        assert_eq!(e, "session 1: resume.mark \"soon\" is not an integer");
        let e = caught(|| {
            host().data(b"respond");
        });
        assert!(e.starts_with("session 1: a response without a request"), "{e}");
        let e = caught(|| {
            let mut h = host();
            h.check_sent(|bytes| serde_json::from_slice::<Value>(bytes).map(drop).map_err(|e| e.to_string()));
            h.data(b"x");
        });
        assert!(e.starts_with("session 1: sent \"ok 1001\": "), "{e}");
        let e = caught(|| {
            let _ = Answers { sent: vec![b"\xff".to_vec()], ..Answers::default() }.sent_json();
        });
        assert!(e.starts_with("sent \"\\\\xFF\" is not JSON"), "{e}");
    }
}
