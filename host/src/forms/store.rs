//! [`FormStore`]: the forms database `<data_dir>/forms`, one sled tree with
//! prefixed keys and values in the archive's checksummed envelope:
//!
//! - `v\0u\0<user>\0<form>`: a user's [`Saved`] values of a form;
//! - `v\0s\0<form>`: a shared form's values (`data-scope="shared"`);
//! - `n\0<number u64 BE>`: an inspection [`Note`], newest last;
//! - `k`: the last note number handed out;
//! - `p\0u\0<user>`: a user's personal [`Page`](crate::pages::Page);
//! - `p\0r\0<role>`: the page an admin published to a role.
//!
//! Each write is one atomic batch.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use meterhub_forms::Values;
use meterhub_storage::seal::{seal_json, unseal_json};
use meterhub_storage::sled_db::{LOCK_WAIT, SledDb};

const VALUES: &[u8] = b"v\0";
const NOTE: &[u8] = b"n\0";
const NOTES_LAST: &[u8] = b"k";
const PAGE: &[u8] = b"p\0";

/// Most notes kept; past it the oldest go.
pub const MAX_NOTES: u64 = 200_000;

/// Why the forms database failed.
#[derive(Debug, thiserror::Error)]
pub enum FormError {
    /// It could not be opened.
    #[error("cannot open the forms database {path}: {source}")]
    Open {
        /// Its directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: meterhub_storage::sled_db::OpenFailure,
    },
    /// The storage engine failed.
    #[error("forms database: cannot {what}: {source}")]
    Storage {
        /// What it was doing.
        what: &'static str,
        /// Why.
        #[source]
        source: sled::Error,
    },
    /// A record failed its checksum or did not parse.
    #[error("forms database: {0}")]
    Seal(#[from] meterhub_storage::seal::SealError),
}

impl FormError {
    fn storage(what: &'static str) -> impl Fn(sled::Error) -> FormError {
        move |source| FormError::Storage { what, source }
    }
}

/// Whose values: a user's own, or the form's shared set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner<'a> {
    /// User `name`'s.
    User(&'a str),
    /// Everyone's.
    Shared,
}

/// Whose page: a user's own, or a role's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageOwner<'a> {
    /// User `name`'s own.
    User(&'a str),
    /// The default of role `name`, published by an admin.
    Role(&'a str),
}

/// A page as kept, with who saved it and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedPage {
    /// The page.
    pub page: crate::pages::Page,
    /// When, ms since the epoch.
    pub saved_at_ms: i64,
    /// Who.
    pub saved_by: String,
}

fn page_key(owner: PageOwner) -> Vec<u8> {
    match owner {
        PageOwner::User(user) => [PAGE, b"u\0", user.as_bytes()].concat(),
        PageOwner::Role(role) => [PAGE, b"r\0", role.as_bytes()].concat(),
    }
}

/// A form's values as last submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Saved {
    /// The values by field.
    pub values: Values,
    /// When, ms since the epoch.
    pub saved_at_ms: i64,
    /// Who.
    pub saved_by: String,
}

/// An inspection note on a meter or module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// Its number, from 1.
    pub id: u64,
    /// The form it was written with.
    pub form: String,
    /// `meter` or `module`.
    pub subject_kind: String,
    /// The meter's or module's id.
    pub subject: String,
    /// The form's values.
    pub values: Values,
    /// Who wrote it.
    pub user: String,
    /// When, ms since the epoch.
    pub at_ms: i64,
}

/// The forms database. `Send + Sync`.
#[derive(Debug)]
pub struct FormStore {
    db: SledDb,
    write_lock: std::sync::Mutex<()>,
}

fn values_key(owner: &Owner, form: &str) -> Vec<u8> {
    match owner {
        Owner::User(user) => [VALUES, b"u\0", user.as_bytes(), b"\0", form.as_bytes()].concat(),
        Owner::Shared => [VALUES, b"s\0", form.as_bytes()].concat(),
    }
}

