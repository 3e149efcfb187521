//! Module activity for the field crews: which communication modules are
//! silent, run low on battery, hear weakly or lose uplinks, with when each
//! was last heard. Problems first, the worst state first.

use meterhub_accounting::Decimal;

use crate::lang::Lang;
use crate::table::{Cell, Column, Header, Report, Row, RowKind};

/// A module as the board sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ModuleLine {
    /// Module identity.
    pub module: String,
    /// The meters read through it (names where set).
    pub meters: Vec<String>,
    /// Its board state: `fresh`, `late`, `silent`, `never_heard`,
    /// `clock_ahead`, `on_hold`.
    pub state: String,
    /// When it was last heard (host clock), ms since the epoch.
    pub last_heard_ms: Option<i64>,
    /// Battery, percent.
    pub battery_pct: Option<Decimal>,
    /// Signal strength of its last frame, dBm.
    pub rssi_dbm: Option<Decimal>,
    /// Signal-to-noise ratio of its last frame, dB.
    pub snr_db: Option<Decimal>,
    /// Uplinks lost by its frame counter.
    pub lost_uplinks: u64,
}

/// Where a module starts to be a problem: the host passes its alarm rules'
/// limits, so the report and the alarms agree.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// A battery below this percentage is low.
    pub battery_low_pct: Decimal,
    /// A signal below this RSSI is weak.
    pub weak_rssi_dbm: Decimal,
}

impl Default for Limits {
    /// The shipped alarm rules' limits: 10 % and −115 dBm.
    fn default() -> Limits {
        Limits { battery_low_pct: Decimal::from(10), weak_rssi_dbm: Decimal::from(-115) }
    }
}

/// A state's name in `lang`.
pub fn state_name(lang: Lang, state: &str) -> String {
    let (ru, en) = match state {
        "fresh" => ("на связи", "fresh"),
        "late" => ("запаздывает", "late"),
        "silent" => ("молчит", "silent"),
        "never_heard" => ("не выходил на связь", "never heard"),
        "clock_ahead" => ("часы спешат", "clock ahead"),
        "on_hold" => ("учёт приостановлен", "on hold"),
        other => (other, other),
    };
    lang.pick(ru, en).to_owned()
}

fn severity(state: &str) -> u8 {
    match state {
        "silent" => 0,
        "never_heard" => 1,
        "clock_ahead" => 2,
        "on_hold" => 3,
        "late" => 4,
        _ => 5,
    }
}

fn problems(lang: Lang, m: &ModuleLine, limits: &Limits) -> Vec<String> {
    let mut out = Vec::new();
    if matches!(m.state.as_str(), "silent" | "never_heard") {
        out.push(state_name(lang, &m.state));
    }
    if m.battery_pct.is_some_and(|b| b < limits.battery_low_pct) {
        out.push(lang.pick("низкий заряд", "low battery").to_owned());
    }
    if m.rssi_dbm.is_some_and(|r| r < limits.weak_rssi_dbm) {
        out.push(lang.pick("слабый сигнал", "weak signal").to_owned());
    }
    if m.lost_uplinks > 0 {
        out.push(lang.pick("потери пакетов", "lost uplinks").to_owned());
    }
    out
}

/// The activity report: every module given, problems first.
pub fn activity(lang: Lang, header: Header, modules: &[ModuleLine], limits: &Limits) -> Report {
    let columns = vec![
        Column::text("module", lang.pick("Модуль", "Module").into(), 1.4),
        Column::text("meters", lang.pick("Счётчики", "Meters").into(), 2.0),
        Column::text("state", lang.pick("Состояние", "State").into(), 1.2),
        Column::text("last_heard", lang.pick("Последний выход на связь", "Last heard").into(), 1.4),
        Column::number("battery_pct", lang.pick("Батарея, %", "Battery, %").into(), 0.8),
        Column::number("rssi_dbm", lang.pick("RSSI, дБм", "RSSI, dBm").into(), 0.8),
        Column::number("snr_db", lang.pick("SNR, дБ", "SNR, dB").into(), 0.7),
        Column::number("lost_uplinks", lang.pick("Потеряно пакетов", "Lost uplinks").into(), 0.9),
        Column::text("problems", lang.pick("Проблемы", "Problems").into(), 1.6),
    ];
    let mut lines: Vec<(Vec<String>, &ModuleLine)> = modules.iter().map(|m| (problems(lang, m, limits), m)).collect();
    lines.sort_by(|(pa, a), (pb, b)| {
        (pa.is_empty(), severity(&a.state), &a.module).cmp(&(pb.is_empty(), severity(&b.state), &b.module))
    });
    let number = |v: Option<Decimal>| v.map_or(Cell::Empty, Cell::Number);
    let with_problems = lines.iter().filter(|(p, _)| !p.is_empty()).count();
    let rows = lines
        .iter()
        .map(|(problems, m)| Row {
            kind: RowKind::Item,
            cells: vec![
                Cell::Text(m.module.clone()),
                Cell::text(m.meters.join(", ")),
                Cell::Text(state_name(lang, &m.state)),
                m.last_heard_ms.map_or(Cell::Empty, Cell::Time),
                number(m.battery_pct),
                number(m.rssi_dbm),
                number(m.snr_db),
                Cell::Count(m.lost_uplinks),
                Cell::text(problems.join(", ")),
            ],
        })
        .collect();
    let notes = vec![format!(
        "{}: {}; {}: {}. {}",
        lang.pick("Модулей", "Modules"),
        lang.count(modules.len() as u64),
        lang.pick("с проблемами", "with problems"),
        lang.count(with_problems as u64),
        match lang {
            Lang::Ru => format!(
                "Низкий заряд — ниже {} %, слабый сигнал — RSSI ниже {} дБм.",
                lang.decimal(limits.battery_low_pct),
                lang.decimal(limits.weak_rssi_dbm)
            ),
            Lang::En => format!(
                "Low battery: below {} %; weak signal: RSSI below {} dBm.",
                lang.decimal(limits.battery_low_pct),
                lang.decimal(limits.weak_rssi_dbm)
            ),
        }
    )];
    Report {
        kind: "activity",
        lang,
        title: lang.pick("Активность модулей связи", "Module activity").to_owned(),
        parameters: header.parameters,
        zone: header.zone,
        columns,
        rows,
        notes,
    }
}
