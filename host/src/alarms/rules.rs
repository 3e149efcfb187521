//! The rules as data, judged: an archived reading, or the board as it is
//! now, in; findings out (a condition holds, does not hold, or happened
//! once). Pure: what holds is decided here, what it does to the alarms in
//! [`super::engine`].

use std::collections::{BTreeMap, HashMap};

use meterhub_plugin_api::{Decimal, ReadingKind};

use super::model::{ReadingRef, Subject};
use crate::board::{Board, State};
use crate::config::alarms::{AlarmKind, AlarmRule, Watched};
use crate::sink::status::SinkStatus;
use meterhub_storage::archive::StoredReading;

/// What a rule found about one subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The condition holds.
    Holds,
    /// The condition does not hold (any alarm of it ends).
    Normal,
    /// It happened once (a momentary alarm).
    Happened,
}

/// One finding of one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The rule.
    pub rule: String,
    /// Its kind's name.
    pub kind: &'static str,
    /// Its severity's name.
    pub severity: &'static str,
    /// What it is about.
    pub subject: Subject,
    /// The channel, for rules on readings.
    pub channel: Option<String>,
    /// The meters it concerns.
    pub meters: Vec<String>,
    /// What was found.
    pub verdict: Verdict,
    /// The value judged.
    pub value: Option<String>,
    /// Its unit.
    pub unit: Option<String>,
    /// The limit crossed.
    pub limit: Option<String>,
    /// What happened, in English.
    pub text: String,
    /// The reading judged.
    pub reading: Option<ReadingRef>,
}

impl Finding {
    /// The condition it is about: one alarm at a time per key.
    pub fn key(&self) -> String {
        key(&self.rule, &self.subject, self.channel.as_deref())
    }
}

/// The key of a rule's condition on a subject (and channel).
pub fn key(rule: &str, subject: &Subject, channel: Option<&str>) -> String {
    format!("{rule}\0{}\0{}\0{}", subject.kind(), subject.id(), channel.unwrap_or(""))
}

/// The newest reading judged per register (device, channel): readings
/// older than it (back-filled history) raise nothing now, and a decrease
/// is judged against it.
#[derive(Debug, Default)]
pub struct Registers(HashMap<(String, String), (i64, Decimal)>);

impl Registers {
    /// Remembers `ts_ms` and `value` as the newest of a register, unless a
    /// newer one is known.
    pub fn seed(&mut self, device: &str, channel: &str, ts_ms: i64, value: Decimal) {
        let entry = self.0.entry((device.to_owned(), channel.to_owned())).or_insert((ts_ms, value));
        if ts_ms > entry.0 {
            *entry = (ts_ms, value);
        }
    }
}

fn finding(rule: &AlarmRule, subject: Subject, verdict: Verdict, text: String) -> Finding {
    Finding {
        rule: rule.id.clone(),
        kind: rule.kind.as_str(),
        severity: rule.severity.as_str(),
        meters: match &subject {
            Subject::Meter(m) => vec![m.clone()],
            _ => Vec::new(),
        },
        subject,
        channel: None,
        verdict,
        value: None,
        unit: None,
        limit: None,
        text,
        reading: None,
    }
}

/// What `rules` find in one archived reading. A reading stamped ahead of
/// the host's clock by more than `clock_tolerance_ms` is judged for its
/// state and thresholds, but it is never taken as a register's newest (its
/// time cannot be trusted); a reading older than its register's newest
/// (history arriving late) raises and ends nothing.
pub fn on_reading(
    rules: &[AlarmRule],
    stored: &StoredReading,
    clock_tolerance_ms: i64,
    registers: &mut Registers,
) -> Vec<Finding> {
    let r = &stored.reading;
    let ahead = stored.stamped_ahead(clock_tolerance_ms);
    let register = (r.device.clone(), r.channel.clone());
    let previous = registers.0.get(&register).copied();
    if previous.is_some_and(|(ts, _)| r.ts_ms < ts) && !ahead {
        return Vec::new();
    }
    if !ahead {
        registers.0.insert(register, (r.ts_ms, r.value));
    }
    let reading = ReadingRef { seq: stored.seq, ts_ms: r.ts_ms, source: stored.source.clone() };
    let value = r.value.normalize().to_string();
    let mut found = Vec::new();
    for rule in rules.iter().filter(|rule| rule.kind.on_readings() && rule.reads(&r.channel)) {
        let (verdict, limit, text) = match &rule.kind {
            AlarmKind::State if r.kind == ReadingKind::State => {
                if r.value.is_zero() {
                    (Verdict::Normal, None, format!("{} back to normal", r.channel))
                } else {
                    (Verdict::Holds, None, format!("{} is {value}", r.channel))
                }
            }
            AlarmKind::Threshold { above, below } => match (above, below) {
                (Some(a), _) if r.value > *a => (Verdict::Holds, Some(*a), format!("{} {value} above {a}", r.channel)),
                (_, Some(b)) if r.value < *b => (Verdict::Holds, Some(*b), format!("{} {value} below {b}", r.channel)),
                _ => (Verdict::Normal, None, format!("{} {value} within limits", r.channel)),
            },
            AlarmKind::Decrease if r.kind == ReadingKind::Cumulative && !ahead => match previous {
                Some((ts, before)) if ts < r.ts_ms && r.value < before => (
                    Verdict::Happened,
                    Some(before),
                    format!("{} decreased from {} to {value}", r.channel, before.normalize()),
                ),
                _ => continue,
            },
            _ => continue,
        };
        let mut f = finding(rule, Subject::Meter(r.device.clone()), verdict, text);
        f.channel = Some(r.channel.clone());
        f.value = Some(value.clone());
        f.unit = Some(r.unit.clone()).filter(|u| !u.is_empty());
        f.limit = limit.map(|l| l.normalize().to_string());
        f.reading = Some(reading.clone());
        found.push(f);
    }
    found
}

