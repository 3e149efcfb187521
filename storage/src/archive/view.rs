//! JSON shapes of archive records, as the API and the live streams show
//! them. Values are decimal strings, exact; times are RFC 3339 and ms.

use meterhub_plugin_api::time::format_rfc3339_ms;
use serde::Serialize;

use super::{QuarantineEntry, StoredReading, StoredRejection};

/// A reading as the API shows it.
#[derive(Debug, Serialize)]
pub struct ReadingView {
    /// Archive sequence number.
    pub seq: u64,
    /// Journal sequence number of the frame it came from.
    pub frame_seq: u64,
    /// Driver instance it came from.
    pub source: String,
    /// Meter.
    pub device: String,
    /// Channel.
    pub channel: String,
    /// Device time, milliseconds since the epoch.
    pub ts_ms: i64,
    /// Device time, RFC 3339 UTC.
    pub ts: String,
    /// Exact value.
    pub value: String,
    /// Unit.
    pub unit: String,
    /// `cumulative`, `instantaneous` or `state`.
    pub kind: &'static str,
    /// Contradicts an earlier reading with the same key (kept, flagged).
    pub conflict: bool,
    /// When the archive committed it, ms since the epoch (host clock).
    pub archived_at_ms: i64,
    /// Stamped ahead of the host's clock by more than the tolerance (a
    /// device clock running ahead): kept, but not a latest value.
    pub clock_ahead: bool,
}

impl ReadingView {
    /// The view of `s`, judging its device time with the archive's
    /// `device_clock_tolerance_ms`.
    pub fn new(s: StoredReading, device_clock_tolerance_ms: i64) -> Self {
        ReadingView {
            clock_ahead: s.stamped_ahead(device_clock_tolerance_ms),
            seq: s.seq,
            frame_seq: s.frame_seq,
            source: s.source,
            ts: format_rfc3339_ms(s.reading.ts_ms),
            device: s.reading.device,
            channel: s.reading.channel,
            ts_ms: s.reading.ts_ms,
            value: s.reading.value.to_string(),
            unit: s.reading.unit,
            kind: s.reading.kind.as_str(),
            conflict: s.conflict,
            archived_at_ms: s.archived_at_ms,
        }
    }
}

/// A quarantined frame as the API shows it.
#[derive(Debug, Serialize)]
pub struct QuarantineView {
    /// Journal sequence number.
    pub seq: u64,
    /// Driver instance.
    pub source: String,
    /// Peer.
    pub peer: String,
    /// When it was received, RFC 3339.
    pub received_at: String,
    /// Why it could not be decoded.
    pub reason: String,
    /// Content type set by the driver.
    pub content_type: String,
    /// What the driver read of it (its metadata), in the driver's order.
    pub meta: Vec<(String, String)>,
    /// Payload as text when it is UTF-8.
    pub payload_text: Option<String>,
    /// Payload as hex.
    pub payload_hex: String,
}

/// A rejected input as the API shows it.
#[derive(Debug, Serialize)]
pub struct RejectionView {
    /// Journal sequence number.
    pub seq: u64,
    /// Peer.
    pub peer: String,
    /// When it was received, RFC 3339.
    pub received_at: String,
    /// Why it was refused.
    pub reason: String,
    /// The input (a bounded prefix), as text when it is UTF-8.
    pub input_text: Option<String>,
    /// The input (a bounded prefix), as hex.
    pub input_hex: String,
}

impl From<StoredRejection> for RejectionView {
    fn from(s: StoredRejection) -> Self {
        let r = s.rejection;
        RejectionView {
            seq: s.seq,
            peer: r.peer,
            received_at: format_rfc3339_ms(r.received_at_ms),
            reason: r.reason,
            input_text: String::from_utf8(r.input.clone()).ok(),
            input_hex: meterhub_plugin_api::hex::encode(&r.input),
        }
    }
}

impl From<QuarantineEntry> for QuarantineView {
    fn from(q: QuarantineEntry) -> Self {
        let f = q.frame;
        QuarantineView {
            seq: f.seq,
            source: f.source,
            peer: f.peer,
            received_at: format_rfc3339_ms(f.received_at_ms),
            reason: q.reason,
            content_type: f.content_type,
            meta: f.meta,
            payload_text: String::from_utf8(f.payload.clone()).ok(),
            payload_hex: meterhub_plugin_api::hex::encode(&f.payload),
        }
    }
}
