//! The accounting endpoints (`docs/api.md`, "Accounting"): the meter
//! registry with its metadata, events and change history, stored deltas by
//! meter, consumption per group of meters, CSV export.
//!
//! A change names who made it: the `X-Meterhub-Actor` header or an `actor`
//! field of the JSON body.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use meterhub_accounting::{Decimal, Delta, Period};
use serde_json::{Map, Value, json};

use super::state::ApiState;
use super::table::AccountingEndpoint;
use super::visibility::Visibility;
use crate::accounting::model::Resource;
use crate::accounting::{AccountingError, Hold, MeterRecord, edit};
use meterhub_http::query;
use meterhub_http::{self, HttpResponse};
use meterhub_plugin_api::time::format_rfc3339_ms;

/// The header of a deltas answer whose meter is on hold: the reason; the
/// deltas shown may be stale.
pub const DELTAS_HELD_HEADER: &str = "x-meterhub-deltas-held";

/// The header naming who makes a change.
pub const ACTOR_HEADER: &str = "x-meterhub-actor";

/// Handles `/api/v1/meters...`, `/api/v1/deltas` and `/api/v1/consumption`.
pub async fn handle(
    state: &ApiState,
    req: Request<Incoming>,
    endpoint: AccountingEndpoint,
    segments: &[&str],
    params: &HashMap<String, String>,
) -> HttpResponse {
    let seen = Visibility::of(&req);
    let id = match segments.get(3) {
        Some(raw) => match query::percent_decode(raw) {
            Some(id) => Some(id),
            None => return meterhub_http::error(StatusCode::BAD_REQUEST, "meter id is not valid percent-encoding"),
        },
        None => None,
    };
    // A meter out of the user's sight is answered like an unknown one.
    if let Some(id) = id.as_deref()
        && !seen.meter(&state.accounting, id)
    {
        return meterhub_http::error(StatusCode::NOT_FOUND, &AccountingError::UnknownMeter(id.to_owned()).to_string());
    }
    // Every meter endpoint's path has the id (the route table says so).
    let meter_id = id.as_deref().unwrap_or_default();
    let result = match endpoint {
        AccountingEndpoint::Meters => meters(state, &seen),
        AccountingEndpoint::Meter => meter(state, meter_id),
        AccountingEndpoint::MeterPatch => match body(req).await {
            Ok((actor, body)) => patch(state, meter_id, &actor, &body),
            Err(response) => return response,
        },
        AccountingEndpoint::MeterEvent => match body(req).await {
            Ok((actor, body)) => event(state, meter_id, &actor, &body),
            Err(response) => return response,
        },
        AccountingEndpoint::MeterRecompute => match body(req).await {
            Ok((actor, _)) => recompute(state, meter_id, &actor),
            Err(response) => return response,
        },
        AccountingEndpoint::MeterHistory => history(state, meter_id),
        AccountingEndpoint::Deltas => deltas(state, params, &seen),
        AccountingEndpoint::Consumption => consumption(state, params, &seen),
    };
    result.unwrap_or_else(|e| match e {
        AccountingError::Invalid { .. } => meterhub_http::error(StatusCode::BAD_REQUEST, &e.to_string()),
        AccountingError::UnknownMeter(_) => meterhub_http::error(StatusCode::NOT_FOUND, &e.to_string()),
        other => {
            tracing::error!(error = %other, "accounting request failed");
            meterhub_http::error(StatusCode::INTERNAL_SERVER_ERROR, &other.to_string())
        }
    })
}

/// The JSON object body and the actor: the `X-Meterhub-Actor` header, else
/// the body's `actor`, else the logged-in user (not the command line's
/// built-in `local`, which says who it acts for).
pub async fn body(req: Request<Incoming>) -> Result<(String, Map<String, Value>), HttpResponse> {
    let (header, user) = (actor_header(&req), logged_in_user(&req));
    let bytes = meterhub_http::api_body(req).await?;
    let body: Map<String, Value> = serde_json::from_slice(&bytes)
        .map_err(|e| meterhub_http::error(StatusCode::BAD_REQUEST, &format!("body: expected a JSON object: {e}")))?;
    let actor = header.or_else(|| body.get("actor").and_then(Value::as_str).map(str::to_owned)).or(user);
    match actor.map(|a| a.trim().to_owned()).filter(|a| !a.is_empty()) {
        Some(actor) => Ok((actor, body)),
        None => Err(meterhub_http::error(
            StatusCode::BAD_REQUEST,
            "actor: missing; say who makes the change (header X-Meterhub-Actor or field \"actor\")",
        )),
    }
}

