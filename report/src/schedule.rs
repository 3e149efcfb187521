//! When scheduled reports are due: the report of each day is made at a
//! local time on the next day, the report of each month at a local time on
//! the first of the next; and which periods a host that was down missed,
//! oldest first, so each is made once when it comes back.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

/// How often a report is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Every {
    /// A report of each day.
    Day,
    /// A report of each month.
    Month,
}

/// A schedule's clock: how often, at what local time, in which zone.
#[derive(Debug, Clone, PartialEq)]
pub struct Clock {
    /// Day or month.
    pub every: Every,
    /// The local time the report is made at, on the day after its period.
    pub at: Time,
    /// The zone of that time and of the periods.
    pub zone: TimeZone,
}

impl Clock {
    /// The first date of the period after the one starting on `start`.
    pub fn next(&self, start: Date) -> Option<Date> {
        match self.every {
            Every::Day => start.tomorrow().ok(),
            Every::Month => start.first_of_month().checked_add(1.month()).ok(),
        }
    }

    /// The first date of the period before the one starting on `start`.
    fn previous(&self, start: Date) -> Option<Date> {
        match self.every {
            Every::Day => start.yesterday().ok(),
            Every::Month => start.first_of_month().checked_sub(1.month()).ok(),
        }
    }

    /// When the report of the period starting on `start` is due: `at` on
    /// the next period's first day (a time a DST gap skips: the instant
    /// after the gap).
    pub fn due_ms(&self, start: Date) -> Option<i64> {
        let end = self.next(start)?;
        let at = end.to_datetime(self.at).to_zoned(self.zone.clone()).ok()?;
        Some(at.timestamp().as_millisecond())
    }

    /// The newest period whose report is due at `now_ms`.
    pub fn latest_due(&self, now_ms: i64) -> Option<Date> {
        let today = Timestamp::from_millisecond(now_ms).ok()?.to_zoned(self.zone.clone()).date();
        let mut start = match self.every {
            Every::Day => today,
            Every::Month => today.first_of_month(),
        };
        // The period holding today is never due yet; the one before is
        // due from `at` today (or the 1st), else the one before that.
        for _ in 0..3 {
            start = self.previous(start)?;
            if self.due_ms(start)? <= now_ms {
                return Some(start);
            }
        }
        None
    }

    /// The periods to make at `now_ms`, oldest first: every one after
    /// `last` (the newest made) that is due, at most the newest `keep`
    /// (older ones would be dropped by the retention at once); when none
    /// was made yet, only the newest due.
    pub fn missed(&self, last: Option<Date>, now_ms: i64, keep: usize) -> Vec<Date> {
        let Some(latest) = self.latest_due(now_ms) else { return Vec::new() };
        let Some(last) = last else { return vec![latest] };
        let mut out = Vec::new();
        let mut at = self.next(last);
        while let Some(start) = at.filter(|d| *d <= latest) {
            out.push(start);
            at = self.next(start);
        }
        let older = out.len().saturating_sub(keep.max(1));
        out.drain(..older);
        out
    }

    /// The name of the period starting on `start`: `YYYY-MM-DD` or
    /// `YYYY-MM`.
    pub fn name(&self, start: Date) -> String {
        match self.every {
            Every::Day => start.to_string(),
            Every::Month => format!("{:04}-{:02}", start.year(), start.month()),
        }
    }

    /// The period named `name` (as [`Clock::name`] writes it).
    pub fn parse(&self, name: &str) -> Option<Date> {
        match self.every {
            Every::Day => name.parse().ok(),
            Every::Month => format!("{name}-01").parse().ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock(every: Every, at: &str, zone: &str) -> Clock {
        Clock { every, at: at.parse().unwrap(), zone: TimeZone::get(zone).unwrap() }
    }

    fn ms(text: &str) -> i64 {
        text.parse::<Timestamp>().unwrap().as_millisecond()
    }

    fn date(text: &str) -> Date {
        text.parse().unwrap()
    }

    #[test]
    fn a_daily_report_is_due_at_its_time_the_next_day() {
        let c = clock(Every::Day, "07:00", "Europe/Moscow");
        assert_eq!(c.latest_due(ms("2026-03-05T06:59:59+03:00")), Some(date("2026-03-03")));
        assert_eq!(c.latest_due(ms("2026-03-05T07:00:00+03:00")), Some(date("2026-03-04")));
        assert_eq!(c.name(date("2026-03-04")), "2026-03-04");
    }

    #[test]
    fn a_monthly_report_covers_the_whole_previous_month_on_the_first() {
        // Not FUXA's 1-30 January on 1 March: February, made on 1 March.
        let c = clock(Every::Month, "02:00", "Europe/Moscow");
        assert_eq!(c.latest_due(ms("2026-03-01T02:00:00+03:00")), Some(date("2026-02-01")));
        assert_eq!(c.latest_due(ms("2026-03-01T01:59:00+03:00")), Some(date("2026-01-01")));
        assert_eq!(c.next(date("2026-02-01")), Some(date("2026-03-01")));
        assert_eq!(c.name(date("2026-02-01")), "2026-02");
        assert_eq!(c.parse("2026-02"), Some(date("2026-02-01")));
    }

    #[test]
    fn a_time_a_dst_gap_skips_is_the_instant_after_it() {
        // Berlin springs from 02:00 to 03:00 on 29 March 2026.
        let c = clock(Every::Day, "02:30", "Europe/Berlin");
        assert_eq!(c.due_ms(date("2026-03-28")), Some(ms("2026-03-29T03:30:00+02:00")));
    }

    #[test]
    fn a_host_down_for_three_days_makes_each_missed_day_once_oldest_first() {
        let c = clock(Every::Day, "07:00", "UTC");
        let now = ms("2026-03-10T08:00:00Z");
        let missed = c.missed(Some(date("2026-03-06")), now, 30);
        assert_eq!(missed, [date("2026-03-07"), date("2026-03-08"), date("2026-03-09")]);
        assert_eq!(c.missed(Some(date("2026-03-09")), now, 30), [], "nothing twice");
        assert_eq!(c.missed(None, now, 30), [date("2026-03-09")], "a new schedule starts with the newest");
        assert_eq!(
            c.missed(Some(date("2026-01-01")), now, 2),
            [date("2026-03-08"), date("2026-03-09")],
            "at most keep"
        );
    }
}
