//! What was read to the frame to commit, the same for every transport:
//! the event time, the repeat verdict, the content type and `lorawan.*`
//! metadata, and the payload exactly as received.

use meterhub_plugin_api::FrameOut;

use crate::envelope::{self, Envelope};
use crate::fields;
use crate::repeats::{Repeats, Seen, UplinkKey};

/// An event taken: the frame to commit, and the uplink it was the first
/// arrival of (to forget if the commit fails).
#[derive(Debug)]
pub struct Accepted {
    /// The frame.
    pub frame: FrameOut,
    /// The uplink's key and serial in [`Repeats`], for a first arrival.
    pub first: Option<(UplinkKey, u64)>,
}

/// The frame of `envelope`, read from `payload` arriving at host time
/// `now_ms`, with `extra` metadata after the `lorawan.*` keys. Call it
/// last, once nothing can refuse the event any more: an uplink counts as
/// seen from here on.
pub fn build(
    envelope: &Envelope,
    payload: &[u8],
    repeats: &mut Repeats,
    now_ms: i64,
    extra: Vec<(String, String)>,
) -> Accepted {
    let mut ts_ms = fields::event_ts(envelope.server_ts_ms, now_ms);
    let (mut repeat, mut first) = (false, None);
    if let Some(up) = &envelope.uplink {
        let key = UplinkKey::new(envelope.dev_eui, up.fcnt, &up.frm);
        match repeats.check(key, ts_ms, now_ms) {
            Seen::Repeat(first_ts_ms) => (ts_ms, repeat) = (first_ts_ms, true),
            Seen::First(serial) => first = serial.map(|serial| (key, serial)),
        }
    }
    let mut meta = envelope.meta(ts_ms, repeat);
    meta.extend(extra);
    let frame = FrameOut {
        content_type: envelope::content_type(envelope.server, envelope.encoding).to_owned(),
        meta,
        payload: payload.to_vec(),
    };
    Accepted { frame, first }
}
