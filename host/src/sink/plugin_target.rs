//! A PostgreSQL database written through a sink plugin: the plugin makes
//! the statements of a batch and its migrations, the host's
//! [`Connection`] runs them with the dead letters and the position in one
//! transaction. A slice the database refuses for its data is halved until
//! the record is found, which goes to the dead-letter list.

use std::sync::{Arc, Mutex};

use meterhub_plugin_api::{SinkRecord, SqlBatch};

use super::postgres::{Connection, Resent};
use super::status::Command;
use super::target::{Connected, DeadLetter, Failure, Item, Log, Position, Report, Target, position_after};
use crate::config::PostgresTarget;
use crate::plugin::instance::PluginInstance;
use crate::plugin::supervisor::Supervised;

/// Most dead letters one resend writes.
const RESEND_LIMIT: i64 = 10_000;

/// A sink plugin and the database it writes to.
pub struct PluginTarget {
    /// The sink instance's id.
    pub sink: String,
    /// The plugin's id.
    pub plugin_id: String,
    /// Its plugin instance (calls block: they run on the blocking pool).
    pub plugin: Arc<Mutex<Supervised>>,
    /// The database.
    pub target: PostgresTarget,
    /// The open connection, if any.
    pub connection: Option<Connection>,
}

impl PluginTarget {
    fn not_connected(&self) -> String {
        format!("sink {} is not connected to its database", self.sink)
    }

    /// Write the dead letters again through the plugin: those it now
    /// writes leave the list, those it still refuses stay with the new reason.
    async fn resend(&mut self) -> Result<Resent, Failure> {
        let conn = self.connection.as_mut().ok_or_else(|| Failure::Unavailable(String::new()))?;
        let letters = conn.dead_letters(RESEND_LIMIT, &self.target).await?;
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
        let conn = self.connection.as_mut().ok_or_else(|| Failure::Unavailable(String::new()))?;
        let resent = conn.resend(&batch.statements, &written, &still, &self.target).await?;
        tracing::info!(sink = %self.sink, written = resent.written, refused = resent.refused, "dead letters sent again");
        Ok(resent)
    }

    /// Write one slice: the plugin's statements, its refusals and the
    /// unreadable records as dead letters, and the position, in one
    /// transaction.
    async fn write(&mut self, position: Position, slice: &[Item], report: Report<'_>) -> Result<(), Failure> {
        let mut dead = Vec::new();
        let mut records = Vec::with_capacity(slice.len());
        let mut indices = Vec::with_capacity(slice.len());
        for (i, item) in slice.iter().enumerate() {
            match &item.record {
                Ok(Some(record)) => {
                    records.push(record.clone());
                    indices.push(i);
                }
                Ok(None) => {}
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
                        self.plugin_id,
                        rejected.index,
                        indices.len()
                    )));
                }
            }
        }
        let to = position_after(position, slice);
        let missing = self.not_connected();
        let conn = self.connection.as_mut().ok_or(Failure::Unavailable(missing))?;
        conn.write(&batch.statements, &dead, position, to, &self.target).await?;
        for d in &dead {
            tracing::error!(sink = %self.sink, log = d.log.as_str(), seq = d.seq, reason = %d.reason,
                "record put on the sink's dead-letter list");
        }
        report(slice.len() as u64, dead.len() as u64, to);
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
}

impl Target for PluginTarget {
    fn describe(&self) -> String {
        super::postgres::describe(&self.target)
    }

    async fn connect(&mut self) -> Result<Connected, Failure> {
        self.connection = None;
        let mut conn = Connection::open(&self.sink, &self.target).await?;
        let plugin = self.plugin.clone();
        let migrations = tokio::task::spawn_blocking(move || lock(&plugin).migrations())
            .await
            .map_err(|e| Failure::Setup(format!("the plugin call failed: {e}")))?
            .map_err(|fault| Failure::Setup(fault.to_string()))?
            .map_err(|refusal| Failure::Setup(format!("plugin {} gave no schema: {refusal}", self.plugin_id)))?;
        let version = conn.migrate(&self.plugin_id, &migrations, &self.target).await?;
        let position = conn.position(&self.target).await?;
        self.connection = Some(conn);
        Ok(Connected { position, schema_version: Some(version) })
    }

    async fn deliver(&mut self, items: &[Item], position: &mut Position, report: Report<'_>) -> Result<(), Failure> {
        let mut pending = vec![(0, items.len())];
        while let Some((from, to)) = pending.pop() {
            let slice = &items[from..to];
            match self.write(*position, slice, report).await {
                Ok(()) => {}
                Err(Failure::Data(reason)) if slice.len() == 1 => {
                    let dead = [slice[0].dead(reason.clone())];
                    let to = position_after(*position, slice);
                    let missing = self.not_connected();
                    let conn = self.connection.as_mut().ok_or(Failure::Unavailable(missing))?;
                    conn.write(&[], &dead, *position, to, &self.target).await?;
                    tracing::error!(sink = %self.sink, log = slice[0].log.as_str(), seq = slice[0].seq, %reason,
                        "record put on the sink's dead-letter list");
                    report(1, 1, to);
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

    async fn serve(&mut self, command: Command, _position: Option<Position>) {
        match command {
            Command::DeadLetters(limit, reply) => {
                let answer = match self.connection.as_ref() {
                    Some(conn) => conn.dead_letters(limit, &self.target).await.map_err(|e| e.to_string()),
                    None => Err(self.not_connected()),
                };
                let _ = reply.send(answer);
            }
            Command::Resend(reply) => {
                let answer = if self.connection.is_some() {
                    self.resend().await.map_err(|e| e.to_string())
                } else {
                    Err(self.not_connected())
                };
                let _ = reply.send(answer);
            }
            Command::Check(_, _, reply) => {
                let _ =
                    reply.send(Err(format!("sink {} writes to a database; only sync links are checked", self.sink)));
            }
        }
    }

    fn disconnect(&mut self) {
        self.connection = None;
    }
}

fn lock(plugin: &Mutex<Supervised>) -> std::sync::MutexGuard<'_, Supervised> {
    plugin.lock().unwrap_or_else(|e| e.into_inner())
}
