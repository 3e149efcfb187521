//! The sessions of one instance: each event to its [`Session`] (bytes,
//! the commands the host hands after an identification, timers), the
//! host's answers to commits to the replay windows.
//!
//! A session is forgotten when it closes, whatever commits are still under
//! way: their answers concern only the replay windows, which follow them
//! by session and token ([`crate::replays`]), so an answer arriving after
//! the close (or never: the host may drop them once a session is closed)
//! leaves nothing behind but a bounded entry.

use std::collections::HashMap;

use meterhub_plugin_api::{Action, Event, Transport};

use crate::replays::Replays;
use crate::session::{Cx, Session};
use crate::settings::RbguSettings;

/// The open sessions of one instance.
#[derive(Debug, Default)]
pub struct Sessions {
    open: HashMap<u64, Session>,
}

impl Sessions {
    /// How many sessions are open.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// How many bytes the open sessions hold.
    pub fn held(&self) -> usize {
        self.open.values().map(Session::held).sum()
    }

    /// Handle `event` of `session`.
    pub fn handle(
        &mut self,
        settings: &RbguSettings,
        replays: &mut Replays,
        session: u64,
        now_ms: i64,
        event: Event,
    ) -> Vec<Action> {
        let mut cx = Cx { settings, replays, session, now_ms };
        match event {
            Event::Opened { transport: Transport::Tcp, peer } => {
                self.open.insert(session, Session::new(settings, peer));
                Vec::new()
            }
            Event::Opened { transport, .. } => {
                vec![Action::Close(format!("rbgu takes TCP connections, not {} sessions", transport.as_str()))]
            }
            Event::Data(bytes) => {
                // A session the host never opened is a TCP one from an unknown peer.
                let s = self.open.entry(session).or_insert_with(|| Session::new(settings, String::new()));
                s.data(&mut cx, &bytes)
            }
            Event::Committed(c) => {
                cx.replays.committed(session, c.token);
                Vec::new()
            }
            Event::CommitFailed(f) => {
                cx.replays.failed(session, f.token);
                Vec::new()
            }
            Event::Closed => match self.open.remove(&session) {
                Some(mut s) => s.closed(&mut cx),
                None => Vec::new(),
            },
            Event::Request(_) => vec![Action::Close("rbgu takes TCP connections, not HTTP requests".to_owned())],
            Event::Message(m) => {
                let reason = "rbgu takes TCP connections, not MQTT messages".to_owned();
                vec![Action::Reject { reason, input: m.payload }]
            }
            Event::Commands(commands) => match self.open.get_mut(&session) {
                Some(s) => s.commands(&mut cx, commands),
                // Closed already: the host takes them back.
                None => Vec::new(),
            },
            Event::Timer(id) => match self.open.get_mut(&session) {
                Some(s) => s.timer(&mut cx, id),
                None => Vec::new(),
            },
            Event::Fetched(_) => Vec::new(),
        }
    }
}
