//! [`JournalError`]: everything that can go wrong opening, reading or writing
//! the journal, naming the file and byte offset involved.

use std::path::PathBuf;

/// An error of the journal. Messages name the file (and byte offset where it
/// applies) and, where the operator has to act, what to do.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// A file system operation failed.
    #[error("journal {path}: {op} failed: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// What was being done (`open`, `read`, `write`, `fdatasync`, ...).
        op: &'static str,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A record that is not at the tail of the last segment is damaged.
    #[error(
        "journal segment {path} is corrupt at byte offset {offset}: {reason}; the records from there on cannot be \
         read. Keep a copy of the file; if the archive already holds them, the segment can be moved aside, otherwise \
         truncate the file to offset {offset} to accept losing them"
    )]
    Corrupt {
        /// The segment file.
        path: PathBuf,
        /// Byte offset of the damaged record within the file.
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// Another process holds the journal directory.
    #[error(
        "journal {path} is locked by another process: stop the other meterhub instance or point it at another \
         journal directory"
    )]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// An entry does not fit in one record.
    #[error("journal entry of source {source_name:?} is {bytes} bytes encoded, more than the {max} a record may hold")]
    TooLarge {
        /// The entry's source.
        source_name: String,
        /// Its encoded size.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// The write or `fdatasync` of the group containing this append failed;
    /// nothing about the entry may be acknowledged.
    #[error("journal {path}: group commit failed, entry not committed: {reason}")]
    CommitFailed {
        /// The segment being written.
        path: PathBuf,
        /// The failure, as logged by the writer.
        reason: String,
    },
    /// The writer thread stopped (shutdown or a fatal error); nothing more can
    /// be committed.
    #[error("journal writer has stopped; entry not committed")]
    WriterStopped,
}

impl JournalError {
    /// An [`JournalError::Io`] for `op` on `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, op: &'static str) -> impl FnOnce(std::io::Error) -> JournalError {
        let path = path.into();
        move |source| JournalError::Io { path, op, source }
    }
}
