//! A batch checked ([`crate::check`]) and collapsed: what is left to write,
//! by kind, and what was rejected.
//!
//! - readings are all kept (a re-sent one changes nothing in SQL);
//! - deltas collapse per key (meter, channel, period, start): the last
//!   record of the batch for a key wins, so a delta then its removal is a
//!   removal, a removal then a delta an upsert;
//! - meters and modules collapse per id, the last one winning.
//!
//! A rejected record takes no part in collapsing: an earlier record of its
//! key is written as if it were not there. Kept records stay in the order
//! of the record that won.

use std::collections::HashMap;

use meterhub_plugin_api::{ArchivedReading, DeltaKey, DeltaRecord, RejectedRecord, SinkRecord};
use serde_json::value::RawValue;

use crate::check;

/// A meter or module to upsert: its id and its record as JSON text.
#[derive(Debug, Clone, Copy)]
pub struct Registered<'a> {
    /// Its identity.
    pub id: &'a str,
    /// The registry's record, a JSON object.
    pub record: &'a RawValue,
}

/// What a batch comes to.
#[derive(Debug, Default)]
pub struct Plan<'a> {
    /// Readings to insert, in batch order.
    pub readings: Vec<&'a ArchivedReading>,
    /// Deltas to upsert, one per key.
    pub deltas: Vec<&'a DeltaRecord>,
    /// Keys of deltas to delete, one per key, none of them in `deltas`.
    pub removed: Vec<&'a DeltaKey>,
    /// Meters to upsert, one per id.
    pub meters: Vec<Registered<'a>>,
    /// Modules to upsert, one per id.
    pub modules: Vec<Registered<'a>>,
    /// Records left out, in batch order.
    pub rejected: Vec<RejectedRecord>,
}

/// The last change of a delta's key.
#[derive(Debug, Clone, Copy)]
enum DeltaChange<'a> {
    Upsert(&'a DeltaRecord),
    Remove(&'a DeltaKey),
}

/// Collapsing state: per key or id, the index and content of the last
/// record seen.
#[derive(Debug, Default)]
struct Last<'a> {
    deltas: HashMap<&'a DeltaKey, (usize, DeltaChange<'a>)>,
    meters: HashMap<&'a str, (usize, Registered<'a>)>,
    modules: HashMap<&'a str, (usize, Registered<'a>)>,
}

impl<'a> Plan<'a> {
    /// Check and collapse `batch`. The error (the whole batch refused) is
    /// only for a batch too long for `u32` indexes.
    pub fn of(batch: &'a [SinkRecord]) -> Result<Plan<'a>, String> {
        if u32::try_from(batch.len()).is_err() {
            return Err(format!("a batch of {} records is more than the sink can index", batch.len()));
        }
        let mut plan = Plan::default();
        let mut last = Last::default();
        for (index, record) in batch.iter().enumerate() {
            if let Err(reason) = plan.take(index, record, &mut last) {
                let index = u32::try_from(index).unwrap_or(u32::MAX);
                plan.rejected.push(RejectedRecord { index, reason });
            }
        }
        plan.finish(last);
        Ok(plan)
    }

    /// Check one record and note it; the error is why it is rejected.
    fn take(&mut self, index: usize, record: &'a SinkRecord, last: &mut Last<'a>) -> Result<(), String> {
        match record {
            SinkRecord::Reading(r) => {
                check::reading(r)?;
                self.readings.push(r);
            }
            SinkRecord::Delta(d) => {
                check::delta(d)?;
                last.deltas.insert(&d.key, (index, DeltaChange::Upsert(d)));
            }
            SinkRecord::DeltaRemoved(k) => {
                check::key("", k)?;
                last.deltas.insert(k, (index, DeltaChange::Remove(k)));
            }
            SinkRecord::Meter(e) => {
                let record = check::registry(e)?;
                last.meters.insert(&e.id, (index, Registered { id: &e.id, record }));
            }
            SinkRecord::Module(e) => {
                let record = check::registry(e)?;
                last.modules.insert(&e.id, (index, Registered { id: &e.id, record }));
            }
        }
        Ok(())
    }

    /// The collapsed deltas and registry entries, in the order of the
    /// records that won.
    fn finish(&mut self, last: Last<'a>) {
        for change in in_batch_order(last.deltas.into_values()) {
            match change {
                DeltaChange::Upsert(d) => self.deltas.push(d),
                DeltaChange::Remove(k) => self.removed.push(k),
            }
        }
        self.meters = in_batch_order(last.meters.into_values());
        self.modules = in_batch_order(last.modules.into_values());
    }
}

/// The values of `(index, value)` pairs, by index.
fn in_batch_order<T>(pairs: impl Iterator<Item = (usize, T)>) -> Vec<T> {
    let mut pairs: Vec<(usize, T)> = pairs.collect();
    pairs.sort_by_key(|(index, _)| *index);
    pairs.into_iter().map(|(_, value)| value).collect()
}

#[cfg(test)]
mod tests {
    use meterhub_plugin_api::{DeltaPeriod, RegistryEntry};

