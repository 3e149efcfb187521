//! Calendar days and months in a meter's time zone, as instants.
//!
//! A period is the half-open range `[start, end)` between the first instants
//! of two consecutive local dates (or first days of months). The first
//! instant of a date is its local midnight when that exists; when midnight
//! falls in a gap (a zone that springs forward at 00:00, such as
//! America/Santiago), the day starts at the transition itself, which is the
//! first instant whose local date is that day; when midnight happens twice
//! (a fold), the day starts at the first one. So a DST day is 23 or 25 hours
//! long, and consecutive periods always tile time without gaps or overlaps.

use jiff::civil::{Date, Time};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::spec::MeterSpec;

/// The length of an accounting period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    /// A calendar day in the meter's zone.
    Day,
    /// A calendar month in the meter's zone.
    Month,
}

/// One calendar day or month of a meter's zone.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarPeriod {
    /// Day or month.
    pub period: Period,
    /// The local date that names it: `YYYY-MM-DD` for a day, `YYYY-MM` for a
    /// month.
    pub start: String,
    /// Its first instant, milliseconds since the Unix epoch.
    pub start_ms: i64,
    /// The first instant of the next period (exclusive end).
    pub end_ms: i64,
}

/// The day or month of the meter's zone holding the instant (its `[start,
/// end)`), or `None` beyond the supported calendar (years -9999 to 9999).
pub fn period_at(spec: &MeterSpec, period: Period, ts_ms: i64) -> Option<CalendarPeriod> {
    Some(Calendar::new(spec.time_zone(), period).containing(ts_ms)?.calendar_period())
}

/// A period with the local date it starts on, for stepping.
#[derive(Clone, Debug)]
pub(crate) struct Slot {
    period: Period,
    date: Date,
    pub(crate) start_ms: i64,
    pub(crate) end_ms: i64,
}

impl Slot {
    pub(crate) fn calendar_period(&self) -> CalendarPeriod {
        let (year, month, day) = (self.date.year(), self.date.month(), self.date.day());
        let start = match self.period {
            Period::Day => format!("{year:04}-{month:02}-{day:02}"),
            Period::Month => format!("{year:04}-{month:02}"),
        };
        CalendarPeriod { period: self.period, start, start_ms: self.start_ms, end_ms: self.end_ms }
    }
}

/// The periods of one length in one zone. Every function returns `None` only
/// at the ends of the supported calendar (years -9999 to 9999).
pub(crate) struct Calendar<'z> {
    zone: &'z TimeZone,
    period: Period,
}

