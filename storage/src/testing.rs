//! Fixtures for the tests of the floors above (feature `testing`): readings
//! and decoded frames as the archive takes them, so no test writes its own.

use std::str::FromStr;

use meterhub_plugin_api::{Decimal, Decoded, RawFrame, Reading, ReadingKind, Transport};

use crate::archive::{ApplyItem, Verdict};
use crate::journal::{Entry, JournalRecord};

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

/// The archive key a reading is stored under, for tests that damage its
/// value through [`crate::archive::SledArchive::tree`].
pub fn reading_key(device: &str, channel: &str, ts_ms: i64) -> Vec<u8> {
    crate::archive::keys::reading_key(device, channel, ts_ms)
}
