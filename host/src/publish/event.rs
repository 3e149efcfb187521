//! What a stream carries, and its two wire forms: Server-Sent Events text
//! and WebSocket JSON messages (`docs/api.md`, "Live streams").

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::Arc;

use serde_json::json;

use meterhub_storage::archive::StoredReading;
use meterhub_storage::archive::view::ReadingView;

/// A reading as every stream sends it, rendered once for all of them.
#[derive(Debug)]
pub struct ReadingEvent {
    /// Archive sequence number.
    pub seq: u64,
    /// Device.
    pub device: String,
    /// Channel.
    pub channel: String,
    /// `device` NUL `channel`: the signal, as a client's table looks it up.
    pub signal: String,
    /// The reading as `/api/v1/readings` shows it, compact JSON.
    pub json: String,
}

impl ReadingEvent {
    /// The event of an archived reading, its device time judged against
    /// the archive's `device_clock_tolerance_ms`.
    pub fn of(reading: &StoredReading, device_clock_tolerance_ms: i64) -> ReadingEvent {
        let seq = reading.seq;
        let device = reading.reading.device.clone();
        let channel = reading.reading.channel.clone();
        let json = serde_json::to_string(&ReadingView::new(reading.clone(), device_clock_tolerance_ms))
            .unwrap_or_else(|_| "{}".to_owned());
        ReadingEvent { seq, signal: format!("{device}\0{channel}"), device, channel, json }
    }
}

/// One event of a stream.
#[derive(Debug, Clone)]
pub enum Frame {
    /// First of every stream: its id and parameters.
    Hello {
        /// Stream id, for control requests.
        stream: String,
        /// `Tc`, milliseconds.
        control_ms: u64,
        /// `L`.
        queue_limit: usize,
        /// The user it acts for.
        user: String,
    },
    /// A reading.
    Reading(Arc<ReadingEvent>),
    /// Replay or snapshot done; live readings follow.
    Live {
        /// The resume point.
        resume: u64,
    },
    /// Too much to replay.
    Gap {
        /// The client's last event id.
        after: u64,
        /// The log head when the stream started.
        through: u64,
    },
    /// The client's control request, echoed behind the data.
    Control {
        /// The client's `Ts`.
        ts: i64,
    },
    /// An alarm raised, changed or ended (JSON, as `/api/v1/alarms`
    /// shows it).
    Alarm(Arc<String>),
    /// The stream ends.
    Closed {
        /// Why.
        reason: String,
    },
}

impl Frame {
    /// Its event name (`event:` over SSE, `"type"` over WebSocket).
    pub fn name(&self) -> &'static str {
        match self {
            Frame::Hello { .. } => "hello",
            Frame::Reading(_) => "reading",
            Frame::Live { .. } => "live",
            Frame::Gap { .. } => "gap",
            Frame::Control { .. } => "control",
            Frame::Alarm(_) => "alarm",
            Frame::Closed { .. } => "closed",
        }
    }

    /// Its data, JSON (a reading's as rendered once for every stream).
    fn data(&self) -> Cow<'_, str> {
        let value = match self {
            Frame::Reading(event) => return Cow::Borrowed(&event.json),
            Frame::Alarm(json) => return Cow::Borrowed(json.as_str()),
            Frame::Hello { stream, control_ms, queue_limit, user } => {
                json!({"stream": stream, "control_ms": control_ms, "queue_limit": queue_limit, "user": user})
            }
            Frame::Live { resume } => json!({ "resume": resume }),
            Frame::Gap { after, through } => json!({ "after": after, "through": through }),
            Frame::Control { ts } => json!({ "ts": ts }),
            Frame::Closed { reason } => json!({ "reason": reason }),
        };
        Cow::Owned(value.to_string())
    }
}

/// A burst of frames: what one write sends. `resume` goes on its last
/// frame: every selected reading up to it was delivered or superseded.
#[derive(Debug, Clone, Default)]
pub struct Burst {
    /// The frames, in order.
    pub frames: Vec<Frame>,
    /// The resume point after them, if it moved.
    pub resume: Option<u64>,
}

