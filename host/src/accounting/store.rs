//! [`AccountingStore`]: the accounting database, one sled tree with
//! prefixed keys, values in the archive's checksummed envelope:
//!
//! - `m\0<meter>`: [`MeterRecord`];
//! - `o\0<module>`: [`ModuleRecord`];
//! - `h\0<meter>\0<seq u64 BE>`: [`HistoryEntry`];
//! - `d\0<meter>\0<channel>\0<d|m><start_ms, sign-flipped BE>`: a [`Delta`];
//! - `p\0<meter>`: a pending full recomputation (a generation number);
//! - `x\0<meter>`: a [`Hold`]: the meter's readings could not be read, its
//!   deltas wait;
//! - `c`: the consumer's cursor in the archive's global sequence;
//! - `g`: the last generation number handed out;
//! - `z`: the default time zone the deltas were computed in.
//!
//! Writes are serialized and each is one atomic batch: a metadata change
//! writes the meter, its history entries and the pending mark together; the
//! consumer writes sightings, deltas, its cursor and cleared marks together.

mod changes;

pub use changes::Changed;
use changes::Revisions;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use meterhub_accounting::{Delta, Period};

use super::error::AccountingError;
use super::model::{ChannelInfo, HistoryEntry, MeterRecord, ModuleRecord};
use meterhub_storage::clock::now_ms;
use meterhub_storage::seal::{seal_json, seal_u64, unseal_json, unseal_u64};
use meterhub_storage::sled_db::{LOCK_WAIT, SledDb};

const CURSOR: &[u8] = b"c";
const GENERATION: &[u8] = b"g";
const DEFAULT_ZONE: &[u8] = b"z";

fn key(prefix: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut k = vec![prefix, 0];
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            k.push(0);
        }
        k.extend_from_slice(part);
    }
    k
}

fn meter_key(meter: &str) -> Vec<u8> {
    key(b'm', &[meter.as_bytes()])
}

fn module_key(module: &str) -> Vec<u8> {
    key(b'o', &[module.as_bytes()])
}

fn pending_key(meter: &str) -> Vec<u8> {
    key(b'p', &[meter.as_bytes()])
}

fn hold_key(meter: &str) -> Vec<u8> {
    key(b'x', &[meter.as_bytes()])
}

fn history_prefix(meter: &str) -> Vec<u8> {
    let mut k = key(b'h', &[meter.as_bytes()]);
    k.push(0);
    k
}

/// `d\0<meter>\0`, or with the channel `d\0<meter>\0<channel>\0`.
fn delta_prefix(meter: &str, channel: Option<&str>) -> Vec<u8> {
    let mut k = key(b'd', &[meter.as_bytes()]);
    k.push(0);
    if let Some(channel) = channel {
        k.extend_from_slice(channel.as_bytes());
        k.push(0);
    }
    k
}

/// The period start of a delta key (see [`delta_key`]).
fn delta_start(key: &[u8]) -> i64 {
    let tail: [u8; 8] = key[key.len().saturating_sub(8)..].try_into().unwrap_or([0; 8]);
    (u64::from_be_bytes(tail) ^ (1 << 63)) as i64
}

fn period_byte(period: Period) -> u8 {
    match period {
        Period::Day => b'd',
        Period::Month => b'm',
    }
}

fn delta_key(meter: &str, channel: &str, period: Period, start_ms: i64) -> Vec<u8> {
    let mut k = delta_prefix(meter, Some(channel));
    k.push(period_byte(period));
    k.extend_from_slice(&((start_ms as u64) ^ (1 << 63)).to_be_bytes());
    k
}

/// What the consumer saw of a meter in a batch of the archive log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sighting {
    /// Meter identity.
    pub meter: String,
    /// Source of its latest reading in the batch.
    pub source: String,
    /// Channels seen.
    pub channels: BTreeMap<String, ChannelInfo>,
    /// Earliest and latest device timestamps seen.
    pub first_ms: i64,
    /// Latest device timestamp seen.
    pub last_ms: i64,
    /// The module it is read through, as the archive says now.
    pub module: Option<String>,
    /// The model its codec reported, as the archive says now.
    pub model: Option<String>,
}

