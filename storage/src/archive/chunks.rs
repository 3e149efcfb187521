//! Readings by series: sealed chunks on disk and the heads in memory.
//!
//! A series is one register, `(device, channel)`. Its readings live in
//! **chunks** (`C` + device 0 channel 0 + first timestamp + first seq): up
//! to [`CHUNK_READINGS`] readings sorted by timestamp (the versions of one
//! timestamp, original first, never split), compressed ([`super::codec`]).
//! The chunks of a series never overlap in time and sort by their first
//! timestamp, so the one chunk that may hold a timestamp is one step of a
//! reverse range scan away.
//!
//! Readings applied since the last seal wait in the series' **head**, in
//! memory; the log blocks hold them durably, and opening the archive
//! rebuilds the heads from the log past the `chunked_through` mark. When
//! the heads hold more than their limit, [`seal_heads`] merges each head into the
//! chunks it overlaps (and into a small last chunk before it), rewrites
//! them split at [`CHUNK_READINGS`], and moves the mark, in one batch.
//!
//! A chunk whose value is damaged is reported by every read of it. The next
//! write that needs it (an apply classifying a reading of its series, a
//! seal) rebuilds it from the log blocks, which hold every reading too
//! ([`rebuild`]), and keeps the damaged bytes under `X` + its key.

use std::sync::Arc;

use super::codec::{self, Registers};
use super::error::ArchiveError;
use super::keys;
use super::model::StoredReading;
use crate::seal::{seal, unseal};

/// The most readings one chunk holds (more only when one timestamp has
/// more versions than that).
pub(crate) const CHUNK_READINGS: usize = 512;

/// A series: device and channel.
pub(crate) type SeriesKey = (String, String);

fn corrupt(key: &[u8], reason: impl Into<String>) -> ArchiveError {
    crate::seal::SealError::new(key, reason).into()
}

/// A chunk as read: its key, time span and readings.
#[derive(Debug)]
pub(crate) struct Chunk {
    pub(crate) key: Vec<u8>,
    pub(crate) max_ts: i64,
    pub(crate) count: usize,
    /// Decoded lazily: `None` until needed.
    readings: Option<Vec<StoredReading>>,
    pub(crate) value: sled::IVec,
    /// Why its value cannot be read (then `max_ts` is `i64::MAX`: it may
    /// hold anything up to the next chunk).
    pub(crate) damage: Option<ArchiveError>,
}

const HEADER_BYTES: usize = 12;

/// The key of a chunk of `series` starting at `first`.
fn chunk_key(device: &str, channel: &str, first: &StoredReading) -> Vec<u8> {
    let mut key = keys::chunk_prefix(device, channel);
    key.extend_from_slice(&keys::ts_bytes(first.reading.ts_ms));
    key.extend_from_slice(&first.seq.to_be_bytes());
    key
}

fn encode_chunk(key: &[u8], device: &str, channel: &str, readings: &[StoredReading]) -> Vec<u8> {
    let max_ts = readings.last().map_or(i64::MIN, |r| r.reading.ts_ms);
    let mut body = Vec::with_capacity(HEADER_BYTES + readings.len() * 6);
    body.extend_from_slice(&max_ts.to_be_bytes());
    body.extend_from_slice(&(readings.len() as u32).to_be_bytes());
    body.extend_from_slice(&codec::encode(readings, Registers::Of(device, channel)));
    seal(key, &body)
}

impl Chunk {
    fn parse(key: &[u8], value: sled::IVec) -> Chunk {
        let header = unseal(key, &value).map_err(ArchiveError::from).and_then(|body| {
            body.get(..HEADER_BYTES)
                .and_then(|h| <[u8; HEADER_BYTES]>::try_from(h).ok())
                .ok_or_else(|| corrupt(key, "chunk shorter than its header"))
        });
        match header {
            Ok(header) => {
                let max_ts = i64::from_be_bytes(header[..8].try_into().unwrap_or_default());
                let count = u32::from_be_bytes(header[8..].try_into().unwrap_or_default()) as usize;
                Chunk { key: key.to_vec(), max_ts, count, readings: None, value, damage: None }
            }
            Err(damage) => {
                Chunk { key: key.to_vec(), max_ts: i64::MAX, count: 0, readings: None, value, damage: Some(damage) }
            }
        }
    }

