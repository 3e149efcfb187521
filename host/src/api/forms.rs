//! `/api/v1/forms` and `/api/v1/notes` (`docs/api.md`, "Saved forms"):
//!
//! - `GET /api/v1/forms?lang=`: every form, titled in the language;
//! - `GET /api/v1/forms/{id}?lang=`: a form with the user's (or the shared)
//!   values: its fields, and its HTML rendered with them, every value
//!   escaped;
//! - `POST /api/v1/forms/{id}` `{"values": {...}}`: checked against the
//!   fields' types (422 with a problem per field), the references against
//!   what the user may see, then kept; a manual-reading form also enters
//!   its reading (answered once the journal holds it), an inspection-note
//!   form adds its note;
//! - `GET /api/v1/notes?subject=&limit=`: inspection notes the user may
//!   see, newest first.
//!
//! A user keeps their own values; a shared form's values, a reading and a
//! note are a dispatcher's to write.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use meterhub_forms::{Action, FieldProblem, Kind, Problem, RefKind, Scope, Template, Values};
use serde_json::{Value, json};

use super::state::ApiState;
use super::visibility::Visibility;
use crate::accounting::MeterRecord;
use crate::auth::{Principal, Role};
use crate::forms::manual::Entered;
use crate::forms::{Form, Note, Owner, Saved};
use meterhub_http::HttpResponse;
use meterhub_storage::journal::Entry;

/// Notes listed unless the request says.
const DEFAULT_NOTES: usize = 100;
/// The most notes one request lists.
const MAX_NOTES: usize = 2000;

/// The endpoints of this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormsEndpoint {
    /// `GET /api/v1/forms`.
    List,
    /// `GET /api/v1/forms/{id}`.
    One,
    /// `POST /api/v1/forms/{id}`.
    Submit,
    /// `GET /api/v1/notes`.
    Notes,
}

/// An answer refusing a request (boxed: a response is large).
type Refused = Box<HttpResponse>;

fn refused(status: StatusCode, code: &str, message: &str) -> Refused {
    Box::new(meterhub_http::coded_error(status, code, message))
}

fn store_failed(e: &dyn std::fmt::Display) -> Refused {
    tracing::error!(error = %e, "forms database");
    refused(StatusCode::INTERNAL_SERVER_ERROR, "store_failed", &e.to_string())
}

/// The language a request asks for: `en`, else the default version.
fn lang(params: &HashMap<String, String>) -> &str {
    match params.get("lang").map(String::as_str) {
        Some("en") => "en",
        _ => "",
    }
}

/// Serve `endpoint` for `principal`; `segments` are the path's.
pub async fn handle(
    state: &ApiState,
    req: Request<Incoming>,
    endpoint: FormsEndpoint,
    segments: &[&str],
    params: &HashMap<String, String>,
    principal: Principal,
) -> HttpResponse {
    let id = segments.get(3).and_then(|id| meterhub_http::query::percent_decode(id)).unwrap_or_default();
    let lang = lang(params);
    let answer = match endpoint {
        FormsEndpoint::List => Ok(list(state, &principal, lang)),
        FormsEndpoint::One => tokio::task::block_in_place(|| one(state, &principal, &id, lang)),
        FormsEndpoint::Submit => submit(state, req, principal, &id, lang).await,
        FormsEndpoint::Notes => tokio::task::block_in_place(|| notes(state, &principal, params)),
    };
    answer.unwrap_or_else(|r| *r)
}

/// Whether `principal` may submit `template`: their own values always; a
/// shared form's values, a reading or a note from a dispatcher up.
fn may_submit(principal: &Principal, template: &Template) -> bool {
    match (template.action, template.scope) {
        (Action::Save, Scope::User) => true,
        _ => principal.role >= Role::Dispatcher,
    }
}

fn owner<'a>(scope: Scope, principal: &'a Principal) -> Owner<'a> {
    match scope {
        Scope::User => Owner::User(&principal.user),
        Scope::Shared => Owner::Shared,
    }
}

fn list(state: &ApiState, principal: &Principal, lang: &str) -> HttpResponse {
    let dir = state.view().forms_dir.clone();
    let forms: Vec<Value> = state
        .forms
        .catalog
        .forms(&dir)
        .values()
        .filter_map(|form| {
            let template = form.template(lang)?;
            let mut status = serde_json::to_value(form.status(lang)?).ok()?;
            status["may_submit"] = json!(may_submit(principal, template));
            Some(status)
        })
        .collect();
    meterhub_http::json(StatusCode::OK, &json!({ "forms": forms, "folder": dir.display().to_string() }))
}

