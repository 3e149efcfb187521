//! Consumption per meter and group per day or month, and the register's
//! values at the period's boundaries for billing; both from the deltas of
//! the accounting, with their flags, and totals that add up exactly.

use std::collections::BTreeMap;

use meterhub_accounting::{Decimal, Delta, Period};

use crate::lang::Lang;
use crate::table::{Cell, Column, Header, Report, Row, RowKind};

/// One meter channel with its deltas over the report's period.
#[derive(Debug, Clone, PartialEq)]
pub struct MeterDeltas {
    /// Meter identity.
    pub meter: String,
    /// Its name, when set.
    pub name: Option<String>,
    /// Its site (the group), when set.
    pub site: Option<String>,
    /// What it measures (`gas`, `heat`, ...), when set.
    pub resource: Option<String>,
    /// The consumer account it is billed to, when set.
    pub account: Option<String>,
    /// The channel counted.
    pub channel: String,
    /// The unit its deltas are in.
    pub unit: String,
    /// Its deltas in calendar order, of one period length.
    pub deltas: Vec<Delta>,
}

/// A meter left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftOut {
    /// Meter identity.
    pub meter: String,
    /// Why, in the report's language.
    pub reason: String,
}

/// The flags of a delta, or of a sum of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    estimated: bool,
    partial_start: bool,
    in_progress: bool,
    conflict: bool,
    unexplained_decrease: bool,
    rollovers: u32,
    events: u32,
}

impl Flags {
    fn of(d: &Delta) -> Flags {
        Flags {
            estimated: d.estimated,
            partial_start: d.partial_start,
            in_progress: d.in_progress,
            conflict: d.conflict,
            unexplained_decrease: d.unexplained_decrease,
            rollovers: d.rollovers,
            events: d.events,
        }
    }

    fn add(&mut self, other: Flags) {
        self.estimated |= other.estimated;
        self.partial_start |= other.partial_start;
        self.in_progress |= other.in_progress;
        self.conflict |= other.conflict;
        self.unexplained_decrease |= other.unexplained_decrease;
        self.rollovers = self.rollovers.saturating_add(other.rollovers);
        self.events = self.events.saturating_add(other.events);
    }

    /// The flags in words, in `lang`; empty when there are none.
    pub fn text(&self, lang: Lang) -> String {
        let mut words: Vec<String> = Vec::new();
        let mut say = |on: bool, ru: &str, en: &str| {
            if on {
                words.push(lang.pick(ru, en).to_owned());
            }
        };
        say(self.estimated, "оценка", "estimated");
        say(self.partial_start, "неполное начало", "partial start");
        say(self.in_progress, "не завершён", "in progress");
        say(self.conflict, "конфликт", "conflict");
        say(self.unexplained_decrease, "необъяснённое уменьшение", "unexplained decrease");
        if self.rollovers > 0 {
            words.push(format!("{} ×{}", lang.pick("переполнение", "rollover"), self.rollovers));
        }
        if self.events > 0 {
            words.push(format!("{} ×{}", lang.pick("замена или сброс", "replacement or reset"), self.events));
        }
        words.join(", ")
    }
}

/// The legend of the flags, under every report that shows them.
fn flags_legend(lang: Lang) -> Vec<String> {
    vec![
        lang.pick(
            "Признаки: «оценка» — граница периода между показаниями, значение интерполировано; «неполное \
             начало» — первое показание позже начала периода; «не завершён» — показаний после конца периода ещё \
             нет, расход растёт; «конфликт» — показание приходило с разными значениями, взято первое; \
             «необъяснённое уменьшение» — регистр уменьшился без события, этот шаг не учтён.",
            "Flags: estimated: a boundary falls between readings and its value is interpolated; partial start: \
             the first reading is after the period's start; in progress: no reading after the period's end yet, \
             the consumption grows; conflict: a reading came with different values, the first was used; \
             unexplained decrease: the register went down with no event, that step is not counted.",
        )
        .to_owned(),
    ]
}

