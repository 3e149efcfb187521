//! The alarms' task: it follows the archive's log by its own position
//! (kept with the alarms it raised, so a restart judges again rather than
//! skip), looks at the board every [`BOARD_EVERY`], and writes the host's
//! own events (logins, configuration changes, plugin state changes) to the
//! event log as they show in the host's views.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use super::model::EventKind;
use super::rules::{self, LostSeen, Registers, Verdict};
use super::store::{self, Write};
use super::{AlarmError, Alarms};
use crate::accounting::Accounting;
use crate::auth::Auth;
use crate::lifecycle::LiveView;
use crate::lifecycle::view::ConfigChange;
use crate::sink::status::SinkBoard;
use meterhub_storage::archive::{Archive, StoredReading};
use meterhub_storage::clock::now_ms;
use meterhub_storage::health::StoreHealth;

/// Archived readings judged per step (borrowed from the archive's cache of
/// the newest log blocks; each step also writes the position).
const LOG_BATCH: usize = 8192;
/// How often the board (silence, clocks, battery, signal, lost uplinks,
/// sinks) and the host's views are looked at.
pub const BOARD_EVERY: Duration = Duration::from_secs(2);
/// The wait between steps when nothing woke the task.
const IDLE_POLL: Duration = Duration::from_millis(200);
/// The name in `/health`.
const STORE: &str = "alarms";

/// What the task reads.
pub struct Sources {
    /// The archive it follows.
    pub archive: Arc<dyn Archive>,
    /// The registry (the board).
    pub accounting: Arc<Accounting>,
    /// The rules in effect and the host's state (configuration, plugins).
    pub live: LiveView,
    /// The sinks' states.
    pub sinks: SinkBoard,
    /// The audit log (logins).
    pub auth: Arc<Auth>,
}

/// What the task remembers between steps.
#[derive(Default)]
struct Memory {
    registers: Registers,
    /// Devices whose registers were seeded from the archive.
    seeded: HashSet<String>,
    lost: LostSeen,
    /// The number of the configuration change last written as an event.
    config: u64,
    /// Each plugin instance's state last seen.
    instances: BTreeMap<String, &'static str>,
    /// The audit entry last written as an event.
    audit: Option<u64>,
}

impl Alarms {
    /// One step over the archive's log: at most [`LOG_BATCH`] readings
    /// judged; answers how many. The position starts at the log's head the
    /// first time (history raises nothing).
    fn step_readings(&self, src: &Sources, memory: &mut Memory) -> Result<usize, AlarmError> {
        let cursor = match self.store.cursor()? {
            Some(cursor) => cursor,
            None => {
                let head = src.archive.log_head()?;
                self.store.write(Write { cursor: Some(head), ..Write::default() })?;
                head
            }
        };
        self.judged_through.fetch_max(cursor, std::sync::atomic::Ordering::Relaxed);
        let rules: Vec<_> = src
            .live
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .alarms
            .rules
            .iter()
            .filter(|r| r.kind.on_readings())
            .cloned()
            .collect();
        let (last, count, findings) = if rules.is_empty() {
            // No rule judges readings: the position moves past them unread.
            let head = src.archive.log_head()?;
            if head <= cursor {
                return Ok(0);
            }
            (head, 0, Vec::new())
        } else {
            let entries = src.archive.log_after(cursor, LOG_BATCH)?;
            let Some(last) = entries.last_seq() else { return Ok(0) };
            let tolerance = src.archive.device_clock_tolerance_ms();
            let mut findings = Vec::new();
            for reading in entries.readings() {
                self.seed(src, memory, reading, cursor);
                findings.extend(rules::on_reading(&rules, reading, tolerance, &mut memory.registers));
            }
            (last, entries.len(), findings)
        };
        let now = now_ms();
        self.commit(|engine| engine.apply(findings, now), Some(last))?;
        self.judged_through.store(last, std::sync::atomic::Ordering::Relaxed);
        Ok(count)
    }

    /// The first reading of a device since start: its registers' newest
    /// readings up to the position (what was judged before the restart).
    fn seed(&self, src: &Sources, memory: &mut Memory, reading: &StoredReading, cursor: u64) {
        let device = &reading.reading.device;
        if memory.seeded.contains(device) {
            return;
        }
        memory.seeded.insert(device.clone());
        match src.archive.latest(device) {
            Ok(latest) => {
                for r in latest.into_iter().filter(|r| r.seq <= cursor) {
                    memory.registers.seed(device, &r.reading.channel, r.reading.ts_ms, r.reading.value);
                }
            }
            Err(e) => tracing::warn!(device = %device, error = %e, "alarms: cannot read the device's latest readings"),
        }
    }

    /// One look at the board and the sinks.
    fn step_board(&self, src: &Sources, memory: &mut Memory) -> Result<(), AlarmError> {
        let (rules, judge) = {
            let view = src.live.read().unwrap_or_else(|e| e.into_inner());
            let judge = crate::board::Judge {
                silent_after_periods: view.accounting.silent_after_periods,
                clock_tolerance_ms: src.archive.device_clock_tolerance_ms(),
            };
            (view.alarms.rules.clone(), judge)
        };
        let now = now_ms();
        let board = crate::board::Board::read(&*src.archive, &src.accounting, &judge, now)?;
        let findings = rules::on_board(&rules, &board, &src.sinks.snapshot(), &mut memory.lost);
        let held: HashSet<String> = findings.iter().filter(|f| f.verdict == Verdict::Holds).map(|f| f.key()).collect();
        let ids: HashSet<String> = rules.iter().map(|r| r.id.clone()).collect();
        let board_rules: HashSet<String> =
            rules.iter().filter(|r| !r.kind.on_readings()).map(|r| r.id.clone()).collect();
        self.commit(
            |engine| {
                let mut changed = engine.apply(findings, now);
                changed.extend(engine.end_unheld(&ids, &board_rules, &held, now));
                changed
            },
            None,
        )?;
        Ok(())
    }

