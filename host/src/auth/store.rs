//! [`UserStore`]: the user database `<data_dir>/users`, one sled tree with
//! prefixed keys and values in the archive's checksummed envelope (checked
//! on every read):
//!
//! - `u\0<name>`: [`UserRecord`];
//! - `s\0<session id>`: [`SessionRecord`] (the id is the SHA-256 of the
//!   token; the token itself is never stored);
//! - `a\0<seq u64 BE>`: [`AuditEntry`].
//!
//! A user's removal and the removal of their sessions are one batch.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use super::error::AuthError;
use super::grant::GrantPattern;
use super::language::Language;
use super::role::Role;
use meterhub_storage::seal::{seal_json, unseal_json};
use meterhub_storage::sled_db::{LOCK_WAIT, SledDb};

const USER: &[u8] = b"u\0";
const SESSION: &[u8] = b"s\0";
const AUDIT: &[u8] = b"a\0";

fn key(prefix: &[u8], rest: &[u8]) -> Vec<u8> {
    [prefix, rest].concat()
}

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// Login name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Registry subtrees the user may see.
    pub grants: Vec<GrantPattern>,
    /// When the user was added, ms since the epoch.
    pub created_ms: i64,
    /// A disabled user cannot log in.
    pub disabled: bool,
    /// The UI language the user chose (records from before it read as
    /// Russian).
    #[serde(default)]
    pub language: Language,
}

/// A login session as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The user.
    pub user: String,
    /// The CSRF token state-changing requests must carry.
    pub csrf: String,
    /// When it was made, ms since the epoch (absolute expiry counts from here).
    pub created_ms: i64,
    /// Last request seen, ms since the epoch (idle expiry counts from here;
    /// written at most once a minute).
    pub last_seen_ms: i64,
    /// The client's address at login.
    pub address: String,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Sequence number, rising.
    pub seq: u64,
    /// When, ms since the epoch.
    pub at_ms: i64,
    /// Who did it (for a login: the name tried).
    pub actor: String,
    /// `login`, `login_failed`, `logout`, `user_add`, `user_remove`,
    /// `passwd`, `role`, `disabled`, `enabled`, `grant`, `revoke`.
    pub action: String,
    /// The user it was done to, when another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The client's address, when it came over the network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// What exactly (a failure's reason, the new role, the pattern).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Default of the most audit entries kept ([`UserStore::set_audit_limit`]).
pub const AUDIT_MAX_ENTRIES: usize = 100_000;

/// The user database. `Send + Sync`.
#[derive(Debug)]
pub struct UserStore {
    db: SledDb,
    /// Audit entries held now.
    audit_len: AtomicUsize,
    /// Most audit entries kept: past it, the oldest go.
    audit_limit: AtomicUsize,
}

impl UserStore {
    /// Opens (creating) the database directory `path`.
    pub fn open(path: &Path) -> Result<UserStore, AuthError> {
        let db = SledDb::open(path, 4 * 1024 * 1024, LOCK_WAIT)
            .map_err(|source| AuthError::Open { path: path.to_path_buf(), source })?;
        let store = UserStore { db, audit_len: AtomicUsize::new(0), audit_limit: AtomicUsize::new(AUDIT_MAX_ENTRIES) };
        let held = store.db()?.scan_prefix(AUDIT).keys().count();
        store.audit_len.store(held, Ordering::Relaxed);
        Ok(store)
    }

    /// Keeps at most `limit` audit entries (the oldest go first).
    pub fn set_audit_limit(&self, limit: usize) {
        self.audit_limit.store(limit.max(1), Ordering::Relaxed);
    }

    /// Damage found in its files before it was opened.
    pub fn damage(&self) -> Option<&meterhub_storage::integrity::Damage> {
        self.db.damage()
    }

    /// Closes it for good at a clean stop and seals its files.
    pub fn close(&self) {
        self.db.close();
    }

    /// The database (a cheap handle).
    fn db(&self) -> Result<sled::Db, AuthError> {
        self.db.get().map_err(AuthError::storage("open"))
    }

    fn get<T: serde::de::DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, AuthError> {
        match self.db()?.get(key).map_err(AuthError::storage("read"))? {
            Some(v) => Ok(Some(unseal_json(key, &v)?)),
            None => Ok(None),
        }
    }

    fn put<T: Serialize>(&self, key: &[u8], value: &T) -> Result<(), AuthError> {
        let sealed = seal_json(key, value)?;
        self.db.run(|db| db.insert(key, sealed.clone())).map_err(AuthError::storage("write"))?;
        self.flush()
    }

    fn scan<T: serde::de::DeserializeOwned>(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, T)>, AuthError> {
        let mut out = Vec::new();
        for item in self.db()?.scan_prefix(prefix) {
            let (k, v) = item.map_err(AuthError::storage("scan"))?;
            out.push((k.to_vec(), unseal_json(&k, &v)?));
        }
        Ok(out)
    }