impl<'z> Calendar<'z> {
    pub(crate) fn new(zone: &'z TimeZone, period: Period) -> Calendar<'z> {
        Calendar { zone, period }
    }

    /// The period whose `[start, end)` holds the instant.
    pub(crate) fn containing(&self, ts_ms: i64) -> Option<Slot> {
        let instant = Timestamp::from_millisecond(ts_ms).ok()?;
        let date = self.zone.to_datetime(instant).date();
        let mut slot = self.slot(self.period_date(date))?;
        // The local date is right except around a fold that crosses midnight
        // backwards; walk to the period that really holds the instant.
        while slot.end_ms <= ts_ms {
            slot = self.following(&slot)?;
        }
        while slot.start_ms > ts_ms {
            slot = self.preceding(&slot)?;
        }
        Some(slot)
    }

    /// The period right after.
    pub(crate) fn following(&self, slot: &Slot) -> Option<Slot> {
        self.slot(self.step(slot.date, 1)?)
    }

    fn preceding(&self, slot: &Slot) -> Option<Slot> {
        self.slot(self.step(slot.date, -1)?)
    }

    fn slot(&self, date: Date) -> Option<Slot> {
        let start_ms = first_instant(self.zone, date)?;
        let end_ms = first_instant(self.zone, self.step(date, 1)?)?;
        Some(Slot { period: self.period, date, start_ms, end_ms })
    }

    fn period_date(&self, date: Date) -> Date {
        match self.period {
            Period::Day => date,
            Period::Month => date.first_of_month(),
        }
    }

    fn step(&self, date: Date, by: i8) -> Option<Date> {
        match (self.period, by) {
            (Period::Day, 1) => date.tomorrow().ok(),
            (Period::Day, _) => date.yesterday().ok(),
            (Period::Month, 1) if date.month() == 12 => Date::new(date.year().checked_add(1)?, 1, 1).ok(),
            (Period::Month, 1) => Date::new(date.year(), date.month() + 1, 1).ok(),
            (Period::Month, _) if date.month() == 1 => Date::new(date.year().checked_sub(1)?, 12, 1).ok(),
            (Period::Month, _) => Date::new(date.year(), date.month() - 1, 1).ok(),
        }
    }
}

/// The first instant whose local date is `date`, in milliseconds.
fn first_instant(zone: &TimeZone, date: Date) -> Option<i64> {
    let midnight = date.to_datetime(Time::midnight());
    let ambiguous = zone.to_ambiguous_timestamp(midnight);
    let instant = match ambiguous.offset() {
        AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(midnight).ok()?,
        // Midnight happens twice: the day starts at the first.
        AmbiguousOffset::Fold { before, .. } => before.to_timestamp(midnight).ok()?,
        // Midnight does not exist: the day starts where the gap ends, at the
        // transition. Read with the offset before the gap, midnight names an
        // instant at or after the transition; the transition is the latest
        // one at or before that instant.
        AmbiguousOffset::Gap { before, after } => {
            let late = before.to_timestamp(midnight).ok()?;
            let early = after.to_timestamp(midnight).ok()?;
            let just_after = late.checked_add(SignedDuration::from_nanos(1)).ok()?;
            match zone.preceding(just_after).next() {
                Some(transition) if transition.timestamp() > early => transition.timestamp(),
                _ => late,
            }
        }
    };
    Some(instant.as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instant(rfc3339: &str) -> i64 {
        rfc3339.parse::<Timestamp>().unwrap().as_millisecond()
    }

    fn day(zone: &str, ts: &str) -> CalendarPeriod {
        let zone = TimeZone::get(zone).unwrap();
        Calendar::new(&zone, Period::Day).containing(instant(ts)).unwrap().calendar_period()
    }

    fn hours(period: &CalendarPeriod) -> i64 {
        (period.end_ms - period.start_ms) / 3_600_000
    }

    #[test]
    fn berlin_has_a_23_hour_and_a_25_hour_day() {
        let spring = day("Europe/Berlin", "2026-03-29T12:00:00+02:00");
        assert_eq!((spring.start.as_str(), hours(&spring)), ("2026-03-29", 23));
        assert_eq!(spring.start_ms, instant("2026-03-29T00:00:00+01:00"));
        let autumn = day("Europe/Berlin", "2026-10-25T12:00:00+01:00");
        assert_eq!((autumn.start.as_str(), hours(&autumn)), ("2026-10-25", 25));
    }

    #[test]
    fn santiago_day_starts_at_one_when_midnight_is_skipped() {
        // 2024-09-08 00:00 -04 did not exist: clocks went to 01:00 -03.
        let gap = day("America/Santiago", "2024-09-08T12:00:00-03:00");
        assert_eq!(gap.start_ms, instant("2024-09-08T01:00:00-03:00"));
        assert_eq!(hours(&gap), 23);
        let before = day("America/Santiago", "2024-09-07T12:00:00-04:00");
        assert_eq!(before.end_ms, gap.start_ms);
        assert_eq!(hours(&before), 24);
    }

    /// A made-up zone that springs forward from 23:30 to 00:30: the next
    /// date's midnight does not exist and the date starts at the transition,
    /// local 00:30 (jiff's `compatible` would say 01:00); it falls back from
    /// 00:30 to 23:30, so the first 00:00 starts the date and the instants of
    /// the repeated 23:30-00:00 belong to the new date.
    #[test]
    fn transitions_crossing_midnight() {
        let zone = TimeZone::posix("XST3XDT,M3.2.0/23:30,M11.1.0/0:30").unwrap();
        let days = Calendar::new(&zone, Period::Day);
        // Sunday 2026-03-08 23:30 -03 jumps to Monday 03-09 00:30 -02.
        let monday = days.containing(instant("2026-03-09T12:00:00-02:00")).unwrap();
        assert_eq!(monday.start_ms, instant("2026-03-09T00:30:00-02:00"));
        assert_eq!(monday.start_ms, instant("2026-03-09T02:30:00Z"));
        let sunday = days.containing(instant("2026-03-08T12:00:00-03:00")).unwrap();
        assert_eq!((sunday.end_ms - sunday.start_ms) / 60_000, 23 * 60 + 30);
        // Sunday 2026-11-01 00:30 -02 goes back to Saturday 10-31 23:30 -03.
        let sunday = days.containing(instant("2026-11-01T12:00:00-03:00")).unwrap();
        assert_eq!(sunday.calendar_period().start, "2026-11-01");
        assert_eq!(sunday.start_ms, instant("2026-11-01T00:00:00-02:00"));
        // Local "2026-10-31 23:45 -03" comes after the first midnight: Sunday.
        let repeated = days.containing(instant("2026-10-31T23:45:00-03:00")).unwrap();
        assert_eq!(repeated.calendar_period().start, "2026-11-01");
        let saturday = days.containing(instant("2026-10-31T12:00:00-02:00")).unwrap();
        assert_eq!(saturday.end_ms, sunday.start_ms);
        assert_eq!((sunday.end_ms - sunday.start_ms) / 60_000, 25 * 60);
    }

    #[test]
    fn an_instant_at_a_boundary_belongs_to_the_period_it_starts() {
        let zone = TimeZone::get("Europe/Moscow").unwrap();
        let month = Calendar::new(&zone, Period::Month).containing(instant("2028-03-01T00:00:00+03:00")).unwrap();
        assert_eq!(month.calendar_period().start, "2028-03");
        let february = Calendar::new(&zone, Period::Month).containing(instant("2028-02-29T23:59:59+03:00")).unwrap();
        assert_eq!(february.calendar_period().start, "2028-02");
        assert_eq!((february.end_ms - february.start_ms) / 86_400_000, 29);
    }
}
