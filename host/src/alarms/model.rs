//! What the alarms keep: an alarm from its start to its end and its
//! acknowledgement, and the event log.

use serde::{Deserialize, Serialize};

/// What an alarm is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// A meter (device id).
    Meter(String),
    /// A communication module.
    Module(String),
    /// A sink or sync link instance.
    Sink(String),
}

impl Subject {
    /// `meter`, `module` or `sink`.
    pub fn kind(&self) -> &'static str {
        match self {
            Subject::Meter(_) => "meter",
            Subject::Module(_) => "module",
            Subject::Sink(_) => "sink",
        }
    }

    /// Its id.
    pub fn id(&self) -> &str {
        match self {
            Subject::Meter(id) | Subject::Module(id) | Subject::Sink(id) => id,
        }
    }
}

/// The archived reading that raised or ended an alarm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadingRef {
    /// Archive sequence number.
    pub seq: u64,
    /// Device time, ms since the epoch.
    pub ts_ms: i64,
    /// The source (driver instance) it came from.
    pub source: String,
}

/// A dispatcher's acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// Who.
    pub by: String,
    /// When, ms since the epoch.
    pub at_ms: i64,
    /// What they said (may be empty).
    pub comment: String,
}

/// One alarm: raised, maybe ended (its condition returned to normal, or at
/// once for a momentary one), maybe acknowledged. It is open until it is
/// both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alarm {
    /// Its number, increasing.
    pub id: u64,
    /// The rule that raised it.
    pub rule: String,
    /// The rule's kind (`state`, `threshold`, ...).
    pub kind: String,
    /// `critical`, `warning` or `info`.
    pub severity: String,
    /// What it is about.
    pub subject: Subject,
    /// The channel, for rules on readings.
    pub channel: Option<String>,
    /// The meters it concerns (the meter; a module's meters), which decide
    /// who may see it.
    pub meters: Vec<String>,
    /// The value that raised it (a reading's, a battery's percent, dBm,
    /// lost frames, lag seconds).
    pub value: Option<String>,
    /// The unit of `value`.
    pub unit: Option<String>,
    /// The limit it crossed.
    pub limit: Option<String>,
    /// What happened, in English (the UI builds its own text from the
    /// machine fields).
    pub text: String,
    /// When it was raised, ms since the epoch.
    pub raised_at_ms: i64,
    /// The reading that raised it.
    pub reading: Option<ReadingRef>,
    /// When its condition returned to normal.
    pub ended_at_ms: Option<i64>,
    /// The value then.
    pub end_value: Option<String>,
    /// The reading that ended it.
    pub end_reading: Option<ReadingRef>,
    /// Why it ended when not by its condition (its rule was removed).
    pub end_reason: Option<String>,
    /// The acknowledgement.
    pub acknowledged: Option<Ack>,
    /// A momentary alarm seen again before it was acknowledged: how many
    /// more times.
    pub repeats: u32,
    /// When last seen again.
    pub last_seen_ms: i64,
}

impl Alarm {
    /// Whether its condition holds.
    pub fn active(&self) -> bool {
        self.ended_at_ms.is_none()
    }

    /// Whether it still wants a dispatcher: active or unacknowledged.
    pub fn open(&self) -> bool {
        self.active() || self.acknowledged.is_none()
    }
}

/// The kind of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// An alarm raised, ended or acknowledged.
    Alarm,
    /// A login, a failed login, a logout.
    Login,
    /// A configuration change applied or refused.
    Config,
    /// A plugin instance changed state.
    Plugin,
}

impl EventKind {
    /// Every kind.
    pub const ALL: [EventKind; 4] = [EventKind::Alarm, EventKind::Login, EventKind::Config, EventKind::Plugin];

    /// The name in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Alarm => "alarm",
            EventKind::Login => "login",
            EventKind::Config => "config",
            EventKind::Plugin => "plugin",
        }
    }

    /// The kind named `name`.
    pub fn parse(name: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// One line of the event log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Its number, increasing.
    pub seq: u64,
    /// When, ms since the epoch.
    pub at_ms: i64,
    /// What kind.
    pub kind: EventKind,
    /// A stable code: `raised`, `ended`, `acknowledged`; `login`,
    /// `login_failed`, `logout`; `applied`, `refused`; a plugin instance's
    /// new state (`running`, `backing_off`, `quarantined`, ...).
    pub code: String,
    /// What happened, in English.
    pub text: String,
    /// The user it concerns or who did it.
    pub user: Option<String>,
    /// The alarm, for alarm events.
    pub alarm: Option<u64>,
    /// Its severity, for alarm events.
    pub severity: Option<String>,
    /// The meters it concerns (who may see it): empty for host events.
    pub meters: Vec<String>,
    /// What it is about: an alarm's subject (`{kind, id}`), a plugin
    /// instance (`{"kind": "instance", "id": "tcp-in/codec", "plugin": ...}`).
    #[serde(default)]
    pub subject: Option<serde_json::Value>,
}
