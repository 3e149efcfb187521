//! One sink instance at work: follows two logs from the position its
//! database holds (the archive's readings by sequence number, the
//! accounting's changes of deltas, meters and modules by revision), in
//! batches, and moves that position only in the transaction that wrote the
//! batch. A failure keeps the batch and tries it
//! again after an exponential delay with jitter; a record the database or
//! the plugin refuses goes to the dead-letter list (found by halving the
//! batch), and the others go on. Ingestion never waits for a sink: the
//! worker only reads the archive.

use std::sync::Arc;
use std::time::Duration;

use meterhub_plugin_api::SinkRecord;
use meterhub_storage::archive::Archive;
use meterhub_storage::clock::now_ms;
use tokio::sync::{mpsc, watch};

use super::status::{Command, SinkError, SinkState, StatusCell, update};
use super::target::{Failure, Item, Log, Position, Target};
use crate::accounting::AccountingStore;
use crate::accounting::store::Changed;
use crate::config::SinkConfig;

/// How long an idle sink waits before looking at the log again (newly
/// archived readings wake it at once).
const IDLE_POLL: Duration = Duration::from_millis(500);

/// A sink instance's worker.
pub struct Worker<T: Target> {
    /// Its configuration.
    pub config: SinkConfig,
    /// Where it delivers.
    pub target: T,
    /// What it follows: the readings.
    pub archive: Arc<dyn Archive>,
    /// What it follows: deltas and the registry.
    pub accounting: Arc<AccountingStore>,
    /// What operators see.
    pub status: StatusCell,
    /// The archive log's head, moved by each apply: a wake-up.
    pub archived: watch::Receiver<u64>,
    /// `true` once it must stop.
    pub stop: watch::Receiver<bool>,
    /// Requests from the API.
    pub commands: mpsc::Receiver<Command>,
}

/// What one round did.
enum Round {
    /// Delivered records; there may be more.
    Delivered,
    /// Nothing new.
    Idle,
}

impl<T: Target> Worker<T> {
    /// Run until told to stop.
    pub async fn run(mut self) {
        let mut position: Option<Position> = None;
        let mut failures = 0u32;
        tracing::info!(sink = %self.config.id, kind = %self.config.kind(), target = %self.target.describe(), "sink started");
        while !*self.stop.borrow() {
            while let Ok(command) = self.commands.try_recv() {
                self.target.serve(command, position).await;
            }
            match self.round(&mut position).await {
                Ok(Round::Delivered) => failures = 0,
                Ok(Round::Idle) => {
                    failures = 0;
                    // Caught up: whatever failed before is over.
                    update(&self.status, |s| s.failure = None);
                    if let Some(command) = self.idle().await {
                        self.target.serve(command, position).await;
                    }
                }
                Err(failure) => {
                    failures += 1;
                    let delay = self.config.retry.delay(failures);
                    let message = failure.to_string();
                    tracing::warn!(sink = %self.config.id, error = %message, retry_in_ms = delay.as_millis() as u64, "sink cannot write; what it has not written is kept and tried again");
                    update(&self.status, |s| {
                        s.state = SinkState::Retrying;
                        s.retried += 1;
                        s.failure = Some(failure.kind());
                        s.last_error = Some(SinkError { at_ms: now_ms(), message });
                    });
                    // Whatever failed, the next attempt starts from what the
                    // database says: a fresh connection and its position.
                    position = None;
                    self.target.disconnect();
                    self.wait_failing(delay).await;
                }
            }
        }
        update(&self.status, |s| s.state = SinkState::Stopped);
        tracing::info!(sink = %self.config.id, "sink stopped");
    }

    /// Wait for newly archived readings, [`IDLE_POLL`], the stop, or a
    /// request (returned).
    async fn idle(&mut self) -> Option<Command> {
        tokio::select! {
            Ok(()) = self.archived.changed() => None,
            _ = tokio::time::sleep(IDLE_POLL) => None,
            _ = self.stop.changed() => None,
            command = self.commands.recv() => command,
        }
    }

