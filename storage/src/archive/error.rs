//! [`ArchiveError`]: failures of the archive, naming the database path or
//! the key involved and, where the operator must act, what to do.

use std::path::PathBuf;

/// An error of the archive.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The database could not be opened.
    #[error("cannot open the archive database {path}: {source}; {hint}")]
    Open {
        /// The database directory.
        path: PathBuf,
        /// What the operator should do.
        hint: &'static str,
        /// The storage engine's error.
        #[source]
        source: sled::Error,
    },
    /// The storage engine panicked while opening the database.
    #[error(
        "cannot open the archive database {path}: the storage engine failed ({message}); the database is probably \
         damaged: move the directory aside (keep it for analysis) and start again, the journal replays what it holds"
    )]
    OpenPanicked {
        /// The database directory.
        path: PathBuf,
        /// The panic message.
        message: String,
    },
    /// A read or write of the database failed.
    #[error("archive {op} failed: {source}")]
    Storage {
        /// What was being done.
        op: &'static str,
        /// The storage engine's error.
        #[source]
        source: sled::Error,
    },
    /// Making the database files durable failed.
    #[error("archive: fsync of {path} failed: {source}")]
    Sync {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A stored value failed its checksum or could not be decoded.
    #[error("archive value at key {key} is corrupt: {reason}")]
    Corrupt {
        /// The key, printable (non-ASCII bytes escaped).
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// A key component cannot be stored (it contains a NUL byte or is empty).
    #[error("archive: {what} {value:?} cannot be used as a key: {reason}")]
    InvalidKey {
        /// Which component (`device`, `channel`).
        what: &'static str,
        /// The offending value.
        value: String,
        /// Why.
        reason: &'static str,
    },
    /// A re-decode named a frame the archive does not hold.
    #[error("archive holds no frame with journal seq {seq}")]
    UnknownFrame {
        /// The requested journal sequence number.
        seq: u64,
    },
}

impl From<crate::seal::SealError> for ArchiveError {
    fn from(e: crate::seal::SealError) -> Self {
        ArchiveError::Corrupt { key: e.key, reason: e.reason }
    }
}

impl ArchiveError {
    /// Whether the cause is a full disk (or quota).
    pub fn is_disk_full(&self) -> bool {
        match self {
            ArchiveError::Open { source: sled::Error::Io(io), .. }
            | ArchiveError::Storage { source: sled::Error::Io(io), .. } => crate::health::is_disk_full(io),
            ArchiveError::Sync { source, .. } => crate::health::is_disk_full(source),
            _ => false,
        }
    }

    /// A [`ArchiveError::Storage`] for `op`.
    pub(crate) fn storage(op: &'static str) -> impl FnOnce(sled::Error) -> ArchiveError {
        move |source| ArchiveError::Storage { op, source }
    }
}
