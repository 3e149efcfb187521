//! Scheduled reports (`docs/reports.md`, "Scheduled reports"): the task that
//! makes each schedule's reports when they are due, and the results kept
//! in `<data_dir>/reports/<schedule>/`.
//!
//! A result is its files (`<period>.<format>`) and its record
//! (`<period>.json`: when it was made, its title, rows and the meters it
//! shows), each written atomically, the record last; then the schedule's
//! newest period goes into `<data_dir>/reports/state.json`, atomically.
//! At start and every [`LOOK_EVERY`] the task makes, oldest first, every
//! period due since that newest one (a run missed while the host was down
//! is made when it comes back, never skipped); a period already recorded
//! is not made again. A new schedule starts with its newest due period.
//! The oldest results past `[reports] keep` are removed. Reports are made
//! on a blocking thread, one at a time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::civil::{Date, Time};
use meterhub_accounting::Period;
use meterhub_report::schedule::{Clock, Every};
use meterhub_storage::archive::Archive;
use serde::{Deserialize, Serialize};

use super::{Kind, ReportRequest, Sources};
use crate::accounting::{Accounting, Resource};
use crate::api::visibility::Visibility;
use crate::auth::Principal;
use crate::config::reports::{ReportsConfig, Schedule};
use crate::lifecycle::view::LiveView;

/// How often the task looks for due reports.
pub const LOOK_EVERY: Duration = Duration::from_secs(20);

/// The record of one result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The schedule.
    pub schedule: String,
    /// The period's name: `YYYY-MM-DD` or `YYYY-MM`.
    pub period: String,
    /// Which report.
    pub report: String,
    /// Its title.
    pub title: String,
    /// When it was made (host clock), ms since the epoch.
    pub made_at_ms: i64,
    /// Its item rows.
    pub rows: usize,
    /// The files written: `<period>.<format>`.
    pub files: Vec<String>,
    /// The meters it shows (who may see it: those who may see them all).
    pub meters: Vec<String>,
}

/// What is being made now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Running {
    /// The schedule.
    pub schedule: String,
    /// The period.
    pub period: String,
    /// Since when (host clock), ms.
    pub since_ms: i64,
    /// Periods still to make after this one.
    pub queued: usize,
}

/// The results folder and what the task is doing.
#[derive(Debug)]
pub struct Scheduled {
    dir: PathBuf,
    running: Mutex<Option<Running>>,
    /// When the last look ended (host clock), ms.
    looked: Mutex<Option<i64>>,
}

/// The newest period made, per schedule.
type State = BTreeMap<String, String>;

fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

impl Scheduled {
    /// The results in `<data_dir>/reports`.
    pub fn new(data_dir: &Path) -> Scheduled {
        Scheduled { dir: data_dir.join("reports"), running: Mutex::new(None), looked: Mutex::new(None) }
    }

