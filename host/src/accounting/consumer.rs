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
//! tests say so). A live register's newest readings are kept in memory
//! ([`super::tail`]), so a new reading does not reload its month; and once
//! a register is computed up to its latest reading, readings later than that
//! one are computed from themselves alone ([`super::carry`]).
//!
//! A meter whose stored readings cannot be read (a corrupt value) is put on
//! hold with the reason, and the others go on: its deltas stay as they were,
//! the API shows the hold, and a recomputation the operator asks for (or a
//! metadata change) lifts it when the readings can be read again.
//!
//! A meter's installation reading (initial value at the installation time)
//! joins its readings as sequence 0.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use meterhub_accounting::{Decimal, Delta, MeterSpec, Period, Reading, Series, deltas, period_at};
use meterhub_plugin_api::ReadingKind;
use tokio::sync::Notify;

use super::error::AccountingError;
use super::model::{ChannelInfo, MeterRecord};
use meterhub_storage::health::StoreHealth;

/// The accounting database's name in the store health.
const STORE: &str = "accounting";

use super::carry::{Carried, Carries};
use super::store::{AccountingStore, ConsumerCommit, DeltaRange, Hold, Sighting};
use super::tail::{self, Tails};
use meterhub_storage::archive::{Archive, ArchiveError, ReadingQuery, StoredReading};

/// Archive log records read per step. Each register a step touches costs a
/// window of readings (up to a month of them) however many of its readings
/// the step holds, so a large batch makes catching up cheaper; memory stays
/// bounded by it (some tens of MB).
pub const LOG_BATCH: usize = 65_536;
/// Readings read from the archive per query when loading a window.
const PAGE: usize = 50_000;
/// What a carried register weighs against the tail cap, in tail readings
/// (about 2 KB against 40 bytes each).
pub const READINGS_PER_CARRIED: usize = 50;
/// How long a consumer that has caught up lets new readings gather before
/// its next step: each step writes the deltas of every register it touches
/// once, however many of its readings it holds (at 20,000 readings/s of
/// 1,000 meters, stepping at once wrote them for every reading and took
/// most of a core). The deltas lag the archive by about this much more.
pub const STEP_LINGER: Duration = Duration::from_millis(250);
/// How long an idle consumer waits before looking at the log again (a
/// metadata change or newly archived readings wake it at once).
pub const IDLE_POLL: Duration = Duration::from_millis(200);

/// The consumer with what it reads and writes.
pub struct Consumer {
    archive: Arc<dyn Archive>,
    store: Arc<AccountingStore>,
    default_zone: String,
    tails: Mutex<Tails>,
    carries: Mutex<Carries>,
}

