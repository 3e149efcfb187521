//! [`AuthError`]: failures of the user store and the user administration.

use std::path::PathBuf;

use meterhub_storage::seal::SealError;

/// An error of the user store or a refused change.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The database could not be opened.
    #[error("cannot open the user database {path}: {source}")]
    Open {
        /// The database directory.
        path: PathBuf,
        /// The storage engine's error.
        #[source]
        source: meterhub_storage::sled_db::OpenFailure,
    },
    /// A read or write of the database failed.
    #[error("user database {op} failed: {source}")]
    Storage {
        /// What was being done.
        op: &'static str,
        /// The storage engine's error.
        #[source]
        source: sled::Error,
    },
    /// A stored value was corrupt (checksum, key, or JSON).
    #[error("user database: {0}")]
    Corrupt(#[from] SealError),
    /// No such user.
    #[error("no user {0:?}")]
    UnknownUser(String),
    /// The user exists already.
    #[error("user {0:?} exists already")]
    UserExists(String),
    /// A value was refused; says which and why.
    #[error("{0}")]
    Invalid(String),
}

impl AuthError {
    /// A storage error while doing `op`.
    pub fn storage(op: &'static str) -> impl FnOnce(sled::Error) -> AuthError {
        move |source| AuthError::Storage { op, source }
    }
}
