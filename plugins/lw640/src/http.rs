//! What an HTTP session answers: its request's response, sent only once
//! the host has said what became of the request's frame, so that the
//! server's retry logic works.
//!
//! - A refused request: at once its status (400, 401 or 405) with
//!   `{"ok":false,"error":..., "field":..., "line":..., "column":...}`,
//!   after the `Reject` (the reason names what and where).
//! - A stored frame: 200 `{"ok":true,"seq":N}`.
//! - A failed commit: 503 `{"ok":false,"error":"not stored: ..."}`.

use meterhub_plugin_api::{Action, HttpResponse};
use serde::Serialize;

use crate::error::Refusal;

/// Content type of every response.
const RESPONSE_TYPE: &str = "application/json";

/// A success body.
#[derive(Serialize)]
struct Stored {
    ok: bool,
    seq: u64,
}

/// An error body.
#[derive(Serialize)]
struct Failed<'a> {
    ok: bool,
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    column: Option<usize>,
}

fn respond<T: Serialize>(status: u16, body: &T) -> Action {
    // Serializing these plain structs cannot fail; an empty body would be
    // the answer if it ever did, not a panic.
    let body = serde_json::to_vec(body).unwrap_or_default();
    Action::Respond(HttpResponse { status, content_type: RESPONSE_TYPE.to_owned(), body })
}

/// The request's frame is stored as `seq`.
pub fn stored(seq: u64) -> Vec<Action> {
    vec![respond(200, &Stored { ok: true, seq })]
}

/// It is not, for `reason`.
pub fn not_stored(reason: &str) -> Vec<Action> {
    let error = format!("not stored: {reason}");
    vec![respond(503, &Failed { ok: false, error: &error, field: None, line: None, column: None })]
}

/// The request is refused: record it as rejected and answer its status.
pub fn refused(refusal: &Refusal, body: Vec<u8>) -> Vec<Action> {
    let error = refusal.to_string();
    let at = refusal.position();
    let answer = Failed {
        ok: false,
        error: &error,
        field: refusal.field(),
        line: at.map(|p| p.line),
        column: at.map(|p| p.column),
    };
    vec![Action::Reject { reason: error.clone(), input: body }, respond(refusal.status(), &answer)]
}