/// What one [`Consumer::step`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StepReport {
    /// Log records consumed.
    pub records: usize,
    /// Meters recomputed in full.
    pub recomputed: usize,
    /// Registers whose new readings were computed from what was carried.
    pub carried: usize,
    /// Registers computed from a window of their readings.
    pub windows: usize,
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
        Consumer::with_tail_readings_in(archive, store, default_zone, tail::DEFAULT_TAIL_READINGS)
    }

    /// The same, keeping at most `readings` in memory for live registers
    /// (`host.accounting_tail_readings`; a carried register counts as
    /// [`READINGS_PER_CARRIED`] of them).
    pub fn with_tail_readings(self, readings: usize) -> Consumer {
        Consumer::with_tail_readings_in(self.archive, self.store, &self.default_zone, readings)
    }

    fn with_tail_readings_in(
        archive: Arc<dyn Archive>,
        store: Arc<AccountingStore>,
        default_zone: &str,
        readings: usize,
    ) -> Consumer {
        Consumer {
            archive,
            store,
            default_zone: default_zone.to_owned(),
            tails: Mutex::new(Tails::with_cap(readings)),
            carries: Mutex::new(Carries::with_cap(readings / READINGS_PER_CARRIED)),
        }
    }

    fn tails(&self) -> std::sync::MutexGuard<'_, Tails> {
        self.tails.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn carries(&self) -> std::sync::MutexGuard<'_, Carries> {
        self.carries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers whose deltas are carried from their latest reading.
    pub fn carried_registers(&self) -> usize {
        self.carries().len()
    }

    /// Readings held in memory for live registers.
    pub fn tail_readings(&self) -> usize {
        self.tails().len()
    }

    /// Recomputes the meters marked pending, then consumes one batch of the
    /// log.
    pub fn step(&self) -> Result<StepReport, AccountingError> {
        let mut report = StepReport::default();
        if self.store.adopt_default_zone(&self.default_zone)? {
            self.carries().clear();
            tracing::info!(zone = %self.default_zone, "default time zone changed; meters without a zone of their own are recomputed");
        }
        for (meter, generation) in self.store.pending()? {
            self.recompute_meter(&meter, generation)?;
            report.recomputed += 1;
        }
        let cursor = self.store.cursor()?;
        let entries = self.archive.log_after(cursor, LOG_BATCH)?;
        let Some(next_cursor) = entries.last_seq() else {
            return Ok(report);
        };
        report.records = entries.len();
        let mut commit = ConsumerCommit { cursor: Some(next_cursor), ..ConsumerCommit::default() };
        let mut records = Vec::with_capacity(entries.len());
        for entry in entries.iter() {
            match entry {
                Ok(stored) => records.push(stored),
                Err(unreadable) => {
                    let error = unreadable.error.to_string();
                    match &unreadable.register {
                        Some((meter, channel)) => {
                            tracing::error!(seq = unreadable.seq, meter, channel, %error,
                                "archived reading cannot be read; the meter's deltas are held");
                            commit.holds.push(Hold::new(meter, &error));
                        }
                        None => tracing::error!(seq = unreadable.seq, %error,
                            "archived reading cannot be read, nor whose it is; skipped"),
                    }
                }
            }
        }
        // A reading stamped ahead of the host's clock (a device clock running
        // ahead) counts in no delta: between the readings that follow it, it
        // would read as an unexplained decrease. Its meter is still seen.
        let tolerance = self.archive.device_clock_tolerance_ms();
        let held: BTreeSet<String> = self
            .store
            .holds()?
            .into_iter()
            .map(|h| h.meter)
            .chain(commit.holds.iter().map(|h| h.meter.clone()))
            .collect();
        let mut tails = self.tails();
        let mut carries = self.carries();
        for stored in records.iter().filter(|r| !r.stamped_ahead(tolerance)) {
            tails.absorb(stored);
        }
        for meter in &held {
            tails.forget_meter(meter);
            carries.forget_meter(meter);
        }

        // Per meter what was seen; per cumulative register its new readings.
        let mut sightings: BTreeMap<&str, Sighting> = BTreeMap::new();
        let mut fresh: BTreeMap<(&str, &str), Vec<Reading>> = BTreeMap::new();
        for &stored in &records {
            let r = &stored.reading;
            let ahead = stored.stamped_ahead(tolerance);
            // A meter first seen in a reading stamped ahead: seen when archived.
            let seen_ms = if ahead { stored.archived_at_ms } else { r.ts_ms };
            let s = sightings.entry(r.device.as_str()).or_insert_with(|| Sighting {
                meter: r.device.clone(),
                source: stored.source.clone(),
                channels: BTreeMap::new(),
                first_ms: seen_ms,
                last_ms: seen_ms,
                module: None,
                model: None,
            });
            s.source.clone_from(&stored.source);
            if !s.channels.contains_key(&r.channel) {
                s.channels
                    .insert(r.channel.clone(), ChannelInfo { kind: r.kind.as_str().to_owned(), unit: r.unit.clone() });
            }
            if ahead {
                continue;
            }
            s.first_ms = s.first_ms.min(r.ts_ms);
            s.last_ms = s.last_ms.max(r.ts_ms);
            if r.kind == ReadingKind::Cumulative {
                fresh.entry((r.device.as_str(), r.channel.as_str())).or_default().push(tail::reading(stored));
            }
        }
        let mut first_ts: BTreeMap<&str, i64> = BTreeMap::new();
        for (meter, sighting) in &mut sightings {
            if let Some(summary) = self.archive.device(meter)? {
                sighting.module = summary.module;
                sighting.model = summary.model;
                first_ts.insert(*meter, summary.first_ts_ms);
            }
        }
        let mut records_by_meter: BTreeMap<&str, Option<MeterRecord>> = BTreeMap::new();
        let mut newly_held: BTreeSet<&str> = BTreeSet::new();
        for ((meter, channel), readings) in fresh {
            if held.contains(meter) || newly_held.contains(meter) {
                continue;
            }
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
            let installation = record.as_ref().and_then(installation);
            if let Some(ranges) = carry(&mut carries, meter, channel, &spec, scale, installation.as_ref(), &readings) {
                commit.ranges.extend(ranges);
                report.carried += 1;
                continue;
            }
            report.windows += 1;
            let (min_ts, max_ts) =
                readings.iter().fold((i64::MAX, i64::MIN), |(low, high), r| (low.min(r.ts_ms), high.max(r.ts_ms)));
            let mut window = Window {
                archive: &*self.archive,
                meter,
                channel,
                earliest: first_ts.get(meter).copied().unwrap_or(i64::MIN),
                installation,
                tails: &mut tails,
                cursor: next_cursor,
            };
            match window.touched(&spec, scale, min_ts, max_ts) {
                Ok((ranges, carried)) => {
                    commit.ranges.extend(ranges);
                    match carried {
                        Some(carried) => {
                            // Carried from now on: the tail is not needed while it is.
                            tails.forget(meter, channel);
                            carries.set(meter, channel, carried);
                        }
                        None => carries.forget(meter, channel),
                    }
                }
                Err(AccountingError::Archive(e @ ArchiveError::Corrupt { .. })) => {
                    tracing::error!(meter, channel, error = %e, "meter's readings cannot be read; its deltas are held");
                    commit.ranges.retain(|r| r.meter != meter);
                    commit.holds.push(Hold::new(meter, &e.to_string()));
                    tails.forget_meter(meter);
                    carries.forget_meter(meter);
                    newly_held.insert(meter);
                }
                Err(e) => return Err(e),
            }
        }
        drop((tails, carries));
        commit.sightings = sightings.into_values().collect();
        self.store.commit(&commit)?;
        Ok(report)
    }

    fn default_spec(&self) -> Result<MeterSpec, AccountingError> {
        MeterSpec::new(&self.default_zone, None, vec![])
            .map_err(|e| AccountingError::invalid("accounting.time_zone", e.to_string()))
    }

    /// Recomputes every delta of `meter` from all its readings; clears the
    /// pending mark of `generation`, and the meter's hold when its readings
    /// could be read (or puts it on hold when they cannot).
    fn recompute_meter(&self, meter: &str, generation: u64) -> Result<(), AccountingError> {
        let mut commit = ConsumerCommit { recomputed: vec![(meter.to_owned(), generation)], ..Default::default() };
        if let Some(record) = self.store.meter(meter)? {
            match record.spec(&self.default_zone) {
                Ok(spec) => match self.all_ranges(&record, &spec) {
                    Ok(ranges) => commit.ranges = ranges,
                    Err(AccountingError::Archive(e @ ArchiveError::Corrupt { .. })) => {
                        tracing::error!(meter, error = %e, "meter's readings cannot be read; its deltas are held");
                        commit.holds.push(Hold::new(meter, &e.to_string()));
                    }
                    Err(e) => return Err(e),
                },
                Err(e) => tracing::error!(meter, error = %e, "meter's accounting settings refused; its deltas wait"),
            }
        }
        self.tails().forget_meter(meter);
        self.carries().forget_meter(meter);
        self.store.commit(&commit)?;
        tracing::info!(meter, generation, "deltas recomputed in full");
        Ok(())
    }

    /// Every delta of a meter, replacing all stored ones.
    fn all_ranges(&self, record: &MeterRecord, spec: &MeterSpec) -> Result<Vec<DeltaRange>, AccountingError> {
        let meter = record.id.as_str();
        let mut channels: Vec<String> = record.cumulative_channels().map(str::to_owned).collect();
        for stored in self.store.delta_channels(meter)? {
            if !channels.contains(&stored) {
                channels.push(stored);
            }
        }
        let mut ranges = Vec::new();
        let mut no_tails = Tails::default();
        for channel in channels {
            let mut window = Window {
                archive: &*self.archive,
                meter,
                channel: &channel,
                earliest: i64::MIN,
                installation: installation(record),
                tails: &mut no_tails,
                cursor: u64::MAX,
            };
            let series = Series::new(window.load(None, None)?);
            let cumulative = record.cumulative_channels().any(|c| c == channel);
            for period in [Period::Day, Period::Month] {
                let computed = match (cumulative, series.readings().first(), series.readings().last()) {
                    (true, Some(first), Some(last)) => scaled(
                        deltas(&series, spec, period, first.ts_ms, last.ts_ms.saturating_add(1)),
                        record.scale(&channel),
                    ),
                    _ => Vec::new(),
                };
                ranges.push(DeltaRange {
                    meter: meter.to_owned(),
                    channel: channel.clone(),
                    period,
                    from_ms: i64::MIN,
                    to_ms: i64::MAX,
                    deltas: computed,
                });
            }
        }
        Ok(ranges)
    }
}

