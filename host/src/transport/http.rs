//! HTTP ingress transport: one driver session per request. The host
//! enforces the body limit (413) before the driver sees anything, and sends
//! the driver's response only after the session's commits are durable.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Limited};
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
pub async fn serve(slot: RuntimeSlot, listener: Arc<TcpListener>, limits: HttpLimits) {
    let mut closed = slot.clone();
    let until = async move { while closed.changed().await.is_ok() {} };
    meterhub_http::serve(listener, "http-ingress", until, move |req, peer| {
        let rt = slot.borrow().clone();
        handle(rt, req, peer, limits)
    })
    .await;
}

async fn handle(rt: Arc<DriverRuntime>, req: Request<Incoming>, peer: SocketAddr, limits: HttpLimits) -> HttpResponse {
    let method = req.method().as_str().to_owned();
    let target = req.uri().path_and_query().map_or_else(|| req.uri().path().to_owned(), |pq| pq.as_str().to_owned());
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let limit = usize::try_from(limits.max_body_bytes).unwrap_or(usize::MAX);
    let body = Limited::new(req.into_body(), limit).collect().await;
    let mut session = Session::open(rt, Transport::Http, peer.to_string());
    let body = match body {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(e) => {
            let too_large = e.downcast_ref::<http_body_util::LengthLimitError>().is_some();
            let (status, reason) = if too_large {
                (StatusCode::PAYLOAD_TOO_LARGE, format!("{method} {target}: body larger than max_body_bytes ({limit})"))
            } else {
                (StatusCode::BAD_REQUEST, format!("{method} {target}: body could not be read: {e}"))
            };
            session.reject_by_host(reason.clone(), &[]);
            session.close().await;
            return meterhub_http::error(status, &reason);
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
