//! Alarms and the event log (`docs/alarms.md`): rules as data
//! (`[alarms]`, [`crate::config::alarms`]) judged on every archived
//! reading ([`rules::on_reading`]: state channels, thresholds, register
//! decreases) and on the board every few seconds ([`rules::on_board`]:
//! silent modules and meters, clocks ahead, battery, signal, lost uplinks,
//! stalled sinks); [`engine`] turns findings into alarms raised, kept,
//! ended and acknowledged; [`store`] keeps them durably with the event log
//! (alarms, logins, configuration changes, plugin state changes) in
//! `<data_dir>/alarms`; [`watch`] is the task that does it and pushes each
//! changed alarm to the live streams whose user may see it.

pub mod engine;
pub mod model;
pub mod rules;
pub mod store;
pub mod watch;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

pub use engine::{AckRefused, Engine};
pub use model::{Ack, Alarm, Event, EventKind, Subject};
pub use store::{AlarmError, AlarmStore};

use crate::accounting::Accounting;
use crate::auth::{Principal, Role};
use crate::publish::Hub;

/// The alarms of a running host: the store, the open alarms, and where
/// changes go. `Send + Sync`.
pub struct Alarms {
    /// The database.
    pub store: Arc<AlarmStore>,
    engine: Mutex<Engine>,
    accounting: Arc<Accounting>,
    hub: Arc<Hub>,
    /// Alarms raised since start, by severity (for `/metrics`).
    raised: [AtomicU64; 3],
    /// The archive log sequence the rules on readings judged through.
    pub judged_through: AtomicU64,
    /// A write failed after the engine changed: it is read again from the
    /// store (the truth) before it is used.
    stale: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Alarms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alarms").field("store", &self.store.path()).finish_non_exhaustive()
    }
}

/// Whether `principal` may see an alarm or event concerning `meters`: a
/// meter's when they may see one of its meters; one of the host (a sink, a
/// module no meter is read through) when they are at least a dispatcher.
pub fn may_see(principal: &Principal, meters: &[String], accounting: &Accounting) -> bool {
    principal.role == Role::Admin || may_see_paths(principal, &paths(meters, accounting))
}

/// [`may_see`] with the meters' registry paths read already (once for
/// every stream an alarm is offered to).
fn may_see_paths(principal: &Principal, paths: &[crate::auth::MeterPath]) -> bool {
    match paths {
        _ if principal.role == Role::Admin => true,
        [] => principal.role.includes(Role::Dispatcher),
        paths => paths.iter().any(|p| principal.may_see(p)),
    }
}

fn paths(meters: &[String], accounting: &Accounting) -> Vec<crate::auth::MeterPath> {
    meters.iter().map(|m| accounting.meter_path(m)).collect()
}

impl Alarms {
    /// The alarms kept in `store`, pushing changes to `hub`.
    pub fn open(store: Arc<AlarmStore>, accounting: Arc<Accounting>, hub: Arc<Hub>) -> Result<Alarms, AlarmError> {
        let engine = Engine::new(store.open_alarms()?, store.numbers()?.alarm);
        let judged_through = AtomicU64::new(store.cursor()?.unwrap_or(0));
        Ok(Alarms {
            store,
            engine: Mutex::new(engine),
            accounting,
            hub,
            raised: Default::default(),
            judged_through,
            stale: Default::default(),
        })
    }