/// The ranges of deltas a carried register's new `readings` touch, from
/// them alone; the register is carried on at its new latest reading.
/// `None` (and nothing carried any more) when they cannot be: a reading at
/// or before the one it is carried from, an installation reading after
/// that one, or a join the engine refuses. The window computation takes over then.
fn carry(
    carries: &mut Carries,
    meter: &str,
    channel: &str,
    spec: &MeterSpec,
    scale: Decimal,
    installation: Option<&Reading>,
    readings: &[Reading],
) -> Option<Vec<DeltaRange>> {
    let carried = carries.get(meter, channel)?;
    let from_ms = carried.at().ts_ms;
    let extended = match installation {
        Some(installed) if installed.ts_ms > from_ms => None,
        _ => carried.extend(readings, spec),
    };
    let Some((periods, carried)) = extended else {
        carries.forget(meter, channel);
        return None;
    };
    let latest_ms = carried.latest().ts_ms;
    let ranges = periods
        .into_iter()
        .map(|(period, deltas)| {
            let from_ms = period_at(spec, period, from_ms).map(|p| p.start_ms)?;
            let to_ms = period_at(spec, period, latest_ms).map(|p| p.end_ms)?;
            Some(DeltaRange {
                meter: meter.to_owned(),
                channel: channel.to_owned(),
                period,
                from_ms,
                to_ms,
                deltas: scaled(deltas, scale),
            })
        })
        .collect::<Option<Vec<_>>>();
    if ranges.is_some() {
        carries.set(meter, channel, carried);
    } else {
        carries.forget(meter, channel);
    }
    ranges
}

