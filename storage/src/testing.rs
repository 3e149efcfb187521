//! Fixtures for the tests of the floors above (feature `testing`): readings
//! and decoded frames as the archive takes them, so no test writes its own.

use std::str::FromStr;

use meterhub_plugin_api::{Decimal, Decoded, RawFrame, Reading, ReadingKind, Transport};

use crate::archive::{ApplyItem, Archive, SledArchive, StoredReading, Verdict};
use crate::journal::{Entry, JournalRecord};

/// Up to `limit` records of `archive`'s log after `after`, each of which
/// must be readable.
pub fn readable_log(archive: &dyn Archive, after: u64, limit: usize) -> Vec<StoredReading> {
    let log = archive.log_after(after, limit).expect("log");
    log.iter().map(|entry| entry.expect("readable").clone()).collect()
}

/// 2025-11-21T10:00:00Z, the fixtures' time origin.
pub const T0: i64 = 1_763_719_200_000;

/// A cumulative reading in m3.
pub fn reading(device: &str, channel: &str, ts_ms: i64, value: &str) -> Reading {
    Reading {
        device: device.into(),
        channel: channel.into(),
        ts_ms,
        value: Decimal::from_str(value).expect("decimal"),
        unit: "m3".into(),
        kind: ReadingKind::Cumulative,
    }
}

/// A TCP frame of `source` with journal seq `seq`, received `seq` seconds
/// after [`T0`].
pub fn raw(seq: u64, source: &str) -> RawFrame {
    RawFrame {
        seq,
        source: source.into(),
        peer: "10.0.0.5:4001".into(),
        received_at_ms: T0 + seq as i64 * 1000,
        transport: Transport::Tcp,
        content_type: "test".into(),
        meta: vec![("k".into(), "v".into())],
        payload: vec![seq as u8, 0xAB],
    }
}

/// A frame of `source` with journal seq `seq` decoded to `readings`.
pub fn decoded(seq: u64, source: &str, readings: Vec<Reading>) -> ApplyItem {
    ApplyItem {
        record: JournalRecord { seq, entry: Entry::Frame(raw(seq, source)) },
        verdict: Some(Verdict::Decoded(Decoded { readings, ..Decoded::default() })),
    }
}

/// The key of the sealed chunk holding the reading of `device` and
/// `channel` at `ts_ms` (after [`SledArchive::seal`]), for tests that damage
/// its value through [`SledArchive::tree`].
pub fn chunk_key(archive: &SledArchive, device: &str, channel: &str, ts_ms: i64) -> Vec<u8> {
    let series = (device.to_owned(), channel.to_owned());
    crate::archive::chunks::chunk_holding(&archive.tree(), &series, ts_ms).expect("read").expect("a sealed chunk").key
}

/// The key of the log block holding reading `seq`, for tests that damage it.
pub fn log_block_key(archive: &SledArchive, seq: u64) -> Vec<u8> {
    let at = crate::archive::keys::seq_key(crate::archive::keys::LOG_BLOCK, seq);
    archive.tree().range(..=at).next_back().expect("a log block").expect("read").0.to_vec()
}

/// Flips one bit near the end of the value under `key` (inside its body,
/// past the checksum).
pub fn damage(archive: &SledArchive, key: &[u8]) {
    let tree = archive.tree();
    let mut value = tree.get(key).expect("get").expect("stored").to_vec();
    let at = value.len() - 2;
    value[at] ^= 0x20;
    tree.insert(key, value).expect("insert");
}