/// Form `id` and its version for `lang`, or 404.
fn find(state: &ApiState, id: &str, lang: &str) -> Result<(Form, std::sync::Arc<Template>), Refused> {
    let dir = state.view().forms_dir.clone();
    let form = state.forms.catalog.form(&dir, id).ok_or_else(|| {
        refused(StatusCode::NOT_FOUND, "no_form", &format!("no form {id:?} (GET /api/v1/forms lists them)"))
    })?;
    let template = form.template(lang).cloned().ok_or_else(|| {
        let why = form.errors.join("; ");
        refused(StatusCode::NOT_FOUND, "form_unreadable", &format!("form {id:?} does not read: {why}"))
    })?;
    Ok((form, template))
}

fn one(state: &ApiState, principal: &Principal, id: &str, lang: &str) -> Result<HttpResponse, Refused> {
    let (form, template) = find(state, id, lang)?;
    let saved = state.forms.store.values(&owner(template.scope, principal), id).map_err(|e| store_failed(&e))?;
    let built_ins = BTreeMap::from([
        ("user", principal.user.clone()),
        ("saved_by", saved.as_ref().map(|s| s.saved_by.clone()).unwrap_or_default()),
        ("saved_at", saved.as_ref().map(|s| saved_at(s.saved_at_ms, lang)).unwrap_or_default()),
    ]);
    let empty = Values::new();
    let values = saved.as_ref().map_or(&empty, |s| &s.values);
    let html = meterhub_forms::render(&template, values, &built_ins);
    let mut answer = serde_json::to_value(form.status(lang)).unwrap_or_default();
    answer["fields"] = json!(template.fields);
    answer["html"] = json!(html);
    answer["values"] = json!(saved.as_ref().map(|s| &s.values));
    answer["saved_at_ms"] = json!(saved.as_ref().map(|s| s.saved_at_ms));
    answer["saved_by"] = json!(saved.as_ref().map(|s| &s.saved_by));
    answer["may_submit"] = json!(may_submit(principal, &template));
    Ok(meterhub_http::json(StatusCode::OK, &answer))
}

/// When values were saved, as a placeholder shows it: the host's UTC time
/// in the language's format.
fn saved_at(ms: i64, lang: &str) -> String {
    let Ok(at) = jiff::Timestamp::from_millisecond(ms) else { return String::new() };
    let format = if lang == "en" { "%Y-%m-%d %H:%M UTC" } else { "%d.%m.%Y %H:%M UTC" };
    at.strftime(format).to_string()
}

fn unprocessable(problems: Vec<FieldProblem>) -> Refused {
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    let message = format!("the form's values are refused: {}", fields.join(", "));
    Box::new(meterhub_http::json(
        StatusCode::UNPROCESSABLE_ENTITY,
        &json!({ "error": message, "code": "invalid_values", "problems": problems }),
    ))
}

/// The submitted values: `{"values": {"name": "text" | number | bool}}`.
fn submitted(body: &[u8]) -> Result<BTreeMap<String, String>, Refused> {
    let bad = |message: String| refused(StatusCode::BAD_REQUEST, "bad_body", &message);
    let body: Value = serde_json::from_slice(body).map_err(|e| bad(format!("body: expected a JSON object: {e}")))?;
    let Some(values) = body.get("values").and_then(Value::as_object) else {
        return Err(bad("body: expected {\"values\": {\"<field>\": \"<value>\", ...}}".into()));
    };
    values
        .iter()
        .map(|(name, value)| {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Null => String::new(),
                other => return Err(bad(format!("values.{name}: expected text or a number, got {other}"))),
            };
            Ok((name.clone(), text))
        })
        .collect()
}

