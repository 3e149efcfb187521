//! The storage API's requests and answers, as The Things Stack's HTTP
//! gateway gives them for `ApplicationUpStorage.GetStoredApplicationUp`:
//!
//! ```text
//! GET /api/v3/as/applications/{application_id}/packages/storage/uplink_message?...
//! GET /api/v3/as/applications/{application_id}/devices/{device_id}/packages/storage/uplink_message?...
//! Authorization: Bearer {key}
//! ```
//!
//! - `200`, `Content-Type: text/event-stream`: one line per message,
//!   `{"result":{...}}\n`, the `{...}` byte for byte the webhook body.
//! - Errors, in The Things Stack's JSON (`code` a gRPC code, `message`
//!   `error:{namespace}:{name} ({text})`, `details`). Those its server
//!   gives come in a streamed call's wrapping, `{"error":{...}}` and a
//!   newline: 401 (code 16) without the right `Authorization: Bearer`,
//!   404 (code 5) for an application or a device not there, 400 (code 3)
//!   for values that do not go together ([`Query::check`]). Those its
//!   gateway gives are bare, `{"code":..,"message":..,"details":[]}`: 400
//!   (code 3) for a value not of its type ([`Query::read`]), 404 (code 5,
//!   `Not Found`) for another path, 405 (code 12, `Method Not Allowed`)
//!   for another method than GET.
//!
//! The application id is the one the webhook bodies carry
//! (`end_device_ids.application_ids.application_id`), or that with
//! `@{tenant}` as The Things Stack Cloud writes it; path segments may be
//! percent-encoded (`%40` for `@`).

use std::collections::HashSet;
use std::sync::Arc;

use hyper::body::Bytes;
use hyper::{Method, StatusCode};
use meterhub_http::HttpResponse;

use super::Store;
use super::query::Query;
use crate::lns::clock::Stamp;

/// The path before the application id.
const PREFIX: &str = "/api/v3/as/applications/";

/// A refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The HTTP status.
    pub status: StatusCode,
    /// The gRPC code.
    pub code: u8,
    /// The message.
    pub message: String,
    /// Given by the server within a streamed call (`{"error":{...}}`),
    /// rather than by the gateway (bare).
    pub streamed: bool,
}

impl Fault {
    /// A refusal of The Things Stack's server: `error:{namespace}:{name} ({text})`.
    fn server(status: StatusCode, code: u8, namespace: &str, name: &str, text: &str) -> Fault {
        Fault { status, code, message: format!("error:{namespace}:{name} ({text})"), streamed: true }
    }

    /// A refusal of its HTTP gateway.
    fn gateway(status: StatusCode, code: u8, message: &str) -> Fault {
        Fault { status, code, message: message.to_owned(), streamed: false }
    }

    /// The JSON body, its fields in The Things Stack's order.
    pub fn body(&self) -> Vec<u8> {
        let message = serde_json::Value::from(self.message.as_str());
        let error = format!("{{\"code\":{},\"message\":{message},\"details\":[]}}", self.code);
        if self.streamed { format!("{{\"error\":{error}}}\n").into_bytes() } else { error.into_bytes() }
    }
}

/// What a request gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The messages selected (their webhook bodies), in order.
    Messages(Vec<Bytes>),
    /// A refusal.
    Fault(Fault),
}

impl Answer {
    /// The HTTP response and the number of messages in it.
    pub fn response(self) -> (HttpResponse, u64) {
        match self {
            Answer::Messages(bodies) => {
                let mut out = Vec::with_capacity(bodies.iter().map(|b| b.len() + 12).sum());
                for body in &bodies {
                    out.extend_from_slice(b"{\"result\":");
                    out.extend_from_slice(body);
                    out.extend_from_slice(b"}\n");
                }
                (meterhub_http::response(StatusCode::OK, "text/event-stream", out), bodies.len() as u64)
            }
            Answer::Fault(fault) => (meterhub_http::response(fault.status, "application/json", fault.body()), 0),
        }
    }
}

/// The API of one simulated application.
#[derive(Debug)]
pub struct Api {
    store: Arc<Store>,
    key: String,
    application: String,
    tenant: String,
    devices: HashSet<String>,
}

