//! The hyper plumbing shared by every HTTP server of the house (the HTTP
//! ingress transport, the API, the simulators): accept loop, one task per
//! connection, JSON answers, bounded request bodies; [`gate`] admits
//! connections and counts refusals (the TCP transport uses it too);
//! [`query`] parses query strings and the timestamp forms they carry;
//! [`security`] is the one list of security headers, on every answer (those
//! hyper's parser writes itself through [`parser_answers`]).

pub mod gate;
pub mod parser_answers;
pub mod query;
pub mod security;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

use gate::Timeout;
pub use gate::{Gate, Gates, Limits};
use parser_answers::{ParserAnswers, ServiceResponses, Tracked};

/// A response body: buffered, or streamed (live streams).
pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// A response.
pub type HttpResponse = Response<Body>;

/// Longest request target the servers take; longer gets 414 ([`oversized`],
/// with the handler's headers and a JSON reason, where hyper's own 414 for
/// targets over 64 KiB has only the [`security`] headers and no body).
pub const MAX_TARGET_BYTES: usize = 8 * 1024;
/// Largest request head (names and values of every header) the servers
/// take; larger gets 431.
pub const MAX_HEAD_BYTES: usize = 32 * 1024;

/// How a listener serves: plain or HTTPS, and whether its answers tell
/// browsers to keep to HTTPS.
#[derive(Clone, Default)]
pub struct ServeOptions {
    /// Each connection is HTTPS through this acceptor.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// Every answer carries `Strict-Transport-Security`
    /// ([`security::STRICT_TRANSPORT_SECURITY`]): the host is reached over
    /// HTTPS (its cookies are `Secure`).
    pub hsts: bool,
}

/// Serve HTTP/1.1 on `listener` until `until` completes, calling `handler`
/// for each request: [`serve_with`] with `tls` and no
/// `Strict-Transport-Security`.
pub async fn serve<F, Fut>(
    listener: Arc<TcpListener>,
    gate: Arc<Gate>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    until: impl Future<Output = ()>,
    handler: F,
) where
    F: Fn(Request<Incoming>, SocketAddr) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = HttpResponse> + Send + 'static,
{
    serve_with(listener, gate, ServeOptions { tls, hsts: false }, until, handler).await;
}

/// Serve HTTP/1.1 on `listener` until `until` completes, calling `handler`
/// for each request. Connections already accepted go on to their end.
///
/// Each connection passes `gate` first (refused ones are closed at once),
/// its request heads must arrive within the gate's header timeout, and
/// every answer of 400 and above is counted on the gate, those of the HTTP
/// parser itself included. The gate is in each request's extensions, for
/// [`read_body`]. Every answer carries the [`security`] headers: the
/// handler's get those it did not set, the parser's own get them written
/// into their head ([`parser_answers`]). With `options.tls`, each
/// connection is HTTPS: its handshake must complete within the header
/// timeout.
pub async fn serve_with<F, Fut>(
    listener: Arc<TcpListener>,
    gate: Arc<Gate>,
    options: ServeOptions,
    until: impl Future<Output = ()>,
    handler: F,
) where
    F: Fn(Request<Incoming>, SocketAddr) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = HttpResponse> + Send + 'static,
{
    let lines: Arc<[u8]> = security::head_lines(options.hsts).into();
    let mut until = std::pin::pin!(until);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut until => return,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(listener = gate.name(), error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(admission) = gate.admit(peer.ip()) else { continue };
        let security = Security { hsts: options.hsts, lines: lines.clone() };
        let handler = handler.clone();
        let gate = gate.clone();
        let tls = options.tls.clone();
        tokio::spawn(async move {
            match tls {
                None => connection(stream, peer, &gate, security, handler).await,
                Some(acceptor) => {
                    // The handshake is part of the request head's time.
                    match tokio::time::timeout(gate.limits().header_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => connection(stream, peer, &gate, security, handler).await,
                        Ok(Err(e)) => {
                            gate.dropped();
                            tracing::debug!(listener = gate.name(), %peer, error = %e, "TLS handshake failed");
                        }
                        Err(_) => gate.timed_out(Timeout::Header),
                    }
                }
            }
            drop(admission);
        });
    }
}

