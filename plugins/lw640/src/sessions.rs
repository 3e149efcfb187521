//! The sessions of one instance, whatever their transport: each takes one
//! event, an HTTP request ([`crate::request`]) or an MQTT message
//! ([`crate::message`]), commits its one frame or refuses it, and stays
//! known until the host has said what became of that frame (even when the
//! peer went away first: the host answers every commit, and the answer
//! still settles the repeat memory). What the peer hears is its
//! transport's: [`crate::http`] responds, [`crate::mqtt`] stays silent
//! (the host acknowledges the message to the broker).
//!
//! A new transport is one more [`Via`], its reader and its answers.

use std::collections::HashMap;

use meterhub_plugin_api::{Action, Commit, Event, Transport};

use crate::error::Refusal;
use crate::frame::Accepted;
use crate::repeats::{Repeats, UplinkKey};
use crate::settings::Lw640Settings;
use crate::{http, message, mqtt, request};

/// The token of a session's one commit.
pub const TOKEN: u64 = 1;

/// The transports the driver takes, and how each answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// HTTP ingress: one request per session, answered with a response.
    Http,
    /// MQTT subscription: one message per session, answered with nothing.
    Mqtt,
}

impl Via {
    /// The driver's transport for a host's, if it takes it.
    pub fn of(transport: Transport) -> Option<Via> {
        match transport {
            Transport::Http => Some(Via::Http),
            Transport::Mqtt => Some(Via::Mqtt),
            Transport::Tcp | Transport::Websocket | Transport::Fetch => None,
        }
    }

    fn stored(self, seq: u64) -> Vec<Action> {
        match self {
            Via::Http => http::stored(seq),
            Via::Mqtt => mqtt::stored(seq),
        }
    }

    fn not_stored(self, reason: &str) -> Vec<Action> {
        match self {
            Via::Http => http::not_stored(reason),
            Via::Mqtt => mqtt::not_stored(reason),
        }
    }
}

/// Where a session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing taken yet.
    Idle,
    /// Its frame is being committed.
    Committing {
        /// The uplink it is the first arrival of.
        first: Option<(UplinkKey, u64)>,
    },
}

/// One open session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Session {
    via: Via,
    state: State,
}

/// The open sessions of one instance.
#[derive(Debug, Default)]
pub struct Sessions {
    open: HashMap<u64, Session>,
}

impl Sessions {
    /// How many sessions are known.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// Handle `event` of `session` at host time `now_ms`.
    pub fn handle(
        &mut self,
        settings: &Lw640Settings,
        repeats: &mut Repeats,
        session: u64,
        now_ms: i64,
        event: Event,
    ) -> Vec<Action> {
        match event {
            Event::Opened { transport, .. } => match Via::of(transport) {
                Some(via) => {
                    self.open.insert(session, Session { via, state: State::Idle });
                    Vec::new()
                }
                None => vec![Action::Close(format!(
                    "lw640 takes HTTP requests and MQTT messages, not {} sessions",
                    transport.as_str()
                ))],
            },
            Event::Request(request) => {
                if let Some(other) = self.busy(session, Via::Http) {
                    return vec![Action::Close(format!(
                        "an HTTP request on a session that {other}; each request has its own"
                    ))];
                }
                let taken = request::accept(settings, repeats, now_ms, &request);
                self.take(session, Via::Http, taken, |refusal| http::refused(refusal, request.body))
            }
            Event::Message(msg) => {
                if let Some(other) = self.busy(session, Via::Mqtt) {
                    let reason = format!("an MQTT message on a session that {other}; each message has its own");
                    return vec![Action::Reject { reason, input: msg.payload }];
                }
                let taken = message::accept(settings, repeats, now_ms, &msg);
                self.take(session, Via::Mqtt, taken, |refusal| mqtt::refused(refusal, &msg.topic, msg.payload))
            }
            Event::Committed(c) => self.settle(repeats, session, c.token, Ok(c.seq)),
            Event::CommitFailed(f) => self.settle(repeats, session, f.token, Err(f.reason)),
            Event::Timer(_) | Event::Fetched(_) | Event::Commands(_) => Vec::new(),
            Event::Closed => {
                self.forget_idle(session);
                Vec::new()
            }
            Event::Data(_) => {
                self.forget_idle(session);
                vec![Action::Close("lw640 takes HTTP requests and MQTT messages, not stream data".to_owned())]
            }
        }
    }

    /// Why `session` cannot take an event arriving `via`, if it cannot: it
    /// took one already, or it is of another transport. A session never
    /// opened takes it.
    fn busy(&self, session: u64, via: Via) -> Option<&'static str> {
        match self.open.get(&session) {
            None => None,
            Some(s) if s.via != via => Some("was opened for another transport"),
            Some(Session { state: State::Idle, .. }) => None,
            Some(Session { state: State::Committing { .. }, .. }) => Some("took one already"),
        }
    }

    /// Commit what `session` took, or refuse it as `refused` says.
    fn take(
        &mut self,
        session: u64,
        via: Via,
        taken: Result<Accepted, Refusal>,
        refused: impl FnOnce(&Refusal) -> Vec<Action>,
    ) -> Vec<Action> {
        match taken {
            Ok(accepted) => {
                self.open.insert(session, Session { via, state: State::Committing { first: accepted.first } });
                vec![Action::Commit(Commit { token: TOKEN, frame: accepted.frame })]
            }
            Err(refusal) => {
                self.open.remove(&session);
                refused(&refusal)
            }
        }
    }

    /// The host's answer for a session's frame: tell the peer what its
    /// transport tells, and forget a first arrival whose frame was not
    /// stored.
    fn settle(&mut self, repeats: &mut Repeats, session: u64, token: u64, outcome: Result<u64, String>) -> Vec<Action> {
        let Some(Session { via, state: State::Committing { first } }) = self.open.get(&session).copied() else {
            return Vec::new();
        };
        if token != TOKEN {
            return Vec::new();
        }
        self.open.remove(&session);
        match outcome {
            Ok(seq) => via.stored(seq),
            Err(reason) => {
                if let Some((key, serial)) = first {
                    repeats.forget(key, serial);
                }
                via.not_stored(&reason)
            }
        }
    }

    /// Forget `session` unless its frame is still being committed.
    fn forget_idle(&mut self, session: u64) {
        if self.open.get(&session).is_some_and(|s| s.state == State::Idle) {
            self.open.remove(&session);
        }
    }
}
