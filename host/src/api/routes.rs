//! Routing and handlers of `/api/v1`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use serde_json::json;
use tokio::net::TcpListener;

use super::state::ApiState;
use super::table::{self, Endpoint, Lookup};
use super::visibility::Visibility;
use crate::pipeline::RedecodeSelection;
use meterhub_http::query;
use meterhub_http::{self, HttpResponse};
use meterhub_storage::archive::view::{self as views, QuarantineView, ReadingView};
use meterhub_storage::archive::{ArchiveError, ReadingQuery, SourceCounters};

/// Largest number of readings one query returns.
const MAX_LIMIT: usize = 100_000;
/// Default number of readings one query returns.
const DEFAULT_LIMIT: usize = 1000;

/// Serve the API on `listener` forever, through `gate`; over HTTPS with `tls`.
pub async fn serve(
    state: Arc<ApiState>,
    listener: TcpListener,
    gate: Arc<meterhub_http::Gate>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let listener = Arc::new(listener);
    // The same flag as `handle`'s, for the answers hyper's parser makes.
    let options = meterhub_http::ServeOptions { tls, hsts: state.auth.settings().cookie.secure };
    meterhub_http::serve_with(listener, gate, options, std::future::pending(), move |req, peer| {
        handle(state.clone(), req, peer)
    })
    .await;
}

/// Every request: the one access check, then the route; the security
/// headers on whatever the answer is.
async fn handle(state: Arc<ApiState>, req: Request<Incoming>, peer: SocketAddr) -> HttpResponse {
    let hsts = state.auth.settings().cookie.secure;
    let mut response = match meterhub_http::oversized(&req) {
        Some(refusal) => refusal,
        None => route(state, req, peer).await,
    };
    crate::auth::headers::add(&mut response, hsts);
    response
}

