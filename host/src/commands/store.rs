//! [`CommandStore`]: the command database `<data_dir>/commands`, one sled
//! tree with prefixed keys and values in the archive's checksummed
//! envelope (checked on every read):
//!
//! - `c\0<id u64 BE>`: [`CommandRecord`], every command, newest last;
//! - `q\0<driver>\0<device>\0<id u64 BE>`: empty, one per command still
//!   queued, so a device's queue is one prefix scan when it connects.
//!
//! A record's change and its queue entry's are one batch.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use meterhub_storage::seal::{seal_json, unseal_json};
use meterhub_storage::sled_db::{LOCK_WAIT, SledDb};

use super::CommandError;

const COMMAND: &[u8] = b"c\0";
const QUEUED: &[u8] = b"q\0";

/// Where a command is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CommandState {
    /// Waiting for its device to connect.
    Queued,
    /// Handed to the device's session; no answer yet.
    Sent,
    /// The device answered (the answer is in `answer`).
    Answered,
    /// The device refused, or there is no answer (the reason is in `error`).
    Failed,
    /// Its time ran out before the device connected.
    Expired,
    /// An operator took it back before it was sent.
    Cancelled,
}

impl CommandState {
    /// Every state, in the order of a command's life.
    pub const ALL: [CommandState; 6] = [
        CommandState::Queued,
        CommandState::Sent,
        CommandState::Answered,
        CommandState::Failed,
        CommandState::Expired,
        CommandState::Cancelled,
    ];

    /// The name used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            CommandState::Queued => "queued",
            CommandState::Sent => "sent",
            CommandState::Answered => "answered",
            CommandState::Failed => "failed",
            CommandState::Expired => "expired",
            CommandState::Cancelled => "cancelled",
        }
    }

    /// The state named `name`; the error lists the names.
    pub fn parse(name: &str) -> Result<CommandState, String> {
        CommandState::ALL.into_iter().find(|s| s.as_str() == name).ok_or_else(|| {
            let names: Vec<&str> = CommandState::ALL.iter().map(|s| s.as_str()).collect();
            format!("state {name:?} is not one of {}", names.join(", "))
        })
    }

    /// Whether nothing more happens to it.
    pub fn is_final(self) -> bool {
        !matches!(self, CommandState::Queued | CommandState::Sent)
    }
}

/// A command as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandRecord {
    /// Its id, rising.
    pub id: u64,
    /// The driver instance whose devices it is for.
    pub driver: String,
    /// The device, as the driver names it.
    pub device: String,
    /// The command's name, one the driver's plugin declares.
    pub name: String,
    /// Its arguments, a JSON object.
    pub args: Value,
    /// Where it is.
    pub state: CommandState,
    /// Who queued it.
    pub queued_by: String,
    /// When, ms since the epoch.
    pub queued_at_ms: i64,
    /// When it expires if still queued, ms since the epoch.
    pub expires_at_ms: i64,
    /// How many times it was handed to a session.
    pub attempts: u32,
    /// When it was last handed to a session.
    pub sent_at_ms: Option<i64>,
    /// When it reached a final state.
    pub done_at_ms: Option<i64>,
    /// The device's answer.
    pub answer: Option<String>,
    /// Why it failed, or why the last attempt found no answer.
    pub error: Option<String>,
    /// Who cancelled it.
    pub cancelled_by: Option<String>,
}

impl CommandRecord {
    /// It reached final state `state` at `now_ms`.
    pub fn finish(&mut self, state: CommandState, now_ms: i64) {
        self.state = state;
        self.done_at_ms = Some(now_ms);
    }
}

fn command_key(id: u64) -> Vec<u8> {
    [COMMAND, &id.to_be_bytes()[..]].concat()
}

fn device_prefix(driver: &str, device: &str) -> Vec<u8> {
    [QUEUED, driver.as_bytes(), b"\0", device.as_bytes(), b"\0"].concat()
}

fn queued_key(record: &CommandRecord) -> Vec<u8> {
    [device_prefix(&record.driver, &record.device), record.id.to_be_bytes().to_vec()].concat()
}

/// The command database. `Send + Sync`.
#[derive(Debug)]
pub struct CommandStore {
    db: SledDb,
}

