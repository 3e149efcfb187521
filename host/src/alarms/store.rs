//! [`AlarmStore`]: the alarm database `<data_dir>/alarms`, one sled tree
//! with prefixed keys and values in the archive's checksummed envelope:
//!
//! - `a\0<id u64 BE>`: an [`Alarm`], every alarm kept, newest last;
//! - `o\0<id u64 BE>`: empty, one per open alarm (active or not yet
//!   acknowledged), so the open ones are one prefix scan at start;
//! - `e\0<seq u64 BE>`: an [`Event`] of the event log;
//! - `c`: the position in the archive's log the rules on readings judged
//!   through;
//! - `n`: the last alarm number and event number handed out.
//!
//! One step's alarms, events and position are one atomic batch: after a
//! crash the rules judge again from the position, never skip.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::model::{Alarm, Event, EventKind};
use meterhub_storage::seal::{seal_json, unseal_json};
use meterhub_storage::sled_db::{LOCK_WAIT, SledDb};

const ALARM: &[u8] = b"a\0";
const OPEN: &[u8] = b"o\0";
const EVENT: &[u8] = b"e\0";
const CURSOR: &[u8] = b"c";
const NUMBERS: &[u8] = b"n";

/// Most alarms kept; past it the oldest closed ones go.
pub const MAX_ALARMS: usize = 100_000;
/// Most events kept; past it the oldest go.
pub const MAX_EVENTS: usize = 200_000;

/// Why the alarm database failed.
#[derive(Debug, thiserror::Error)]
pub enum AlarmError {
    /// It could not be opened.
    #[error("cannot open the alarm database {path}: {source}")]
    Open {
        /// Its directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: meterhub_storage::sled_db::OpenFailure,
    },
    /// The storage engine failed.
    #[error("alarm database: cannot {what}: {source}")]
    Storage {
        /// What it was doing.
        what: &'static str,
        /// Why.
        #[source]
        source: sled::Error,
    },
    /// A record failed its checksum or did not parse.
    #[error("alarm database: {0}")]
    Seal(#[from] meterhub_storage::seal::SealError),
    /// The archive could not be read.
    #[error("alarms: {0}")]
    Archive(#[from] meterhub_storage::archive::ArchiveError),
    /// The registry could not be read.
    #[error("alarms: {0}")]
    Accounting(#[from] crate::accounting::AccountingError),
}

impl AlarmError {
    fn storage(what: &'static str) -> impl Fn(sled::Error) -> AlarmError {
        move |source| AlarmError::Storage { what, source }
    }

    /// Whether the alarm database itself failed (not the archive or the
    /// registry it reads).
    pub fn is_store(&self) -> bool {
        matches!(self, AlarmError::Open { .. } | AlarmError::Storage { .. } | AlarmError::Seal(_))
    }

    /// Whether it is a full disk.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, AlarmError::Storage { source: sled::Error::Io(e), .. } if e.raw_os_error() == Some(28))
    }
}

/// The numbers handed out so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Numbers {
    /// The last alarm number.
    pub alarm: u64,
    /// The last event number.
    pub event: u64,
}

/// One atomic write.
#[derive(Debug, Default)]
pub struct Write {
    /// Alarms as they are now.
    pub alarms: Vec<Alarm>,
    /// Events to append (numbered here).
    pub events: Vec<Event>,
    /// The new position in the archive's log.
    pub cursor: Option<u64>,
}

impl Write {
    /// Whether it writes nothing.
    pub fn is_empty(&self) -> bool {
        self.alarms.is_empty() && self.events.is_empty() && self.cursor.is_none()
    }
}

fn numbered(prefix: &[u8], n: u64) -> Vec<u8> {
    [prefix, &n.to_be_bytes()[..]].concat()
}

fn number_of(key: &[u8]) -> u64 {
    let tail: [u8; 8] = key[key.len().saturating_sub(8)..].try_into().unwrap_or([0; 8]);
    u64::from_be_bytes(tail)
}

/// The alarm database. `Send + Sync`.
#[derive(Debug)]
pub struct AlarmStore {
    db: SledDb,
    write_lock: std::sync::Mutex<()>,
}

impl AlarmStore {
    /// Opens (creating) the database directory `path`.
    pub fn open(path: &Path) -> Result<AlarmStore, AlarmError> {
        let db = SledDb::open(path, 4 * 1024 * 1024, LOCK_WAIT)
            .map_err(|source| AlarmError::Open { path: path.to_path_buf(), source })?;
        Ok(AlarmStore { db, write_lock: std::sync::Mutex::new(()) })
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        self.db.path()
    }

    /// Damage found in its files before it was opened.
    pub fn damage(&self) -> Option<&meterhub_storage::integrity::Damage> {
        self.db.damage()
    }

    /// Closes it for good at a clean stop and seals its files.
    pub fn close(&self) {
        let _writing = self.lock();
        self.db.close();
    }

