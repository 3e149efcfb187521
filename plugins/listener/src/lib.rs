//! The `listener` plugin: generic device input. Devices send JSON readings
//! as lines over TCP, as lines in WebSocket messages, or as an array in an
//! HTTP POST; the driver commits each valid line, or each valid POST, as one
//! raw frame and answers the device only once the frame is on disk. The
//! same plugin is the codec of those frames.
//!
//! Code map, in data-flow order:
//! - [`settings`]: `max_line_bytes`, `max_future_ms`;
//! - [`lines`]: TCP and WebSocket sessions (lines, ordered answers);
//! - [`http`]: HTTP sessions (one all-or-nothing POST);
//! - [`reading`]: one reading object, parsed and validated;
//! - [`decimal`]: exact decimal text parsing;
//! - [`json`]: strict objects, syntax errors with line/column;
//! - [`codec`]: committed frame to reading.
//!
//! Architecture invariant: a device is told `"ok":true` only after the host
//! reported its frame committed, and answers leave in input order.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use meterhub_plugin_api::{Action, DecodeError, Decoded, Event, Plugin, RawFrame, Transport};

pub mod codec;
pub mod decimal;
pub mod http;
pub mod json;
pub mod lines;
pub mod reading;
pub mod settings;

use http::HttpSession;
use lines::{Framing, LineLimits, LineSession};
use reading::Clock;
use settings::ListenerSettings;

/// One listener instance: its settings and its open sessions.
#[derive(Debug)]
pub struct Listener {
    settings: ListenerSettings,
    sessions: HashMap<u64, Session>,
}

/// The state of one session, by transport.
#[derive(Debug)]
enum Session {
    Lines(LineSession),
    Http(HttpSession),
}

impl Plugin for Listener {
    fn init(settings_json: &str) -> Result<Self, String> {
        Ok(Listener { settings: ListenerSettings::parse(settings_json)?, sessions: HashMap::new() })
    }

    fn handle(&mut self, session: u64, now_ms: i64, event: Event) -> Vec<Action> {
        let clock = Clock { now_ms, max_future_ms: self.settings.max_future_ms };
        let (mut entry, event) = match (event, self.sessions.entry(session)) {
            (Event::Opened { transport, .. }, entry) => {
                let state = match transport {
                    Transport::Tcp => Session::Lines(LineSession::new(Framing::Stream)),
                    Transport::Websocket => Session::Lines(LineSession::new(Framing::Messages)),
                    // An MQTT message is read as a POST body is.
                    Transport::Http | Transport::Mqtt => Session::Http(HttpSession::default()),
                    Transport::Fetch => {
                        return vec![Action::Close("the listener has no use for a fetch session".to_owned())];
                    }
                };
                entry.insert_entry(state);
                return Vec::new();
            }
            (Event::Closed, Entry::Occupied(entry)) => {
                entry.remove();
                return Vec::new();
            }
            (event, Entry::Occupied(entry)) => (entry, event),
            // A request says what it is; anything else needs `Opened` first.
            (event @ (Event::Request(_) | Event::Message(_)), Entry::Vacant(entry)) => {
                (entry.insert_entry(Session::Http(HttpSession::default())), event)
            }
            (Event::Data(_), Entry::Vacant(_)) => {
                return vec![Action::Close(format!("session {session}: data before Opened"))];
            }
            (_, Entry::Vacant(_)) => return Vec::new(),
        };
        let actions = match entry.get_mut() {
            Session::Lines(lines) => lines.handle(
                event,
                LineLimits { clock, max_line_bytes: self.settings.max_line_bytes, validate: self.settings.validate },
            ),
            Session::Http(http) => http.handle(event, clock, self.settings.validate),
        };
        // A finished HTTP session, or one the driver closes (the host sends
        // no `Closed` after a `Close`), is forgotten now.
        let done = matches!(entry.get(), Session::Http(http) if http.is_done());
        if done || actions.iter().any(|a| matches!(a, Action::Close(_))) {
            entry.remove();
        }
        actions
    }

    fn decode(&mut self, frame: &RawFrame) -> Result<Decoded, DecodeError> {
        codec::decode(frame, self.settings.max_future_ms)
    }
}

meterhub_plugin_api::export_plugin!(Listener);

#[cfg(test)]
mod tests {
    use meterhub_plugin_api::{Committed, HttpRequest, Role};

    use super::*;

    const NOW: i64 = 1_795_255_200_000;

    fn opened(transport: Transport) -> Event {
        Event::Opened { transport, peer: "192.0.2.1:1".into() }
    }

    fn line(value: u32) -> Vec<u8> {
        format!("{{\"device\":\"d\",\"channel\":\"c\",\"ts\":{NOW},\"value\":{value}}}\n").into_bytes()
    }

    #[test]
    fn sessions_are_independent_and_forgotten_on_close() {
        let mut p = Listener::init("{}").unwrap();
        p.handle(1, NOW, opened(Transport::Tcp));
        p.handle(2, NOW, opened(Transport::Tcp));
        let (a, b) = (line(1), line(2));
        assert!(p.handle(1, NOW, Event::Data(a[..10].to_vec())).is_empty());
        assert!(p.handle(2, NOW, Event::Data(b[..20].to_vec())).is_empty());
        let out = p.handle(2, NOW, Event::Data(b[20..].to_vec()));
        assert!(matches!(&out[..], [Action::Commit(c)] if c.frame.payload == b[..b.len() - 1]));
        let out = p.handle(1, NOW, Event::Data(a[10..].to_vec()));
        assert!(matches!(&out[..], [Action::Commit(c)] if c.frame.payload == a[..a.len() - 1]));
        let out = p.handle(1, NOW, Event::Committed(Committed { token: 1, seq: 9 }));
        assert_eq!(out, vec![Action::Send(b"{\"ok\":true,\"line\":1,\"seq\":9}\n".to_vec())]);
        assert!(p.handle(1, NOW, Event::Closed).is_empty());
        assert!(matches!(&p.handle(1, NOW, Event::Data(a.clone()))[..], [Action::Close(_)]));
        assert_eq!(p.sessions.len(), 1);
    }

    #[test]
    fn a_request_needs_no_opened_and_ends_its_session() {
        let mut p = Listener::init("{}").unwrap();
        let request = HttpRequest { method: "POST".into(), target: "/".into(), headers: vec![], body: b"[]".to_vec() };
        let out = p.handle(5, NOW, Event::Request(request));
        assert!(
            matches!(&out[..], [Action::Respond(r)] if r.status == 200 && r.body == br#"{"ok":true,"accepted":0}"#)
        );
        assert!(p.sessions.is_empty());
        assert!(p.handle(5, NOW, Event::Committed(Committed { token: 0, seq: 1 })).is_empty());
    }

    #[test]
    fn a_session_the_driver_closes_is_forgotten() {
        let mut p = Listener::init("{}").unwrap();
        p.handle(3, NOW, opened(Transport::Tcp));
        let request = HttpRequest { method: "POST".into(), target: "/".into(), headers: vec![], body: vec![] };
        assert!(matches!(&p.handle(3, NOW, Event::Request(request))[..], [Action::Close(_)]));
        assert!(p.sessions.is_empty());
    }

    #[test]
    fn init_refuses_bad_settings_by_name() {
        let e = Listener::init(r#"{"max_line_bytes": -1}"#).unwrap_err();
        assert!(e.starts_with("setting \"max_line_bytes\": "), "{e}");
        assert_eq!(Listener::info().roles, vec![Role::Driver, Role::Codec]);
    }
}
