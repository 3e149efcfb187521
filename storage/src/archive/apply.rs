//! The write side of the sled archive: a transaction that buffers every
//! change of one `apply` or `redecode` (the log block of its new readings,
//! the frame block, counters, summaries, quarantine, the applied-through
//! marker) and commits them as one atomic sled batch, so they all change
//! together or not at all. Summaries are updated once per transaction, not
//! per reading.
//!
//! Writers are serialized by the archive (one transaction at a time), so
//! reading the tree and the heads and then writing the batch is consistent;
//! within a transaction, reads see the transaction's own writes.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use meterhub_plugin_api::{
    Decoded, META_RESUME_KEY, META_RESUME_MARK, META_RESUME_MARK_PREFIX, RawFrame, Reading, Telemetry,
};
use serde::{Deserialize, Serialize};

use super::activity::ModuleActivity;
use super::blocks::{self, FrameBlockHeader};
use super::chunks::{self, Heads, SeriesKey};
use super::error::ArchiveError;
use super::keys::{self, COUNTERS, DEVICE, QUARANTINE, TELEMETRY};
use super::log::ReadingBlock;
use super::model::{DeviceSummary, SourceCounters, StoredReading, Verdict};
use super::value::{seal_json, seal_rejection, seal_u64, unseal_json, unseal_u64};
use crate::journal::Rejection;

/// How many rejections the archive keeps per source (the oldest go).
pub const REJECTIONS_KEPT_PER_SOURCE: usize = 1000;

/// The reason recorded for a frame that reached the archive without a verdict.
pub(crate) const NO_VERDICT_REASON: &str = "no codec verdict was recorded for this frame";

/// The value stored under a quarantine key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct QuarantineMark {
    pub(crate) reason: String,
    pub(crate) quarantined_at_ms: i64,
}

/// How the readings of one frame were classified.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub(crate) new: usize,
    pub(crate) duplicate: usize,
    pub(crate) conflict: usize,
}

impl Tally {
    /// A frame counts as `archived` if it added anything (or had nothing to
    /// add), as `duplicate` if all its readings were repeats.
    pub(crate) fn frame_archived(&self) -> bool {
        self.new + self.conflict > 0 || self.duplicate == 0
    }
}

/// Turns a `Decoded` verdict whose readings cannot be keyed into a
/// quarantine, so the pipeline never wedges on it and it can be re-decoded.
/// The resume marks a frame carries: driver metadata [`META_RESUME_KEY`]
/// and [`META_RESUME_MARK`] (an integer), and every
/// `resume.mark.<key>` ([`META_RESUME_MARK_PREFIX`]).
pub(crate) fn resume_marks(frame: &RawFrame) -> Vec<(&str, i64)> {
    let single = frame
        .meta(META_RESUME_KEY)
        .filter(|k| !k.is_empty())
        .and_then(|key| Some((key, frame.meta(META_RESUME_MARK)?.parse().ok()?)));
    let prefixed = frame.meta.iter().filter_map(|(k, v)| {
        let key = k.strip_prefix(META_RESUME_MARK_PREFIX).filter(|key| !key.is_empty())?;
        Some((key, v.parse().ok()?))
    });
    single.into_iter().chain(prefixed).collect()
}

pub(crate) fn checked(verdict: Verdict) -> Verdict {
    let Verdict::Decoded(decoded) = verdict else { return verdict };
    for (i, reading) in decoded.readings.iter().enumerate() {
        let check = keys::check_component("device", &reading.device)
            .and_then(|()| keys::check_component("channel", &reading.channel));
        if let Err(error) = check {
            return Verdict::Quarantined(format!("reading {i}: {error}"));
        }
    }
    Verdict::Decoded(decoded)
}

/// Same value, unit and kind: a repeat. Values compare numerically.
fn same_reading(a: &Reading, b: &Reading) -> bool {
    a.value == b.value && a.unit == b.unit && a.kind == b.kind
}

/// What a committed transaction archived, for the heads and the live bus.
#[derive(Debug, Default)]
pub(crate) struct Committed {
    /// The new readings (and conflicts), in global sequence order, cut
    /// as their log blocks are.
    pub(crate) blocks: Vec<ReadingBlock>,
    /// The latest sealed timestamp of each series the transaction looked up.
    pub(crate) sealed_max: Vec<(SeriesKey, Option<i64>)>,
}

/// No earlier version in [`Txn::earlier_version`].
const NO_VERSION: usize = usize::MAX;

