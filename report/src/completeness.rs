//! Data completeness for the regulator: per meter and day, the readings
//! received against those expected from its period, and the gaps between
//! them.

use jiff::tz::TimeZone;
use meterhub_accounting::{Decimal, MeterSpec, Period, period_at};

use crate::lang::Lang;
use crate::table::{Cell, Column, Header, Report, Row, RowKind};

/// A meter with the instants of its readings.
#[derive(Debug, Clone, PartialEq)]
pub struct MeterReadings {
    /// Meter identity.
    pub meter: String,
    /// Its name, when set.
    pub name: Option<String>,
    /// Its site, when set.
    pub site: Option<String>,
    /// How often it should report, ms; unknown when `None`.
    pub period_ms: Option<i64>,
    /// The zone its days are counted in.
    pub zone: TimeZone,
    /// Its readings' device timestamps, ascending, distinct: those in the
    /// report's range, and the last one before it (for the first gap).
    pub readings_ms: Vec<i64>,
    /// The report's range in that zone: `[from_ms, to_ms)`.
    pub from_ms: i64,
    /// See `from_ms`.
    pub to_ms: i64,
}

/// An interval longer than this many periods without a reading is a gap.
const GAP_PERIODS: (i64, i64) = (3, 2);

/// One day of one meter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Day {
    /// Its local date, `YYYY-MM-DD`.
    pub date: String,
    /// Its first instant and the next day's.
    pub start_ms: i64,
    /// See `start_ms`.
    pub end_ms: i64,
    /// Readings expected (up to `now` for the day in progress).
    pub expected: Option<u64>,
    /// Readings received.
    pub received: u64,
    /// Intervals without a reading, `[from, to)`, clipped to the day.
    pub gaps: Vec<(i64, i64)>,
}

/// The period a meter's readings keep when none is known: the median step
/// between them (three readings at least).
pub fn inferred_period(readings_ms: &[i64]) -> Option<i64> {
    let mut steps: Vec<i64> = readings_ms.windows(2).map(|w| w[1] - w[0]).filter(|s| *s > 0).collect();
    if steps.len() < 2 {
        return None;
    }
    steps.sort_unstable();
    Some(steps[steps.len() / 2])
}

/// The days of `m` from its range's start to `now_ms` or its end, judged
/// by its period (or the one its readings keep).
pub fn days(m: &MeterReadings, now_ms: i64) -> Vec<Day> {
    let period_ms = m.period_ms.filter(|p| *p > 0).or_else(|| inferred_period(&m.readings_ms));
    let Ok(spec) = MeterSpec::new(m.zone.iana_name().unwrap_or("UTC"), None, vec![]) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut at = m.from_ms;
    let stop = m.to_ms.min(now_ms);
    while at < stop {
        let Some(day) = period_at(&spec, Period::Day, at) else { break };
        let end = day.end_ms.min(stop);
        let inside: Vec<i64> =
            m.readings_ms.iter().copied().filter(|t| *t >= day.start_ms && *t < day.end_ms).collect();
        let before = m.readings_ms.iter().copied().rfind(|t| *t < day.start_ms);
        let expected = period_ms.map(|p| ((end - day.start_ms + p - 1) / p) as u64);
        let mut gaps = Vec::new();
        if let Some(p) = period_ms {
            let long = |a: i64, b: i64| (b - a) * GAP_PERIODS.1 > p * GAP_PERIODS.0;
            let mut prev = before.unwrap_or(day.start_ms);
            for t in inside.iter().copied().chain(std::iter::once(end)) {
                if long(prev, t) {
                    gaps.push((prev.max(day.start_ms), t));
                }
                prev = t;
            }
        }
        out.push(Day {
            date: day.start.clone(),
            start_ms: day.start_ms,
            end_ms: day.end_ms,
            expected,
            received: inside.len() as u64,
            gaps,
        });
        at = day.end_ms;
    }
    out
}

fn percent(received: u64, expected: Option<u64>) -> Cell {
    match expected {
        Some(e) if e > 0 => Cell::Number((Decimal::from(received) * Decimal::from(100) / Decimal::from(e)).round_dp(1)),
        _ => Cell::Empty,
    }
}

fn clock(ms: i64, zone: &TimeZone) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map_or_else(|_| ms.to_string(), |t| t.to_zoned(zone.clone()).strftime("%H:%M").to_string())
}

