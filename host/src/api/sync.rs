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
    let answer = state.center.authenticate(site, bearer(req)).and_then(|()| state.center.position(site));
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
    match state.center.receive(site, &peer.to_string(), &body).await {
        Ok(answer) => meterhub_http::json(StatusCode::OK, &answer),
        Err(refused) => refusal(refused),
    }
}

/// `GET /api/v1/sync`.
pub fn overview(state: &ApiState) -> HttpResponse {
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
    meterhub_http::json(StatusCode::OK, &json!({ "links": links, "sites": state.center.sites() }))
}
