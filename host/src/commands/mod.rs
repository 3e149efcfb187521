//! Commands an operator queues for a device, kept until the device next
//! connects (`POST /api/v1/drivers/{id}/commands`), handed to the session
//! that identifies it (`Action::Identify` -> `Event::Commands`), and
//! answered by the driver (`Action::CommandDone`).
//!
//! Life of a command: `queued` -> `sent` -> `answered` | `failed`; a queued
//! one may be `cancelled`, or `expired` when its time runs out before the
//! device connects. Queueing and cancelling are durable before the API
//! answers. A command handed to a session and not done when the session
//! ends (the connection dropped; the host stopped, or was killed: at the
//! next start every `sent` command is taken back) is queued again, at
//! least once, until [`MAX_ATTEMPTS`]; commands are setters a device may
//! get twice. Handing out and answers are written at once and made
//! durable by the database's own flush (within half a second): a crash in
//! between sends a command again, it never loses one.

mod store;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use meterhub_plugin_api::time::format_rfc3339_ms;
use meterhub_plugin_api::{Command, CommandDone};

pub use store::{CommandRecord, CommandState, CommandStore};

/// Times a command is handed to a session before it fails for want of an
/// answer.
pub const MAX_ATTEMPTS: u32 = 3;
/// How long a command waits for its device unless the operator says.
pub const DEFAULT_EXPIRY_S: u64 = 7 * 86_400;
/// The longest a command may wait.
pub const MAX_EXPIRY_S: u64 = 90 * 86_400;
/// The most commands queued for one device at once.
pub const MAX_QUEUED_PER_DEVICE: usize = 100;
/// The largest arguments, as JSON text.
pub const MAX_ARGS_BYTES: usize = 4096;
/// The longest device name.
pub const MAX_DEVICE_LEN: usize = 128;
/// Final commands kept for the record; older ones go at the start.
pub const KEEP_FINAL: usize = 10_000;

/// Why the command database failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// It could not be opened.
    #[error("cannot open the command database {path}: {source}")]
    Open {
        /// Its directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: meterhub_storage::sled_db::OpenFailure,
    },
    /// The storage engine failed.
    #[error("command database: cannot {what}: {source}")]
    Storage {
        /// What it was doing.
        what: &'static str,
        /// Why.
        #[source]
        source: sled::Error,
    },
    /// A record failed its checksum or did not parse.
    #[error("command database: {0}")]
    Seal(#[from] meterhub_storage::seal::SealError),
}

impl CommandError {
    fn storage(what: &'static str) -> impl Fn(sled::Error) -> CommandError {
        move |source| CommandError::Storage { what, source }
    }
}

/// Why a request about a command is refused.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The request is wrong (400).
    #[error("{0}")]
    Invalid(String),
    /// No such command (404).
    #[error("{0}")]
    NotFound(String),
    /// Not in a state that allows it (409).
    #[error("{0}")]
    Conflict(String),
    /// The database failed (500).
    #[error(transparent)]
    Store(#[from] CommandError),
}

/// A command to queue.
#[derive(Debug, Clone)]
pub struct NewCommand {
    /// The driver instance.
    pub driver: String,
    /// The device.
    pub device: String,
    /// The command's name.
    pub name: String,
    /// Its arguments, a JSON object.
    pub args: Value,
    /// How long it may wait for the device, seconds.
    pub expires_in_s: u64,
    /// Who queues it.
    pub by: String,
}

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this device's.
    pub device: Option<String>,
    /// Only in this state.
    pub state: Option<CommandState>,
}

/// The command service. `Send + Sync`.
#[derive(Debug)]
pub struct Commands {
    store: CommandStore,
}

/// The database's directory under `data_dir`.
pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("commands")
}

impl Commands {
    /// Opens the database in `data_dir` at the host's start, at `now_ms`:
    /// the commands a stopped or killed host had handed out are taken back,
    /// and the oldest final ones past [`KEEP_FINAL`] removed.
    pub fn open(data_dir: &Path, now_ms: i64) -> Result<Commands, CommandError> {
        let commands = Commands { store: CommandStore::open(&dir(data_dir))? };
        // One read of every command: what a stopped host had sent goes back
        // to the queue, the oldest final ones past KEEP_FINAL go.
        let all = commands.store.newest(usize::MAX, |_| true)?;
        let sent: Vec<u64> = all.iter().filter(|r| r.state == CommandState::Sent).map(|r| r.id).collect();
        if !sent.is_empty() {
            tracing::info!(commands = sent.len(), "commands sent before the host stopped are queued again");
            commands.take_back(&sent, "the host stopped before the device answered", now_ms)?;
        }
        let old: Vec<u64> = all.iter().filter(|r| r.state.is_final()).skip(KEEP_FINAL).map(|r| r.id).collect();
        commands.store.remove(&old)?;
        Ok(commands)
    }

