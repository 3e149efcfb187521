//! Watching the configuration file and the plugins folder (notify), with a
//! quiet period so that an editor's save (write in place, temp + rename,
//! delete + recreate, a burst of writes) or a plugin copy gives one change.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

/// How long nothing must happen before a change is taken.
pub const QUIET: Duration = Duration::from_millis(300);

/// Something happened to what is watched.
pub type Ticks = mpsc::UnboundedReceiver<()>;

/// Whether an event can change content: reading a file (the host reading
/// its own configuration) is no change.
fn writes(kind: &notify::EventKind) -> bool {
    use notify::event::{AccessKind, AccessMode};
    match kind {
        notify::EventKind::Access(access) => matches!(access, AccessKind::Close(AccessMode::Write)),
        _ => true,
    }
}

/// Watch `file` (through its folder, so renames and re-creations count).
pub fn file(file: &Path) -> notify::Result<(notify::RecommendedWatcher, Ticks)> {
    files(std::slice::from_ref(&file.to_path_buf()))
}

/// Watch each of `files` (through their folders, so renames and
/// re-creations count): one tick for a change to any of them.
pub fn files(files: &[PathBuf]) -> notify::Result<(notify::RecommendedWatcher, Ticks)> {
    let (tx, rx) = mpsc::unbounded_channel();
    let folder = |f: &Path| {
        f.parent().filter(|p| !p.as_os_str().is_empty()).map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    };
    let names: Vec<std::ffi::OsString> = files.iter().filter_map(|f| f.file_name().map(ToOwned::to_owned)).collect();
    let mut folders: Vec<PathBuf> = files.iter().map(|f| folder(f)).collect();
    folders.sort();
    folders.dedup();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let relevant = match &event {
            Ok(e) => {
                writes(&e.kind) && e.paths.iter().any(|p| p.file_name().is_some_and(|n| names.iter().any(|m| m == n)))
            }
            Err(_) => true,
        };
        if relevant {
            let _ = tx.send(());
        }
    })?;
    for f in &folders {
        watcher.watch(f, RecursiveMode::NonRecursive)?;
    }
    Ok((watcher, rx))
}

/// Watch everything under `dir`.
pub fn folder(dir: &Path) -> notify::Result<(notify::RecommendedWatcher, Ticks)> {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let relevant = match &event {
            Ok(e) => writes(&e.kind),
            Err(_) => true,
        };
        if relevant {
            let _ = tx.send(());
        }
    })?;
    watcher.watch(dir, RecursiveMode::Recursive)?;
    Ok((watcher, rx))
}

/// Wait for a tick, then until `quiet` passes without one. `None` when the
/// watcher is gone.
pub async fn settled(ticks: &mut Ticks, quiet: Duration) -> Option<()> {
    ticks.recv().await?;
    loop {
        match tokio::time::timeout(quiet, ticks.recv()).await {
            Ok(Some(())) => continue,
            Ok(None) => return None,
            Err(_) => return Some(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_burst_of_saves_settles_into_one_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meterhub.toml");
        std::fs::write(&path, "0").unwrap();
        let (_watcher, mut ticks) = file(&path).unwrap();
        // Write in place, temp + rename, delete + recreate, a burst.
        std::fs::write(&path, "1").unwrap();
        std::fs::write(dir.path().join("meterhub.toml.tmp"), "2").unwrap();
        std::fs::rename(dir.path().join("meterhub.toml.tmp"), &path).unwrap();
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, "3").unwrap();
        for i in 4..20 {
            std::fs::write(&path, i.to_string()).unwrap();
        }
        assert_eq!(settled(&mut ticks, Duration::from_millis(200)).await, Some(()));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "19");
        // Nothing more is pending: a write elsewhere in the folder is not a tick.
        std::fs::write(dir.path().join("other.toml"), "x").unwrap();
        assert!(tokio::time::timeout(Duration::from_millis(300), ticks.recv()).await.is_err());
    }
}