/// The deltas of one meter channel and period over `[from_ms, to_ms)`,
/// replacing what was stored there.
#[derive(Debug, Clone)]
pub struct DeltaRange {
    /// Meter identity.
    pub meter: String,
    /// Channel.
    pub channel: String,
    /// Day or month.
    pub period: Period,
    /// Stored deltas starting in `[from_ms, to_ms)` are replaced.
    pub from_ms: i64,
    /// See `from_ms`; `i64::MAX` for everything after.
    pub to_ms: i64,
    /// The new deltas.
    pub deltas: Vec<Delta>,
}

/// A meter whose deltas are held: its readings could not be read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Hold {
    /// Meter identity.
    pub meter: String,
    /// What failed.
    pub reason: String,
    /// When (host clock), ms since the epoch.
    pub since_ms: i64,
}

impl Hold {
    /// A hold of `meter` for `reason`, now.
    pub fn new(meter: &str, reason: &str) -> Hold {
        Hold { meter: meter.to_owned(), reason: reason.to_owned(), since_ms: now_ms() }
    }
}

/// One atomic write of the consumer.
#[derive(Debug, Clone, Default)]
pub struct ConsumerCommit {
    /// Meters seen.
    pub sightings: Vec<Sighting>,
    /// Deltas computed.
    pub ranges: Vec<DeltaRange>,
    /// Meters recomputed in full, with the generation of the pending mark
    /// they were computed for (cleared only if still that one); their holds
    /// are lifted.
    pub recomputed: Vec<(String, u64)>,
    /// Meters put on hold.
    pub holds: Vec<Hold>,
    /// The new cursor, when the commit follows the log.
    pub cursor: Option<u64>,
}

/// The accounting database. `Send + Sync`.
#[derive(Debug)]
pub struct AccountingStore {
    db: SledDb,
    write_lock: Mutex<()>,
    /// Whether writes keep the change index (only while sinks need it).
    tracking: std::sync::atomic::AtomicBool,
}

impl AccountingStore {
    /// Opens (creating) the database directory `path`.
    pub fn open(path: &Path) -> Result<AccountingStore, AccountingError> {
        let db = SledDb::open(path, 16 * 1024 * 1024, LOCK_WAIT)
            .map_err(|source| AccountingError::Open { path: path.to_path_buf(), source })?;
        Ok(AccountingStore { db, write_lock: Mutex::new(()), tracking: std::sync::atomic::AtomicBool::new(false) })
    }

    /// The database (a cheap handle).
    fn db(&self) -> Result<sled::Db, AccountingError> {
        self.db.get().map_err(AccountingError::storage("open"))
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        self.db.path()
    }

    /// Damage found in its files before it was opened.
    pub fn damage(&self) -> Option<&meterhub_storage::integrity::Damage> {
        self.db.damage()
    }

    /// Closes it for good at a clean stop and seals its files.
    pub fn close(&self) {
        let _writing = self.lock();
        self.db.close();
    }