    /// Reopens it after an I/O error (a full disk that got space back).
    pub fn heal(&self, error: &AlarmError) {
        if let AlarmError::Storage { source: sled::Error::Io(_), .. } = error
            && self.db.reopen().is_ok()
        {
            tracing::info!(path = %self.db.path().display(), "alarm database reopened after an I/O error");
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.write_lock.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get<T: serde::de::DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, AlarmError> {
        match self.db.run(|db| db.get(key)).map_err(AlarmError::storage("read"))? {
            Some(v) => Ok(Some(unseal_json(key, &v)?)),
            None => Ok(None),
        }
    }

    /// The position in the archive's log judged through (0 at first).
    pub fn cursor(&self) -> Result<Option<u64>, AlarmError> {
        self.get(CURSOR)
    }

    /// The numbers handed out so far.
    pub fn numbers(&self) -> Result<Numbers, AlarmError> {
        Ok(self.get(NUMBERS)?.unwrap_or_default())
    }

    /// Every open alarm, oldest first.
    pub fn open_alarms(&self) -> Result<Vec<Alarm>, AlarmError> {
        let ids: Vec<u64> = self
            .db
            .run(|db| db.scan_prefix(OPEN).keys().collect::<sled::Result<Vec<_>>>())
            .map_err(AlarmError::storage("scan open alarms"))?
            .iter()
            .map(|k| number_of(k))
            .collect();
        let mut alarms = Vec::with_capacity(ids.len());
        for id in ids {
            alarms.extend(self.alarm(id)?);
        }
        Ok(alarms)
    }

    /// Alarm `id`.
    pub fn alarm(&self, id: u64) -> Result<Option<Alarm>, AlarmError> {
        self.get(&numbered(ALARM, id))
    }

    /// Alarms numbered below `before` (all when `None`), newest first,
    /// those `keep` takes, at most `limit`.
    pub fn alarms(
        &self,
        before: Option<u64>,
        limit: usize,
        keep: impl Fn(&Alarm) -> bool,
    ) -> Result<Vec<Alarm>, AlarmError> {
        self.newest(ALARM, before, limit, keep)
    }

    /// Events numbered below `before`, newest first, those `keep` takes, at
    /// most `limit`.
    pub fn events(
        &self,
        before: Option<u64>,
        limit: usize,
        keep: impl Fn(&Event) -> bool,
    ) -> Result<Vec<Event>, AlarmError> {
        self.newest(EVENT, before, limit, keep)
    }

    fn newest<T: serde::de::DeserializeOwned>(
        &self,
        prefix: &[u8],
        before: Option<u64>,
        limit: usize,
        keep: impl Fn(&T) -> bool,
    ) -> Result<Vec<T>, AlarmError> {
        let db = self.db.get().map_err(AlarmError::storage("open"))?;
        let end = numbered(prefix, before.unwrap_or(u64::MAX));
        let mut out = Vec::new();
        for item in db.range(prefix.to_vec()..end).rev() {
            let (k, v) = item.map_err(AlarmError::storage("scan"))?;
            let value: T = unseal_json(&k, &v)?;
            if keep(&value) {
                out.push(value);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Writes `write` in one batch; answers its events numbered.
    pub fn write(&self, mut write: Write) -> Result<Vec<Event>, AlarmError> {
        if write.is_empty() {
            return Ok(Vec::new());
        }
        let _writing = self.lock();
        let mut numbers = self.numbers()?;
        let mut batch = sled::Batch::default();
        for alarm in &write.alarms {
            numbers.alarm = numbers.alarm.max(alarm.id);
            let key = numbered(ALARM, alarm.id);
            batch.insert(key.clone(), seal_json(&key, alarm)?);
            match alarm.open() {
                true => batch.insert(numbered(OPEN, alarm.id), Vec::new()),
                false => batch.remove(numbered(OPEN, alarm.id)),
            }
        }
        for event in &mut write.events {
            numbers.event += 1;
            event.seq = numbers.event;
            let key = numbered(EVENT, event.seq);
            batch.insert(key.clone(), seal_json(&key, event)?);
        }
        if let Some(cursor) = write.cursor {
            batch.insert(CURSOR, seal_json(CURSOR, &cursor)?);
        }
        batch.insert(NUMBERS, seal_json(NUMBERS, &numbers)?);
        self.db.run(|db| db.apply_batch(batch.clone())).map_err(AlarmError::storage("write"))?;
        if numbers.event % 1024 == 0 || numbers.alarm % 1024 == 0 {
            self.trim()?;
        }
        Ok(write.events)
    }

    /// Drops the oldest events past [`MAX_EVENTS`] and the oldest closed
    /// alarms past [`MAX_ALARMS`].
    fn trim(&self) -> Result<(), AlarmError> {
        let db = self.db.get().map_err(AlarmError::storage("open"))?;
        for (prefix, max) in [(EVENT, MAX_EVENTS), (ALARM, MAX_ALARMS)] {
            let held = db.scan_prefix(prefix).keys().count();
            let mut over = held.saturating_sub(max);
            let mut batch = sled::Batch::default();
            for key in db.scan_prefix(prefix).keys() {
                if over == 0 {
                    break;
                }
                let key = key.map_err(AlarmError::storage("trim"))?;
                if prefix == ALARM && db.contains_key(numbered(OPEN, number_of(&key))).unwrap_or(true) {
                    continue;
                }
                batch.remove(key);
                over -= 1;
            }
            db.apply_batch(batch).map_err(AlarmError::storage("trim"))?;
        }
        Ok(())
    }

    /// Makes every write so far durable.
    pub fn flush(&self) -> Result<(), AlarmError> {
        self.db.run(|db| db.flush().map(|_| ())).map_err(AlarmError::storage("flush"))
    }
}

/// An event of `kind` now.
pub fn event(kind: EventKind, code: &str, text: String) -> Event {
    Event {
        seq: 0,
        at_ms: meterhub_storage::clock::now_ms(),
        kind,
        code: code.to_owned(),
        text,
        user: None,
        alarm: None,
        severity: None,
        meters: Vec::new(),
        subject: None,
    }
}
