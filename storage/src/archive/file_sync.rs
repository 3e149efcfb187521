//! Making sled's files durable after its flush.
//!
//! sled 0.34 makes its log stable with `sync_file_range`, which neither
//! flushes the drive cache nor the file's metadata, and writes its blobs
//! (values over 128 KiB, such as frame blocks) without any sync. So after
//! sled's flush every file is `fsync`ed for real, and the directories too,
//! so that the blob files sled created keep their names after a power cut.
//!
//! Blob files are written once and never changed, and they accumulate with
//! the archive: one already made durable, with the same length and
//! modification time, is not `fsync`ed again at every flush. A blob seen
//! while sled was still writing it has another length or time at the next
//! flush, so it is synced again then.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use super::error::ArchiveError;

/// sled's directory of blob files.
const BLOBS_DIR: &str = "blobs";

/// What a blob file looked like when it was made durable.
type Seen = (u64, Option<SystemTime>);

/// The `fsync` pass over a sled directory, remembering durable blobs.
#[derive(Debug, Default)]
pub(crate) struct FileSync {
    synced_blobs: Mutex<HashMap<PathBuf, Seen>>,
}

impl FileSync {
    /// `fsync`s every file of `dir` and its subdirectories (one level),
    /// and the directories; blobs already durable are skipped.
    pub(crate) fn sync(&self, dir: &Path) -> Result<(), ArchiveError> {
        let mut synced = self.synced_blobs.lock().unwrap_or_else(|p| p.into_inner());
        let mut present = HashMap::with_capacity(synced.len());
        sync_dir(dir, 2, &synced, &mut present)?;
        // Forget blobs sled removed, so the memory follows the directory.
        *synced = present;
        Ok(())
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ArchiveError {
    let path = path.to_path_buf();
    move |source| ArchiveError::Sync { path, source }
}

/// `fsync`s `path`; sled removes blobs while it runs, and a file gone
/// between the listing and its `fsync` has nothing left to make durable.
fn sync_path(path: &Path) -> Result<(), ArchiveError> {
    match std::fs::File::open(path).and_then(|file| file.sync_all()) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other.map_err(io(path)),
    }
}

fn sync_dir(
    dir: &Path,
    depth: usize,
    synced: &HashMap<PathBuf, Seen>,
    present: &mut HashMap<PathBuf, Seen>,
) -> Result<(), ArchiveError> {
    let blobs = dir.file_name().is_some_and(|name| name == BLOBS_DIR);
    for dirent in std::fs::read_dir(dir).map_err(io(dir))? {
        let dirent = dirent.map_err(io(dir))?;
        let path = dirent.path();
        let meta = match dirent.metadata() {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            meta => meta.map_err(io(&path))?,
        };
        if meta.is_file() {
            if !blobs {
                sync_path(&path)?;
                continue;
            }
            // Looked at before the fsync: a write after it changes them.
            let seen = (meta.len(), meta.modified().ok());
            if synced.get(&path) != Some(&seen) {
                sync_path(&path)?;
            }
            present.insert(path, seen);
        } else if meta.is_dir() && depth > 1 {
            sync_dir(&path, depth - 1, synced, present)?;
        }
    }
    sync_path(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_are_remembered_until_they_change_or_go() {
        let dir = tempfile::tempdir().expect("tempdir");
        let blobs = dir.path().join(BLOBS_DIR);
        std::fs::create_dir(&blobs).expect("mkdir");
        std::fs::write(dir.path().join("db"), b"log").expect("write db");
        std::fs::write(blobs.join("1"), b"blob").expect("write blob");
        let sync = FileSync::default();
        sync.sync(dir.path()).expect("sync");
        let remembered = || sync.synced_blobs.lock().unwrap().clone();
        assert_eq!(remembered().len(), 1, "the blob is remembered, the log file is not");
        let before = remembered()[&blobs.join("1")];

        std::fs::write(blobs.join("1"), b"a longer blob").expect("rewrite blob");
        sync.sync(dir.path()).expect("sync");
        assert_ne!(remembered()[&blobs.join("1")], before, "a blob that changed is synced again");

        std::fs::remove_file(blobs.join("1")).expect("remove blob");
        sync.sync(dir.path()).expect("sync");
        assert!(remembered().is_empty(), "a removed blob is forgotten");
    }
}