    /// The host's own events since the last look: configuration changes
    /// applied or refused, plugin instances changing state, logins.
    fn step_events(&self, src: &Sources, memory: &mut Memory) -> Result<(), AlarmError> {
        let mut events = Vec::new();
        {
            let view = src.live.read().unwrap_or_else(|e| e.into_inner());
            let seen = memory.config;
            for (number, change) in view.config.recent.iter().filter(|(n, _)| *n > seen) {
                memory.config = *number;
                let mut event = match change {
                    ConfigChange::Applied(applied) if applied.trigger == "start" => store::event(
                        EventKind::Config,
                        "started",
                        format!("meterhub started with {}", view.config.file),
                    ),
                    ConfigChange::Applied(applied) => {
                        let what = if applied.changes.is_empty() {
                            "nothing to change".to_owned()
                        } else {
                            applied.changes.join("; ")
                        };
                        store::event(
                            EventKind::Config,
                            "applied",
                            format!("change applied ({}): {what}", applied.trigger),
                        )
                    }
                    ConfigChange::Refused(refused) => store::event(
                        EventKind::Config,
                        "refused",
                        format!(
                            "change refused ({}); the running configuration stays: {}",
                            refused.trigger,
                            refused.errors.join("; ")
                        ),
                    ),
                };
                event.at_ms = match change {
                    ConfigChange::Applied(applied) => applied.at_ms,
                    ConfigChange::Refused(refused) => refused.at_ms,
                };
                events.push(event);
            }
            let mut seen = BTreeMap::new();
            for instance in &view.instances {
                let state = instance.status.lock().unwrap_or_else(|e| e.into_inner()).state.as_str();
                if memory.instances.get(&instance.name).is_some_and(|before| *before != state) {
                    let text = format!(
                        "plugin instance {} ({}) is now {}",
                        instance.name,
                        instance.plugin,
                        state.to_lowercase()
                    );
                    let mut event = store::event(EventKind::Plugin, &state.to_lowercase(), text);
                    event.subject = Some(serde_json::json!({
                        "kind": "instance", "id": instance.name, "plugin": instance.plugin,
                    }));
                    events.push(event);
                }
                seen.insert(instance.name.clone(), state);
            }
            memory.instances = seen;
        }
        let audit = src.auth.audit_log(256, None).unwrap_or_default();
        let newest = audit.first().map(|a| a.seq);
        if let Some(after) = memory.audit {
            for entry in audit.iter().rev().filter(|a| a.seq > after) {
                if !matches!(entry.action.as_str(), "login" | "login_failed" | "logout") {
                    continue;
                }
                let from = entry.address.as_deref().map(|a| format!(" from {a}")).unwrap_or_default();
                let why = entry.detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default();
                let text = format!("{} {}{from}{why}", entry.actor, entry.action.replace('_', " "));
                let mut event = store::event(EventKind::Login, &entry.action, text);
                event.at_ms = entry.at_ms;
                event.user = Some(entry.actor.clone());
                events.push(event);
            }
        }
        memory.audit = newest.or(memory.audit).or(Some(0));
        self.store.write(Write { events, ..Write::default() })?;
        Ok(())
    }
}

/// Runs the alarms until the host stops: a step over the log whenever
/// readings were archived (`wake`) or every [`IDLE_POLL`], the board and
/// the host's events every [`BOARD_EVERY`]. A failing step is reported in
/// `health` and tried again; the position did not move, so nothing is
/// skipped.
pub fn spawn(
    alarms: Arc<Alarms>,
    sources: Sources,
    wake: Arc<Notify>,
    health: Arc<StoreHealth>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // A failure of what the rules read (the archive reopening after a
        // full disk, the registry) is logged once until a step goes through;
        // the alarm database's own is reported in `/health`.
        let mut reading_failed = false;
        let sources = Arc::new(sources);
        let memory = Arc::new(std::sync::Mutex::new(Memory::default()));
        let mut board_at = tokio::time::Instant::now();
        loop {
            let (a, s, m) = (alarms.clone(), sources.clone(), memory.clone());
            let look = tokio::time::Instant::now() >= board_at;
            if look {
                board_at = tokio::time::Instant::now() + BOARD_EVERY;
            }
            let step = tokio::task::spawn_blocking(move || -> Result<usize, AlarmError> {
                let mut memory = m.lock().unwrap_or_else(|e| e.into_inner());
                let judged = a.step_readings(&s, &mut memory)?;
                if look {
                    a.step_board(&s, &mut memory)?;
                    a.step_events(&s, &mut memory)?;
                }
                Ok(judged)
            })
            .await;
            match step {
                Ok(Ok(judged)) => {
                    health.succeeded(STORE);
                    reading_failed = false;
                    if judged >= LOG_BATCH {
                        continue;
                    }
                }
                Ok(Err(e)) if e.is_store() => {
                    health.failed(STORE, alarms.store.path(), &e, e.is_disk_full());
                    alarms.store.heal(&e);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Ok(Err(e)) => {
                    if !std::mem::replace(&mut reading_failed, true) {
                        tracing::warn!(error = %e, "alarms: cannot read what the rules judge; trying again every second");
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => tracing::error!(error = %e, "alarms step panicked; retrying"),
            }
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(IDLE_POLL) => {}
            }
        }
    })
}