    /// Flushes to disk (a change of rights or a login must survive a crash).
    pub fn flush(&self) -> Result<(), AuthError> {
        self.db.run(|db| db.flush()).map(|_| ()).map_err(AuthError::storage("flush"))
    }

    /// One user.
    pub fn user(&self, name: &str) -> Result<Option<UserRecord>, AuthError> {
        self.get(&key(USER, name.as_bytes()))
    }

    /// Every user, by name.
    pub fn users(&self) -> Result<Vec<UserRecord>, AuthError> {
        Ok(self.scan(USER)?.into_iter().map(|(_, u)| u).collect())
    }

    /// Whether there is no user at all (the first run).
    pub fn is_empty(&self) -> Result<bool, AuthError> {
        Ok(self.db()?.scan_prefix(USER).next().transpose().map_err(AuthError::storage("scan"))?.is_none())
    }

    /// Writes a user (new or changed).
    pub fn put_user(&self, user: &UserRecord) -> Result<(), AuthError> {
        self.put(&key(USER, user.name.as_bytes()), user)
    }

    /// Removes a user and their sessions in one batch.
    pub fn remove_user(&self, name: &str) -> Result<(), AuthError> {
        let mut batch = sled::Batch::default();
        batch.remove(key(USER, name.as_bytes()));
        for (k, _) in self.sessions_of(name)? {
            batch.remove(key(SESSION, k.as_bytes()));
        }
        self.db.run(|db| db.apply_batch(batch.clone())).map_err(AuthError::storage("remove user"))?;
        self.flush()
    }

    /// One session by id.
    pub fn session(&self, id: &str) -> Result<Option<SessionRecord>, AuthError> {
        self.get(&key(SESSION, id.as_bytes()))
    }

    /// Writes a session.
    pub fn put_session(&self, id: &str, session: &SessionRecord) -> Result<(), AuthError> {
        self.put(&key(SESSION, id.as_bytes()), session)
    }

    /// Writes a session's new last-seen time without waiting for the disk
    /// (sled flushes within half a second; a crash loses at most that much
    /// idle time).
    pub fn touch_session(&self, id: &str, session: &SessionRecord) -> Result<(), AuthError> {
        let k = key(SESSION, id.as_bytes());
        let sealed = seal_json(&k, session)?;
        // Only while it exists: a logout meanwhile is not undone.
        self.db
            .run(|db| db.update_and_fetch(&k, |old| old.map(|_| sealed.clone())))
            .map_err(AuthError::storage("write"))?;
        Ok(())
    }

    /// Removes a session; whether there was one.
    pub fn remove_session(&self, id: &str) -> Result<bool, AuthError> {
        let removed =
            self.db.run(|db| db.remove(key(SESSION, id.as_bytes()))).map_err(AuthError::storage("remove session"))?;
        self.flush()?;
        Ok(removed.is_some())
    }

    /// The sessions of `user`, with their ids.
    pub fn sessions_of(&self, user: &str) -> Result<Vec<(String, SessionRecord)>, AuthError> {
        Ok(self.sessions()?.into_iter().filter(|(_, s)| s.user == user).collect())
    }

    /// Every session, with its id.
    pub fn sessions(&self) -> Result<Vec<(String, SessionRecord)>, AuthError> {
        Ok(self
            .scan::<SessionRecord>(SESSION)?
            .into_iter()
            .map(|(k, s)| (String::from_utf8_lossy(&k[SESSION.len()..]).into_owned(), s))
            .collect())
    }

    /// Appends to the audit log; the entry's `seq` is set here.
    pub fn audit(&self, mut entry: AuditEntry) -> Result<AuditEntry, AuthError> {
        entry.seq = self.db.run(|db| db.generate_id()).map_err(AuthError::storage("audit sequence"))? + 1;
        self.put(&key(AUDIT, &entry.seq.to_be_bytes()), &entry)?;
        let held = self.audit_len.fetch_add(1, Ordering::Relaxed) + 1;
        let over = held.saturating_sub(self.audit_limit.load(Ordering::Relaxed));
        if over > 0 {
            let db = self.db()?;
            let oldest: Vec<sled::IVec> = db
                .scan_prefix(AUDIT)
                .keys()
                .take(over)
                .collect::<Result<_, _>>()
                .map_err(AuthError::storage("read audit"))?;
            for key in &oldest {
                db.remove(key).map_err(AuthError::storage("trim audit"))?;
            }
            self.audit_len.fetch_sub(oldest.len(), Ordering::Relaxed);
        }
        Ok(entry)
    }

