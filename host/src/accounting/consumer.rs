//! The deltas consumer: follows the archive's global reading sequence by its
//! own cursor (kept in the accounting database, written in the same batch as
//! the deltas), registers the meters and modules it sees, and recomputes the
//! day and month deltas each new reading touches. A meter whose accounting
//! settings changed (a pending mark) is recomputed in full.
//!
//! What a batch of new readings of one register touches: the periods from
//! the one holding the reading before the earliest new one to the one
//! holding the reading after the latest new one (interpolation and coverage
//! reach no further). Those are recomputed from a window of readings: from
//! the last at or before the first month's start to the first at or after
//! the last month's end, which is all the pure engine needs (its property
//! tests say so).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use meterhub_accounting::{Decimal, Delta, MeterSpec, Period, Reading, Series, deltas, period_at};
use meterhub_plugin_api::ReadingKind;
use tokio::sync::Notify;

use super::error::AccountingError;
use super::model::{ChannelInfo, MeterRecord};
use super::store::{AccountingStore, ConsumerCommit, DeltaRange, Sighting};
use crate::archive::{Archive, ReadingQuery, StoredReading};

/// Archive log records read per step. Each register a step touches costs a
/// window of readings (up to a month of them) however many of its readings
/// the step holds, so a large batch makes catching up cheaper; memory stays
/// bounded by it (some tens of MB).
pub const LOG_BATCH: usize = 65_536;
/// Readings read from the archive per query when loading a window.
const PAGE: usize = 50_000;
/// How long an idle consumer waits before looking at the log again (a
/// metadata change or newly archived readings wake it at once).
pub const IDLE_POLL: Duration = Duration::from_millis(200);

/// The consumer with what it reads and writes.
pub struct Consumer {
    archive: Arc<dyn Archive>,
    store: Arc<AccountingStore>,
    default_zone: String,
}

/// What one [`Consumer::step`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StepReport {
    /// Log records consumed.
    pub records: usize,
    /// Meters recomputed in full.
    pub recomputed: usize,
}

impl StepReport {
    /// Whether there was nothing to do.
    pub fn idle(&self) -> bool {
        self.records == 0 && self.recomputed == 0
    }
}

impl Consumer {
    /// A consumer of `archive` writing to `store`; meters without a zone of
    /// their own count days in `default_zone`.
    pub fn new(archive: Arc<dyn Archive>, store: Arc<AccountingStore>, default_zone: &str) -> Consumer {
        Consumer { archive, store, default_zone: default_zone.to_owned() }
    }

    /// Recomputes the meters marked pending, then consumes one batch of the
    /// log.
    pub fn step(&self) -> Result<StepReport, AccountingError> {
        let mut report = StepReport::default();
        for (meter, generation) in self.store.pending()? {
            self.recompute_meter(&meter, generation)?;
            report.recomputed += 1;
        }
        let cursor = self.store.cursor()?;
        let records = self.archive.log_after(cursor, LOG_BATCH)?;
        let Some(last) = records.last() else { return Ok(report) };
        let next_cursor = last.seq;
        report.records = records.len();
        let mut commit = ConsumerCommit { cursor: Some(next_cursor), ..ConsumerCommit::default() };

        // Per meter what was seen; per cumulative register the span of new timestamps.
        let mut sightings: BTreeMap<&str, Sighting> = BTreeMap::new();
        let mut spans: BTreeMap<(&str, &str), (i64, i64)> = BTreeMap::new();
        for stored in &records {
            let r = &stored.reading;
            let s = sightings.entry(r.device.as_str()).or_insert_with(|| Sighting {
                meter: r.device.clone(),
                source: stored.source.clone(),
                channels: BTreeMap::new(),
                first_ms: r.ts_ms,
                last_ms: r.ts_ms,
                module: None,
            });
            s.source.clone_from(&stored.source);
            s.first_ms = s.first_ms.min(r.ts_ms);
            s.last_ms = s.last_ms.max(r.ts_ms);
            s.channels
                .entry(r.channel.clone())
                .or_insert_with(|| ChannelInfo { kind: r.kind.as_str().to_owned(), unit: r.unit.clone() });
            if r.kind == ReadingKind::Cumulative {
                let span = spans.entry((r.device.as_str(), r.channel.as_str())).or_insert((r.ts_ms, r.ts_ms));
                span.0 = span.0.min(r.ts_ms);
                span.1 = span.1.max(r.ts_ms);
            }
        }
        let mut first_ts: BTreeMap<&str, i64> = BTreeMap::new();
        for (meter, sighting) in &mut sightings {
            if let Some(summary) = self.archive.device(meter)? {
                sighting.module = summary.module;
                first_ts.insert(*meter, summary.first_ts_ms);
            }
        }
        let mut records_by_meter: BTreeMap<&str, Option<MeterRecord>> = BTreeMap::new();
        for ((meter, channel), (min_ts, max_ts)) in spans {
            let record = match records_by_meter.get(meter) {
                Some(r) => r.clone(),
                None => {
                    let r = self.store.meter(meter)?;
                    records_by_meter.insert(meter, r.clone());
                    r
                }
            };
            let (spec, scale) = match &record {
                Some(r) => match r.spec(&self.default_zone) {
                    Ok(spec) => (spec, r.scale(channel)),
                    Err(e) => {
                        tracing::error!(meter, error = %e, "meter's accounting settings refused; its deltas wait");
                        continue;
                    }
                },
                None => (self.default_spec()?, Decimal::ONE),
            };
            let earliest = first_ts.get(meter).copied().unwrap_or(i64::MIN);
            let window = Window { archive: &*self.archive, meter, channel, earliest };
            commit.ranges.extend(window.touched(&spec, scale, min_ts, max_ts)?);
        }
        commit.sightings = sightings.into_values().collect();
        self.store.commit(&commit)?;
        Ok(report)
    }