/// Who makes a change that has no body: the actor header, else the
/// logged-in user (not the local admin token, which names nobody).
pub fn actor(req: &Request<Incoming>) -> Option<String> {
    actor_header(req).or_else(|| logged_in_user(req)).map(|a| a.trim().to_owned()).filter(|a| !a.is_empty())
}

fn actor_header(req: &Request<Incoming>) -> Option<String> {
    req.headers().get(ACTOR_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

fn logged_in_user(req: &Request<Incoming>) -> Option<String> {
    req.extensions()
        .get::<crate::auth::Principal>()
        .filter(|p| p.credential != crate::auth::Credential::LocalToken)
        .map(|p| p.user.clone())
}

fn meter_view(m: &MeterRecord) -> Value {
    let mut metadata = serde_json::to_value(&m.metadata).unwrap_or(Value::Null);
    if let Value::Object(md) = &mut metadata
        && let Some(at) = md.remove("installed_at_ms")
    {
        md.insert("installed_at".to_owned(), json!(at.as_i64().map(format_rfc3339_ms)));
    }
    json!({
        "id": m.id,
        "source": m.source,
        "module": m.module,
        "model": m.model,
        "channels": m.channels,
        "first_seen": format_rfc3339_ms(m.first_seen_ms),
        "last_seen": format_rfc3339_ms(m.last_seen_ms),
        "registered_at": format_rfc3339_ms(m.registered_at_ms),
        "metadata": metadata,
        "events": m.events,
    })
}

fn hold_view(hold: &Hold) -> Value {
    json!({ "reason": hold.reason, "since": format_rfc3339_ms(hold.since_ms) })
}

fn meters(state: &ApiState, seen: &Visibility) -> Result<HttpResponse, AccountingError> {
    let holds: HashMap<String, Hold> =
        state.accounting.store.holds()?.into_iter().map(|h| (h.meter.clone(), h)).collect();
    let board = state.board().ok();
    let meters: Vec<Value> = state
        .accounting
        .store
        .meters()?
        .iter()
        .filter(|m| seen.record(m))
        .map(|m| {
            let mut view = meter_view(m);
            view["deltas_held"] = holds.get(&m.id).map_or(Value::Null, hold_view);
            if let Some(on_board) = board.as_ref().and_then(|b| b.meters.get(&m.id)) {
                add_board_view(&mut view, on_board);
            }
            view
        })
        .collect();
    Ok(meterhub_http::json(StatusCode::OK, &meters))
}

/// A meter's state on the board, with what it is judged by.
fn add_board_view(view: &mut Value, on_board: &crate::board::MeterOnBoard) {
    view["state"] = json!(on_board.state.as_str());
    view["last_received_at_ms"] = json!(on_board.heard.last_received_at_ms);
    view["period_ms"] = json!(on_board.heard.period_ms);
    view["judged_period_ms"] = json!(on_board.heard.judged_period_ms());
    view["clock_offset_ms"] = json!(on_board.heard.clock_offset_ms);
}

fn meter(state: &ApiState, id: &str) -> Result<HttpResponse, AccountingError> {
    let record = state.accounting.store.meter(id)?.ok_or_else(|| AccountingError::UnknownMeter(id.to_owned()))?;
    let mut view = meter_view(&record);
    if let Some(on_board) = state.board().ok().as_ref().and_then(|b| b.meters.get(id)) {
        add_board_view(&mut view, on_board);
    }
    let zone = record.metadata.time_zone.clone().unwrap_or_else(|| state.accounting.default_zone.clone());
    view["time_zone_in_use"] = json!(zone);
    view["deltas_held"] = state.accounting.store.hold(id)?.as_ref().map_or(Value::Null, hold_view);
    Ok(meterhub_http::json(StatusCode::OK, &view))
}

fn recompute(state: &ApiState, id: &str, actor: &str) -> Result<HttpResponse, AccountingError> {
    let record = state.accounting.store.change_meter(id, actor, |_| Ok((vec![edit::recompute_entry()], true)))?;
    state.accounting.wake.notify_one();
    Ok(meterhub_http::json(StatusCode::ACCEPTED, &meter_view(&record)))
}

fn patch(state: &ApiState, id: &str, actor: &str, body: &Map<String, Value>) -> Result<HttpResponse, AccountingError> {
    let record = state.accounting.store.change_meter(id, actor, |m| edit::apply_patch(m, body))?;
    state.accounting.wake.notify_one();
    Ok(meterhub_http::json(StatusCode::OK, &meter_view(&record)))
}

fn event(state: &ApiState, id: &str, actor: &str, body: &Map<String, Value>) -> Result<HttpResponse, AccountingError> {
    let event = edit::parse_event(body)?;
    let record = state.accounting.store.change_meter(id, actor, |m| Ok(edit::add_event(m, event)))?;
    state.accounting.wake.notify_one();
    Ok(meterhub_http::json(StatusCode::CREATED, &meter_view(&record)))
}

fn history(state: &ApiState, id: &str) -> Result<HttpResponse, AccountingError> {
    if state.accounting.store.meter(id)?.is_none() {
        return Err(AccountingError::UnknownMeter(id.to_owned()));
    }
    let entries: Vec<Value> = state
        .accounting
        .store
        .history(id)?
        .into_iter()
        .map(|e| {
            json!({ "seq": e.seq, "at": format_rfc3339_ms(e.at_ms), "actor": e.actor, "field": e.field,
                    "old": e.old, "new": e.new })
        })
        .collect();
    Ok(meterhub_http::json(StatusCode::OK, &entries))
}

fn check_params(params: &HashMap<String, String>, known: &[&str]) -> Result<(), AccountingError> {
    match params.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(AccountingError::invalid(k, format!("unknown query parameter (known: {})", known.join(", ")))),
        None => Ok(()),
    }
}

fn period(params: &HashMap<String, String>) -> Result<Period, AccountingError> {
    match params.get("period").map(String::as_str) {
        Some("day") => Ok(Period::Day),
        Some("month") => Ok(Period::Month),
        Some(other) => Err(AccountingError::invalid("period", format!("expected day or month, got {other:?}"))),
        None => Err(AccountingError::invalid("period", "missing (day or month)")),
    }
}

/// `from` and `to`: periods starting in `[from, to)`; unbounded by default.
fn range(params: &HashMap<String, String>) -> Result<(i64, i64), AccountingError> {
    let bound = |name: &str, default: i64| match params.get(name) {
        Some(v) => query::timestamp(name, v).map_err(|e| AccountingError::invalid(name, e)),
        None => Ok(default),
    };
    Ok((bound("from", i64::MIN)?, bound("to", i64::MAX)?))
}

fn delta_json(meter: &str, channel: &str, delta: &Delta) -> Value {
    let mut v = serde_json::to_value(delta).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut v {
        map.insert("meter".to_owned(), json!(meter));
        map.insert("channel".to_owned(), json!(channel));
    }
    v
}

/// The CSV columns of a delta.
pub const CSV_HEADER: &str = "meter,channel,period,start,start_ms,end_ms,from_ms,to_ms,consumption,start_value,\
end_value,estimated,in_progress,partial_start,conflict,rollovers,events,unexplained_decrease,readings";

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_owned() }
}

