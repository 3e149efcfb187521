//! What operators see of each sink: `meterhub status`, `/api/v1/status`,
//! `/api/v1/sinks`, `/metrics` and the UI's plugins page read it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

use serde::Serialize;

/// The state of a sink instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SinkState {
    /// Connecting and setting up its schema.
    Starting,
    /// Delivering; caught up or catching up.
    Running,
    /// The last attempt failed; the batch is tried again after a delay.
    Retrying,
    /// Not running: its plugin is missing or refused (see `last_error`).
    Waiting,
    /// Removed or stopped with the host.
    Stopped,
}

impl SinkState {
    /// The name used in the API and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            SinkState::Starting => "starting",
            SinkState::Running => "running",
            SinkState::Retrying => "retrying",
            SinkState::Waiting => "waiting",
            SinkState::Stopped => "stopped",
        }
    }
}

/// The last error of a sink.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SinkError {
    /// When, ms since the epoch.
    pub at_ms: i64,
    /// What happened and what to do.
    pub message: String,
}

/// One sink instance as operators see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SinkStatus {
    /// Instance id.
    pub id: String,
    /// Plugin id.
    pub plugin: String,
    /// Where it writes: `user@host:port/database`, schema.
    pub target: String,
    /// The schema.
    pub schema: String,
    /// Its state.
    pub state: SinkState,
    /// The archive log sequence it has delivered through (as the database
    /// holds it); `None` before it first reached the database.
    pub position: Option<u64>,
    /// The archive log's head when last looked at.
    pub head: u64,
    /// The accounting revision it has delivered through (deltas, meters,
    /// modules); `None` before it first reached the database.
    pub accounting_position: Option<u64>,
    /// The accounting's last revision when last looked at.
    pub accounting_head: u64,
    /// Records of both logs not delivered yet.
    pub lag_records: u64,
    /// Age of the oldest undelivered reading (since it was archived),
    /// seconds; 0 when caught up.
    pub lag_seconds: f64,
    /// Records written.
    pub delivered: u64,
    /// Batches written.
    pub batches: u64,
    /// Attempts that failed and were tried again.
    pub retried: u64,
    /// Records put on the dead-letter list (since the host started).
    pub rejected: u64,
    /// The highest migration of its plugin that ran.
    pub schema_version: Option<u32>,
    /// When a batch was last written, ms since the epoch.
    pub last_success_ms: Option<i64>,
    /// The last error, kept after a success so operators see what happened.
    pub last_error: Option<SinkError>,
    /// Records delivered per second over the last minute.
    pub rate_rps: f64,
    /// Seconds to deliver the lag at that rate (`None`: caught up or not moving).
    pub eta_seconds: Option<f64>,
    /// Deliveries of the last minute, for the rate.
    #[serde(skip)]
    pub recent: RateWindow,
    /// The last consistency check with its center (a sync link).
    pub last_check: Option<crate::sync::check::CheckReport>,
    /// What kind of failure the sink is retrying after (`unavailable`:
    /// its target cannot be reached; `setup`: it refuses; `moved`,
    /// `data`), `None` once a batch went through or it caught up (a
    /// connection alone does not clear it).
    pub failure: Option<&'static str>,
    /// A sync link's center and its name there (`None` for other sinks).
    pub center: Option<CenterOf>,
    /// When a sync link last heard from its center (an answer to a batch,
    /// a heartbeat or a position request), ms.
    pub last_contact_ms: Option<i64>,
    /// Since when a batch has been on its way without an answer, ms
    /// (a link to a monitoring center; a long wait is a stalled link).
    pub in_flight_since_ms: Option<i64>,
    /// Set while the oldest undelivered reading is older than the sink's
    /// `alarm_lag_seconds`: since when, and the limit.
    pub alarm: Option<LagAlarm>,
}

/// Where a sync link sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CenterOf {
    /// The center's API.
    pub url: String,
    /// This site's name there.
    pub site: String,
}

/// A sink too far behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LagAlarm {
    /// Since when, ms since the epoch.
    pub since_ms: i64,
    /// The sink's `alarm_lag_seconds`.
    pub limit_seconds: u64,
}

impl SinkStatus {
    /// A sink about to start.
    pub fn new(id: &str, plugin: &str, target: String, schema: &str) -> SinkStatus {
        SinkStatus {
            id: id.to_owned(),
            plugin: plugin.to_owned(),
            target,
            schema: schema.to_owned(),
            state: SinkState::Starting,
            position: None,
            head: 0,
            accounting_position: None,
            accounting_head: 0,
            lag_records: 0,
            lag_seconds: 0.0,
            delivered: 0,
            batches: 0,
            retried: 0,
            rejected: 0,
            schema_version: None,
            last_success_ms: None,
            last_error: None,
            last_check: None,
            rate_rps: 0.0,
            eta_seconds: None,
            recent: Default::default(),
            failure: None,
            center: None,
            last_contact_ms: None,
            in_flight_since_ms: None,
            alarm: None,
        }
    }
}

/// The window a rate is measured over.
const RATE_WINDOW_MS: i64 = 60_000;

