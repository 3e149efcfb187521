//! The fetch session: for a driver instance with `[drivers.<id>.fetch]`
//! (and a plugin granted the `fetch` capability), one long-lived session
//! of transport `fetch` on the instance's current runtime, in which the
//! driver may make HTTP(S) requests to that one upstream API (e.g. a
//! network server's stored history, for back-fill) and commit what they
//! bring. The driver drives it with timers and fetches; the host owns the
//! connection and the secret.
//!
//! - A new runtime in the slot (new settings, a new plugin version) ends
//!   the session and opens one on the new runtime; the slot's sender going
//!   away stops it.
//! - A session the driver closes (or a fault closes) is opened again after
//!   a backoff; one left with nothing to do (no timer, fetch or commit) is
//!   not, until the runtime changes.
//!
//! Architecture invariant: a fetch reaches only the configured URL (the
//! driver's target is appended to its path, never a host of its own), the
//! secret is added by the host and never shown to the driver or in a log,
//! and every answer is bounded in time and size.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hyper::Method;
use hyper::body::Bytes;
use meterhub_plugin_api::{HttpRequest, HttpResponse};
use serde::Serialize;

use super::RuntimeSlot;
use super::session::Session;
use crate::backoff::Backoff;
use crate::config::FetchConfig;
use crate::http_client::Client;

/// Reopening a closed fetch session.
const REOPEN: Backoff = Backoff { min: Duration::from_secs(1), max: Duration::from_secs(300) };

/// What a fetch session did, live (`/api/v1/drivers`: `[].fetch`).
#[derive(Debug, Default)]
pub struct FetchStats {
    url: String,
    requests: AtomicU64,
    answered: AtomicU64,
    failed: AtomicU64,
    last: std::sync::Mutex<Option<LastFetch>>,
}

/// The newest fetch's outcome.
#[derive(Debug, Clone, Serialize)]
struct LastFetch {
    /// When it ended, milliseconds since the Unix epoch.
    at_ms: i64,
    /// What the driver asked for (path and query after the URL).
    target: String,
    /// The status it was answered with.
    status: Option<u16>,
    /// Why there was no answer.
    error: Option<String>,
}

impl FetchStats {
    /// The counters of a fetch session to `url`.
    pub fn new(url: &str) -> FetchStats {
        FetchStats { url: url.to_owned(), ..FetchStats::default() }
    }

    fn record(&self, target: String, outcome: &Result<HttpResponse, String>) {
        let counter = if outcome.is_ok() { &self.answered } else { &self.failed };
        counter.fetch_add(1, Ordering::Relaxed);
        let last = LastFetch {
            at_ms: meterhub_storage::clock::now_ms(),
            target,
            status: outcome.as_ref().ok().map(|r| r.status),
            error: outcome.as_ref().err().cloned(),
        };
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(last);
    }
}

impl Serialize for FetchStats {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let last = self.last.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut s = serializer.serialize_struct("FetchStats", 5)?;
        s.serialize_field("url", &self.url)?;
        s.serialize_field("requests", &self.requests.load(Ordering::Relaxed))?;
        s.serialize_field("answered", &self.answered.load(Ordering::Relaxed))?;
        s.serialize_field("failed", &self.failed.load(Ordering::Relaxed))?;
        s.serialize_field("last", &last)?;
        s.end()
    }
}

/// The upstream API of one driver instance, and the one connection to it.
pub struct Fetcher {
    driver: String,
    config: FetchConfig,
    stats: Arc<FetchStats>,
    /// The URL's path, without a trailing `/`; targets are appended.
    base_path: String,
    client: tokio::sync::Mutex<Client>,
}

impl Fetcher {
    /// The fetcher of driver `driver` for `config`, counting in `stats`.
    pub fn new(driver: &str, config: FetchConfig, stats: Arc<FetchStats>) -> Fetcher {
        let base_path =
            config.url.parse::<hyper::Uri>().map(|u| u.path().trim_end_matches('/').to_owned()).unwrap_or_default();
        let client = Client::new(&config.url, config.ca_file.as_deref()).with_max_answer(config.max_answer_bytes);
        Fetcher { driver: driver.to_owned(), config, stats, base_path, client: tokio::sync::Mutex::new(client) }
    }

