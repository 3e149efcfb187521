//! The center's side of the sync: the sites it takes data from, each with
//! its own token, and the receiver of their batches.
//!
//! A batch is answered only after it is in the center's journal (raw-first,
//! `fdatasync`): the whole compressed batch is one frame of source
//! `sync:<site>`, with the position it moves the site to as the frame's
//! resume marks, which the archive moves in the same atomic apply as the
//! readings (`frame.rs` decodes it). The site's position at the center is
//! therefore durable with the data, and a batch sent again after a lost
//! answer is recognised by its position and changes nothing.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use meterhub_plugin_api::{RawFrame, Transport};
use meterhub_storage::archive::Archive;
use meterhub_storage::clock::now_ms;
use meterhub_storage::journal::{Entry, JournalError, JournalHandle};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::check::{self, CheckReport, CheckRequest};
use super::wire::{self, Answer, Batch, WirePosition};
use crate::accounting::AccountingStore;
use crate::accounting::model::MeterRecord;
use crate::config::CenterConfig;
use crate::sink::status::RateWindow;

/// The source of a site's frames at the center.
pub fn source(site: &str) -> String {
    format!("{SOURCE_PREFIX}{site}")
}

/// What every site's source starts with (driver ids cannot hold ':').
pub const SOURCE_PREFIX: &str = "sync:";
/// The resume mark keys of a sync frame: the site's position.
pub const MARK_READINGS: &str = "readings";
/// See [`MARK_READINGS`].
pub const MARK_ACCOUNTING: &str = "accounting";
/// The resume mark holding the installation a site's data comes from.
pub const MARK_ORIGIN: &str = "origin";
/// A link whose site has not been heard from for this long is down (the
/// site sends a heartbeat every [`super::link::HEARTBEAT`]).
const DOWN_AFTER_MS: i64 = 15_000;
/// A link behind that has not moved for this long is stalled.
const STALLED_AFTER_MS: i64 = 10_000;
/// How long a check waits for the archive to hold what the journal does.
const APPLIED_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);

/// How a link is, as a dispatcher reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    /// Everything the site has is here.
    InSync,
    /// Behind, and moving.
    CatchingUp,
    /// Behind, and not moving (refused, or the link stalls).
    Stalled,
    /// Not heard from (or, at a site, the center cannot be reached).
    Down,
}

/// One site as the center sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteStatus {
    /// The site's name.
    pub site: String,
    /// Its state now.
    pub state: LinkState,
    /// Where the center stands in the site's logs (durable).
    pub position: WirePosition,
    /// The site's heads as it last said.
    pub site_head: WirePosition,
    /// Records the site has that the center has not.
    pub lag_records: u64,
    /// Age of the site's oldest record not here, by the site's clock, seconds.
    pub lag_seconds: f64,
    /// When the site was last heard from (a batch or a heartbeat), ms.
    pub last_contact_ms: Option<i64>,
    /// When a batch was last stored, ms.
    pub last_batch_ms: Option<i64>,
    /// Batches stored since the center started.
    pub batches: u64,
    /// Readings stored since the center started.
    pub readings: u64,
    /// Compressed bytes received in batches stored.
    pub bytes: u64,
    /// Readings per second over the last minute.
    pub throughput_rps: f64,
    /// Seconds to catch up at that rate; `None` when not moving.
    pub eta_seconds: Option<f64>,
    /// The site's clock minus the center's at the last contact, ms (a
    /// clock that disagrees by minutes is named in `warning`).
    pub clock_offset_ms: Option<i64>,
    /// Records the site said it cannot read.
    pub unreadable: u64,
    /// The last refusal or failure, kept after a success.
    pub last_error: Option<SiteError>,
    /// A warning that does not stop the link (a clock far off: see
    /// `clock_offset_ms`).
    pub warning: Option<String>,
    /// Set while the link is silent or behind more than the limit.
    pub alarm: Option<SiteAlarm>,
    /// The last consistency check the site asked for.
    pub last_check: Option<super::check::CheckReport>,
    /// The site's own per-source counters, as it last sent them.
    pub site_counters: BTreeMap<String, meterhub_storage::archive::SourceCounters>,
}

