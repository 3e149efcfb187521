//! One TCP connection: its framer, the system title it has shown, the
//! tokens of its commits. Each complete frame is committed raw-first (or,
//! as a replay under `replay = "reject"`, refused); each refusal of the
//! framer is a `Reject` naming profile, offset and what; a fatal refusal
//! closes the session too. DLMS pushes are not acknowledged, so nothing is
//! sent.

use meterhub_plugin_api::{Action, Commit};

use crate::device::Admission;
use crate::dlms::{self, SystemTitle};
use crate::frame::{self, Dlms, TitleFrom};
use crate::framing::{self, Frame, Framer, Output};
use crate::replays::{ReplayPolicy, Replays, Verdict};
use crate::settings::{Content, RbguSettings};

/// What a session works with besides itself: the instance's settings
/// (its device registry among them), replay windows, and the session's id.
pub struct Cx<'a> {
    /// The instance's settings.
    pub settings: &'a RbguSettings,
    /// The instance's replay windows.
    pub replays: &'a mut Replays,
    /// The session's id.
    pub session: u64,
}

/// One TCP connection.
#[derive(Debug)]
pub struct Session {
    peer: String,
    framer: Box<dyn Framer>,
    /// The system title its frames showed last.
    title: Option<SystemTitle>,
    /// The token of its next commit.
    next_token: u64,
}

impl Session {
    /// A new connection from `peer`.
    pub fn new(settings: &RbguSettings, peer: String) -> Session {
        Session { peer, framer: framing::framer(&settings.framing), title: None, next_token: 1 }
    }

    /// How many bytes its framer holds.
    pub fn held(&self) -> usize {
        self.framer.held()
    }

    /// The next chunk of its bytes.
    pub fn data(&mut self, cx: &mut Cx<'_>, bytes: &[u8]) -> Vec<Action> {
        let mut outputs = Vec::new();
        self.framer.push(bytes, &mut outputs);
        self.act(cx, outputs)
    }

    /// The connection ended: what the framer still held is refused.
    pub fn closed(&mut self, cx: &mut Cx<'_>) -> Vec<Action> {
        let mut outputs = Vec::new();
        self.framer.finish(&mut outputs);
        self.act(cx, outputs)
    }

    /// The actions for the framer's `outputs`.
    fn act(&mut self, cx: &mut Cx<'_>, outputs: Vec<Output>) -> Vec<Action> {
        let mut actions = Vec::new();
        for output in outputs {
            match output {
                Output::Frame(frame) => actions.extend(self.take(cx, frame)),
                Output::Refused(r) => actions.push(Action::Reject { reason: r.to_string(), input: r.input }),
                Output::Fatal(r) => {
                    let reason = r.to_string();
                    actions.push(Action::Reject { reason: reason.clone(), input: r.input });
                    actions.push(Action::Close(reason));
                }
            }
        }
        actions
    }

    /// A complete frame: commit it, or refuse it (and, for an unknown
    /// device under `unknown_devices = "refuse"`, close the connection).
    fn take(&mut self, cx: &mut Cx<'_>, frame: Frame) -> Vec<Action> {
        let profile = cx.settings.framing.profile;
        let mut dlms = match cx.settings.content {
            Content::Dlms => self.identify(&frame.content),
            Content::Opaque => None,
        };
        let title = dlms.as_ref().and_then(|d| d.title).map(|(title, _)| title);
        let pending = match cx.settings.devices.admit(title) {
            Admission::Admit => false,
            Admission::Pending => true,
            Admission::Refuse(why) => {
                let reason = format!("{profile} offset {} from {}: {why}", frame.offset, self.peer);
                return vec![Action::Reject { reason: reason.clone(), input: frame.wire }, Action::Close(reason)];
            }
        };
        let keyed = dlms.as_ref().and_then(|d| match (d.title, d.counter) {
            (Some((title, TitleFrom::Frame)), Some(counter)) => Some((title, counter)),
            _ => None,
        });
        let verdict = keyed.map_or(Verdict::New, |(title, counter)| cx.replays.check(title, counter));
        match replayed(cx.replays.policy(), keyed, verdict) {
            Err(why) => {
                return vec![Action::Reject {
                    reason: format!("{profile} offset {}: {why}", frame.offset),
                    input: frame.wire,
                }];
            }
            Ok(replay) => dlms.iter_mut().for_each(|d| d.replay = replay),
        }
        dlms.iter_mut().for_each(|d| d.pending = pending);
        let token = self.next_token;
        self.next_token += 1;
        if let (Some((title, counter)), Verdict::New) = (keyed, verdict) {
            cx.replays.expect(cx.session, token, title, counter);
        }
        vec![Action::Commit(Commit { token, frame: frame::commit(profile, frame, dlms.as_ref()) })]
    }

    /// What the APDU `content` says, remembering a system title it shows.
    fn identify(&mut self, content: &[u8]) -> Option<Dlms> {
        let apdu = dlms::read(content)?;
        let mut d = Dlms { apdu: apdu.name(), title: None, counter: None, error: None, replay: false, pending: false };
        match &apdu.glo {
            Some(Ok(header)) => {
                self.title = Some(header.system_title);
                d.title = Some((header.system_title, TitleFrom::Frame));
                d.counter = Some(header.invocation_counter);
            }
            Some(Err(why)) => d.error = Some(why.clone()),
            None if !apdu.is_ciphered() => d.title = self.title.map(|t| (t, TitleFrom::Session)),
            None => {}
        }
        Some(d)
    }
}

/// Whether a frame keyed by `keyed` (system title, invocation counter) is
/// a replay to mark, given its verdict, or why it is refused as one.
fn replayed(policy: ReplayPolicy, keyed: Option<(SystemTitle, u32)>, verdict: Verdict) -> Result<bool, String> {
    let why = match verdict {
        Verdict::New => return Ok(false),
        Verdict::Seen => "was seen already (replay)".to_owned(),
        Verdict::BelowWindow { floor } => format!("is at or below the replay window's floor {floor} (replay)"),
    };
    match (policy, keyed) {
        (ReplayPolicy::Reject, Some((title, counter))) => {
            Err(format!("system title {title} invocation counter {counter} {why}"))
        }
        _ => Ok(true),
    }
}
