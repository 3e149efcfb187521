//! One outbound HTTP(S) connection the host keeps to a server, open
//! between requests and opened again after any failure: a site's link to
//! its center (one connection, so it passes firewalls and NAT) and a
//! driver's fetch session to its upstream API.

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// How long connecting (TCP and TLS) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read, unless [`Client::with_max_answer`] says.
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// Where the center is.
#[derive(Debug, Clone)]
struct Endpoint {
    https: bool,
    host: String,
    port: u16,
    authority: String,
}

/// A connection to a server's API.
pub struct Client {
    endpoint: Result<Endpoint, String>,
    max_answer_bytes: usize,
    tls: Option<Result<tokio_rustls::TlsConnector, String>>,
    sender: Option<SendRequest<Full<Bytes>>>,
}

/// Why a request got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The server cannot be reached, or the connection broke: try again.
    #[error("{0}")]
    Unreachable(String),
    /// The server's certificate is not trusted, or TLS cannot be set up: an
    /// operator must act (a `ca_file`, the server's certificate).
    #[error("{0}")]
    Tls(String),
}

/// An answer: its status and body.
pub struct Answered {
    /// The HTTP status.
    pub status: StatusCode,
    /// Its `Content-Type`, empty when it gave none.
    pub content_type: String,
    /// The body.
    pub body: Bytes,
}

impl Client {
    /// A client of the server at `url` (`http://host:port` or
    /// `https://host:port`; a path is ignored: requests name theirs),
    /// trusting `ca_file` for HTTPS.
    pub fn new(url: &str, ca_file: Option<&std::path::Path>) -> Client {
        let endpoint = parse(url);
        let tls = match &endpoint {
            Ok(e) if e.https => Some(
                crate::tls::client_config(ca_file)
                    .map(|config| tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))),
            ),
            _ => None,
        };
        Client { endpoint, max_answer_bytes: MAX_ANSWER_BYTES, tls, sender: None }
    }

    /// Take answers of up to `bytes` (1 MiB by default).
    pub fn with_max_answer(mut self, bytes: usize) -> Client {
        self.max_answer_bytes = bytes;
        self
    }

    /// Forget the connection.
    pub fn close(&mut self) {
        self.sender = None;
    }

    /// Send one request and read the answer within `timeout`; an error is
    /// the connection's (the request may or may not have arrived).
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Bytes,
        timeout: Duration,
    ) -> Result<Answered, ClientError> {
        let answer = tokio::time::timeout(timeout, self.exchange(method, path, headers, body)).await;
        match answer {
            Ok(Ok(answered)) => Ok(answered),
            Ok(Err(e)) => {
                self.sender = None;
                Err(e)
            }
            Err(_) => {
                self.sender = None;
                Err(ClientError::Unreachable(format!("no answer within {} s", timeout.as_secs())))
            }
        }
    }

    async fn exchange(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Bytes,
    ) -> Result<Answered, ClientError> {
        let endpoint = self.endpoint.clone().map_err(ClientError::Tls)?;
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            self.sender = Some(self.connect(&endpoint).await?);
        }
        let sender = self.sender.as_mut().expect("connected above");
        let broke = |e: String| ClientError::Unreachable(e);
        sender.ready().await.map_err(|e| broke(format!("the connection to {} broke: {e}", endpoint.authority)))?;
        let mut request = Request::builder().method(method).uri(path).header(hyper::header::HOST, &endpoint.authority);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let request =
            request.body(Full::new(body)).map_err(|e| ClientError::Tls(format!("cannot make the request: {e}")))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| broke(format!("{} did not answer: {e}", endpoint.authority)))?;
        let status = response.status();
        let content_type = response
            .headers()
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = http_body_util::Limited::new(response.into_body(), self.max_answer_bytes)
            .collect()
            .await
            .map_err(|e| broke(format!("the answer of {} could not be read: {e}", endpoint.authority)))?
            .to_bytes();
        Ok(Answered { status, content_type, body })
    }

    async fn connect(&self, endpoint: &Endpoint) -> Result<SendRequest<Full<Bytes>>, ClientError> {
        let at = &endpoint.authority;
        let unreachable = ClientError::Unreachable;
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((endpoint.host.as_str(), endpoint.port)))
            .await
            .map_err(|_| {
                unreachable(format!("{at} did not accept a connection within {} s", CONNECT_TIMEOUT.as_secs()))
            })?
            .map_err(|e| unreachable(format!("cannot connect to {at}: {e}")))?;
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            None => handshake(TokioIo::new(tcp), at).await,
            Some(Err(e)) => Err(ClientError::Tls(e.clone())),
            Some(Ok(connector)) => {
                let name = rustls::pki_types::ServerName::try_from(endpoint.host.clone())
                    .map_err(|e| ClientError::Tls(format!("{} is not a server name for TLS: {e}", endpoint.host)))?;
                let stream = tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name, tcp))
                    .await
                    .map_err(|_| {
                        unreachable(format!("TLS with {at} did not complete within {} s", CONNECT_TIMEOUT.as_secs()))
                    })?
                    .map_err(|e| match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
                        // The server's certificate: retrying will not help.
                        Some(rustls::Error::InvalidCertificate(_)) | Some(rustls::Error::NoCertificatesPresented) => {
                            ClientError::Tls(format!("TLS with {at} refused the server's certificate: {e}"))
                        }
                        _ => unreachable(format!("TLS with {at} failed: {e}")),
                    })?;
                handshake(TokioIo::new(stream), at).await
            }
        }
    }
}

async fn handshake<T>(io: T, at: &str) -> Result<SendRequest<Full<Bytes>>, ClientError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| ClientError::Unreachable(format!("HTTP with {at} failed: {e}")))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

fn parse(url: &str) -> Result<Endpoint, String> {
    let uri: hyper::Uri = url.parse().map_err(|e| format!("url {url:?} is not a URL: {e}"))?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(format!("url {url:?} must start with http:// or https://")),
    };
    let host = uri.host().ok_or_else(|| format!("url {url:?} names no host"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let authority = uri.authority().map(|a| a.as_str().to_owned()).unwrap_or_else(|| host.clone());
    Ok(Endpoint { https, host, port, authority })
}
