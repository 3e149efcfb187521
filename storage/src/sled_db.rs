//! [`SledDb`]: a sled database that can be reopened while the host runs.
//!
//! sled fails every operation after one I/O error (a full disk) until the
//! database is opened again; what it had not flushed is gone then, as after
//! a crash. Every database of the house (archive, accounting, users) opens
//! through here, so each can heal by itself once the cause is gone: the
//! archive reopens from its pipeline (which applies the lost records again
//! from the journal), the others on their next failing operation
//! ([`SledDb::run`]).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

/// How long an open waits for a lock this process may still hold (a handle
/// dropped a moment ago, whose background threads are still finishing).
pub const LOCK_WAIT: Duration = Duration::from_secs(2);
/// The least time between two reopens after failures.
pub const REOPEN_EVERY: Duration = Duration::from_millis(500);

/// Why a database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenFailure {
    /// sled refused (I/O, lock, corruption, an unknown format).
    #[error("{0}")]
    Engine(#[source] sled::Error),
    /// sled panicked while reading the files (they are damaged).
    #[error("the storage engine failed ({0})")]
    Panicked(String),
}

/// Whether sled failed to lock the database (it reports that as a plain I/O
/// error whose message says so).
pub fn is_lock_error(error: &std::io::Error) -> bool {
    error.kind() == std::io::ErrorKind::WouldBlock || error.to_string().contains("could not acquire lock")
}

/// A sled database behind a slot that [`SledDb::reopen`] refills.
#[derive(Debug)]
pub struct SledDb {
    path: PathBuf,
    cache_bytes: u64,
    slot: RwLock<Option<sled::Db>>,
    last_reopen: Mutex<Option<Instant>>,
    /// What [`crate::integrity::check`] found before the open.
    damage: Option<crate::integrity::Damage>,
}

fn open_once(path: &Path, cache_bytes: u64) -> Result<sled::Db, OpenFailure> {
    let opened = std::panic::catch_unwind(|| sled::Config::new().path(path).cache_capacity(cache_bytes).open());
    match opened {
        Ok(result) => result.map_err(OpenFailure::Engine),
        Err(panic) => Err(OpenFailure::Panicked(
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".to_string()),
        )),
    }
}

fn open_waiting(path: &Path, cache_bytes: u64, lock_wait: Duration) -> Result<sled::Db, OpenFailure> {
    let deadline = Instant::now() + lock_wait;
    loop {
        match open_once(path, cache_bytes) {
            Err(OpenFailure::Engine(sled::Error::Io(io))) if is_lock_error(&io) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

impl SledDb {
    /// Opens (creating) the database directory `path` with a page cache of
    /// `cache_bytes`, waiting up to `lock_wait` for a lock this process may
    /// still hold. A panic of the engine is an error, not a crash.
    ///
    /// A database sealed at the last clean stop is checked first
    /// ([`crate::integrity`]): files changed since are copied aside as found
    /// and the damage is kept for the caller to report ([`SledDb::damage`]).
    pub fn open(path: &Path, cache_bytes: u64, lock_wait: Duration) -> Result<SledDb, OpenFailure> {
        let damage = match crate::integrity::check(path) {
            Ok(damage) => damage,
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "cannot check the database against its seal");
                None
            }
        };
        if let Some(damage) = &damage {
            tracing::error!(path = %path.display(), kept_at = %damage.kept_at.display(), "damaged database: {damage}");
        }
        let db = open_waiting(path, cache_bytes, lock_wait)?;
        Ok(SledDb {
            path: path.to_path_buf(),
            cache_bytes,
            slot: RwLock::new(Some(db)),
            last_reopen: Mutex::new(None),
            damage,
        })
    }

    /// Damage found before this open, if any.
    pub fn damage(&self) -> Option<&crate::integrity::Damage> {
        self.damage.as_ref()
    }

    /// Closes the database for good at a clean stop and seals it, so the
    /// next open can tell damage from a clean stop. Waits up to
    /// [`LOCK_WAIT`] for handles still in use; if they stay, it is not
    /// sealed (the next open is as after a crash).
    pub fn close(&self) {
        if let Ok(db) = self.get()
            && let Err(error) = db.flush()
        {
            tracing::warn!(path = %self.path.display(), %error, "flush at close failed; not sealed");
            return;
        }
        self.slot.write().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        match crate::integrity::seal(&self.path, LOCK_WAIT) {
            Ok(()) => tracing::debug!(path = %self.path.display(), "database sealed"),
            Err(error) => tracing::warn!(path = %self.path.display(), %error, "database not sealed"),
        }
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The database (a cheap handle); an error while it is being reopened.
    pub fn get(&self) -> sled::Result<sled::Db> {
        let slot = self.slot.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        slot.clone().ok_or_else(|| {
            sled::Error::Io(std::io::Error::new(
                std::io::ErrorKind::Interrupted,
                format!("{} is being reopened after a write failure; try again", self.path.display()),
            ))
        })
    }

    /// Closes and opens the database again. Handles taken before stay on
    /// the old one (which fails); the open waits for them to be dropped.
    pub fn reopen(&self) -> Result<(), OpenFailure> {
        *self.last_reopen.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        // Drop this handle first: sled keeps its lock until every handle is gone.
        self.slot.write().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        let opened = open_waiting(&self.path, self.cache_bytes, LOCK_WAIT);
        let result = opened.map(|db| {
            *self.slot.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(db);
        });
        if result.is_err() {
            // Leave a handle in place if there is none: the next attempt retries.
            tracing::warn!(path = %self.path.display(), "reopening the database failed; retrying at the next failure");
        }
        result
    }

    /// Runs `op` on the database. An I/O error (a full disk, say) reopens the
    /// database, at most every [`REOPEN_EVERY`], and runs `op` once more:
    /// once the cause is gone, the store works again without a restart.
    pub fn run<T>(&self, op: impl Fn(&sled::Db) -> sled::Result<T>) -> sled::Result<T> {
        let first = self.get().and_then(|db| op(&db));
        let Err(sled::Error::Io(_)) = &first else { return first };
        let due = self
            .last_reopen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_none_or(|last| last.elapsed() >= REOPEN_EVERY);
        if !due || self.reopen().is_err() {
            return first;
        }
        tracing::info!(path = %self.path.display(), "database reopened after an I/O error");
        self.get().and_then(|db| op(&db))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reopened_database_keeps_what_was_flushed_and_a_held_lock_is_waited_for() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = SledDb::open(&dir.path().join("db"), 1 << 20, LOCK_WAIT).expect("open");
        db.run(|d| d.insert("k", "v")).expect("insert");
        db.get().expect("db").flush().expect("flush");
        let held = db.get().expect("db");
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            drop(held);
        });
        db.reopen().expect("reopen waits for the old handle");
        release.join().expect("join");
        assert_eq!(db.run(|d| d.get("k")).expect("get").as_deref(), Some(&b"v"[..]));
        let err = SledDb::open(&dir.path().join("db"), 1 << 20, Duration::ZERO).unwrap_err();
        assert!(matches!(&err, OpenFailure::Engine(sled::Error::Io(io)) if is_lock_error(io)), "{err}");
    }
}