    /// Its readings, sorted by timestamp then seq.
    pub(crate) fn readings(&mut self, series: &SeriesKey) -> Result<&[StoredReading], ArchiveError> {
        if let Some(damage) = &self.damage {
            return Err(corrupt(&self.key, damage.to_string()));
        }
        if self.readings.is_none() {
            let body = unseal(&self.key, &self.value)?;
            let decoded = codec::decode(
                &body[HEADER_BYTES..],
                Registers::Of(&series.0, &series.1),
                super::blocks::MAX_BLOCK_BYTES,
            )
            .map_err(|reason| corrupt(&self.key, reason))?;
            if decoded.len() != self.count {
                return Err(corrupt(
                    &self.key,
                    format!("holds {} readings, its header says {}", decoded.len(), self.count),
                ));
            }
            self.readings = Some(decoded);
        }
        Ok(self.readings.as_deref().unwrap_or_default())
    }

    fn into_readings(mut self, series: &SeriesKey) -> Result<Vec<StoredReading>, ArchiveError> {
        self.readings(series)?;
        Ok(self.readings.unwrap_or_default())
    }
}

fn chunk_at(item: sled::Result<(sled::IVec, sled::IVec)>) -> Result<Chunk, ArchiveError> {
    let (key, value) = item.map_err(ArchiveError::storage("scan chunks"))?;
    Ok(Chunk::parse(&key, value))
}

/// The chunk of `series` that may hold `ts_ms`: the last one starting at or
/// before it, if it reaches `ts_ms`.
pub(crate) fn chunk_holding(tree: &sled::Tree, series: &SeriesKey, ts_ms: i64) -> Result<Option<Chunk>, ArchiveError> {
    let prefix = keys::chunk_prefix(&series.0, &series.1);
    let mut end = prefix.clone();
    end.extend_from_slice(&keys::ts_bytes(ts_ms));
    end.extend_from_slice(&u64::MAX.to_be_bytes());
    match tree.range(prefix..=end).next_back() {
        Some(item) => {
            let chunk = chunk_at(item)?;
            Ok((chunk.max_ts >= ts_ms).then_some(chunk))
        }
        None => Ok(None),
    }
}

/// The last chunk of `series` (the one with the latest readings).
pub(crate) fn last_chunk(tree: &sled::Tree, series: &SeriesKey) -> Result<Option<Chunk>, ArchiveError> {
    tree.scan_prefix(keys::chunk_prefix(&series.0, &series.1)).next_back().map(chunk_at).transpose()
}

/// The chunks of `series` that may hold timestamps in `[from, to)`, in order.
pub(crate) fn chunks_between(
    tree: &sled::Tree,
    series: &SeriesKey,
    from: Option<i64>,
    to: Option<i64>,
) -> impl Iterator<Item = Result<Chunk, ArchiveError>> {
    let prefix = keys::chunk_prefix(&series.0, &series.1);
    // Start at the chunk that may hold `from` (it may start before it).
    let start = match from {
        Some(from) => match chunk_holding(tree, series, from) {
            Ok(Some(chunk)) => chunk.key,
            Ok(None) => [prefix.as_slice(), &keys::ts_bytes(from)].concat(),
            Err(e) => return Box::new(std::iter::once(Err(e))) as Box<dyn Iterator<Item = _>>,
        },
        None => prefix.clone(),
    };
    let end = match to {
        Some(to) => [prefix.as_slice(), &keys::ts_bytes(to)].concat(),
        None => keys::after_prefix(&prefix),
    };
    if start >= end {
        return Box::new(std::iter::empty());
    }
    Box::new(tree.range(start..end).map(chunk_at))
}

