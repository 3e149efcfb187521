//! `/api/v1/modules`: communication modules' activity: last heard, battery,
//! signal, lost uplinks, and whether each is active, silent (nothing for more
//! than `[accounting] silent_after_periods` of its periods) or not yet
//! judged (its period is not known yet), with counts per state.

use std::collections::{BTreeMap, HashMap};

use hyper::StatusCode;
use meterhub_plugin_api::time::format_rfc3339_ms;
use serde_json::{Value, json};

use super::state::ApiState;
use super::visibility::Visibility;
use meterhub_http::{self, HttpResponse};
use meterhub_storage::archive::{ArchiveError, ModuleActivity};

/// The states a module can be in.
const STATES: [&str; 3] = ["active", "silent", "unknown"];

/// `GET /api/v1/modules[?state=active|silent|unknown]`: the modules the
/// user may see (those reading a meter within their grants).
pub fn list(
    state: &ApiState,
    params: &HashMap<String, String>,
    seen: &Visibility,
) -> Result<HttpResponse, ArchiveError> {
    if let Some(key) = params.keys().find(|k| *k != "state") {
        return Ok(meterhub_http::error(
            StatusCode::BAD_REQUEST,
            &format!("unknown query parameter {key:?} (known: state)"),
        ));
    }
    let wanted = params.get("state").map(String::as_str);
    if let Some(w) = wanted.filter(|w| !STATES.contains(w)) {
        return Ok(meterhub_http::error(
            StatusCode::BAD_REQUEST,
            &format!("query parameter state: {w:?} is not one of active, silent, unknown"),
        ));
    }
    let meters = meters_by_module(state, seen)?;
    let expected = match expected_periods(state) {
        Ok(expected) => expected,
        Err(response) => return Ok(*response),
    };
    let periods = state.view().accounting.silent_after_periods;
    let now_ms = meterhub_storage::clock::now_ms();
    let mut counts: BTreeMap<&str, u64> = STATES.iter().map(|s| (*s, 0)).collect();
    let mut modules = Vec::new();
    for activity in state.archive.modules()? {
        if !seen.everything() && !meters.contains_key(&activity.latest.module) {
            continue;
        }
        let configured = expected.get(&activity.latest.module).copied();
        let module_state = state_of(&activity, now_ms, periods, configured);
        *counts.entry(module_state).or_default() += 1;
        if wanted.is_none_or(|w| w == module_state) {
            modules.push(view(&activity, meters.get(&activity.latest.module), now_ms, periods, configured));
        }
    }
    Ok(meterhub_http::json(
        StatusCode::OK,
        &json!({ "counts": counts, "silent_after_periods": periods, "modules": modules }),
    ))
}

/// `GET /api/v1/modules/{id}`.
pub fn one(state: &ApiState, module: &str, seen: &Visibility) -> Result<HttpResponse, ArchiveError> {
    let meters = meters_by_module(state, seen)?;
    let activity = state.archive.module(module)?.filter(|_| seen.everything() || meters.contains_key(module));
    let Some(activity) = activity else {
        return Ok(meterhub_http::error(StatusCode::NOT_FOUND, &format!("no module {module:?} in the archive")));
    };
    let periods = state.view().accounting.silent_after_periods;
    let configured = match expected_periods(state) {
        Ok(expected) => expected.get(module).copied(),
        Err(response) => return Ok(*response),
    };
    let now_ms = meterhub_storage::clock::now_ms();
    Ok(meterhub_http::json(StatusCode::OK, &view(&activity, meters.get(module), now_ms, periods, configured)))
}

