//! An HTTP session: one POST request whose body is a JSON array of reading
//! objects (or one reading object), all or nothing.
//!
//! - Not POST: `Reject`, 405.
//! - Invalid JSON, not an array or object, or any invalid element: one
//!   `Reject` for the whole request, 400 naming the element and field (or
//!   the line and column of a syntax error). Nothing is committed.
//! - Otherwise one `Commit` (token 0) of the whole body as one frame: an
//!   array as [`BATCH_CONTENT_TYPE`], one object as [`CONTENT_TYPE`], its
//!   JSON text trimmed. Once it has answered, 200
//!   `{"ok":true,"accepted":N,"seq":S}` or, if it failed, 503
//!   `{"ok":false,"error":"not stored: ..."}` (the client resends the whole
//!   batch; stored repeats are dropped as duplicates downstream).
//!
//! One frame per request, not one per element: the journal, the archive's
//! raw frames and the codec then work per request, which is what makes a
//! device's batching pay off (issue 14's batched ingest).

use meterhub_plugin_api::{Action, Commit, Event, FrameOut, HttpRequest, HttpResponse};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::json::{self, Type, snippet};
use crate::reading::{self, BATCH_CONTENT_TYPE, CONTENT_TYPE, Clock};

/// Content type of every response.
const RESPONSE_TYPE: &str = "application/json";

/// The state of one HTTP session.
#[derive(Debug, Default)]
pub enum HttpSession {
    /// No request yet.
    #[default]
    Idle,
    /// The request's frame committed, waiting for the host's answer.
    Committing {
        /// Readings in the frame.
        readings: usize,
    },
    /// The response was returned.
    Done,
}

/// A success body.
#[derive(Serialize)]
struct AcceptedJson {
    ok: bool,
    accepted: usize,
    /// The frame's journal sequence number (none for an empty array).
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
}

/// An error body.
#[derive(Serialize, Default)]
struct ErrorJson<'a> {
    ok: bool,
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    element: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    column: Option<usize>,
}

fn respond(status: u16, body: Vec<u8>) -> Action {
    Action::Respond(HttpResponse { status, content_type: RESPONSE_TYPE.to_owned(), body })
}

impl HttpSession {
    /// The response has been returned; the session has nothing left to do.
    pub fn is_done(&self) -> bool {
        matches!(self, HttpSession::Done)
    }

    /// Handle one event; returns the actions for the host.
    pub fn handle(&mut self, event: Event, clock: Clock, validate: bool) -> Vec<Action> {
        match event {
            Event::Request(request) => match self {
                HttpSession::Idle => self.request(request, clock, validate),
                _ => vec![Action::Close("a second request on an HTTP session".to_owned())],
            },
            // An MQTT message: its payload is read as a POST body; the host
            // acknowledges it to the broker once committed (or refused) and
            // has no use for the response.
            Event::Message(message) => match self {
                HttpSession::Idle => {
                    let request = HttpRequest {
                        method: "POST".to_owned(),
                        target: message.topic,
                        headers: Vec::new(),
                        body: message.payload,
                    };
                    self.request(request, clock, validate)
                }
                _ => vec![Action::Close("a second message on an MQTT session".to_owned())],
            },
            Event::Committed(c) => self.settle(c.token, Ok(c.seq)),
            Event::CommitFailed(f) => self.settle(f.token, Err(f.reason)),
            Event::Data(_) => vec![Action::Close("stream data on an HTTP session".to_owned())],
            Event::Opened { .. } | Event::Timer(_) | Event::Fetched(_) | Event::Commands(_) | Event::Closed => {
                Vec::new()
            }
        }
    }

    fn request(&mut self, request: HttpRequest, clock: Clock, validate: bool) -> Vec<Action> {
        *self = HttpSession::Done;
        if request.method != "POST" {
            let error = format!("method {} not allowed; send readings with POST", snippet(&request.method));
            return refuse(405, &error, ErrorJson::default(), request.body);
        }
        // A batch of reading objects is read in one pass; anything else
        // (one object, or an error to name) as a value first.
        let (checks, content_type, text) = match reading::batch(&request.body, clock) {
            Some(readings) => {
                let checks: Vec<_> = readings.into_iter().map(|reading| reading.map(drop)).collect();
                (checks, BATCH_CONTENT_TYPE, std::str::from_utf8(&request.body).unwrap_or_default())
            }
            None => {
                let raw = match json::parse(&request.body) {
                    Ok(raw) => raw,
                    Err(e) => {
                        let error = e.to_string();
                        let detail = ErrorJson { line: Some(e.line), column: Some(e.column), ..ErrorJson::default() };
                        return refuse(400, &error, detail, request.body);
                    }
                };
                let (elements, content_type) = match Type::of(raw) {
                    Type::Object => (vec![raw], CONTENT_TYPE),
                    Type::Array => match serde_json::from_str::<Vec<&RawValue>>(raw.get()) {
                        Ok(elements) => (elements, BATCH_CONTENT_TYPE),
                        Err(e) => {
                            return refuse(400, &format!("unreadable array: {e}"), ErrorJson::default(), request.body);
                        }
                    },
                    _ => {
                        let error = format!(
                            "expected an array of reading objects or one reading object, got {}",
                            snippet(raw.get())
                        );
                        return refuse(400, &error, ErrorJson::default(), request.body);
                    }
                };
                let check =
                    |element: &&RawValue| if validate { reading::from_raw(element, clock).map(drop) } else { Ok(()) };
                (elements.iter().map(check).collect(), content_type, raw.get())
            }
        };
        let refused = checks
            .iter()
            .enumerate()
            .filter(|_| validate)
            .find_map(|(index, check)| Some((index, check.as_ref().err()?)));
        if let Some((index, e)) = refused {
            let error = format!("element {index}: {e}");
            let detail = ErrorJson { element: Some(index), field: e.field(), ..ErrorJson::default() };
            return refuse(400, &error, detail, request.body);
        }
        if checks.is_empty() {
            return vec![respond(200, json::to_bytes(&AcceptedJson { ok: true, accepted: 0, seq: None }))];
        }
        *self = HttpSession::Committing { readings: checks.len() };
        vec![Action::Commit(Commit {
            token: 0,
            frame: FrameOut {
                content_type: content_type.to_owned(),
                meta: Vec::new(),
                payload: text.trim().as_bytes().to_vec(),
            },
        })]
    }

    /// The host's answer for the request's frame: respond.
    fn settle(&mut self, token: u64, outcome: Result<u64, String>) -> Vec<Action> {
        let HttpSession::Committing { readings } = *self else { return Vec::new() };
        if token != 0 {
            return Vec::new();
        }
        *self = HttpSession::Done;
        let response = match outcome {
            Ok(seq) => respond(200, json::to_bytes(&AcceptedJson { ok: true, accepted: readings, seq: Some(seq) })),
            Err(reason) => {
                let error = format!("not stored: {reason}");
                respond(503, json::to_bytes(&ErrorJson { error: &error, ..ErrorJson::default() }))
            }
        };
        vec![response]
    }
}

/// Refuse the whole request: record it as rejected and answer `status`.
fn refuse(status: u16, error: &str, detail: ErrorJson<'_>, body: Vec<u8>) -> Vec<Action> {
    let response = json::to_bytes(&ErrorJson { ok: false, error, ..detail });
    vec![Action::Reject { reason: error.to_owned(), input: body }, respond(status, response)]
}