/// A series as a transaction sees it.
#[derive(Debug)]
struct SeriesState {
    /// The latest sealed timestamp (`None`: no chunk yet).
    sealed_max: Option<i64>,
    /// The latest timestamp archived: sealed, in the head or pending. A
    /// reading after it is a new key without looking further.
    newest: Option<i64>,
    /// The newest pending version of each timestamp (an index into
    /// `pending`; its earlier ones are chained by `earlier_version`).
    pending_at: foldhash::HashMap<i64, usize>,
}

/// One atomic change of the archive.
pub(crate) struct Txn<'a> {
    tree: &'a sled::Tree,
    heads: &'a Heads,
    now_ms: i64,
    /// [`super::ArchiveOptions::device_clock_tolerance_ms`].
    clock_tolerance_ms: i64,
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// New readings, in seq order: the transaction's log block.
    pending: Vec<StoredReading>,
    /// For each of `pending`, the index of the earlier pending version of
    /// its natural key ([`NO_VERSION`]: none).
    earlier_version: Vec<usize>,
    /// What the transaction knows of each series it met.
    series: foldhash::HashMap<SeriesKey, SeriesState>,
    /// Newly received frames: the transaction's frame block.
    frames: Vec<RawFrame>,
    /// Chunks decoded by this transaction, by key.
    chunks: HashMap<Vec<u8>, Vec<StoredReading>>,
    counters: BTreeMap<String, SourceCounters>,
    devices: BTreeMap<String, Option<DeviceSummary>>,
    rejection_sources: BTreeSet<String>,
    /// Highest journal seq applied, including this transaction.
    pub(crate) applied_through: u64,
    applied_through_at_start: u64,
    next_reading_seq: u64,
    next_reading_seq_at_start: u64,
}