    /// At most `limit` audit entries before sequence number `before`
    /// (exclusive; everything when `None`), newest first.
    pub fn audit_log(&self, limit: usize, before: Option<u64>) -> Result<Vec<AuditEntry>, AuthError> {
        let end = key(AUDIT, &before.unwrap_or(u64::MAX).to_be_bytes());
        let mut out = Vec::new();
        for item in self.db()?.range(AUDIT.to_vec()..end).rev().take(limit) {
            let (k, v) = item.map_err(AuthError::storage("read audit"))?;
            out.push(unseal_json(&k, &v)?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> UserRecord {
        UserRecord {
            name: name.into(),
            role: Role::Viewer,
            password_hash: "$argon2id$x".into(),
            grants: vec![GrantPattern::parse("gas").unwrap()],
            created_ms: 1,
            disabled: false,
            language: Language::En,
        }
    }

    fn session(user: &str) -> SessionRecord {
        SessionRecord {
            user: user.into(),
            csrf: "c".into(),
            created_ms: 1,
            last_seen_ms: 1,
            address: "127.0.0.1".into(),
        }
    }

    #[test]
    fn users_sessions_and_the_audit_log_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        {
            let store = UserStore::open(&path).unwrap();
            assert!(store.is_empty().unwrap());
            store.put_user(&user("ann")).unwrap();
            store.put_user(&user("bob")).unwrap();
            store.put_session("s1", &session("ann")).unwrap();
            store.put_session("s2", &session("bob")).unwrap();
            for action in ["login", "logout", "user_add"] {
                let entry = AuditEntry {
                    seq: 0,
                    at_ms: 5,
                    actor: "ann".into(),
                    action: action.into(),
                    target: None,
                    address: None,
                    detail: None,
                };
                store.audit(entry).unwrap();
            }
        }
        let store = UserStore::open(&path).unwrap();
        assert!(!store.is_empty().unwrap());
        assert_eq!(store.users().unwrap().iter().map(|u| u.name.as_str()).collect::<Vec<_>>(), ["ann", "bob"]);
        assert_eq!(store.user("ann").unwrap(), Some(user("ann")));
        store.remove_user("ann").unwrap();
        assert_eq!(store.user("ann").unwrap(), None);
        assert_eq!(store.session("s1").unwrap(), None, "removed with its user");
        assert_eq!(store.session("s2").unwrap(), Some(session("bob")));
        store.touch_session("s1", &session("ann")).unwrap();
        assert_eq!(store.session("s1").unwrap(), None, "a touch does not bring a removed session back");
        let log = store.audit_log(10, None).unwrap();
        assert_eq!(log.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["user_add", "logout", "login"]);
        assert!(log[0].seq > log[1].seq);
        let older = store.audit_log(1, Some(log[0].seq)).unwrap();
        assert_eq!(older, vec![log[1].clone()]);

        // Bounded: past the limit the oldest go, also across a reopen.
        store.set_audit_limit(4);
        let entry = |n: usize| AuditEntry {
            seq: 0,
            at_ms: n as i64,
            actor: "ann".into(),
            action: format!("a{n}"),
            target: None,
            address: None,
            detail: None,
        };
        for n in 0..3 {
            store.audit(entry(n)).unwrap();
        }
        let kept = |store: &UserStore| -> Vec<String> {
            store.audit_log(100, None).unwrap().into_iter().map(|e| e.action).collect()
        };
        assert_eq!(kept(&store), ["a2", "a1", "a0", "user_add"]);
        drop(store);
        let store = UserStore::open(&path).unwrap();
        store.set_audit_limit(2);
        store.audit(entry(3)).unwrap();
        assert_eq!(kept(&store), ["a3", "a2"]);
    }

    #[test]
    fn a_record_from_before_the_language_reads_as_russian() {
        let dir = tempfile::tempdir().unwrap();
        let store = UserStore::open(&dir.path().join("users")).unwrap();
        let mut old = serde_json::to_value(user("ann")).unwrap();
        old.as_object_mut().unwrap().remove("language");
        store.db().unwrap().insert(key(USER, b"ann"), seal_json(&key(USER, b"ann"), &old).unwrap()).unwrap();
        assert_eq!(store.user("ann").unwrap().map(|u| u.language), Some(Language::Ru));
    }

    #[test]
    fn a_corrupt_value_is_an_error_naming_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = UserStore::open(&dir.path().join("users")).unwrap();
        store.put_user(&user("ann")).unwrap();
        store.db().unwrap().insert(key(USER, b"ann"), b"garbage".to_vec()).unwrap();
        let e = store.user("ann").unwrap_err().to_string();
        assert!(e.starts_with("user database: "), "{e}");
        // A grant that no longer parses is refused on read too.
        let mut bad = serde_json::to_value(user("bob")).unwrap();
        bad["grants"] = serde_json::json!(["a//b"]);
        store.db().unwrap().insert(key(USER, b"bob"), seal_json(&key(USER, b"bob"), &bad).unwrap()).unwrap();
        assert!(store.user("bob").is_err());
    }
}
