//! The hyper plumbing shared by every HTTP server of the house (the HTTP
//! ingress transport, the API, the simulators): accept loop, one task per
//! connection, JSON answers, bounded request bodies; [`query`] parses
//! query strings and the timestamp forms they carry.

pub mod query;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// A response body: buffered, or streamed (live streams).
pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// A response.
pub type HttpResponse = Response<Body>;

/// Serve HTTP/1.1 on `listener` until `until` completes, calling `handler`
/// for each request. Connections already accepted go on to their end.
pub async fn serve<F, Fut>(listener: Arc<TcpListener>, name: &'static str, until: impl Future<Output = ()>, handler: F)
where
    F: Fn(Request<Incoming>, SocketAddr) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = HttpResponse> + Send + 'static,
{
    let mut until = std::pin::pin!(until);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut until => return,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(server = name, error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let handler = handler.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let handler = handler.clone();
                async move { Ok::<_, Infallible>(handler(req, peer).await) }
            });
            // Upgrades: the API's WebSocket streams (`api::stream`).
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await
            {
                tracing::debug!(server = name, %peer, error = %e, "connection ended with an error");
            }
        });
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

/// A JSON error: `{"ok": false, "error": message}`.
pub fn error(status: StatusCode, message: &str) -> HttpResponse {
    let body = serde_json::json!({ "ok": false, "error": message });
    response(status, "application/json", body.to_string())
}

/// Largest request body the API reads.
pub const MAX_API_BODY_BYTES: usize = 64 * 1024;

/// The body of an API request, at most [`MAX_API_BODY_BYTES`]; a 400 answer
/// saying why when it cannot be read.
pub async fn api_body(req: Request<Incoming>) -> Result<Bytes, HttpResponse> {
    match Limited::new(req.into_body(), MAX_API_BODY_BYTES).collect().await {
        Ok(b) => Ok(b.to_bytes()),
        Err(e) => Err(error(StatusCode::BAD_REQUEST, &format!("body could not be read: {e}"))),
    }
}