    /// Damage found in its files before it was opened.
    pub fn damage(&self) -> Option<&meterhub_storage::integrity::Damage> {
        self.store.damage()
    }

    /// Closes it for good at a clean stop.
    pub fn close(&self) {
        self.store.close();
    }

    /// Queues `new` at `now_ms`, durably.
    pub async fn queue(&self, new: NewCommand, now_ms: i64) -> Result<CommandRecord, Refusal> {
        check_device(&new.device)?;
        if !new.args.is_object() {
            return Err(Refusal::Invalid("args: expected a JSON object".to_owned()));
        }
        let args_len = new.args.to_string().len();
        if args_len > MAX_ARGS_BYTES {
            return Err(Refusal::Invalid(format!("args: {args_len} bytes, more than {MAX_ARGS_BYTES}")));
        }
        if new.expires_in_s == 0 || new.expires_in_s > MAX_EXPIRY_S {
            return Err(Refusal::Invalid(format!(
                "expires_in_s: {} is not between 1 and {MAX_EXPIRY_S} (90 days)",
                new.expires_in_s
            )));
        }
        self.expire(now_ms)?;
        let waiting = self.store.queued_for(&new.driver, &new.device)?.len();
        if waiting >= MAX_QUEUED_PER_DEVICE {
            return Err(Refusal::Conflict(format!(
                "device {} of driver {} has {waiting} commands queued already, the most there may be; cancel some or wait for it to connect",
                new.device, new.driver
            )));
        }
        let expires_in_ms = i64::try_from(new.expires_in_s).unwrap_or(i64::MAX / 2_000) * 1000;
        let record = CommandRecord {
            id: self.store.next_id()?,
            driver: new.driver,
            device: new.device,
            name: new.name,
            args: new.args,
            state: CommandState::Queued,
            queued_by: new.by,
            queued_at_ms: now_ms,
            expires_at_ms: now_ms.saturating_add(expires_in_ms),
            attempts: 0,
            sent_at_ms: None,
            done_at_ms: None,
            answer: None,
            error: None,
            cancelled_by: None,
        };
        self.store.put(&record)?;
        self.store.flush().await?;
        Ok(record)
    }

    /// Command `id` of `driver`.
    pub fn get(&self, driver: &str, id: u64, now_ms: i64) -> Result<CommandRecord, Refusal> {
        self.expire(now_ms)?;
        match self.store.get(id)? {
            Some(record) if record.driver == driver => Ok(record),
            _ => Err(Refusal::NotFound(format!("driver {driver} has no command {id}"))),
        }
    }

    /// The commands of `driver` that `filter` keeps, newest first, at most
    /// `limit`.
    pub fn list(
        &self,
        driver: &str,
        filter: &Filter,
        limit: usize,
        now_ms: i64,
    ) -> Result<Vec<CommandRecord>, Refusal> {
        self.expire(now_ms)?;
        Ok(self.store.newest(limit, |r| {
            r.driver == driver
                && filter.device.as_ref().is_none_or(|d| *d == r.device)
                && filter.state.is_none_or(|s| s == r.state)
        })?)
    }

    /// Cancels queued command `id` of `driver`, durably.
    pub async fn cancel(&self, driver: &str, id: u64, by: &str, now_ms: i64) -> Result<CommandRecord, Refusal> {
        let mut record = self.get(driver, id, now_ms)?;
        if record.state != CommandState::Queued {
            return Err(Refusal::Conflict(format!(
                "command {id} is {}; only a queued command can be cancelled",
                record.state.as_str()
            )));
        }
        record.finish(CommandState::Cancelled, now_ms);
        record.cancelled_by = Some(by.to_owned());
        self.store.put(&record)?;
        self.store.flush().await?;
        Ok(record)
    }

