//! The live streams' HTTP side (`docs/api.md`, "Live streams"):
//! `GET /api/v1/stream` (Server-Sent Events), `GET /api/v1/stream/ws`
//! (WebSocket), `POST /api/v1/stream/{stream}/control`.

use futures_util::{SinkExt, StreamExt};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONNECTION, HeaderValue, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, UPGRADE};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role;

use super::state::ApiState;
use super::table::StreamEndpoint;
use crate::auth::Principal;
use crate::publish::client::ControlRefused;
use crate::publish::event::KEEPALIVE;
use crate::publish::hub::Refused;
use crate::publish::selection::Selection;
use crate::publish::stream::{Start, Stream};
use meterhub_http::{self, HttpResponse};

/// Query parameters a stream takes.
const PARAMETERS: [&str; 5] = ["device", "tree", "channel", "last_event_id", "snapshot"];

/// Largest WebSocket message a client may send (control requests are tiny).
const MAX_CLIENT_MESSAGE: usize = 4096;

/// `/api/v1/stream...`; `principal` passed the access check; `stream` is
/// the id in a control request's path.
pub async fn handle(
    state: &ApiState,
    req: Request<Incoming>,
    endpoint: StreamEndpoint,
    stream: &str,
    principal: Principal,
) -> HttpResponse {
    match endpoint {
        StreamEndpoint::Sse => open(state, req, principal, Transport::Sse),
        StreamEndpoint::WebSocket => open(state, req, principal, Transport::WebSocket),
        StreamEndpoint::Control => control(state, req, stream, &principal).await,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Sse,
    WebSocket,
}

/// The selection and start of a stream request; the error is a 400's.
fn parse(req: &Request<Incoming>) -> Result<(Selection, Start), String> {
    let pairs = meterhub_http::query::pairs(req.uri().query())?;
    if let Some((key, _)) = pairs.iter().find(|(k, _)| !PARAMETERS.contains(&k.as_str())) {
        return Err(format!("unknown query parameter {key:?} (known: {})", PARAMETERS.join(", ")));
    }
    let selection = Selection::from_query(&pairs)?;
    let value = |name: &str| pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    // EventSource sends Last-Event-ID by itself when it reconnects.
    let header = req.headers().get("last-event-id").map(|v| v.to_str().unwrap_or("?"));
    let start = match (header.or(value("last_event_id")), value("snapshot")) {
        (Some(id), _) => {
            Start::After(id.trim().parse().map_err(|_| format!("last event id: expected a number, got {id:?}"))?)
        }
        (None, Some("true" | "1")) => Start::Snapshot,
        (None, None | Some("false" | "0")) => Start::Live,
        (None, Some(other)) => return Err(format!("query parameter snapshot: expected true or false, got {other:?}")),
    };
    Ok((selection, start))
}

fn open(state: &ApiState, req: Request<Incoming>, principal: Principal, transport: Transport) -> HttpResponse {
    if !crate::auth::csrf::origin_allowed(&req) {
        let origin = req.headers().get(hyper::header::ORIGIN).and_then(|o| o.to_str().ok()).unwrap_or("?");
        return meterhub_http::error(
            StatusCode::FORBIDDEN,
            &format!("a stream from another site ({origin}) is refused"),
        );
    }
    let (selection, start) = match parse(&req) {
        Ok(parsed) => parsed,
        Err(e) => return meterhub_http::error(StatusCode::BAD_REQUEST, &e),
    };
    let user = principal.user.clone();
    let stream = match Stream::open(state.publisher.clone(), principal, selection, start) {
        Ok(stream) => stream,
        Err(Refused::Hidden(device)) => {
            return meterhub_http::error(
                StatusCode::FORBIDDEN,
                &format!("subscription refused: device {device:?} is not within the grants of {user}"),
            );
        }
    };
    match transport {
        Transport::Sse => sse(stream),
        Transport::WebSocket => websocket(req, stream),
    }
}

fn sse(stream: Stream) -> HttpResponse {
    // `retry`: EventSource reconnects after 1 s (its default is about 3).
    let chunks = futures_util::stream::unfold((stream, true), |(mut stream, first)| async move {
        let burst = stream.next().await?;
        let mut text = if first { String::from("retry: 1000\n\n") } else { String::new() };
        if burst.frames.is_empty() {
            text.push_str(KEEPALIVE);
        } else {
            text.push_str(&burst.sse());
        }
        Some((Bytes::from(text), (stream, false)))
    });
    let mut response = meterhub_http::streaming(StatusCode::OK, "text/event-stream; charset=utf-8", chunks);
    response.headers_mut().insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

fn websocket(mut req: Request<Incoming>, stream: Stream) -> HttpResponse {
    let headers = req.headers();
    let upgrade =
        headers.get(UPGRADE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let connection = headers
        .get(CONNECTION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("upgrade")));
    let version = headers.get(SEC_WEBSOCKET_VERSION).is_some_and(|v| v == "13");
    let (true, true, true, Some(key)) = (upgrade, connection, version, headers.get(SEC_WEBSOCKET_KEY)) else {
        return meterhub_http::error(
            StatusCode::BAD_REQUEST,
            "a WebSocket handshake needs Upgrade: websocket, Connection: Upgrade, Sec-WebSocket-Version: 13 and a Sec-WebSocket-Key",
        );
    };
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let upgrading = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        match upgrading.await {
            Ok(upgraded) => {
                let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
                    .max_message_size(Some(MAX_CLIENT_MESSAGE))
                    .max_frame_size(Some(MAX_CLIENT_MESSAGE));
                let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
                serve_websocket(ws, stream).await;
            }
            Err(e) => tracing::debug!(error = %e, "stream WebSocket upgrade failed"),
        }
    });
    let mut response = meterhub_http::response(StatusCode::SWITCHING_PROTOCOLS, "text/plain", Bytes::new());
    response.headers_mut().remove(hyper::header::CONTENT_TYPE);
    let headers = response.headers_mut();
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(accept) = HeaderValue::from_str(&accept) {
        headers.insert(SEC_WEBSOCKET_ACCEPT, accept);
    }
    response
}

