//! Converting an archive of layout 1 (one sled entry per reading, per log
//! record and per frame) into the current layout (log blocks, series
//! chunks, frame blocks), in place, without losing a reading.
//!
//! It runs at open, in three phases, each a series of atomic batches that
//! write the new entries and remove the old ones they replace, so a
//! conversion stopped anywhere (crash, power cut) goes on from where it
//! stopped the next time: frames (`f`, `t`) into frame blocks; the log (`l`,
//! reading each record's `r` value) into log blocks; then the readings
//! (`r`) into chunks. The layout mark is written last. A value of layout 1
//! that cannot be read stops the conversion with its key named, and
//! nothing of it is removed.

use meterhub_plugin_api::RawFrame;

use super::blocks::{self, FrameBlockHeader};
use super::chunks::{self, Heads};
use super::error::ArchiveError;
use super::keys::{self, LAYOUT, LAYOUT_VERSION, V1_FRAME, V1_LOG, V1_READING};
use super::model::StoredReading;
use super::value::{seal_u64, unseal, unseal_frame, unseal_json};

/// Records converted per batch.
const BATCH: usize = 2048;

/// What a conversion did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationReport {
    /// Frames moved into frame blocks.
    pub frames: u64,
    /// Log records moved into log blocks.
    pub log_records: u64,
    /// Natural keys (readings with their conflicts) moved into chunks.
    pub readings: u64,
}

fn corrupt(key: &[u8], reason: impl Into<String>) -> ArchiveError {
    crate::seal::SealError::new(key, reason).into()
}

fn first_n(tree: &sled::Tree, prefix: u8) -> Result<Vec<(sled::IVec, sled::IVec)>, ArchiveError> {
    tree.scan_prefix([prefix]).take(BATCH).map(|item| item.map_err(ArchiveError::storage("migration scan"))).collect()
}

/// Converts `tree` to the current layout if it is of an earlier one.
/// `None` when it already was current (or new).
pub(crate) fn to_current(tree: &sled::Tree) -> Result<Option<MigrationReport>, ArchiveError> {
    match super::apply::read_u64(tree, LAYOUT)? {
        Some(LAYOUT_VERSION) => return Ok(None),
        Some(other) => {
            return Err(corrupt(
                LAYOUT,
                format!("layout {other} is newer than this meterhub knows ({LAYOUT_VERSION}); run a newer meterhub"),
            ));
        }
        None => {}
    }
    let mut report = MigrationReport::default();
    frames(tree, &mut report)?;
    log(tree, &mut report)?;
    readings(tree, &mut report)?;
    let head = super::apply::read_u64(tree, keys::NEXT_READING_SEQ)?.unwrap_or(1).saturating_sub(1);
    let mut batch = sled::Batch::default();
    batch.insert(keys::CHUNKED_THROUGH, seal_u64(keys::CHUNKED_THROUGH, head));
    batch.insert(LAYOUT, seal_u64(LAYOUT, LAYOUT_VERSION));
    tree.apply_batch(batch).map_err(ArchiveError::storage("migration mark"))?;
    Ok((report != MigrationReport::default()).then_some(report))
}

fn frames(tree: &sled::Tree, report: &mut MigrationReport) -> Result<(), ArchiveError> {
    loop {
        let entries = first_n(tree, V1_FRAME)?;
        if entries.is_empty() {
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        let mut frames: Vec<RawFrame> = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let frame = unseal_frame(&key, &value)?;
            batch.remove(key);
            batch.remove(keys::v1_received_key(frame.received_at_ms, frame.seq));
            frames.push(frame);
        }
        let Some(header) = FrameBlockHeader::of(&frames) else { return Ok(()) };
        let key = keys::seq_key(keys::FRAME_BLOCK, header.first_seq);
        batch.insert(key.clone(), blocks::encode_frame_block(&key, &frames));
        batch.insert(keys::seq_key(keys::FRAME_INDEX, header.first_seq), header.encode());
        tree.apply_batch(batch).map_err(ArchiveError::storage("migration of frames"))?;
        report.frames += frames.len() as u64;
    }
}

