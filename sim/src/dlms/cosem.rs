//! The COSEM objects a simulated meter serves to a client (Blue Book
//! 4.5), what a GET of them reads and what a SET of them would write:
//!
//! - the Clock (class 8) `0.0.1.0.0.255`, attribute 2 `time`: an
//!   octet-string of 12, the COSEM date-time. Writing it sets the time of
//!   the meter's next push ([`super::meter::Meter::set_clock`]); reading it
//!   gives that time.
//! - the push action schedule, a Single action schedule (class 22)
//!   `0.0.15.0.4.255`, attribute 4 `execution_time`: an array of
//!   structures {time `octet-string(4)` hh mm ss hundredths, date
//!   `octet-string(5)` all `FF`}. The schedules `docs/dlms-commands.md`
//!   allows are every N minutes with N dividing 60 (hour `FF`, minutes 0,
//!   N, 2N, ...) or a multiple of 60 dividing 1440 (hours 0, N/60, ...,
//!   minute 0); writing one sets the meter's push period to N minutes
//!   ([`super::meter::Meter::set_period`]). Entries may come in any order;
//!   seconds and hundredths must be 0 and every date `FF`. Hourly pushes
//!   are either one entry `FF:00` or the 24 hours at minute 0. Reading it
//!   gives the meter's period as the first rule writes it (the second for
//!   more than an hour), or an empty array when no schedule of those
//!   gives the period (`--period-s 1000`).
//!
//! Attribute 1 (`logical_name`) of each reads its OBIS code and is not
//! writable; other attributes are not modelled: read-write-denied. An
//! OBIS code the meter has with another class id is
//! object-class-inconsistent; any other object, object-undefined. A SET
//! of the wrong type is type-unmatched; a value of the right type the
//! meter cannot take (a date that does not exist, a schedule the spec
//! does not allow) is other-reason.

use super::apdu::DateTime;
use super::meter::Meter;
use super::xdlms::{Data, DataAccessResult, put_octet_string, tag};

/// The Clock's logical name.
pub const CLOCK: [u8; 6] = [0, 0, 1, 0, 0, 255];
/// The Clock's class id.
pub const CLOCK_CLASS: u16 = 8;
/// The Clock's `time` attribute.
pub const CLOCK_TIME: i8 = 2;
/// The push action schedule's logical name.
pub const PUSH_SCHEDULE: [u8; 6] = [0, 0, 15, 0, 4, 255];
/// The Single action schedule's class id.
pub const SINGLE_ACTION_SCHEDULE_CLASS: u16 = 22;
/// The Single action schedule's `execution_time` attribute.
pub const EXECUTION_TIME: i8 = 4;
/// Every object's `logical_name` attribute.
pub const LOGICAL_NAME: i8 = 1;

/// A date not specified: every byte `FF` (the schedule runs every day).
const ANY_DATE: [u8; 5] = [0xFF; 5];
/// An hour not specified (every hour).
const ANY_HOUR: u8 = 0xFF;

/// An object the meter has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Object {
    /// The Clock.
    Clock,
    /// The push action schedule.
    PushSchedule,
}

impl Object {
    /// The object named `logical_name` with class `class_id`, or why
    /// there is none.
    pub fn find(class_id: u16, logical_name: [u8; 6]) -> Result<Object, DataAccessResult> {
        let (object, class) = match logical_name {
            CLOCK => (Object::Clock, CLOCK_CLASS),
            PUSH_SCHEDULE => (Object::PushSchedule, SINGLE_ACTION_SCHEDULE_CLASS),
            _ => return Err(DataAccessResult::ObjectUndefined),
        };
        if class != class_id {
            return Err(DataAccessResult::ObjectClassInconsistent);
        }
        Ok(object)
    }

    /// Its logical name.
    pub fn logical_name(self) -> [u8; 6] {
        match self {
            Object::Clock => CLOCK,
            Object::PushSchedule => PUSH_SCHEDULE,
        }
    }

    /// The attribute that holds what a command sets.
    pub fn value_attribute(self) -> i8 {
        match self {
            Object::Clock => CLOCK_TIME,
            Object::PushSchedule => EXECUTION_TIME,
        }
    }
}

/// What a SET writes to the meter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// The clock: the time of the next push.
    Clock(DateTime),
    /// The push period, seconds.
    PushPeriod(u32),
}