/// The register's own number of decimals: that of its readings, which the
/// boundary values resting on a reading keep (interpolated ones have three
/// more).
fn register_scale(m: &MeterDeltas) -> u32 {
    m.deltas.iter().map(|d| d.start_value.scale().min(d.end_value.scale())).min().unwrap_or(0)
}

/// `value` without trailing zeros past the register's decimals: `5.750000`
/// (a sum of interpolated shares) is shown `5.750`, `5.123456` stays. The
/// value is the same, so sums still add up to the last digit.
pub fn tidy(value: Decimal, scale: u32) -> Decimal {
    let mut n = value.normalize();
    if n.scale() < scale {
        n.rescale(scale);
    }
    n
}

fn add_exact(sum: &mut Decimal, value: Decimal) -> bool {
    match sum.checked_add(value) {
        Some(s) => {
            *sum = s;
            true
        }
        None => false,
    }
}

/// The sum of a group (or all groups) in one period and unit.
#[derive(Default)]
struct Sum {
    consumption: Decimal,
    scale: u32,
    meters: usize,
    flags: Flags,
}

fn group_key(m: &MeterDeltas) -> (String, String) {
    (m.site.clone().unwrap_or_default(), m.resource.clone().unwrap_or_default())
}

fn sorted(meters: &[MeterDeltas]) -> Vec<&MeterDeltas> {
    let mut out: Vec<&MeterDeltas> = meters.iter().collect();
    out.sort_by(|a, b| (group_key(a), &a.meter, &a.channel).cmp(&(group_key(b), &b.meter, &b.channel)));
    out
}

/// The columns naming a meter's register: site, resource, meter, name,
/// channel, unit.
fn meter_columns(lang: Lang) -> Vec<Column> {
    vec![
        Column::text("site", lang.pick("Объект", "Site").into(), 1.2),
        Column::text("resource", lang.pick("Ресурс", "Resource").into(), 1.0),
        Column::text("meter", lang.pick("Счётчик", "Meter").into(), 1.1),
        Column::text("name", lang.pick("Наименование", "Name").into(), 1.4),
        Column::text("channel", lang.pick("Канал", "Channel").into(), 1.1),
        Column::text("unit", lang.pick("Ед.", "Unit").into(), 0.5),
    ]
}

/// The cells of [`meter_columns`] for `m`.
fn meter_cells(lang: Lang, m: &MeterDeltas) -> Vec<Cell> {
    vec![
        Cell::text(m.site.clone().unwrap_or_default()),
        Cell::text(m.resource.as_deref().map(|r| lang.resource(r)).unwrap_or_default()),
        Cell::Text(m.meter.clone()),
        Cell::text(m.name.clone().unwrap_or_default()),
        Cell::Text(lang.channel(&m.channel)),
        Cell::text(lang.unit(&m.unit)),
    ]
}

/// What a figure rests on: its flags in words and the readings' archive
/// numbers.
fn trace_columns(lang: Lang) -> [Column; 2] {
    [
        Column::text("flags", lang.pick("Признаки", "Flags").into(), 1.9),
        Column::text("readings", lang.pick("Показания (№ в архиве)", "Readings (archive no.)").into(), 1.0),
    ]
}

fn readings_text(seqs: &[u64]) -> String {
    seqs.iter().map(u64::to_string).collect::<Vec<_>>().join(" ")
}

fn left_out_notes(lang: Lang, left_out: &[LeftOut], notes: &mut Vec<String>) {
    for l in left_out {
        notes.push(format!("{} {}: {}", lang.pick("Не вошёл счётчик", "Left out: meter"), l.meter, l.reason));
    }
}