impl Burst {
    /// Server-Sent Events text: `event:`, `data:` (one line: the JSON has no
    /// raw newline), and `id:` on the last frame when the resume point moved.
    pub fn sse(&self) -> String {
        let mut out = String::new();
        let last = self.frames.len().saturating_sub(1);
        for (i, frame) in self.frames.iter().enumerate() {
            let _ = writeln!(out, "event: {}\ndata: {}", frame.name(), frame.data());
            if i == last
                && let Some(resume) = self.resume
            {
                let _ = writeln!(out, "id: {resume}");
            }
            out.push('\n');
        }
        out
    }

    /// WebSocket text messages: `{"type", "data"}`, with `"resume"` on the
    /// last when the resume point moved.
    pub fn websocket(&self) -> Vec<String> {
        let last = self.frames.len().saturating_sub(1);
        self.frames
            .iter()
            .enumerate()
            .map(|(i, frame)| {
                let data = frame.data();
                match self.resume.filter(|_| i == last) {
                    Some(resume) => format!(r#"{{"type":"{}","data":{data},"resume":{resume}}}"#, frame.name()),
                    None => format!(r#"{{"type":"{}","data":{data}}}"#, frame.name()),
                }
            })
            .collect()
    }
}

/// An SSE comment keeping idle connections (and proxies) open.
pub const KEEPALIVE: &str = ": keepalive\n\n";

#[cfg(test)]
mod tests {
    use super::*;
    use meterhub_plugin_api::{Decimal, Reading, ReadingKind};

    fn event(seq: u64) -> Arc<ReadingEvent> {
        let reading = Reading {
            device: "m1".into(),
            channel: "volume".into(),
            ts_ms: 1_763_800_000_000,
            value: Decimal::from_str_exact("12.5").unwrap(),
            unit: "m3".into(),
            kind: ReadingKind::Cumulative,
        };
        Arc::new(ReadingEvent::of(
            &StoredReading {
                seq,
                frame_seq: 3,
                source: "tcp".into(),
                reading,
                conflict: false,
                archived_at_ms: 1_763_800_000_100,
            },
            meterhub_storage::archive::DEVICE_CLOCK_TOLERANCE_MS,
        ))
    }

    #[test]
    fn sse_puts_the_resume_point_on_the_last_frame_only() {
        let burst = Burst { frames: vec![Frame::Reading(event(7)), Frame::Control { ts: 42 }], resume: Some(7) };
        let text = burst.sse();
        let blocks: Vec<&str> = text.split("\n\n").filter(|b| !b.is_empty()).collect();
        assert_eq!(blocks.len(), 2);
        assert!(blocks[0].starts_with("event: reading\ndata: {"), "{}", blocks[0]);
        assert!(!blocks[0].contains("\nid:"));
        assert_eq!(blocks[1], "event: control\ndata: {\"ts\":42}\nid: 7");
        let data: serde_json::Value = serde_json::from_str(&blocks[0]["event: reading\ndata: ".len()..]).unwrap();
        assert_eq!((data["seq"].as_u64(), data["value"].as_str()), (Some(7), Some("12.5")));
        assert_eq!(data["archived_at_ms"].as_i64(), Some(1_763_800_000_100));
        assert_eq!(data["clock_ahead"].as_bool(), Some(false));
    }

    #[test]
    fn websocket_messages_are_typed_json() {
        let burst = Burst { frames: vec![Frame::Reading(event(9)), Frame::Live { resume: 9 }], resume: Some(9) };
        let messages: Vec<serde_json::Value> =
            burst.websocket().iter().map(|m| serde_json::from_str(m).unwrap()).collect();
        assert_eq!(messages[0]["type"], "reading");
        assert_eq!(messages[0]["data"]["device"], "m1");
        assert!(messages[0].get("resume").is_none());
        assert_eq!(messages[1], serde_json::json!({"type": "live", "data": {"resume": 9}, "resume": 9}));
    }
}
