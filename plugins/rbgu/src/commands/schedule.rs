//! `set_push_period`: how often the meter pushes, written as the push
//! action schedule, a Single action schedule (class 22) `0.0.15.0.4.255`,
//! attribute 4 (execution_time): an array of structures {time
//! `octet-string(4)` hour, minute, second, hundredths; date
//! `octet-string(5)` all `FF`}, each entry `02 02 09 04 hh mm 00 00 09 05
//! FF FF FF FF FF`, the array `01 <count>`.
//!
//! Args `{"minutes": N}`. N divides 60: every hour (`FF` as the hour) at
//! minutes 0, N, 2N, ... (60/N entries, at most 60); or N is a multiple of
//! 60 dividing 1440: at hours 0, N/60, ... minute 0 (1440/N entries). 60
//! fits both; the first rule is taken (one entry, `FF:00`: every hour at
//! minute 0). Any other N fails naming the rule: a schedule that cannot
//! repeat evenly over the day is not a period.

use super::Set;
use super::apdu::Target;
use super::args::Args;

/// The command's name.
pub const NAME: &str = "set_push_period";
/// The attribute it writes: the push action schedule's execution_time.
pub const PUSH_SCHEDULE: Target = Target { class: 22, obis: [0, 0, 15, 0, 4, 255], attribute: 4 };

/// A push period, minutes, one the rule takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushPeriod(u32);

/// Read the args of `set_push_period`.
pub fn parse(args: &str) -> Result<PushPeriod, String> {
    let args = Args::parse(NAME, args, &["minutes"])?;
    let minutes = args.integer("minutes")?.ok_or_else(|| args.error("minutes", "required"))?;
    PushPeriod::new(minutes).ok_or_else(|| {
        args.error(
            "minutes",
            &format!(
                "{minutes} is no push period: it must divide 60 (every hour at minutes 0, N, 2N, ...) \
                 or be a multiple of 60 dividing 1440 (at hours 0, N/60, ...)"
            ),
        )
    })
}

impl PushPeriod {
    /// The period of `minutes`, if the rule takes it.
    pub fn new(minutes: i64) -> Option<PushPeriod> {
        let ok = (1..=60).contains(&minutes) && 60 % minutes == 0
            || (60..=1440).contains(&minutes) && minutes % 60 == 0 && 1440 % minutes == 0;
        ok.then_some(PushPeriod(minutes as u32))
    }

    /// Its minutes.
    pub fn minutes(self) -> u32 {
        self.0
    }

    /// The execution times, (hour, minute), hour `0xFF` for every hour.
    pub fn times(self) -> Vec<(u8, u8)> {
        let n = self.0;
        match n <= 60 {
            true => (0..60 / n).map(|k| (0xFF, (k * n) as u8)).collect(),
            false => (0..1440 / n).map(|k| ((k * n / 60) as u8, 0)).collect(),
        }
    }

    /// The SET.
    pub fn set(self) -> Set {
        let times = self.times();
        let mut data = vec![0x01, times.len() as u8];
        for (hour, minute) in times {
            data.extend([0x02, 0x02, 0x09, 0x04, hour, minute, 0x00, 0x00, 0x09, 0x05, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        }
        Set { target: PUSH_SCHEDULE, data, answer: format!("push every {} min", self.0) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::testing::unhex;

    #[test]
    fn the_rule() {
        for ok in [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60, 120, 180, 240, 360, 480, 720, 1440] {
            assert_eq!(PushPeriod::new(ok).map(PushPeriod::minutes), Some(ok as u32), "{ok}");
        }
        for no in [-30, 0, 7, 45, 90, 300, 900, 1441, 2880] {
            assert_eq!(PushPeriod::new(no), None, "{no}");
        }
        for (minutes, ok) in [(1, true), (15, true), (30, true), (60, true), (120, true), (1440, true)] {
            assert_eq!(parse(&format!(r#"{{"minutes": {minutes}}}"#)).is_ok(), ok);
        }
        for minutes in [7, 45, 90] {
            assert_eq!(
                parse(&format!(r#"{{"minutes": {minutes}}}"#)).unwrap_err(),
                format!(
                    "set_push_period: argument \"minutes\": {minutes} is no push period: it must divide 60 (every hour \
                     at minutes 0, N, 2N, ...) or be a multiple of 60 dividing 1440 (at hours 0, N/60, ...)"
                )
            );
        }
        assert_eq!(parse("{}").unwrap_err(), r#"set_push_period: argument "minutes": required"#);
        assert_eq!(
            parse(r#"{"minutes": 30, "hours": 1}"#).unwrap_err(),
            r#"set_push_period: argument "hours": unknown; set_push_period takes "minutes""#
        );
    }

    #[test]
    fn the_schedules() {
        let times = |n: i64| PushPeriod::new(n).unwrap().times();
        assert_eq!(times(30), vec![(0xFF, 0), (0xFF, 30)]);
        assert_eq!(times(15), vec![(0xFF, 0), (0xFF, 15), (0xFF, 30), (0xFF, 45)]);
        assert_eq!(times(1).len(), 60);
        assert_eq!(times(1)[59], (0xFF, 59));
        assert_eq!(times(60), vec![(0xFF, 0)], "60 divides 60: every hour at minute 0, one entry");
        assert_eq!(times(120), (0..12).map(|h| (h * 2, 0)).collect::<Vec<_>>());
        assert_eq!(times(1440), vec![(0, 0)]);
        let set = PushPeriod::new(30).unwrap().set();
        assert_eq!(
            set.data,
            unhex(
                "01 02
                 02 02 09 04 FF 00 00 00 09 05 FF FF FF FF FF
                 02 02 09 04 FF 1E 00 00 09 05 FF FF FF FF FF"
            )
        );
        assert_eq!((set.target, set.answer.as_str()), (PUSH_SCHEDULE, "push every 30 min"));
        let daily = PushPeriod::new(1440).unwrap().set();
        assert_eq!(daily.data, unhex("01 01 02 02 09 04 00 00 00 00 09 05 FF FF FF FF FF"));
        assert_eq!(PushPeriod::new(1).unwrap().set().data.len(), 2 + 60 * 15);
    }
}
