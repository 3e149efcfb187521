//! The HTTP transport: each event `POST`ed to the endpoint, as
//! ChirpStack's HTTP integration (`?event=` added to the URL's query) or
//! a The Things Stack webhook (the URL as given) posts it, with the
//! `Content-Type` of its encoding and the configured authentication
//! header. Answers are counted by status; a request without an answer is
//! counted as failed and not sent again (ChirpStack does not retry).
//!
//! Device `i`'s events go over connection `i % connections` (HTTP/1.1
//! keep-alive, one request at a time), so a device's events arrive in
//! order. A connection that cannot be made within the connect timeout
//! stops the run with an error naming the URL.
//!
//! Except when undeliverable pushes are dropped (a simulator with The
//! Things Stack's storage, [`Delivery::Drop`]): then no connection is
//! made up front, and a push that cannot connect (one attempt within the
//! connect timeout) or gets no answer within it is counted as failed and
//! the run goes on, as The Things Stack drops a webhook it cannot
//! deliver; the next push connects again, so pushes work once the
//! receiver is up.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST, HeaderName, HeaderValue};
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::bodies::Outgoing;
use super::error::LnsError;
use super::options::Server;
use super::report::Stats;
use super::topics;

/// Events queued per connection before the generator waits.
const QUEUE: usize = 256;

/// What a push that cannot be delivered does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Stops the run when no connection can be made within the connect
    /// timeout (the receiver is what is tested).
    Required,
    /// Is counted as failed, and the run goes on (The Things Stack with
    /// its storage: the uplink is kept there anyway).
    Drop,
}

/// Where and how to post.
#[derive(Debug, Clone)]
pub struct Endpoint {
    url: String,
    host: String,
    port: u16,
    authority: String,
    path: String,
    query: Option<String>,
    auth: Option<(HeaderName, HeaderValue)>,
}

impl Endpoint {
    /// The endpoint of `url` (`http://host[:port][/path][?query]`), with
    /// header `auth_header: auth` when `auth` is given.
    pub fn parse(url: &str, auth_header: &str, auth: Option<&str>) -> Result<Endpoint, LnsError> {
        let fail = |problem: String| LnsError::HttpUrl { url: url.to_owned(), problem };
        let uri: Uri = url.parse().map_err(|e| fail(format!("not a URL: {e}")))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => return Err(fail("https is not supported by the simulator; use http://".into())),
            Some(other) => return Err(fail(format!("scheme {other:?}: expected http://"))),
            None => return Err(fail("no scheme: expected http://host:port/".into())),
        }
        let authority = uri.authority().ok_or_else(|| fail("no host".into()))?;
        let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_owned();
        if host.is_empty() {
            return Err(fail("no host".into()));
        }
        let auth = match auth {
            None => None,
            Some(value) => {
                let name = HeaderName::from_bytes(auth_header.as_bytes())
                    .map_err(|_| fail(format!("{auth_header:?} is not a header name")))?;
                let value = HeaderValue::from_str(value)
                    .map_err(|_| fail(format!("the {auth_header} value is not a header value")))?;
                Some((name, value))
            }
        };
        Ok(Endpoint {
            url: url.to_owned(),
            host,
            port: authority.port_u16().unwrap_or(80),
            authority: authority.as_str().to_owned(),
            path: uri.path().to_owned(),
            query: uri.query().map(str::to_owned),
            auth,
        })
    }

    /// The URL as given.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The request target of an event named `event` from `server`.
    pub fn target(&self, server: Server, event: &str) -> String {
        topics::http_target(server, &self.path, self.query.as_deref(), event)
    }

    fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

type Connection = SendRequest<Full<Bytes>>;

/// One attempt at a connection.
async fn attempt(endpoint: &Endpoint) -> std::io::Result<Connection> {
    let stream = TcpStream::connect((endpoint.host.as_str(), endpoint.port)).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(std::io::Error::other)?;
    tokio::spawn(async move {
        let _closed = connection.await;
    });
    Ok(sender)
}

