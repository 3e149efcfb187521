//! The sync protocol between a site and its center, over the center's API
//! (`docs/sync.md`): the batch a site sends, compressed, and what the
//! center answers. Both ends are meterhub, so the format is the host's own
//! and versioned; a center refuses a version it does not know with a
//! clear error.

use std::collections::BTreeMap;

use meterhub_plugin_api::{ArchivedReading, RegistryEntry};
use meterhub_storage::archive::SourceCounters;
use serde::{Deserialize, Serialize};

/// The version of the format this host speaks.
pub const VERSION: u32 = 1;
/// The content type of a batch: JSON compressed with zstd.
pub const CONTENT_TYPE: &str = "application/vnd.meterhub.sync-batch+zstd";
/// zstd's level for batches: level 3 compresses a batch of readings ~10x at
/// hundreds of MB/s, far above any link a site has.
const LEVEL: i32 = 3;
/// The most a batch (or a check request) may be once decompressed: a
/// batch of the largest `batch_records` (100,000) with its raw frames is
/// about 50 MB of JSON. A body that says it is larger is refused before
/// anything is allocated (a zip bomb is refused, not inflated).
pub const MAX_INFLATED_BYTES: u64 = 256 << 20;

/// Where a site stands in its two logs, as the center holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WirePosition {
    /// The site's archive sequence number, through.
    pub readings: u64,
    /// The site's accounting revision, through.
    pub accounting: u64,
}

impl WirePosition {
    /// Whether `self` is at or past `other` in both logs.
    pub fn covers(self, other: WirePosition) -> bool {
        self.readings >= other.readings && self.accounting >= other.accounting
    }
}

/// One batch from a site. `from` is where the center must stand for it to
/// apply; `to` is where the center stands after it. A batch with
/// `from == to` is a heartbeat: it carries the site's heads and nothing to
/// store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    /// [`VERSION`].
    pub version: u32,
    /// The sending site.
    pub site: String,
    /// The sending installation's identity (made once, kept in its
    /// archive): a center takes a site's data from one installation only.
    #[serde(default)]
    pub origin: Option<u64>,
    /// Where the center must stand.
    pub from: WirePosition,
    /// Where the center stands after it.
    pub to: WirePosition,
    /// The site's log heads when it read the batch.
    pub head: WirePosition,
    /// When the site sent it, by the site's clock (ms since the epoch).
    pub sent_ms: i64,
    /// When the site archived its oldest reading not at the center before
    /// this batch, by the site's clock; `None` when there was none.
    pub oldest_unsent_ms: Option<i64>,
    /// Archived readings, in the site's sequence order.
    pub readings: Vec<ArchivedReading>,
    /// The raw frames those readings were decoded from.
    pub frames: Vec<WireFrame>,
    /// Meters and modules of the site's registry that changed.
    pub registry: Vec<RegistryChange>,
    /// Records the site cannot read (a damaged archive): named, never
    /// silently absent.
    pub unreadable: Vec<Unreadable>,
    /// The site's per-source counters (received, archived, duplicate,
    /// quarantined, rejected, ...) when it sent the batch.
    #[serde(default)]
    pub counters: BTreeMap<String, SourceCounters>,
}

/// A raw frame as the site received it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireFrame {
    /// The site's journal sequence number.
    pub seq: u64,
    /// The site's source (driver instance).
    pub source: String,
    /// When the site received it.
    pub received_at_ms: i64,
    /// The driver's content type.
    pub content_type: String,
    /// The bytes, base64.
    pub payload: String,
}

/// A changed meter or module of the site's registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryChange {
    /// The site's accounting revision.
    pub revision: u64,
    /// `meter` or `module`.
    pub kind: String,
    /// The meter or module, as the site's registry holds it.
    pub entry: RegistryEntry,
}

/// A record the site cannot read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unreadable {
    /// `readings` or `accounting`.
    pub log: String,
    /// Its sequence number there.
    pub seq: u64,
    /// Why.
    pub reason: String,
}

/// What a center answers to a batch or a position request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// Where the center stands for the site now.
    pub position: WirePosition,
    /// Set when the batch was already held (sent again after a lost answer).
    #[serde(default)]
    pub already_held: bool,
    /// What went wrong, for refusals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `batch` as the bytes that go on the wire.
pub fn encode(batch: &Batch) -> Vec<u8> {
    let json = serde_json::to_vec(batch).expect("a batch is plain data");
    zstd::bulk::compress(&json, LEVEL).expect("compressing into memory cannot fail")
}

/// The decompressed bytes of `bytes`, a zstd frame that says its size (as
/// [`encode`] writes it), at most `limit` bytes; the error says what is
/// wrong with it. How well a batch compresses does not matter: regular
/// readings compress far more than 32 times.
pub fn inflate(bytes: &[u8], limit: u64) -> Result<Vec<u8>, String> {
    let size = match zstd::zstd_safe::get_frame_content_size(bytes) {
        Ok(Some(size)) => size,
        Ok(None) => return Err("it is zstd data that does not say its size".to_owned()),
        Err(_) => return Err("it is not zstd data (corrupt or truncated)".to_owned()),
    };
    if size > limit {
        return Err(format!("it decompresses to {size} bytes, more than the {limit} taken"));
    }
    zstd::bulk::decompress(bytes, size as usize).map_err(|e| format!("it is not zstd data (corrupt or truncated): {e}"))
}