/// What a SET of `attribute` of `object` to `data` (A-XDR) writes to
/// `meter`, or why not.
pub fn set(meter: &Meter, object: Object, attribute: i8, data: &[u8]) -> Result<Write, DataAccessResult> {
    if attribute != object.value_attribute() {
        return Err(DataAccessResult::ReadWriteDenied);
    }
    let data = Data::decode(data).ok_or(DataAccessResult::TypeUnmatched)?;
    match object {
        Object::Clock => {
            let Data::OctetString(bytes) = data else { return Err(DataAccessResult::TypeUnmatched) };
            let bytes = <[u8; 12]>::try_from(bytes).map_err(|_| DataAccessResult::TypeUnmatched)?;
            let offset = meter.next_time().offset_minutes;
            DateTime::from_bytes(bytes, offset).map(Write::Clock).ok_or(DataAccessResult::OtherReason)
        }
        Object::PushSchedule => push_period(&data).map(Write::PushPeriod),
    }
}

/// What a GET of `attribute` of `object` reads from `meter` (A-XDR), or
/// why not.
pub fn get(meter: &Meter, object: Object, attribute: i8) -> Result<Vec<u8>, DataAccessResult> {
    let mut out = Vec::new();
    match (object, attribute) {
        (_, LOGICAL_NAME) => put_octet_string(&mut out, &object.logical_name()),
        (Object::Clock, CLOCK_TIME) => put_octet_string(&mut out, &meter.next_time().bytes()),
        (Object::PushSchedule, EXECUTION_TIME) => out = execution_time(meter.period_s()),
        _ => return Err(DataAccessResult::ReadWriteDenied),
    }
    Ok(out)
}

/// The times of day (hour, minute) of an `execution_time` array, or why
/// it is not one: type-unmatched when it is not an array of {octet-string
/// (4), octet-string(5)}, other-reason when an entry has seconds,
/// hundredths or a date.
fn entries(data: &Data) -> Result<Vec<(u8, u8)>, DataAccessResult> {
    let Data::Array(items) = data else { return Err(DataAccessResult::TypeUnmatched) };
    let mut times = Vec::with_capacity(items.len());
    for item in items {
        let Data::Structure(fields) = item else { return Err(DataAccessResult::TypeUnmatched) };
        let [Data::OctetString(time), Data::OctetString(date)] = fields.as_slice() else {
            return Err(DataAccessResult::TypeUnmatched);
        };
        let [hour, minute, second, hundredths] =
            <[u8; 4]>::try_from(*time).map_err(|_| DataAccessResult::TypeUnmatched)?;
        let date = <[u8; 5]>::try_from(*date).map_err(|_| DataAccessResult::TypeUnmatched)?;
        if date != ANY_DATE || second != 0 || hundredths != 0 {
            return Err(DataAccessResult::OtherReason);
        }
        times.push((hour, minute));
    }
    Ok(times)
}

/// Whether `values` (sorted) are 0, step, 2 step, ... up to `whole`.
fn evenly(values: &[u8], whole: u32) -> Option<u32> {
    let count = u32::try_from(values.len()).ok().filter(|n| *n > 0 && whole.is_multiple_of(*n))?;
    let step = whole / count;
    values.iter().zip(0..).all(|(v, i)| u32::from(*v) == i * step).then_some(step)
}

/// The push period (seconds) of an `execution_time` array, or why it is
/// not one the spec allows.
pub fn push_period(data: &Data) -> Result<u32, DataAccessResult> {
    let mut times = entries(data)?;
    times.sort_unstable();
    let minutes = if times.iter().all(|(hour, _)| *hour == ANY_HOUR) {
        let minutes: Vec<u8> = times.iter().map(|(_, minute)| *minute).collect();
        evenly(&minutes, 60)
    } else if times.iter().all(|(_, minute)| *minute == 0) {
        let hours: Vec<u8> = times.iter().map(|(hour, _)| *hour).collect();
        evenly(&hours, 24).map(|h| h * 60)
    } else {
        None
    };
    minutes.map(|m| m * 60).ok_or(DataAccessResult::OtherReason)
}