    /// Reopens the database after `error`, when it is an I/O error (sled
    /// fails every operation after one until reopened; a full disk that got
    /// space back works again). What was not flushed is recomputed: the
    /// cursor moves back with it.
    pub fn heal(&self, error: &AccountingError) {
        if let AccountingError::Storage { source: sled::Error::Io(_), .. } = error
            && self.db.reopen().is_ok()
        {
            tracing::info!(path = %self.db.path().display(), "accounting database reopened after an I/O error");
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.write_lock.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get<T: serde::de::DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, AccountingError> {
        match self.db()?.get(key).map_err(AccountingError::storage("read"))? {
            Some(v) => Ok(Some(unseal_json(key, &v)?)),
            None => Ok(None),
        }
    }

    fn scan<T: serde::de::DeserializeOwned>(&self, prefix: &[u8]) -> Result<Vec<T>, AccountingError> {
        let mut out = Vec::new();
        for item in self.db()?.scan_prefix(prefix) {
            let (k, v) = item.map_err(AccountingError::storage("scan"))?;
            out.push(unseal_json(&k, &v)?);
        }
        Ok(out)
    }

    /// Flushes to disk.
    pub fn flush(&self) -> Result<(), AccountingError> {
        self.db()?.flush().map(|_| ()).map_err(AccountingError::storage("flush"))
    }

    /// The consumer's position in the archive's global sequence (0 at first).
    pub fn cursor(&self) -> Result<u64, AccountingError> {
        match self.db()?.get(CURSOR).map_err(AccountingError::storage("read cursor"))? {
            Some(v) => Ok(unseal_u64(CURSOR, &v)?),
            None => Ok(0),
        }
    }

    /// One meter.
    pub fn meter(&self, meter: &str) -> Result<Option<MeterRecord>, AccountingError> {
        self.get(&meter_key(meter))
    }

    /// Every meter, by identity.
    pub fn meters(&self) -> Result<Vec<MeterRecord>, AccountingError> {
        self.scan(b"m\0")
    }

    /// Every module, by identity.
    pub fn modules(&self) -> Result<Vec<ModuleRecord>, AccountingError> {
        self.scan(b"o\0")
    }

    /// The changes of a meter's metadata and events, oldest first.
    pub fn history(&self, meter: &str) -> Result<Vec<HistoryEntry>, AccountingError> {
        self.scan(&history_prefix(meter))
    }

    /// Meters waiting for a full recomputation, with the generation of the
    /// change that asked for it.
    pub fn pending(&self) -> Result<Vec<(String, u64)>, AccountingError> {
        let mut out = Vec::new();
        for item in self.db()?.scan_prefix(b"p\0") {
            let (k, v) = item.map_err(AccountingError::storage("scan pending"))?;
            let meter = String::from_utf8_lossy(&k[2..]).into_owned();
            out.push((meter, unseal_u64(&k, &v)?));
        }
        Ok(out)
    }

    /// Meters whose deltas are held.
    pub fn holds(&self) -> Result<Vec<Hold>, AccountingError> {
        self.scan(b"x\0")
    }

    /// The hold of one meter.
    pub fn hold(&self, meter: &str) -> Result<Option<Hold>, AccountingError> {
        self.get(&hold_key(meter))
    }

    /// Records `zone` as the default time zone; when the deltas were
    /// computed in another one, marks every meter without a zone of its own
    /// for recomputation (atomically) and returns `true`.
    pub fn adopt_default_zone(&self, zone: &str) -> Result<bool, AccountingError> {
        let _guard = self.lock();
        let stored: Option<String> = self.get(DEFAULT_ZONE)?;
        if stored.as_deref() == Some(zone) {
            return Ok(false);
        }
        let mut batch = sled::Batch::default();
        batch.insert(DEFAULT_ZONE, seal_json(DEFAULT_ZONE, &zone)?);
        let affected: Vec<MeterRecord> = match stored {
            None => Vec::new(),
            Some(_) => self.meters()?.into_iter().filter(|m| m.metadata.time_zone.is_none()).collect(),
        };
        if !affected.is_empty() {
            let generation = self.next_generation()?;
            batch.insert(GENERATION, seal_u64(GENERATION, generation));
            for m in &affected {
                let k = pending_key(&m.id);
                batch.insert(k.clone(), seal_u64(&k, generation));
            }
        }
        self.db()?.apply_batch(batch).map_err(AccountingError::storage("write default zone"))?;
        Ok(!affected.is_empty())
    }

    fn next_generation(&self) -> Result<u64, AccountingError> {
        Ok(match self.db()?.get(GENERATION).map_err(AccountingError::storage("read generation"))? {
            Some(v) => unseal_u64(GENERATION, &v)? + 1,
            None => 1,
        })
    }

    /// Stored deltas of `meter` (one channel or all), one period length,
    /// starting in `[from_ms, to_ms)`; by channel, then time.
    pub fn deltas(
        &self,
        meter: &str,
        channel: Option<&str>,
        period: Period,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<(String, Delta)>, AccountingError> {
        let channels: Vec<String> = match channel {
            Some(c) => vec![c.to_owned()],
            None => {
                self.meter(meter)?.map(|m| m.cumulative_channels().map(str::to_owned).collect()).unwrap_or_default()
            }
        };
        let mut out = Vec::new();
        for channel in channels {
            let (lo, hi) = (delta_key(meter, &channel, period, from_ms), delta_key(meter, &channel, period, to_ms));
            for item in self.db()?.range(lo..hi) {
                let (k, v) = item.map_err(AccountingError::storage("scan deltas"))?;
                out.push((channel.clone(), unseal_json(&k, &v)?));
            }
        }
        Ok(out)
    }

    /// Changes a meter: `change` edits a copy of the record and returns the
    /// history entries (seq, time and actor are filled in here) and whether
    /// its deltas must be recomputed. Written atomically and flushed before
    /// it returns the new record.
    pub fn change_meter(
        &self,
        meter: &str,
        actor: &str,
        change: impl FnOnce(&mut MeterRecord) -> Result<(Vec<HistoryEntry>, bool), AccountingError>,
    ) -> Result<MeterRecord, AccountingError> {
        let _guard = self.lock();
        let mut record = self.meter(meter)?.ok_or_else(|| AccountingError::UnknownMeter(meter.to_owned()))?;
        let (entries, recompute) = change(&mut record)?;
        let mut batch = sled::Batch::default();
        let mut seq = self.history(meter)?.last().map_or(0, |e| e.seq);
        let now = now_ms();
        for mut entry in entries {
            seq += 1;
            entry.seq = seq;
            entry.at_ms = now;
            entry.actor = actor.to_owned();
            let mut k = history_prefix(meter);
            k.extend_from_slice(&seq.to_be_bytes());
            batch.insert(k.clone(), seal_json(&k, &entry)?);
        }
        let k = meter_key(meter);
        batch.insert(k.clone(), seal_json(&k, &record)?);
        let mut revisions = Revisions::start(self)?;
        revisions.record(self, &mut batch, &Changed::Meter(meter.to_owned()))?;
        revisions.finish(&mut batch);
        if recompute {
            let generation = self.next_generation()?;
            batch.insert(GENERATION, seal_u64(GENERATION, generation));
            let k = pending_key(meter);
            batch.insert(k.clone(), seal_u64(&k, generation));
        }
        self.db()?.apply_batch(batch).map_err(AccountingError::storage("write meter"))?;
        // A person was told it is done: make it durable now, not at sled's
        // next periodic flush (deltas need not be: they are recomputed).
        self.flush()?;
        Ok(record)
    }

    /// Take a meter as another host's registry holds it (a monitoring
    /// center taking its sites' registry changes, `record.id` already in
    /// the center's namespace): a meter not registered yet is registered as
    /// given (its readings add what they add when they arrive); a known
    /// one takes the given metadata and register events, each change in
    /// its history under `actor`, and its deltas are recomputed. Whether
    /// anything changed.
    pub fn replicate_meter(&self, record: MeterRecord, actor: &str) -> Result<bool, AccountingError> {
        {
            let _guard = self.lock();
            if self.meter(&record.id)?.is_none() {
                let mut batch = sled::Batch::default();
                let k = meter_key(&record.id);
                batch.insert(k.clone(), seal_json(&k, &record)?);
                let mut revisions = Revisions::start(self)?;
                revisions.record(self, &mut batch, &Changed::Meter(record.id.clone()))?;
                revisions.finish(&mut batch);
                self.db()?.apply_batch(batch).map_err(AccountingError::storage("write meter"))?;
                return Ok(true);
            }
        }
        let mut changed = false;
        self.change_meter(&record.id, actor, |stored| {
            let entry = |field: &str, old: serde_json::Value, new: serde_json::Value| HistoryEntry {
                seq: 0,
                at_ms: 0,
                actor: String::new(),
                field: field.to_owned(),
                old,
                new,
            };
            let mut entries = Vec::new();
            if stored.metadata != record.metadata {
                let json = |m: &super::model::MeterMetadata| serde_json::to_value(m).unwrap_or_default();
                entries.push(entry("metadata", json(&stored.metadata), json(&record.metadata)));
                stored.metadata = record.metadata.clone();
            }
            if stored.events != record.events {
                let json = |e: &[meterhub_accounting::RegisterEvent]| serde_json::to_value(e).unwrap_or_default();
                entries.push(entry("events", json(&stored.events), json(&record.events)));
                stored.events = record.events.clone();
            }
            changed = !entries.is_empty();
            Ok((entries, changed))
        })?;
        Ok(changed)
    }

    /// Sets (or with `None` clears) the period `actor` expects between the
    /// uplinks of module `id`; the module is registered if it was not.
    pub fn set_module_period(
        &self,
        id: &str,
        period_ms: Option<i64>,
        actor: &str,
    ) -> Result<ModuleRecord, AccountingError> {
        let _guard = self.lock();
        let now = now_ms();
        let k = module_key(id);
        let mut record = self.get::<ModuleRecord>(&k)?.unwrap_or_else(|| ModuleRecord::new(id, now));
        record.expected_period_ms = period_ms;
        record.expected_period_set = Some((actor.to_owned(), now));
        let mut batch = sled::Batch::default();
        batch.insert(k.clone(), seal_json(&k, &record)?);
        let mut revisions = Revisions::start(self)?;
        revisions.record(self, &mut batch, &Changed::Module(id.to_owned()))?;
        revisions.finish(&mut batch);
        self.db()?.apply_batch(batch).map_err(AccountingError::storage("write module"))?;
        self.flush()?;
        Ok(record)
    }

    /// One module.
    pub fn module(&self, id: &str) -> Result<Option<ModuleRecord>, AccountingError> {
        self.get(&module_key(id))
    }

    /// Writes one consumer step atomically: sightings merged into the
    /// registry (metadata untouched), delta ranges replaced, pending marks
    /// cleared when still the generation computed for, the cursor moved.
    pub fn commit(&self, commit: &ConsumerCommit) -> Result<(), AccountingError> {
        let _guard = self.lock();
        let mut batch = sled::Batch::default();
        let mut revisions = Revisions::start(self)?;
        let now = now_ms();
        let mut modules: BTreeMap<String, ModuleRecord> = BTreeMap::new();
        // Each module as stored before this commit (`None`: new).
        let mut modules_before: BTreeMap<String, Option<ModuleRecord>> = BTreeMap::new();
        for s in &commit.sightings {
            let k = meter_key(&s.meter);
            let stored = self.get::<MeterRecord>(&k)?;
            // News for sinks: what a sighting changes besides the first and
            // last seen times (those move with every reading).
            let new = stored.is_none();
            let mut news = new;
            let mut record = stored.unwrap_or_else(|| MeterRecord::new(&s.meter, &s.source, s.first_ms, now));
            // A reading entered by hand does not make the meter's source
            // `manual`: the driver that reads it stays its source.
            if new || s.source != crate::config::MANUAL_SOURCE {
                news |= record.source != s.source;
                record.source.clone_from(&s.source);
            }
            record.first_seen_ms = record.first_seen_ms.min(s.first_ms);
            record.last_seen_ms = record.last_seen_ms.max(s.last_ms);
            for (name, info) in &s.channels {
                if !record.channels.contains_key(name) {
                    news = true;
                    record.channels.insert(name.clone(), info.clone());
                }
            }
            if s.model.is_some() && s.model != record.model {
                news = true;
                record.model.clone_from(&s.model);
            }
            if s.module.is_some() && s.module != record.module {
                news = true;
                if let Some(old) = record.module.take() {
                    let mut m = self.module_for(&mut modules, &mut modules_before, &old, now)?;
                    m.meters.remove(&s.meter);
                    modules.insert(old, m);
                }
                record.module.clone_from(&s.module);
            }
            if let Some(module) = &record.module {
                let mut m = self.module_for(&mut modules, &mut modules_before, module, now)?;
                m.meters.insert(s.meter.clone());
                modules.insert(module.clone(), m);
            }
            if news {
                revisions.record(self, &mut batch, &Changed::Meter(s.meter.clone()))?;
            }
            batch.insert(k.clone(), seal_json(&k, &record)?);
        }
        for (id, m) in &modules {
            let k = module_key(id);
            if modules_before.get(id).is_none_or(|before| before.as_ref() != Some(m)) {
                revisions.record(self, &mut batch, &Changed::Module(id.clone()))?;
            }
            batch.insert(k.clone(), seal_json(&k, m)?);
        }
        for r in &commit.ranges {
            let (lo, hi) = (
                delta_key(&r.meter, &r.channel, r.period, r.from_ms),
                delta_key(&r.meter, &r.channel, r.period, r.to_ms),
            );
            let mut before: BTreeMap<Vec<u8>, sled::IVec> = BTreeMap::new();
            for item in self.db()?.range(lo..hi) {
                let (k, v) = item.map_err(AccountingError::storage("scan deltas"))?;
                batch.remove(k.clone());
                before.insert(k.to_vec(), v);
            }
            for d in &r.deltas {
                let k = delta_key(&r.meter, &r.channel, r.period, d.start_ms);
                let sealed = seal_json(&k, d)?;
                // Only a delta whose value changed is news for the sinks.
                if before.remove(&k).is_none_or(|old| old.as_ref() != sealed.as_slice()) {
                    revisions.record(
                        self,
                        &mut batch,
                        &Changed::delta(&r.meter, &r.channel, r.period, d.start_ms, false),
                    )?;
                }
                batch.insert(k, sealed);
            }
            for gone in before.keys() {
                let start_ms = delta_start(gone);
                revisions.record(self, &mut batch, &Changed::delta(&r.meter, &r.channel, r.period, start_ms, true))?;
            }
        }
        revisions.finish(&mut batch);
        for (meter, generation) in &commit.recomputed {
            batch.remove(hold_key(meter));
            let k = pending_key(meter);
            if let Some(v) = self.db()?.get(&k).map_err(AccountingError::storage("read pending"))?
                && unseal_u64(&k, &v)? == *generation
            {
                batch.remove(k);
            }
        }
        for hold in &commit.holds {
            let k = hold_key(&hold.meter);
            batch.insert(k.clone(), seal_json(&k, hold)?);
        }
        if let Some(cursor) = commit.cursor {
            batch.insert(CURSOR, seal_u64(CURSOR, cursor));
        }
        self.db()?.apply_batch(batch).map_err(AccountingError::storage("write deltas"))
    }

    /// Every stored delta key of `meter` (all channels and periods), for a
    /// full recomputation that replaces them.
    pub(crate) fn delta_channels(&self, meter: &str) -> Result<Vec<String>, AccountingError> {
        let prefix = delta_prefix(meter, None);
        let mut channels: Vec<String> = Vec::new();
        for item in self.db()?.scan_prefix(&prefix) {
            let (k, _) = item.map_err(AccountingError::storage("scan deltas"))?;
            let rest = &k[prefix.len()..];
            let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            let channel = String::from_utf8_lossy(&rest[..end]).into_owned();
            if channels.last() != Some(&channel) {
                channels.push(channel);
            }
        }
        Ok(channels)
    }

    fn module_for(
        &self,
        pending: &mut BTreeMap<String, ModuleRecord>,
        before: &mut BTreeMap<String, Option<ModuleRecord>>,
        id: &str,
        now: i64,
    ) -> Result<ModuleRecord, AccountingError> {
        if let Some(m) = pending.remove(id) {
            return Ok(m);
        }
        let stored: Option<ModuleRecord> = self.get(&module_key(id))?;
        let record = stored.clone().unwrap_or_else(|| ModuleRecord::new(id, now));
        before.insert(id.to_owned(), stored);
        Ok(record)
    }
}
