//! The sync endpoints (`docs/sync.md`):
//!
//! - a center's receiver, answering only to a site's token:
//!   `GET /api/v1/sync/sites/{site}/position` and
//!   `POST /api/v1/sync/sites/{site}/batches`;
//! - `GET /api/v1/sync`: every link at a glance, this host's links to its
//!   centers (as a site) and its sites (as a center).

use std::net::SocketAddr;

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use meterhub_http::HttpResponse;
use meterhub_storage::clock::now_ms;
use serde_json::json;

use super::state::ApiState;
use crate::config::SYNC_CENTER;
use crate::sync::center::Refused;

fn refusal(refused: Refused) -> HttpResponse {
    let status = StatusCode::from_u16(refused.status).unwrap_or(StatusCode::BAD_REQUEST);
    match refused.position {
        Some(position) => meterhub_http::json(status, &json!({ "error": refused.message, "position": position })),
        None => meterhub_http::error(status, &refused.message),
    }
}

fn bearer(req: &Request<Incoming>) -> Option<&str> {
    let value = req.headers().get(hyper::header::AUTHORIZATION)?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(str::trim)
}

/// `GET /api/v1/sync/sites/{site}/position`.
pub fn position(state: &ApiState, req: &Request<Incoming>, site: &str) -> HttpResponse {
    // `?origin=<n>`: the installation asking (docs/sync.md).
    let origin = req
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("origin=")).and_then(|v| v.parse::<u64>().ok()));
    let answer = state.center.authenticate(site, bearer(req)).and_then(|()| state.center.position(site, origin));
    match answer {
        Ok(position) => meterhub_http::json(
            StatusCode::OK,
            &crate::sync::wire::Answer { position, already_held: false, error: None },
        ),
        Err(refused) => refusal(refused),
    }
}

/// `POST /api/v1/sync/sites/{site}/batches`.
pub async fn batch(state: &ApiState, req: Request<Incoming>, site: &str, peer: SocketAddr) -> HttpResponse {
    if let Err(refused) = state.center.authenticate(site, bearer(&req)) {
        return refusal(refused);
    }
    let body = match meterhub_http::read_body(req, state.center.max_batch_bytes()).await {
        Ok(body) => body,
        Err(refused) => {
            let message = format!("site {site}: {}", refused.message);
            return meterhub_http::error(refused.status, &message);
        }
    };
    // Run to its end even if the site's connection drops meanwhile (hyper
    // drops a request's future with its connection): a batch the journal
    // took must also move the center's position, or the batch sent again
    // after the lost answer would be taken a second time.
    let (center, site, peer) = (state.center.clone(), site.to_owned(), peer.to_string());
    let received = tokio::spawn(async move { center.receive(&site, &peer, &body).await }).await;
    match received {
        Ok(Ok(answer)) => meterhub_http::json(StatusCode::OK, &answer),
        Ok(Err(refused)) => refusal(refused),
        Err(e) => meterhub_http::error(StatusCode::INTERNAL_SERVER_ERROR, &format!("the receiver failed: {e}")),
    }
}

/// `POST /api/v1/sync/sites/{site}/check`.
pub async fn site_check(state: &ApiState, req: Request<Incoming>, site: &str) -> HttpResponse {
    if let Err(refused) = state.center.authenticate(site, bearer(&req)) {
        return refusal(refused);
    }
    let body = match meterhub_http::read_body(req, state.center.max_batch_bytes()).await {
        Ok(body) => body,
        Err(refused) => return meterhub_http::error(refused.status, &format!("site {site}: {}", refused.message)),
    };
    match state.center.check(site, &body).await {
        Ok(report) => meterhub_http::json(StatusCode::OK, &report),
        Err(refused) => refusal(refused),
    }
}

/// `POST /api/v1/sync/check?sink=<id>&from=<t>&to=<t>` (or `days=<n>`,
/// the last n UTC days): check a link with its center now (the host's only
/// link when `sink` is not given). Times are ms or RFC 3339.
pub async fn check(state: &ApiState, params: &std::collections::HashMap<String, String>) -> HttpResponse {
    use crate::sync::check::{MAX_DAYS, period};
    if let Some(key) = params.keys().find(|k| !matches!(k.as_str(), "sink" | "days" | "from" | "to")) {
        let message = format!("unknown query parameter {key:?} (known: sink, days, from, to)");
        return meterhub_http::error(StatusCode::BAD_REQUEST, &message);
    }
    let time = |key: &str| params.get(key).map(|t| meterhub_plugin_api::time::parse_ms_or_rfc3339(t));
    let span = match (params.get("days").map(|d| d.parse::<i64>()), time("from"), time("to")) {
        (None, None, None) => Ok(period(crate::sync::link::CHECK_DAYS, now_ms())),
        (Some(Ok(n)), None, None) if (1..=MAX_DAYS).contains(&n) => Ok(period(n, now_ms())),
        (Some(_), None, None) => Err(format!("query parameter days: expected 1..={MAX_DAYS}")),
        (None, Some(Ok(from)), Some(Ok(to))) if from < to && to - from <= MAX_DAYS * 86_400_000 => Ok((from, to)),
        (None, Some(Ok(_)), Some(Ok(_))) => Err(format!("from must be before to, at most {MAX_DAYS} days apart")),
        (None, Some(Err(e)), _) | (None, _, Some(Err(e))) => Err(format!("from/to: {e}")),
        _ => Err("give days, or both from and to".to_owned()),
    };
    let (from_ms, to_ms) = match span {
        Ok(span) => span,
        Err(message) => return meterhub_http::error(StatusCode::BAD_REQUEST, &message),
    };
    let links: Vec<String> =
        state.sinks.snapshot().into_iter().filter(|s| s.plugin == SYNC_CENTER).map(|s| s.id).collect();
    let id = match (params.get("sink"), links.as_slice()) {
        (Some(id), _) if links.contains(id) => id.clone(),
        (Some(id), _) => {
            return meterhub_http::error(StatusCode::NOT_FOUND, &format!("no sync-center sink {id:?} is configured"));
        }
        (None, [only]) => only.clone(),
        (None, []) => {
            return meterhub_http::error(
                StatusCode::NOT_FOUND,
                "this host has no sync-center sink to check (docs/sync.md)",
            );
        }
        (None, _) => {
            return meterhub_http::error(
                StatusCode::BAD_REQUEST,
                "this host has several sync links: name one with sink=<id>",
            );
        }
    };
    super::sinks::ask(state, &id, |reply| crate::sink::status::Command::Check(from_ms, to_ms, reply)).await
}

/// `GET /api/v1/sync`.
pub fn overview(state: &ApiState) -> HttpResponse {
    meterhub_http::json(StatusCode::OK, &links(state))
}

/// Every sync link: this host's to its centers, and its sites' (as a center).
pub fn links(state: &ApiState) -> serde_json::Value {
    let now = now_ms();
    let links: Vec<serde_json::Value> = state
        .sinks
        .snapshot()
        .into_iter()
        .filter(|s| s.plugin == SYNC_CENTER)
        .map(|s| {
            let link_state = crate::sync::link::state_of(&s, now);
            json!({ "state": link_state, "sink": s })
        })
        .collect();
    json!({ "links": links, "sites": state.center.sites() })
}