impl CommandStore {
    /// Opens (creating) the database directory `path`.
    pub fn open(path: &Path) -> Result<CommandStore, CommandError> {
        let db = SledDb::open(path, 1024 * 1024, LOCK_WAIT)
            .map_err(|source| CommandError::Open { path: path.to_path_buf(), source })?;
        Ok(CommandStore { db })
    }

    /// Damage found in its files before it was opened.
    pub fn damage(&self) -> Option<&meterhub_storage::integrity::Damage> {
        self.db.damage()
    }

    /// Closes it for good at a clean stop and seals its files.
    pub fn close(&self) {
        self.db.close();
    }

    /// A new id, higher than every earlier one.
    pub fn next_id(&self) -> Result<u64, CommandError> {
        Ok(self.db.run(sled::Db::generate_id).map_err(CommandError::storage("make an id"))? + 1)
    }

    /// The command `id`.
    pub fn get(&self, id: u64) -> Result<Option<CommandRecord>, CommandError> {
        let key = command_key(id);
        match self.db.run(|db| db.get(&key)).map_err(CommandError::storage("read"))? {
            Some(v) => Ok(Some(unseal_json(&key, &v)?)),
            None => Ok(None),
        }
    }

    /// Writes `record` and keeps its queue entry in step with its state.
    pub fn put(&self, record: &CommandRecord) -> Result<(), CommandError> {
        self.put_all(std::slice::from_ref(record))
    }

    /// Writes `records` in one batch.
    pub fn put_all(&self, records: &[CommandRecord]) -> Result<(), CommandError> {
        let mut batch = sled::Batch::default();
        for record in records {
            let key = command_key(record.id);
            batch.insert(key.clone(), seal_json(&key, record)?);
            match record.state {
                CommandState::Queued => batch.insert(queued_key(record), Vec::new()),
                _ => batch.remove(queued_key(record)),
            }
        }
        self.db.run(|db| db.apply_batch(batch.clone())).map_err(CommandError::storage("write"))
    }

    /// Makes every write so far durable.
    pub async fn flush(&self) -> Result<(), CommandError> {
        let db = self.db.get().map_err(CommandError::storage("open"))?;
        db.flush_async().await.map_err(CommandError::storage("flush"))?;
        Ok(())
    }

    /// The ids queued for `device` of `driver`, oldest first.
    pub fn queued_for(&self, driver: &str, device: &str) -> Result<Vec<u64>, CommandError> {
        let prefix = device_prefix(driver, device);
        self.ids_under(&prefix)
    }

    /// The ids of every queued command, oldest first.
    pub fn queued(&self) -> Result<Vec<u64>, CommandError> {
        self.ids_under(QUEUED)
    }

    fn ids_under(&self, prefix: &[u8]) -> Result<Vec<u64>, CommandError> {
        let keys = self
            .db
            .run(|db| db.scan_prefix(prefix).keys().collect::<sled::Result<Vec<_>>>())
            .map_err(CommandError::storage("read"))?;
        let mut ids: Vec<u64> = keys
            .iter()
            .filter_map(|k| k.len().checked_sub(8).and_then(|at| k[at..].try_into().ok()).map(u64::from_be_bytes))
            .collect();
        ids.sort_unstable();
        Ok(ids)
    }

    /// Every command, newest first, that `keep` keeps, at most `limit`.
    pub fn newest(
        &self,
        limit: usize,
        keep: impl Fn(&CommandRecord) -> bool,
    ) -> Result<Vec<CommandRecord>, CommandError> {
        let db = self.db.get().map_err(CommandError::storage("open"))?;
        let mut found = Vec::new();
        for item in db.scan_prefix(COMMAND).rev() {
            let (key, value) = item.map_err(CommandError::storage("read"))?;
            let record: CommandRecord = unseal_json(&key, &value)?;
            if keep(&record) {
                found.push(record);
                if found.len() >= limit {
                    break;
                }
            }
        }
        Ok(found)
    }

    /// Removes the commands `ids`.
    pub fn remove(&self, ids: &[u64]) -> Result<(), CommandError> {
        let mut batch = sled::Batch::default();
        for id in ids {
            batch.remove(command_key(*id));
        }
        self.db.run(|db| db.apply_batch(batch.clone())).map_err(CommandError::storage("write"))
    }
}