/// A control request, as a WebSocket message or an SSE control request's body.
#[derive(Debug, Deserialize)]
struct ControlRequest {
    #[serde(rename = "type")]
    #[serde(default)]
    kind: Option<String>,
    ts: i64,
}

async fn serve_websocket(ws: WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>, mut stream: Stream) {
    let (mut sink, mut incoming) = ws.split();
    loop {
        tokio::select! {
            burst = stream.next() => {
                let Some(burst) = burst else {
                    let _ = sink.send(Message::Close(None)).await;
                    return;
                };
                let sent = if burst.frames.is_empty() {
                    sink.send(Message::Ping(Bytes::new())).await
                } else {
                    let mut sent = Ok(());
                    for message in burst.websocket() {
                        sent = sink.feed(Message::Text(message.into())).await;
                        if sent.is_err() {
                            break;
                        }
                    }
                    match sent {
                        Ok(()) => sink.flush().await,
                        failed => failed,
                    }
                };
                if sent.is_err() {
                    return;
                }
            }
            message = incoming.next() => match message {
                Some(Ok(Message::Text(text))) => match serde_json::from_str::<ControlRequest>(&text) {
                    Ok(request) if request.kind.as_deref() == Some("control") => {
                        // One queued at a time: a request while one is queued is ignored.
                        let _ = stream.client().request_control(request.ts);
                    }
                    _ => tracing::debug!(message = %text, "stream: a WebSocket message that is not a control request; ignored"),
                },
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

async fn control(state: &ApiState, req: Request<Incoming>, stream: &str, principal: &Principal) -> HttpResponse {
    let body = match meterhub_http::api_body(req).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let request: ControlRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => return meterhub_http::error(StatusCode::BAD_REQUEST, &format!("expected {{\"ts\": <ms>}}: {e}")),
    };
    // Only the session that opened a stream may ask on it.
    let client = state
        .publisher
        .stream(stream)
        .filter(|c| c.session.as_deref() == principal.session_id() && c.user() == principal.user);
    let Some(client) = client else {
        return meterhub_http::error(StatusCode::NOT_FOUND, &format!("no open stream {stream:?} of this session"));
    };
    match client.request_control(request.ts) {
        Ok(()) => meterhub_http::json(StatusCode::ACCEPTED, &serde_json::json!({ "ok": true })),
        Err(ControlRefused::Pending) => {
            meterhub_http::error(StatusCode::CONFLICT, "a control frame is still queued for this stream; ignored")
        }
        Err(ControlRefused::Closed) => meterhub_http::error(StatusCode::GONE, "the stream is closing"),
    }
}
