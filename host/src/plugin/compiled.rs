//! The WASM plugins' machine code, kept between starts in
//! `host.compiled_plugins_dir`. Compiling a component takes about half a
//! second on an idle core (seconds on a busy one), for every plugin at every
//! start; loading its kept code takes milliseconds.
//!
//! A file is named by the component's SHA-256 and a hash of the engine's
//! settings (`<sha256>-<settings>.cwasm`) and holds the serialized code
//! followed by its own SHA-256. Loading machine code runs it without any
//! check of what it does, so a file is loaded only when its checksum holds;
//! one that is damaged, torn or written by another wasmtime is compiled
//! afresh and replaced, never executed. The directory must be writable by
//! the host's user only, like the data directory it sits in by default.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use sha2::Digest;
use wasmtime::Engine;
use wasmtime::component::Component;

/// Files not used for this long are removed when a host starts.
const UNUSED_FOR: Duration = Duration::from_secs(30 * 24 * 3600);

/// The directory chosen for this process.
static DIR: OnceLock<PathBuf> = OnceLock::new();

/// Keep compiled code in `dir` from now on (the first call of the process
/// decides; `host.compiled_plugins_dir` takes effect at a restart), and
/// remove the files there nobody used for [`UNUSED_FOR`].
pub fn keep_in(dir: &Path) {
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    if DIR.set(dir.clone()).is_ok() {
        remove_unused(&dir, SystemTime::now());
    }
}

/// `bytes` (whose SHA-256 is `sha256`, lowercase hex) compiled on
/// `engine`: the kept code when it is there and whole, else compiled now
/// and kept for the next time.
pub(super) fn component(engine: &Engine, bytes: &[u8], sha256: &str) -> wasmtime::Result<Component> {
    let Some(dir) = DIR.get() else {
        return Component::new(engine, bytes);
    };
    let file = dir.join(file_name(engine, sha256));
    if let Some(component) = load(engine, &file) {
        return Ok(component);
    }
    let component = Component::new(engine, bytes)?;
    if let Err(e) = component.serialize().and_then(|code| Ok(store(&file, &code)?)) {
        tracing::warn!(file = %file.display(), error = %format!("{e:#}"), "cannot keep a plugin's compiled code; the next start compiles it again");
    }
    Ok(component)
}

fn file_name(engine: &Engine, sha256: &str) -> String {
    let mut settings = std::hash::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut settings);
    format!("{sha256}-{:016x}.cwasm", settings.finish())
}

/// The component in `file`, when the file is there, whole, and loadable
/// by this engine; anything else is logged (but a missing file) and `None`.
fn load(engine: &Engine, file: &Path) -> Option<Component> {
    let kept = match std::fs::read(file) {
        Ok(kept) => kept,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(file = %file.display(), error = %e, "cannot read a plugin's compiled code; compiling it again");
            return None;
        }
    };
    let Some(code) = checked(&kept) else {
        tracing::warn!(file = %file.display(), "a plugin's compiled code fails its checksum (damaged or torn); compiling it again");
        return None;
    };
    #[allow(unsafe_code, reason = "loading machine code this host compiled and checksummed")]
    // SAFETY: `deserialize` runs the code it is given without checking it.
    // These bytes are exactly what `Component::serialize` of this host's
    // engine produced (their SHA-256, written after them, matches), in a
    // directory only the host's user may write; wasmtime refuses code of
    // another version or other settings with an error.
    let loaded = unsafe { Component::deserialize(engine, code) };
    match loaded {
        Ok(component) => {
            // Used now: not removed as unused (best effort).
            let _ = std::fs::File::options().write(true).open(file).and_then(|f| f.set_modified(SystemTime::now()));
            Some(component)
        }
        Err(e) => {
            tracing::info!(file = %file.display(), error = %format!("{e:#}"), "a plugin's compiled code is not loadable by this build; compiling it again");
            None
        }
    }
}

/// The code in `kept` when the SHA-256 after it matches.
fn checked(kept: &[u8]) -> Option<&[u8]> {
    let (code, sum) = kept.split_at_checked(kept.len().checked_sub(32)?)?;
    (sha2::Sha256::digest(code).as_slice() == sum).then_some(code)
}

/// Write `code` and its checksum to `file` through a temporary file in the
/// same directory, so a reader sees the old file or the whole new one.
fn store(file: &Path, code: &[u8]) -> std::io::Result<()> {
    let dir = file.parent().expect("a file in the compiled plugins' directory");
    std::fs::create_dir_all(dir)?;
    let name = file.file_name().expect("a file name").to_string_lossy();
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let write = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let temp = dir.join(format!(".{name}.{}.{write}.tmp", std::process::id()));
    let written = std::fs::File::create(&temp).and_then(|mut out| {
        out.write_all(code)?;
        out.write_all(&sha2::Sha256::digest(code))
    });
    let renamed = written.and_then(|()| std::fs::rename(&temp, file));
    if renamed.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    renamed
}

/// Remove the `.cwasm` files of `dir` last used before `now - UNUSED_FOR`.
fn remove_unused(dir: &Path, now: SystemTime) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|used| now.duration_since(used).is_ok_and(|age| age > UNUSED_FOR));
        if stale && path.extension().is_some_and(|e| e == "cwasm") && std::fs::remove_file(&path).is_ok() {
            tracing::info!(file = %path.display(), "removed compiled code unused for 30 days");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checksum_that_fails_is_no_code() {
        let code = b"machine code".to_vec();
        let mut kept = code.clone();
        kept.extend_from_slice(&sha2::Sha256::digest(&code));
        assert_eq!(checked(&kept), Some(&code[..]));
        let mut flipped = kept.clone();
        flipped[3] ^= 0x10;
        assert_eq!(checked(&flipped), None);
        assert_eq!(checked(&kept[..kept.len() - 1]), None, "torn");
        assert_eq!(checked(&kept[..20]), None, "shorter than a checksum");
    }

    #[test]
    fn files_unused_for_a_month_are_removed_and_others_kept() {
        let dir = tempfile::tempdir().expect("temp dir");
        let old = dir.path().join("a-1.cwasm");
        let recent = dir.path().join("b-1.cwasm");
        let other = dir.path().join("notes.txt");
        for file in [&old, &recent, &other] {
            std::fs::write(file, b"x").expect("write");
        }
        let month_ago = SystemTime::now() - UNUSED_FOR - Duration::from_secs(60);
        for file in [&old, &other] {
            std::fs::File::options().write(true).open(file).and_then(|f| f.set_modified(month_ago)).expect("age");
        }
        remove_unused(dir.path(), SystemTime::now());
        assert!(!old.exists());
        assert!(recent.exists());
        assert!(other.exists(), "only compiled code is removed");
    }
}