/// Consumption per meter and per group (site and resource) in each day or
/// month, with group subtotals and totals per unit that are the exact sums
/// of the rows above them. Rows: a group's meters, then its subtotals; the
/// totals last.
pub fn consumption(lang: Lang, period: Period, header: Header, meters: &[MeterDeltas], left_out: &[LeftOut]) -> Report {
    let mut columns = meter_columns(lang);
    columns.extend([
        Column::text("period", lang.pick("Период", "Period").into(), 1.0),
        Column::number("start_value", lang.pick("Начало", "Start value").into(), 1.1),
        Column::number("end_value", lang.pick("Конец", "End value").into(), 1.1),
        Column::number("consumption", lang.pick("Расход", "Consumption").into(), 1.1),
    ]);
    columns.extend(trace_columns(lang));
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    let mut totals: BTreeMap<(String, String), Sum> = BTreeMap::new();
    let ordered = sorted(meters);
    let mut at = 0;
    while at < ordered.len() {
        let group = group_key(ordered[at]);
        let mut sums: BTreeMap<(String, String), Sum> = BTreeMap::new();
        while at < ordered.len() && group_key(ordered[at]) == group {
            let m = ordered[at];
            let scale = register_scale(m);
            for d in &m.deltas {
                let mut cells = meter_cells(lang, m);
                cells.extend([
                    Cell::Text(lang.period(&d.start)),
                    Cell::Number(tidy(d.start_value, scale)),
                    Cell::Number(tidy(d.end_value, scale)),
                    Cell::Number(tidy(d.consumption, scale)),
                    Cell::text(Flags::of(d).text(lang)),
                    Cell::text(readings_text(&d.readings)),
                ]);
                rows.push(Row { kind: RowKind::Item, cells });
                let sum = sums.entry((d.start.clone(), m.unit.clone())).or_default();
                if !add_exact(&mut sum.consumption, d.consumption) {
                    notes.push(format!(
                        "{} {} {}",
                        lang.pick("Сумма вне диапазона:", "Sum out of range:"),
                        m.meter,
                        d.start
                    ));
                }
                sum.meters += 1;
                sum.scale = sum.scale.max(scale);
                sum.flags.add(Flags::of(d));
            }
            at += 1;
        }
        let label = match (group.0.is_empty(), group.1.is_empty()) {
            (true, true) => lang.pick("Итого без объекта", "Subtotal, no site").to_owned(),
            _ => lang.pick("Итого по объекту", "Subtotal").to_owned(),
        };
        for ((start, unit), sum) in sums {
            rows.push(sum_row(lang, RowKind::Subtotal, &label, Some(&group), &start, &unit, &sum));
            let total = totals.entry((start, unit)).or_default();
            add_exact(&mut total.consumption, sum.consumption);
            total.meters += sum.meters;
            total.scale = total.scale.max(sum.scale);
            total.flags.add(sum.flags);
        }
    }
    for ((start, unit), sum) in &totals {
        rows.push(sum_row(lang, RowKind::Total, lang.pick("Всего", "Total"), None, start, unit, sum));
    }
    notes.extend(flags_legend(lang));
    left_out_notes(lang, left_out, &mut notes);
    let title = match period {
        Period::Day => lang.pick("Расход по дням", "Daily consumption"),
        Period::Month => lang.pick("Расход по месяцам", "Monthly consumption"),
    };
    Report {
        kind: "consumption",
        lang,
        title: title.to_owned(),
        parameters: header.parameters,
        zone: header.zone,
        columns,
        rows,
        notes,
    }
}

fn sum_row(
    lang: Lang,
    kind: RowKind,
    label: &str,
    group: Option<&(String, String)>,
    start: &str,
    unit: &str,
    sum: &Sum,
) -> Row {
    let (site, resource) = group.cloned().unwrap_or_default();
    let meters = format!("{}: {}", lang.pick("счётчиков", "meters"), lang.count(sum.meters as u64));
    Row {
        kind,
        cells: vec![
            Cell::text(site),
            Cell::text(if resource.is_empty() { String::new() } else { lang.resource(&resource) }),
            Cell::Text(label.to_owned()),
            Cell::Text(meters),
            Cell::Empty,
            Cell::text(lang.unit(unit)),
            Cell::Text(lang.period(start)),
            Cell::Empty,
            Cell::Empty,
            Cell::Number(tidy(sum.consumption, sum.scale)),
            Cell::text(sum.flags.text(lang)),
            Cell::Empty,
        ],
    }
}

