//! `/api/v1/modules`: communication modules' activity: last heard, battery,
//! signal, lost uplinks, and its state on the board ([`crate::board`]:
//! fresh, late, silent, clock ahead), with counts per state.

use std::collections::HashMap;

use hyper::StatusCode;
use meterhub_plugin_api::time::format_rfc3339_ms;
use serde_json::{Value, json};

use super::state::ApiState;
use super::visibility::Visibility;
use crate::board::{Board, ModuleOnBoard, State};
use meterhub_http::{self, HttpResponse};
use meterhub_storage::archive::ArchiveError;

/// `GET /api/v1/modules[?state=fresh|late|silent|clock_ahead]`: the
/// modules the user may see (those reading a meter within their grants).
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
    let wanted = match params.get("state").map(|w| (w, State::parse(w))) {
        None => None,
        Some((_, Some(s))) => Some(s),
        Some((w, None)) => {
            let names: Vec<&str> = State::ALL.iter().map(|s| s.as_str()).collect();
            return Ok(meterhub_http::error(
                StatusCode::BAD_REQUEST,
                &format!("query parameter state: {w:?} is not one of {}", names.join(", ")),
            ));
        }
    };
    let board = match state.board() {
        Ok(board) => board,
        Err(response) => return Ok(*response),
    };
    let meters = meters_by_module(&board, state, seen);
    let visible: Vec<&ModuleOnBoard> =
        board.modules.values().filter(|m| seen.everything() || meters.contains_key(module_id(m))).collect();
    let counts = Board::count(visible.iter().map(|m| m.state));
    let modules: Vec<Value> = visible
        .into_iter()
        .filter(|m| wanted.is_none_or(|w| w == m.state))
        .map(|m| view(m, meters.get(module_id(m)), &board))
        .collect();
    let periods = state.view().accounting.silent_after_periods;
    Ok(meterhub_http::json(
        StatusCode::OK,
        &json!({ "counts": counts, "silent_after_periods": periods, "modules": modules }),
    ))
}

/// `GET /api/v1/modules/{id}`.
pub fn one(state: &ApiState, module: &str, seen: &Visibility) -> Result<HttpResponse, ArchiveError> {
    let board = match state.board() {
        Ok(board) => board,
        Err(response) => return Ok(*response),
    };
    let meters = meters_by_module(&board, state, seen);
    let found = board.modules.get(module).filter(|_| seen.everything() || meters.contains_key(module));
    let Some(on_board) = found else {
        return Ok(meterhub_http::error(StatusCode::NOT_FOUND, &format!("no module {module:?} in the archive")));
    };
    Ok(meterhub_http::json(StatusCode::OK, &view(on_board, meters.get(module), &board)))
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
    let board = match state.board() {
        Ok(board) => board,
        Err(response) => return Ok(*response),
    };
    let meters = meters_by_module(&board, state, seen);
    if !board.modules.contains_key(module) || !(seen.everything() || meters.contains_key(module)) {
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

/// The ids of the meters the user may see, by the module they are read
/// through.
fn meters_by_module(board: &Board, state: &ApiState, seen: &Visibility) -> HashMap<String, Vec<String>> {
    let mut by_module: HashMap<String, Vec<String>> = HashMap::new();
    for meter in board.meters.values() {
        if let Some(module) = meter.summary.as_ref().and_then(|s| s.module.clone())
            && meter.visible(seen, &state.accounting)
        {
            by_module.entry(module).or_default().push(meter.id.clone());
        }
    }
    by_module
}

fn module_id(m: &ModuleOnBoard) -> &str {
    &m.activity.latest.module
}

fn view(on_board: &ModuleOnBoard, meters: Option<&Vec<String>>, board: &Board) -> Value {
    let activity = &on_board.activity;
    let t = &activity.latest;
    json!({
        "module": t.module,
        "state": on_board.state.as_str(),
        "source": activity.source,
        "meters": meters.cloned().unwrap_or_default(),
        "last_ts": format_rfc3339_ms(t.ts_ms),
        "first_received_at": format_rfc3339_ms(activity.first_received_at_ms),
        "last_received_at": format_rfc3339_ms(activity.last_received_at_ms),
        "last_received_at_ms": activity.last_received_at_ms,
        "silent_for_ms": (on_board.state == State::Silent).then(|| board.now_ms - activity.last_received_at_ms),
        "period_ms": activity.period_ms,
        "expected_period_ms": on_board.expected_period_ms,
        "judged_period_ms": on_board.heard.judged_period_ms(),
        "clock_offset_ms": activity.clock_offset_ms,
        "battery_pct": t.battery_pct,
        "rssi_dbm": t.rssi_dbm,
        "snr_db": t.snr_db.map(|snr| (f64::from(snr) * 10.0).round() / 10.0),
        "frame_counter": t.frame_counter,
        "frames": activity.frames,
        "lost_uplinks": activity.counter.lost(),
        "counter_resets": activity.counter.resets,
    })
}