    fn engine(&self) -> MutexGuard<'_, Engine> {
        self.engine.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The engine to change, read again from the store first when a write
    /// failed since it was.
    fn engine_to_change(&self) -> Result<MutexGuard<'_, Engine>, AlarmError> {
        let mut engine = self.engine();
        if self.stale.load(Ordering::Acquire) {
            *engine = Engine::new(self.store.open_alarms()?, self.store.numbers()?.alarm);
            self.stale.store(false, Ordering::Release);
        }
        Ok(engine)
    }

    /// The open alarms `principal` may see, newest first.
    pub fn open_for(&self, principal: &Principal) -> Vec<Alarm> {
        let open: Vec<Alarm> = self.engine().open().cloned().collect();
        open.into_iter().rev().filter(|a| may_see(principal, &a.meters, &self.accounting)).collect()
    }

    /// Alarm `id`, open or kept, when `principal` may see it.
    pub fn get_for(&self, id: u64, principal: &Principal) -> Result<Option<Alarm>, AlarmError> {
        let open = self.engine().get(id).cloned();
        let alarm = match open {
            Some(alarm) => Some(alarm),
            None => self.store.alarm(id)?,
        };
        Ok(alarm.filter(|a| may_see(principal, &a.meters, &self.accounting)))
    }

    /// Alarms kept (open or closed) numbered below `before`, newest first,
    /// that `principal` may see and `keep` takes, at most `limit`.
    pub fn history_for(
        &self,
        principal: &Principal,
        before: Option<u64>,
        limit: usize,
        keep: impl Fn(&Alarm) -> bool,
    ) -> Result<Vec<Alarm>, AlarmError> {
        self.store.alarms(before, limit, |a| keep(a) && may_see(principal, &a.meters, &self.accounting))
    }

    /// Events numbered below `before`, newest first, that `principal` may
    /// see and `keep` takes: alarm events of the meters they may see,
    /// configuration and plugin events for dispatchers and up, logins for
    /// admins.
    pub fn events_for(
        &self,
        principal: &Principal,
        before: Option<u64>,
        limit: usize,
        keep: impl Fn(&Event) -> bool,
    ) -> Result<Vec<Event>, AlarmError> {
        self.store.events(before, limit, |e| {
            let allowed = match e.kind {
                EventKind::Alarm => may_see(principal, &e.meters, &self.accounting),
                EventKind::Config | EventKind::Plugin => principal.role.includes(Role::Dispatcher),
                EventKind::Login => principal.role == Role::Admin,
            };
            allowed && keep(e)
        })
    }

    /// Open alarms by severity, and how many of them are active and not yet
    /// acknowledged, as `principal` sees them.
    pub fn counts_for(&self, principal: &Principal) -> Counts {
        Counts::of(&self.open_for(principal))
    }

    /// Alarms raised since start, by severity name.
    pub fn raised(&self) -> BTreeMap<&'static str, u64> {
        crate::config::alarms::Severity::ALL
            .iter()
            .zip(&self.raised)
            .map(|(s, n)| (s.as_str(), n.load(Ordering::Relaxed)))
            .collect()
    }

    /// A dispatcher's acknowledgement of alarm `id`, kept and pushed.
    pub fn acknowledge(&self, id: u64, principal: &Principal, comment: &str) -> Result<Alarm, AckError> {
        if self.get_for(id, principal)?.is_none() {
            return Err(AckError::Refused(AckRefused::NotOpen(id)));
        }
        let ack =
            Ack { by: principal.user.clone(), at_ms: meterhub_storage::clock::now_ms(), comment: comment.to_owned() };
        let mut engine = self.engine_to_change()?;
        let alarm = engine.acknowledge(id, ack).map_err(AckError::Refused)?;
        let mut event = store::event(EventKind::Alarm, "acknowledged", acknowledged_text(&alarm));
        event.user = Some(principal.user.clone());
        fill_alarm_event(&mut event, &alarm);
        let write = store::Write { alarms: vec![alarm.clone()], events: vec![event], cursor: None };
        if let Err(e) = self.store.write(write) {
            self.stale.store(true, Ordering::Release);
            return Err(AckError::Store(e));
        }
        drop(engine);
        self.push(&alarm);
        Ok(alarm)
    }

    /// Applies what the engine made of findings: kept with their events
    /// (and `cursor`) in one write, then pushed. On a failed write the
    /// engine is read again from the store before its next use, so the
    /// next step judges again from the position kept.
    fn commit(
        &self,
        change: impl FnOnce(&mut Engine) -> Vec<Alarm>,
        cursor: Option<u64>,
    ) -> Result<Vec<Alarm>, AlarmError> {
        let mut engine = self.engine_to_change()?;
        let changed = change(&mut engine);
        let events: Vec<Event> = changed.iter().filter_map(alarm_event).collect();
        let write = store::Write { alarms: changed.clone(), events, cursor };
        if let Err(e) = self.store.write(write) {
            self.stale.store(true, Ordering::Release);
            return Err(e);
        }
        drop(engine);
        for alarm in &changed {
            if alarm.repeats == 0
                && alarm.ended_at_ms.is_none_or(|end| end == alarm.raised_at_ms)
                && alarm.acknowledged.is_none()
            {
                let i = crate::config::alarms::Severity::parse(&alarm.severity).map_or(1, |s| s as usize);
                self.raised[i].fetch_add(1, Ordering::Relaxed);
            }
            self.push(alarm);
        }
        Ok(changed)
    }

    /// Pushes `alarm` to every live stream whose user may see it.
    fn push(&self, alarm: &Alarm) {
        let json = serde_json::to_string(&view(alarm)).unwrap_or_else(|_| "{}".to_owned());
        let paths = paths(&alarm.meters, &self.accounting);
        self.hub.push_alarm(alarm.id, Arc::new(json), |principal| may_see_paths(principal, &paths));
    }
}