/// The batch in `bytes`, at most `limit` bytes once decompressed; the
/// error says what is wrong with it.
pub fn decode(bytes: &[u8], limit: u64) -> Result<Batch, String> {
    let json = inflate(bytes, limit).map_err(|e| format!("the batch: {e}"))?;
    let batch: Batch = serde_json::from_slice(&json).map_err(|e| format!("the batch is not a sync batch: {e}"))?;
    if batch.version != VERSION {
        return Err(format!(
            "the batch is of sync format {}, this center speaks {VERSION}: update the older host",
            batch.version
        ));
    }
    Ok(batch)
}

impl Batch {
    /// Why this batch cannot be right, whoever sent it: positions that go
    /// backwards, readings outside its span or out of order.
    pub fn check(&self) -> Result<(), String> {
        if !self.to.covers(self.from) {
            return Err(format!("the batch ends ({:?}) before it starts ({:?})", self.to, self.from));
        }
        let mut last = self.from.readings;
        for r in &self.readings {
            if r.seq <= last || r.seq > self.to.readings {
                return Err(format!(
                    "reading seq {} is out of order or outside the batch ({} to {}]",
                    r.seq, self.from.readings, self.to.readings
                ));
            }
            if r.reading.device.is_empty() || r.reading.device.contains('\0') || r.reading.channel.is_empty() {
                return Err(format!("reading seq {}: its meter or channel is empty or holds a NUL byte", r.seq));
            }
            last = r.seq;
        }
        for c in &self.registry {
            if c.revision <= self.from.accounting || c.revision > self.to.accounting {
                return Err(format!("registry revision {} is outside the batch", c.revision));
            }
        }
        Ok(())
    }

    /// Whether it is a heartbeat (nothing to store).
    pub fn is_heartbeat(&self) -> bool {
        self.from == self.to
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch() -> Batch {
        let reading = meterhub_plugin_api::Reading {
            device: "m-1".into(),
            channel: "volume".into(),
            ts_ms: 1_700_000_000_000,
            value: "12.5".parse().expect("decimal"),
            unit: "m3".into(),
            kind: meterhub_plugin_api::ReadingKind::Cumulative,
        };
        Batch {
            version: VERSION,
            site: "north".into(),
            origin: Some(7),
            from: WirePosition { readings: 10, accounting: 3 },
            to: WirePosition { readings: 11, accounting: 3 },
            head: WirePosition { readings: 11, accounting: 3 },
            sent_ms: 1,
            oldest_unsent_ms: Some(0),
            readings: vec![ArchivedReading {
                seq: 11,
                source: "listener".into(),
                reading,
                conflict: false,
                archived_at_ms: 0,
            }],
            frames: Vec::new(),
            registry: Vec::new(),
            unreadable: Vec::new(),
            counters: BTreeMap::new(),
        }
    }

    #[test]
    fn a_batch_survives_the_wire_and_a_damaged_one_is_named() {
        let b = batch();
        let bytes = encode(&b);
        assert_eq!(decode(&bytes, 1 << 20).expect("decodes"), b);
        let cut = &bytes[..bytes.len() - 3];
        assert!(decode(cut, 1 << 20).unwrap_err().contains("corrupt or truncated"));
        assert!(decode(&bytes, 10).unwrap_err().contains("more than the 10 taken"));
        assert!(decode(b"garbage", 1 << 20).unwrap_err().contains("not zstd data"));
        // However well a large batch compresses, it decodes.
        let mut big = batch();
        big.readings = (1..=20_000u64).map(|seq| ArchivedReading { seq, ..b.readings[0].clone() }).collect();
        big.to.readings = 20_000;
        big.from.readings = 0;
        let bytes = encode(&big);
        assert!(bytes.len() * 32 < serde_json::to_vec(&big).unwrap().len(), "compresses over 32 times");
        assert_eq!(decode(&bytes, MAX_INFLATED_BYTES).expect("decodes").readings.len(), 20_000);
    }

    #[test]
    fn readings_outside_the_span_or_out_of_order_are_refused() {
        let mut b = batch();
        assert_eq!(b.check(), Ok(()));
        b.readings[0].seq = 12;
        assert!(b.check().unwrap_err().contains("outside the batch"));
        let mut b = batch();
        b.to.readings = 9;
        assert!(b.check().unwrap_err().contains("ends"));
    }

    proptest::proptest! {
        /// Whatever arrives, the center's decoding names what is wrong and
        /// never panics: bytes at random, and a good batch with bytes
        /// flipped or cut.
        #[test]
        fn any_bytes_are_a_batch_or_a_named_refusal(
            noise in proptest::collection::vec(proptest::num::u8::ANY, 0..512),
            flips in proptest::collection::vec((0usize..4096, proptest::num::u8::ANY), 0..8),
            cut in 0usize..4096,
        ) {
            if let Ok(batch) = decode(&noise, 1 << 16) {
                let _ = batch.check();
            }
            let mut bytes = encode(&batch());
            for (at, byte) in flips {
                let len = bytes.len();
                bytes[at % len] ^= byte;
            }
            bytes.truncate(cut.max(1));
            match decode(&bytes, 1 << 16) {
                Ok(batch) => drop(batch.check()),
                Err(reason) => proptest::prop_assert!(!reason.is_empty()),
            }
        }
    }
}