/// The completeness report: a row per meter and day, a subtotal per meter,
/// the total last.
pub fn completeness(lang: Lang, header: Header, meters: &[MeterReadings], now_ms: i64) -> Report {
    let columns = vec![
        Column::text("site", lang.pick("Объект", "Site").into(), 1.2),
        Column::text("meter", lang.pick("Счётчик", "Meter").into(), 1.2),
        Column::text("name", lang.pick("Наименование", "Name").into(), 1.5),
        Column::text("day", lang.pick("Сутки", "Day").into(), 0.9),
        Column::number("expected", lang.pick("Ожидалось", "Expected").into(), 0.8),
        Column::number("received", lang.pick("Получено", "Received").into(), 0.8),
        Column::number("percent", lang.pick("Полнота, %", "Complete, %").into(), 0.8),
        Column::number("gaps", lang.pick("Пропусков", "Gaps").into(), 0.7),
        Column::text("gap_list", lang.pick("Пропуски", "Gap list").into(), 2.4),
    ];
    let mut ordered: Vec<&MeterReadings> = meters.iter().collect();
    ordered.sort_by(|a, b| (&a.site, &a.meter).cmp(&(&b.site, &b.meter)));
    let mut rows = Vec::new();
    let (mut all_expected, mut all_received, mut all_gaps) = (0u64, 0u64, 0u64);
    let (mut unknown, mut inferred) = (Vec::new(), Vec::new());
    for m in ordered {
        let (mut expected, mut received, mut gaps) = (Some(0u64), 0u64, 0u64);
        for day in days(m, now_ms) {
            let list: Vec<String> =
                day.gaps.iter().map(|(a, b)| format!("{}–{}", clock(*a, &m.zone), clock(*b, &m.zone))).collect();
            rows.push(Row {
                kind: RowKind::Item,
                cells: vec![
                    Cell::text(m.site.clone().unwrap_or_default()),
                    Cell::Text(m.meter.clone()),
                    Cell::text(m.name.clone().unwrap_or_default()),
                    Cell::Text(lang.period(&day.date)),
                    day.expected.map_or(Cell::Empty, Cell::Count),
                    Cell::Count(day.received),
                    percent(day.received, day.expected),
                    Cell::Count(day.gaps.len() as u64),
                    Cell::text(list.join(", ")),
                ],
            });
            expected = expected.zip(day.expected).map(|(a, b)| a + b);
            received += day.received;
            gaps += day.gaps.len() as u64;
        }
        match (m.period_ms, inferred_period(&m.readings_ms)) {
            (Some(_), _) => {}
            (None, Some(_)) => inferred.push(m.meter.clone()),
            (None, None) => unknown.push(m.meter.clone()),
        }
        rows.push(Row {
            kind: RowKind::Subtotal,
            cells: vec![
                Cell::text(m.site.clone().unwrap_or_default()),
                Cell::Text(m.meter.clone()),
                Cell::Text(lang.pick("Итого по счётчику", "Meter subtotal").to_owned()),
                Cell::Empty,
                expected.map_or(Cell::Empty, Cell::Count),
                Cell::Count(received),
                percent(received, expected),
                Cell::Count(gaps),
                Cell::Empty,
            ],
        });
        all_expected += expected.unwrap_or(0);
        all_received += if expected.is_some() { received } else { 0 };
        all_gaps += gaps;
    }
    let mut total = vec![Cell::Empty; columns.len()];
    total[1] = Cell::Text(lang.pick("Всего", "Total").to_owned());
    total[4] = Cell::Count(all_expected);
    total[5] = Cell::Count(all_received);
    total[6] = percent(all_received, Some(all_expected));
    total[7] = Cell::Count(all_gaps);
    rows.push(Row { kind: RowKind::Total, cells: total });
    let mut notes = vec![
        lang.pick(
            "Ожидаемое число показаний — длительность суток (23 или 25 часов в дни перехода на летнее время), \
             делённая на период счётчика; для текущих суток — до момента отчёта. Пропуск — интервал без \
             показаний длиннее полутора периодов.",
            "Expected readings: the day's length (23 or 25 hours on a DST day) divided by the meter's period; \
             for the day in progress, up to the report's time. A gap: an interval without readings longer than \
             one and a half periods.",
        )
        .to_owned(),
    ];
    if !inferred.is_empty() {
        notes.push(format!(
            "{}: {}",
            lang.pick(
                "Период не задан и не изучен, взят по самим показаниям (медианный шаг)",
                "No period set or learned, taken from the readings themselves (the median step)"
            ),
            inferred.join(", ")
        ));
    }
    if !unknown.is_empty() {
        notes.push(format!(
            "{}: {}",
            lang.pick(
                "Период не известен, полнота не оценена (в итог не вошли)",
                "Period unknown, not judged (not in the total)"
            ),
            unknown.join(", ")
        ));
    }
    Report {
        kind: "completeness",
        lang,
        title: lang.pick("Полнота данных", "Data completeness").to_owned(),
        parameters: header.parameters,
        zone: header.zone,
        columns,
        rows,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_is_inferred_from_the_median_step() {
        assert_eq!(inferred_period(&[0, 10, 20, 30, 100]), Some(10));
        assert_eq!(inferred_period(&[0, 10]), None, "one step says too little");
        assert_eq!(inferred_period(&[]), None);
    }
}
