//! [`AccountingError`]: failures of the accounting store and consumer.

use std::path::PathBuf;

use meterhub_storage::archive::ArchiveError;
use meterhub_storage::seal::SealError;

/// An error of the accounting store or its consumer.
#[derive(Debug, thiserror::Error)]
pub enum AccountingError {
    /// The database could not be opened.
    #[error("cannot open the accounting database {path}: {source}")]
    Open {
        /// The database directory.
        path: PathBuf,
        /// The storage engine's error.
        #[source]
        source: meterhub_storage::sled_db::OpenFailure,
    },
    /// A read or write of the database failed.
    #[error("accounting {op} failed: {source}")]
    Storage {
        /// What was being done.
        op: &'static str,
        /// The storage engine's error.
        #[source]
        source: sled::Error,
    },
    /// The archive failed, or a reading stored there was corrupt.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// A value of the accounting database itself was corrupt.
    #[error("accounting database: {0}")]
    Corrupt(#[from] SealError),
    /// The meter is not registered.
    #[error("no meter {0:?} is registered")]
    UnknownMeter(String),
    /// A metadata change or event was refused; names the field.
    #[error("{field}: {problem}")]
    Invalid {
        /// The field.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
}

impl AccountingError {
    /// A [`AccountingError::Storage`] for `op`.
    pub(crate) fn storage(op: &'static str) -> impl FnOnce(sled::Error) -> AccountingError {
        move |source| AccountingError::Storage { op, source }
    }

    /// Whether the cause is a full disk (or quota).
    pub fn is_disk_full(&self) -> bool {
        matches!(self, AccountingError::Storage { source: sled::Error::Io(io), .. } if meterhub_storage::health::is_disk_full(io))
    }

    /// A [`AccountingError::Invalid`].
    pub(crate) fn invalid(field: &str, problem: impl Into<String>) -> AccountingError {
        AccountingError::Invalid { field: field.to_owned(), problem: problem.into() }
    }
}
