//! The health of the stores the host writes (journal, archive, ...): a store
//! whose writes fail (a full disk, an I/O error) is degraded until a write
//! succeeds again. Each change of state is logged once, with the count of
//! failures in between, never once per failed write; `/health` and
//! `/metrics` read [`StoreHealth::problems`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often a store that keeps failing is mentioned again in the log.
const REMIND_EVERY: Duration = Duration::from_secs(60);

/// A store whose writes are failing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// Which store (`journal`, `archive`, ...).
    pub store: &'static str,
    /// The file or directory being written.
    pub path: PathBuf,
    /// Whether the cause is a full disk (or quota).
    pub disk_full: bool,
    /// The last error, as the store reported it.
    pub error: String,
    /// Failed writes since it started failing.
    pub failures: u64,
    /// When it started failing, milliseconds since the epoch.
    pub since_ms: i64,
    /// Free bytes on the file system of `path` (for the unprivileged user),
    /// when they can be read.
    pub free_bytes: Option<u64>,
    /// Its files were found damaged at start (it stays reported until the
    /// host restarts; the damaged files are kept, see `error`).
    #[serde(default)]
    pub damaged: bool,
}

impl Problem {
    /// One line for `/health`: `disk full at <path>, <n> bytes free`.
    pub fn summary(&self) -> String {
        if self.damaged {
            return format!("damaged: {}", self.error);
        }
        let free = self.free_bytes.map_or_else(String::new, |free| format!(", {free} bytes free"));
        if self.disk_full {
            format!("disk full at {}{free}", self.path.display())
        } else {
            format!("{} writes failing at {}: {}{free}", self.store, self.path.display(), self.error)
        }
    }
}

#[derive(Debug)]
struct Failing {
    problem: Problem,
    started: Instant,
    reminded: Instant,
}

/// The stores' health, shared by their writers and the API.
#[derive(Debug, Default)]
pub struct StoreHealth {
    failing: Mutex<BTreeMap<&'static str, Failing>>,
    /// Stores found damaged at start.
    damaged: Mutex<Vec<Problem>>,
    /// Failed writes since the start, per store (for `/metrics`).
    failures_total: Mutex<BTreeMap<&'static str, u64>>,
}

/// Whether `error` says the disk (or the user's quota) is full.
pub fn is_disk_full(error: &std::io::Error) -> bool {
    // std maps ENOSPC and EDQUOT to these kinds.
    matches!(error.kind(), std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded)
}

/// Free bytes on the file system holding `path` (or its nearest existing
/// parent), as an unprivileged user may use them.
pub fn free_bytes(path: &Path) -> Option<u64> {
    let existing = path.ancestors().find(|p| p.exists())?;
    let stat = rustix::fs::statvfs(existing).ok()?;
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}

impl StoreHealth {
    fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        // Plain counters and records: a panic elsewhere cannot leave them half-changed.
        mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A write of `store` at `path` failed with `error`.
    pub fn failed(&self, store: &'static str, path: &Path, error: &dyn std::fmt::Display, disk_full: bool) {
        *Self::lock(&self.failures_total).entry(store).or_default() += 1;
        let mut failing = Self::lock(&self.failing);
        let now = Instant::now();
        match failing.get_mut(store) {
            None => {
                let problem = Problem {
                    store,
                    path: path.to_path_buf(),
                    disk_full,
                    error: error.to_string(),
                    failures: 1,
                    since_ms: crate::clock::now_ms(),
                    free_bytes: free_bytes(path),
                    damaged: false,
                };
                tracing::error!(
                    store, path = %path.display(), %error, disk_full, free_bytes = ?problem.free_bytes,
                    "{}: writes fail; nothing more is acknowledged until they succeed again", problem.summary()
                );
                failing.insert(store, Failing { problem, started: now, reminded: now });
            }
            Some(state) => {
                state.problem.failures += 1;
                state.problem.error = error.to_string();
                state.problem.disk_full = disk_full;
                if now.duration_since(state.reminded) >= REMIND_EVERY {
                    state.reminded = now;
                    state.problem.free_bytes = free_bytes(path);
                    tracing::warn!(
                        store,
                        failures = state.problem.failures,
                        since_s = now.duration_since(state.started).as_secs(),
                        "{}: still failing",
                        state.problem.summary()
                    );
                }
            }
        }
    }

    /// A write of `store` succeeded: it is healthy again.
    pub fn succeeded(&self, store: &'static str) {
        let mut failing = Self::lock(&self.failing);
        if let Some(state) = failing.remove(store) {
            tracing::info!(
                store, path = %state.problem.path.display(), failures = state.problem.failures,
                down_ms = state.started.elapsed().as_millis() as u64,
                "{} writes succeed again", store
            );
        }
    }

    /// `store`'s files were found damaged at start ([`crate::integrity`]):
    /// reported until the host restarts.
    pub fn damaged(&self, store: &'static str, damage: &crate::integrity::Damage) {
        Self::lock(&self.damaged).push(Problem {
            store,
            path: damage.path.clone(),
            disk_full: false,
            error: damage.to_string(),
            failures: 0,
            since_ms: crate::clock::now_ms(),
            free_bytes: None,
            damaged: true,
        });
    }

    /// The stores damaged at start and those failing now (free space read
    /// afresh), a full disk first: a store that fails because another one
    /// hit the full disk (the accounting reading a failed archive) is
    /// listed after the cause.
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = Self::lock(&self.damaged).clone();
        let mut failing: Vec<Problem> = Self::lock(&self.failing)
            .values()
            .map(|state| Problem { free_bytes: free_bytes(&state.problem.path), ..state.problem.clone() })
            .collect();
        failing.sort_by_key(|problem| !problem.disk_full);
        problems.extend(failing);
        problems
    }

    /// Failed writes since the start, per store.
    pub fn failures_total(&self) -> BTreeMap<&'static str, u64> {
        Self::lock(&self.failures_total).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_is_degraded_from_its_first_failure_to_its_next_success() {
        let health = StoreHealth::default();
        let dir = tempfile::tempdir().expect("tempdir");
        let full = std::io::Error::from_raw_os_error(rustix::io::Errno::NOSPC.raw_os_error());
        assert!(is_disk_full(&full));
        assert!(!is_disk_full(&std::io::Error::other("x")));
        for _ in 0..3 {
            health.failed("journal", dir.path(), &full, is_disk_full(&full));
        }
        let problems = health.problems();
        assert_eq!(problems.len(), 1);
        assert_eq!((problems[0].store, problems[0].failures, problems[0].disk_full), ("journal", 3, true));
        let summary = problems[0].summary();
        assert!(summary.starts_with(&format!("disk full at {}, ", dir.path().display())), "{summary}");
        assert!(summary.ends_with(" bytes free"), "{summary}");
        health.succeeded("journal");
        assert!(health.problems().is_empty());
        assert_eq!(health.failures_total()["journal"], 3);

        // The full disk is named first, before a store failing because of it.
        health.failed("accounting", dir.path(), &std::io::Error::other("archive scan failed"), false);
        health.failed("archive", dir.path(), &full, true);
        let problems = health.problems();
        assert_eq!((problems[0].store, problems[1].store), ("archive", "accounting"));
    }
}