/// The `execution_time` array of pushes every `period_s` seconds, as the
/// spec writes it; empty when no allowed schedule has that period.
pub fn execution_time(period_s: u32) -> Vec<u8> {
    let minutes = period_s / 60;
    let times: Vec<(u8, u8)> = if !period_s.is_multiple_of(60) || minutes == 0 {
        Vec::new()
    } else if 60u32.is_multiple_of(minutes) {
        (0..60 / minutes).map(|i| (ANY_HOUR, (i * minutes) as u8)).collect()
    } else if minutes.is_multiple_of(60) && 1440u32.is_multiple_of(minutes) {
        (0..1440 / minutes).map(|i| ((i * minutes / 60) as u8, 0)).collect()
    } else {
        Vec::new()
    };
    let mut out = vec![tag::ARRAY, times.len() as u8];
    for (hour, minute) in times {
        out.extend_from_slice(&[tag::STRUCTURE, 2]);
        put_octet_string(&mut out, &[hour, minute, 0, 0]);
        put_octet_string(&mut out, &ANY_DATE);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use meterhub_plugin_api::hex;

    fn period(bytes: &[u8]) -> Result<u32, DataAccessResult> {
        push_period(&Data::decode(bytes).ok_or(DataAccessResult::TypeUnmatched)?)
    }

    #[test]
    fn the_specs_schedules_give_their_periods_and_back() {
        let every_30 =
            "01 02 02 02 09 04 FF 00 00 00 09 05 FF FF FF FF FF 02 02 09 04 FF 1E 00 00 09 05 FF FF FF FF FF";
        let every_30 = hex::decode_spaced(every_30).unwrap();
        assert_eq!(period(&every_30), Ok(1800));
        assert_eq!(execution_time(1800), every_30);
        for minutes in [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60, 120, 180, 240, 360, 480, 720, 1440] {
            assert_eq!(period(&execution_time(minutes * 60)), Ok(minutes * 60), "{minutes} min");
        }
        // Hourly as 24 entries at minute 0, in any order.
        let mut hours: Vec<u8> = vec![tag::ARRAY, 24];
        for hour in (0..24).rev() {
            hours.extend_from_slice(&[2, 2, 9, 4, hour, 0, 0, 0, 9, 5, 255, 255, 255, 255, 255]);
        }
        assert_eq!(period(&hours), Ok(3600));
        assert_eq!(execution_time(1000), [tag::ARRAY, 0], "no schedule gives 1000 s");
    }

    #[test]
    fn schedules_the_spec_does_not_allow_are_refused() {
        let entry = |hour: u8, minute: u8| [2, 2, 9, 4, hour, minute, 0, 0, 9, 5, 255, 255, 255, 255, 255];
        let array = |entries: &[[u8; 15]]| [vec![1, entries.len() as u8], entries.concat()].concat();
        let other = Err(DataAccessResult::OtherReason);
        assert_eq!(period(&array(&[entry(255, 0), entry(255, 7)])), other, "7 does not divide 60");
        assert_eq!(period(&array(&[entry(255, 0), entry(255, 20)])), other, "not evenly spread");
        assert_eq!(period(&array(&[entry(0, 0), entry(7, 0), entry(14, 0)])), other, "7 h does not divide 24");
        assert_eq!(period(&array(&[entry(255, 0), entry(12, 0)])), other, "mixed rules");
        assert_eq!(period(&array(&[])), other, "empty");
        assert_eq!(period(&array(&[entry(255, 0), entry(255, 0)])), other, "twice the same minute");
        let mut seconds = entry(255, 0);
        seconds[6] = 30;
        assert_eq!(period(&array(&[seconds])), other, "seconds");
        let mut dated = entry(255, 0);
        dated[10] = 0x07;
        assert_eq!(period(&array(&[dated])), other, "a date");
        let unmatched = Err(DataAccessResult::TypeUnmatched);
        assert_eq!(period(&[9, 2, 0, 0]), unmatched, "not an array");
        assert_eq!(period(&[1, 1, 9, 4, 255, 0, 0, 0]), unmatched, "entries not structures");
        assert_eq!(period(&[1, 1, 2, 2, 9, 3, 255, 0, 0, 9, 5, 255, 255, 255, 255, 255]), unmatched, "time of 3");
    }

    #[test]
    fn objects_are_found_by_name_and_class() {
        assert_eq!(Object::find(8, CLOCK), Ok(Object::Clock));
        assert_eq!(Object::find(22, PUSH_SCHEDULE), Ok(Object::PushSchedule));
        assert_eq!(Object::find(1, CLOCK), Err(DataAccessResult::ObjectClassInconsistent));
        assert_eq!(Object::find(1, [0, 0, 96, 1, 0, 255]), Err(DataAccessResult::ObjectUndefined));
    }
}