async fn route(state: Arc<ApiState>, mut req: Request<Incoming>, peer: SocketAddr) -> HttpResponse {
    let path = req.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let method = req.method().clone();
    // Where the request goes and who may send it come from the one route
    // table (`table.rs`); handlers find the principal in the request's
    // extensions (to filter by grants).
    let found = table::lookup(&method, &segments);
    let principal = match state.auth.authorize(&method, &path, found.access(), req.headers()) {
        Ok(principal) => principal,
        Err(refusal) => return super::auth::refusal(refusal),
    };
    let endpoint = match found {
        Lookup::Found { endpoint, .. } => endpoint,
        Lookup::WrongMethod(allowed) => return method_not_allowed(&method, &path, &allowed),
        Lookup::NotFound => {
            return meterhub_http::error(StatusCode::NOT_FOUND, &format!("no such endpoint: {path} (see docs/api.md)"));
        }
    };
    if let Some(principal) = &principal {
        req.extensions_mut().insert(principal.clone());
    }
    let seen = Visibility::of(&req);
    let params = match query::parse(req.uri().query()) {
        Ok(p) => p,
        Err(e) => return meterhub_http::error(StatusCode::BAD_REQUEST, &e),
    };
    // The id in `/api/v1/<collection>/<id>/...`.
    let id = segments.get(3).copied().unwrap_or_default();
    let result = match endpoint {
        Endpoint::Auth(endpoint) => {
            return super::auth::handle(&state, req, endpoint, &segments, &params, principal, peer).await;
        }
        Endpoint::Stream(endpoint) => match principal {
            Some(principal) => return super::stream::handle(&state, req, endpoint, id, principal).await,
            None => return meterhub_http::error(StatusCode::UNAUTHORIZED, "log in first (POST /api/v1/login)"),
        },
        Endpoint::Accounting(endpoint) => {
            return super::accounting::handle(&state, req, endpoint, &segments, &params).await;
        }
        Endpoint::Commands(endpoint) => {
            return super::commands::handle(&state, req, endpoint, &segments, &params).await;
        }
        Endpoint::Diagrams => match &principal {
            Some(principal) => Ok(super::diagrams::list(&state, principal)),
            None => return meterhub_http::error(StatusCode::UNAUTHORIZED, "log in first (POST /api/v1/login)"),
        },
        Endpoint::DiagramImage => match query::percent_decode(id) {
            Some(file) => Ok(tokio::task::block_in_place(|| super::diagrams::image(&state, &file))),
            None => Ok(meterhub_http::error(StatusCode::BAD_REQUEST, "image name is not valid percent-encoding")),
        },
        Endpoint::Diagram => match query::percent_decode(id) {
            Some(name) => Ok(super::diagrams::one(&state, &Visibility::for_principal(principal.clone()), &name)),
            None => Ok(meterhub_http::error(StatusCode::BAD_REQUEST, "diagram name is not valid percent-encoding")),
        },
        Endpoint::Alarms(endpoint) => match principal {
            Some(principal) => {
                return super::alarms::handle(&state, req, endpoint, &segments, &params, principal).await;
            }
            None => return meterhub_http::error(StatusCode::UNAUTHORIZED, "log in first (POST /api/v1/login)"),
        },
        Endpoint::Forms(endpoint) => match principal {
            Some(principal) => {
                return super::forms::handle(&state, req, endpoint, &segments, &params, principal).await;
            }
            None => return meterhub_http::error(StatusCode::UNAUTHORIZED, "log in first (POST /api/v1/login)"),
        },
        Endpoint::Pages(endpoint) => match principal {
            Some(principal) => return super::pages::handle(&state, req, endpoint, &segments, principal).await,
            None => return meterhub_http::error(StatusCode::UNAUTHORIZED, "log in first (POST /api/v1/login)"),
        },
        Endpoint::Ui => return crate::web::asset(&path),
        Endpoint::Health => Ok(health(&state)),
        Endpoint::Plugins => {
            let view = state.view();
            Ok(meterhub_http::json(StatusCode::OK, &json!({ "loaded": view.plugins, "refused": view.refused })))
        }
        Endpoint::Drivers => Ok(meterhub_http::json(StatusCode::OK, &state.view().drivers)),
        Endpoint::Config => Ok(meterhub_http::json(StatusCode::OK, &state.view().config)),
        Endpoint::Devices => devices(&state, &seen),
        Endpoint::DeviceLatest => match query::percent_decode(id) {
            Some(id) => latest(&state, &id, &seen),
            None => Ok(meterhub_http::error(StatusCode::BAD_REQUEST, "device id is not valid percent-encoding")),
        },
        Endpoint::Board => Ok(super::board::summary(&state, &seen)),
        Endpoint::ReportRuns => Ok(super::reports::runs(&state, principal)),
        Endpoint::ReportRunFile => {
            let file = segments.get(4).copied().unwrap_or_default();
            match (query::percent_decode(id), query::percent_decode(file)) {
                (Some(schedule), Some(file)) => {
                    Ok(tokio::task::block_in_place(|| super::reports::run_file(&state, &schedule, &file, principal)))
                }
                _ => Ok(meterhub_http::error(StatusCode::BAD_REQUEST, "the path is not valid percent-encoding")),
            }
        }
        Endpoint::Report => match query::percent_decode(id) {
            Some(kind) => return super::reports::handle(&state, &kind, &params, principal).await,
            None => Ok(meterhub_http::error(StatusCode::BAD_REQUEST, "report kind is not valid percent-encoding")),
        },
        Endpoint::Modules => super::modules::list(&state, &params, &seen),
        Endpoint::Module => match query::percent_decode(id) {
            Some(id) => super::modules::one(&state, &id, &seen),
            None => Ok(meterhub_http::error(StatusCode::BAD_REQUEST, "module id is not valid percent-encoding")),
        },
        Endpoint::ModulePatch => {
            let Some(id) = query::percent_decode(id) else {
                return meterhub_http::error(StatusCode::BAD_REQUEST, "module id is not valid percent-encoding");
            };
            return match super::accounting::body(req).await {
                Ok((actor, body)) => super::modules::patch(&state, &id, &actor, &body, &seen)
                    .unwrap_or_else(|e| meterhub_http::error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())),
                Err(response) => response,
            };
        }
        Endpoint::Readings => readings(&state, &params, &seen),
        Endpoint::Quarantine => quarantine(&state, &params),
        Endpoint::Rejections => rejections(&state, &params),
        Endpoint::Stats => stats(&state),
        Endpoint::Status => super::status::status(&state),
        Endpoint::Metrics => super::status::metrics(&state),
        Endpoint::InstanceAction => match segments.as_slice() {
            [.., driver, role, action] => Ok(super::status::operator_request(&state, driver, role, action)),
            _ => Ok(meterhub_http::error(StatusCode::NOT_FOUND, &format!("no such endpoint: {path}"))),
        },
        Endpoint::Redecode => return redecode(&state, req).await,
        Endpoint::Sinks => Ok(super::sinks::list(&state)),
        Endpoint::SinkDeadLetters => return super::sinks::dead_letters(&state, id, &params).await,
        Endpoint::SinkResend => return super::sinks::resend(&state, id).await,
        Endpoint::Sync => Ok(super::sync::overview(&state)),
        Endpoint::SyncPosition => Ok(super::sync::position(&state, &req, segments.get(4).copied().unwrap_or_default())),
        Endpoint::SyncBatches => {
            let site = segments.get(4).copied().unwrap_or_default().to_owned();
            return super::sync::batch(&state, req, &site, peer).await;
        }
        Endpoint::SyncSiteCheck => {
            let site = segments.get(4).copied().unwrap_or_default().to_owned();
            return super::sync::site_check(&state, req, &site).await;
        }
        Endpoint::SyncCheck => return super::sync::check(&state, &params).await,
    };
    result.unwrap_or_else(|e| {
        tracing::error!(%path, error = %e, "archive read failed");
        meterhub_http::error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())
    })
}

