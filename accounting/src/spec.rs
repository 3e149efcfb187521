//! What is known about a meter besides its readings: the time zone its
//! calendar days and months are counted in, the register capacity, and the
//! replacement and reset events. Validated once, so it cannot be invalid.

use jiff::tz::TimeZone;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Something that happened to the register, told by a person or a system
/// other than the meter. Readings with `ts_ms >= at_ms` are taken to come
/// from after the event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RegisterEvent {
    /// The meter was replaced: the old one ended at `old_final`, the new one
    /// started at `new_initial`.
    Replacement {
        /// When, milliseconds since the Unix epoch.
        at_ms: i64,
        /// The old meter's last register value.
        old_final: Decimal,
        /// The new meter's first register value.
        new_initial: Decimal,
    },
    /// The register was set to `value_after` (a reset, a reprogramming).
    Reset {
        /// When, milliseconds since the Unix epoch.
        at_ms: i64,
        /// The register value just before, when known. Unknown: the
        /// consumption between the reading before and the reset is counted as
        /// zero (it is not invented).
        value_before: Option<Decimal>,
        /// The register value just after.
        value_after: Decimal,
    },
}

impl RegisterEvent {
    /// When the event happened, milliseconds since the Unix epoch.
    pub fn at_ms(&self) -> i64 {
        match self {
            RegisterEvent::Replacement { at_ms, .. } | RegisterEvent::Reset { at_ms, .. } => *at_ms,
        }
    }
}

/// A meter channel's accounting settings, validated.
#[derive(Clone, Debug)]
pub struct MeterSpec {
    zone_name: String,
    zone: TimeZone,
    capacity: Option<Decimal>,
    events: Vec<RegisterEvent>,
}

/// Why a [`MeterSpec`] was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpecError {
    /// The zone is not an IANA time zone name of the bundled database.
    #[error("time zone {zone:?} is not in the time zone database ({reason})")]
    UnknownZone {
        /// The name given.
        zone: String,
        /// What the time zone database said.
        reason: String,
    },
    /// A register capacity must be above zero.
    #[error("register capacity {capacity} is not above zero")]
    CapacityNotPositive {
        /// The capacity given.
        capacity: Decimal,
    },
}

/// Two specs are equal when they say the same: zone name, capacity and
/// events (a host can tell whether a meter's accounting settings changed).
impl PartialEq for MeterSpec {
    fn eq(&self, other: &MeterSpec) -> bool {
        self.zone_name == other.zone_name && self.capacity == other.capacity && self.events == other.events
    }
}

impl Eq for MeterSpec {}

impl MeterSpec {
    /// Checks and builds a spec. `zone` is an IANA name (`Europe/Moscow`,
    /// `UTC`); `capacity` is the value at which the register wraps to zero
    /// (a 5-digit register counting whole units has capacity `100000`);
    /// events may come in any order (events at the same instant keep theirs).
    pub fn new(zone: &str, capacity: Option<Decimal>, events: Vec<RegisterEvent>) -> Result<MeterSpec, SpecError> {
        let tz = TimeZone::get(zone)
            .map_err(|error| SpecError::UnknownZone { zone: zone.to_owned(), reason: error.to_string() })?;
        if let Some(capacity) = capacity
            && capacity <= Decimal::ZERO
        {
            return Err(SpecError::CapacityNotPositive { capacity });
        }
        let mut events = events;
        events.sort_by_key(RegisterEvent::at_ms);
        Ok(MeterSpec { zone_name: zone.to_owned(), zone: tz, capacity, events })
    }

    /// The IANA zone name, as given.
    pub fn zone(&self) -> &str {
        &self.zone_name
    }

    /// The register capacity, if the register wraps.
    pub fn capacity(&self) -> Option<Decimal> {
        self.capacity
    }

    /// The events, ordered by time.
    pub fn events(&self) -> &[RegisterEvent] {
        &self.events
    }

    pub(crate) fn time_zone(&self) -> &TimeZone {
        &self.zone
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_an_unknown_zone_and_a_zero_capacity() {
        assert!(matches!(MeterSpec::new("Mars/Olympus", None, vec![]), Err(SpecError::UnknownZone { .. })));
        assert_eq!(
            MeterSpec::new("UTC", Some(Decimal::ZERO), vec![]).unwrap_err(),
            SpecError::CapacityNotPositive { capacity: Decimal::ZERO }
        );
    }

    #[test]
    fn orders_events_by_time() {
        let reset = |at_ms| RegisterEvent::Reset { at_ms, value_before: None, value_after: Decimal::ZERO };
        let spec = MeterSpec::new("Europe/Moscow", None, vec![reset(5), reset(1)]).unwrap();
        assert_eq!(spec.events().iter().map(RegisterEvent::at_ms).collect::<Vec<_>>(), [1, 5]);
    }
}