/// A reading in a series head, without what its series says (device and
/// channel) and with its source and unit shared along the head: about 90
/// bytes where a [`StoredReading`] takes about 300 with its four strings.
#[derive(Debug, Clone)]
pub(crate) struct HeadEntry {
    pub(crate) seq: u64,
    frame_seq: u64,
    pub(crate) ts_ms: i64,
    archived_at_ms: i64,
    value: rust_decimal::Decimal,
    source: Arc<str>,
    unit: Arc<str>,
    kind: meterhub_plugin_api::ReadingKind,
    conflict: bool,
}

/// One series in memory: the readings since the last seal.
#[derive(Debug, Default)]
pub(crate) struct Series {
    /// Readings since the last seal, sorted by timestamp then seq.
    head: Vec<HeadEntry>,
}

impl Series {
    /// The head's readings at `ts_ms`, original first.
    pub(crate) fn at(&self, series: &SeriesKey, ts_ms: i64) -> impl Iterator<Item = StoredReading> {
        let start = self.head.partition_point(|r| r.ts_ms < ts_ms);
        let end = self.head.partition_point(|r| r.ts_ms <= ts_ms);
        self.head[start..end].iter().map(move |entry| entry.stored(series))
    }

    /// The head's readings in `[from, to)`.
    pub(crate) fn between(
        &self,
        series: &SeriesKey,
        from: Option<i64>,
        to: Option<i64>,
    ) -> impl Iterator<Item = StoredReading> {
        let start = from.map_or(0, |from| self.head.partition_point(|r| r.ts_ms < from));
        let end = to.map_or(self.head.len(), |to| self.head.partition_point(|r| r.ts_ms < to));
        self.head[start..end.max(start)].iter().map(move |entry| entry.stored(series))
    }

    /// The newest timestamp in the head.
    pub(crate) fn newest_ts(&self) -> Option<i64> {
        self.head.last().map(|entry| entry.ts_ms)
    }

    fn insert(&mut self, stored: &StoredReading) {
        let key = (stored.reading.ts_ms, stored.seq);
        // A live reading goes at the end: no search.
        let at = match self.head.last() {
            Some(last) if (last.ts_ms, last.seq) > key => self.head.partition_point(|r| (r.ts_ms, r.seq) < key),
            _ => self.head.len(),
        };
        // Shared with a neighbour when equal (a series' source and unit rarely change).
        let neighbour = self.head.get(at.saturating_sub(1)).or_else(|| self.head.get(at));
        let share = |text: &str, of: fn(&HeadEntry) -> &Arc<str>| match neighbour.map(of) {
            Some(shared) if **shared == *text => shared.clone(),
            _ => Arc::from(text),
        };
        let entry = HeadEntry {
            seq: stored.seq,
            frame_seq: stored.frame_seq,
            ts_ms: stored.reading.ts_ms,
            archived_at_ms: stored.archived_at_ms,
            value: stored.reading.value,
            source: share(&stored.source, |e| &e.source),
            unit: share(&stored.reading.unit, |e| &e.unit),
            kind: stored.reading.kind,
            conflict: stored.conflict,
        };
        self.head.insert(at, entry);
    }
}

impl HeadEntry {
    /// The stored reading it holds, of `series`.
    fn stored(&self, series: &SeriesKey) -> StoredReading {
        StoredReading {
            seq: self.seq,
            frame_seq: self.frame_seq,
            source: self.source.to_string(),
            reading: meterhub_plugin_api::Reading {
                device: series.0.clone(),
                channel: series.1.clone(),
                ts_ms: self.ts_ms,
                value: self.value,
                unit: self.unit.to_string(),
                kind: self.kind,
            },
            conflict: self.conflict,
            archived_at_ms: self.archived_at_ms,
        }
    }
}