/// The security headers of one listener's answers.
struct Security {
    /// `Strict-Transport-Security` too.
    hsts: bool,
    /// The same as head lines ([`security::head_lines`]), for hyper's own
    /// answers.
    lines: Arc<[u8]>,
}

/// Serve one connection's requests with `handler`.
async fn connection<S, F, Fut>(stream: S, peer: SocketAddr, gate: &Arc<Gate>, security: Security, handler: F)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    F: Fn(Request<Incoming>, SocketAddr) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = HttpResponse> + Send + 'static,
{
    let responses = Arc::new(ServiceResponses::default());
    let io = TokioIo::new(ParserAnswers::new(stream, responses.clone(), security.lines));
    let counting = gate.clone();
    let hsts = security.hsts;
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        let handler = handler.clone();
        let gate = counting.clone();
        let responses = responses.clone();
        async move {
            req.extensions_mut().insert(gate.clone());
            let mut response = handler(req, peer).await;
            gate.answered(response.status().as_u16());
            security::fill(response.headers_mut(), hsts);
            let open = responses.made(response.status());
            Ok::<_, Infallible>(response.map(|body| Tracked::new(body, open)))
        }
    });
    // Upgrades: the API's WebSocket streams (`api::stream`).
    let served = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(gate.limits().header_timeout)
        .serve_connection(io, service)
        .with_upgrades()
        .await;
    if let Err(e) = served {
        count_connection_error(gate, &e);
        tracing::debug!(listener = gate.name(), %peer, error = %e, "connection ended with an error");
    }
}

/// A 414 or 431 for a request whose target or head is over
/// [`MAX_TARGET_BYTES`] or [`MAX_HEAD_BYTES`]: each handler asks first, so
/// the answer carries its headers.
pub fn oversized(req: &Request<Incoming>) -> Option<HttpResponse> {
    let target = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if target > MAX_TARGET_BYTES {
        let message = format!("request target of {target} bytes, more than the {MAX_TARGET_BYTES} taken");
        return Some(error(StatusCode::URI_TOO_LONG, &message));
    }
    let head: usize = req.headers().iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum();
    (head > MAX_HEAD_BYTES).then(|| {
        let message = format!("request headers of {head} bytes, more than the {MAX_HEAD_BYTES} taken");
        error(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, &message)
    })
}

/// Counts how a connection ended in error: a timed-out request head, an
/// answer the parser made itself (400, 414, 431), or a drop.
fn count_connection_error(gate: &Gate, e: &hyper::Error) {
    if e.is_timeout() {
        gate.timed_out(Timeout::Header);
    } else if e.is_parse_too_large() {
        let uri = e.to_string().contains("URI");
        gate.answered(if uri { 414 } else { 431 });
    } else if e.is_parse() {
        gate.answered(400);
    } else {
        gate.dropped();
    }
}

