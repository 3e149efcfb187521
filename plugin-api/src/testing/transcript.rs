//! Events and actions as JSON, the form fixture transcripts are written
//! in (`<name>.out.json`): one object per event or action, named after it
//! in snake case, bytes as text ([`super::bytes::text`]).

use serde_json::{Value, json};

use super::bytes::text;
use crate::driver::{Action, Event};

/// `event` as JSON: `{"opened": {"transport", "peer"}}`, `{"data": text}`,
/// `{"request": {"method", "target", "headers", "body"}}`, `{"message":
/// {"topic", "payload"}}`,
/// `{"committed": {"token", "seq"}}`, `{"commit_failed": {"token",
/// "reason"}}`, `{"fetched": {"id", "status", "content_type", "body"}}`
/// (or `{"fetched": {"id", "error"}}`), `{"commands": [{"id", "name",
/// "args"}]}` (the arguments as JSON), `{"timer": id}`, `"closed"`.
pub fn render_event(event: &Event) -> Value {
    match event {
        Event::Opened { transport, peer } => json!({ "opened": { "transport": transport.as_str(), "peer": peer } }),
        Event::Data(bytes) => json!({ "data": text(bytes) }),
        Event::Request(r) => json!({ "request": {
            "method": r.method, "target": r.target, "headers": r.headers, "body": text(&r.body) } }),
        Event::Message(m) => json!({ "message": { "topic": m.topic, "payload": text(&m.payload) } }),
        Event::Committed(c) => json!({ "committed": { "token": c.token, "seq": c.seq } }),
        Event::CommitFailed(f) => json!({ "commit_failed": { "token": f.token, "reason": f.reason } }),
        Event::Fetched(f) => match &f.response {
            Ok(r) => json!({ "fetched": {
                "id": f.id, "status": r.status, "content_type": r.content_type, "body": text(&r.body) } }),
            Err(e) => json!({ "fetched": { "id": f.id, "error": e } }),
        },
        Event::Commands(commands) => json!({ "commands": commands
            .iter()
            .map(|c| json!({ "id": c.id, "name": c.name, "args": json_or_text(&c.args) }))
            .collect::<Vec<_>>() }),
        Event::Timer(id) => json!({ "timer": id }),
        Event::Closed => json!("closed"),
    }
}

/// `action` as JSON: `{"send": text}`, `{"respond": {"status",
/// "content_type", "body"}}` (a JSON body as JSON, any other as text),
/// `{"commit": {"token", "content_type", "meta", "payload"}}`,
/// `{"reject": {"reason", "input"}}`, `{"fetch": {"id", "method",
/// "target", "headers", "body"}}`, `{"set_timer": {"id", "after_ms"}}`,
/// `{"identify": device}`, `{"command_done": {"id", "answer"}}` (or
/// `{"command_done": {"id", "error"}}`), `{"close": reason}`.
pub fn render_action(action: &Action) -> Value {
    match action {
        Action::Send(bytes) => json!({ "send": text(bytes) }),
        Action::Respond(r) => json!({ "respond": {
            "status": r.status,
            "content_type": r.content_type,
            "body": serde_json::from_slice::<Value>(&r.body).unwrap_or_else(|_| Value::String(text(&r.body))),
        } }),
        Action::Commit(c) => json!({ "commit": {
            "token": c.token, "content_type": c.frame.content_type, "meta": c.frame.meta, "payload": text(&c.frame.payload) } }),
        Action::Reject { reason, input } => json!({ "reject": { "reason": reason, "input": text(input) } }),
        Action::Fetch(f) => json!({ "fetch": {
            "id": f.id, "method": f.request.method, "target": f.request.target,
            "headers": f.request.headers, "body": text(&f.request.body) } }),
        Action::SetTimer { id, after_ms } => json!({ "set_timer": { "id": id, "after_ms": after_ms } }),
        Action::Identify(device) => json!({ "identify": device }),
        Action::CommandDone(done) => match &done.outcome {
            Ok(answer) => json!({ "command_done": { "id": done.id, "answer": answer } }),
            Err(e) => json!({ "command_done": { "id": done.id, "error": e } }),
        },
        Action::Close(reason) => json!({ "close": reason }),
    }
}

/// `text` as JSON when it is JSON, else as a string.
fn json_or_text(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::{Commit, CommitFailed, Committed, Fetch, Fetched, FrameOut, HttpRequest, HttpResponse};
    use crate::model::Transport;

    #[test]
    fn every_event_and_action_has_its_form() {
        let events = [
            Event::Opened { transport: Transport::Tcp, peer: "p".into() },
            Event::Data(b"a\xff".to_vec()),
            Event::Request(HttpRequest {
                method: "POST".into(),
                target: "/".into(),
                headers: vec![("h".into(), "v".into())],
                body: b"b".to_vec(),
            }),
            Event::Committed(Committed { token: 1, seq: 2 }),
            Event::CommitFailed(CommitFailed { token: 3, reason: "r".into() }),
            Event::Fetched(Fetched {
                id: 8,
                response: Ok(HttpResponse { status: 200, content_type: "t".into(), body: b"f".to_vec() }),
            }),
            Event::Fetched(Fetched { id: 9, response: Err("down".into()) }),
            Event::Timer(4),
            Event::Closed,
        ];
        let shown: Vec<Value> = events.iter().map(render_event).collect();
        assert_eq!(
            Value::Array(shown),
            json!([
                {"opened": {"transport": "tcp", "peer": "p"}},
                {"data": "a\\xFF"},
                {"request": {"method": "POST", "target": "/", "headers": [["h", "v"]], "body": "b"}},
                {"committed": {"token": 1, "seq": 2}},
                {"commit_failed": {"token": 3, "reason": "r"}},
                {"fetched": {"id": 8, "status": 200, "content_type": "t", "body": "f"}},
                {"fetched": {"id": 9, "error": "down"}},
                {"timer": 4},
                "closed"
            ])
        );
        let frame = FrameOut { content_type: "c".into(), meta: vec![("k".into(), "v".into())], payload: b"x".to_vec() };
        let actions = [
            Action::Send(b"s".to_vec()),
            Action::Respond(HttpResponse { status: 200, content_type: "j".into(), body: br#"{"ok":true}"#.to_vec() }),
            Action::Respond(HttpResponse { status: 400, content_type: "t".into(), body: b"no".to_vec() }),
            Action::Commit(Commit { token: 5, frame }),
            Action::Reject { reason: "why".into(), input: b"in".to_vec() },
            Action::Fetch(Fetch {
                id: 8,
                request: HttpRequest { method: "GET".into(), target: "/q".into(), headers: vec![], body: vec![] },
            }),
            Action::SetTimer { id: 6, after_ms: 7 },
            Action::Close("bye".into()),
        ];
        let shown: Vec<Value> = actions.iter().map(render_action).collect();
        assert_eq!(
            Value::Array(shown),
            json!([
                {"send": "s"},
                {"respond": {"status": 200, "content_type": "j", "body": {"ok": true}}},
                {"respond": {"status": 400, "content_type": "t", "body": "no"}},
                {"commit": {"token": 5, "content_type": "c", "meta": [["k", "v"]], "payload": "x"}},
                {"reject": {"reason": "why", "input": "in"}},
                {"fetch": {"id": 8, "method": "GET", "target": "/q", "headers": [], "body": ""}},
                {"set_timer": {"id": 6, "after_ms": 7}},
                {"close": "bye"}
            ])
        );
    }
}
