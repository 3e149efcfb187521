//! Damage found before a database is opened.
//!
//! sled reads a damaged log as a torn tail: it opens without a word, with
//! everything after the damage gone, and rewrites the file (measured on
//! sled 0.34: 40 of 40 databases with three flipped bits opened "fine" with
//! entries missing). So a database must be checked before sled touches it:
//! when the host stops cleanly, [`seal`] records every file of a closed
//! database (size and CRC-32) in a manifest beside it (`<dir>.seal`); before
//! the next open, [`check`] compares the files with it and removes it. A file
//! that changed while the host was stopped is damage: the directory is
//! copied aside as it was found (`<dir>.damaged-<ms>`) before anything opens
//! it, and the caller reports it. After a crash there is no manifest, and
//! sled's own recovery is all there is.
//!
//! [`crate::sled_db::SledDb`] checks at open and seals at close; [`seal`]
//! waits for sled's file lock, so it runs only once every handle of the
//! database (and sled's threads) is gone.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One file as sealed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct FileSeal {
    len: u64,
    crc32: u32,
}

/// The manifest of a sealed database.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Manifest {
    sealed_at_ms: i64,
    /// By path relative to the database directory.
    files: BTreeMap<String, FileSeal>,
}

/// A store found damaged at start: a database whose files changed while the
/// host was stopped, or a journal segment with unreadable records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// The database directory, or the segment file.
    pub path: PathBuf,
    /// What is wrong, one line per file or damaged stretch
    /// (`db: checksum differs`, ...).
    pub files: Vec<String>,
    /// Where the files were copied as they were found.
    pub kept_at: PathBuf,
    /// How the damage showed.
    pub found: Found,
}

/// How [`Damage`] showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// Files differ from the seal written at the last clean stop.
    ChangedWhileStopped,
    /// Records fail their checksum ([`crate::journal`] segments).
    UnreadableRecords,
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.found {
            Found::ChangedWhileStopped => "changed while meterhub was stopped",
            Found::UnreadableRecords => "has unreadable records",
        };
        write!(
            f,
            "{} {what} ({}); the files as found are kept in {}",
            self.path.display(),
            self.files.join("; "),
            self.kept_at.display()
        )
    }
}

/// The manifest of the database in `dir`: `<dir>.seal` beside it.
pub fn manifest_path(dir: &Path) -> PathBuf {
    let name = dir.file_name().map_or_else(|| "db".into(), |n| n.to_string_lossy().into_owned());
    dir.with_file_name(format!("{name}.seal"))
}

/// Every regular file under `dir`, by relative path.
fn files(dir: &Path) -> std::io::Result<BTreeMap<String, FileSeal>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        for entry in std::fs::read_dir(&at)? {
            let entry = entry?;
            let path = entry.path();
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                let relative = path.strip_prefix(dir).unwrap_or(&path).to_string_lossy().into_owned();
                out.insert(relative, seal_of(&path)?);
            }
        }
    }
    Ok(out)
}

fn seal_of(path: &Path) -> std::io::Result<FileSeal> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    Ok(FileSeal { len, crc32: hasher.finalize() })
}