/// The body of `req`, at most `limit` bytes, read within the gate's body
/// timeout. A declared length over the limit is refused (413) before a
/// byte is read; a body that grows over it is 413 too, a body too slow 408
/// (counted on the gate), one that cannot be read 400.
pub async fn read_body(req: Request<Incoming>, limit: usize) -> Result<Bytes, BodyRefused> {
    let declared = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(declared) = declared.filter(|&n| n > limit as u64) {
        let message = format!("body of {declared} bytes declared, more than the {limit} taken");
        return Err(BodyRefused { status: StatusCode::PAYLOAD_TOO_LARGE, message });
    }
    let gate = req.extensions().get::<Arc<Gate>>().cloned();
    let timeout = gate.as_ref().map_or(Limits::INGEST.body_timeout, |g| g.limits().body_timeout);
    match tokio::time::timeout(timeout, Limited::new(req.into_body(), limit).collect()).await {
        Err(_) => {
            if let Some(gate) = gate {
                gate.timed_out(Timeout::Body);
            }
            let message = format!("body not received within {} s", timeout.as_secs_f64());
            Err(BodyRefused { status: StatusCode::REQUEST_TIMEOUT, message })
        }
        Ok(Ok(body)) => Ok(body.to_bytes()),
        Ok(Err(e)) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
            let message = format!("body larger than the {limit} bytes taken");
            Err(BodyRefused { status: StatusCode::PAYLOAD_TOO_LARGE, message })
        }
        Ok(Err(e)) => {
            Err(BodyRefused { status: StatusCode::BAD_REQUEST, message: format!("body could not be read: {e}") })
        }
    }
}

/// Why [`read_body`] refused a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyRefused {
    /// 400, 408 or 413.
    pub status: StatusCode,
    /// What was wrong, for the answer.
    pub message: String,
}

impl BodyRefused {
    /// The JSON error answer.
    pub fn response(&self) -> HttpResponse {
        error(self.status, &self.message)
    }
}

/// A response with `body` of `content_type`.
pub fn response(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> HttpResponse {
    let mut r = Response::new(Full::new(body.into()).boxed_unsync());
    *r.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

/// A response whose body is `chunks` as they come (written as the peer
/// reads: while it does not, the stream is not polled).
pub fn streaming(
    status: StatusCode,
    content_type: &str,
    chunks: impl futures_util::Stream<Item = Bytes> + Send + 'static,
) -> HttpResponse {
    use futures_util::StreamExt;
    let body = StreamBody::new(chunks.map(|chunk| Ok::<_, Infallible>(Frame::data(chunk))));
    let mut r = Response::new(BodyExt::boxed_unsync(body));
    *r.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

/// A JSON response.
pub fn json(status: StatusCode, value: &impl serde::Serialize) -> HttpResponse {
    match serde_json::to_vec_pretty(value) {
        Ok(body) => response(status, "application/json", body),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &format!("cannot render the response: {e}")),
    }
}

/// A JSON error: `{"ok": false, "error": message, "code": ...}`, the code
/// the status's own (`not_found`, `forbidden`, ...; [`status_code`]).
pub fn error(status: StatusCode, message: &str) -> HttpResponse {
    coded_error(status, &status_code(status), message)
}

/// The stable machine code of `status`: its reason phrase in snake case
/// (`bad_request`, `not_found`, `payload_too_large`, `internal_server_error`).
pub fn status_code(status: StatusCode) -> String {
    status.canonical_reason().unwrap_or("error").to_ascii_lowercase().replace([' ', '-'], "_").replace('\'', "")
}

/// An error answer with a stable machine `code` beside the English
/// `message` (a client translates by the code).
pub fn coded_error(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    let body = serde_json::json!({ "ok": false, "error": message, "code": code });
    response(status, "application/json", body.to_string())
}

/// Largest request body the API reads.
pub const MAX_API_BODY_BYTES: usize = 64 * 1024;

/// The body of an API request, at most [`MAX_API_BODY_BYTES`] ([`read_body`]).
pub async fn api_body(req: Request<Incoming>) -> Result<Bytes, HttpResponse> {
    read_body(req, MAX_API_BODY_BYTES).await.map_err(|refused| refused.response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_a_stable_code_beside_its_english_text() {
        assert_eq!(status_code(StatusCode::NOT_FOUND), "not_found");
        assert_eq!(status_code(StatusCode::PAYLOAD_TOO_LARGE), "payload_too_large");
        assert_eq!(status_code(StatusCode::IM_A_TEAPOT), "im_a_teapot");
        assert_eq!(status_code(StatusCode::INTERNAL_SERVER_ERROR), "internal_server_error");
    }
}
