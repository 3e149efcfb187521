//! The site's side of the sync: the `sync-center` sink's target. It asks
//! the center where the site stands, then sends batches from there: the
//! readings of the archive's log with the raw frames they came from, the
//! meters and modules of the registry that changed, and names of records
//! it cannot read. The center answers only once a batch is in its journal,
//! and the position moves only then; a lost answer sends the batch again,
//! which the center recognises and ignores.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use hyper::body::Bytes;
use hyper::{Method, StatusCode};
use meterhub_plugin_api::SinkRecord;
use meterhub_storage::archive::Archive;
use meterhub_storage::clock::now_ms;

use super::check::{self, CheckReport, CheckRequest};
use super::wire::{self, Answer, Batch, RegistryChange, Unreadable, WireFrame, WirePosition};
use crate::config::CenterLink;
use crate::http_client::{Client, ClientError};
use crate::sink::status::{Command, StatusCell, update};
use crate::sink::target::{Connected, Failure, Item, Position, Report, Target, position_after};

/// How often an idle site tells its center it is alive (and its heads).
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// How long a batch may take to be answered.
const BATCH_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a position request or a heartbeat may take.
const SHORT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long the center may take to check (it reads the period's readings).
const CHECK_TIMEOUT: Duration = Duration::from_secs(300);
/// The days a scheduled check covers.
pub const CHECK_DAYS: i64 = 7;
/// The archive cursor that holds this installation's identity.
const ORIGIN_CURSOR: &str = "sync-origin";

/// The rate cap: the bytes sent so far book the wire until `next`.
struct Pacer {
    /// Bytes per second, `None`: no cap.
    rate: Option<u64>,
    /// When the wire is free again.
    next: Option<Instant>,
}

impl Pacer {
    /// How long to wait at `now` before `bytes` may go; they are booked.
    fn delay(&mut self, bytes: usize, now: Instant) -> Duration {
        let Some(rate) = self.rate.filter(|r| *r > 0) else { return Duration::ZERO };
        let start = self.next.map_or(now, |at| at.max(now));
        self.next = Some(start + Duration::from_secs_f64(bytes as f64 / rate as f64));
        start - now
    }
}

/// A site's link to its center.
pub struct LinkTarget {
    /// The sink instance's id.
    pub sink: String,
    /// The link's configuration.
    pub link: CenterLink,
    /// The site's archive (raw frames are read from it).
    pub archive: Arc<dyn Archive>,
    /// The sink's status: a batch in flight shows there.
    pub status: StatusCell,
    client: Client,
    token: Option<String>,
    last_contact: Option<Instant>,
    /// The rate cap.
    pacer: Pacer,
    /// This installation's identity at the center (kept in the archive).
    origin: Option<u64>,
    /// When the next scheduled consistency check is due.
    next_check: Option<Instant>,
}

impl LinkTarget {
    /// The link of sink `sink`.
    pub fn new(sink: &str, link: CenterLink, archive: Arc<dyn Archive>, status: StatusCell) -> LinkTarget {
        let client = Client::new(&link.url, link.ca_file.as_deref());
        let next_check = link.check_every.map(|every| Instant::now() + every);
        let pacer = Pacer { rate: link.rate_limit_bytes, next: None };
        LinkTarget {
            sink: sink.to_owned(),
            link,
            archive,
            status,
            client,
            token: None,
            last_contact: None,
            pacer,
            origin: None,
            next_check,
        }
    }

    fn path(&self, what: &str) -> String {
        format!("/api/v1/sync/sites/{}/{what}", self.link.site)
    }

    fn token(&mut self) -> Result<String, Failure> {
        if let Some(token) = &self.token {
            return Ok(token.clone());
        }
        let file = &self.link.token_file;
        let text = std::fs::read_to_string(file)
            .map_err(|e| Failure::Setup(format!("cannot read the site's token file {}: {e}", file.display())))?;
        let token = text.lines().next().unwrap_or("").trim().to_owned();
        if token.is_empty() {
            return Err(Failure::Setup(format!("the site's token file {} is empty", file.display())));
        }
        self.token = Some(token.clone());
        Ok(token)
    }

    /// One request to the center, its answer sorted by what to do about it.
    async fn call<T: serde::de::DeserializeOwned>(
        &mut self,
        method: Method,
        what: &str,
        body: Bytes,
        timeout: Duration,
    ) -> Result<T, Failure> {
        let token = self.token()?;
        let path = self.path(what);
        let mut headers = vec![("authorization", format!("Bearer {token}"))];
        if !body.is_empty() {
            headers.push(("content-type", wire::CONTENT_TYPE.to_owned()));
        }
        let center = &self.link.url;
        let site = &self.link.site;
        let answered = self.client.send(method, &path, &headers, body, timeout).await.map_err(|e| match e {
            ClientError::Unreachable(e) => Failure::Unavailable(format!("site {site}, center {center}: {e}")),
            ClientError::Tls(e) => Failure::Setup(format!("site {site}, center {center}: {e}")),
        })?;
        self.last_contact = Some(Instant::now());
        update(&self.status, |s| s.last_contact_ms = Some(now_ms()));
        let said = serde_json::from_slice::<serde_json::Value>(&answered.body).ok();
        let message = said
            .as_ref()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&answered.body).chars().take(300).collect());
        let why = format!("site {site}, center {center} answered {}: {message}", answered.status.as_u16());
        match answered.status {
            StatusCode::OK => serde_json::from_slice(&answered.body).map_err(|e| {
                Failure::Setup(format!("site {site}, center {center}: its answer is not a sync answer: {e}"))
            }),
            StatusCode::CONFLICT => Err(Failure::Moved(why)),
            // The center is there but cannot store (its disk is full): an
            // operator there must act; the batch is tried again meanwhile.
            StatusCode::INSUFFICIENT_STORAGE => Err(Failure::Setup(why)),
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS => Err(Failure::Unavailable(why)),
            status if status.is_server_error() => Err(Failure::Unavailable(why)),
            _ => Err(Failure::Setup(why)),
        }
    }

    /// Wait for the rate cap to let `bytes` go.
    async fn pace(&mut self, bytes: usize) {
        let wait = self.pacer.delay(bytes, Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// This installation's identity: made once, kept in the archive (a
    /// center refuses a second installation sending as the same site).
    async fn origin(&mut self) -> Result<u64, Failure> {
        if let Some(origin) = self.origin {
            return Ok(origin);
        }
        let archive = self.archive.clone();
        let origin = tokio::task::spawn_blocking(move || {
            if let Some(origin) = archive.cursor(ORIGIN_CURSOR)? {
                return Ok(origin);
            }
            let origin = rand::random_range(1..i64::MAX as u64);
            archive.set_cursor(ORIGIN_CURSOR, origin)?;
            archive.flush()?;
            Ok(origin)
        })
        .await
        .map_err(|e| Failure::Unavailable(format!("cannot read this site's identity: {e}")))?
        .map_err(|e: meterhub_storage::archive::ArchiveError| {
            Failure::Unavailable(format!("cannot keep this site's identity in the archive: {e}"))
        })?;
        self.origin = Some(origin);
        Ok(origin)
    }

    /// The batch of `items` from `from`: what is read from the site's stores
    /// (raw frames) is read on the blocking pool.
    async fn batch(&self, items: &[Item], from: Position, head: WirePosition) -> Result<Batch, Failure> {
        let to = position_after(from, items);
        let mut readings = Vec::new();
        let mut registry = Vec::new();
        let mut unreadable = Vec::new();
        let mut frames = BTreeSet::new();
        for item in items {
            match &item.record {
                Ok(Some(SinkRecord::Reading(r))) => {
                    readings.push(r.clone());
                    frames.extend(item.frame);
                }
                Ok(Some(SinkRecord::Meter(entry))) => {
                    registry.push(RegistryChange { revision: item.seq, kind: "meter".into(), entry: entry.clone() })
                }
                Ok(Some(SinkRecord::Module(entry))) => {
                    registry.push(RegistryChange { revision: item.seq, kind: "module".into(), entry: entry.clone() })
                }
                // The center computes its own deltas from the readings.
                Ok(Some(SinkRecord::Delta(_) | SinkRecord::DeltaRemoved(_)) | None) => {}
                Err(reason) => {
                    unreadable.push(Unreadable { log: item.log.as_str().into(), seq: item.seq, reason: reason.clone() })
                }
            }
        }
        let oldest_unsent_ms = readings.first().map(|r| r.archived_at_ms);
        let archive = self.archive.clone();
        let (frames, counters) = tokio::task::spawn_blocking(move || {
            let seqs: Vec<u64> = frames.into_iter().collect();
            let found = archive.frames(&seqs).map_err(|e| format!("frames {:?}..: {e}", seqs.first()))?;
            let out: Vec<WireFrame> = found
                .into_iter()
                .map(|(seq, frame)| WireFrame {
                    seq,
                    source: frame.source,
                    received_at_ms: frame.received_at_ms,
                    content_type: frame.content_type,
                    payload: base64::engine::general_purpose::STANDARD.encode(&frame.payload),
                })
                .collect();
            let counters = archive.counters().map_err(|e| format!("the counters: {e}"))?;
            Ok::<_, String>((out, counters))
        })
        .await
        .map_err(|e| Failure::Unavailable(format!("reading the raw frames failed: {e}")))?
        .map_err(|e| Failure::Unavailable(format!("cannot read the raw frames of a batch: {e}")))?;
        Ok(Batch {
            version: wire::VERSION,
            site: self.link.site.clone(),
            origin: self.origin,
            from: wire_position(from),
            to: wire_position(to),
            head,
            sent_ms: now_ms(),
            oldest_unsent_ms,
            readings,
            frames,
            registry,
            unreadable,
            counters,
        })
    }

    /// The site's counters (none when they cannot be read now).
    async fn counters(&self) -> std::collections::BTreeMap<String, meterhub_storage::archive::SourceCounters> {
        let archive = self.archive.clone();
        tokio::task::spawn_blocking(move || archive.counters().unwrap_or_default()).await.unwrap_or_default()
    }

    fn heads(&self) -> WirePosition {
        let s = self.status.lock().unwrap_or_else(|e| e.into_inner());
        WirePosition { readings: s.head, accounting: s.accounting_head }
    }

    /// Send `batch`; where the center stands after it. While the answer is
    /// awaited, the lag shown grows with the age of its oldest reading.
    async fn send(&mut self, batch: &Batch, timeout: Duration) -> Result<Answer, Failure> {
        let bytes = wire::encode(batch);
        self.pace(bytes.len()).await;
        update(&self.status, |s| s.in_flight_since_ms = Some(now_ms()));
        let (status, archive) = (self.status.clone(), self.archive.clone());
        let ticking = async move {
            let mut every = tokio::time::interval(Duration::from_secs(1));
            loop {
                every.tick().await;
                show_waiting_lag(&status, &archive).await;
            }
        };
        let answer = tokio::select! {
            answer = self.call(Method::POST, "batches", Bytes::from(bytes), timeout) => answer,
            () = ticking => unreachable!("the ticker never ends"),
        };
        update(&self.status, |s| s.in_flight_since_ms = None);
        answer
    }
}

impl LinkTarget {
    /// Check device times `[from_ms, to_ms)` with the center, standing at `position`
    /// (between two batches: both ends hold the same stretch of the log).
    async fn check(&mut self, (from_ms, to_ms): (i64, i64), position: Position) -> Result<CheckReport, Failure> {
        let archive = self.archive.clone();
        let through = position.readings;
        let days =
            tokio::task::spawn_blocking(move || check::digests(&*archive, "", from_ms, to_ms, |r| r.seq <= through))
                .await
                .map_err(|e| Failure::Unavailable(format!("the check failed: {e}")))?
                .map_err(Failure::Unavailable)?;
        let request = CheckRequest { from_ms, to_ms, through: wire_position(position), days };
        let json = serde_json::to_vec(&request).expect("a check request is plain data");
        let body = zstd::bulk::compress(&json, 3).map_err(|e| Failure::Unavailable(format!("cannot compress: {e}")))?;
        let report: CheckReport = self.call(Method::POST, "check", Bytes::from(body), CHECK_TIMEOUT).await?;
        if report.clean() {
            tracing::info!(sink = %self.sink, site = %self.link.site, days = report.days, readings = report.readings,
                "sync check: the center holds the same as this site");
        } else {
            tracing::warn!(sink = %self.sink, site = %self.link.site, different = report.different, days = report.days,
                first = ?report.differences.first(), "sync check: the center holds days differently from this site");
        }
        update(&self.status, |s| s.last_check = Some(report.clone()));
        Ok(report)
    }
}

/// While a request waits for its answer the worker cannot look at the
/// logs: how far behind the center the site is now, from the archive's
/// head and the first reading the center has not acknowledged.
async fn show_waiting_lag(status: &StatusCell, archive: &Arc<dyn Archive>) {
    let Some(position) = status.lock().unwrap_or_else(|e| e.into_inner()).position else { return };
    let archive = archive.clone();
    let read = tokio::task::spawn_blocking(move || {
        let head = archive.log_head().ok()?;
        let first = archive.log_after(position, 1).ok()?.iter().next().and_then(|e| e.ok().map(|r| r.archived_at_ms));
        Some((head, first))
    });
    if let Ok(Some((head, oldest))) = read.await {
        update(status, |s| {
            s.head = s.head.max(head);
            s.lag_records = s.head.saturating_sub(position)
                + s.accounting_head.saturating_sub(s.accounting_position.unwrap_or(s.accounting_head));
            if let Some(oldest) = oldest {
                s.lag_seconds = (now_ms() - oldest).max(0) as f64 / 1000.0;
            }
        });
    }
}

fn wire_position(p: Position) -> WirePosition {
    WirePosition { readings: p.readings, accounting: p.accounting }
}

impl Target for LinkTarget {
    fn describe(&self) -> String {
        format!("{} as site {}", self.link.url, self.link.site)
    }

    fn wants_deltas(&self) -> bool {
        false
    }

    async fn connect(&mut self) -> Result<Connected, Failure> {
        self.client.close();
        self.token = None;
        let origin = self.origin().await?;
        let what = format!("position?origin={origin}");
        let answer: Answer = self.call(Method::GET, &what, Bytes::new(), SHORT_TIMEOUT).await?;
        let position = Position { readings: answer.position.readings, accounting: answer.position.accounting };
        // The center cannot be ahead of this archive: if it is, this archive
        // was restored from a backup (or replaced keeping its identity), and
        // its new readings would be taken for ones the center holds.
        let archive = self.archive.clone();
        let head = tokio::task::spawn_blocking(move || archive.log_head())
            .await
            .map_err(|e| Failure::Unavailable(format!("cannot read the archive's head: {e}")))?
            .map_err(|e| Failure::Unavailable(format!("cannot read the archive's head: {e}")))?;
        if position.readings > head {
            return Err(Failure::Setup(format!(
                "site {}: the center holds this site through reading {}, beyond this archive's last ({head}): this archive was restored from a backup or replaced, and its new readings would be taken for ones the center holds; give this host a site name of its own (docs/sync.md)",
                self.link.site, position.readings
            )));
        }
        Ok(Connected { position, schema_version: None })
    }

    async fn deliver(&mut self, items: &[Item], position: &mut Position, report: Report<'_>) -> Result<(), Failure> {
        let batch = self.batch(items, *position, self.heads()).await?;
        let answer = self.send(&batch, BATCH_TIMEOUT).await?;
        let to = Position { readings: answer.position.readings, accounting: answer.position.accounting };
        if answer.position != batch.to {
            // The center holds more than this batch (another writer with
            // this site's token, or a restored center): go on from there.
            tracing::warn!(sink = %self.sink, site = %self.link.site, center = ?answer.position, batch = ?batch.to,
                "sync: the center stands elsewhere than this batch ends; going on from the center's position");
        }
        *position = to;
        report(items.len() as u64, 0, to);
        Ok(())
    }

    async fn idle(&mut self, position: Position) -> Result<(), Failure> {
        if let (Some(due), Some(every)) = (self.next_check, self.link.check_every)
            && Instant::now() >= due
        {
            self.next_check = Some(Instant::now() + every);
            self.check(check::period(CHECK_DAYS, now_ms()), position).await?;
        }
        if self.last_contact.is_some_and(|at| at.elapsed() < HEARTBEAT) {
            return Ok(());
        }
        let here = wire_position(position);
        let heartbeat = Batch {
            version: wire::VERSION,
            site: self.link.site.clone(),
            origin: self.origin,
            from: here,
            to: here,
            head: self.heads(),
            sent_ms: now_ms(),
            oldest_unsent_ms: None,
            readings: Vec::new(),
            frames: Vec::new(),
            registry: Vec::new(),
            unreadable: Vec::new(),
            counters: self.counters().await,
        };
        self.send(&heartbeat, SHORT_TIMEOUT).await.map(drop)
    }

    async fn serve(&mut self, command: Command, position: Option<Position>) {
        let why = format!("sink {} sends to a monitoring center; it keeps no dead letters", self.sink);
        match command {
            Command::DeadLetters(_, reply) => drop(reply.send(Err(why))),
            Command::Resend(reply) => drop(reply.send(Err(why))),
            Command::Check(from_ms, to_ms, reply) => {
                let answer = match position {
                    Some(position) => self.check((from_ms, to_ms), position).await.map_err(|e| e.to_string()),
                    None => Err(format!("sink {} is not connected to its center; see its last_error", self.sink)),
                };
                drop(reply.send(answer));
            }
        }
    }

    fn disconnect(&mut self) {
        self.client.close();
    }
}

/// A batch without an answer for this long makes the link stalled.
const STALLED_AFTER_MS: i64 = 5_000;

/// The state of a site's link, from its sink's status, as a dispatcher reads it.
pub fn state_of(status: &crate::sink::status::SinkStatus, now_ms: i64) -> super::center::LinkState {
    use super::center::LinkState;
    use crate::sink::status::SinkState;
    let waiting = status.in_flight_since_ms.is_some_and(|since| now_ms - since > STALLED_AFTER_MS);
    match (status.state, status.failure) {
        (SinkState::Waiting | SinkState::Stopped, _) => LinkState::Down,
        // Until a batch goes through, a failure stands (reconnecting
        // alone does not end it).
        (_, Some("unavailable")) => LinkState::Down,
        (_, Some(_)) => LinkState::Stalled,
        (SinkState::Starting, None) => LinkState::Down,
        (_, None) if waiting => LinkState::Stalled,
        (_, None) if status.lag_records == 0 => LinkState::InSync,
        (_, None) => LinkState::CatchingUp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_cap_books_the_wire_for_what_was_sent() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let mut pacer = Pacer { rate: Some(1000), next: None };
        assert_eq!(pacer.delay(500, t0), Duration::ZERO);
        assert_eq!(pacer.delay(500, t0), Duration::from_millis(500));
        assert_eq!(pacer.delay(1000, at(500)), Duration::from_millis(500));
        // An idle wire owes nothing.
        assert_eq!(pacer.delay(100, at(10_000)), Duration::ZERO);
        let mut free = Pacer { rate: None, next: None };
        assert_eq!(free.delay(1 << 30, t0), Duration::ZERO);
    }

    #[test]
    fn a_link_is_stalled_or_down_until_a_batch_goes_through_after_a_failure() {
        use super::super::center::LinkState::*;
        use crate::sink::status::{SinkState, SinkStatus};
        let mut s = SinkStatus::new("center", "sync-center", String::new(), "");
        assert_eq!(state_of(&s, 0), Down, "never reached");
        s.state = SinkState::Running;
        assert_eq!(state_of(&s, 0), InSync);
        s.lag_records = 5;
        assert_eq!(state_of(&s, 0), CatchingUp);
        s.in_flight_since_ms = Some(0);
        assert_eq!(state_of(&s, 6_000), Stalled, "a batch unanswered for 6 s");
        s.in_flight_since_ms = None;
        // Connected again after a refusal: still stalled until it delivers.
        s.failure = Some("setup");
        assert_eq!(state_of(&s, 0), Stalled);
        s.failure = Some("unavailable");
        s.state = SinkState::Starting;
        assert_eq!(state_of(&s, 0), Down);
    }
}