fn csv_row(meter: &str, channel: &str, d: &Delta) -> String {
    let period = match d.period {
        Period::Day => "day",
        Period::Month => "month",
    };
    let readings: Vec<String> = d.readings.iter().map(u64::to_string).collect();
    format!(
        "{},{},{period},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
        csv_field(meter),
        csv_field(channel),
        d.start,
        d.start_ms,
        d.end_ms,
        d.from_ms,
        d.to_ms,
        d.consumption,
        d.start_value,
        d.end_value,
        d.estimated,
        d.in_progress,
        d.partial_start,
        d.conflict,
        d.rollovers,
        d.events,
        d.unexplained_decrease,
        readings.join(" "),
    )
}

fn deltas(
    state: &ApiState,
    params: &HashMap<String, String>,
    seen: &Visibility,
) -> Result<HttpResponse, AccountingError> {
    check_params(params, &["meter", "channel", "period", "from", "to", "format"])?;
    let meter = params.get("meter").ok_or_else(|| AccountingError::invalid("meter", "missing"))?;
    let period = period(params)?;
    let (from, to) = range(params)?;
    let csv = match params.get("format").map(String::as_str) {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => return Err(AccountingError::invalid("format", format!("expected json or csv, got {other:?}"))),
    };
    if !state.accounting.store.meter(meter)?.is_some_and(|m| seen.record(&m)) {
        return Err(AccountingError::UnknownMeter(meter.clone()));
    }
    let found = state.accounting.store.deltas(meter, params.get("channel").map(String::as_str), period, from, to)?;
    let mut response = if csv {
        let mut text = format!("{CSV_HEADER}\n");
        for (channel, d) in &found {
            text.push_str(&csv_row(meter, channel, d));
        }
        meterhub_http::response(StatusCode::OK, "text/csv; charset=utf-8", text)
    } else {
        let list: Vec<Value> = found.iter().map(|(channel, d)| delta_json(meter, channel, d)).collect();
        meterhub_http::json(StatusCode::OK, &list)
    };
    if let Some(hold) = state.accounting.store.hold(meter)?
        && let Ok(value) = hyper::header::HeaderValue::from_str(&hold.reason.replace(['\r', '\n'], " "))
    {
        response.headers_mut().insert(DELTAS_HELD_HEADER, value);
    }
    Ok(response)
}