    /// The configured base URL.
    pub fn url(&self) -> &str {
        &self.config.url
    }

    /// Make `request` (its target appended to the configured URL's path)
    /// with the configured secret; the answer, whatever its status, or why
    /// there is none.
    pub async fn fetch(&self, request: HttpRequest) -> Result<HttpResponse, String> {
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let target = request.target.clone();
        let answer = self.exchange(request).await;
        if let Err(reason) = &answer {
            tracing::warn!(driver = %self.driver, url = %self.config.url, %reason, "fetch failed");
        }
        self.stats.record(target, &answer);
        answer
    }

    async fn exchange(&self, request: HttpRequest) -> Result<HttpResponse, String> {
        let target = &request.target;
        if !target.starts_with('/') || target.starts_with("//") || target.chars().any(|c| c.is_whitespace() || c == '#')
        {
            return Err(format!("fetch target {target:?} must be a path (and query) starting with one /"));
        }
        let method = Method::from_bytes(request.method.as_bytes())
            .map_err(|_| format!("fetch method {:?} is not an HTTP method", request.method))?;
        let mut headers: Vec<(&str, String)> = request
            .headers
            .iter()
            .filter(|(name, _)| {
                !name.eq_ignore_ascii_case("host") && !name.eq_ignore_ascii_case(&self.config.auth_header)
            })
            .map(|(name, value)| (name.as_str(), value.clone()))
            .collect();
        if let Some(file) = &self.config.token_file {
            let token = std::fs::read_to_string(file)
                .map_err(|e| format!("token_file {}: {e}", file.display()))?
                .trim_end_matches(['\r', '\n'])
                .to_owned();
            let value = match self.config.auth_scheme.as_str() {
                "" => token,
                scheme => format!("{scheme} {token}"),
            };
            headers.push((self.config.auth_header.as_str(), value));
        }
        let path = format!("{}{target}", self.base_path);
        let timeout = Duration::from_secs(u64::from(self.config.timeout_s));
        let mut client = self.client.lock().await;
        let answered = client
            .send(method, &path, &headers, Bytes::from(request.body), timeout)
            .await
            .map_err(|e| e.to_string())?;
        tracing::debug!(driver = %self.driver, %path, status = answered.status.as_u16(), bytes = answered.body.len(), "fetched");
        Ok(HttpResponse {
            status: answered.status.as_u16(),
            content_type: answered.content_type,
            body: answered.body.to_vec(),
        })
    }
}

/// How one fetch session ended.
enum Ended {
    /// The driver (or a fault) closed it, for this reason.
    Closed(String),
    /// Nothing is outstanding and nothing will be.
    Idle,
    /// Another runtime took the slot.
    Replaced,
    /// The slot's sender went away.
    Stopped,
}

/// Keep a fetch session open on the slot's current runtime until the
/// slot's sender is dropped.
pub async fn run(mut slot: RuntimeSlot, config: FetchConfig, stats: Arc<FetchStats>) {
    let driver = slot.borrow().id.clone();
    let fetcher = Arc::new(Fetcher::new(&driver, config, stats));
    let mut failures = 0u32;
    loop {
        let rt = slot.borrow_and_update().clone();
        let mut session = Session::open_fetching(rt, fetcher.clone());
        let ended = loop {
            if let Some(reason) = session.close_reason() {
                break Ended::Closed(reason.to_owned());
            }
            tokio::select! {
                more = session.progress() => if !more { break Ended::Idle },
                changed = slot.changed() => break if changed.is_ok() { Ended::Replaced } else { Ended::Stopped },
            }
        };
        session.close().await;
        match ended {
            Ended::Stopped => return,
            Ended::Replaced => failures = 0,
            Ended::Idle => {
                tracing::info!(%driver, "the driver's fetch session has nothing more to do");
                if slot.changed().await.is_err() {
                    return;
                }
            }
            Ended::Closed(reason) => {
                failures += 1;
                let delay = REOPEN.delay(failures);
                tracing::warn!(%driver, %reason, retry_in_s = delay.as_secs(), "the driver closed its fetch session");
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    changed = slot.changed() => if changed.is_err() { return },
                }
            }
        }
    }
}