async fn submit(
    state: &ApiState,
    req: Request<Incoming>,
    principal: Principal,
    id: &str,
    lang: &str,
) -> Result<HttpResponse, Refused> {
    let (_, template) = tokio::task::block_in_place(|| find(state, id, lang))?;
    if !may_submit(&principal, &template) {
        return Err(refused(
            StatusCode::FORBIDDEN,
            "forbidden",
            &format!("form {id:?} is a dispatcher's to submit; you are a {}", principal.role.as_str()),
        ));
    }
    let body = meterhub_http::api_body(req).await.map_err(Box::new)?;
    let values = meterhub_forms::check(&template, &submitted(&body)?).map_err(unprocessable)?;
    let seen = Visibility::for_principal(Some(principal.clone()));
    let subject = tokio::task::block_in_place(|| check_references(state, &seen, &template, &values))?;
    let now_ms = meterhub_storage::clock::now_ms();
    let mut answer = json!({});
    match template.action {
        Action::Save => {}
        Action::ManualReading => {
            let Some(Subject::Meter(meter)) = subject else {
                return Err(unprocessable(vec![problem("meter", "no-meter", "the form names no meter".into())]));
            };
            let latest_ms = now_ms + state.archive.device_clock_tolerance_ms();
            let default_zone = state.accounting.default_zone.clone();
            let entered = Entered::from_form(&values, &meter, &default_zone, latest_ms, (&principal.user, id))
                .map_err(unprocessable)?;
            let receipt = state.forms.journal.append(Entry::Frame(entered.frame(now_ms))).await.map_err(|e| {
                tracing::error!(error = %e, form = id, "cannot store a manual reading");
                refused(StatusCode::SERVICE_UNAVAILABLE, "not_stored", &format!("the reading is not stored: {e}"))
            })?;
            let r = &entered.reading;
            tracing::info!(meter = %r.device, channel = %r.channel, by = %principal.user,
                journal_seq = receipt.seq(), "manual reading entered");
            answer["reading"] = json!({
                "journal_seq": receipt.seq(), "source": crate::config::MANUAL_SOURCE, "meter": r.device,
                "channel": r.channel, "ts_ms": r.ts_ms, "value": r.value.to_string(),
                "unit": r.unit, "entered_by": principal.user,
            });
        }
        Action::InspectionNote => {
            let (subject_kind, subject) = match subject {
                Some(Subject::Meter(m)) => ("meter", m.id.clone()),
                Some(Subject::Module(m)) => ("module", m),
                None => return Err(unprocessable(vec![problem("subject", "required", "a value is required".into())])),
            };
            let note = Note {
                id: 0,
                form: id.to_owned(),
                subject_kind: subject_kind.to_owned(),
                subject,
                values: values.clone(),
                user: principal.user.clone(),
                at_ms: now_ms,
            };
            let note =
                tokio::task::block_in_place(|| state.forms.store.add_note(note)).map_err(|e| store_failed(&e))?;
            answer["note"] = json!(note);
        }
    }
    // A form that acts keeps what it was about (the meter, its channel),
    // so the next reading or note starts there, never a value entered.
    let kept: Values = match template.action {
        Action::Save => values,
        _ => values
            .into_iter()
            .filter(|(name, _)| template.field(name).is_some_and(|f| matches!(f.kind, Kind::Ref { .. })))
            .collect(),
    };
    let saved = Saved { values: kept, saved_at_ms: now_ms, saved_by: principal.user.clone() };
    tokio::task::block_in_place(|| state.forms.store.save(&owner(template.scope, &principal), id, &saved))
        .map_err(|e| store_failed(&e))?;
    answer["values"] = json!(saved.values);
    answer["saved_at_ms"] = json!(saved.saved_at_ms);
    answer["saved_by"] = json!(saved.saved_by);
    Ok(meterhub_http::json(StatusCode::OK, &answer))
}

fn problem(field: &str, code: &'static str, message: String) -> FieldProblem {
    FieldProblem { field: field.to_owned(), problem: Problem::new(code, None, message) }
}

/// What a form's meter, module or subject field names.
enum Subject {
    Meter(Box<MeterRecord>),
    Module(String),
}

/// The modules `seen` may see: those of the meters it may see (`None`: all).
fn visible_modules(state: &ApiState, seen: &Visibility) -> Result<Option<BTreeSet<String>>, Refused> {
    if seen.everything() {
        return Ok(None);
    }
    let meters = state.accounting.store.meters().map_err(|e| store_failed(&e))?;
    Ok(Some(meters.iter().filter(|m| seen.record(m)).filter_map(|m| m.module.clone()).collect()))
}