/// Open a connection, trying again until `timeout` has passed.
async fn connect(endpoint: &Endpoint, timeout: Duration) -> Result<Connection, LnsError> {
    let started = Instant::now();
    let deadline = started + timeout;
    let mut pause = Duration::from_millis(50);
    loop {
        let error = match tokio::time::timeout_at(deadline, attempt(endpoint)).await {
            Ok(Ok(sender)) => return Ok(sender),
            Ok(Err(e)) => e.to_string(),
            Err(_) => "timed out".to_owned(),
        };
        if Instant::now() + pause >= deadline {
            return Err(LnsError::HttpUnreachable {
                url: endpoint.url.clone(),
                address: endpoint.address(),
                waited_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                error,
            });
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

/// Post `request` and read the answer: its status and body (empty when
/// it cannot be read); `None` when the connection broke first.
async fn exchange(connection: &mut Connection, request: Request<Full<Bytes>>) -> Option<(u16, Bytes)> {
    let response = connection.send_request(request).await.ok()?;
    let status = response.status().as_u16();
    Some((status, response.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default()))
}

/// One connection's worker: posts its queue's events in order, over
/// `first` to begin with if given.
async fn worker(
    endpoint: Arc<Endpoint>,
    server: Server,
    first: Option<Connection>,
    mut queue: mpsc::Receiver<Outgoing>,
    stats: Arc<Stats>,
    timeout: Duration,
    delivery: Delivery,
) -> Result<(), LnsError> {
    let mut open = first;
    while let Some(event) = queue.recv().await {
        let reusable = match open.as_mut() {
            Some(c) => c.ready().await.is_ok(),
            None => false,
        };
        let mut connection = match open.take() {
            Some(c) if reusable => c,
            _ if delivery == Delivery::Drop => match tokio::time::timeout(timeout, attempt(&endpoint)).await {
                Ok(Ok(c)) => c,
                Ok(Err(_)) | Err(_) => {
                    stats.failed();
                    continue;
                }
            },
            _ => connect(&endpoint, timeout).await?,
        };
        let mut request = Request::post(endpoint.target(server, event.event))
            .header(HOST, endpoint.authority.as_str())
            .header(CONTENT_TYPE, event.content_type);
        if let Some((name, value)) = &endpoint.auth {
            request = request.header(name, value);
        }
        let Ok(request) = request.body(Full::new(Bytes::from(event.body))) else {
            stats.failed();
            continue;
        };
        let answer = match delivery {
            Delivery::Required => exchange(&mut connection, request).await,
            Delivery::Drop => tokio::time::timeout(timeout, exchange(&mut connection, request)).await.ok().flatten(),
        };
        match answer {
            Some((status, body)) => {
                stats.answered(event.kind, status, &body);
                open = Some(connection);
            }
            None => stats.failed(),
        }
    }
    Ok(())
}

/// The HTTP transport while running.
#[derive(Debug)]
pub struct HttpSender {
    url: String,
    queues: Vec<mpsc::Sender<Outgoing>>,
    workers: Vec<JoinHandle<Result<(), LnsError>>>,
}

impl HttpSender {
    /// Open `connections` connections to `endpoint` (each within
    /// `timeout`; none up front with [`Delivery::Drop`]) and start their
    /// workers.
    pub async fn start(
        endpoint: Endpoint,
        server: Server,
        connections: usize,
        stats: Arc<Stats>,
        timeout: Duration,
        delivery: Delivery,
    ) -> Result<HttpSender, LnsError> {
        let endpoint = Arc::new(endpoint);
        let mut sender = HttpSender { url: endpoint.url.clone(), queues: Vec::new(), workers: Vec::new() };
        for _ in 0..connections.max(1) {
            let first = match delivery {
                Delivery::Required => Some(connect(&endpoint, timeout).await?),
                Delivery::Drop => None,
            };
            let (queue, receiver) = mpsc::channel(QUEUE);
            sender.queues.push(queue);
            sender.workers.push(tokio::spawn(worker(
                endpoint.clone(),
                server,
                first,
                receiver,
                stats.clone(),
                timeout,
                delivery,
            )));
        }
        Ok(sender)
    }

    /// Queue `event` on its device's connection; a worker that stopped
    /// gives its error.
    pub async fn send(&mut self, event: Outgoing) -> Result<(), LnsError> {
        let at = event.device as usize % self.queues.len();
        if self.queues[at].send(event).await.is_ok() {
            return Ok(());
        }
        let error = match (&mut self.workers[at]).await {
            Ok(Err(e)) => return Err(e),
            Ok(Ok(())) => "its connection's task ended".to_owned(),
            Err(e) => format!("its connection's task failed: {e}"),
        };
        Err(LnsError::HttpFailed { url: self.url.clone(), error })
    }

    /// Wait until every queued event is answered (or failed).
    pub async fn finish(self) -> Result<(), LnsError> {
        drop(self.queues);
        let mut first_error = None;
        for worker in self.workers {
            if let Ok(Err(e)) = worker.await {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}
