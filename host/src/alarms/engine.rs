//! What findings do to the alarms: raise one when a condition starts to
//! hold, keep it while it holds, end it when it no longer does, raise a
//! new one when it holds again; a momentary alarm ends as it is raised and
//! counts its repeats until acknowledged. Pure: findings and the time in,
//! the alarms that changed out (to keep durably and push to the streams).

use std::collections::{BTreeMap, HashMap, HashSet};

use super::model::{Ack, Alarm};
use super::rules::{Finding, Verdict};

/// The open alarms (active or not yet acknowledged).
#[derive(Debug, Default)]
pub struct Engine {
    open: BTreeMap<u64, Alarm>,
    /// The alarm each condition key has now: active, or momentary and not
    /// yet acknowledged.
    current: HashMap<String, u64>,
    /// The last alarm number handed out.
    last_id: u64,
}

/// Why an acknowledgement was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckRefused {
    /// No open alarm has that number.
    NotOpen(u64),
    /// It was acknowledged already, by whom.
    Already(Ack),
}

impl Engine {
    /// The engine over the open alarms kept, numbering new ones after
    /// `last_id`.
    pub fn new(open: Vec<Alarm>, last_id: u64) -> Engine {
        let mut engine = Engine { last_id, ..Engine::default() };
        for alarm in open {
            engine.last_id = engine.last_id.max(alarm.id);
            let momentary_waiting = alarm.ended_at_ms == Some(alarm.raised_at_ms) && alarm.acknowledged.is_none();
            if alarm.active() || momentary_waiting {
                engine.current.insert(condition_key(&alarm), alarm.id);
            }
            engine.open.insert(alarm.id, alarm);
        }
        engine
    }

    /// The open alarms, oldest first.
    pub fn open(&self) -> impl Iterator<Item = &Alarm> {
        self.open.values()
    }

    /// The open alarm numbered `id`.
    pub fn get(&self, id: u64) -> Option<&Alarm> {
        self.open.get(&id)
    }

    /// The last alarm number handed out.
    pub fn last_id(&self) -> u64 {
        self.last_id
    }

    /// Applies `findings` made at `now_ms`; answers the alarms that changed,
    /// each once, as they are now.
    pub fn apply(&mut self, findings: Vec<Finding>, now_ms: i64) -> Vec<Alarm> {
        let mut changed = Changed::default();
        for f in findings {
            let key = f.key();
            let current = self.current.get(&key).and_then(|id| self.open.get_mut(id));
            match (f.verdict, current) {
                (Verdict::Holds, Some(alarm)) if alarm.active() => {}
                (Verdict::Holds, _) => {
                    let alarm = self.raise(&key, f, now_ms, None);
                    changed.add(alarm);
                }
                (Verdict::Happened, Some(alarm)) => {
                    alarm.repeats += 1;
                    alarm.last_seen_ms = now_ms;
                    alarm.value = f.value;
                    alarm.text = f.text;
                    changed.add(alarm.clone());
                }
                (Verdict::Happened, None) => {
                    let alarm = self.raise(&key, f, now_ms, Some(now_ms));
                    changed.add(alarm);
                }
                (Verdict::Normal, Some(alarm)) if alarm.active() => {
                    alarm.ended_at_ms = Some(now_ms);
                    alarm.end_value = f.value;
                    alarm.end_reading = f.reading;
                    let alarm = alarm.clone();
                    self.current.remove(&key);
                    if !alarm.open() {
                        self.open.remove(&alarm.id);
                    }
                    changed.add(alarm);
                }
                (Verdict::Normal, _) => {}
            }
        }
        changed.0.into_values().collect()
    }

    fn raise(&mut self, key: &str, f: Finding, now_ms: i64, ended_at_ms: Option<i64>) -> Alarm {
        self.last_id += 1;
        let alarm = Alarm {
            id: self.last_id,
            rule: f.rule,
            kind: f.kind.to_owned(),
            severity: f.severity.to_owned(),
            subject: f.subject,
            channel: f.channel,
            meters: f.meters,
            value: f.value,
            unit: f.unit,
            limit: f.limit,
            text: f.text,
            raised_at_ms: now_ms,
            reading: f.reading,
            ended_at_ms,
            end_value: None,
            end_reading: None,
            end_reason: None,
            acknowledged: None,
            repeats: 0,
            last_seen_ms: now_ms,
        };
        self.current.insert(key.to_owned(), alarm.id);
        self.open.insert(alarm.id, alarm.clone());
        alarm
    }

    /// Ends every active alarm of a rule judged on the board (`board_rules`)
    /// whose condition was not found to hold in the last look (`held`: the
    /// keys found holding), and every active alarm whose rule is no longer
    /// in `rules` (removed from the configuration).
    pub fn end_unheld(
        &mut self,
        rules: &HashSet<String>,
        board_rules: &HashSet<String>,
        held: &HashSet<String>,
        now_ms: i64,
    ) -> Vec<Alarm> {
        let ending: Vec<(String, u64, Option<&'static str>)> = self
            .current
            .iter()
            .filter_map(|(key, id)| {
                let alarm = self.open.get(id)?;
                if !alarm.active() {
                    return None;
                }
                if !rules.contains(&alarm.rule) {
                    Some((key.clone(), *id, Some("its rule was removed from the configuration")))
                } else if board_rules.contains(&alarm.rule) && !held.contains(key) {
                    Some((key.clone(), *id, None))
                } else {
                    None
                }
            })
            .collect();
        let mut changed = Vec::new();
        for (key, id, reason) in ending {
            self.current.remove(&key);
            if let Some(alarm) = self.open.get_mut(&id) {
                alarm.ended_at_ms = Some(now_ms);
                alarm.end_reason = reason.map(str::to_owned);
                let alarm = alarm.clone();
                if !alarm.open() {
                    self.open.remove(&id);
                }
                changed.push(alarm);
            }
        }
        changed
    }

    /// A dispatcher's acknowledgement of open alarm `id`.
    pub fn acknowledge(&mut self, id: u64, ack: Ack) -> Result<Alarm, AckRefused> {
        let alarm = self.open.get_mut(&id).ok_or(AckRefused::NotOpen(id))?;
        if let Some(already) = &alarm.acknowledged {
            return Err(AckRefused::Already(already.clone()));
        }
        alarm.acknowledged = Some(ack);
        let alarm = alarm.clone();
        if !alarm.active() {
            // A momentary alarm acknowledged: its next occurrence is new.
            let key = condition_key(&alarm);
            if self.current.get(&key) == Some(&id) {
                self.current.remove(&key);
            }
            self.open.remove(&id);
        }
        Ok(alarm)
    }
}

fn condition_key(alarm: &Alarm) -> String {
    super::rules::key(&alarm.rule, &alarm.subject, alarm.channel.as_deref())
}

/// Alarms changed in one apply, each once at its latest.
#[derive(Default)]
struct Changed(BTreeMap<u64, Alarm>);

impl Changed {
    fn add(&mut self, alarm: Alarm) {
        self.0.insert(alarm.id, alarm);
    }
}
