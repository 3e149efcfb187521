//! A line session, TCP or WebSocket: one reading per line, exactly one
//! answer per line, in input order, each sent only when it is final.
//!
//! - TCP: bytes arrive in arbitrary chunks; a line ends at `\n` (a `\r`
//!   before it is dropped). A line longer than `max_line_bytes` is refused
//!   as soon as the limit is passed and the rest of it, up to its `\n`, is
//!   skipped without buffering. An unterminated last line is never answered.
//! - WebSocket: each message holds whole lines; a last line without `\n`
//!   is complete. Each answer is its own message.
//!
//! A valid line becomes a [`Commit`] (token = line number) and is answered
//! `{"ok":true,"line":N,"seq":S}` once the host reports it committed; an
//! invalid line becomes a `Reject` at once and is answered
//! `{"ok":false,"line":N,"error":"..."}`, but never before the answers of
//! earlier lines. Blank lines (empty or only spaces and tabs) count for the
//! line numbers and get no answer.

use std::collections::BTreeMap;

use meterhub_plugin_api::{Action, Commit, Event, FrameOut, Transport};
use serde::Serialize;

use crate::json;
use crate::reading::{self, CONTENT_TYPE, Clock};

/// How a session's bytes are cut into lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// A byte stream in arbitrary chunks (TCP).
    Stream,
    /// Whole messages of whole lines (WebSocket).
    Messages,
}

/// The state of one line session.
#[derive(Debug)]
pub struct LineSession {
    framing: Framing,
    /// Number of the line being read, from 1.
    line: u64,
    /// The start of an unfinished line (stream only); never more than
    /// `max_line_bytes + 1` bytes.
    partial: Vec<u8>,
    /// The current line was refused as too long; its rest is skipped.
    skipping: bool,
    /// Answers not sent yet, by line number.
    answers: BTreeMap<u64, Answer>,
}

/// The answer to one line.
#[derive(Debug)]
enum Answer {
    /// Committed but not yet on disk.
    Waiting,
    /// Final; sent once every earlier line's answer is sent.
    Ready(Vec<u8>),
}

/// An answer line as JSON.
#[derive(Serialize)]
struct AnswerJson<'a> {
    ok: bool,
    line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

/// What a line session needs to know besides its bytes.
#[derive(Debug, Clone, Copy)]
pub struct LineLimits {
    /// Host clock for the timestamp checks.
    pub clock: Clock,
    /// Longest accepted line.
    pub max_line_bytes: usize,
    /// Check readings before committing them (see the `validate` setting).
    pub validate: bool,
}

impl LineSession {
    /// A new session cutting its input by `framing`.
    pub fn new(framing: Framing) -> Self {
        LineSession { framing, line: 1, partial: Vec::new(), skipping: false, answers: BTreeMap::new() }
    }

    /// Handle one event; returns the actions for the host.
    pub fn handle(&mut self, event: Event, limits: LineLimits) -> Vec<Action> {
        let mut out = Vec::new();
        match event {
            Event::Data(bytes) => match self.framing {
                Framing::Stream => self.stream(&bytes, limits, &mut out),
                Framing::Messages => self.message(&bytes, limits, &mut out),
            },
            Event::Committed(c) => {
                self.settle(c.token, AnswerJson { ok: true, line: c.token, seq: Some(c.seq), error: None })
            }
            Event::CommitFailed(f) => {
                let error = format!("not stored: {}", f.reason);
                self.settle(f.token, AnswerJson { ok: false, line: f.token, seq: None, error: Some(&error) })
            }
            Event::Request(_) | Event::Message(_) => {
                let transport = match self.framing {
                    Framing::Stream => Transport::Tcp,
                    Framing::Messages => Transport::Websocket,
                };
                return vec![Action::Close(format!(
                    "an HTTP request or MQTT message on a {} session",
                    transport.as_str()
                ))];
            }
            Event::Opened { .. } | Event::Timer(_) | Event::Fetched(_) | Event::Commands(_) | Event::Closed => {}
        }
        self.flush(&mut out);
        out
    }