    /// What is being made now.
    pub fn running(&self) -> Option<Running> {
        self.running.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// When the last look for due reports ended.
    pub fn looked_at_ms(&self) -> Option<i64> {
        *self.looked.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_running(&self, running: Option<Running>) {
        *self.running.lock().unwrap_or_else(|e| e.into_inner()) = running;
    }

    fn state_path(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    fn state(&self) -> State {
        std::fs::read(self.state_path()).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok()).unwrap_or_default()
    }

    fn save_state(&self, state: &State) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?;
        meterhub_storage::files::write_atomically(&self.state_path(), &bytes)
    }

    /// Every result kept, newest first per schedule, schedules by id.
    pub fn runs(&self) -> Vec<RunRecord> {
        let mut out = Vec::new();
        let Ok(schedules) = std::fs::read_dir(&self.dir) else { return out };
        let mut dirs: Vec<PathBuf> = schedules.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
        dirs.sort();
        for dir in dirs {
            let mut records: Vec<RunRecord> = std::fs::read_dir(&dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                .filter_map(|e| serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok())
                .collect();
            records.sort_by(|a, b| b.period.cmp(&a.period));
            out.extend(records);
        }
        out
    }

    /// A result's file, when `schedule` and `file` name one.
    pub fn file(&self, schedule: &str, file: &str) -> Option<(Vec<u8>, RunRecord)> {
        if !valid_name(schedule) || !valid_name(file) {
            return None;
        }
        let period = file.rsplit_once('.')?.0;
        let record: RunRecord =
            serde_json::from_slice(&std::fs::read(self.dir.join(schedule).join(format!("{period}.json"))).ok()?)
                .ok()?;
        if !record.files.iter().any(|f| f == file) {
            return None;
        }
        Some((std::fs::read(self.dir.join(schedule).join(file)).ok()?, record))
    }

    /// Whether `seen` may see a result: every meter it shows.
    pub fn visible(record: &RunRecord, seen: &Visibility, accounting: &Accounting) -> bool {
        seen.everything() || record.meters.iter().all(|m| seen.meter(accounting, m))
    }

    /// Removes the oldest results of `schedule` past `keep`.
    fn prune(&self, schedule: &str, keep: usize) {
        let mut records: Vec<RunRecord> = self.runs().into_iter().filter(|r| r.schedule == schedule).collect();
        records.sort_by(|a, b| b.period.cmp(&a.period));
        for old in records.iter().skip(keep) {
            let dir = self.dir.join(schedule);
            // The record first: a file without one is never listed.
            let _ = std::fs::remove_file(dir.join(format!("{}.json", old.period)));
            for file in &old.files {
                let _ = std::fs::remove_file(dir.join(file));
            }
        }
    }
}

/// A schedule's clock: its zone, or the configured one.
pub fn clock(schedule: &Schedule, default_zone: &str) -> Option<Clock> {
    let zone = jiff::tz::TimeZone::get(schedule.zone.as_deref().unwrap_or(default_zone)).ok()?;
    let at = Time::new(schedule.at.0 as i8, schedule.at.1 as i8, 0, 0).ok()?;
    let every = match schedule.every {
        crate::config::reports::Every::Day => Every::Day,
        crate::config::reports::Every::Month => Every::Month,
    };
    Some(Clock { every, at, zone })
}

/// The request a schedule makes for the period starting on `start`.
pub fn request(schedule: &Schedule, clock: &Clock, start: Date) -> Option<ReportRequest> {
    let period = match (schedule.period.as_deref(), clock.every) {
        (Some("day"), _) | (None, Every::Day) => Period::Day,
        _ => Period::Month,
    };
    Some(ReportRequest {
        kind: Kind::parse(&schedule.report)?,
        period,
        from: start,
        to: clock.next(start)?,
        zone: schedule.zone.clone(),
        site: schedule.site.clone(),
        resource: schedule.resource.as_deref().and_then(Resource::parse),
        meter: schedule.meter.clone(),
        lang: meterhub_report::Lang::parse(&schedule.lang).unwrap_or_default(),
    })
}

/// Makes one result: its files, then its record.
fn make(
    scheduled: &Scheduled,
    sources: &Sources,
    schedule: &Schedule,
    clock: &Clock,
    start: Date,
) -> Result<RunRecord, String> {
    let req = request(schedule, clock, start).ok_or("the schedule's report cannot be asked for")?;
    let now_ms = meterhub_storage::clock::now_ms();
    let everything = Visibility::for_principal(Some(Principal::local_admin()));
    let actor = format!("schedule {}", schedule.id);
    let report = super::build(sources, &everything, &req, &actor, now_ms).map_err(|e| e.to_string())?;
    let period = clock.name(start);
    let dir = scheduled.dir.join(&schedule.id);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut files = Vec::new();
    for name in &schedule.formats {
        let format = meterhub_report::Format::parse(name).ok_or_else(|| format!("format {name}"))?;
        let bytes = meterhub_report::render(&report, format)?;
        let file = format!("{period}.{}", format.extension());
        meterhub_storage::files::write_atomically(&dir.join(&file), &bytes).map_err(|e| format!("{file}: {e}"))?;
        files.push(file);
    }
    let meter_at = report.columns.iter().position(|c| c.key == "meter");
    let mut meters: Vec<String> = report
        .rows
        .iter()
        .filter(|r| r.kind == meterhub_report::RowKind::Item)
        .filter_map(|r| match meter_at.and_then(|i| r.cells.get(i)) {
            Some(meterhub_report::Cell::Text(id)) => Some(id.clone()),
            _ => None,
        })
        .collect();
    meters.sort();
    meters.dedup();
    let record = RunRecord {
        schedule: schedule.id.clone(),
        period: period.clone(),
        report: schedule.report.clone(),
        title: report.title.clone(),
        made_at_ms: now_ms,
        rows: report.rows.iter().filter(|r| r.kind == meterhub_report::RowKind::Item).count(),
        files,
        meters,
    };
    let bytes = serde_json::to_vec_pretty(&record).map_err(|e| e.to_string())?;
    meterhub_storage::files::write_atomically(&dir.join(format!("{period}.json")), &bytes)
        .map_err(|e| format!("{period}.json: {e}"))?;
    Ok(record)
}

/// One look: every due period of every schedule made, oldest first.
fn look(scheduled: &Scheduled, archive: &dyn Archive, accounting: &Accounting, live: &LiveView) {
    let (config, alarms, judge): (ReportsConfig, _, _) = {
        let view = live.read().unwrap_or_else(|e| e.into_inner());
        let judge = crate::board::Judge {
            silent_after_periods: view.accounting.silent_after_periods,
            clock_tolerance_ms: archive.device_clock_tolerance_ms(),
        };
        (view.reports.clone(), view.alarms.clone(), judge)
    };
    let default_zone = accounting.default_zone.clone();
    let now_ms = meterhub_storage::clock::now_ms();
    let mut state = scheduled.state();
    for schedule in &config.schedules {
        let Some(clock) = clock(schedule, &default_zone) else { continue };
        let last = state.get(&schedule.id).and_then(|name| clock.parse(name));
        let due = clock.missed(last, now_ms, config.keep);
        for (i, start) in due.iter().enumerate() {
            scheduled.set_running(Some(Running {
                schedule: schedule.id.clone(),
                period: clock.name(*start),
                since_ms: meterhub_storage::clock::now_ms(),
                queued: due.len() - i - 1,
            }));
            let board = match crate::board::Board::read(archive, accounting, &judge, meterhub_storage::clock::now_ms())
            {
                Ok(board) => board,
                Err(e) => {
                    tracing::warn!(schedule = %schedule.id, error = %e, "scheduled report: cannot read the board; trying again");
                    scheduled.set_running(None);
                    return;
                }
            };
            let sources = Sources { archive, accounting, board: &board, alarms: &alarms };
            match make(scheduled, &sources, schedule, &clock, *start) {
                Ok(record) => {
                    tracing::info!(schedule = %schedule.id, period = %record.period, rows = record.rows, "scheduled report made");
                    state.insert(schedule.id.clone(), record.period);
                    if let Err(e) = scheduled.save_state(&state) {
                        tracing::error!(error = %e, "scheduled reports: cannot write state.json");
                    }
                }
                Err(why) => {
                    // Tried again at the next look; later periods wait
                    // for it, so none is skipped.
                    tracing::error!(schedule = %schedule.id, period = %clock.name(*start), error = %why, "scheduled report failed");
                    break;
                }
            }
        }
        scheduled.prune(&schedule.id, config.keep);
    }
    scheduled.set_running(None);
    *scheduled.looked.lock().unwrap_or_else(|e| e.into_inner()) = Some(meterhub_storage::clock::now_ms());
}

/// The task: a look at start and every [`LOOK_EVERY`], on a blocking
/// thread.
pub fn spawn(
    scheduled: Arc<Scheduled>,
    archive: Arc<dyn Archive>,
    accounting: Arc<Accounting>,
    live: LiveView,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let (s, a, acc, l) = (scheduled.clone(), archive.clone(), accounting.clone(), live.clone());
            if let Err(e) = tokio::task::spawn_blocking(move || look(&s, &*a, &acc, &l)).await {
                tracing::error!(error = %e, "scheduled reports: a look failed");
            }
            tokio::time::sleep(LOOK_EVERY).await;
        }
    })
}