/// The heads of every series with readings since the last seal.
#[derive(Debug, Default)]
pub(crate) struct Heads {
    pub(crate) series: foldhash::HashMap<SeriesKey, Series>,
    /// Readings held in all heads.
    pub(crate) len: usize,
    /// The latest sealed timestamp of series looked up since the last seal
    /// (`None`: no chunk), so a live reading newer than that needs no read.
    pub(crate) sealed_max: foldhash::HashMap<SeriesKey, Option<i64>>,
}

/// The most series whose latest sealed timestamp is remembered.
const SEALED_MAX_KEPT: usize = 1 << 20;

impl Heads {
    /// Remembers latest sealed timestamps a transaction looked up.
    pub(crate) fn learn(&mut self, sealed_max: Vec<(SeriesKey, Option<i64>)>) {
        if self.sealed_max.len() + sealed_max.len() > SEALED_MAX_KEPT {
            self.sealed_max.clear();
        }
        self.sealed_max.extend(sealed_max);
    }

    /// Empties the heads: after a committed seal, or before a reopen
    /// rebuilds them from the log.
    pub(crate) fn clear(&mut self) {
        self.series.clear();
        self.sealed_max.clear();
        self.len = 0;
    }

    /// Adds archived readings.
    pub(crate) fn absorb<'a>(&mut self, readings: impl IntoIterator<Item = &'a StoredReading>) {
        // One key reused for the lookups: a series' name is copied only
        // when the series is new to the heads.
        let mut key = SeriesKey::default();
        for stored in readings {
            key.0.clone_from(&stored.reading.device);
            key.1.clone_from(&stored.reading.channel);
            match self.series.get_mut(&key) {
                Some(series) => series.insert(stored),
                None => self.series.entry(key.clone()).or_default().insert(stored),
            }
            self.len += 1;
        }
    }

    pub(crate) fn get(&self, series: &SeriesKey) -> Option<&Series> {
        self.series.get(series)
    }
}

/// Writes every head into the chunks (in `batch`); the caller commits the
/// batch and then empties the heads. A damaged chunk in the way is rebuilt
/// from the log first. Returns the number of chunks written.
pub(crate) fn seal_heads(tree: &sled::Tree, heads: &Heads, batch: &mut sled::Batch) -> Result<usize, ArchiveError> {
    let mut written = 0;
    for (series, state) in &heads.series {
        let (Some(first), Some(last)) = (state.head.first(), state.head.last()) else { continue };
        let (head_min, head_max) = (first.ts_ms, last.ts_ms);
        let prefix = keys::chunk_prefix(&series.0, &series.1);
        let mut end = prefix.clone();
        end.extend_from_slice(&keys::ts_bytes(head_max));
        end.extend_from_slice(&u64::MAX.to_be_bytes());
        let mut merged: Vec<StoredReading> = state.head.iter().map(|entry| entry.stored(series)).collect();
        for item in tree.range(prefix..=end).rev() {
            let mut chunk = chunk_at(item)?;
            let overlaps = chunk.max_ts >= head_min;
            if !overlaps && chunk.count >= CHUNK_READINGS {
                break;
            }
            let key = chunk.key.clone();
            let readings = match chunk.damage.take() {
                None => chunk.into_readings(series)?,
                Some(damage) => {
                    let (readings, writes) = rebuild(tree, series, &chunk.key, &chunk.value, &damage)?;
                    // Only the quarantined copy is kept: the readings are merged below.
                    for (key, value) in writes.into_iter().filter(|(k, _)| k.first() == Some(&keys::DAMAGED_CHUNK)) {
                        batch.insert(key, value.unwrap_or_default());
                    }
                    readings
                }
            };
            batch.remove(key);
            merged.extend(readings);
            if !overlaps {
                // The small chunk just before the head: merged, and done.
                break;
            }
        }
        for (key, value) in chunk_writes(series, merged) {
            batch.insert(key, value);
            written += 1;
        }
    }
    Ok(written)
}

