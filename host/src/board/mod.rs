//! The dispatcher's board: the state of every meter and communication
//! module at a glance ([`state`]), read from the archive (when each was
//! last heard, its learned period and clock offset) and the registry (the
//! periods operators set, the meters whose deltas are held). The API's
//! meter list, module list and summary, and the alarms, all judge by it.

pub mod state;

use std::collections::{BTreeMap, HashMap, HashSet};

pub use state::{Heard, Judge, State};

use crate::accounting::{Accounting, AccountingError, MeterRecord};
use meterhub_storage::archive::{Archive, DeviceSummary, ModuleActivity};

/// One meter on the board.
#[derive(Debug, Clone)]
pub struct MeterOnBoard {
    /// Meter identity.
    pub id: String,
    /// Its registry record, when registered.
    pub record: Option<MeterRecord>,
    /// What the archive knows of it.
    pub summary: Option<DeviceSummary>,
    /// What it is judged by.
    pub heard: Heard,
    /// Its state.
    pub state: State,
}

/// One communication module on the board.
#[derive(Debug, Clone)]
pub struct ModuleOnBoard {
    /// Its activity as the archive keeps it.
    pub activity: ModuleActivity,
    /// The period an operator set, ms.
    pub expected_period_ms: Option<i64>,
    /// What it is judged by.
    pub heard: Heard,
    /// Its state.
    pub state: State,
}

/// Every meter and module with its state, at one moment.
#[derive(Debug, Clone, Default)]
pub struct Board {
    /// By meter id.
    pub meters: BTreeMap<String, MeterOnBoard>,
    /// By module id.
    pub modules: BTreeMap<String, ModuleOnBoard>,
    /// When it was read, ms since the epoch (host clock).
    pub now_ms: i64,
}

impl Board {
    /// Reads the board at `now_ms`.
    pub fn read(
        archive: &dyn Archive,
        accounting: &Accounting,
        judge: &Judge,
        now_ms: i64,
    ) -> Result<Board, AccountingError> {
        let held: HashSet<String> = accounting.store.holds()?.into_iter().map(|h| h.meter).collect();
        let expected: HashMap<String, i64> =
            accounting.store.modules()?.into_iter().filter_map(|m| Some((m.id, m.expected_period_ms?))).collect();
        let mut modules = BTreeMap::new();
        for activity in archive.modules()? {
            let expected_period_ms = expected.get(&activity.latest.module).copied();
            let heard = Heard {
                last_received_at_ms: Some(activity.last_received_at_ms),
                period_ms: expected_period_ms.or(activity.period_ms),
                clock_offset_ms: activity.clock_offset_ms,
                on_hold: false,
            };
            let state = judge.state(&heard, now_ms);
            modules
                .insert(activity.latest.module.clone(), ModuleOnBoard { activity, expected_period_ms, heard, state });
        }
        let mut meters: BTreeMap<String, MeterOnBoard> = BTreeMap::new();
        for summary in archive.devices()? {
            meters.insert(summary.device.clone(), MeterOnBoard::new(summary.device.clone(), Some(summary)));
        }
        for record in accounting.store.meters()? {
            let id = record.id.clone();
            meters.entry(id.clone()).or_insert_with(|| MeterOnBoard::new(id, None)).record = Some(record);
        }
        for meter in meters.values_mut() {
            let summary = meter.summary.as_ref();
            // A meter read through a module reports at the module's period.
            let module = summary.and_then(|s| s.module.as_deref()).and_then(|m| modules.get(m));
            meter.heard = Heard {
                last_received_at_ms: summary.map(|s| s.last_received_at_ms),
                period_ms: module.and_then(|m| m.heard.period_ms).or(summary.and_then(|s| s.period_ms)),
                clock_offset_ms: summary.and_then(|s| s.clock_offset_ms),
                on_hold: held.contains(&meter.id),
            };
            meter.state = judge.state(&meter.heard, now_ms);
        }
        Ok(Board { meters, modules, now_ms })
    }

    /// How many of `states` are in each state (every state named, zeros too).
    pub fn count(states: impl Iterator<Item = State>) -> BTreeMap<&'static str, u64> {
        let mut counts: BTreeMap<&'static str, u64> = State::ALL.iter().map(|s| (s.as_str(), 0)).collect();
        for s in states {
            *counts.entry(s.as_str()).or_default() += 1;
        }
        counts
    }
}

impl MeterOnBoard {
    fn new(id: String, summary: Option<DeviceSummary>) -> MeterOnBoard {
        MeterOnBoard { id, record: None, summary, heard: Heard::default(), state: State::NeverHeard }
    }

    /// Whether `seen` may see it (its registry record read once, with the board).
    pub fn visible(&self, seen: &crate::api::visibility::Visibility, accounting: &Accounting) -> bool {
        match &self.record {
            Some(record) => seen.record(record),
            None => seen.meter(accounting, &self.id),
        }
    }
}