impl<'a> Txn<'a> {
    pub(crate) fn begin(
        tree: &'a sled::Tree,
        heads: &'a Heads,
        now_ms: i64,
        clock_tolerance_ms: i64,
    ) -> Result<Txn<'a>, ArchiveError> {
        let applied_through = read_u64(tree, keys::APPLIED_THROUGH)?.unwrap_or(0);
        let next_reading_seq = read_u64(tree, keys::NEXT_READING_SEQ)?.unwrap_or(1);
        Ok(Txn {
            tree,
            heads,
            now_ms,
            clock_tolerance_ms,
            writes: BTreeMap::new(),
            pending: Vec::new(),
            earlier_version: Vec::new(),
            series: foldhash::HashMap::default(),
            frames: Vec::new(),
            chunks: HashMap::new(),
            counters: BTreeMap::new(),
            devices: BTreeMap::new(),
            rejection_sources: BTreeSet::new(),
            applied_through,
            applied_through_at_start: applied_through,
            next_reading_seq,
            next_reading_seq_at_start: next_reading_seq,
        })
    }

    pub(crate) fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ArchiveError> {
        if let Some(pending) = self.writes.get(key) {
            return Ok(pending.clone());
        }
        Ok(self.tree.get(key).map_err(ArchiveError::storage("read"))?.map(|v| v.to_vec()))
    }

    pub(crate) fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.writes.insert(key, Some(value));
    }

    pub(crate) fn remove(&mut self, key: Vec<u8>) {
        self.writes.insert(key, None);
    }

    pub(crate) fn counters(&mut self, source: &str) -> Result<&mut SourceCounters, ArchiveError> {
        if !self.counters.contains_key(source) {
            let key = keys::name_key(COUNTERS, source);
            let current = match self.tree.get(&key).map_err(ArchiveError::storage("read"))? {
                Some(value) => unseal_json(&key, &value)?,
                None => SourceCounters::default(),
            };
            self.counters.insert(source.to_string(), current);
        }
        Ok(self.counters.get_mut(source).expect("the source's counters were just read"))
    }

    fn device(&mut self, device: &str) -> Result<&mut Option<DeviceSummary>, ArchiveError> {
        if !self.devices.contains_key(device) {
            let key = keys::name_key(DEVICE, device);
            let current = match self.tree.get(&key).map_err(ArchiveError::storage("read"))? {
                Some(value) => Some(unseal_json(&key, &value)?),
                None => None,
            };
            self.devices.insert(device.to_string(), current);
        }
        Ok(self.devices.get_mut(device).expect("the device's summary was just read"))
    }

    /// Applies one committed frame (its `seq` already set) with its verdict.
    pub(crate) fn apply_frame(&mut self, frame: RawFrame, verdict: Option<Verdict>) -> Result<(), ArchiveError> {
        self.counters(&frame.source)?.received += 1;
        for (key, mark) in resume_marks(&frame) {
            self.advance_mark(&frame.source, key, mark)?;
        }

        match checked(verdict.unwrap_or_else(|| Verdict::Quarantined(NO_VERDICT_REASON.to_string()))) {
            Verdict::Quarantined(reason) => {
                self.quarantine(frame.seq, reason)?;
                self.counters(&frame.source)?.quarantined += 1;
            }
            Verdict::Decoded(decoded) => {
                let tally = self.apply_decoded(&frame, decoded)?;
                let counters = self.counters(&frame.source)?;
                if tally.frame_archived() {
                    counters.archived += 1;
                } else {
                    counters.duplicate += 1;
                }
            }
        }
        self.frames.push(frame);
        Ok(())
    }

    /// What the transaction knows of `series`, looked up on first use.
    fn series_state(&mut self, series: &SeriesKey) -> Result<&mut SeriesState, ArchiveError> {
        if !self.series.contains_key(series) {
            let sealed_max = match self.heads.sealed_max.get(series) {
                Some(known) => *known,
                None => chunks::last_chunk(self.tree, series)?.map(|c| c.max_ts),
            };
            let head_newest = self.heads.get(series).and_then(|state| state.newest_ts());
            let newest = sealed_max.max(head_newest);
            let state = SeriesState { sealed_max, newest, pending_at: foldhash::HashMap::default() };
            self.series.insert(series.clone(), state);
        }
        Ok(self.series.get_mut(series).expect("the series' state was just made"))
    }

    /// Every version archived so far under a natural key: in the chunks,
    /// the heads and this transaction, original first.
    fn versions(&mut self, series: &SeriesKey, ts_ms: i64) -> Result<Vec<StoredReading>, ArchiveError> {
        let state = self.series_state(series)?;
        if state.newest.is_none_or(|newest| ts_ms > newest) {
            // Later than anything archived: the common case of a live reading.
            return Ok(Vec::new());
        }
        let sealed_max = state.sealed_max;
        let mut pending = state.pending_at.get(&ts_ms).copied().unwrap_or(NO_VERSION);
        let mut versions = Vec::new();
        if sealed_max.is_some_and(|max| ts_ms <= max)
            && let Some(mut chunk) = chunks::chunk_holding(self.tree, series, ts_ms)?
        {
            if !self.chunks.contains_key(&chunk.key) {
                let readings = match chunk.damage.take() {
                    None => chunk.readings(series)?.to_vec(),
                    Some(damage) => {
                        // Rebuilt from the log, replaced in this same batch.
                        let (readings, writes) = chunks::rebuild(self.tree, series, &chunk.key, &chunk.value, &damage)?;
                        self.writes.extend(writes);
                        readings
                    }
                };
                self.chunks.insert(chunk.key.clone(), readings);
            }
            let readings = &self.chunks[&chunk.key];
            let start = readings.partition_point(|r| r.reading.ts_ms < ts_ms);
            versions.extend(readings[start..].iter().take_while(|r| r.reading.ts_ms == ts_ms).cloned());
        }
        if let Some(state) = self.heads.get(series) {
            versions.extend(state.at(series, ts_ms));
        }
        let first_pending = versions.len();
        while pending != NO_VERSION {
            versions.push(self.pending[pending].clone());
            pending = self.earlier_version[pending];
        }
        versions[first_pending..].reverse();
        Ok(versions)
    }

    /// Moves the resume mark `key` of `source` up to `mark` (never down).
    fn advance_mark(&mut self, source: &str, key: &str, mark: i64) -> Result<(), ArchiveError> {
        let k = keys::resume_key(source, key);
        let current = self.get(&k)?.map(|v| unseal_u64(&k, &v)).transpose()?.map(keys::mark_from_u64);
        if current.is_none_or(|c| c < mark) {
            self.put(k.clone(), seal_u64(&k, keys::mark_to_u64(mark)));
        }
        Ok(())
    }

    /// Records (or updates) the quarantine mark of a frame.
    pub(crate) fn quarantine(&mut self, frame_seq: u64, reason: String) -> Result<(), ArchiveError> {
        let key = keys::seq_key(QUARANTINE, frame_seq);
        let mark = QuarantineMark { reason, quarantined_at_ms: self.now_ms };
        let value = seal_json(&key, &mark)?;
        self.put(key, value);
        Ok(())
    }

    /// Applies one journaled rejection.
    pub(crate) fn apply_rejection(&mut self, seq: u64, rejection: Rejection) -> Result<(), ArchiveError> {
        let counters = self.counters(&rejection.source)?;
        counters.received += 1;
        counters.rejected += 1;
        let mut key = keys::rejection_prefix(&rejection.source);
        key.extend_from_slice(&seq.to_be_bytes());
        self.put(key.clone(), seal_rejection(&key, &rejection));
        self.rejection_sources.insert(rejection.source);
        Ok(())
    }

    /// Archives the readings and telemetry of a decoded frame: new keys get a
    /// global seq, repeats are dropped, other values under a known key are
    /// kept as flagged conflict records. Updates reading-level counters and
    /// device summaries, not frame-level counters. The verdict must have
    /// passed [`checked`].
    pub(crate) fn apply_decoded(&mut self, frame: &RawFrame, decoded: Decoded) -> Result<Tally, ArchiveError> {
        let mut tally = Tally::default();
        // The meters of a frame are read through the module whose telemetry
        // it carries (a frame with one module; several say nothing).
        let module = match &decoded.telemetry[..] {
            [one] => Some(one.module.as_str()),
            _ => None,
        };
        let model = decoded.fields.as_deref().and_then(reported_model);
        // One key reused: a series' name is copied only where it is kept.
        let mut series = SeriesKey::default();
        for reading in decoded.readings {
            series.0.clone_from(&reading.device);
            series.1.clone_from(&reading.channel);
            let versions = self.versions(&series, reading.ts_ms)?;
            let new_key = versions.is_empty();
            self.touch_device(frame, &reading, new_key, module, model.as_deref())?;
            if versions.iter().any(|stored| same_reading(&stored.reading, &reading)) {
                tally.duplicate += 1;
                continue;
            }
            if new_key {
                tally.new += 1;
            } else {
                tally.conflict += 1;
            }
            let index = self.pending.len();
            let state = self.series.get_mut(&series).expect("versions looked the series up");
            state.newest = state.newest.max(Some(reading.ts_ms));
            self.earlier_version.push(state.pending_at.insert(reading.ts_ms, index).unwrap_or(NO_VERSION));
            let seq = self.next_reading_seq;
            self.next_reading_seq += 1;
            self.pending.push(StoredReading {
                seq,
                frame_seq: frame.seq,
                source: frame.source.clone(),
                reading,
                conflict: !new_key,
                archived_at_ms: self.now_ms,
            });
        }

        let telemetry = decoded.telemetry.len();
        for telemetry in &decoded.telemetry {
            self.store_activity(frame, telemetry)?;
        }

        let counters = self.counters(&frame.source)?;
        counters.readings_new += tally.new as u64;
        counters.readings_duplicate += tally.duplicate as u64;
        counters.readings_conflict += tally.conflict as u64;
        counters.telemetry += telemetry as u64;
        Ok(tally)
    }

    fn touch_device(
        &mut self,
        frame: &RawFrame,
        reading: &Reading,
        new_key: bool,
        module: Option<&str>,
        model: Option<&str>,
    ) -> Result<(), ArchiveError> {
        let trusted = reading.ts_ms <= self.now_ms.saturating_add(self.clock_tolerance_ms);
        let slot = self.device(&reading.device)?;
        let summary = slot.get_or_insert_with(|| DeviceSummary {
            device: reading.device.clone(),
            source: frame.source.clone(),
            first_ts_ms: reading.ts_ms,
            // 0 until a reading not stamped ahead comes.
            last_ts_ms: if trusted { reading.ts_ms } else { 0 },
            last_received_at_ms: frame.received_at_ms,
            channels: Vec::new(),
            readings: 0,
            module: None,
            model: None,
            period_ms: None,
            clock_offset_ms: None,
        });
        summary.heard(frame.received_at_ms, reading.ts_ms);
        summary.source.clone_from(&frame.source);
        if let Some(module) = module.filter(|m| summary.module.as_deref() != Some(*m)) {
            summary.module = Some(module.to_owned());
        }
        if let Some(model) = model.filter(|m| summary.model.as_deref() != Some(*m)) {
            summary.model = Some(model.to_owned());
        }
        if new_key {
            summary.first_ts_ms = summary.first_ts_ms.min(reading.ts_ms);
            if trusted {
                summary.last_ts_ms = summary.last_ts_ms.max(reading.ts_ms);
            }
            summary.readings += 1;
        }
        if let Err(at) = summary.channels.binary_search(&reading.channel) {
            summary.channels.insert(at, reading.channel.clone());
        }
        Ok(())
    }

    fn store_activity(&mut self, frame: &RawFrame, telemetry: &Telemetry) -> Result<(), ArchiveError> {
        let key = keys::name_key(TELEMETRY, &telemetry.module);
        let activity = match self.get(&key)? {
            Some(value) => {
                let mut activity: ModuleActivity = unseal_json(&key, &value)?;
                activity.observe(telemetry, &frame.source, frame.received_at_ms, self.clock_tolerance_ms);
                activity
            }
            None => ModuleActivity::new(telemetry, &frame.source, frame.received_at_ms),
        };
        let value = seal_json(&key, &activity)?;
        self.put(key, value);
        Ok(())
    }

    /// Writes everything as one atomic batch.
    pub(crate) fn commit(mut self) -> Result<Committed, ArchiveError> {
        // Blocks are cut to a bounded size, so reading one (a follower, a
        // re-decode) never holds more than that in memory.
        let log_blocks = blocks::cut_log_blocks(std::mem::take(&mut self.pending));
        for block in &log_blocks {
            let key = keys::seq_key(keys::LOG_BLOCK, block[0].seq);
            let value = blocks::encode_log_block(&key, block);
            self.writes.insert(key, Some(value));
        }
        for block in blocks::frame_block_cuts(&self.frames) {
            if let Some(header) = FrameBlockHeader::of(block) {
                let key = keys::seq_key(keys::FRAME_BLOCK, header.first_seq);
                let value = blocks::encode_frame_block(&key, block);
                self.writes.insert(key, Some(value));
                self.writes.insert(keys::seq_key(keys::FRAME_INDEX, header.first_seq), Some(header.encode()));
            }
        }
        for (source, counters) in std::mem::take(&mut self.counters) {
            let key = keys::name_key(COUNTERS, &source);
            let value = seal_json(&key, &counters)?;
            self.put(key, value);
        }
        for (device, summary) in std::mem::take(&mut self.devices) {
            if let Some(summary) = summary {
                let key = keys::name_key(DEVICE, &device);
                let value = seal_json(&key, &summary)?;
                self.put(key, value);
            }
        }
        self.prune_rejections()?;
        if self.applied_through != self.applied_through_at_start {
            self.put(keys::APPLIED_THROUGH.to_vec(), seal_u64(keys::APPLIED_THROUGH, self.applied_through));
        }
        if self.next_reading_seq != self.next_reading_seq_at_start {
            self.put(keys::NEXT_READING_SEQ.to_vec(), seal_u64(keys::NEXT_READING_SEQ, self.next_reading_seq));
        }
        let sealed_max = self.series.drain().map(|(series, state)| (series, state.sealed_max)).collect();
        let committed = Committed { blocks: log_blocks, sealed_max };
        if self.writes.is_empty() {
            return Ok(committed);
        }
        let mut batch = sled::Batch::default();
        for (key, value) in std::mem::take(&mut self.writes) {
            match value {
                Some(value) => batch.insert(key, value),
                None => batch.remove(key),
            }
        }
        self.tree.apply_batch(batch).map_err(ArchiveError::storage("write batch"))?;
        Ok(committed)
    }

    /// Keeps only the newest [`REJECTIONS_KEPT_PER_SOURCE`] rejections of
    /// each source that got new ones.
    fn prune_rejections(&mut self) -> Result<(), ArchiveError> {
        for source in std::mem::take(&mut self.rejection_sources) {
            let prefix = keys::rejection_prefix(&source);
            let mut kept: BTreeSet<Vec<u8>> = BTreeSet::new();
            for key in self.tree.scan_prefix(&prefix).keys() {
                kept.insert(key.map_err(ArchiveError::storage("scan rejections"))?.to_vec());
            }
            for (key, value) in self.writes.range(prefix.clone()..) {
                if !key.starts_with(&prefix) {
                    break;
                }
                if value.is_some() {
                    kept.insert(key.clone());
                } else {
                    kept.remove(key);
                }
            }
            let excess = kept.len().saturating_sub(REJECTIONS_KEPT_PER_SOURCE);
            for key in kept.into_iter().take(excess) {
                self.remove(key);
            }
        }
        Ok(())
    }
}

/// Reads a sealed number directly from the tree.
/// Longest model name kept, bytes.
const MAX_MODEL_BYTES: usize = 64;

/// The model a codec reported: a non-empty string `model` in the decoded
/// fields' JSON object (`docs/plugins.md`, "Decoded fields").
fn reported_model(fields: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(fields).ok()?;
    let model = value.get("model")?.as_str()?.trim();
    (!model.is_empty() && model.len() <= MAX_MODEL_BYTES).then(|| model.to_owned())
}

pub(crate) fn read_u64(tree: &sled::Tree, key: &[u8]) -> Result<Option<u64>, ArchiveError> {
    match tree.get(key).map_err(ArchiveError::storage("read"))? {
        Some(value) => Ok(Some(unseal_u64(key, &value)?)),
        None => Ok(None),
    }
}