/// Why an acknowledgement failed.
#[derive(Debug, thiserror::Error)]
pub enum AckError {
    /// Not open, or acknowledged already.
    #[error("{0:?}")]
    Refused(AckRefused),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] AlarmError),
}

/// Open alarms as counted for a user.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Open alarms.
    pub open: u64,
    /// Of those, active.
    pub active: u64,
    /// Of those, not yet acknowledged.
    pub unacknowledged: u64,
    /// Open alarms by severity (every severity named).
    pub by_severity: BTreeMap<&'static str, u64>,
}

impl Counts {
    fn of(alarms: &[Alarm]) -> Counts {
        let mut counts = Counts {
            by_severity: crate::config::alarms::Severity::ALL.iter().map(|s| (s.as_str(), 0)).collect(),
            ..Counts::default()
        };
        for a in alarms {
            counts.open += 1;
            counts.active += u64::from(a.active());
            counts.unacknowledged += u64::from(a.acknowledged.is_none());
            if let Some(n) = counts.by_severity.get_mut(a.severity.as_str()) {
                *n += 1;
            }
        }
        counts
    }
}

/// An alarm as the API and the streams show it: the record, with `active`
/// and `open`.
pub fn view(alarm: &Alarm) -> serde_json::Value {
    let mut value = serde_json::to_value(alarm).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.insert("active".into(), alarm.active().into());
        object.insert("open".into(), alarm.open().into());
        object.insert("subject".into(), serde_json::json!({"kind": alarm.subject.kind(), "id": alarm.subject.id()}));
    }
    value
}

fn fill_alarm_event(event: &mut Event, alarm: &Alarm) {
    event.alarm = Some(alarm.id);
    event.subject = Some(serde_json::json!({
        "kind": alarm.subject.kind(), "id": alarm.subject.id(), "rule": alarm.rule, "alarm_kind": alarm.kind,
    }));
    event.severity = Some(alarm.severity.clone());
    event.meters = alarm.meters.clone();
}

fn acknowledged_text(alarm: &Alarm) -> String {
    match &alarm.acknowledged {
        Some(ack) if !ack.comment.is_empty() => format!("{} acknowledged by {}: {}", alarm.text, ack.by, ack.comment),
        Some(ack) => format!("{} acknowledged by {}", alarm.text, ack.by),
        None => alarm.text.clone(),
    }
}

/// The event of a change the engine made: raised, seen again or ended.
fn alarm_event(alarm: &Alarm) -> Option<Event> {
    let (code, text) = match (alarm.ended_at_ms, alarm.repeats) {
        (_, n) if n > 0 => ("repeated", format!("{} (again, {} times)", alarm.text, n + 1)),
        (Some(end), _) if end != alarm.raised_at_ms => match &alarm.end_reason {
            Some(reason) => ("ended", format!("{}: ended, {reason}", alarm.text)),
            None => ("ended", format!("{}: back to normal", alarm.text)),
        },
        _ => ("raised", alarm.text.clone()),
    };
    let mut event = store::event(EventKind::Alarm, code, format!("{}: {text}", alarm.subject.id()));
    fill_alarm_event(&mut event, alarm);
    Some(event)
}

#[cfg(test)]
mod tests;