fn log(tree: &sled::Tree, report: &mut MigrationReport) -> Result<(), ArchiveError> {
    loop {
        let entries = first_n(tree, V1_LOG)?;
        if entries.is_empty() {
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        let mut block: Vec<StoredReading> = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let seq = keys::trailing_seq(&key).ok_or_else(|| corrupt(&key, "malformed log key"))?;
            // A block's seqs are consecutive: a gap starts the next batch.
            if block.last().is_some_and(|last| last.seq + 1 != seq) {
                break;
            }
            let reading_key = unseal(&key, &value)?;
            let versions: Vec<StoredReading> = match tree.get(reading_key).map_err(ArchiveError::storage("read"))? {
                Some(v) => unseal_json(reading_key, &v)?,
                None => Vec::new(),
            };
            let stored = versions.into_iter().find(|s| s.seq == seq).ok_or_else(|| {
                corrupt(&key, format!("points to a record missing under key {}", crate::seal::display_key(reading_key)))
            })?;
            batch.remove(key);
            block.push(stored);
        }
        let Some(first) = block.first() else { return Ok(()) };
        let key = keys::seq_key(keys::LOG_BLOCK, first.seq);
        batch.insert(key.clone(), blocks::encode_log_block(&key, &block));
        tree.apply_batch(batch).map_err(ArchiveError::storage("migration of the log"))?;
        report.log_records += block.len() as u64;
    }
}