/// `PATCH /api/v1/modules/{id}` with `{"expected_period_s": N}` (or `null`
/// to go back to the learned period): the period an operator expects
/// between the module's uplinks decides when it is silent.
pub fn patch(
    state: &ApiState,
    module: &str,
    actor: &str,
    body: &serde_json::Map<String, Value>,
    seen: &Visibility,
) -> Result<HttpResponse, ArchiveError> {
    let meters = meters_by_module(state, seen)?;
    if state.archive.module(module)?.is_none() || !(seen.everything() || meters.contains_key(module)) {
        return Ok(meterhub_http::error(StatusCode::NOT_FOUND, &format!("no module {module:?} in the archive")));
    }
    if let Some(key) = body.keys().find(|k| !["expected_period_s", "actor"].contains(&k.as_str())) {
        return Ok(meterhub_http::error(
            StatusCode::BAD_REQUEST,
            &format!("{key}: unknown field (known: expected_period_s)"),
        ));
    }
    let period_ms = match body.get("expected_period_s") {
        Some(Value::Null) => None,
        Some(v) => match v.as_u64().filter(|s| (1..=MAX_PERIOD_S).contains(s)) {
            Some(seconds) => Some(seconds as i64 * 1000),
            None => {
                return Ok(meterhub_http::error(
                    StatusCode::BAD_REQUEST,
                    &format!("expected_period_s: expected whole seconds 1..={MAX_PERIOD_S} or null, got {v}"),
                ));
            }
        },
        None => {
            return Ok(meterhub_http::error(StatusCode::BAD_REQUEST, "expected_period_s: missing (seconds, or null)"));
        }
    };
    if let Err(e) = state.accounting.store.set_module_period(module, period_ms, actor) {
        tracing::error!(%module, error = %e, "cannot store the module's expected period");
        return Ok(meterhub_http::error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()));
    }
    tracing::info!(%module, %actor, period_ms, "module expected period set");
    one(state, module, seen)
}

/// Longest expected period, seconds: 31 days.
const MAX_PERIOD_S: u64 = 31 * 24 * 3600;

/// The periods operators set, by module; a 500 saying why when the
/// registry cannot be read.
fn expected_periods(state: &ApiState) -> Result<HashMap<String, i64>, Box<HttpResponse>> {
    match state.accounting.store.modules() {
        Ok(records) => Ok(records.into_iter().filter_map(|m| Some((m.id, m.expected_period_ms?))).collect()),
        Err(e) => {
            tracing::error!(error = %e, "cannot read the module registry");
            Err(Box::new(meterhub_http::error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())))
        }
    }
}

/// The ids of the meters the user may see, by the module they are read
/// through.
fn meters_by_module(state: &ApiState, seen: &Visibility) -> Result<HashMap<String, Vec<String>>, ArchiveError> {
    let mut by_module: HashMap<String, Vec<String>> = HashMap::new();
    for device in state.archive.devices()? {
        if let Some(module) = device.module
            && seen.meter(&state.accounting, &device.device)
        {
            by_module.entry(module).or_default().push(device.device);
        }
    }
    Ok(by_module)
}

/// One of [`STATES`].
fn state_of(activity: &ModuleActivity, now_ms: i64, periods: u32, expected_ms: Option<i64>) -> &'static str {
    match activity.silent(now_ms, periods, expected_ms) {
        Some(true) => "silent",
        Some(false) => "active",
        None => "unknown",
    }
}

fn view(
    activity: &ModuleActivity,
    meters: Option<&Vec<String>>,
    now_ms: i64,
    periods: u32,
    expected_ms: Option<i64>,
) -> Value {
    let t = &activity.latest;
    let module_state = state_of(activity, now_ms, periods, expected_ms);
    json!({
        "module": t.module,
        "state": module_state,
        "source": activity.source,
        "meters": meters.cloned().unwrap_or_default(),
        "last_ts": format_rfc3339_ms(t.ts_ms),
        "first_received_at": format_rfc3339_ms(activity.first_received_at_ms),
        "last_received_at": format_rfc3339_ms(activity.last_received_at_ms),
        "silent_for_ms": (module_state == "silent").then(|| now_ms - activity.last_received_at_ms),
        "period_ms": activity.period_ms,
        "expected_period_ms": expected_ms,
        "battery_pct": t.battery_pct,
        "rssi_dbm": t.rssi_dbm,
        "snr_db": t.snr_db,
        "frame_counter": t.frame_counter,
        "frames": activity.frames,
        "lost_uplinks": activity.counter.lost(),
        "counter_resets": activity.counter.resets,
    })
}
