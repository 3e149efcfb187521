//! `/api/v1/alarms` and `/api/v1/events` (`docs/api.md`, "Alarms and
//! events"): what a user may see of them, and a dispatcher's
//! acknowledgement.
//!
//! - `GET /api/v1/alarms`: the open alarms (active or not yet
//!   acknowledged), newest first, with counts; `?all=true` lists every kept
//!   alarm instead, `?before=<id>&limit=` pages it; `?severity=`,
//!   `?meter=` filter;
//! - `GET /api/v1/alarms/{id}`;
//! - `POST /api/v1/alarms/{id}/ack` `{"comment"?}`: acknowledged by the
//!   user (a dispatcher or up);
//! - `GET /api/v1/events?kind=&before=&limit=&meter=`: the event log.

use std::collections::HashMap;

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::{Value, json};

use super::state::ApiState;
use crate::alarms::{AckError, AckRefused, Alarm, Event, EventKind, view};
use crate::auth::Principal;
use meterhub_http::HttpResponse;

/// Listed unless the request says.
const DEFAULT_LIMIT: usize = 200;
/// The most one request lists.
const MAX_LIMIT: usize = 5000;
/// The longest comment kept with an acknowledgement, characters.
const MAX_COMMENT: usize = 1000;

/// The endpoints of this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlarmsEndpoint {
    /// `GET /api/v1/alarms`.
    List,
    /// `GET /api/v1/alarms/{id}`.
    One,
    /// `POST /api/v1/alarms/{id}/ack`.
    Ack,
    /// `GET /api/v1/events`.
    Events,
}

/// An answer refusing a request (boxed: a response is large).
type Refused = Box<HttpResponse>;

fn bad(code: &str, message: String) -> Refused {
    Box::new(meterhub_http::coded_error(StatusCode::BAD_REQUEST, code, &message))
}

fn store_failed(e: &dyn std::fmt::Display) -> Refused {
    tracing::error!(error = %e, "alarm database");
    Box::new(meterhub_http::coded_error(StatusCode::INTERNAL_SERVER_ERROR, "store_failed", &e.to_string()))
}

fn limit(params: &HashMap<String, String>) -> Result<usize, Refused> {
    match params.get("limit").map(|l| l.parse::<usize>()) {
        None => Ok(DEFAULT_LIMIT),
        Some(Ok(l)) if (1..=MAX_LIMIT).contains(&l) => Ok(l),
        Some(_) => Err(bad("bad_limit", format!("limit: expected 1 to {MAX_LIMIT}"))),
    }
}

fn before(params: &HashMap<String, String>) -> Result<Option<u64>, Refused> {
    params
        .get("before")
        .map(|b| b.parse::<u64>().map_err(|_| bad("bad_before", format!("before: {b:?} is not a number"))))
        .transpose()
}

/// Serve `endpoint` for `principal`; `segments` are the path's.
pub async fn handle(
    state: &ApiState,
    req: Request<Incoming>,
    endpoint: AlarmsEndpoint,
    segments: &[&str],
    params: &HashMap<String, String>,
    principal: Principal,
) -> HttpResponse {
    let id = segments.get(3).map(|id| id.parse::<u64>());
    match (endpoint, id) {
        (AlarmsEndpoint::One | AlarmsEndpoint::Ack, Some(Err(_)) | None) => {
            *bad("bad_alarm_id", format!("alarm id {:?} is not a number", segments.get(3).unwrap_or(&"")))
        }
        (AlarmsEndpoint::List, _) => list(state, params, &principal).unwrap_or_else(|r| *r),
        (AlarmsEndpoint::Events, _) => events(state, params, &principal).unwrap_or_else(|r| *r),
        (AlarmsEndpoint::One, Some(Ok(id))) => match state.alarms.get_for(id, &principal) {
            Ok(Some(alarm)) => meterhub_http::json(StatusCode::OK, &view(&alarm)),
            Ok(None) => not_found(id),
            Err(e) => *store_failed(&e),
        },
        (AlarmsEndpoint::Ack, Some(Ok(id))) => {
            // The command line's local token says who it acts for; a
            // logged-in user is who they are.
            let mut principal = principal;
            if principal.credential == crate::auth::Credential::LocalToken
                && let Some(actor) = super::accounting::actor(&req)
            {
                principal.user = actor;
            }
            let body = match meterhub_http::api_body(req).await {
                Ok(bytes) => bytes,
                Err(response) => return response,
            };
            let comment = match comment(&body) {
                Ok(comment) => comment,
                Err(response) => return *response,
            };
            let acknowledged = tokio::task::block_in_place(|| state.alarms.acknowledge(id, &principal, &comment));
            match acknowledged {
                Ok(alarm) => {
                    tracing::info!(alarm = alarm.id, by = %principal.user, "alarm acknowledged");
                    meterhub_http::json(StatusCode::OK, &view(&alarm))
                }
                Err(AckError::Refused(AckRefused::NotOpen(id))) => match state.alarms.get_for(id, &principal) {
                    Ok(Some(_)) => meterhub_http::coded_error(
                        StatusCode::CONFLICT,
                        "alarm_closed",
                        &format!("alarm {id} is closed: it ended and was acknowledged"),
                    ),
                    _ => not_found(id),
                },
                Err(AckError::Refused(AckRefused::Already(ack))) => meterhub_http::coded_error(
                    StatusCode::CONFLICT,
                    "alarm_acknowledged",
                    &format!("alarm {id} was acknowledged already, by {}", ack.by),
                ),
                Err(AckError::Store(e)) => *store_failed(&e),
            }
        }
    }
}

