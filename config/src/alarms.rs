//! `[alarms]`: the alarm rules in effect, as data. The host ships a set of
//! rules ([`shipped`]); the file changes them by id (`[alarms.rules.<id>]`:
//! a shipped id takes the keys written over its own, `enabled = false`
//! turns it off) and adds its own. The host's `alarms` module evaluates
//! them; a change takes effect at once.

use meterhub_plugin_api::Decimal;

/// How urgent an alarm is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Someone must act now (tampering, a leak).
    Critical,
    /// Something to look at this shift.
    Warning,
    /// Worth knowing.
    Info,
}

impl Severity {
    /// Every severity, most urgent first.
    pub const ALL: [Severity; 3] = [Severity::Critical, Severity::Warning, Severity::Info];

    /// The name in the file, the API and the UI.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }

    /// The severity named `name`.
    pub fn parse(name: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// What a silence rule watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Watched {
    /// Communication modules.
    Module,
    /// Meters read through no module (a meter behind a module is silent
    /// when its module is, and the module's alarm says so).
    Meter,
}

/// What a rule looks at, and when it is raised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlarmKind {
    /// While a state channel (a reading of kind `state`) is non-zero.
    State,
    /// While a reading is above `above` or below `below`.
    Threshold {
        /// Raised above this value.
        above: Option<Decimal>,
        /// Raised below this value.
        below: Option<Decimal>,
    },
    /// Once, when a register reads less than its previous reading with no
    /// event to explain it (momentary: it ends as it is raised and waits
    /// for an acknowledgement).
    Decrease,
    /// While a meter's newest frame is stamped ahead of the host's clock by
    /// more than `[host] device_clock_tolerance_s`.
    ClockAhead,
    /// While a module reports its battery below `below` percent.
    Battery {
        /// Percent.
        below_pct: u8,
    },
    /// While a module's received signal is below `below` dBm.
    Signal {
        /// dBm.
        below_dbm: i32,
    },
    /// While a module (or a meter read through none) is silent: no frame
    /// for `[accounting] silent_after_periods` of its periods.
    Silent {
        /// Modules or meters.
        of: Watched,
    },
    /// Once, when a module's lost uplinks (gaps in its frame counter) grow
    /// by more than `above` between two looks (every few seconds).
    LostUplinks {
        /// Frames.
        above: u32,
    },
    /// While a sink or a sync link is failing or behind by more than its
    /// `alarm_lag_seconds`.
    SinkStalled,
}

impl AlarmKind {
    /// The name in the file and the API.
    pub fn as_str(&self) -> &'static str {
        match self {
            AlarmKind::State => "state",
            AlarmKind::Threshold { .. } => "threshold",
            AlarmKind::Decrease => "decrease",
            AlarmKind::ClockAhead => "clock_ahead",
            AlarmKind::Battery { .. } => "battery",
            AlarmKind::Signal { .. } => "signal",
            AlarmKind::Silent { .. } => "silent",
            AlarmKind::LostUplinks { .. } => "lost_uplinks",
            AlarmKind::SinkStalled => "sink_stalled",
        }
    }

    /// Every kind's name, for errors.
    pub const NAMES: [&'static str; 9] = [
        "state",
        "threshold",
        "decrease",
        "clock_ahead",
        "battery",
        "signal",
        "silent",
        "lost_uplinks",
        "sink_stalled",
    ];

    /// Whether it reads the archived readings (the others judge the board:
    /// meters, modules and sinks as they are now).
    pub fn on_readings(&self) -> bool {
        matches!(self, AlarmKind::State | AlarmKind::Threshold { .. } | AlarmKind::Decrease)
    }

    /// Whether its alarms end as they are raised (events to acknowledge).
    pub fn momentary(&self) -> bool {
        matches!(self, AlarmKind::Decrease | AlarmKind::LostUplinks { .. })
    }
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmRule {
    /// Its id (`[alarms.rules.<id>]`).
    pub id: String,
    /// What it looks at.
    pub kind: AlarmKind,
    /// How urgent its alarms are.
    pub severity: Severity,
    /// The channels it reads (rules on readings); empty: every channel of
    /// its kind's readings (a decrease: every cumulative register).
    pub channels: Vec<String>,
}

impl AlarmRule {
    /// Whether it reads `channel`: named, or any when it names none.
    pub fn reads(&self, channel: &str) -> bool {
        self.channels.is_empty() || self.channels.iter().any(|c| c == channel)
    }
}

/// `[alarms]` in effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmsConfig {
    /// The rules on, by id order.
    pub rules: Vec<AlarmRule>,
}

impl Default for AlarmsConfig {
    fn default() -> Self {
        AlarmsConfig { rules: shipped() }
    }
}

/// The rules the host ships, on unless the file turns them off.
pub fn shipped() -> Vec<AlarmRule> {
    let rule = |id: &str, kind: AlarmKind, severity: Severity, channels: &[&str]| AlarmRule {
        id: id.to_owned(),
        kind,
        severity,
        channels: channels.iter().map(|c| (*c).to_owned()).collect(),
    };
    let mut rules = vec![
        rule("magnet", AlarmKind::State, Severity::Critical, &["magnet"]),
        rule("case-open", AlarmKind::State, Severity::Critical, &["case-open"]),
        rule("leak", AlarmKind::State, Severity::Critical, &["leak", "breakthrough"]),
        rule("decrease", AlarmKind::Decrease, Severity::Warning, &[]),
        rule("clock-ahead", AlarmKind::ClockAhead, Severity::Warning, &[]),
        rule("battery-low", AlarmKind::Battery { below_pct: 10 }, Severity::Warning, &[]),
        rule("signal-weak", AlarmKind::Signal { below_dbm: -115 }, Severity::Info, &[]),
        rule("module-silent", AlarmKind::Silent { of: Watched::Module }, Severity::Warning, &[]),
        rule("meter-silent", AlarmKind::Silent { of: Watched::Meter }, Severity::Warning, &[]),
        rule("lost-uplinks", AlarmKind::LostUplinks { above: 5 }, Severity::Info, &[]),
        rule("sink-stalled", AlarmKind::SinkStalled, Severity::Critical, &[]),
    ];
    rules.sort_by(|a, b| a.id.cmp(&b.id));
    rules
}
