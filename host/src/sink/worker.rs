//! One sink instance at work: follows two logs from the position its
//! database holds (the archive's readings by sequence number, the
//! accounting's changes of deltas, meters and modules by revision), in
//! batches, and moves that position only in the transaction that wrote the
//! batch. A failure keeps the batch and tries it
//! again after an exponential delay with jitter; a record the database or
//! the plugin refuses goes to the dead-letter list (found by halving the
//! batch), and the others go on. Ingestion never waits for a sink: the
//! worker only reads the archive.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use meterhub_plugin_api::{SinkRecord, SqlBatch};
use meterhub_storage::archive::{Archive, LogEntry, StoredReading};
use meterhub_storage::clock::now_ms;
use tokio::sync::{broadcast, mpsc, watch};

use super::postgres::{Connection, DeadLetter, Failure, Log, Position};
use super::status::{Command, SinkError, SinkState, StatusCell, update};
use crate::accounting::AccountingStore;
use crate::config::SinkConfig;
use crate::plugin::instance::PluginInstance;
use crate::plugin::supervisor::Supervised;

/// How long an idle sink waits before looking at the log again (newly
/// archived readings wake it at once).
const IDLE_POLL: Duration = Duration::from_millis(500);
/// Most dead letters one resend writes.
const RESEND_LIMIT: i64 = 10_000;

/// One item of a batch: a record of one of the logs, or why it cannot be read.
struct Item {
    log: Log,
    seq: u64,
    record: Result<SinkRecord, String>,
}

impl Item {
    fn of(entry: LogEntry) -> Item {
        match entry {
            Ok(stored) => Item { log: Log::Readings, seq: stored.seq, record: Ok(super::records::reading(stored)) },
            Err(unreadable) => Item {
                log: Log::Readings,
                seq: unreadable.seq,
                record: Err(format!("the archive cannot read this record: {}", unreadable.error)),
            },
        }
    }

    fn dead(&self, reason: String) -> DeadLetter {
        let record = match &self.record {
            Ok(record) => serde_json::to_string(record).unwrap_or_default(),
            Err(_) => serde_json::json!({ "unreadable": self.seq }).to_string(),
        };
        DeadLetter { log: self.log, seq: self.seq, record, reason }
    }
}

/// Where the sink stands after writing `items` from `from`.
fn position_after(from: Position, items: &[Item]) -> Position {
    let last = |log: Log| items.iter().rev().find(|i| i.log == log).map(|i| i.seq);
    Position {
        readings: last(Log::Readings).unwrap_or(from.readings),
        accounting: last(Log::Accounting).unwrap_or(from.accounting),
    }
}

/// A sink instance's worker.
pub struct Worker {
    /// Its configuration.
    pub config: SinkConfig,
    /// Its plugin instance (calls block: they run on the blocking pool).
    pub plugin: Arc<Mutex<Supervised>>,
    /// What it follows: the readings.
    pub archive: Arc<dyn Archive>,
    /// What it follows: deltas and the registry.
    pub accounting: Arc<AccountingStore>,
    /// What operators see.
    pub status: StatusCell,
    /// Newly archived readings: only a wake-up.
    pub bus: broadcast::Receiver<StoredReading>,
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

impl Worker {
    /// Run until told to stop.
    pub async fn run(mut self) {
        let mut connection: Option<(Connection, Position)> = None;
        let mut failures = 0u32;
        tracing::info!(sink = %self.config.id, plugin = %self.config.plugin, target = %super::postgres::describe(&self.config.target.clone()), "sink started");
        while !*self.stop.borrow() {
            while let Ok(command) = self.commands.try_recv() {
                self.serve(command, &mut connection).await;
            }
            match self.round(&mut connection).await {
                Ok(Round::Delivered) => failures = 0,
                Ok(Round::Idle) => {
                    failures = 0;
                    if let Some(command) = self.idle().await {
                        self.serve(command, &mut connection).await;
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
                        s.last_error = Some(SinkError { at_ms: now_ms(), message });
                    });
                    // Whatever failed, the next attempt starts from what the
                    // database says: a fresh connection and its position.
                    connection = None;
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
            _ = self.bus.recv() => None,
            _ = tokio::time::sleep(IDLE_POLL) => None,
            _ = self.stop.changed() => None,
            command = self.commands.recv() => command,
        }
    }

    /// Answer a request of the API on the current connection.
    async fn serve(&mut self, command: Command, connection: &mut Option<(Connection, Position)>) {
        let not_connected = || {
            let status = self.status.lock().unwrap_or_else(|e| e.into_inner());
            let why = status.last_error.as_ref().map_or_else(String::new, |e| format!(": {}", e.message));
            format!("sink {} is not connected to its database{why}", self.config.id)
        };
        match command {
            Command::DeadLetters(limit, reply) => {
                let answer = match connection.as_ref() {
                    Some((conn, _)) => conn.dead_letters(limit, &self.config.target).await.map_err(|e| e.to_string()),
                    None => Err(not_connected()),
                };
                let _ = reply.send(answer);
            }
            Command::Resend(reply) => {
                let answer = match connection.as_mut() {
                    Some((conn, _)) => self.resend(conn).await.map_err(|e| e.to_string()),
                    None => Err(not_connected()),
                };
                let _ = reply.send(answer);
            }
        }
    }

    /// Write the dead letters again through the plugin: those it now
    /// writes leave the list, those it still refuses stay with the new reason.
    async fn resend(&mut self, conn: &mut Connection) -> Result<super::postgres::Resent, Failure> {
        let letters = conn.dead_letters(RESEND_LIMIT, &self.config.target).await?;
        let mut records = Vec::new();
        let mut keys = Vec::new();
        for letter in &letters {
            if let (Ok(record), Some(log)) =
                (serde_json::from_value::<SinkRecord>(letter.record.clone()), Log::parse(&letter.log))
            {
                records.push(record);
                keys.push((log, letter.seq));
            }
        }
        let batch = if records.is_empty() { SqlBatch::default() } else { self.map(records.clone()).await? };
        let mut still = Vec::new();
        for rejected in &batch.rejected {
            if let (Some(record), Some(&(log, seq))) =
                (records.get(rejected.index as usize), keys.get(rejected.index as usize))
            {
                let record = serde_json::to_string(record).unwrap_or_default();
                still.push(DeadLetter { log, seq, record, reason: rejected.reason.clone() });
            }
        }
        let written: Vec<(Log, u64)> =
            keys.into_iter().filter(|&(log, seq)| !still.iter().any(|d| d.log == log && d.seq == seq)).collect();
        let resent = conn.resend(&batch.statements, &written, &still, &self.config.target).await?;
        tracing::info!(sink = %self.config.id, written = resent.written, refused = resent.refused, "dead letters sent again");
        Ok(resent)
    }

    /// Wait `delay` unless told to stop.
    async fn pause(&mut self, delay: Duration) {
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = self.stop.changed() => {}
        }
    }