fn readings(tree: &sled::Tree, report: &mut MigrationReport) -> Result<(), ArchiveError> {
    loop {
        let entries = first_n(tree, V1_READING)?;
        if entries.is_empty() {
            return Ok(());
        }
        // The heads of this batch's series, sealed into chunks like live ones.
        let mut heads = Heads::default();
        let mut batch = sled::Batch::default();
        let mut keys_moved = 0u64;
        for (key, value) in entries {
            keys::parse_v1_reading_key(&key).ok_or_else(|| corrupt(&key, "malformed reading key"))?;
            let versions: Vec<StoredReading> = unseal_json(&key, &value)?;
            heads.absorb(&versions);
            batch.remove(key);
            keys_moved += 1;
        }
        chunks::seal_heads(tree, &heads, &mut batch)?;
        tree.apply_batch(batch).map_err(ArchiveError::storage("migration of readings"))?;
        report.readings += keys_moved;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::value::{seal, seal_frame, seal_json};
    use crate::archive::{Archive, ArchiveError, ReadingQuery, SledArchive};
    use crate::testing::{T0, decoded, reading};

    /// Items with new readings, a conflict, a repeat, late readings and
    /// readings of several meters, over several applies.
    fn history() -> Vec<Vec<crate::archive::ApplyItem>> {
        let mut applies = Vec::new();
        let mut seq = 0;
        for step in 0..30i64 {
            let mut items = Vec::new();
            for meter in 0..3 {
                seq += 1;
                let ts = T0 + step * 3_600_000;
                let mut readings = vec![reading(&format!("m{meter}"), "vol", ts, &(step * 10 + meter).to_string())];
                if step % 7 == 3 {
                    readings.push(reading(&format!("m{meter}"), "vol", ts, "999")); // conflict
                    readings.push(reading(&format!("m{meter}"), "vol", T0 - step, "1")); // late
                }
                items.push(decoded(seq, "s", readings));
            }
            applies.push(items);
        }
        applies
    }

    /// Writes what `reference` holds into `tree` as layout 1 did.
    fn write_layout_1(reference: &SledArchive, tree: &sled::Tree) {
        for item in reference.tree().iter() {
            let (key, value) = item.expect("read");
            let layout_2 = matches!(key[0], keys::LOG_BLOCK | keys::CHUNK | keys::FRAME_BLOCK | keys::FRAME_INDEX)
                || key.as_ref() == LAYOUT
                || key.as_ref() == keys::CHUNKED_THROUGH;
            if !layout_2 {
                tree.insert(key, value).expect("copy");
            }
        }
        let log = crate::testing::readable_log(reference, 0, usize::MAX);
        let mut versions: std::collections::BTreeMap<Vec<u8>, Vec<StoredReading>> = Default::default();
        for stored in &log {
            let r = &stored.reading;
            let key = keys::v1_reading_key(&r.device, &r.channel, r.ts_ms);
            let log_key = keys::seq_key(V1_LOG, stored.seq);
            tree.insert(&log_key, seal(&log_key, &key)).expect("log");
            versions.entry(key).or_default().push(stored.clone());
        }
        for (key, list) in versions {
            tree.insert(&key, seal_json(&key, &list).expect("json")).expect("reading");
        }
        let last_frame = reference.applied_through().expect("applied");
        for seq in 1..=last_frame {
            if let Some(frame) = reference.frame(seq).expect("frame") {
                let key = keys::seq_key(V1_FRAME, seq);
                tree.insert(&key, seal_frame(&key, &frame)).expect("frame");
                let index = keys::v1_received_key(frame.received_at_ms, seq);
                tree.insert(&index, seal(&index, &[])).expect("index");
            }
        }
    }

    fn everything(archive: &SledArchive) -> String {
        let q = ReadingQuery { device: None, channel: None, from_ms: None, to_ms: None, limit: usize::MAX };
        let frames: Vec<_> =
            (1..=archive.applied_through().expect("applied")).map(|s| archive.frame(s).expect("frame")).collect();
        format!(
            "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
            archive.readings(&q).expect("readings"),
            archive.log_after(0, usize::MAX).expect("log").into_entries(),
            frames,
            archive.frames_received_between(i64::MIN, i64::MAX).expect("frames"),
            archive.counters().expect("counters"),
            ["m0", "m1", "m2"].map(|d| archive.latest(d).expect("latest")),
        )
    }

    #[test]
    fn a_layout_1_archive_is_converted_without_losing_a_reading_and_a_stopped_conversion_goes_on() {
        let dir = tempfile::tempdir().expect("tempdir");
        let reference = SledArchive::open(&dir.path().join("reference")).expect("open");
        for items in history() {
            reference.apply(items).expect("apply");
        }
        let expected = everything(&reference);
        assert!(expected.contains("999"), "the history has conflicts");

        let old = dir.path().join("old");
        let tree = sled::open(&old).expect("sled");
        write_layout_1(&reference, &tree);
        // One reading's value is damaged: the conversion stops there and names it.
        let damaged_key = keys::v1_reading_key("m1", "vol", T0 + 20 * 3_600_000);
        let good = tree.get(&damaged_key).expect("get").expect("stored");
        let mut bad = good.to_vec();
        let at = bad.len() - 2;
        bad[at] ^= 0x20;
        tree.insert(&damaged_key, bad).expect("damage");
        tree.flush().expect("flush");
        drop(tree);

        let err = SledArchive::open(&old).unwrap_err();
        assert!(matches!(err, ArchiveError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("rm1\\x00vol\\x00"), "{err}");
        // Nothing of the damaged record was removed; the repaired value lets it finish.
        let tree = sled::open(&old).expect("sled");
        assert!(tree.get(&damaged_key).expect("get").is_some());
        assert!(tree.get(LAYOUT).expect("get").is_none());
        tree.insert(&damaged_key, good).expect("repair");
        tree.flush().expect("flush");
        drop(tree);

        let converted = SledArchive::open(&old).expect("converted");
        assert_eq!(everything(&converted), expected);
        for prefix in [V1_READING, V1_LOG, V1_FRAME, keys::V1_RECEIVED] {
            assert!(converted.tree().scan_prefix([prefix]).next().is_none(), "layout 1 keys {} left", prefix as char);
        }
        // It goes on as a current archive: the sequence continues, a repeat is a duplicate.
        let next = converted
            .apply(vec![decoded(1000, "s", vec![reading("m0", "vol", T0, "0"), reading("m9", "vol", T0, "5")])])
            .expect("apply");
        assert_eq!(next.readings().count(), 1);
        assert_eq!(next.readings().next().expect("a new reading").seq, reference.log_head().expect("head") + 1);
    }
}
