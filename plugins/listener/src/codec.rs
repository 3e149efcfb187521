//! The codec role: a committed frame (one reading object, as the driver
//! committed it) to one [`Reading`](meterhub_plugin_api::Reading).
//!
//! Validation is the driver's, with the future check made against the
//! frame's `received_at_ms`, so re-decoding a frame later gives the same
//! verdict.

use meterhub_plugin_api::{DecodeError, Decoded, RawFrame};

use crate::reading::{self, CONTENT_TYPE, Clock};

/// Decode `frame`; the error names the offending field.
pub fn decode(frame: &RawFrame, max_future_ms: i64) -> Result<Decoded, DecodeError> {
    if frame.content_type != CONTENT_TYPE {
        return Err(DecodeError::new(format!(
            "frame {}: content type {:?} is not {CONTENT_TYPE}",
            frame.seq, frame.content_type
        )));
    }
    let clock = Clock { now_ms: frame.received_at_ms, max_future_ms };
    let reading = reading::parse(&frame.payload, clock).map_err(|e| DecodeError::new(e.to_string()))?;
    Ok(Decoded { readings: vec![reading], ..Decoded::default() })
}
