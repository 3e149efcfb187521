//! The codec role: a committed frame, as the driver committed it, to its
//! [`Reading`](meterhub_plugin_api::Reading)s: one reading object
//! ([`CONTENT_TYPE`], a TCP or WebSocket line, or a POST of one object), or
//! an array of them ([`BATCH_CONTENT_TYPE`], a POSTed batch).
//!
//! Validation is the driver's, with the future check made against the
//! frame's `received_at_ms`, so re-decoding a frame later gives the same
//! verdict. A batch decodes whole or not at all, as the driver took it.

use meterhub_plugin_api::{DecodeError, Decoded, RawFrame};
use serde_json::value::RawValue;

use crate::json;
use crate::reading::{self, BATCH_CONTENT_TYPE, CONTENT_TYPE, Clock};

/// Decode `frame`; the error names the offending element and field.
pub fn decode(frame: &RawFrame, max_future_ms: i64) -> Result<Decoded, DecodeError> {
    let clock = Clock { now_ms: frame.received_at_ms, max_future_ms };
    let readings = match frame.content_type.as_str() {
        CONTENT_TYPE => vec![reading::parse(&frame.payload, clock).map_err(|e| DecodeError::new(e.to_string()))?],
        BATCH_CONTENT_TYPE => {
            let readings = match reading::batch(&frame.payload, clock) {
                Some(readings) => readings,
                None => {
                    // Read again element by element, to say what is wrong.
                    let raw = json::parse(&frame.payload).map_err(|e| DecodeError::new(e.to_string()))?;
                    let elements: Vec<&RawValue> = serde_json::from_str(raw.get())
                        .map_err(|e| DecodeError::new(format!("not an array of reading objects: {e}")))?;
                    elements.into_iter().map(|element| reading::from_raw(element, clock)).collect()
                }
            };
            readings
                .into_iter()
                .enumerate()
                .map(|(index, reading)| reading.map_err(|e| DecodeError::new(format!("element {index}: {e}"))))
                .collect::<Result<_, _>>()?
        }
        other => {
            return Err(DecodeError::new(format!(
                "frame {}: content type {other:?} is neither {CONTENT_TYPE} nor {BATCH_CONTENT_TYPE}",
                frame.seq
            )));
        }
    };
    Ok(Decoded { readings, ..Decoded::default() })
}
