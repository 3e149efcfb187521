//! A folder of files the host reads as they change (the mimic diagrams,
//! the form templates): each file read again when its size or
//! modification time changed, at the next look, so an edit takes effect
//! without a restart; a file that no longer reads keeps its last good form
//! served, with its errors beside it; a file gone is forgotten.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// One file as last looked at.
#[derive(Debug)]
pub struct Entry<T> {
    /// Size and modification time when it was read.
    stamp: (u64, Option<SystemTime>),
    /// The last good form read from it.
    pub good: Option<Arc<T>>,
    /// What is wrong with the file as it is now (`file:line:col: cause`).
    pub errors: Vec<String>,
}

impl<T> Clone for Entry<T> {
    fn clone(&self) -> Self {
        Entry { stamp: self.stamp, good: self.good.clone(), errors: self.errors.clone() }
    }
}

/// The files of one folder with one extension, read as they change. `Send + Sync`.
#[derive(Debug)]
pub struct Folder<T> {
    /// What a file holds, for the log (`diagram`, `form`).
    what: &'static str,
    /// The files' extension, without the dot.
    extension: &'static str,
    entries: Mutex<BTreeMap<PathBuf, Entry<T>>>,
}

fn stamp(path: &Path) -> Option<(u64, Option<SystemTime>)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.len(), meta.modified().ok()))
}

impl<T> Folder<T> {
    /// Files `*.<extension>` holding a `what`.
    pub fn new(what: &'static str, extension: &'static str) -> Folder<T> {
        Folder { what, extension, entries: Mutex::new(BTreeMap::new()) }
    }

    /// Looks at `dir` (only at the files `only` picks, when given): files
    /// changed since the last look are read again with `read`, files gone
    /// are forgotten. Returns the entries looked at, by path.
    pub fn refresh(
        &self,
        dir: &Path,
        only: Option<&dyn Fn(&Path) -> bool>,
        read: impl Fn(&Path) -> Result<T, Vec<String>>,
    ) -> BTreeMap<PathBuf, Entry<T>> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == self.extension) && p.is_file())
            .filter(|p| only.is_none_or(|pick| pick(p)))
            .collect();
        files.sort();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|path, _| files.contains(path) || only.is_some_and(|pick| !pick(path)));
        for file in &files {
            let Some(now) = stamp(file) else { continue };
            if entries.get(file).is_some_and(|e| e.stamp == now) {
                continue;
            }
            let last_good = entries.get(file).and_then(|e| e.good.clone());
            let entry = match read(file) {
                Ok(good) => {
                    tracing::info!(file = %file.display(), what = self.what, "read");
                    Entry { stamp: now, good: Some(Arc::new(good)), errors: Vec::new() }
                }
                Err(errors) => {
                    for error in &errors {
                        tracing::warn!(%error, what = self.what, "refused; the last good version stays served");
                    }
                    Entry { stamp: now, good: last_good, errors }
                }
            };
            entries.insert(file.clone(), entry);
        }
        entries.iter().filter(|(path, _)| files.contains(path)).map(|(p, e)| (p.clone(), e.clone())).collect()
    }
}

/// A file's name without its extension.
pub fn stem(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}