impl FormStore {
    /// Opens (creating) the database directory `path`.
    pub fn open(path: &Path) -> Result<FormStore, FormError> {
        let db = SledDb::open(path, 1024 * 1024, LOCK_WAIT)
            .map_err(|source| FormError::Open { path: path.to_path_buf(), source })?;
        Ok(FormStore { db, write_lock: std::sync::Mutex::new(()) })
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

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.write_lock.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get<T: serde::de::DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, FormError> {
        // `SledDb::run` reopens the database after an I/O error (a full disk that got space back).
        match self.db.run(|db| db.get(key)).map_err(FormError::storage("read"))? {
            Some(v) => Ok(Some(unseal_json(key, &v)?)),
            None => Ok(None),
        }
    }

    /// `owner`'s values of `form`, if ever saved.
    pub fn values(&self, owner: &Owner, form: &str) -> Result<Option<Saved>, FormError> {
        self.get(&values_key(owner, form))
    }

    /// Keeps `saved` as `owner`'s values of `form`, durably.
    pub fn save(&self, owner: &Owner, form: &str, saved: &Saved) -> Result<(), FormError> {
        let key = values_key(owner, form);
        let value = seal_json(&key, saved)?;
        let _writing = self.lock();
        let written = self.db.run(|db| {
            db.insert(key.as_slice(), value.as_slice())?;
            db.flush().map(drop)
        });
        written.map_err(FormError::storage("save a form's values"))
    }

    /// `owner`'s page, if one was saved.
    pub fn page(&self, owner: PageOwner) -> Result<Option<SavedPage>, FormError> {
        self.get(&page_key(owner))
    }

    /// Keeps `page` as `owner`'s, durably; `None` forgets it.
    pub fn set_page(&self, owner: PageOwner, page: Option<&SavedPage>) -> Result<(), FormError> {
        let key = page_key(owner);
        let value = page.map(|p| seal_json(&key, p)).transpose()?;
        let _writing = self.lock();
        let written = self.db.run(|db| {
            match &value {
                Some(value) => db.insert(key.as_slice(), value.as_slice()).map(drop)?,
                None => db.remove(key.as_slice()).map(drop)?,
            }
            db.flush().map(drop)
        });
        written.map_err(FormError::storage("save a page"))
    }

    /// Adds `note` (numbered here), durably; returns it as kept. The oldest
    /// go past [`MAX_NOTES`].
    pub fn add_note(&self, mut note: Note) -> Result<Note, FormError> {
        let _writing = self.lock();
        let last: u64 = self.get(NOTES_LAST)?.unwrap_or(0);
        note.id = last + 1;
        let key = [NOTE, &note.id.to_be_bytes()[..]].concat();
        let value = seal_json(&key, &note)?;
        let last_value = seal_json(NOTES_LAST, &note.id)?;
        let written = self.db.run(|db| {
            let mut batch = sled::Batch::default();
            batch.insert(key.as_slice(), value.as_slice());
            batch.insert(NOTES_LAST, last_value.as_slice());
            if note.id > MAX_NOTES {
                batch.remove([NOTE, &(note.id - MAX_NOTES).to_be_bytes()[..]].concat());
            }
            db.apply_batch(batch)?;
            db.flush().map(drop)
        });
        written.map_err(FormError::storage("add a note"))?;
        Ok(note)
    }

    /// Notes newest first that `keep` keeps, at most `limit`.
    pub fn notes(&self, limit: usize, keep: impl Fn(&Note) -> bool) -> Result<Vec<Note>, FormError> {
        let mut found = Vec::new();
        let scanned = self.db.run(|db| db.scan_prefix(NOTE).rev().collect::<sled::Result<Vec<_>>>());
        for (key, value) in scanned.map_err(FormError::storage("read notes"))? {
            let note: Note = unseal_json(&key, &value)?;
            if keep(&note) {
                found.push(note);
                if found.len() >= limit {
                    break;
                }
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_kept_per_user_and_shared_apart_and_notes_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = FormStore::open(&dir.path().join("forms")).unwrap();
        let saved = |who: &str, colour: &str| Saved {
            values: Values::from([("colour".to_owned(), colour.to_owned())]),
            saved_at_ms: 1,
            saved_by: who.to_owned(),
        };
        store.save(&Owner::User("dina"), "settings", &saved("dina", "red")).unwrap();
        store.save(&Owner::User("dinah"), "settings", &saved("dinah", "blue")).unwrap();
        store.save(&Owner::Shared, "settings", &saved("dina", "green")).unwrap();
        assert_eq!(store.values(&Owner::User("dina"), "settings").unwrap().unwrap().values["colour"], "red");
        assert_eq!(store.values(&Owner::User("dinah"), "settings").unwrap().unwrap().values["colour"], "blue");
        assert_eq!(store.values(&Owner::Shared, "settings").unwrap().unwrap().values["colour"], "green");
        assert_eq!(store.values(&Owner::User("vera"), "settings").unwrap(), None);
        let note = |subject: &str| Note {
            id: 0,
            form: "inspection-note".into(),
            subject_kind: "meter".into(),
            subject: subject.into(),
            values: Values::new(),
            user: "dina".into(),
            at_ms: 5,
        };
        for subject in ["m1", "m2", "m1"] {
            store.add_note(note(subject)).unwrap();
        }
        let m1: Vec<u64> = store.notes(10, |n| n.subject == "m1").unwrap().iter().map(|n| n.id).collect();
        assert_eq!(m1, [3, 1]);
        store.close();
        let again = FormStore::open(&dir.path().join("forms")).unwrap();
        assert_eq!(again.add_note(note("m3")).unwrap().id, 4, "numbers go on after a restart");
    }
}