/// Why a site's link is in alarm.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteAlarm {
    /// `silent` (not heard from for `limit_seconds`) or `lag` (behind more
    /// than `limit_seconds`).
    pub kind: &'static str,
    /// The configured limit, seconds.
    pub limit_seconds: f64,
    /// The site's silence or lag now, seconds.
    pub seconds: f64,
    /// The same in words (English, for logs and the command line).
    pub message: String,
}

/// A refusal or failure of one site's link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SiteError {
    /// When, ms.
    pub at_ms: i64,
    /// What and why.
    pub message: String,
}

/// One configured site.
struct Site {
    /// The SHA-256 of its token, or why it has none.
    digest: Result<[u8; 32], String>,
    /// Serialises its batches.
    lock: Arc<tokio::sync::Mutex<()>>,
    /// Its position, once read from the archive or moved by a batch.
    position: Option<WirePosition>,
    /// The installation its data comes from, once known.
    origin: Option<u64>,
    status: Tracked,
}

/// A site's counters and the readings of the last minute.
struct Tracked {
    status: SiteStatus,
    progress_ms: i64,
    recent: RateWindow,
}

/// The sites and their links.
pub struct Center {
    journal: JournalHandle,
    archive: Arc<dyn Archive>,
    accounting: Arc<AccountingStore>,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    enabled: bool,
    max_batch_bytes: usize,
    alarm_silence_ms: Option<i64>,
    alarm_lag_seconds: Option<f64>,
    sites: BTreeMap<String, Site>,
}

/// Why a request is refused, with its HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The HTTP status.
    pub status: u16,
    /// What, naming the site and the cause.
    pub message: String,
    /// Where the center stands, when it is a position mismatch.
    pub position: Option<WirePosition>,
}

fn refused(status: u16, message: String) -> Refused {
    Refused { status, message, position: None }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.trim().as_bytes()).into()
}