    /// A chunk of a TCP stream.
    fn stream(&mut self, mut data: &[u8], limits: LineLimits, out: &mut Vec<Action>) {
        let max = limits.max_line_bytes;
        while let Some(end) = data.iter().position(|&b| b == b'\n') {
            let head = &data[..end];
            if self.skipping {
                self.skipping = false;
            } else if self.partial.is_empty() {
                self.complete(head, limits, out);
            } else if self.partial.len() + head.len() > max + 1 {
                let partial = std::mem::take(&mut self.partial);
                self.too_long(&partial, head, max, out);
            } else {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(head);
                self.complete(&line, limits, out);
            }
            self.line += 1;
            data = &data[end + 1..];
        }
        if self.skipping || data.is_empty() {
            return;
        }
        // An unfinished line: keep it while it may still fit (a last `\r`
        // does not count, it may be part of the line's end).
        let len = self.partial.len() + data.len();
        let content = if data.ends_with(b"\r") { len - 1 } else { len };
        if content > max {
            let partial = std::mem::take(&mut self.partial);
            self.too_long(&partial, data, max, out);
            self.skipping = true;
        } else {
            self.partial.extend_from_slice(data);
        }
    }

    /// One WebSocket message.
    fn message(&mut self, mut data: &[u8], limits: LineLimits, out: &mut Vec<Action>) {
        while !data.is_empty() {
            let end = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
            self.complete(&data[..end], limits, out);
            self.line += 1;
            data = data.get(end + 1..).unwrap_or_default();
        }
    }

    /// A whole line (without its `\n`) of the current line number.
    fn complete(&mut self, line: &[u8], limits: LineLimits, out: &mut Vec<Action>) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(|&b| b == b' ' || b == b'\t') {
            return;
        }
        if line.len() > limits.max_line_bytes {
            return self.too_long(line, &[], limits.max_line_bytes, out);
        }
        let checked = if limits.validate { reading::parse(line, limits.clock).map(drop) } else { Ok(()) };
        match checked {
            Ok(()) => {
                out.push(Action::Commit(Commit {
                    token: self.line,
                    frame: FrameOut { content_type: CONTENT_TYPE.to_owned(), meta: Vec::new(), payload: line.to_vec() },
                }));
                self.answers.insert(self.line, Answer::Waiting);
            }
            Err(e) => self.refuse(&e.to_string(), line.to_vec(), out),
        }
    }

    /// Refuse the current line as longer than `max`; `a` and `b` are its
    /// start as far as it was read, of which the first `max` bytes are kept.
    fn too_long(&mut self, a: &[u8], b: &[u8], max: usize, out: &mut Vec<Action>) {
        let mut input = a[..a.len().min(max)].to_vec();
        input.extend_from_slice(&b[..b.len().min(max - input.len())]);
        self.refuse(&format!("longer than {max} bytes"), input, out);
    }

    /// Refuse the current line: reject it now, answer it in turn.
    fn refuse(&mut self, error: &str, input: Vec<u8>, out: &mut Vec<Action>) {
        out.push(Action::Reject { reason: format!("line {}: {error}", self.line), input });
        let answer = AnswerJson { ok: false, line: self.line, seq: None, error: Some(error) };
        self.answers.insert(self.line, Answer::Ready(json::to_bytes(&answer)));
    }

    /// Make the answer of line `token` final, if it was waiting for its commit.
    fn settle(&mut self, token: u64, answer: AnswerJson<'_>) {
        if let Some(slot @ Answer::Waiting) = self.answers.get_mut(&token) {
            *slot = Answer::Ready(json::to_bytes(&answer));
        }
    }

    /// Send every final answer not preceded by a waiting one.
    fn flush(&mut self, out: &mut Vec<Action>) {
        let mut batch = Vec::new();
        while let Some(first) = self.answers.first_entry() {
            let Answer::Ready(_) = first.get() else { break };
            let Answer::Ready(answer) = first.remove() else { break };
            match self.framing {
                Framing::Stream => {
                    batch.extend_from_slice(&answer);
                    batch.push(b'\n');
                }
                Framing::Messages => out.push(Action::Send(answer)),
            }
        }
        if !batch.is_empty() {
            out.push(Action::Send(batch));
        }
    }
}