/// Modules' lost uplinks at the last look, to judge how many were lost
/// since.
#[derive(Debug, Default)]
pub struct LostSeen(HashMap<String, u64>);

/// What `rules` find on the board (meters and modules as they are now) and
/// the sinks: for each subject a rule watches, whether its condition holds.
pub fn on_board(rules: &[AlarmRule], board: &Board, sinks: &[SinkStatus], lost_seen: &mut LostSeen) -> Vec<Finding> {
    let mut meters_of: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for meter in board.meters.values() {
        if let Some(module) = meter.summary.as_ref().and_then(|s| s.module.as_deref()) {
            meters_of.entry(module).or_default().push(meter.id.clone());
        }
    }
    let mut found = Vec::new();
    let lost_now: HashMap<String, u64> =
        board.modules.iter().map(|(id, m)| (id.clone(), m.activity.counter.lost())).collect();
    for rule in rules.iter().filter(|r| !r.kind.on_readings()) {
        let module_finding = |module: &str, verdict: Verdict, text: String| {
            let mut f = finding(rule, Subject::Module(module.to_owned()), verdict, text);
            f.meters = meters_of.get(module).cloned().unwrap_or_default();
            f
        };
        match &rule.kind {
            AlarmKind::ClockAhead => {
                for meter in board.meters.values() {
                    let holds = meter.state == State::ClockAhead;
                    let offset = meter.heard.clock_offset_ms.unwrap_or(0);
                    let mut f = finding(
                        rule,
                        Subject::Meter(meter.id.clone()),
                        if holds { Verdict::Holds } else { Verdict::Normal },
                        format!("the device clock is {} s ahead of the host", -offset / 1000),
                    );
                    f.value = Some((-offset / 1000).to_string()).filter(|_| holds);
                    f.unit = Some("s".into());
                    found.push(f);
                }
            }
            AlarmKind::Silent { of: Watched::Module } => {
                for (id, module) in &board.modules {
                    let holds = module.state == State::Silent;
                    let text = format!("module {id} silent");
                    found.push(module_finding(id, if holds { Verdict::Holds } else { Verdict::Normal }, text));
                }
            }
            AlarmKind::Silent { of: Watched::Meter } => {
                for meter in board.meters.values().filter(|m| m.summary.as_ref().is_some_and(|s| s.module.is_none())) {
                    let holds = meter.state == State::Silent;
                    let verdict = if holds { Verdict::Holds } else { Verdict::Normal };
                    found.push(finding(
                        rule,
                        Subject::Meter(meter.id.clone()),
                        verdict,
                        format!("meter {} silent", meter.id),
                    ));
                }
            }
            AlarmKind::Battery { below_pct } => {
                for (id, module) in &board.modules {
                    let Some(pct) = module.activity.latest.battery_pct else { continue };
                    let holds = pct < *below_pct;
                    let text = format!("battery {pct} % (below {below_pct} %)");
                    let mut f = module_finding(id, if holds { Verdict::Holds } else { Verdict::Normal }, text);
                    (f.value, f.unit, f.limit) = (Some(pct.to_string()), Some("%".into()), Some(below_pct.to_string()));
                    found.push(f);
                }
            }
            AlarmKind::Signal { below_dbm } => {
                for (id, module) in &board.modules {
                    let Some(rssi) = module.activity.latest.rssi_dbm else { continue };
                    let holds = rssi < *below_dbm;
                    let text = format!("signal {rssi} dBm (below {below_dbm} dBm)");
                    let mut f = module_finding(id, if holds { Verdict::Holds } else { Verdict::Normal }, text);
                    (f.value, f.unit, f.limit) =
                        (Some(rssi.to_string()), Some("dBm".into()), Some(below_dbm.to_string()));
                    found.push(f);
                }
            }
            AlarmKind::LostUplinks { above } => {
                for (id, lost) in &lost_now {
                    let Some(before) = lost_seen.0.get(id) else { continue };
                    let grown = lost.saturating_sub(*before);
                    if grown > u64::from(*above) {
                        let text = format!("{grown} uplinks lost");
                        let mut f = module_finding(id, Verdict::Happened, text);
                        (f.value, f.limit) = (Some(grown.to_string()), Some(above.to_string()));
                        found.push(f);
                    }
                }
            }
            AlarmKind::SinkStalled => {
                for sink in sinks {
                    let failing = sink.failure.is_some() && sink.last_error.is_some();
                    let holds = failing || sink.alarm.is_some();
                    let text = match (&sink.last_error, sink.alarm) {
                        (Some(e), _) if failing => format!("sink {} failing: {}", sink.id, e.message),
                        (_, Some(alarm)) => {
                            format!("sink {} behind by more than {} s", sink.id, alarm.limit_seconds)
                        }
                        _ => format!("sink {} delivering", sink.id),
                    };
                    let mut f = finding(
                        rule,
                        Subject::Sink(sink.id.clone()),
                        if holds { Verdict::Holds } else { Verdict::Normal },
                        text,
                    );
                    f.value = Some(format!("{:.0}", sink.lag_seconds));
                    f.unit = Some("s".into());
                    found.push(f);
                }
            }
            AlarmKind::State | AlarmKind::Threshold { .. } | AlarmKind::Decrease => {}
        }
    }
    lost_seen.0 = lost_now;
    found
}
