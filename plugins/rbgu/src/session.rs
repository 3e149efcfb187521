//! One TCP connection: its framer, the system title it has shown, the
//! tokens of its commits, the device it identified and its command
//! exchange. Each complete frame is committed raw-first (or, as a replay
//! under `replay = "reject"`, refused); each refusal of the framer is a
//! `Reject` naming profile, offset and what; a fatal refusal closes the
//! session too. DLMS pushes are not acknowledged.
//!
//! Commands ([`crate::commands`]): the first committed push whose own
//! header shows a system title in the device registry, as a new
//! invocation counter (not a replay), not pending, and whose tag verifies
//! under the device's keys ([`crate::commands::proof`]: security control
//! 0x30 or 0x10, `ek` and `ak` in the secrets file), identifies the device
//! to the host (`Action::Identify`, right after the push's `Commit`, once
//! per session). A push that does not prove so is committed all the same
//! (the codec judges its content) and identifies nothing: a system title
//! in clear proves nothing, and identification sends the LLS password.
//! The host answers with the commands queued for it, which the session's
//! [`Exchange`] sends. With `framing = "wrapper"` and `content = "dlms"`,
//! a frame whose APDU is an answer (AARE, SET-RESPONSE, RLRE,
//! exception-response, confirmed-service-error) goes to the exchange and
//! is never committed; one the exchange does not take is refused
//! (`Reject` naming device, APDU and offset). Pushes are committed as
//! before, also during an exchange. With another framing nothing is
//! diverted (no exchange can be under way there) and every command handed
//! fails, naming why.

use meterhub_plugin_api::{Action, Command, CommandDone, Commit};

use crate::commands::exchange::{self, Exchange, Queued};
use crate::commands::{Setter, apdu, proof};
use crate::device::Admission;
use crate::dlms::{self, SystemTitle};
use crate::frame::{self, Dlms, TitleFrom};
use crate::framing::{self, Frame, Framer, Output, Profile};
use crate::replays::{ReplayPolicy, Replays, Verdict};
use crate::settings::{Content, RbguSettings};

/// What a session works with besides itself: the instance's settings
/// (its device registry among them), replay windows, the session's id and
/// the host's clock.
pub struct Cx<'a> {
    /// The instance's settings.
    pub settings: &'a RbguSettings,
    /// The instance's replay windows.
    pub replays: &'a mut Replays,
    /// The session's id.
    pub session: u64,
    /// The host's clock at the event, Unix milliseconds.
    pub now_ms: i64,
}

impl Cx<'_> {
    /// What the command exchange works with.
    fn exchange(&self) -> exchange::Cx<'_> {
        exchange::Cx { settings: &self.settings.commands, now_ms: self.now_ms }
    }

    /// Whether this instance sends commands: wrapper framing, DLMS content.
    fn commands(&self) -> bool {
        self.settings.framing.profile == Profile::Wrapper && self.settings.content == Content::Dlms
    }
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
    /// The device it identified to the host.
    identified: Option<SystemTitle>,
    /// Its command exchange, made when the first commands or answers come
    /// (most connections never have one, and an idle connection should
    /// cost little).
    exchange: Option<Box<Exchange>>,
}

impl Session {
    /// A new connection from `peer`.
    pub fn new(settings: &RbguSettings, peer: String) -> Session {
        Session {
            peer,
            framer: framing::framer(&settings.framing),
            title: None,
            next_token: 1,
            identified: None,
            exchange: None,
        }
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

    /// The commands the host queued for the device the session
    /// identified: sent by the exchange, or each failed naming why.
    pub fn commands(&mut self, cx: &mut Cx<'_>, commands: Vec<Command>) -> Vec<Action> {
        let fail = |why: &str| {
            let done = |c: &Command| Action::CommandDone(CommandDone { id: c.id, outcome: Err(why.to_owned()) });
            commands.iter().map(done).collect()
        };
        if !cx.commands() {
            let (framing, content) = (cx.settings.framing.profile, cx.settings.content);
            let has = match (framing == Profile::Wrapper, content == Content::Dlms) {
                (false, false) => format!("framing \"{framing}\" and content \"{}\"", content.name()),
                (false, true) => format!("framing \"{framing}\""),
                _ => format!("content \"{}\"", content.name()),
            };
            return fail(&format!("commands need framing = \"wrapper\" and content = \"dlms\"; instance has {has}"));
        }
        let Some(title) = self.identified else { return fail("no device identified on this connection") };
        let Some(password) = cx.settings.devices.password(title) else {
            return fail(&format!("device {title} has no password in the secrets file; LLS needs one"));
        };
        let mut actions = Vec::new();
        let mut queued = Vec::new();
        for c in commands {
            match Setter::plan(&c.name, &c.args) {
                Ok(setter) => queued.push(Queued { id: c.id, setter }),
                Err(why) => actions.push(Action::CommandDone(CommandDone { id: c.id, outcome: Err(why) })),
            }
        }
        actions.extend(self.exchange().start(cx.exchange(), queued, password));
        actions
    }

    /// Its exchange, made at the first use.
    fn exchange(&mut self) -> &mut Exchange {
        self.exchange.get_or_insert_with(Box::default)
    }

    /// Timer `id` fired.
    pub fn timer(&mut self, cx: &mut Cx<'_>, id: u32) -> Vec<Action> {
        self.exchange().timer(cx.exchange(), id)
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
        if let Some(&tag) = frame.content.first()
            && cx.commands()
            && apdu::is_answer(tag)
        {
            return self.answer(cx, frame, tag);
        }
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
        // Whether this push identifies the device: the tag is checked (the
        // APDU copied and AES-GCM run) only for the push that would.
        let identifies = match (self.identified, keyed, verdict, pending) {
            (None, Some((title, _)), Verdict::New, false) => {
                let devices = &cx.settings.devices;
                (devices.is_known(title) && proof::check(&frame.content, devices.keys(title)).is_ok()).then_some(title)
            }
            _ => None,
        };
        let token = self.next_token;
        self.next_token += 1;
        if let (Some((title, counter)), Verdict::New) = (keyed, verdict) {
            cx.replays.expect(cx.session, token, title, counter);
        }
        let mut actions = vec![Action::Commit(Commit { token, frame: frame::commit(profile, frame, dlms.as_ref()) })];
        if let Some(title) = identifies {
            self.identified = Some(title);
            actions.push(Action::Identify(title.to_string()));
        }
        actions
    }

    /// A meter's answer (tag `tag`), never committed: to the exchange, or
    /// refused.
    fn answer(&mut self, cx: &mut Cx<'_>, frame: Frame, tag: u8) -> Vec<Action> {
        let reply = self.exchange().answer(cx.exchange(), &frame.content);
        let mut actions = Vec::new();
        if let Some(why) = reply.refused {
            let device = match self.identified.or(self.title) {
                Some(title) => format!("device {title}"),
                None => "an unidentified device".to_owned(),
            };
            let name = dlms::read(&frame.content).map(|a| a.name()).unwrap_or_default();
            let reason = format!(
                "{} offset {}: {name} (0x{tag:02X}) from {device} not committed: {why}",
                cx.settings.framing.profile, frame.offset
            );
            actions.push(Action::Reject { reason, input: frame.wire });
        }
        actions.extend(reply.actions);
        actions
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
