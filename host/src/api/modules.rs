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
use crate::archive::{ArchiveError, ModuleActivity};
use crate::http_server::{self, HttpResponse};

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
        return Ok(http_server::error(
            StatusCode::BAD_REQUEST,
            &format!("unknown query parameter {key:?} (known: state)"),
        ));
    }
    let wanted = params.get("state").map(String::as_str);
    if let Some(w) = wanted.filter(|w| !STATES.contains(w)) {
        return Ok(http_server::error(
            StatusCode::BAD_REQUEST,
            &format!("query parameter state: {w:?} is not one of active, silent, unknown"),
        ));
    }
    let meters = meters_by_module(state, seen)?;
    let periods = state.view().accounting.silent_after_periods;
    let now_ms = crate::transport::now_ms();
    let mut counts: BTreeMap<&str, u64> = STATES.iter().map(|s| (*s, 0)).collect();
    let mut modules = Vec::new();
    for activity in state.archive.modules()? {
        if !seen.everything() && !meters.contains_key(&activity.latest.module) {
            continue;
        }
        let module_state = state_of(&activity, now_ms, periods);
        *counts.entry(module_state).or_default() += 1;
        if wanted.is_none_or(|w| w == module_state) {
            modules.push(view(&activity, meters.get(&activity.latest.module), now_ms, periods));
        }
    }
    Ok(http_server::json(
        StatusCode::OK,
        &json!({ "counts": counts, "silent_after_periods": periods, "modules": modules }),
    ))
}

/// `GET /api/v1/modules/{id}`.
pub fn one(state: &ApiState, module: &str, seen: &Visibility) -> Result<HttpResponse, ArchiveError> {
    let meters = meters_by_module(state, seen)?;
    let activity = state.archive.module(module)?.filter(|_| seen.everything() || meters.contains_key(module));
    let Some(activity) = activity else {
        return Ok(http_server::error(StatusCode::NOT_FOUND, &format!("no module {module:?} in the archive")));
    };
    let periods = state.view().accounting.silent_after_periods;
    Ok(http_server::json(StatusCode::OK, &view(&activity, meters.get(module), crate::transport::now_ms(), periods)))
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
fn state_of(activity: &ModuleActivity, now_ms: i64, periods: u32) -> &'static str {
    match activity.silent(now_ms, periods, None) {
        Some(true) => "silent",
        Some(false) => "active",
        None => "unknown",
    }
}

fn view(activity: &ModuleActivity, meters: Option<&Vec<String>>, now_ms: i64, periods: u32) -> Value {
    let t = &activity.latest;
    let module_state = state_of(activity, now_ms, periods);
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
        "battery_pct": t.battery_pct,
        "rssi_dbm": t.rssi_dbm,
        "snr_db": t.snr_db,
        "frame_counter": t.frame_counter,
        "frames": activity.frames,
        "lost_uplinks": activity.counter.lost(),
        "counter_resets": activity.counter.resets,
    })
}