/// Whether `seen` may see module `id`: a meter she may see is read through
/// it (an admin: any module the registry or the archive knows).
fn module_visible(state: &ApiState, seen: &Visibility, id: &str) -> Result<bool, Refused> {
    let meters = state.accounting.store.meters().map_err(|e| store_failed(&e))?;
    let through = |m: &MeterRecord| m.module.as_deref() == Some(id);
    Ok(if seen.everything() {
        meters.iter().any(through) || state.archive.module(id).ok().flatten().is_some()
    } else {
        meters.iter().any(|m| through(m) && seen.record(m))
    })
}

/// Every reference field's value checked: a meter or module the user may
/// see, a channel of the form's meter. Returns the subject (the meter of a
/// meter field, else the module or meter of a subject field).
fn check_references(
    state: &ApiState,
    seen: &Visibility,
    template: &Template,
    values: &Values,
) -> Result<Option<Subject>, Refused> {
    let mut problems = Vec::new();
    let mut subject = None;
    let mut meter_of_form: Option<MeterRecord> = None;
    for field in &template.fields {
        let Kind::Ref { of } = field.kind else { continue };
        let value = values.get(&field.name).map_or("", String::as_str);
        if value.is_empty() || of == RefKind::Channel {
            continue;
        }
        let meter = state.accounting.store.meter(value).map_err(|e| store_failed(&e))?.filter(|m| seen.record(m));
        let module = match (&meter, of) {
            (None, RefKind::Module | RefKind::Subject) => module_visible(state, seen, value)?.then(|| value.to_owned()),
            _ => None,
        };
        match (of, meter, module) {
            (RefKind::Meter | RefKind::Subject, Some(meter), _) => {
                if field.name == "meter" || meter_of_form.is_none() {
                    meter_of_form = Some(meter.clone());
                }
                subject.get_or_insert(Subject::Meter(Box::new(meter)));
            }
            (RefKind::Module | RefKind::Subject, _, Some(module)) => {
                subject.get_or_insert(Subject::Module(module));
            }
            (of, _, _) => {
                let what = match of {
                    RefKind::Meter => "meter",
                    RefKind::Module => "module",
                    _ => "meter or module",
                };
                let code = if of == RefKind::Module { "no-module" } else { "no-meter" };
                problems.push(problem(&field.name, code, format!("no {what} {value:?} that you may see")));
            }
        }
    }
    // A channel field names a channel of the form's meter.
    if let Some(meter) = &meter_of_form {
        for field in template.fields.iter().filter(|f| matches!(f.kind, Kind::Ref { of: RefKind::Channel })) {
            let value = values.get(&field.name).map_or("", String::as_str);
            if !value.is_empty() && !meter.channels.contains_key(value) {
                let has: Vec<&str> = meter.channels.keys().map(String::as_str).collect();
                problems.push(FieldProblem {
                    field: field.name.clone(),
                    problem: Problem::new(
                        "no-channel",
                        Some(has.join(", ")),
                        format!("meter {:?} has no channel {value:?} (it has: {})", meter.id, has.join(", ")),
                    ),
                });
            }
        }
    }
    if problems.is_empty() { Ok(subject) } else { Err(unprocessable(problems)) }
}

fn notes(state: &ApiState, principal: &Principal, params: &HashMap<String, String>) -> Result<HttpResponse, Refused> {
    let limit = match params.get("limit").map(|l| l.parse::<usize>()) {
        None => DEFAULT_NOTES,
        Some(Ok(l)) if (1..=MAX_NOTES).contains(&l) => l,
        Some(_) => {
            return Err(refused(StatusCode::BAD_REQUEST, "bad_limit", &format!("limit: expected 1 to {MAX_NOTES}")));
        }
    };
    let subject = params.get("subject").filter(|s| !s.is_empty());
    let seen = Visibility::for_principal(Some(principal.clone()));
    let modules = visible_modules(state, &seen)?;
    let visible = |note: &Note| match note.subject_kind.as_str() {
        "meter" => seen.meter(&state.accounting, &note.subject),
        _ => modules.as_ref().is_none_or(|m| m.contains(&note.subject)),
    };
    let notes = state
        .forms
        .store
        .notes(limit, |note| subject.is_none_or(|s| *s == note.subject) && visible(note))
        .map_err(|e| store_failed(&e))?;
    Ok(meterhub_http::json(StatusCode::OK, &json!({ "notes": notes })))
}