/// The register's values at the report period's boundaries, for billing:
/// per meter, the value at the start and at the end with their instants,
/// and the consumption between (the sum of its deltas, exact; with a
/// replacement or rollover inside, not `end − start`, and flagged so).
/// Give it month deltas when the period is whole months, so the flags are
/// those of its two boundaries alone; with day deltas, "estimated" is said
/// when the first or the last day has an interpolated boundary.
pub fn boundaries(lang: Lang, header: Header, meters: &[MeterDeltas], left_out: &[LeftOut]) -> Report {
    let mut columns = meter_columns(lang);
    columns.insert(4, Column::text("account", lang.pick("Лицевой счёт", "Account").into(), 0.9));
    columns.extend([
        Column::text("start_at", lang.pick("Начало", "Start").into(), 1.8),
        Column::number("start_value", lang.pick("Показание на начало", "Start value").into(), 1.1),
        Column::text("end_at", lang.pick("Конец", "End").into(), 1.8),
        Column::number("end_value", lang.pick("Показание на конец", "End value").into(), 1.1),
        Column::number("consumption", lang.pick("Расход", "Consumption").into(), 1.0),
    ]);
    columns.extend(trace_columns(lang));
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    let mut totals: BTreeMap<String, Sum> = BTreeMap::new();
    for m in sorted(meters) {
        let (Some(first), Some(last)) = (m.deltas.first(), m.deltas.last()) else {
            notes.push(format!(
                "{} {}: {}",
                lang.pick("Не вошёл счётчик", "Left out: meter"),
                m.meter,
                lang.pick("нет показаний за период", "no readings in the period")
            ));
            continue;
        };
        let scale = register_scale(m);
        let mut consumption = Decimal::ZERO;
        let mut flags = Flags::default();
        for d in &m.deltas {
            add_exact(&mut consumption, d.consumption);
            flags.add(Flags::of(d));
        }
        // Inner boundaries are exact joins: only the outer ones can be
        // estimated, partial or in progress.
        flags.estimated = first.estimated || last.estimated;
        flags.partial_start = first.partial_start;
        flags.in_progress = last.in_progress;
        let mut seqs: Vec<u64> = first.readings.iter().take(2).copied().collect();
        for s in last.readings.iter().rev().take(2).rev() {
            if !seqs.contains(s) {
                seqs.push(*s);
            }
        }
        let mut cells = meter_cells(lang, m);
        cells.insert(4, Cell::text(m.account.clone().unwrap_or_default()));
        cells.extend([
            Cell::Time(first.from_ms),
            Cell::Number(tidy(first.start_value, scale)),
            Cell::Time(last.to_ms),
            Cell::Number(tidy(last.end_value, scale)),
            Cell::Number(tidy(consumption, scale)),
            Cell::text(flags.text(lang)),
            Cell::text(readings_text(&seqs)),
        ]);
        rows.push(Row { kind: RowKind::Item, cells });
        let total = totals.entry(m.unit.clone()).or_default();
        add_exact(&mut total.consumption, consumption);
        total.meters += 1;
        total.scale = total.scale.max(scale);
        total.flags.add(flags);
    }
    for (unit, sum) in &totals {
        let mut cells = vec![Cell::Empty; columns.len()];
        cells[2] = Cell::Text(lang.pick("Всего", "Total").to_owned());
        cells[3] = Cell::Text(format!("{}: {}", lang.pick("счётчиков", "meters"), lang.count(sum.meters as u64)));
        cells[6] = Cell::text(lang.unit(unit));
        cells[11] = Cell::Number(tidy(sum.consumption, sum.scale));
        rows.push(Row { kind: RowKind::Total, cells });
    }
    notes.extend(flags_legend(lang));
    left_out_notes(lang, left_out, &mut notes);
    Report {
        kind: "boundaries",
        lang,
        title: lang.pick("Показания на границах периода", "Readings at the period's boundaries").to_owned(),
        parameters: header.parameters,
        zone: header.zone,
        columns,
        rows,
        notes,
    }
}