/// Records moved over the last minute (a sink's deliveries, a center's
/// batches from a site): the rate, and the time a lag takes at it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RateWindow(std::collections::VecDeque<(i64, u64)>);

impl RateWindow {
    /// `records` moved at `now`.
    pub fn count(&mut self, records: u64, now: i64) {
        self.0.push_back((now, records));
        while self.0.front().is_some_and(|(at, _)| *at < now - RATE_WINDOW_MS) {
            self.0.pop_front();
        }
    }

    /// Records per second over the minute before `now`.
    pub fn per_second(&self, now: i64) -> f64 {
        let since = now - RATE_WINDOW_MS;
        let moved: u64 = self.0.iter().filter(|(at, _)| *at >= since).map(|(_, n)| n).sum();
        match self.0.iter().find(|(at, _)| *at >= since) {
            Some((first, _)) => moved as f64 / ((now - first).max(1000) as f64 / 1000.0),
            None => 0.0,
        }
    }

    /// Seconds to move `lag` records at `rate` (`None`: nothing to move, or not moving).
    pub fn eta(lag: u64, rate: f64) -> Option<f64> {
        (lag > 0 && rate > 0.0).then(|| lag as f64 / rate)
    }
}

impl SinkStatus {
    /// `records` were delivered at `now`: the rate and the time to catch up.
    pub fn count_rate(&mut self, records: u64, now: i64) {
        self.recent.count(records, now);
        self.update_rate(now);
    }

    /// The rate and the time to catch up as of `now`.
    pub fn update_rate(&mut self, now: i64) {
        self.rate_rps = self.recent.per_second(now);
        self.eta_seconds = RateWindow::eta(self.lag_records, self.rate_rps);
    }
}

/// One sink's status, shared by its worker and the readers.
pub type StatusCell = Arc<Mutex<SinkStatus>>;

/// A request to a sink's worker from the API.
#[derive(Debug)]
pub enum Command {
    /// Up to this many dead letters, oldest first.
    DeadLetters(i64, tokio::sync::oneshot::Sender<Result<Vec<super::postgres::StoredDeadLetter>, String>>),
    /// Write the dead letters again (after a fix): how many were written.
    Resend(tokio::sync::oneshot::Sender<Result<super::postgres::Resent, String>>),
    /// Check device times `[from_ms, to_ms)` against the center (a sync link).
    Check(i64, i64, tokio::sync::oneshot::Sender<Result<crate::sync::check::CheckReport, String>>),
}

/// A sink as the API reaches it: its status, and its worker's requests
/// (`None` while it waits for its plugin).
#[derive(Clone)]
pub struct SinkEntry {
    /// Its status.
    pub status: StatusCell,
    /// Requests to its worker.
    pub commands: Option<tokio::sync::mpsc::Sender<Command>>,
}

/// Every configured sink, by id.
#[derive(Clone, Default)]
pub struct SinkBoard(Arc<RwLock<BTreeMap<String, SinkEntry>>>);

impl SinkBoard {
    /// A copy of every sink's status, by id.
    pub fn snapshot(&self) -> Vec<SinkStatus> {
        let map = self.0.read().unwrap_or_else(|e| e.into_inner());
        map.values().map(|entry| entry.status.lock().unwrap_or_else(|e| e.into_inner()).clone()).collect()
    }

    /// Sink `id`, if configured.
    pub fn get(&self, id: &str) -> Option<SinkEntry> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).get(id).cloned()
    }

    /// Show `entry` as sink `id`.
    pub fn insert(&self, id: &str, entry: SinkEntry) {
        self.0.write().unwrap_or_else(|e| e.into_inner()).insert(id.to_owned(), entry);
    }

    /// Stop showing sink `id`.
    pub fn remove(&self, id: &str) {
        self.0.write().unwrap_or_else(|e| e.into_inner()).remove(id);
    }

    /// Stop showing sink `id` if it is still shown with `status` (and not
    /// as a sink of the same id configured since).
    pub fn remove_if_shown(&self, id: &str, status: &StatusCell) {
        let mut map = self.0.write().unwrap_or_else(|e| e.into_inner());
        if map.get(id).is_some_and(|entry| Arc::ptr_eq(&entry.status, status)) {
            map.remove(id);
        }
    }
}

/// Change a sink's status.
pub fn update(cell: &StatusCell, f: impl FnOnce(&mut SinkStatus)) {
    f(&mut cell.lock().unwrap_or_else(|e| e.into_inner()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> SinkEntry {
        SinkEntry { status: Arc::new(Mutex::new(SinkStatus::new("pg", "postgres", "db".into(), "s"))), commands: None }
    }

    #[test]
    fn a_retired_sink_leaves_the_board_unless_a_sink_of_its_id_was_configured_since() {
        let board = SinkBoard::default();
        let (old, new) = (entry(), entry());
        board.insert("pg", old.clone());
        board.insert("pg", new.clone());
        board.remove_if_shown("pg", &old.status);
        assert!(board.get("pg").is_some_and(|shown| Arc::ptr_eq(&shown.status, &new.status)));
        board.remove_if_shown("pg", &new.status);
        assert!(board.get("pg").is_none());
    }
}