    /// Wait `delay` unless told to stop.
    async fn pause(&mut self, delay: Duration) {
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = self.stop.changed() => {}
        }
    }

    /// Connect when needed, read a batch after the position, deliver it.
    async fn round(&mut self, connected: &mut Option<Position>) -> Result<Round, Failure> {
        if connected.is_none() {
            *connected = Some(self.connect().await?);
        }
        let position = connected.as_mut().expect("connected above");
        let mut items = self.read(*position).await?;
        if items.len() < self.config.batch_records && !self.config.linger.is_zero() && !items.is_empty() {
            self.pause(self.config.linger).await;
            items = self.read(*position).await?;
        }
        self.show_lag(*position, oldest_archived(&items));
        if items.is_empty() {
            self.target.idle(*position).await?;
            return Ok(Round::Idle);
        }
        let status = self.status.clone();
        let report = move |records, rejected, to| delivered(&status, records, rejected, to);
        self.target.deliver(&items, position, &report).await?;
        Ok(Round::Delivered)
    }

    /// Show how far behind the logs' heads `position` is; `oldest_ms` is
    /// when the first undelivered reading was archived.
    fn show_lag(&self, position: Position, oldest_ms: Option<i64>) {
        let head = self.archive.log_head().unwrap_or(position.readings);
        let revision = self.accounting.revision().unwrap_or(position.accounting);
        let limit = self.config.alarm_lag;
        let (id, now) = (&self.config.id, now_ms());
        update(&self.status, |s| {
            s.head = head;
            s.accounting_head = revision;
            // Revisions, not items: an upper bound (counting the compacted
            // items would be a scan of the index every round).
            s.lag_records = head.saturating_sub(position.readings) + revision.saturating_sub(position.accounting);
            s.lag_seconds =
                if s.lag_records == 0 { 0.0 } else { oldest_ms.map_or(0.0, |at| (now - at).max(0) as f64 / 1000.0) };
            s.update_rate(now);
            let over = limit.filter(|limit| s.lag_seconds > limit.as_secs_f64());
            match (over, s.alarm) {
                (Some(limit), None) => {
                    tracing::warn!(sink = %id, lag_seconds = s.lag_seconds, limit_seconds = limit.as_secs(),
                        "sink is behind more than its alarm_lag_seconds; what it has not written is kept in the archive");
                    s.alarm = Some(super::status::LagAlarm { since_ms: now, limit_seconds: limit.as_secs() });
                }
                (None, Some(_)) => {
                    tracing::info!(sink = %id, lag_seconds = s.lag_seconds, "sink is within its alarm_lag_seconds again");
                    s.alarm = None;
                }
                _ => {}
            }
        });
    }

    /// Wait `delay` unless told to stop, showing the growing lag every second.
    async fn wait_failing(&mut self, delay: Duration) {
        let until = tokio::time::Instant::now() + delay;
        loop {
            self.show_lag_while_failing().await;
            let now = tokio::time::Instant::now();
            if now >= until || *self.stop.borrow() {
                return;
            }
            self.pause((until - now).min(Duration::from_secs(1))).await;
        }
    }

    /// While failing: how far behind the last known position is.
    async fn show_lag_while_failing(&self) {
        let position = {
            let status = self.status.lock().unwrap_or_else(|e| e.into_inner());
            let Some(readings) = status.position else { return };
            Position { readings, accounting: status.accounting_position.unwrap_or(0) }
        };
        let archive = self.archive.clone();
        let first = tokio::task::spawn_blocking(move || archive.log_after(position.readings, 1)).await;
        let items: Vec<Item> =
            first.ok().and_then(Result::ok).map(|log| log.iter().map(Item::of).collect()).unwrap_or_default();
        self.show_lag(position, oldest_archived(&items));
    }

    /// A fresh connection with the target set up and its position read.
    async fn connect(&mut self) -> Result<Position, Failure> {
        update(&self.status, |s| s.state = SinkState::Starting);
        let connected = self.target.connect().await?;
        let position = connected.position;
        update(&self.status, |s| {
            s.state = SinkState::Running;
            s.position = Some(position.readings);
            s.accounting_position = Some(position.accounting);
            s.schema_version = connected.schema_version;
        });
        tracing::info!(sink = %self.config.id, readings = position.readings, accounting = position.accounting,
            schema_version = connected.schema_version, "sink connected");
        Ok(position)
    }

    /// Up to a batch after `position`: readings first, then changes of the
    /// accounting (each log in its order).
    async fn read(&self, position: Position) -> Result<Vec<Item>, Failure> {
        let (archive, accounting) = (self.archive.clone(), self.accounting.clone());
        let limit = self.config.batch_records;
        let deltas = self.target.wants_deltas();
        tokio::task::spawn_blocking(move || {
            let entries = archive
                .log_after(position.readings, limit)
                .map_err(|e| Failure::Unavailable(format!("cannot read the archive log: {e}")))?;
            let mut items: Vec<Item> = entries.iter().map(Item::of).collect();
            let room = limit.saturating_sub(items.len());
            if room > 0 {
                let changes = accounting
                    .changes_after(position.accounting, room)
                    .map_err(|e| Failure::Unavailable(format!("cannot read the accounting's changes: {e}")))?;
                let mut units = super::records::Units::new();
                for (rev, changed) in changes {
                    let delta = matches!(changed, Changed::Delta { .. } | Changed::DeltaRemoved { .. });
                    let record = if delta && !deltas {
                        Ok(None)
                    } else {
                        super::records::change(&accounting, &changed, &mut units)
                            .map_err(|e| format!("the accounting cannot read this change: {e}"))
                    };
                    items.push(Item { log: Log::Accounting, seq: rev, frame: None, record });
                }
            }
            Ok(items)
        })
        .await
        .map_err(|e| Failure::Unavailable(format!("reading the logs failed: {e}")))?
    }
}

/// Show a write of `records` (`rejected` of them dead letters) that moved
/// the position to `position`.
fn delivered(status: &StatusCell, records: u64, rejected: u64, position: Position) {
    update(status, |s| {
        s.state = SinkState::Running;
        s.failure = None;
        s.position = Some(position.readings);
        s.accounting_position = Some(position.accounting);
        s.delivered += records - rejected;
        s.rejected += rejected;
        s.batches += 1;
        s.last_success_ms = Some(now_ms());
        // Behind the heads seen when the batch was read: 0 once all that
        // existed then is delivered (under steady ingest the heads move
        // on at once; the next round shows that).
        s.lag_records =
            s.head.saturating_sub(position.readings) + s.accounting_head.saturating_sub(position.accounting);
        if s.lag_records == 0 {
            s.lag_seconds = 0.0;
        }
        s.count_rate(records, now_ms());
    });
}

/// When the first undelivered reading of `items` was archived.
fn oldest_archived(items: &[Item]) -> Option<i64> {
    items.iter().find_map(|i| match &i.record {
        Ok(Some(SinkRecord::Reading(r))) => Some(r.archived_at_ms),
        _ => None,
    })
}
