//! One session's command exchange, a state machine:
//!
//! ```text
//! idle --commands--> associating --AARE: accepted, SET--> setting(1) --SET-RESPONSE--> setting(2)
//!     ... setting(n) --SET-RESPONSE--> releasing --RLRE--> idle
//!
//! associating: AARE refused or unreadable, no answer in time: every command fails --> idle
//! associating: AARE accepted without SET: every command fails --> releasing
//! setting(i):  no answer in time: command i and those after it fail --> idle
//! setting(i):  a refusing SET-RESPONSE, an exception-response, an unreadable answer:
//!              command i fails --> setting(i+1)
//! ```
//!
//! A command whose SET cannot be made (a longer APDU than the meter's
//! AARE says it takes: block transfer is not supported) fails unsent, and
//! the next is tried. Invoke-ids count 1 to 15 per session, then wrap.
//!
//! The driver sends one request and awaits its answer `command_timeout_s`
//! (an `Action::SetTimer` per request, each with a new id, so a timer of
//! an answered request that fires late is ignored). Each command is done
//! (`Action::CommandDone`) as soon as its SET is answered, before the
//! release: an answer the meter gave is never lost to a later failure.
//! The SET is made when it is sent, so `set_clock` without a time writes
//! the host's clock of that moment.
//!
//! What is refused rather than taken (the session turns it into an
//! `Action::Reject`, the answer never committed): an answer while no
//! exchange is under way, an answer other than the one awaited, a
//! SET-RESPONSE with another invoke-id (the exchange keeps waiting), and
//! an unreadable answer (which fails what it answered).
//!
//! After a timeout the exchange ends without a release: a meter that does
//! not answer would not answer an RLRQ either, and the association ends
//! with the connection. A session that closes mid-exchange drops it: the
//! host hands its commands not done to a later session.

use std::collections::VecDeque;

use meterhub_plugin_api::{Action, CommandDone};

use super::apdu::{self, CONFIRMED_SERVICE_ERROR, CONFORMANCE_SET, EXCEPTION_RESPONSE};
use super::{CommandSettings, Setter};
use crate::device::Password;
use crate::framing::wrapper;

/// A command handed to the exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    /// The host's id.
    pub id: u64,
    /// What it sets.
    pub setter: Setter,
}

/// What an exchange works with: the instance's command settings and the
/// host's clock.
#[derive(Debug, Clone, Copy)]
pub struct Cx<'a> {
    /// The settings.
    pub settings: &'a CommandSettings,
    /// The host's clock, Unix milliseconds.
    pub now_ms: i64,
}

/// What the exchange makes of a meter's answer.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reply {
    /// What to do.
    pub actions: Vec<Action>,
    /// Why the answer is refused, if it is.
    pub refused: Option<String>,
}

/// Where an exchange is.
#[derive(Debug, Default)]
enum State {
    /// Nothing under way.
    #[default]
    Idle,
    /// The AARQ is sent; awaiting the AARE.
    Associating,
    /// A SET is sent; awaiting its SET-RESPONSE.
    Setting {
        /// The command it carries.
        command: Queued,
        /// Its invoke-id.
        invoke_id: u8,
        /// The outcome when the meter takes it.
        answer: String,
    },
    /// The RLRQ is sent; awaiting the RLRE.
    Releasing,
}

/// One session's exchange.
#[derive(Debug, Default)]
pub struct Exchange {
    state: State,
    /// Commands not sent yet, in order.
    queue: VecDeque<Queued>,
    /// The device's password, for the AARQ (while commands remain).
    password: Option<Password>,
    /// The last invoke-id used (1 to 15, counting per session).
    invoke_id: u8,
    /// The id of the timer of the request awaited.
    timer: u32,
    /// The largest APDU the meter takes (its AARE's; 0: no limit).
    server_max_pdu: u16,
}