    /// Hands the commands queued for `device` of `driver` to a session at
    /// `now_ms`, oldest first, marking them sent; those whose time ran out
    /// expire instead.
    pub fn hand_out(&self, driver: &str, device: &str, now_ms: i64) -> Result<Vec<Command>, CommandError> {
        let mut changed = Vec::new();
        let mut handed = Vec::new();
        for id in self.store.queued_for(driver, device)? {
            let Some(mut record) = self.store.get(id)? else { continue };
            if record.expires_at_ms <= now_ms {
                record.finish(CommandState::Expired, now_ms);
            } else {
                record.state = CommandState::Sent;
                record.attempts += 1;
                record.sent_at_ms = Some(now_ms);
                handed.push(Command { id, name: record.name.clone(), args: record.args.to_string() });
            }
            changed.push(record);
        }
        self.store.put_all(&changed)?;
        Ok(handed)
    }

    /// Records what became of command `done.id`, handed to a session of
    /// `driver`; a command not sent (or another driver's) is left alone.
    pub fn done(&self, driver: &str, done: CommandDone, now_ms: i64) -> Result<Option<CommandRecord>, CommandError> {
        let Some(mut record) = self.store.get(done.id)? else { return Ok(None) };
        if record.driver != driver || record.state != CommandState::Sent {
            return Ok(None);
        }
        match done.outcome {
            Ok(answer) => {
                record.finish(CommandState::Answered, now_ms);
                record.answer = Some(answer);
            }
            Err(why) => {
                record.finish(CommandState::Failed, now_ms);
                record.error = Some(why);
            }
        }
        self.store.put(&record)?;
        Ok(Some(record))
    }

    /// Takes back the commands `ids` handed to a session that ended without
    /// their answers: queued again, or failed after [`MAX_ATTEMPTS`], or
    /// expired.
    pub fn take_back(&self, ids: &[u64], why: &str, now_ms: i64) -> Result<(), CommandError> {
        let mut changed = Vec::new();
        for &id in ids {
            let Some(mut record) = self.store.get(id)? else { continue };
            if record.state != CommandState::Sent {
                continue;
            }
            if record.attempts >= MAX_ATTEMPTS {
                record.finish(CommandState::Failed, now_ms);
                record.error = Some(format!("no answer after {} attempts (the last: {why})", record.attempts));
            } else if record.expires_at_ms <= now_ms {
                record.finish(CommandState::Expired, now_ms);
                record.error = Some(why.to_owned());
            } else {
                record.state = CommandState::Queued;
                record.error = Some(why.to_owned());
            }
            changed.push(record);
        }
        self.store.put_all(&changed)
    }

    /// Expires every queued command whose time ran out by `now_ms`.
    fn expire(&self, now_ms: i64) -> Result<(), CommandError> {
        let mut changed = Vec::new();
        for id in self.store.queued()? {
            if let Some(mut record) = self.store.get(id)?
                && record.expires_at_ms <= now_ms
            {
                record.finish(CommandState::Expired, now_ms);
                changed.push(record);
            }
        }
        self.store.put_all(&changed)
    }
}

fn check_device(device: &str) -> Result<(), Refusal> {
    if device.is_empty() || device.len() > MAX_DEVICE_LEN || device.chars().any(char::is_control) {
        return Err(Refusal::Invalid(format!(
            "device: {device:?} is not a device name (1 to {MAX_DEVICE_LEN} bytes, no control characters)"
        )));
    }
    Ok(())
}

/// `record` as the API shows it: times in RFC 3339 (UTC).
pub fn view(record: &CommandRecord) -> Value {
    let at = |ms: Option<i64>| ms.map(format_rfc3339_ms);
    json!({
        "id": record.id,
        "driver": record.driver,
        "device": record.device,
        "name": record.name,
        "args": record.args,
        "state": record.state.as_str(),
        "queued_by": record.queued_by,
        "queued_at": format_rfc3339_ms(record.queued_at_ms),
        "expires_at": format_rfc3339_ms(record.expires_at_ms),
        "attempts": record.attempts,
        "sent_at": at(record.sent_at_ms),
        "done_at": at(record.done_at_ms),
        "answer": record.answer,
        "error": record.error,
        "cancelled_by": record.cancelled_by,
    })
}

#[cfg(test)]
mod tests;
