//! `[alarms]`: the shipped rules as the file changes them, and its own.

use std::str::FromStr;

use meterhub_plugin_api::Decimal;
use toml::Spanned;

use super::Validator;
use crate::alarms::{AlarmKind, AlarmRule, AlarmsConfig, Severity, Watched, shipped};
use crate::raw::{RawAlarmRule, RawAlarms, RawNumber};

impl Validator<'_> {
    /// The rules in effect: every shipped rule the file does not turn off
    /// (with the keys it writes over its own), then the file's own.
    pub(super) fn alarms(&mut self, raw: Option<&RawAlarms>) -> AlarmsConfig {
        let mut rules = shipped();
        let Some(raw) = raw else { return AlarmsConfig { rules } };
        for (id, spanned) in &raw.rules {
            let r = spanned.get_ref();
            let name = id.get_ref();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                self.error(id, "an alarm rule id is letters, digits, '-' and '_'");
                continue;
            }
            let base = rules.iter().position(|s| s.id == *name);
            if r.enabled.as_ref().is_some_and(|e| !*e.get_ref()) {
                if let Some(i) = base {
                    rules.remove(i);
                }
                continue;
            }
            let base_rule = base.map(|i| rules[i].clone());
            if let Some(rule) = self.alarm_rule(name, spanned, r, base_rule.as_ref()) {
                match base {
                    Some(i) => rules[i] = rule,
                    None => rules.push(rule),
                }
            }
        }
        rules.sort_by(|a, b| a.id.cmp(&b.id));
        AlarmsConfig { rules }
    }

    fn alarm_rule(
        &mut self,
        id: &str,
        at: &Spanned<RawAlarmRule>,
        r: &RawAlarmRule,
        base: Option<&AlarmRule>,
    ) -> Option<AlarmRule> {
        let before = self.diagnostics.len();
        let kind_name = match (&r.kind, base) {
            (Some(kind), Some(base)) if kind.get_ref() != base.kind.as_str() => {
                self.error(
                    kind,
                    format!(
                        "alarm rule {id:?} is shipped as kind {:?}; give another id for a rule of another kind",
                        base.kind.as_str()
                    ),
                );
                return None;
            }
            (Some(kind), _) => kind.get_ref().clone(),
            (None, Some(base)) => base.kind.as_str().to_owned(),
            (None, None) => {
                self.error(at, format!("alarm rule {id:?} needs a kind: one of {}", AlarmKind::NAMES.join(", ")));
                return None;
            }
        };
        let severity = match &r.severity {
            Some(s) => Severity::parse(s.get_ref()).or_else(|| {
                self.error(s, "severity is one of critical, warning, info");
                None
            }),
            None => Some(base.map_or(Severity::Warning, |b| b.severity)),
        };
        let channels = match &r.channels {
            Some(list) => {
                for c in list.get_ref().iter().filter(|c| c.get_ref().is_empty()) {
                    self.error(c, "a channel name is not empty");
                }
                list.get_ref().iter().map(|c| c.get_ref().clone()).collect()
            }
            None => base.map(|b| b.channels.clone()).unwrap_or_default(),
        };
        let base_kind = base.map(|b| &b.kind);
        let kind = match kind_name.as_str() {
            "state" => Some(AlarmKind::State),
            "decrease" => Some(AlarmKind::Decrease),
            "clock_ahead" => Some(AlarmKind::ClockAhead),
            "sink_stalled" => Some(AlarmKind::SinkStalled),
            "threshold" => {
                let above = r.above.as_ref().and_then(|v| self.decimal(v, "above"));
                let below = r.below.as_ref().and_then(|v| self.decimal(v, "below"));
                let (above, below) = match (above, below, base_kind) {
                    (None, None, Some(AlarmKind::Threshold { above, below })) => (*above, *below),
                    pair => (pair.0, pair.1),
                };
                if above.is_none() && below.is_none() && self.diagnostics.len() == before {
                    self.error(at, format!("threshold rule {id:?} needs `above`, `below` or both"));
                }
                if let (Some(a), Some(b)) = (above, below)
                    && b >= a
                {
                    let place = r.below.as_ref().or(r.above.as_ref());
                    match place {
                        Some(p) => self.error(p, format!("below ({b}) must be less than above ({a})")),
                        None => self.error(at, format!("below ({b}) must be less than above ({a})")),
                    }
                }
                if channels.is_empty() {
                    self.error(at, format!("threshold rule {id:?} needs `channels`: the channels it reads"));
                }
                Some(AlarmKind::Threshold { above, below })
            }
            "battery" => {
                let default = match base_kind {
                    Some(AlarmKind::Battery { below_pct }) => i64::from(*below_pct),
                    _ => 10,
                };
                self.integer(&r.below, "below", 1..=100, default).map(|v| AlarmKind::Battery { below_pct: v as u8 })
            }
            "signal" => {
                let default = match base_kind {
                    Some(AlarmKind::Signal { below_dbm }) => i64::from(*below_dbm),
                    _ => -115,
                };
                self.integer(&r.below, "below", -200..=0, default).map(|v| AlarmKind::Signal { below_dbm: v as i32 })
            }
            "lost_uplinks" => {
                let default = match base_kind {
                    Some(AlarmKind::LostUplinks { above }) => i64::from(*above),
                    _ => 5,
                };
                self.integer(&r.above, "above", 0..=1_000_000, default)
                    .map(|v| AlarmKind::LostUplinks { above: v as u32 })
            }
            "silent" => {
                let of = match (&r.of, base_kind) {
                    (Some(of), _) => match of.get_ref().as_str() {
                        "module" => Some(Watched::Module),
                        "meter" => Some(Watched::Meter),
                        _ => {
                            self.error(of, "of is `module` or `meter`");
                            None
                        }
                    },
                    (None, Some(AlarmKind::Silent { of })) => Some(*of),
                    (None, _) => Some(Watched::Module),
                };
                of.map(|of| AlarmKind::Silent { of })
            }
            _ => {
                let at = r.kind.as_ref().expect("a kind not shipped was written");
                self.error(at, format!("unknown alarm kind; one of {}", AlarmKind::NAMES.join(", ")));
                None
            }
        };
        // Keys the kind does not read are errors, not silently ignored.
        let reads = |key: &str| match key {
            "above" => matches!(kind_name.as_str(), "threshold" | "lost_uplinks"),
            "below" => matches!(kind_name.as_str(), "threshold" | "battery" | "signal"),
            "of" => kind_name == "silent",
            _ => matches!(kind_name.as_str(), "state" | "threshold" | "decrease"),
        };
        let written: [(&str, Option<std::ops::Range<usize>>); 4] = [
            ("above", r.above.as_ref().map(|v| v.span())),
            ("below", r.below.as_ref().map(|v| v.span())),
            ("of", r.of.as_ref().map(|v| v.span())),
            ("channels", r.channels.as_ref().map(|v| v.span())),
        ];
        if kind.is_some() || AlarmKind::NAMES.contains(&kind_name.as_str()) {
            for (key, span) in written {
                if let Some(span) = span
                    && !reads(key)
                {
                    let pos = crate::Pos::of_offset(self.text, span.start);
                    let message = format!("`{key}` does not apply to a rule of kind {kind_name:?}");
                    self.diagnostics.push(crate::Diagnostic::new(self.file, pos, message));
                }
            }
        }
        if self.diagnostics.len() > before {
            return None;
        }
        Some(AlarmRule { id: id.to_owned(), kind: kind?, severity: severity?, channels })
    }

    fn decimal(&mut self, value: &Spanned<RawNumber>, key: &str) -> Option<Decimal> {
        let parsed = match value.get_ref() {
            RawNumber::Integer(i) => Some(Decimal::from(*i)),
            RawNumber::Float(f) => Decimal::from_str(&f.to_string()).ok(),
            RawNumber::Text(t) => Decimal::from_str_exact(t.trim()).ok(),
        };
        if parsed.is_none() {
            self.error(value, format!("{key} is a number (\"12.345\" for an exact decimal)"));
        }
        parsed
    }

    fn integer(
        &mut self,
        value: &Option<Spanned<RawNumber>>,
        key: &str,
        range: std::ops::RangeInclusive<i64>,
        default: i64,
    ) -> Option<i64> {
        let Some(value) = value else { return Some(default) };
        match value.get_ref() {
            RawNumber::Integer(i) if range.contains(i) => Some(*i),
            _ => {
                self.error(value, format!("{key} is a whole number between {} and {}", range.start(), range.end()));
                None
            }
        }
    }
}