impl Exchange {
    /// Whether nothing is under way.
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Idle)
    }

    /// Send `commands` with `password`: associate, unless an exchange is
    /// under way (they are sent after its commands).
    pub fn start(&mut self, cx: Cx<'_>, commands: Vec<Queued>, password: &Password) -> Vec<Action> {
        if commands.is_empty() {
            return Vec::new();
        }
        self.queue.extend(commands);
        self.password = Some(password.clone());
        match self.state {
            State::Idle => self.associate(cx),
            _ => Vec::new(),
        }
    }

    /// The meter's answer `apdu` (its tag one of [`apdu::is_answer`]).
    pub fn answer(&mut self, cx: Cx<'_>, apdu: &[u8]) -> Reply {
        let tag = apdu.first().copied().unwrap_or_default();
        match (&self.state, tag) {
            (State::Idle, _) => refuse("no command exchange under way"),
            (_, EXCEPTION_RESPONSE | CONFIRMED_SERVICE_ERROR) => {
                let read = match tag {
                    EXCEPTION_RESPONSE => apdu::read_exception_response(apdu),
                    _ => apdu::read_confirmed_service_error(apdu),
                };
                let request = self.awaited_request();
                match read {
                    Ok(text) => Reply {
                        actions: self.failed(cx, format!("the meter answered {request} with {text}")),
                        refused: None,
                    },
                    Err(e) => Reply {
                        actions: self.failed(cx, format!("the meter's answer to {request} cannot be read: {e}")),
                        refused: Some(format!("unreadable: {e}")),
                    },
                }
            }
            (State::Associating, apdu::AARE) => self.associated(cx, apdu),
            (State::Setting { .. }, apdu::SET_RESPONSE) => self.set_answered(cx, apdu),
            (State::Releasing, apdu::RLRE) => self.released(cx, apdu),
            _ => {
                refuse(&format!("not the answer awaited: the exchange awaits the answer to {}", self.awaited_request()))
            }
        }
    }

    /// Timer `id` fired: if it is the awaited request's, that request
    /// failed, and with it every command not done.
    pub fn timer(&mut self, cx: Cx<'_>, id: u32) -> Vec<Action> {
        if id != self.timer || self.is_idle() {
            return Vec::new();
        }
        let why = format!("no answer from the meter within {} s to {}", cx.settings.timeout_s, self.awaited_request());
        let mut actions = match std::mem::take(&mut self.state) {
            State::Setting { command, .. } => vec![done(command.id, Err(why.clone()))],
            _ => Vec::new(),
        };
        actions.extend(self.fail_queue(&why));
        actions
    }

    /// The request awaited, as outcomes name it.
    fn awaited_request(&self) -> String {
        match &self.state {
            State::Idle => "nothing".to_owned(),
            State::Associating => "the AARQ".to_owned(),
            State::Setting { command, .. } => format!("the SET of {}", command.setter.name()),
            State::Releasing => "the RLRQ".to_owned(),
        }
    }

    /// The request awaited failed with `why`: the association (every
    /// command fails), a SET (its command fails, the next is sent) or the
    /// release.
    fn failed(&mut self, cx: Cx<'_>, why: String) -> Vec<Action> {
        match std::mem::take(&mut self.state) {
            State::Associating => self.fail_queue(&why),
            State::Setting { command, .. } => {
                let mut actions = vec![done(command.id, Err(why))];
                actions.extend(self.next(cx));
                actions
            }
            State::Releasing | State::Idle => self.after_release(cx),
        }
    }

    /// The AARE.
    fn associated(&mut self, cx: Cx<'_>, apdu: &[u8]) -> Reply {
        let aare = match apdu::read_aare(apdu) {
            Ok(aare) => aare,
            Err(e) => {
                self.state = State::Idle;
                let actions = self.fail_queue(&format!("the meter's AARE cannot be read: {e}"));
                return Reply { actions, refused: Some(format!("unreadable: {e}")) };
            }
        };
        if aare.result != 0 {
            self.state = State::Idle;
            return Reply { actions: self.fail_queue(&aare.refusal()), refused: None };
        }
        let why = match aare.initiate {
            Ok(initiate) if initiate.conformance & CONFORMANCE_SET != 0 => {
                self.server_max_pdu = initiate.server_max_pdu;
                return Reply { actions: self.next(cx), refused: None };
            }
            Ok(initiate) => format!(
                "the meter accepted the association but not SET (negotiated conformance 0x{:06X})",
                initiate.conformance
            ),
            Err(why) => format!("the meter accepted the association without an InitiateResponse: {why}"),
        };
        let mut actions = self.fail_queue(&why);
        actions.extend(self.release(cx));
        Reply { actions, refused: None }
    }

    /// A SET-RESPONSE.
    fn set_answered(&mut self, cx: Cx<'_>, apdu: &[u8]) -> Reply {
        let State::Setting { command, invoke_id, answer } = std::mem::take(&mut self.state) else {
            return Reply::default();
        };
        let (outcome, refused) = match apdu::read_set_response(apdu) {
            Ok(r) if r.invoke_id != invoke_id => {
                let why = format!("invoke-id {}, but the SET awaited has {invoke_id}", r.invoke_id);
                self.state = State::Setting { command, invoke_id, answer };
                return refuse(&why);
            }
            Ok(r) if r.result == 0 => (Ok(answer), None),
            Ok(r) => (Err(apdu::data_access_result(r.result)), None),
            Err(e) => (Err(format!("the meter's SET-RESPONSE cannot be read: {e}")), Some(format!("unreadable: {e}"))),
        };
        let mut actions = vec![done(command.id, outcome)];
        actions.extend(self.next(cx));
        Reply { actions, refused }
    }

    /// The RLRE.
    fn released(&mut self, cx: Cx<'_>, apdu: &[u8]) -> Reply {
        let refused = apdu::read_rlre(apdu).err().map(|e| format!("unreadable: {e}"));
        self.state = State::Idle;
        Reply { actions: self.after_release(cx), refused }
    }

    /// Send the AARQ.
    fn associate(&mut self, cx: Cx<'_>) -> Vec<Action> {
        let Some(password) = &self.password else { return self.fail_queue("no password") };
        let aarq = apdu::aarq(password.bytes());
        self.state = State::Associating;
        self.request(cx, &aarq)
    }

    /// Send the next command's SET; after the last, the RLRQ. A command
    /// whose SET cannot be made, or is longer than the meter takes, fails
    /// here and the next is tried.
    fn next(&mut self, cx: Cx<'_>) -> Vec<Action> {
        let mut actions = Vec::new();
        while let Some(command) = self.queue.pop_front() {
            let set = match command.setter.set(cx.now_ms, cx.settings) {
                Ok(set) => set,
                Err(why) => {
                    actions.push(done(command.id, Err(why)));
                    continue;
                }
            };
            let invoke_id = self.invoke_id % 15 + 1;
            let request = apdu::set_request(invoke_id, set.target, &set.data);
            let max = usize::from(self.server_max_pdu);
            if max != 0 && request.len() > max {
                let why = format!(
                    "the SET of {} is {} bytes, more than the meter takes (server-max-receive-pdu-size {max}); \
                     block transfer is not supported",
                    command.setter.name(),
                    request.len()
                );
                actions.push(done(command.id, Err(why)));
                continue;
            }
            self.invoke_id = invoke_id;
            self.state = State::Setting { command, invoke_id, answer: set.answer };
            actions.extend(self.request(cx, &request));
            return actions;
        }
        actions.extend(self.release(cx));
        actions
    }

    /// Send the RLRQ.
    fn release(&mut self, cx: Cx<'_>) -> Vec<Action> {
        self.state = State::Releasing;
        self.request(cx, &apdu::RLRQ)
    }

    /// The release is over: associate again for commands handed meanwhile.
    fn after_release(&mut self, cx: Cx<'_>) -> Vec<Action> {
        self.state = State::Idle;
        match self.queue.is_empty() {
            true => {
                self.password = None;
                Vec::new()
            }
            false => self.associate(cx),
        }
    }

    /// Send `apdu` and await its answer.
    fn request(&mut self, cx: Cx<'_>, apdu: &[u8]) -> Vec<Action> {
        self.timer = self.timer.wrapping_add(1).max(1);
        let frame = wrapper::encode(cx.settings.client_sap, cx.settings.server_sap, apdu);
        vec![Action::Send(frame), Action::SetTimer { id: self.timer, after_ms: cx.settings.timeout_s * 1000 }]
    }

    /// Every command not sent yet fails with `why`; the exchange is idle.
    fn fail_queue(&mut self, why: &str) -> Vec<Action> {
        self.state = State::Idle;
        self.password = None;
        self.queue.drain(..).map(|c| done(c.id, Err(why.to_owned()))).collect()
    }
}

/// The answer is refused for `why`.
fn refuse(why: &str) -> Reply {
    Reply { actions: Vec::new(), refused: Some(why.to_owned()) }
}

/// Command `id` is done with `outcome`.
fn done(id: u64, outcome: Result<String, String>) -> Action {
    Action::CommandDone(CommandDone { id, outcome })
}