/// Seals the closed sled database in `dir`: waits up to `wait` for sled's
/// lock to be free (its last handle and threads gone), then writes the
/// manifest while holding that lock. An error leaves no manifest: the next
/// open is then as after a crash.
pub fn seal(dir: &Path, wait: Duration) -> std::io::Result<()> {
    let lock_file = std::fs::OpenOptions::new().read(true).write(true).open(dir.join("db"))?;
    let deadline = Instant::now() + wait;
    loop {
        match rustix::fs::flock(&lock_file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => break,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::WouldBlock,
                    format!("{} is still open ({e}); not sealed", dir.display()),
                ));
            }
        }
    }
    let manifest = Manifest { sealed_at_ms: crate::clock::now_ms(), files: files(dir)? };
    let json = serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?;
    crate::files::write_atomically(&manifest_path(dir), &json)?;
    drop(lock_file);
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Checks the database in `dir` against its manifest, if it has one, and
/// removes the manifest (a later crash must not read as damage). On a
/// difference the directory is copied aside first, untouched.
pub fn check(dir: &Path) -> std::io::Result<Option<Damage>> {
    let manifest_file = manifest_path(dir);
    let text = match std::fs::read(&manifest_file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut differences = Vec::new();
    match serde_json::from_slice::<Manifest>(&text) {
        Err(e) => differences.push(format!("{}: the seal itself cannot be read ({e})", manifest_file.display())),
        Ok(manifest) => {
            let found = files(dir)?;
            for (name, sealed) in &manifest.files {
                match found.get(name) {
                    None => differences.push(format!("{name}: missing")),
                    Some(now) if now.len != sealed.len => {
                        differences.push(format!("{name}: {} bytes, sealed with {}", now.len, sealed.len))
                    }
                    Some(now) if now.crc32 != sealed.crc32 => differences.push(format!("{name}: checksum differs")),
                    Some(_) => {}
                }
            }
            differences.extend(found.keys().filter(|n| !manifest.files.contains_key(*n)).map(|n| format!("{n}: new")));
        }
    }
    let damage = if differences.is_empty() {
        None
    } else {
        let name = dir.file_name().map_or_else(|| "db".into(), |n| n.to_string_lossy().into_owned());
        let kept_at = dir.with_file_name(format!("{name}.damaged-{}", crate::clock::now_ms()));
        copy_dir(dir, &kept_at)?;
        Some(Damage { path: dir.to_path_buf(), files: differences, kept_at, found: Found::ChangedWhileStopped })
    };
    std::fs::remove_file(&manifest_file)?;
    Ok(damage)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database(dir: &Path) {
        let db = sled::open(dir).expect("open");
        for i in 0..200u32 {
            db.insert(i.to_be_bytes(), vec![(i % 251) as u8; 100]).expect("insert");
        }
        db.flush().expect("flush");
    }

    #[test]
    fn a_clean_close_and_reopen_is_not_damage_and_a_still_open_database_is_not_sealed() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("archive");
        database(&dir);
        seal(&dir, Duration::from_secs(5)).expect("seal");
        assert!(manifest_path(&dir).exists());
        assert_eq!(check(&dir).expect("check"), None);
        assert!(!manifest_path(&dir).exists(), "the manifest goes once checked");
        // Open, close, seal, check: sled writes nothing after its last handle is gone.
        for _ in 0..3 {
            let db = sled::open(&dir).expect("reopen");
            db.insert("k", "v").expect("insert");
            drop(db);
            seal(&dir, Duration::from_secs(5)).expect("seal");
            assert_eq!(check(&dir).expect("check"), None);
        }
        let open = sled::open(&dir).expect("open");
        let err = seal(&dir, Duration::from_millis(50)).unwrap_err();
        assert!(err.to_string().contains("still open"), "{err}");
        drop(open);
    }

    #[test]
    fn a_flipped_byte_while_stopped_is_damage_and_the_files_are_kept_as_found() {
        for seed in 0..5u64 {
            let tmp = tempfile::tempdir().expect("tempdir");
            let dir = tmp.path().join("users");
            database(&dir);
            seal(&dir, Duration::from_secs(5)).expect("seal");
            let file = dir.join("db");
            let mut bytes = std::fs::read(&file).expect("read");
            let at = (seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) % bytes.len() as u64) as usize;
            bytes[at] ^= 1 << (seed % 8);
            std::fs::write(&file, &bytes).expect("write");
            let damage = check(&dir).expect("check").expect("damage found");
            assert_eq!(damage.files, vec!["db: checksum differs".to_owned()], "seed {seed}");
            assert_eq!(std::fs::read(damage.kept_at.join("db")).expect("kept"), bytes, "kept as found");
            assert!(damage.to_string().contains("changed while meterhub was stopped"), "{damage}");
            assert_eq!(check(&dir).expect("check"), None, "reported once");
        }
    }
}
