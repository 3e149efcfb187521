//! The last good configurations, kept beside the configuration file so that
//! `meterhub config rollback` works even when the file no longer parses:
//! `<file>.last-good` is the configuration running, `<file>.previous-good`
//! the one before it.

use std::path::{Path, PathBuf};

use meterhub_storage::files::write_atomically;

fn sidecar(file: &Path, suffix: &str) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    file.with_file_name(name)
}

/// The configuration running, as last recorded.
pub fn last_good(file: &Path) -> PathBuf {
    sidecar(file, ".last-good")
}

/// The configuration before it.
pub fn previous_good(file: &Path) -> PathBuf {
    sidecar(file, ".previous-good")
}

/// Record `text` as the configuration now running.
pub fn record_good(file: &Path, text: &str) -> std::io::Result<()> {
    let last = last_good(file);
    match std::fs::read_to_string(&last) {
        Ok(previous) if previous == text => return Ok(()),
        Ok(_) => std::fs::rename(&last, previous_good(file))?,
        Err(_) => {}
    }
    write_atomically(&last, text.as_bytes())
}

/// Put the last good configuration back into `file`: the one running when
/// the file holds an edit that did not take effect, else the one before it.
/// Returns what was done.
pub fn rollback(file: &Path) -> Result<String, String> {
    let last = std::fs::read_to_string(last_good(file)).map_err(|e| {
        format!(
            "no good configuration is recorded for {} ({}: {e}); meterhub records one each time a configuration takes effect",
            file.display(),
            last_good(file).display()
        )
    })?;
    let current = std::fs::read_to_string(file).ok();
    if current.as_deref() != Some(last.as_str()) {
        write_atomically(file, last.as_bytes()).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
        return Ok(format!(
            "{}: restored the last good configuration (the one running); a running host reloads it",
            file.display()
        ));
    }
    let previous = std::fs::read_to_string(previous_good(file)).map_err(|_| {
        format!(
            "{} is the last good configuration and no earlier one is recorded; nothing to roll back",
            file.display()
        )
    })?;
    write_atomically(file, previous.as_bytes()).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    Ok(format!("{}: restored the configuration before the last change; a running host reloads it", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollback_restores_the_running_config_then_the_one_before() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("meterhub.toml");
        assert!(rollback(&file).unwrap_err().contains("no good configuration is recorded"));

        std::fs::write(&file, "one").unwrap();
        record_good(&file, "one").unwrap();
        assert!(rollback(&file).unwrap_err().contains("nothing to roll back"));

        std::fs::write(&file, "two").unwrap();
        record_good(&file, "two").unwrap();
        // A broken edit that never took effect.
        std::fs::write(&file, "[broken").unwrap();
        assert!(rollback(&file).unwrap().contains("the one running"));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "two");
        // The file is the running config: go back one step.
        assert!(rollback(&file).unwrap().contains("before the last change"));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "one");
    }
}