/// The installation reading of a meter, as sequence 0.
fn installation(record: &MeterRecord) -> Option<Reading> {
    record.installation().map(|(ts_ms, value)| Reading { ts_ms, value, seq: 0, conflict: false })
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

/// The deltas of one register over `[from_ms, to_ms)` counted in `zone`
/// rather than its own (a report asked for one): from the archived
/// readings around the range, exactly as the consumer would count them in
/// that zone; nothing is stored.
pub fn deltas_in_zone(
    archive: &dyn Archive,
    record: &MeterRecord,
    channel: &str,
    zone: &str,
    period: Period,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<Delta>, AccountingError> {
    let spec = MeterSpec::new(zone, record.metadata.register_capacity, record.events.clone())
        .map_err(|e| AccountingError::invalid("zone", e.to_string()))?;
    let mut tails = Tails::with_cap(0);
    let mut window = Window::of_archive(archive, record, channel, &mut tails);
    let lo = window.last_before(from_ms.saturating_add(1))?.unwrap_or(from_ms);
    let hi = window.first_at_or_after(to_ms)?.map_or(to_ms, |ts| ts.saturating_add(1));
    let series = Series::new(window.load(Some(lo), Some(hi))?);
    Ok(scaled(deltas(&series, &spec, period, from_ms, to_ms), record.scale(channel)))
}

/// The distinct device timestamps of a register's archived readings in
/// `[from_ms, to_ms)` (none stamped ahead of the host's clock), after the
/// last one before `from_ms` (or the installation) when there is one: what
/// a completeness report counts.
pub fn reading_instants(
    archive: &dyn Archive,
    record: &MeterRecord,
    channel: &str,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<i64>, AccountingError> {
    let mut tails = Tails::with_cap(0);
    let mut window = Window::of_archive(archive, record, channel, &mut tails);
    let mut out: Vec<i64> = window.last_before(from_ms)?.into_iter().collect();
    for reading in window.load_archived(Some(from_ms), Some(to_ms))? {
        if out.last() != Some(&reading.ts_ms) {
            out.push(reading.ts_ms);
        }
    }
    Ok(out)
}

/// One register's readings: from its tail in memory where that covers
/// them, else from the archive; with the meter's installation reading.
struct Window<'a> {
    archive: &'a dyn Archive,
    meter: &'a str,
    channel: &'a str,
    /// No reading of the meter is earlier (stops the backward search).
    earliest: i64,
    /// The installation reading, counted as one of the register's.
    installation: Option<Reading>,
    tails: &'a mut Tails,
    /// The log position the consumer has read through: a tail holds the
    /// versions up to it.
    cursor: u64,
}

impl<'a> Window<'a> {
    /// A register read from the archive alone (no tail in `tails`, which
    /// holds nothing), as of everything archived.
    fn of_archive(
        archive: &'a dyn Archive,
        record: &'a MeterRecord,
        channel: &'a str,
        tails: &'a mut Tails,
    ) -> Window<'a> {
        Window {
            archive,
            meter: &record.id,
            channel,
            earliest: record.first_seen_ms,
            installation: installation(record),
            tails,
            cursor: u64::MAX,
        }
    }

    /// Readings (conflict records included) with `from <= ts < to`, from
    /// the archive, in order; none stamped ahead of the host's clock.
    fn load_archived(&self, from_ms: Option<i64>, to_ms: Option<i64>) -> Result<Vec<Reading>, AccountingError> {
        let mut out: Vec<Reading> = Vec::new();
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
            let trusted = |r: &&StoredReading| !r.stamped_ahead(self.archive.device_clock_tolerance_ms());
            if page.len() < PAGE {
                out.extend(page.iter().filter(trusted).map(tail::reading));
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
            out.extend(page.iter().filter(trusted).map(tail::reading));
            from = Some(last_ts);
        }
    }

    /// Whether the installation reading lies in `[from, to)`.
    fn installed_in(&self, from_ms: Option<i64>, to_ms: Option<i64>) -> Option<Reading> {
        self.installation
            .clone()
            .filter(|r| from_ms.is_none_or(|from| r.ts_ms >= from) && to_ms.is_none_or(|to| r.ts_ms < to))
    }

    /// Readings with `from <= ts < to`, installation included.
    fn load(&mut self, from_ms: Option<i64>, to_ms: Option<i64>) -> Result<Vec<Reading>, AccountingError> {
        let mut out = match (from_ms, self.tails.get(self.meter, self.channel)) {
            (Some(from), Some(tail)) if tail.covers(from) => tail.range(from, to_ms.unwrap_or(i64::MAX)),
            _ => self.load_archived(from_ms, to_ms)?,
        };
        out.extend(self.installed_in(from_ms, to_ms));
        Ok(out)
    }

    /// The timestamp of the first reading at or after `ts_ms`.
    fn first_at_or_after(&mut self, ts_ms: i64) -> Result<Option<i64>, AccountingError> {
        let found = match self.tails.get(self.meter, self.channel) {
            Some(tail) if tail.covers(ts_ms) => tail.first_at_or_after(ts_ms),
            _ => {
                let q = ReadingQuery {
                    device: Some(self.meter.to_owned()),
                    channel: Some(self.channel.to_owned()),
                    from_ms: Some(ts_ms),
                    to_ms: None,
                    limit: 1,
                };
                self.archive.readings(&q)?.first().map(|r| r.reading.ts_ms)
            }
        };
        let installed = self.installed_in(Some(ts_ms), None).map(|r| r.ts_ms);
        Ok(found.into_iter().chain(installed).min())
    }

    /// The timestamp of the last reading before `ts_ms`: from the tail when
    /// it holds one, else windows of the archive growing backwards until
    /// one holds a reading or the meter's first is passed.
    fn last_before(&mut self, ts_ms: i64) -> Result<Option<i64>, AccountingError> {
        let installed = self.installed_in(None, Some(ts_ms)).map(|r| r.ts_ms);
        if let Some(found) = self.tails.get(self.meter, self.channel).and_then(|tail| tail.last_before(ts_ms)) {
            return Ok(Some(found).max(installed));
        }
        let mut width: i64 = 2 * 86_400_000;
        loop {
            let from = ts_ms.saturating_sub(width);
            if let Some(last) = self.load_archived(Some(from), Some(ts_ms))?.last() {
                return Ok(Some(last.ts_ms).max(installed));
            }
            if from <= self.earliest || from == i64::MIN {
                return Ok(installed);
            }
            width = width.saturating_mul(8);
        }
    }

    /// The ranges of deltas that new readings from `min_ts` to `max_ts`
    /// touch, recomputed; the register's tail starts at the window when it
    /// has none. With them what to carry when the window reaches the
    /// register's latest reading.
    fn touched(
        &mut self,
        spec: &MeterSpec,
        scale: Decimal,
        min_ts: i64,
        max_ts: i64,
    ) -> Result<(Vec<DeltaRange>, Option<Carried>), AccountingError> {
        let lo_ts = self.last_before(min_ts)?.unwrap_or(min_ts);
        let hi_ts = self.first_at_or_after(max_ts.saturating_add(1))?.unwrap_or(max_ts);
        let bounds =
            |period: Period| Some((period_at(spec, period, lo_ts)?.start_ms, period_at(spec, period, hi_ts)?.end_ms));
        let (Some(months), Some(days)) = (bounds(Period::Month), bounds(Period::Day)) else {
            tracing::warn!(meter = self.meter, channel = self.channel, "readings beyond the calendar; no deltas");
            return Ok((Vec::new(), None));
        };
        let window_from = self.last_before(months.0.saturating_add(1))?.unwrap_or(months.0);
        let after_window = self.first_at_or_after(months.1)?;
        let window_to = after_window.map_or(months.1, |ts| ts.saturating_add(1));
        if self.tails.get(self.meter, self.channel).is_none() {
            // Start the register's tail at the window: every version from
            // there on that the log has brought so far (later ones arrive
            // through the log and are absorbed).
            let mut known = self.load_archived(Some(window_from), None)?;
            known.retain(|r| r.seq <= self.cursor);
            self.tails.start(self.meter, self.channel, window_from, known);
        }
        let readings = self.load(Some(window_from), Some(window_to))?;
        self.tails.trim(self.meter, self.channel, window_from);
        // Nothing after the window: its last reading is the register's
        // latest. Carried as of the log read so far: readings the archive
        // holds beyond it come in the next steps.
        let carried = after_window
            .is_none()
            .then(|| Carried::at_end(&Series::new(readings.iter().filter(|r| r.seq <= self.cursor).cloned()), spec))
            .flatten();
        let series = Series::new(readings);
        let ranges = [(Period::Day, days), (Period::Month, months)]
            .into_iter()
            .map(|(period, (from_ms, to_ms))| DeltaRange {
                meter: self.meter.to_owned(),
                channel: self.channel.to_owned(),
                period,
                from_ms,
                to_ms,
                deltas: scaled(deltas(&series, spec, period, from_ms, to_ms), scale),
            })
            .collect();
        Ok((ranges, carried))
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

impl Accounting {
    /// Where meter `id` sits in the registry tree grants are written over;
    /// only its id while the registry does not know it (or cannot be read:
    /// then only `*` grants match, never more than the user may see).
    pub fn meter_path(&self, id: &str) -> crate::auth::MeterPath {
        match self.store.meter(id) {
            Ok(Some(record)) => record.path(),
            Ok(None) => crate::auth::MeterPath { meter: Some(id.to_owned()), ..Default::default() },
            Err(e) => {
                tracing::warn!(meter = %id, error = %e, "cannot read the meter's registry record");
                crate::auth::MeterPath { meter: Some(id.to_owned()), ..Default::default() }
            }
        }
    }
}

/// Wakes the consumer whenever the pipeline announces that the archive
/// log's head moved. Only a hint: what the consumer reads comes from the
/// log by its cursor, so a missed or closed announcement loses nothing (the
/// consumer still polls every [`IDLE_POLL`]).
pub fn wake_on_archived(
    mut archived: tokio::sync::watch::Receiver<u64>,
    wake: Arc<Notify>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while archived.changed().await.is_ok() {
            wake.notify_one();
        }
    })
}

/// Runs `consumer` forever: a step whenever there is work, else a wait for
/// [`IDLE_POLL`] or a wake-up. A failing step is logged and retried after a
/// pause (the cursor did not move, so nothing is skipped).
/// A failing step is reported in `health` (logged once per change of state).
pub fn spawn(consumer: Consumer, wake: Arc<Notify>, health: Arc<StoreHealth>) -> tokio::task::JoinHandle<()> {
    let consumer = Arc::new(consumer);
    tokio::spawn(async move {
        loop {
            let c = consumer.clone();
            let report = tokio::task::spawn_blocking(move || c.step()).await;
            if let Ok(Ok(_)) = &report {
                health.succeeded(STORE);
            }
            match report {
                Ok(Ok(report)) if !report.idle() => {
                    if report.records < LOG_BATCH {
                        // Caught up: let readings gather, so a register's
                        // deltas are written once for several of them.
                        tokio::time::sleep(STEP_LINGER).await;
                    }
                    tracing::debug!(
                        records = report.records,
                        recomputed = report.recomputed,
                        carried = report.carried,
                        windows = report.windows,
                        "deltas updated"
                    );
                    continue;
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    let disk_full = e.is_disk_full();
                    health.failed(STORE, consumer.store.path(), &e, disk_full);
                    // After an I/O error (a full disk) the database works again only reopened.
                    consumer.store.heal(&e);
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