/// One path segment, percent-decoded; `None` when empty or malformed.
fn segment(text: &str) -> Option<String> {
    meterhub_http::query::percent_decode(text).filter(|s| !s.is_empty())
}

/// The application id and device id (if any) of a storage path.
fn route(path: &str) -> Option<(String, Option<String>)> {
    let parts: Vec<&str> = path.strip_prefix(PREFIX)?.split('/').collect();
    match parts.as_slice() {
        [application, "packages", "storage", "uplink_message"] => Some((segment(application)?, None)),
        [application, "devices", device, "packages", "storage", "uplink_message"] => {
            Some((segment(application)?, Some(segment(device)?)))
        }
        _ => None,
    }
}

impl Api {
    /// The API of `store` for `application` (as the webhook bodies spell
    /// it) of `tenant`, its `devices` (ids), taking API key `key`.
    pub fn new(
        store: Arc<Store>,
        key: String,
        application: String,
        tenant: String,
        devices: impl IntoIterator<Item = String>,
    ) -> Api {
        Api { store, key, application, tenant, devices: devices.into_iter().collect() }
    }

    /// Whether `id` names the application: as the bodies spell it, or
    /// with `@{tenant}`.
    fn is_application(&self, id: &str) -> bool {
        id == self.application
            || id.strip_prefix(self.application.as_str()).and_then(|r| r.strip_prefix('@')) == Some(&self.tenant)
    }

    /// The answer to `method` on `path` with `query` and `authorization`
    /// (the header's value, if any), `now` being the request's time.
    pub fn answer(
        &self,
        method: &Method,
        path: &str,
        query: Option<&str>,
        authorization: Option<&[u8]>,
        now: Stamp,
    ) -> Answer {
        let Some((application, device)) = route(path) else {
            return Answer::Fault(Fault::gateway(StatusCode::NOT_FOUND, 5, "Not Found"));
        };
        if method != Method::GET {
            return Answer::Fault(Fault::gateway(StatusCode::METHOD_NOT_ALLOWED, 12, "Method Not Allowed"));
        }
        let mut query = match Query::read(query) {
            Ok(query) => query,
            Err(message) => return Answer::Fault(Fault::gateway(StatusCode::BAD_REQUEST, 3, &message)),
        };
        if let Err(fault) = self.authorize(authorization) {
            return Answer::Fault(fault);
        }
        if !self.is_application(&application) {
            let text = format!("application `{application}` not found");
            let fault =
                Fault::server(StatusCode::NOT_FOUND, 5, "pkg/identityserver/store", "application_not_found", &text);
            return Answer::Fault(fault);
        }
        if let Some(device) = device.as_deref().filter(|d| !self.devices.contains(*d)) {
            let text = format!("end device `{application}.{device}` not found");
            let fault =
                Fault::server(StatusCode::NOT_FOUND, 5, "pkg/identityserver/store", "end_device_not_found", &text);
            return Answer::Fault(fault);
        }
        if let Err(text) = query.check() {
            return Answer::Fault(Fault::server(StatusCode::BAD_REQUEST, 3, "pkg/ttnpb", "validation", &text));
        }
        let (after, before) = query.bounds(now);
        let limit = query.limit.map(|l| usize::try_from(l).unwrap_or(usize::MAX));
        Answer::Messages(self.store.select(device.as_deref(), after, before, query.order, limit))
    }

    /// Check `Authorization: Bearer {key}` (the scheme in any case).
    fn authorize(&self, authorization: Option<&[u8]>) -> Result<(), Fault> {
        let unauthenticated = Fault::server(
            StatusCode::UNAUTHORIZED,
            16,
            "pkg/rpcmetadata",
            "unauthenticated",
            "the context is not authenticated",
        );
        let value = authorization.and_then(|v| std::str::from_utf8(v).ok()).ok_or(unauthenticated.clone())?;
        let (scheme, key) = value.trim().split_once(' ').ok_or(unauthenticated.clone())?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(unauthenticated);
        }
        if key.trim() != self.key {
            return Err(Fault::server(
                StatusCode::UNAUTHORIZED,
                16,
                "pkg/identityserver",
                "api_key_not_found",
                "API key not found",
            ));
        }
        Ok(())
    }
}