    /// Connect when needed, read a batch after the position, deliver it.
    async fn round(&mut self, connection: &mut Option<(Connection, Position)>) -> Result<Round, Failure> {
        if connection.is_none() {
            *connection = Some(self.connect().await?);
        }
        let (conn, position) = connection.as_mut().expect("connected above");
        let mut items = self.read(*position).await?;
        if items.len() < self.config.batch_records && !self.config.linger.is_zero() && !items.is_empty() {
            self.pause(self.config.linger).await;
            items = self.read(*position).await?;
        }
        self.show_lag(*position, oldest_archived(&items));
        if items.is_empty() {
            return Ok(Round::Idle);
        }
        self.deliver(conn, position, &items).await?;
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
        let items: Vec<Item> = first.ok().and_then(Result::ok).into_iter().flatten().map(Item::of).collect();
        self.show_lag(position, oldest_archived(&items));
    }

    /// A fresh connection with the schema set up and the position read.
    async fn connect(&mut self) -> Result<(Connection, Position), Failure> {
        update(&self.status, |s| s.state = SinkState::Starting);
        let target = &self.config.target;
        let mut conn = Connection::open(&self.config.id, target).await?;
        let plugin = self.plugin.clone();
        let migrations = tokio::task::spawn_blocking(move || lock(&plugin).migrations())
            .await
            .map_err(|e| Failure::Setup(format!("the plugin call failed: {e}")))?
            .map_err(|fault| Failure::Setup(fault.to_string()))?
            .map_err(|refusal| Failure::Setup(format!("plugin {} gave no schema: {refusal}", self.config.plugin)))?;
        let version = conn.migrate(&self.config.plugin, &migrations, target).await?;
        let position = conn.position(target).await?;
        update(&self.status, |s| {
            s.state = SinkState::Running;
            s.position = Some(position.readings);
            s.accounting_position = Some(position.accounting);
            s.schema_version = Some(version);
        });
        tracing::info!(sink = %self.config.id, readings = position.readings, accounting = position.accounting,
            schema_version = version, "sink connected");
        Ok((conn, position))
    }

    /// Up to a batch after `position`: readings first, then changes of the
    /// accounting (each log in its order).
    async fn read(&self, position: Position) -> Result<Vec<Item>, Failure> {
        let (archive, accounting) = (self.archive.clone(), self.accounting.clone());
        let limit = self.config.batch_records;
        tokio::task::spawn_blocking(move || {
            let entries = archive
                .log_after(position.readings, limit)
                .map_err(|e| Failure::Unavailable(format!("cannot read the archive log: {e}")))?;
            let mut items: Vec<Item> = entries.into_iter().map(Item::of).collect();
            let room = limit.saturating_sub(items.len());
            if room > 0 {
                let changes = accounting
                    .changes_after(position.accounting, room)
                    .map_err(|e| Failure::Unavailable(format!("cannot read the accounting's changes: {e}")))?;
                let mut units = super::records::Units::new();
                for (rev, changed) in changes {
                    let record = match super::records::change(&accounting, &changed, &mut units) {
                        Ok(Some(record)) => Ok(record),
                        // Gone without a trace: nothing to deliver.
                        Ok(None) => continue,
                        Err(e) => Err(format!("the accounting cannot read this change: {e}")),
                    };
                    items.push(Item { log: Log::Accounting, seq: rev, record });
                }
            }
            Ok(items)
        })
        .await
        .map_err(|e| Failure::Unavailable(format!("reading the logs failed: {e}")))?
    }

