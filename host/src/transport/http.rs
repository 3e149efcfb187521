//! HTTP ingress transport: one driver session per request. The host
//! enforces the body limit (413) before the driver sees anything, and sends
//! the driver's response only after the session's commits are durable.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use meterhub_plugin_api::{Event, HttpRequest, Transport};
use tokio::net::TcpListener;

use super::session::Session;
use super::{DriverRuntime, RuntimeSlot};
use meterhub_http::{self, HttpResponse};

/// Limits of one HTTP ingress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Largest body, bytes.
    pub max_body_bytes: u64,
    /// Longest wait for the driver's response.
    pub request_timeout: Duration,
}

/// Serve requests on `listener`, each as a session on the slot's current
/// runtime, until the slot's sender is dropped.
pub async fn serve(slot: RuntimeSlot, listener: Arc<TcpListener>, limits: HttpLimits, gate: Arc<meterhub_http::Gate>) {
    let mut closed = slot.clone();
    let until = async move { while closed.changed().await.is_ok() {} };
    meterhub_http::serve(listener, gate, None, until, move |req, peer| {
        let rt = slot.borrow().clone();
        handle(rt, req, peer, limits)
    })
    .await;
}

async fn handle(rt: Arc<DriverRuntime>, req: Request<Incoming>, peer: SocketAddr, limits: HttpLimits) -> HttpResponse {
    if let Some(refusal) = meterhub_http::oversized(&req) {
        return refusal;
    }
    let method = req.method().as_str().to_owned();
    let target = req.uri().path_and_query().map_or_else(|| req.uri().path().to_owned(), |pq| pq.as_str().to_owned());
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let limit = usize::try_from(limits.max_body_bytes).unwrap_or(usize::MAX);
    let body = meterhub_http::read_body(req, limit).await;
    let mut session = Session::open(rt, Transport::Http, peer.to_string());
    let body = match body {
        Ok(body) => body.to_vec(),
        Err(refused) => {
            let reason = format!("{method} {target}: {} (max_body_bytes {limit})", refused.message);
            session.reject_by_host(reason.clone(), &[]);
            session.close().await;
            return meterhub_http::error(refused.status, &reason);
        }
    };
    session.deliver(Event::Request(HttpRequest { method, target, headers, body }));
    let deadline = tokio::time::Instant::now() + limits.request_timeout;
    let response = loop {
        if let Some(r) = session.take_response() {
            let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            break meterhub_http::response(status, &r.content_type, r.body);
        }
        if let Some(reason) = session.close_reason() {
            break meterhub_http::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("driver closed the request: {reason}"),
            );
        }
        if !session.has_work() {
            break meterhub_http::error(StatusCode::INTERNAL_SERVER_ERROR, "driver gave no response");
        }
        if tokio::time::timeout_at(deadline, session.progress()).await.is_err() {
            break meterhub_http::error(StatusCode::SERVICE_UNAVAILABLE, "driver did not answer in time");
        }
    };
    session.close().await;
    response
}
