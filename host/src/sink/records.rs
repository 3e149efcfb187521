//! What a sink receives, made from what the host keeps: archived readings
//! from the archive's log, and deltas, meters and modules from the
//! accounting store's change index (`accounting/store/changes.rs`).

use meterhub_accounting::{Delta, Period};
use meterhub_plugin_api::{ArchivedReading, DeltaKey, DeltaPeriod, DeltaRecord, RegistryEntry, SinkRecord};
use meterhub_storage::archive::StoredReading;

use crate::accounting::AccountingStore;
use crate::accounting::error::AccountingError;
use crate::accounting::store::Changed;

/// A stored reading as a sink receives it.
pub fn reading(stored: StoredReading) -> SinkRecord {
    SinkRecord::Reading(ArchivedReading {
        seq: stored.seq,
        source: stored.source,
        reading: stored.reading,
        conflict: stored.conflict,
        archived_at_ms: stored.archived_at_ms,
    })
}

/// The flags of a delta as sinks name them.
fn flags(d: &Delta) -> Vec<String> {
    [
        (d.estimated, "estimated"),
        (d.in_progress, "in_progress"),
        (d.partial_start, "partial_start"),
        (d.conflict, "conflict"),
        (d.unexplained_decrease, "unexplained_decrease"),
        (d.rollovers > 0, "rollover"),
        (d.events > 0, "event"),
    ]
    .into_iter()
    .filter(|(set, _)| *set)
    .map(|(_, name)| name.to_owned())
    .collect()
}

/// The units of registers, read from the registry once per batch.
pub type Units = std::collections::HashMap<(String, String), String>;

/// A change of the accounting store as a sink receives it, with the item's
/// value now; `None` when the item is gone without a trace (a meter removed).
/// `units` keeps the registers' units found so far in the batch.
pub fn change(
    store: &AccountingStore,
    changed: &Changed,
    units: &mut Units,
) -> Result<Option<SinkRecord>, AccountingError> {
    Ok(match changed {
        Changed::Delta { meter, channel, month, start_ms }
        | Changed::DeltaRemoved { meter, channel, month, start_ms } => {
            let (period, sink_period) =
                if *month { (Period::Month, DeltaPeriod::Month) } else { (Period::Day, DeltaPeriod::Day) };
            let key =
                DeltaKey { meter: meter.clone(), channel: channel.clone(), period: sink_period, start_ms: *start_ms };
            let now = store.deltas(meter, Some(channel), period, *start_ms, start_ms.saturating_add(1))?;
            match now.into_iter().next() {
                Some((_, d)) => {
                    let register = (meter.clone(), channel.clone());
                    let unit = match units.get(&register) {
                        Some(unit) => unit.clone(),
                        None => {
                            let unit = store
                                .meter(meter)?
                                .and_then(|m| m.channels.get(channel).map(|c| c.unit.clone()))
                                .unwrap_or_default();
                            units.insert(register, unit.clone());
                            unit
                        }
                    };
                    Some(SinkRecord::Delta(DeltaRecord {
                        key,
                        label: d.start.clone(),
                        end_ms: d.end_ms,
                        from_ms: d.from_ms,
                        to_ms: d.to_ms,
                        consumption: d.consumption,
                        start_value: d.start_value,
                        end_value: d.end_value,
                        unit,
                        flags: flags(&d),
                        readings: d.readings.clone(),
                    }))
                }
                None => Some(SinkRecord::DeltaRemoved(key)),
            }
        }
        Changed::Meter(id) => store.meter(id)?.map(|m| {
            SinkRecord::Meter(RegistryEntry { id: id.clone(), json: serde_json::to_string(&m).unwrap_or_default() })
        }),
        Changed::Module(id) => store.module(id)?.map(|m| {
            SinkRecord::Module(RegistryEntry { id: id.clone(), json: serde_json::to_string(&m).unwrap_or_default() })
        }),
    })
}
