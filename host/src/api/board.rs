//! `GET /api/v1/board`: the summary strip of every page: how many meters
//! and modules the user may see are in each state ([`crate::board`]), and
//! how many meters reported today (the host's `[accounting] time_zone`).

use std::collections::HashSet;

use hyper::StatusCode;
use meterhub_accounting::{MeterSpec, Period, period_at};
use serde_json::json;

use super::state::ApiState;
use super::visibility::Visibility;
use crate::board::Board;
use meterhub_http::{self, HttpResponse};

/// The summary of what `seen` may see.
pub fn summary(state: &ApiState, seen: &Visibility) -> HttpResponse {
    let board = match state.board() {
        Ok(board) => board,
        Err(response) => return *response,
    };
    let zone = state.accounting.default_zone.clone();
    let today = MeterSpec::new(&zone, None, vec![]).ok().and_then(|spec| period_at(&spec, Period::Day, board.now_ms));
    let meters: Vec<_> = board.meters.values().filter(|m| m.visible(seen, &state.accounting)).collect();
    // A module is visible when it reads a visible meter.
    let read_through: HashSet<&str> =
        meters.iter().filter_map(|m| m.summary.as_ref().and_then(|s| s.module.as_deref())).collect();
    let modules: Vec<_> = board
        .modules
        .values()
        .filter(|m| seen.everything() || read_through.contains(m.activity.latest.module.as_str()))
        .collect();
    let reported_today = today
        .as_ref()
        .map(|day| meters.iter().filter(|m| m.heard.last_received_at_ms.is_some_and(|at| at >= day.start_ms)).count());
    meterhub_http::json(
        StatusCode::OK,
        &json!({
            "now_ms": board.now_ms,
            "time_zone": zone,
            "day": today.as_ref().map(|d| &d.start),
            "meters": {
                "total": meters.len(),
                "counts": Board::count(meters.iter().map(|m| m.state)),
                "reported_today": reported_today,
            },
            "modules": {
                "total": modules.len(),
                "counts": Board::count(modules.iter().map(|m| m.state)),
            },
        }),
    )
}