/// 405, naming the methods the path takes in `Allow`.
fn method_not_allowed(method: &Method, path: &str, allowed: &[&str]) -> HttpResponse {
    let mut response =
        meterhub_http::error(StatusCode::METHOD_NOT_ALLOWED, &format!("{method} is not allowed on {path}"));
    if let Ok(value) = allowed.join(", ").parse() {
        response.headers_mut().insert(hyper::header::ALLOW, value);
    }
    response
}

/// `GET /api/v1/health`: 200 `ok`, or 503 `degraded` with what is wrong
/// (`degraded: disk full at <path>, <n> bytes free`).
fn health(state: &ApiState) -> HttpResponse {
    let applied = state.archive.applied_through();
    let problems = state.health.problems();
    let mut errors: Vec<String> = problems.iter().map(|p| p.summary()).collect();
    if let Err(e) = &applied {
        errors.push(e.to_string());
    }
    let (status, code) = match errors.is_empty() {
        true => ("ok", StatusCode::OK),
        false => ("degraded", StatusCode::SERVICE_UNAVAILABLE),
    };
    meterhub_http::json(
        code,
        &json!({
            "status": status,
            "version": env!("CARGO_PKG_VERSION"),
            "uptime_s": state.started.elapsed().as_secs(),
            "applied_through": applied.as_ref().ok(),
            "error": (!errors.is_empty()).then(|| format!("degraded: {}", errors.join("; "))),
            "stores": problems,
            "plugins_loaded": state.view().plugins.len(),
            "plugins_refused": state.view().refused.len(),
        }),
    )
}

fn devices(state: &ApiState, seen: &Visibility) -> Result<HttpResponse, ArchiveError> {
    let devices: Vec<_> = state
        .archive
        .devices()?
        .into_iter()
        .filter(|d| seen.meter(&state.accounting, &d.device))
        .map(|d| {
            json!({
                "device": d.device,
                "source": d.source,
                "first_ts": meterhub_plugin_api::time::format_rfc3339_ms(d.first_ts_ms),
                "last_ts": meterhub_plugin_api::time::format_rfc3339_ms(d.last_ts_ms),
                "last_received_at": meterhub_plugin_api::time::format_rfc3339_ms(d.last_received_at_ms),
                "channels": d.channels,
                "readings": d.readings,
                "module": d.module,
                "model": d.model,
            })
        })
        .collect();
    Ok(meterhub_http::json(StatusCode::OK, &devices))
}

fn latest(state: &ApiState, device: &str, seen: &Visibility) -> Result<HttpResponse, ArchiveError> {
    let Some(summary) = state.archive.device(device)?.filter(|_| seen.meter(&state.accounting, device)) else {
        return Ok(meterhub_http::error(StatusCode::NOT_FOUND, &format!("no device {device:?} in the archive")));
    };
    let tolerance = state.archive.device_clock_tolerance_ms();
    let readings: Vec<ReadingView> =
        state.archive.latest(device)?.into_iter().map(|r| ReadingView::new(r, tolerance)).collect();
    // The telemetry of the module it is read through (a meter modem is its own module).
    let module = summary.module.as_deref().unwrap_or(device);
    let telemetry = state.archive.module(module)?.map(|activity| activity.latest);
    Ok(meterhub_http::json(StatusCode::OK, &json!({ "device": device, "readings": readings, "telemetry": telemetry })))
}

fn limit(params: &std::collections::HashMap<String, String>) -> Result<usize, String> {
    match params.get("limit") {
        None => Ok(DEFAULT_LIMIT),
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(format!("query parameter limit: expected 1..={MAX_LIMIT}, got {l:?}")),
        },
    }
}

