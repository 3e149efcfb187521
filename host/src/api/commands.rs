//! `/api/v1/drivers/{driver}/commands`: commands for a driver instance's
//! devices ([`crate::commands`]), queued by operators, watched by
//! dispatchers:
//!
//! - `POST .../commands` `{"device", "name", "args"?, "expires_in_s"?}`:
//!   201 with the command, queued durably; the name must be one the
//!   driver's plugin declares (`[commands]` in its `plugin.toml`);
//! - `GET .../commands?device=&state=&limit=`: newest first;
//! - `GET .../commands/{id}`;
//! - `DELETE .../commands/{id}`: cancels a queued command.

use std::collections::HashMap;

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::{Map, Value, json};

use super::state::ApiState;
use crate::commands::{self, CommandState, Filter, NewCommand, Refusal};
use meterhub_http::HttpResponse;

/// The endpoints of this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandsEndpoint {
    /// `GET /api/v1/drivers/{driver}/commands`.
    List,
    /// `POST /api/v1/drivers/{driver}/commands`.
    Queue,
    /// `GET /api/v1/drivers/{driver}/commands/{id}`.
    One,
    /// `DELETE /api/v1/drivers/{driver}/commands/{id}`.
    Cancel,
}

/// Commands listed unless the request says.
const DEFAULT_LIMIT: usize = 100;
/// The most commands one request lists.
const MAX_LIMIT: usize = 1000;
/// The fields a queueing request may have.
const FIELDS: [&str; 5] = ["device", "name", "args", "expires_in_s", "actor"];

/// Serve `endpoint` for the driver and command in `segments`
/// (`["api", "v1", "drivers", driver, "commands", id?]`).
pub async fn handle(
    state: &ApiState,
    req: Request<Incoming>,
    endpoint: CommandsEndpoint,
    segments: &[&str],
    params: &HashMap<String, String>,
) -> HttpResponse {
    let Some(driver) = segments.get(3).and_then(|d| meterhub_http::query::percent_decode(d)) else {
        return meterhub_http::error(StatusCode::BAD_REQUEST, "driver id is not valid percent-encoding");
    };
    let now = meterhub_storage::clock::now_ms();
    let id = segments.get(5).map(|id| id.parse::<u64>().map_err(|_| format!("command id {id:?} is not a number")));
    let answer = match (endpoint, id) {
        (_, Some(Err(e))) => Err(Refusal::Invalid(e)),
        (CommandsEndpoint::List, _) => list(state, &driver, params, now),
        (CommandsEndpoint::Queue, _) => match super::accounting::body(req).await {
            Ok((actor, body)) => queue(state, &driver, actor, &body, now).await,
            Err(response) => return response,
        },
        (CommandsEndpoint::One, Some(Ok(id))) => {
            state.commands.get(&driver, id, now).map(|r| (StatusCode::OK, commands::view(&r)))
        }
        (CommandsEndpoint::Cancel, Some(Ok(id))) => match super::accounting::actor(&req) {
            Some(actor) => {
                state.commands.cancel(&driver, id, &actor, now).await.map(|r| (StatusCode::OK, commands::view(&r)))
            }
            None => Err(Refusal::Invalid(
                "actor: missing; say who cancels (header X-Meterhub-Actor, or log in as a user)".to_owned(),
            )),
        },
        (CommandsEndpoint::One | CommandsEndpoint::Cancel, None) => {
            Err(Refusal::NotFound("name the command: .../commands/{id}".to_owned()))
        }
    };
    match answer {
        Ok((status, body)) => meterhub_http::json(status, &body),
        Err(refusal) => refused(refusal),
    }
}

fn refused(refusal: Refusal) -> HttpResponse {
    let status = match &refusal {
        Refusal::Invalid(_) => StatusCode::BAD_REQUEST,
        Refusal::NotFound(_) => StatusCode::NOT_FOUND,
        Refusal::Conflict(_) => StatusCode::CONFLICT,
        Refusal::Store(e) => {
            tracing::error!(error = %e, "command database");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    meterhub_http::error(status, &refusal.to_string())
}

fn list(
    state: &ApiState,
    driver: &str,
    params: &HashMap<String, String>,
    now: i64,
) -> Result<(StatusCode, Value), Refusal> {
    let limit = match params.get("limit").map(|l| l.parse::<usize>()) {
        None => DEFAULT_LIMIT,
        Some(Ok(l)) if (1..=MAX_LIMIT).contains(&l) => l,
        Some(_) => return Err(Refusal::Invalid(format!("limit: expected 1 to {MAX_LIMIT}"))),
    };
    let state_filter = params.get("state").map(|s| CommandState::parse(s)).transpose().map_err(Refusal::Invalid)?;
    let filter = Filter { device: params.get("device").cloned(), state: state_filter };
    let found = state.commands.list(driver, &filter, limit, now)?;
    Ok((StatusCode::OK, json!({ "commands": found.iter().map(commands::view).collect::<Vec<_>>() })))
}

async fn queue(
    state: &ApiState,
    driver: &str,
    actor: String,
    body: &Map<String, Value>,
    now: i64,
) -> Result<(StatusCode, Value), Refusal> {
    if let Some(unknown) = body.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(Refusal::Invalid(format!("{unknown}: not a field of a command (fields: {})", FIELDS.join(", "))));
    }
    let text = |field: &str| match body.get(field) {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(Refusal::Invalid(format!("{field}: expected a string"))),
    };
    let (device, name) = (text("device")?, text("name")?);
    let args = body.get("args").cloned().unwrap_or_else(|| Value::Object(Map::new()));
    let expires_in_s = match body.get("expires_in_s") {
        None => commands::DEFAULT_EXPIRY_S,
        Some(v) => {
            v.as_u64().ok_or_else(|| Refusal::Invalid("expires_in_s: expected a whole number of seconds".into()))?
        }
    };
    check_name(state, driver, &name)?;
    let new = NewCommand { driver: driver.to_owned(), device, name, args, expires_in_s, by: actor };
    let record = state.commands.queue(new, now).await?;
    tracing::info!(driver, device = %record.device, command = record.id, name = %record.name, by = %record.queued_by, "command queued");
    Ok((StatusCode::CREATED, commands::view(&record)))
}

/// Whether `driver` is configured and its plugin takes command `name`.
fn check_name(state: &ApiState, driver: &str, name: &str) -> Result<(), Refusal> {
    let view = state.view();
    let Some(instance) = view.drivers.iter().find(|d| d.id == driver) else {
        return Err(Refusal::NotFound(format!("no driver instance {driver:?} (GET /api/v1/drivers lists them)")));
    };
    let Some(plugin) = view.plugins.iter().find(|p| p.id == instance.plugin) else {
        return Err(Refusal::Conflict(format!(
            "the plugin {} of driver {driver} is not loaded, so its commands are not known",
            instance.plugin
        )));
    };
    if plugin.commands.contains_key(name) {
        return Ok(());
    }
    Err(Refusal::Invalid(if plugin.commands.is_empty() {
        format!("name: the plugin {} of driver {driver} takes no commands", plugin.id)
    } else {
        let known: Vec<&str> = plugin.commands.keys().map(String::as_str).collect();
        format!("name: {name:?} is not a command of {} (it takes {})", plugin.id, known.join(", "))
    }))
}