/// Equal in constant time.
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Center {
    /// A center with no sites (a host that is not a center refuses every
    /// sync request until `[center]` is configured).
    pub fn new(journal: JournalHandle, archive: Arc<dyn Archive>, accounting: Arc<AccountingStore>) -> Center {
        Center { journal, archive, accounting, inner: Mutex::new(Inner::default()) }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Take the sites of `config` (at start and at every reload): tokens
    /// are read again; the positions and counters of kept sites stay.
    pub fn apply(&self, config: Option<&CenterConfig>) {
        let mut inner = self.inner();
        let Some(config) = config else {
            *inner = Inner::default();
            return;
        };
        inner.enabled = true;
        inner.max_batch_bytes = config.max_batch_bytes;
        inner.alarm_silence_ms = config.alarm_silence.map(|d| d.as_millis() as i64);
        inner.alarm_lag_seconds = config.alarm_lag.map(|d| d.as_secs_f64());
        let mut sites = BTreeMap::new();
        for site in &config.sites {
            let digest = std::fs::read_to_string(&site.token_file)
                .map_err(|e| format!("cannot read the token file {}: {e}", site.token_file.display()))
                .and_then(|text| {
                    let token = text.lines().next().unwrap_or("").trim().to_owned();
                    if token.len() < 16 {
                        Err(format!("the token in {} is shorter than 16 characters", site.token_file.display()))
                    } else {
                        Ok(digest(&token))
                    }
                });
            if let Err(reason) = &digest {
                tracing::error!(site = %site.name, %reason, "sync: this site's batches are refused until its token can be read");
            }
            let (lock, position, origin, status) = match inner.sites.remove(&site.name) {
                Some(old) => (old.lock, old.position, old.origin, old.status),
                None => (Default::default(), None, None, Tracked::new(&site.name)),
            };
            sites.insert(site.name.clone(), Site { digest, lock, position, origin, status });
        }
        inner.sites = sites;
    }

    /// The site whose token `bearer` is, checked against the site of the
    /// path: a token is only ever good for its own site's namespace.
    pub fn authenticate(&self, site: &str, bearer: Option<&str>) -> Result<(), Refused> {
        let inner = self.inner();
        if !inner.enabled {
            return Err(refused(
                404,
                "this host is not a monitoring center: it has no [center] in its configuration".into(),
            ));
        }
        let Some(bearer) = bearer.filter(|b| !b.is_empty()) else {
            return Err(refused(401, format!("site {site}: no token (Authorization: Bearer <the site's token>)")));
        };
        let presented = digest(bearer);
        let owner = inner.sites.iter().find(|(_, s)| s.digest.as_ref().is_ok_and(|d| same(d, &presented)));
        match owner {
            Some((name, _)) if name == site => Ok(()),
            Some((name, _)) => {
                Err(refused(403, format!("the token of site {name} cannot write into site {site}'s namespace")))
            }
            None => match inner.sites.get(site) {
                None => Err(refused(
                    401,
                    format!("site {site} is not one of this center's sites, and the token is not any site's"),
                )),
                Some(s) => Err(refused(
                    401,
                    match &s.digest {
                        Ok(_) => format!("site {site}: the token is not this site's token"),
                        Err(reason) => format!("site {site}: the center cannot check tokens for this site: {reason}"),
                    },
                )),
            },
        }
    }

    /// Where the center stands for `site` (authenticated), asked by
    /// installation `origin`.
    pub fn position(&self, site: &str, origin: Option<u64>) -> Result<WirePosition, Refused> {
        let position = self.known_position(site)?;
        self.check_origin(site, origin)?;
        self.contact(site, None);
        Ok(position)
    }

    fn known_position(&self, site: &str) -> Result<WirePosition, Refused> {
        if let Some(position) = self.inner().sites.get(site).and_then(|s| s.position) {
            return Ok(position);
        }
        let marks = self
            .archive
            .resume_marks(&source(site))
            .map_err(|e| refused(503, format!("site {site}: the center cannot read its position: {e}")))?;
        let mark = |key| marks.get(key).copied().unwrap_or(0).max(0) as u64;
        let position = WirePosition { readings: mark(MARK_READINGS), accounting: mark(MARK_ACCOUNTING) };
        let origin = marks.get(MARK_ORIGIN).map(|&o| o as u64);
        let mut inner = self.inner();
        let site = inner.sites.get_mut(site).ok_or_else(|| refused(404, format!("site {site} was removed")))?;
        if site.origin.is_none() {
            site.origin = origin;
        }
        Ok(*site.position.get_or_insert(position))
    }

    /// Whether `origin` may send as `site`: the installation the center
    /// took the site's data from, or any while it has none.
    fn check_origin(&self, site: &str, origin: Option<u64>) -> Result<(), Refused> {
        let known = self.inner().sites.get(site).and_then(|s| s.origin);
        match (known, origin) {
            (Some(known), Some(origin)) if known != origin => Err(self.failed(
                site,
                409,
                format!(
                    "site {site}: the center takes this site's data from another installation ({known:x}; this is {origin:x}): a re-installed site or two hosts with one site's name and token; give this one a site name of its own (docs/sync.md)"
                ),
            )),
            _ => Ok(()),
        }
    }

    /// The largest batch taken, compressed.
    pub fn max_batch_bytes(&self) -> usize {
        self.inner().max_batch_bytes
    }

    /// Take one batch of `site` (authenticated): stored in the journal
    /// before the answer, or refused with why.
    pub async fn receive(&self, site: &str, peer: &str, body: &[u8]) -> Result<Answer, Refused> {
        let lock = {
            let inner = self.inner();
            let s = inner.sites.get(site).ok_or_else(|| refused(404, format!("site {site} is not configured")))?;
            s.lock.clone()
        };
        let _one_at_a_time = lock.lock().await;
        let batch = wire::decode(body, wire::MAX_INFLATED_BYTES)
            .and_then(|b| b.check().map(|()| b))
            .map_err(|e| self.failed(site, 400, format!("site {site}: {e}")))?;
        if batch.site != site {
            return Err(self.failed(
                site,
                403,
                format!("a batch of site {} was sent to site {site}'s address", batch.site),
            ));
        }
        let position = self.known_position(site)?;
        self.check_origin(site, batch.origin)?;
        self.contact(site, Some(&batch));
        if position.covers(batch.to) && !batch.is_heartbeat() {
            return Ok(Answer { position, already_held: true, error: None });
        }
        if batch.from != position {
            let message = format!(
                "site {site}: the batch starts at {:?}, the center holds the site through {:?}; send from there",
                batch.from, position
            );
            return Err(Refused { status: 409, message, position: Some(position) });
        }
        if batch.is_heartbeat() {
            return Ok(Answer { position, already_held: false, error: None });
        }
        // The registry first: taking a meter's metadata again is harmless
        // if the batch then fails and is sent again, while metadata taken
        // after the journal could be lost to a crash in between.
        self.take_registry(site, &batch).await?;
        let frame = RawFrame {
            seq: 0,
            source: source(site),
            peer: peer.to_owned(),
            received_at_ms: now_ms(),
            transport: Transport::Http,
            content_type: wire::CONTENT_TYPE.to_owned(),
            meta: [
                (MARK_READINGS, Some(batch.to.readings)),
                (MARK_ACCOUNTING, Some(batch.to.accounting)),
                (MARK_ORIGIN, batch.origin),
            ]
            .into_iter()
            .filter_map(|(key, value)| Some((format!("resume.mark.{key}"), value?.to_string())))
            .collect(),
            payload: body.to_vec(),
        };
        if let Err(e) = self.journal.append(Entry::Frame(frame)).await {
            // The writer reports a full disk in the store health.
            let full = matches!(&e, JournalError::Io { source, .. } if meterhub_storage::health::is_disk_full(source))
                || self.journal.health().problems().iter().any(|p| p.store == "journal" && p.disk_full);
            let disk = if full { 507 } else { 503 };
            return Err(self.failed(site, disk, format!("site {site}: the center cannot store the batch: {e}")));
        }
        let mut inner = self.inner();
        if let Some(s) = inner.sites.get_mut(site) {
            s.position = Some(batch.to);
            s.origin = s.origin.or(batch.origin);
            s.status.stored(&batch, body.len() as u64);
        }
        Ok(Answer { position: batch.to, already_held: false, error: None })
    }

    /// Check what `site` (authenticated) holds, as its zstd-compressed
    /// [`CheckRequest`] in `body` says, against what the center holds of it.
    /// The site sends it between two batches from the position the center
    /// holds; the center answers once it has applied everything through it.
    pub async fn check(&self, site: &str, body: &[u8]) -> Result<CheckReport, Refused> {
        let lock = {
            let inner = self.inner();
            let s = inner.sites.get(site).ok_or_else(|| refused(404, format!("site {site} is not configured")))?;
            s.lock.clone()
        };
        let _no_batch_meanwhile = lock.lock().await;
        let request: CheckRequest = wire::inflate(body, wire::MAX_INFLATED_BYTES)
            .map_err(|e| format!("the check: {e}"))
            .and_then(|json| {
                serde_json::from_slice(&json).map_err(|e| format!("the check is not a check request: {e}"))
            })
            .map_err(|e| self.failed(site, 400, format!("site {site}: {e}")))?;
        let position = self.known_position(site)?;
        if request.through != position {
            let message = format!(
                "site {site}: the check covers the site through {:?}, the center holds it through {:?}",
                request.through, position
            );
            return Err(Refused { status: 409, message, position: Some(position) });
        }
        // Committed is not yet applied: wait until the archive holds it.
        let source = source(site);
        let deadline = tokio::time::Instant::now() + APPLIED_DEADLINE;
        loop {
            let marks = self.archive.resume_marks(&source).unwrap_or_default();
            if marks.get(MARK_READINGS).copied().unwrap_or(0).max(0) as u64 >= position.readings {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(self.failed(
                    site,
                    503,
                    format!(
                        "site {site}: the center has not archived all it received within {} s; check again later",
                        APPLIED_DEADLINE.as_secs()
                    ),
                ));
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let (archive, prefix) = (self.archive.clone(), super::frame::meter(site, ""));
        let (from_ms, to_ms) = (request.from_ms, request.to_ms.min(request.from_ms + check::MAX_DAYS * 86_400_000));
        let here = tokio::task::spawn_blocking(move || check::digests(&*archive, &prefix, from_ms, to_ms, |_| true))
            .await
            .map_err(|e| refused(503, format!("site {site}: the check failed: {e}")))?
            .map_err(|e| self.failed(site, 503, format!("site {site}: {e}")))?;
        let report = check::compare(site, &request, &here, now_ms());
        if !report.clean() {
            tracing::warn!(%site, different = report.different, first = ?report.differences.first(),
                "sync check: the center holds days of this site differently");
        }
        if let Some(s) = self.inner().sites.get_mut(site) {
            s.status.status.last_check = Some(report.clone());
        }
        Ok(report)
    }

    /// The site's changed meters, under the site's name, into the center's
    /// registry (their metadata and register events; what the center's
    /// accounting computes from).
    async fn take_registry(&self, site: &str, batch: &Batch) -> Result<(), Refused> {
        let mut meters = Vec::new();
        for change in batch.registry.iter().filter(|c| c.kind == "meter") {
            match serde_json::from_str::<MeterRecord>(&change.entry.json) {
                Ok(mut record) => {
                    record.id = super::frame::meter(site, &record.id);
                    record.source = source(site);
                    // The site's modules are not the center's.
                    record.module = None;
                    meters.push(record);
                }
                Err(e) => {
                    let message =
                        format!("site {site}: meter {} of the site's registry cannot be read: {e}", change.entry.id);
                    tracing::warn!(%site, error = %message, "sync: registry change left out");
                    self.note(site, message);
                }
            }
        }
        if meters.is_empty() {
            return Ok(());
        }
        let (store, actor) = (self.accounting.clone(), source(site));
        let taken = tokio::task::spawn_blocking(move || {
            meters.into_iter().try_for_each(|record| store.replicate_meter(record, &actor).map(drop))
        })
        .await;
        match taken {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                Err(self.failed(site, 503, format!("site {site}: the center cannot take the site's registry: {e}")))
            }
            Err(e) => {
                Err(self.failed(site, 503, format!("site {site}: the center cannot take the site's registry: {e}")))
            }
        }
    }

    /// Keep `message` as the site's last error.
    fn note(&self, site: &str, message: String) {
        if let Some(s) = self.inner().sites.get_mut(site) {
            s.status.status.last_error = Some(SiteError { at_ms: now_ms(), message });
        }
    }

    /// Note a refusal on the site's status and log it.
    fn failed(&self, site: &str, status: u16, message: String) -> Refused {
        tracing::warn!(%site, status, error = %message, "sync: batch refused");
        self.note(site, message.clone());
        refused(status, message)
    }

    /// The site was heard from, with its heads when a batch says them.
    fn contact(&self, site: &str, batch: Option<&Batch>) {
        if let Some(s) = self.inner().sites.get_mut(site) {
            s.status.contact(batch);
        }
    }

    /// Every site's link as it is now.
    pub fn sites(&self) -> Vec<SiteStatus> {
        let now = now_ms();
        let inner = self.inner();
        inner
            .sites
            .values()
            .map(|s| {
                let mut status =
                    s.status.view(now, s.position.unwrap_or_default(), inner.alarm_silence_ms, inner.alarm_lag_seconds);
                if let Err(reason) = &s.digest {
                    status.last_error = Some(SiteError { at_ms: now, message: reason.clone() });
                }
                status
            })
            .collect()
    }
}

impl Tracked {
    fn new(site: &str) -> Tracked {
        Tracked {
            status: SiteStatus {
                site: site.to_owned(),
                state: LinkState::Down,
                position: WirePosition::default(),
                site_head: WirePosition::default(),
                lag_records: 0,
                lag_seconds: 0.0,
                last_contact_ms: None,
                last_batch_ms: None,
                batches: 0,
                readings: 0,
                bytes: 0,
                throughput_rps: 0.0,
                eta_seconds: None,
                clock_offset_ms: None,
                unreadable: 0,
                last_error: None,
                warning: None,
                alarm: None,
                last_check: None,
                site_counters: BTreeMap::new(),
            },
            progress_ms: 0,
            recent: RateWindow::default(),
        }
    }

    fn contact(&mut self, batch: Option<&Batch>) {
        let now = now_ms();
        self.status.last_contact_ms = Some(now);
        if let Some(batch) = batch {
            self.status.site_head = batch.head;
            if !batch.counters.is_empty() {
                self.status.site_counters.clone_from(&batch.counters);
            }
            let offset = batch.sent_ms - now;
            self.status.clock_offset_ms = Some(offset);
            self.status.warning = (offset.abs() > 300_000).then(|| {
                format!(
                    "the site's clock is {:+.0} s off the center's; lag is measured by the site's clock",
                    offset as f64 / 1000.0
                )
            });
            // By the site's clock alone, so clocks that disagree do not
            // distort it.
            self.status.lag_seconds = match batch.oldest_unsent_ms {
                Some(oldest) if !batch.to.covers(batch.head) => (batch.sent_ms - oldest).max(0) as f64 / 1000.0,
                _ => 0.0,
            };
        }
    }

    fn stored(&mut self, batch: &Batch, bytes: u64) {
        let now = now_ms();
        self.status.last_batch_ms = Some(now);
        self.status.batches += 1;
        self.status.readings += batch.readings.len() as u64;
        self.status.bytes += bytes;
        self.status.unreadable += batch.unreadable.len() as u64;
        self.progress_ms = now;
        self.recent.count(batch.readings.len() as u64 + batch.registry.len() as u64, now);
    }

    fn view(
        &self,
        now: i64,
        position: WirePosition,
        alarm_silence_ms: Option<i64>,
        alarm_lag_seconds: Option<f64>,
    ) -> SiteStatus {
        let mut status = self.status.clone();
        status.position = position;
        status.throughput_rps = self.recent.per_second(now);
        let lag = status.site_head.readings.saturating_sub(position.readings)
            + status.site_head.accounting.saturating_sub(position.accounting);
        status.lag_records = lag;
        if lag == 0 {
            status.lag_seconds = 0.0;
        }
        status.eta_seconds = RateWindow::eta(lag, status.throughput_rps);
        let silent = status.last_contact_ms.is_none_or(|at| now - at > DOWN_AFTER_MS);
        status.state = if silent {
            LinkState::Down
        } else if lag == 0 {
            LinkState::InSync
        } else if now - self.progress_ms <= STALLED_AFTER_MS {
            LinkState::CatchingUp
        } else {
            LinkState::Stalled
        };
        let silent_s = status.last_contact_ms.map(|at| (now - at) as f64 / 1000.0);
        let silence = alarm_silence_ms
            .map(|ms| ms as f64 / 1000.0)
            .filter(|limit| status.state == LinkState::Down && silent_s.is_none_or(|s| s > *limit));
        status.alarm = match (silence, alarm_lag_seconds) {
            (Some(limit), _) => Some(SiteAlarm {
                kind: "silent",
                limit_seconds: limit,
                seconds: silent_s.unwrap_or(0.0),
                message: match silent_s {
                    Some(s) => format!("site {} not heard from for {s:.0} s", status.site),
                    None => format!("site {} has not been heard from since the center started", status.site),
                },
            }),
            (None, Some(limit)) if status.lag_seconds > limit => Some(SiteAlarm {
                kind: "lag",
                limit_seconds: limit,
                seconds: status.lag_seconds,
                message: format!(
                    "site {} is {:.0} s behind, more than the {limit:.0} s allowed",
                    status.site, status.lag_seconds
                ),
            }),
            _ => None,
        };
        status
    }
}