/// Readings; a user who may not see everything gets those of the meters
/// they may see (name a `device` to get a full page of one).
fn readings(
    state: &ApiState,
    params: &std::collections::HashMap<String, String>,
    seen: &Visibility,
) -> Result<HttpResponse, ArchiveError> {
    let parsed = (|| -> Result<ReadingQuery, String> {
        for key in params.keys() {
            if !["device", "channel", "from", "to", "limit"].contains(&key.as_str()) {
                return Err(format!("unknown query parameter {key:?} (known: device, channel, from, to, limit)"));
            }
        }
        Ok(ReadingQuery {
            device: params.get("device").cloned(),
            channel: params.get("channel").cloned(),
            from_ms: params.get("from").map(|v| query::timestamp("from", v)).transpose()?,
            to_ms: params.get("to").map(|v| query::timestamp("to", v)).transpose()?,
            limit: limit(params)?,
        })
    })();
    let q = match parsed {
        Ok(q) => q,
        Err(e) => return Ok(meterhub_http::error(StatusCode::BAD_REQUEST, &e)),
    };
    let mut visible: std::collections::HashMap<String, bool> = std::collections::HashMap::new();
    let tolerance = state.archive.device_clock_tolerance_ms();
    let readings: Vec<ReadingView> = state
        .archive
        .readings(&q)?
        .into_iter()
        .filter(|r| {
            seen.everything()
                || *visible
                    .entry(r.reading.device.clone())
                    .or_insert_with(|| seen.meter(&state.accounting, &r.reading.device))
        })
        .map(|r| ReadingView::new(r, tolerance))
        .collect();
    // A reading entered by hand says who entered it, from its frame.
    let mut manual: Vec<u64> =
        readings.iter().filter(|r| r.source == crate::config::MANUAL_SOURCE).map(|r| r.frame_seq).collect();
    if manual.is_empty() {
        return Ok(meterhub_http::json(StatusCode::OK, &readings));
    }
    // Ascending and once each, as `Archive::frames` takes them.
    manual.sort_unstable();
    manual.dedup();
    let frames = state.archive.frames(&manual)?;
    let answer: Vec<serde_json::Value> = readings
        .iter()
        .map(|r| {
            let mut view = serde_json::to_value(r).unwrap_or_default();
            if let Some(entered) = frames.get(&r.frame_seq).and_then(crate::forms::manual::provenance) {
                view["entered_by"] = json!(entered.user);
                view["note"] = json!(entered.note);
            }
            view
        })
        .collect();
    Ok(meterhub_http::json(StatusCode::OK, &answer))
}

fn quarantine(
    state: &ApiState,
    params: &std::collections::HashMap<String, String>,
) -> Result<HttpResponse, ArchiveError> {
    let limit = match limit(params) {
        Ok(l) => l,
        Err(e) => return Ok(meterhub_http::error(StatusCode::BAD_REQUEST, &e)),
    };
    let entries: Vec<QuarantineView> =
        state.archive.quarantine(limit)?.into_iter().map(views::QuarantineView::from).collect();
    Ok(meterhub_http::json(StatusCode::OK, &entries))
}

fn rejections(
    state: &ApiState,
    params: &std::collections::HashMap<String, String>,
) -> Result<HttpResponse, ArchiveError> {
    let (Some(source), Ok(limit)) = (params.get("source"), limit(params)) else {
        return Ok(meterhub_http::error(
            StatusCode::BAD_REQUEST,
            "query parameters: source is required; limit 1..=100000",
        ));
    };
    let entries: Vec<views::RejectionView> =
        state.archive.rejections(source, limit)?.into_iter().map(views::RejectionView::from).collect();
    Ok(meterhub_http::json(StatusCode::OK, &entries))
}

fn stats(state: &ApiState) -> Result<HttpResponse, ArchiveError> {
    let sources: BTreeMap<String, SourceCounters> = state.archive.counters()?;
    let mut total = SourceCounters::default();
    for c in sources.values() {
        total.add(c);
    }
    let balanced = sources.values().all(SourceCounters::balanced);
    Ok(meterhub_http::json(
        StatusCode::OK,
        &json!({
            "sources": sources,
            "total": total,
            "invariant": "received = archived + duplicate + quarantined + rejected",
            "balanced": balanced,
            "applied_through": state.archive.applied_through()?,
            "listeners": state.gates.stats(),
        }),
    ))
}

async fn redecode(state: &ApiState, req: Request<Incoming>) -> HttpResponse {
    let body = match meterhub_http::api_body(req).await {
        Ok(b) => b,
        Err(response) => return response,
    };
    let selection: RedecodeSelection = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => {
            return meterhub_http::error(
                StatusCode::BAD_REQUEST,
                &format!("expected \"quarantined\" or {{\"received\": {{\"from_ms\": .., \"to_ms\": ..}}}}: {e}"),
            );
        }
    };
    match state.pipeline.redecode(selection).await {
        Ok(report) => meterhub_http::json(StatusCode::OK, &report),
        Err(e) => meterhub_http::error(StatusCode::INTERNAL_SERVER_ERROR, &e),
    }
}