    fn default_spec(&self) -> Result<MeterSpec, AccountingError> {
        MeterSpec::new(&self.default_zone, None, vec![])
            .map_err(|e| AccountingError::invalid("accounting.time_zone", e.to_string()))
    }

    /// Recomputes every delta of `meter` from all its readings; clears the
    /// pending mark of `generation`.
    fn recompute_meter(&self, meter: &str, generation: u64) -> Result<(), AccountingError> {
        let mut commit = ConsumerCommit { recomputed: vec![(meter.to_owned(), generation)], ..Default::default() };
        if let Some(record) = self.store.meter(meter)? {
            match record.spec(&self.default_zone) {
                Ok(spec) => {
                    let mut channels: Vec<String> = record.cumulative_channels().map(str::to_owned).collect();
                    for stored in self.store.delta_channels(meter)? {
                        if !channels.contains(&stored) {
                            channels.push(stored);
                        }
                    }
                    for channel in channels {
                        let window = Window { archive: &*self.archive, meter, channel: &channel, earliest: i64::MIN };
                        let readings = window.load(None, None)?;
                        let series = series(&readings);
                        let cumulative = record.cumulative_channels().any(|c| c == channel);
                        for period in [Period::Day, Period::Month] {
                            let computed = match (cumulative, series.readings().first(), series.readings().last()) {
                                (true, Some(first), Some(last)) => scaled(
                                    deltas(&series, &spec, period, first.ts_ms, last.ts_ms.saturating_add(1)),
                                    record.scale(&channel),
                                ),
                                _ => Vec::new(),
                            };
                            commit.ranges.push(DeltaRange {
                                meter: meter.to_owned(),
                                channel: channel.clone(),
                                period,
                                from_ms: i64::MIN,
                                to_ms: i64::MAX,
                                deltas: computed,
                            });
                        }
                    }
                }
                Err(e) => tracing::error!(meter, error = %e, "meter's accounting settings refused; its deltas wait"),
            }
        }
        self.store.commit(&commit)?;
        tracing::info!(meter, generation, "deltas recomputed in full");
        Ok(())
    }
}

fn series(readings: &[StoredReading]) -> Series {
    Series::new(readings.iter().map(|s| Reading {
        ts_ms: s.reading.ts_ms,
        value: s.reading.value,
        seq: s.seq,
        conflict: s.conflict,
    }))
}

/// The deltas with consumption and register values multiplied by `scale`
/// (the pulse weight of a pulses channel).
fn scaled(mut deltas: Vec<Delta>, scale: Decimal) -> Vec<Delta> {
    if scale != Decimal::ONE {
        for d in &mut deltas {
            d.consumption = d.consumption.checked_mul(scale).unwrap_or(d.consumption);
            d.start_value = d.start_value.checked_mul(scale).unwrap_or(d.start_value);
            d.end_value = d.end_value.checked_mul(scale).unwrap_or(d.end_value);
        }
    }
    deltas
}

/// Reads of one register's readings from the archive.
struct Window<'a> {
    archive: &'a dyn Archive,
    meter: &'a str,
    channel: &'a str,
    /// No reading of the meter is earlier (stops the backward search).
    earliest: i64,
}