    /// Deliver `items` (in log order) from `position`, moving it along. A
    /// slice the database refuses for its data is halved until the record
    /// is found, which goes to the dead-letter list.
    async fn deliver(&mut self, conn: &mut Connection, position: &mut Position, items: &[Item]) -> Result<(), Failure> {
        let mut pending = vec![(0, items.len())];
        while let Some((from, to)) = pending.pop() {
            let slice = &items[from..to];
            match self.write(conn, *position, slice).await {
                Ok(()) => {}
                Err(Failure::Data(reason)) if slice.len() == 1 => {
                    let dead = [slice[0].dead(reason.clone())];
                    let to = position_after(*position, slice);
                    conn.write(&[], &dead, *position, to, &self.config.target).await?;
                    tracing::error!(sink = %self.config.id, log = slice[0].log.as_str(), seq = slice[0].seq, %reason,
                        "record put on the sink's dead-letter list");
                    self.delivered(1, 1, to);
                }
                Err(Failure::Data(_)) => {
                    let middle = from + slice.len() / 2;
                    pending.push((middle, to));
                    pending.push((from, middle));
                    continue;
                }
                Err(other) => return Err(other),
            }
            *position = position_after(*position, slice);
        }
        Ok(())
    }

    /// Write one slice: the plugin's statements, its refusals and the
    /// unreadable records as dead letters, and the position, in one
    /// transaction.
    async fn write(&mut self, conn: &mut Connection, position: Position, slice: &[Item]) -> Result<(), Failure> {
        let mut dead = Vec::new();
        let mut records = Vec::with_capacity(slice.len());
        let mut indices = Vec::with_capacity(slice.len());
        for (i, item) in slice.iter().enumerate() {
            match &item.record {
                Ok(record) => {
                    records.push(record.clone());
                    indices.push(i);
                }
                Err(reason) => dead.push(item.dead(reason.clone())),
            }
        }
        let batch = if records.is_empty() { SqlBatch::default() } else { self.map(records).await? };
        for rejected in &batch.rejected {
            match indices.get(rejected.index as usize) {
                Some(&i) => dead.push(slice[i].dead(format!("the plugin refused it: {}", rejected.reason))),
                None => {
                    return Err(Failure::Setup(format!(
                        "plugin {} refused record {} of a batch of {}",
                        self.config.plugin,
                        rejected.index,
                        indices.len()
                    )));
                }
            }
        }
        let to = position_after(position, slice);
        conn.write(&batch.statements, &dead, position, to, &self.config.target).await?;
        for d in &dead {
            tracing::error!(sink = %self.config.id, log = d.log.as_str(), seq = d.seq, reason = %d.reason,
                "record put on the sink's dead-letter list");
        }
        self.delivered(slice.len() as u64, dead.len() as u64, to);
        Ok(())
    }

    /// The plugin's statements for `records`; a refusal of the whole batch
    /// rejects every record of it.
    async fn map(&self, records: Vec<SinkRecord>) -> Result<SqlBatch, Failure> {
        let plugin = self.plugin.clone();
        let count = records.len();
        let answer = tokio::task::spawn_blocking(move || lock(&plugin).write(&records))
            .await
            .map_err(|e| Failure::Setup(format!("the plugin call failed: {e}")))?
            .map_err(|fault| Failure::Setup(fault.to_string()))?;
        Ok(answer.unwrap_or_else(|reason| SqlBatch {
            statements: Vec::new(),
            rejected: (0..count as u32)
                .map(|index| meterhub_plugin_api::RejectedRecord { index, reason: reason.clone() })
                .collect(),
        }))
    }

    fn delivered(&self, records: u64, rejected: u64, position: Position) {
        update(&self.status, |s| {
            s.state = SinkState::Running;
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
        });
    }
}

/// When the first undelivered reading of `items` was archived.
fn oldest_archived(items: &[Item]) -> Option<i64> {
    items.iter().find_map(|i| match &i.record {
        Ok(SinkRecord::Reading(r)) => Some(r.archived_at_ms),
        _ => None,
    })
}

fn lock(plugin: &Mutex<Supervised>) -> std::sync::MutexGuard<'_, Supervised> {
    plugin.lock().unwrap_or_else(|e| e.into_inner())
}