/// Consumption per period and unit of a group.
#[derive(Default)]
struct GroupPeriod {
    consumption: Decimal,
    meters: BTreeSet<String>,
    estimated: bool,
    conflict: bool,
    in_progress: bool,
    partial_start: bool,
    unexplained_decrease: bool,
}

/// Consumption of a group: only the meters the user may see are members.
fn consumption(
    state: &ApiState,
    params: &HashMap<String, String>,
    seen: &Visibility,
) -> Result<HttpResponse, AccountingError> {
    check_params(params, &["period", "from", "to", "site", "resource", "channel"])?;
    let period = period(params)?;
    let (from, to) = range(params)?;
    let resource =
        match params.get("resource") {
            Some(r) => Some(Resource::parse(r).ok_or_else(|| {
                AccountingError::invalid("resource", format!("{r:?} is not one of {}", Resource::NAMES))
            })?),
            None => None,
        };
    let site = params.get("site");
    if site.is_none() && resource.is_none() {
        return Err(AccountingError::invalid("site", "give site=S or resource=R (or both) to name the group"));
    }
    let channel = params.get("channel").map(String::as_str);
    let members: Vec<MeterRecord> = state
        .accounting
        .store
        .meters()?
        .into_iter()
        .filter(|m| site.is_none_or(|s| m.metadata.site.as_ref() == Some(s)))
        .filter(|m| resource.is_none_or(|r| m.metadata.resource == Some(r)))
        .filter(|m| seen.record(m))
        .collect();
    let mut periods: BTreeMap<(String, String), GroupPeriod> = BTreeMap::new();
    let mut left_out: Vec<Value> = Vec::new();
    for m in &members {
        let counted = match channel {
            Some(c) => c,
            None => match m.billing_channel() {
                Ok(c) => c,
                Err(why) => {
                    left_out.push(json!({ "meter": m.id, "reason": why }));
                    continue;
                }
            },
        };
        if let Some(hold) = state.accounting.store.hold(&m.id)? {
            left_out.push(json!({ "meter": m.id, "reason": format!("deltas held: {}", hold.reason) }));
            continue;
        }
        let unit = crate::reports::delta_unit(m, counted);
        for (_, d) in state.accounting.store.deltas(&m.id, Some(counted), period, from, to)? {
            let p = periods.entry((d.start.clone(), unit.clone())).or_default();
            p.consumption = p.consumption.checked_add(d.consumption).ok_or_else(|| {
                AccountingError::invalid("consumption", format!("the {} total leaves the decimal range", d.start))
            })?;
            p.meters.insert(m.id.clone());
            p.estimated |= d.estimated;
            p.conflict |= d.conflict;
            p.in_progress |= d.in_progress;
            p.partial_start |= d.partial_start;
            p.unexplained_decrease |= d.unexplained_decrease;
        }
    }
    let rows: Vec<Value> = periods
        .into_iter()
        .map(|((start, unit), p)| {
            json!({
                "start": start, "unit": unit, "consumption": p.consumption.to_string(), "meters": p.meters,
                "estimated": p.estimated, "conflict": p.conflict, "in_progress": p.in_progress,
                "partial_start": p.partial_start, "unexplained_decrease": p.unexplained_decrease,
            })
        })
        .collect();
    let ids: Vec<&str> = members.iter().map(|m| m.id.as_str()).collect();
    Ok(meterhub_http::json(
        StatusCode::OK,
        &json!({ "site": site, "resource": resource, "channel": channel, "group": ids, "periods": rows,
                 "left_out": left_out }),
    ))
}