/// The chunks holding `readings` of `series`, split at [`CHUNK_READINGS`]
/// without splitting the versions of one timestamp.
pub(crate) fn chunk_writes(series: &SeriesKey, mut readings: Vec<StoredReading>) -> Vec<(Vec<u8>, Vec<u8>)> {
    readings.sort_by_key(|r| (r.reading.ts_ms, r.seq));
    let mut out = Vec::new();
    let mut rest = &readings[..];
    while !rest.is_empty() {
        let mut n = rest.len().min(CHUNK_READINGS);
        while n < rest.len() && rest[n].reading.ts_ms == rest[n - 1].reading.ts_ms {
            n += 1;
        }
        let (piece, tail) = rest.split_at(n);
        let key = chunk_key(&series.0, &series.1, &piece[0]);
        let value = encode_chunk(&key, &series.0, &series.1, piece);
        out.push((key, value));
        rest = tail;
    }
    out
}

/// A write of a transaction: a value, or `None` to remove the key.
pub(crate) type Write = (Vec<u8>, Option<Vec<u8>>);

/// Rebuilds the damaged chunk under `key` from the log blocks: the sealed
/// readings of `series` from the chunk's first timestamp up to the next
/// chunk's. Returns them and the writes that replace the chunk (the damaged
/// value kept under `X` + its key). Readings whose log block is damaged too
/// cannot be found; they are logged as lost.
pub(crate) fn rebuild(
    tree: &sled::Tree,
    series: &SeriesKey,
    key: &[u8],
    damaged_value: &[u8],
    damage: &ArchiveError,
) -> Result<(Vec<StoredReading>, Vec<Write>), ArchiveError> {
    let prefix = keys::chunk_prefix(&series.0, &series.1);
    let from = keys::ts_from_slice(&key[prefix.len()..prefix.len() + 8]);
    let after = [key, &[0]].concat();
    let until = match tree.range(after..keys::after_prefix(&prefix)).next() {
        Some(item) => {
            let (next, _) = item.map_err(ArchiveError::storage("scan chunks"))?;
            Some(keys::ts_from_slice(&next[prefix.len()..prefix.len() + 8]))
        }
        None => None,
    };
    let sealed_through = super::apply::read_u64(tree, keys::CHUNKED_THROUGH)?.unwrap_or(0);
    let mut readings = Vec::new();
    let mut unreadable_blocks = 0;
    for item in tree.scan_prefix([keys::LOG_BLOCK]) {
        let (block_key, value) = item.map_err(ArchiveError::storage("scan log"))?;
        if keys::trailing_seq(&block_key).is_some_and(|first| first > sealed_through) {
            break;
        }
        if super::blocks::names(&block_key, &value, series) == Some(false) {
            continue;
        }
        match super::blocks::decode_log_block(&block_key, &value) {
            Ok(block) => readings.extend(block.into_iter().filter(|r| {
                r.reading.device == series.0
                    && r.reading.channel == series.1
                    && r.seq <= sealed_through
                    && r.reading.ts_ms >= from
                    && until.is_none_or(|until| r.reading.ts_ms < until)
            })),
            Err(_) => unreadable_blocks += 1,
        }
    }
    tracing::error!(
        chunk = %crate::seal::display_key(key), %damage, found = readings.len(), unreadable_blocks,
        "a damaged chunk was rebuilt from the log; its bytes are kept under the X prefix"
    );
    let mut writes: Vec<(Vec<u8>, Option<Vec<u8>>)> =
        vec![([&[keys::DAMAGED_CHUNK], key].concat(), Some(damaged_value.to_vec())), (key.to_vec(), None)];
    writes.extend(chunk_writes(series, readings.clone()).into_iter().map(|(k, v)| (k, Some(v))));
    readings.sort_by_key(|r| (r.reading.ts_ms, r.seq));
    Ok((readings, writes))
}