impl Window<'_> {
    /// Readings (conflict records included) with `from <= ts < to`, in order.
    fn load(&self, from_ms: Option<i64>, to_ms: Option<i64>) -> Result<Vec<StoredReading>, AccountingError> {
        let mut out: Vec<StoredReading> = Vec::new();
        let mut from = from_ms;
        loop {
            let q = ReadingQuery {
                device: Some(self.meter.to_owned()),
                channel: Some(self.channel.to_owned()),
                from_ms: from,
                to_ms,
                limit: PAGE,
            };
            let mut page = self.archive.readings(&q)?;
            if page.len() < PAGE {
                out.append(&mut page);
                return Ok(out);
            }
            // Full page: the records at its last timestamp may continue on
            // the next one; read them again from there.
            let last_ts = page.last().map_or(i64::MAX, |r| r.reading.ts_ms);
            page.retain(|r| r.reading.ts_ms < last_ts);
            if page.is_empty() {
                return Err(AccountingError::invalid(
                    "readings",
                    format!("{} {}: more than {PAGE} records at {last_ts}", self.meter, self.channel),
                ));
            }
            out.append(&mut page);
            from = Some(last_ts);
        }
    }

    /// The timestamp of the first reading at or after `ts_ms`.
    fn first_at_or_after(&self, ts_ms: i64) -> Result<Option<i64>, AccountingError> {
        let q = ReadingQuery {
            device: Some(self.meter.to_owned()),
            channel: Some(self.channel.to_owned()),
            from_ms: Some(ts_ms),
            to_ms: None,
            limit: 1,
        };
        Ok(self.archive.readings(&q)?.first().map(|r| r.reading.ts_ms))
    }

    /// The timestamp of the last reading before `ts_ms`: windows growing
    /// backwards until one holds a reading or the meter's first is passed.
    fn last_before(&self, ts_ms: i64) -> Result<Option<i64>, AccountingError> {
        let mut width: i64 = 2 * 86_400_000;
        loop {
            let from = ts_ms.saturating_sub(width);
            if let Some(last) = self.load(Some(from), Some(ts_ms))?.last() {
                return Ok(Some(last.reading.ts_ms));
            }
            if from <= self.earliest || from == i64::MIN {
                return Ok(None);
            }
            width = width.saturating_mul(8);
        }
    }

    /// The ranges of deltas that new readings from `min_ts` to `max_ts`
    /// touch, recomputed.
    fn touched(
        &self,
        spec: &MeterSpec,
        scale: Decimal,
        min_ts: i64,
        max_ts: i64,
    ) -> Result<Vec<DeltaRange>, AccountingError> {
        let lo_ts = self.last_before(min_ts)?.unwrap_or(min_ts);
        let hi_ts = self.first_at_or_after(max_ts.saturating_add(1))?.unwrap_or(max_ts);
        let bounds =
            |period: Period| Some((period_at(spec, period, lo_ts)?.start_ms, period_at(spec, period, hi_ts)?.end_ms));
        let (Some(months), Some(days)) = (bounds(Period::Month), bounds(Period::Day)) else {
            tracing::warn!(meter = self.meter, channel = self.channel, "readings beyond the calendar; no deltas");
            return Ok(Vec::new());
        };
        let window_from = self.last_before(months.0.saturating_add(1))?.unwrap_or(months.0);
        let window_to = self.first_at_or_after(months.1)?.map_or(months.1, |ts| ts.saturating_add(1));
        let series = series(&self.load(Some(window_from), Some(window_to))?);
        Ok([(Period::Day, days), (Period::Month, months)]
            .into_iter()
            .map(|(period, (from_ms, to_ms))| DeltaRange {
                meter: self.meter.to_owned(),
                channel: self.channel.to_owned(),
                period,
                from_ms,
                to_ms,
                deltas: scaled(deltas(&series, spec, period, from_ms, to_ms), scale),
            })
            .collect())
    }
}

/// The accounting side of a running host: the store, the default zone, and
/// the wake-up of the consumer after a metadata change.
pub struct Accounting {
    /// The database.
    pub store: Arc<AccountingStore>,
    /// `[accounting] time_zone`.
    pub default_zone: String,
    /// Wakes the consumer.
    pub wake: Arc<Notify>,
}

/// Wakes the consumer whenever the pipeline announces newly archived
/// readings on its live bus. Only a hint: what the consumer reads comes from
/// the log by its cursor, so a lagging or closed bus loses nothing (the
/// consumer still polls every [`IDLE_POLL`]).
pub fn wake_on_archived(
    mut bus: tokio::sync::broadcast::Receiver<StoredReading>,
    wake: Arc<Notify>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            match bus.recv().await {
                Ok(_) | Err(RecvError::Lagged(_)) => wake.notify_one(),
                Err(RecvError::Closed) => return,
            }
        }
    })
}

/// Runs `consumer` forever: a step whenever there is work, else a wait for
/// [`IDLE_POLL`] or a wake-up. A failing step is logged and retried after a
/// pause (the cursor did not move, so nothing is skipped).
pub fn spawn(consumer: Consumer, wake: Arc<Notify>) -> tokio::task::JoinHandle<()> {
    let consumer = Arc::new(consumer);
    tokio::spawn(async move {
        loop {
            let c = consumer.clone();
            let report = tokio::task::spawn_blocking(move || c.step()).await;
            match report {
                Ok(Ok(report)) if !report.idle() => {
                    tracing::debug!(records = report.records, recomputed = report.recomputed, "deltas updated");
                    continue;
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "accounting step failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => tracing::error!(error = %e, "accounting step panicked; retrying"),
            }
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(IDLE_POLL) => {}
            }
        }
    })
}