fn not_found(id: u64) -> HttpResponse {
    meterhub_http::coded_error(StatusCode::NOT_FOUND, "alarm_not_found", &format!("no alarm {id}"))
}

/// The comment of an acknowledgement: `{"comment": "..."}`, or an empty
/// body for none.
fn comment(body: &[u8]) -> Result<String, Refused> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(String::new());
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| bad("bad_body", format!("body: expected a JSON object such as {{\"comment\": \"...\"}}: {e}")))?;
    let Some(object) = value.as_object() else {
        return Err(bad("bad_body", "body: expected a JSON object".into()));
    };
    if let Some(unknown) = object.keys().find(|k| k.as_str() != "comment") {
        return Err(bad("bad_body", format!("{unknown}: not a field of an acknowledgement (fields: comment)")));
    }
    match object.get("comment") {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) if s.chars().count() <= MAX_COMMENT => Ok(s.trim().to_owned()),
        Some(Value::String(_)) => Err(bad("comment_too_long", format!("comment: at most {MAX_COMMENT} characters"))),
        Some(_) => Err(bad("bad_body", "comment: expected a string".into())),
    }
}

fn list(state: &ApiState, params: &HashMap<String, String>, principal: &Principal) -> Result<HttpResponse, Refused> {
    let limit = limit(params)?;
    let before = before(params)?;
    let severity = params.get("severity").cloned();
    if let Some(s) = &severity
        && crate::config::alarms::Severity::parse(s).is_none()
    {
        return Err(bad("bad_severity", format!("severity: {s:?} is not one of critical, warning, info")));
    }
    let meter = params.get("meter").cloned();
    let keep = |a: &Alarm| {
        severity.as_ref().is_none_or(|s| a.severity == *s) && meter.as_ref().is_none_or(|m| a.meters.contains(m))
    };
    let all = match params.get("all").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => return Err(bad("bad_all", format!("all: {other:?} is not true or false"))),
    };
    let alarms: Vec<Alarm> = if all {
        tokio::task::block_in_place(|| state.alarms.history_for(principal, before, limit, keep))
            .map_err(|e| store_failed(&e))?
    } else {
        state
            .alarms
            .open_for(principal)
            .into_iter()
            .filter(|a| before.is_none_or(|b| a.id < b) && keep(a))
            .take(limit)
            .collect()
    };
    let counts = state.alarms.counts_for(principal);
    Ok(meterhub_http::json(
        StatusCode::OK,
        &json!({ "alarms": alarms.iter().map(view).collect::<Vec<_>>(), "counts": counts }),
    ))
}

fn events(state: &ApiState, params: &HashMap<String, String>, principal: &Principal) -> Result<HttpResponse, Refused> {
    let limit = limit(params)?;
    let before = before(params)?;
    let kinds: Option<Vec<EventKind>> = match params.get("kind") {
        None => None,
        Some(list) => Some(
            list.split(',')
                .map(|k| {
                    EventKind::parse(k.trim()).ok_or_else(|| {
                        bad("bad_kind", format!("kind: {k:?} is not one of alarm, login, config, plugin"))
                    })
                })
                .collect::<Result<_, _>>()?,
        ),
    };
    let meter = params.get("meter").cloned();
    let keep = |e: &Event| {
        kinds.as_ref().is_none_or(|k| k.contains(&e.kind)) && meter.as_ref().is_none_or(|m| e.meters.contains(m))
    };
    let found = tokio::task::block_in_place(|| state.alarms.events_for(principal, before, limit, keep))
        .map_err(|e| store_failed(&e))?;
    Ok(meterhub_http::json(StatusCode::OK, &json!({ "events": found })))
}