    use super::*;

    fn key(meter: &str, start_ms: i64) -> DeltaKey {
        DeltaKey { meter: meter.into(), channel: "volume".into(), period: DeltaPeriod::Day, start_ms }
    }

    fn delta(meter: &str, start_ms: i64, label: &str) -> SinkRecord {
        SinkRecord::Delta(DeltaRecord {
            key: key(meter, start_ms),
            label: label.into(),
            end_ms: start_ms + 86_400_000,
            from_ms: start_ms,
            to_ms: start_ms + 86_400_000,
            consumption: "1".parse().unwrap(),
            start_value: "1".parse().unwrap(),
            end_value: "2".parse().unwrap(),
            unit: "m3".into(),
            flags: vec![],
            readings: vec![],
        })
    }

    fn meter(id: &str, json: &str) -> SinkRecord {
        SinkRecord::Meter(RegistryEntry { id: id.into(), json: json.into() })
    }

    fn labels(plan: &Plan) -> Vec<String> {
        plan.deltas.iter().map(|d| format!("{}@{}:{}", d.key.meter, d.key.start_ms, d.label)).collect()
    }

    #[test]
    fn the_last_change_of_a_delta_key_wins() {
        let batch = [
            delta("a", 0, "first"),
            delta("b", 0, "b"),
            SinkRecord::DeltaRemoved(key("b", 0)),
            delta("a", 0, "second"),
            SinkRecord::DeltaRemoved(key("c", 0)),
            delta("c", 0, "back"),
            delta("a", 86_400_000, "other day"),
        ];
        let plan = Plan::of(&batch).unwrap();
        assert_eq!(labels(&plan), ["a@0:second", "c@0:back", "a@86400000:other day"]);
        assert_eq!(plan.removed, [&key("b", 0)]);
        assert!(plan.rejected.is_empty());
    }

    #[test]
    fn a_rejected_record_leaves_the_earlier_one_of_its_key() {
        let batch = [delta("a", 0, "good"), delta("a", 0, "bad\0"), meter("m", "{}"), meter("m", "[]")];
        let plan = Plan::of(&batch).unwrap();
        assert_eq!(labels(&plan), ["a@0:good"]);
        assert_eq!(plan.rejected.iter().map(|r| r.index).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(plan.meters.iter().map(|m| m.record.get()).collect::<Vec<_>>(), ["{}"]);
    }

    #[test]
    fn the_last_registry_entry_per_id_wins_in_its_place() {
        let batch = [
            meter("m-1", r#"{"v":1}"#),
            meter("m-2", r#"{"v":2}"#),
            meter("m-1", r#"{"v":3}"#),
            SinkRecord::Module(RegistryEntry { id: "m-1".into(), json: r#"{"v":4}"#.into() }),
        ];
        let plan = Plan::of(&batch).unwrap();
        let meters: Vec<(&str, &str)> = plan.meters.iter().map(|m| (m.id, m.record.get())).collect();
        assert_eq!(meters, [("m-2", r#"{"v":2}"#), ("m-1", r#"{"v":3}"#)]);
        assert_eq!(plan.modules.len(), 1, "a module is not a meter of the same id");
    }
}
